//! Which endpoints to probe: every registered instance of every service with a HealthCheckConfig,
//! in every account and region, at exactly the address and port the user registered.

use crate::cloudmap::records::{HealthCheckRec, InstanceRec, Keys, NamespaceRec, ServiceRec};
use crate::dns::zones::cloudmap_scopes;
use crate::model::servicediscovery as m;
use crate::store::{decode_all, get_json, StoreError, Tx};
use std::net::{IpAddr, SocketAddr};

/// FailureThreshold when the service does not say (Route 53's default).
pub const DEFAULT_FAILURE_THRESHOLD: i32 = 3;

/// The protocol of a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckType {
    /// GET over HTTP/1.1; 2xx and 3xx are healthy.
    Http,
    /// The same over TLS, any certificate accepted.
    Https,
    /// A TCP connection is enough.
    Tcp,
}

/// What one probe does: where, how, and what the request says.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProbeSpec {
    /// The protocol.
    pub check: CheckType,
    /// `AWS_INSTANCE_IPV4` (or `AWS_INSTANCE_IPV6` without one) and `AWS_INSTANCE_PORT`.
    pub addr: SocketAddr,
    /// The request path (`ResourcePath`, `/` by default).
    pub path: String,
    /// The `Host` header (and the TLS server name when it is a name).
    pub host: String,
}

/// An instance to check.
#[derive(Debug, Clone)]
pub struct Target {
    /// Which instance: (account, region, service id, instance id).
    pub key: TargetKey,
    /// How to probe it.
    pub spec: ProbeSpec,
    /// Consecutive opposite results that flip the status (1–10).
    pub threshold: u32,
    /// The status stored now.
    pub health: m::HealthStatus,
}

/// (account, region, service id, instance id).
pub type TargetKey = (String, String, String, String);

/// Every instance that has a Route 53-style health check, read in one snapshot.
pub fn checked_instances(tx: &mut dyn Tx) -> Result<Vec<Target>, StoreError> {
    let mut out = Vec::new();
    for (account, region) in cloudmap_scopes(tx)? {
        let keys = Keys::new(&account, &region);
        let services = decode_all::<ServiceRec>(tx.scan(&keys.services(), None, usize::MAX)?)?;
        for (_, service) in services {
            let Some(check) = &service.health_check else { continue };
            let namespace = get_json::<NamespaceRec>(tx, &keys.namespace(&service.namespace_id))?;
            let instances = decode_all::<InstanceRec>(tx.scan(&keys.instances(&service.id), None, usize::MAX)?)?;
            for (_, inst) in instances {
                let Some(spec) = probe_spec(check, &service, namespace.as_ref(), &inst) else { continue };
                let threshold = check.failure_threshold.unwrap_or(DEFAULT_FAILURE_THRESHOLD).clamp(1, 10) as u32;
                out.push(Target {
                    key: (account.clone(), region.clone(), service.id.clone(), inst.id.clone()),
                    spec,
                    threshold,
                    health: inst.health,
                });
            }
        }
    }
    Ok(out)
}

/// How to probe `inst`; `None` when there is nothing to probe (an alias instance, which Route 53 does
/// not check, or one without an address or port).
pub fn probe_spec(
    check: &HealthCheckRec,
    service: &ServiceRec,
    namespace: Option<&NamespaceRec>,
    inst: &InstanceRec,
) -> Option<ProbeSpec> {
    if inst.attributes.contains_key("AWS_ALIAS_DNS_NAME") {
        return None;
    }
    let addr = instance_addr(inst)?;
    let (ip, port) = (addr.ip(), addr.port());
    let check_type = match check.check_type {
        m::HealthCheckType::Http => CheckType::Http,
        m::HealthCheckType::Https => CheckType::Https,
        m::HealthCheckType::Tcp => CheckType::Tcp,
    };
    let default_port = matches!((check_type, port), (CheckType::Http, 80) | (CheckType::Https, 443));
    // Route 53 sends the service's DNS name as Host for DNS namespaces, the address otherwise.
    let host_name = match namespace {
        Some(ns) if ns.ns_type != m::NamespaceType::Http => {
            let name = format!("{}.{}", service.name, ns.name.trim_end_matches('.')).to_ascii_lowercase();
            name.trim_start_matches('.').to_string()
        }
        _ => match ip {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => format!("[{v6}]"),
        },
    };
    let host = if default_port { host_name } else { format!("{host_name}:{port}") };
    let path = check.resource_path.clone().filter(|p| !p.is_empty()).unwrap_or_else(|| "/".to_string());
    let path = if path.starts_with('/') { path } else { format!("/{path}") };
    Some(ProbeSpec { check: check_type, addr, path, host })
}

