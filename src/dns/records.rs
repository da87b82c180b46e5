//! The records Cloud Map writes into a zone for each registered instance of a DNS service: A, AAAA,
//! SRV (plus the A/AAAA of its `<instance-id>.<service>` target), CNAME, and the alias records of
//! `AWS_ALIAS_DNS_NAME` instances, each with its service's TTL and the instance's DNS eligibility.

use super::names::{self, Labels};
use super::zones::clamp_ttl;
use crate::cloudmap::records::{InstanceRec, ServiceRec};
use crate::model::servicediscovery as m;
use std::net::{Ipv4Addr, Ipv6Addr};

/// The record types a Cloud Map service can publish.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// IPv4 address.
    A,
    /// IPv6 address.
    Aaaa,
    /// Service location.
    Srv,
    /// Alias name.
    Cname,
}

/// The data of one record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Data {
    /// An IPv4 address.
    A(Ipv4Addr),
    /// An IPv6 address.
    Aaaa(Ipv6Addr),
    /// `1 1 <port> <target>`.
    Srv {
        /// `AWS_INSTANCE_PORT`.
        port: u16,
        /// `<instance-id>.<service>.<namespace>`, absolute.
        target: Labels,
    },
    /// The CNAME target, absolute.
    Cname(Labels),
    /// An alias A/AAAA record pointing at an ELB name, which does not resolve locally.
    Alias(String),
}

/// How a service picks records for an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routing {
    /// Up to eight healthy records.
    Multivalue,
    /// One healthy record.
    Weighted,
}

/// One record an instance contributes at a name, before routing picks among them.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The record type.
    pub kind: Kind,
    /// The record data.
    pub data: Data,
    /// The service's TTL for this type.
    pub ttl: u32,
    /// Whether the instance counts as healthy for DNS.
    pub eligible: bool,
    /// The instance it comes from (SRV answers add its target addresses).
    pub instance_id: String,
}

/// A DNS service of the zone with its apex-relative name and (once loaded) its instances.
#[derive(Debug, Clone)]
pub struct ServiceEntry {
    /// The service.
    pub service: ServiceRec,
    /// `<service-name>` as labels relative to the apex (empty for a service named `.`).
    pub labels: Labels,
    /// Its registered instances.
    pub instances: Vec<InstanceRec>,
}

impl ServiceEntry {
    /// How the service routes.
    pub fn routing(&self) -> Routing {
        match self.service.routing_policy {
            Some(m::RoutingPolicy::Weighted) => Routing::Weighted,
            Some(m::RoutingPolicy::Multivalue) | None => Routing::Multivalue,
        }
    }

    fn ttl(&self, record_type: m::RecordType) -> Option<u32> {
        self.service.dns_records.iter().flatten().find(|r| r.record_type == record_type).map(|r| clamp_ttl(r.ttl))
    }

    fn has(&self, record_type: m::RecordType) -> bool {
        self.ttl(record_type).is_some()
    }

    /// Whether the service publishes SRV records (and so `<instance-id>.<service>` names).
    pub fn has_srv(&self) -> bool {
        self.has(m::RecordType::Srv)
    }

    /// Whether an instance counts as healthy in DNS: always without a health check; with one,
    /// anything but UNHEALTHY (Route 53 treats a check without data yet as healthy).
    pub fn eligible(&self, inst: &InstanceRec) -> bool {
        let checked = self.service.health_check.is_some() || self.service.custom_health;
        !checked || inst.health != m::HealthStatus::Unhealthy
    }

    /// The records `inst` has at the service name, absolute apex `apex`.
    pub fn records_at_service(&self, inst: &InstanceRec, apex: &[Vec<u8>]) -> Vec<Candidate> {
        let attr = |k: &str| inst.attributes.get(k);
        let eligible = self.eligible(inst);
        let candidate = |kind, data, ttl| Candidate { kind, data, ttl, eligible, instance_id: inst.id.clone() };
        let mut out = Vec::new();
        if let Some(alias) = attr("AWS_ALIAS_DNS_NAME") {
            // Alias records take their TTL from the target; ELB names answer with 60.
            for (kind, rt) in [(Kind::A, m::RecordType::A), (Kind::Aaaa, m::RecordType::Aaaa)] {
                if self.has(rt) {
                    out.push(Candidate { eligible: true, ..candidate(kind, Data::Alias(alias.clone()), 60) });
                }
            }
            return out;
        }
        let ipv4 = attr("AWS_INSTANCE_IPV4").and_then(|v| v.parse::<Ipv4Addr>().ok());
        let ipv6 = attr("AWS_INSTANCE_IPV6").and_then(|v| v.parse::<Ipv6Addr>().ok());
        for record in self.service.dns_records.iter().flatten() {
            let ttl = clamp_ttl(record.ttl);
            match record.record_type {
                m::RecordType::A => out.extend(ipv4.map(|ip| candidate(Kind::A, Data::A(ip), ttl))),
                m::RecordType::Aaaa => out.extend(ipv6.map(|ip| candidate(Kind::Aaaa, Data::Aaaa(ip), ttl))),
                m::RecordType::Srv => {
                    let port = attr("AWS_INSTANCE_PORT").and_then(|p| p.parse::<u16>().ok());
                    let target = self.target_labels(inst, apex);
                    if let (Some(port), Some(target)) = (port, target) {
                        out.push(candidate(Kind::Srv, Data::Srv { port, target }, ttl));
                    }
                }
                m::RecordType::Cname => {
                    let target = attr("AWS_INSTANCE_CNAME").and_then(|c| names::from_dotted(c));
                    if let Some(target) = target.filter(|t| !t.is_empty() && names::to_wire(t).is_some()) {
                        out.push(candidate(Kind::Cname, Data::Cname(target), ttl));
                    }
                }
            }
        }
        out
    }