/// The address a check goes to: `AWS_INSTANCE_IPV4` (or `AWS_INSTANCE_IPV6` when there is no IPv4)
/// and `AWS_INSTANCE_PORT`.
pub fn instance_addr(inst: &InstanceRec) -> Option<SocketAddr> {
    let ip: IpAddr = match inst.attributes.get("AWS_INSTANCE_IPV4") {
        Some(v) => IpAddr::V4(v.parse().ok()?),
        None => IpAddr::V6(inst.attributes.get("AWS_INSTANCE_IPV6")?.parse().ok()?),
    };
    Some(SocketAddr::new(ip, inst.attributes.get("AWS_INSTANCE_PORT")?.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudmap::records::NamespaceState;
    use std::collections::BTreeMap;

    fn service(name: &str) -> ServiceRec {
        ServiceRec {
            id: "srv-1".into(),
            arn: String::new(),
            name: name.into(),
            namespace_id: "ns-1".into(),
            description: None,
            routing_policy: None,
            dns_records: None,
            service_type: m::ServiceType::DnsHttp,
            health_check: None,
            custom_health: false,
            create_date: 0,
            creator_request_id: None,
            created_by: String::new(),
            owner: String::new(),
            instance_count: 0,
            revision: 1,
            attributes: BTreeMap::new(),
            instances_tag: 0,
            others_registered: false,
        }
    }

    fn namespace(ns_type: &str) -> NamespaceRec {
        NamespaceRec {
            id: "ns-1".into(),
            arn: String::new(),
            name: "Pub.Test".into(),
            http_name: "pub.test".into(),
            ns_type: m::NamespaceType::from_wire(ns_type).expect("a namespace type"),
            description: None,
            vpc: None,
            hosted_zone_id: None,
            soa_ttl: None,
            create_date: 0,
            creator_request_id: None,
            owner: String::new(),
            state: NamespaceState::Active,
            service_count: 0,
        }
    }

    fn instance(attrs: &[(&str, &str)]) -> InstanceRec {
        InstanceRec {
            id: "s1".into(),
            service_id: "srv-1".into(),
            creator_request_id: None,
            attributes: attrs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            created_by: String::new(),
            health: m::HealthStatus::Unknown,
        }
    }

    #[test]
    fn host_is_the_service_dns_name_with_a_non_default_port() {
        let check = HealthCheckRec {
            check_type: m::HealthCheckType::Http,
            resource_path: Some("/healthz".into()),
            failure_threshold: None,
        };
        let inst = instance(&[("AWS_INSTANCE_IPV4", "127.0.0.1"), ("AWS_INSTANCE_PORT", "8080")]);
        let spec = probe_spec(&check, &service("site"), Some(&namespace("DNS_PUBLIC")), &inst).expect("a spec");
        assert_eq!(spec.host, "site.pub.test:8080");
        assert_eq!(spec.path, "/healthz");
        assert_eq!(spec.addr, "127.0.0.1:8080".parse().expect("addr"));
        let inst = instance(&[("AWS_INSTANCE_IPV4", "127.0.0.1"), ("AWS_INSTANCE_PORT", "80")]);
        let spec = probe_spec(&check, &service("site"), Some(&namespace("HTTP")), &inst).expect("a spec");
        assert_eq!(spec.host, "127.0.0.1");
    }

    #[test]
    fn alias_and_portless_instances_are_not_probed() {
        let check =
            HealthCheckRec { check_type: m::HealthCheckType::Tcp, resource_path: None, failure_threshold: Some(2) };
        let alias = instance(&[("AWS_ALIAS_DNS_NAME", "lb.example.com")]);
        assert!(probe_spec(&check, &service("x"), None, &alias).is_none());
        assert!(probe_spec(&check, &service("x"), None, &instance(&[("AWS_INSTANCE_IPV4", "127.0.0.1")])).is_none());
    }
}