    /// `<instance-id>.<service>.<namespace>` of an SRV service's instance; `None` when the id cannot
    /// form DNS labels (an empty or over-long label, or a name over 255 octets).
    pub fn target_labels(&self, inst: &InstanceRec, apex: &[Vec<u8>]) -> Option<Labels> {
        let id = names::from_dotted(&inst.id).filter(|l| !l.is_empty())?;
        let target = names::join(&names::join(&id, &self.labels), apex);
        names::to_wire(&target).map(|_| target)
    }

    /// The A/AAAA records at an SRV target name, with the SRV TTL (the docs leave the TTL open).
    pub fn records_at_target(&self, inst: &InstanceRec) -> Vec<Candidate> {
        let Some(ttl) = self.ttl(m::RecordType::Srv) else { return Vec::new() };
        let attr = |k: &str| inst.attributes.get(k);
        let make = |kind, data| Candidate { kind, data, ttl, eligible: true, instance_id: inst.id.clone() };
        let mut out = Vec::new();
        if let Some(ip) = attr("AWS_INSTANCE_IPV4").and_then(|v| v.parse::<Ipv4Addr>().ok()) {
            out.push(make(Kind::A, Data::A(ip)));
        }
        if let Some(ip) = attr("AWS_INSTANCE_IPV6").and_then(|v| v.parse::<Ipv6Addr>().ok()) {
            out.push(make(Kind::Aaaa, Data::Aaaa(ip)));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloudmap::records::DnsRecordRec;
    use std::collections::BTreeMap;

    fn service(records: &[(&str, i64)]) -> ServiceEntry {
        ServiceEntry {
            service: ServiceRec {
                id: "srv-1".into(),
                arn: String::new(),
                name: "api".into(),
                namespace_id: "ns-1".into(),
                description: None,
                routing_policy: Some(m::RoutingPolicy::Multivalue),
                dns_records: Some(
                    records
                        .iter()
                        .map(|(t, ttl)| DnsRecordRec {
                            record_type: m::RecordType::from_wire(t).expect("a record type"),
                            ttl: *ttl,
                        })
                        .collect(),
                ),
                service_type: m::ServiceType::DnsHttp,
                health_check: None,
                custom_health: true,
                create_date: 0,
                creator_request_id: None,
                created_by: String::new(),
                owner: String::new(),
                instance_count: 0,
                revision: 1,
                attributes: BTreeMap::new(),
                instances_tag: 0,
                others_registered: false,
            },
            labels: vec![b"api".to_vec()],
            instances: Vec::new(),
        }
    }

    fn instance(id: &str, attrs: &[(&str, &str)], health: &str) -> InstanceRec {
        InstanceRec {
            id: id.into(),
            service_id: "srv-1".into(),
            creator_request_id: None,
            attributes: attrs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            created_by: String::new(),
            health: m::HealthStatus::from_wire(health).expect("a health status"),
        }
    }

    #[test]
    fn srv_targets_are_lowercase_instance_names_below_the_service() {
        let s = service(&[("SRV", 30)]);
        let apex = names::from_dotted("cm.test").unwrap_or_default();
        let i = instance("A2", &[("AWS_INSTANCE_IPV4", "10.1.1.2"), ("AWS_INSTANCE_PORT", "9090")], "HEALTHY");
        let recs = s.records_at_service(&i, &apex);
        assert_eq!(recs.len(), 1);
        assert_eq!(
            recs[0].data,
            Data::Srv { port: 9090, target: names::from_dotted("a2.api.cm.test").unwrap_or_default() }
        );
        assert_eq!(recs[0].ttl, 30);
        assert_eq!(s.records_at_target(&i).len(), 1);
    }

    #[test]
    fn unhealthy_custom_instances_are_not_eligible() {
        let s = service(&[("A", 60), ("AAAA", 60)]);
        let apex = names::from_dotted("cm.test").unwrap_or_default();
        let i = instance("w2", &[("AWS_INSTANCE_IPV4", "10.1.0.2")], "UNHEALTHY");
        let recs = s.records_at_service(&i, &apex);
        assert_eq!(recs.len(), 1, "no IPv6 → no AAAA");
        assert!(!recs[0].eligible);
    }
}
