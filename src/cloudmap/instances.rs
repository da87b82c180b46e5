//! Instances: register and deregister (asynchronous operations), get, list, health status and
//! custom health. ListInstances answers from the instance cache, assembled from kept encodings.

use super::cache::ServiceInstances;
use super::records::*;
use super::scope::*;
use crate::model::servicediscovery::{self as m, errors as e};
use crate::store::put_json;
use crate::wire::shape::{ApiError, Protocol};
use std::collections::BTreeMap;
use std::sync::Arc;

/// RegisterInstance: creates or replaces an instance through a REGISTER_INSTANCE operation.
pub fn register(s: &mut Scope, input: m::RegisterInstanceRequest) -> Result<m::RegisterInstanceResponse, ApiError> {
    let srv_id = s.service_id(&input.service_id, "RegisterInstance")?;
    let srv = s.service(&srv_id)?;
    let token = s.request_token("RegisterInstance", input.creator_request_id.as_deref(), || {
        let mut fp = input.clone();
        fp.creator_request_id = None;
        fp.service_id = srv_id.clone();
        format!("{fp:?}")
    });
    if let Some(op) = s.replay(&token)? {
        return Ok(m::RegisterInstanceResponse { operation_id: Some(op) });
    }
    check_attributes(&srv, &input.attributes, s.quotas)?;
    let busy = s.keys.busy(&format!("inst/{srv_id}/{}", input.instance_id));
    s.check_not_busy(&busy, || format!("instance {}", input.instance_id))?;
    let existing = s.tx.get(&s.keys.instance(&srv_id, &input.instance_id))?;
    if let (true, Some(raw)) = (s.is_consumer(), &existing) {
        // A consumer replaces only what it registered itself.
        let key = s.keys.instance(&srv_id, &input.instance_id);
        let inst: InstanceRec = crate::store::decode_one(&key, raw)?;
        s.only_owner_or(&inst.created_by, "RegisterInstance", &srv.arn)?;
    }
    let exists = existing.is_some();
    if !exists && srv.instance_count >= s.quotas.instances_per_service {
        return Err(ApiError::new(
            &e::RESOURCE_LIMIT_EXCEEDED,
            format!("Service {srv_id} already has {} instances", s.quotas.instances_per_service),
        ));
    }
    let health = if srv.custom_health {
        // Checked above: HEALTHY or UNHEALTHY when present.
        input
            .attributes
            .get("AWS_INIT_HEALTH_STATUS")
            .and_then(|v| m::HealthStatus::from_wire(v))
            .unwrap_or(m::HealthStatus::Healthy)
    } else {
        // A new (or re-created) Route 53 check has no data yet: UNKNOWN until the health prober's
        // first verdict (DNS meanwhile treats the instance as healthy).
        m::HealthStatus::Unknown
    };
    let instance = InstanceRec {
        id: input.instance_id.clone(),
        service_id: srv_id.clone(),
        creator_request_id: input.creator_request_id.clone(),
        attributes: input.attributes.clone(),
        created_by: s.cx.account.clone(),
        health,
    };
    let op = s.start_operation(NewOperation {
        op_type: m::OperationType::RegisterInstance,
        targets: instance_targets(&srv, &input.instance_id),
        namespace_id: Some(srv.namespace_id.clone()),
        service_id: Some(srv_id),
        change: Change::RegisterInstance { instance },
        busy_key: Some(busy),
        service: Some(srv),
    })?;
    s.remember(&token, &op)?;
    Ok(m::RegisterInstanceResponse { operation_id: Some(op) })
}

/// DeregisterInstance: removes an instance through a DEREGISTER_INSTANCE operation.
pub fn deregister(
    s: &mut Scope,
    input: m::DeregisterInstanceRequest,
) -> Result<m::DeregisterInstanceResponse, ApiError> {
    let srv_id = s.service_id(&input.service_id, "DeregisterInstance")?;
    let srv = s.service(&srv_id)?;
    let busy = s.keys.busy(&format!("inst/{srv_id}/{}", input.instance_id));
    s.check_not_busy(&busy, || format!("instance {}", input.instance_id))?;
    let inst = s.instance(&srv_id, &input.instance_id)?;
    s.only_owner_or(&inst.created_by, "DeregisterInstance", &srv.arn)?;
    let op = s.start_operation(NewOperation {
        op_type: m::OperationType::DeregisterInstance,
        targets: instance_targets(&srv, &input.instance_id),
        namespace_id: Some(srv.namespace_id.clone()),
        service_id: Some(srv_id.clone()),
        change: Change::DeregisterInstance { service_id: srv_id, instance_id: input.instance_id },
        busy_key: Some(busy),
        service: Some(srv),
    })?;
    Ok(m::DeregisterInstanceResponse { operation_id: Some(op) })
}

/// The `Targets` of an instance operation: a Route 53 change too when the service has DNS records.
fn instance_targets(srv: &ServiceRec, instance_id: &str) -> BTreeMap<String, String> {
    let mut targets =
        BTreeMap::from([("INSTANCE".to_string(), instance_id.to_string()), ("SERVICE".to_string(), srv.id.clone())]);
    if srv.dns_records.is_some() {
        targets.insert("ROUTE_53_CHANGE_ID".into(), new_change_id());
    }
    targets
}

/// GetInstance.
pub fn get(s: &mut Scope, input: m::GetInstanceRequest) -> Result<m::GetInstanceResponse, ApiError> {
    let srv_id = s.service_id(&input.service_id, "GetInstance")?;
    let srv = s.service(&srv_id)?;
    let inst = s.instance(&srv_id, &input.instance_id)?;
    Ok(m::GetInstanceResponse {
        resource_owner: Some(srv.owner),
        instance: Some(m::Instance {
            id: inst.id,
            creator_request_id: inst.creator_request_id,
            attributes: Some(inst.attributes),
            created_by_account: Some(inst.created_by),
        }),
    })
}

/// One ListInstances page: the service's instance set, the range listed, the next token and the
/// service's owner.
pub struct InstancesPage {
    set: Arc<ServiceInstances>,
    range: std::ops::Range<usize>,
    next_token: Option<String>,
    owner: String,
}

impl InstancesPage {
    /// The typed response.
    pub fn response(self) -> m::ListInstancesResponse {
        m::ListInstancesResponse {
            resource_owner: Some(self.owner),
            instances: Some(self.range.map(|i| self.set.list_summary(i)).collect()),
            next_token: self.next_token,
        }
    }

    /// The response in `protocol`, assembled from kept encodings.
    pub fn encoded(self, protocol: Protocol) -> Vec<u8> {
        self.set.list_response(self.range, self.next_token.as_deref(), &self.owner, protocol)
    }
}

/// ListInstances: instances in id order; the token is the key of the last one listed.
pub fn list(s: &mut Scope, input: &m::ListInstancesRequest) -> Result<InstancesPage, ApiError> {
    let id = s.service_id(&input.service_id, "ListInstances")?;
    let srv = s.service(&id)?;
    let prefix = s.keys.instances(&id);
    let after = token_key(&input.next_token, &prefix)?.map(|k| k[prefix.len()..].to_string());
    let keys = &s.keys;
    let set = s.cache.instances.instances(s.tx, keys, &srv, |tx| {
        Ok::<_, ApiError>(active_namespace(tx, keys, &srv.namespace_id)?.http_name)
    })?;
    let (range, more) = set.list_range(after.as_deref(), page_size(input.max_results));
    let next_token = more.then(|| crate::paging::token_after(&s.keys.instance(&id, &set.recs[range.end - 1].id)));
    Ok(InstancesPage { set, range, next_token, owner: srv.owner })
}

/// GetInstancesHealthStatus: the named instances (paged by position) or all, in id order.
pub fn health_status(
    s: &mut Scope,
    input: m::GetInstancesHealthStatusRequest,
) -> Result<m::GetInstancesHealthStatusResponse, ApiError> {
    let srv_id = s.service_id(&input.service_id, "GetInstancesHealthStatus")?;
    let srv = s.service(&srv_id)?;
    let checked = srv.health_check.is_some() || srv.custom_health;
    let max = page_size(input.max_results);
    let mut status = BTreeMap::new();
    let next_token = match &input.instances {
        Some(ids) => {
            let start = match token_key(&input.next_token, "")? {
                Some(k) => k.parse::<usize>().map_err(|_| invalid("The NextToken is not valid"))?,
                None => 0,
            };
            for id in ids.iter().skip(start).take(max) {
                let inst = s.instance(&srv_id, id)?;
                status.insert(id.clone(), health_as_reported(checked, inst.health));
            }
            (start + max < ids.len()).then(|| crate::paging::token_after(&(start + max).to_string()))
        }
        None => {
            let prefix = s.keys.instances(&srv_id);
            let after = token_key(&input.next_token, &prefix)?;
            let (items, token) = crate::paging::page(s.tx, &prefix, after, max, |_, key, raw| {
                crate::store::decode_one::<InstanceRec>(key, raw).map(Some)
            })?;
            for inst in items {
                status.insert(inst.id.clone(), health_as_reported(checked, inst.health));
            }
            token
        }
    };
    Ok(m::GetInstancesHealthStatusResponse { status: Some(status), next_token })
}

/// UpdateInstanceCustomHealthStatus: only for services with a HealthCheckCustomConfig.
pub fn update_custom_health(s: &mut Scope, input: m::UpdateInstanceCustomHealthStatusRequest) -> Result<(), ApiError> {
    let srv_id = s.service_id(&input.service_id, "UpdateInstanceCustomHealthStatus")?;
    let mut srv = s.service(&srv_id)?;
    let mut inst = s.instance(&srv_id, &input.instance_id)?;
    s.only_owner_or(&inst.created_by, "UpdateInstanceCustomHealthStatus", &srv.arn)?;
    if !srv.custom_health {
        return Err(ApiError::new(
            &e::CUSTOM_HEALTH_NOT_FOUND,
            format!("Service {srv_id} has no HealthCheckCustomConfig"),
        ));
    }
    inst.health = match input.status {
        m::CustomHealthStatus::Healthy => m::HealthStatus::Healthy,
        m::CustomHealthStatus::Unhealthy => m::HealthStatus::Unhealthy,
    };
    put_json(s.tx, &s.keys.instance(&srv_id, &inst.id), &inst)?;
    srv.instances_changed();
    put_json(s.tx, &s.keys.service(&srv_id), &srv)?;
    Ok(())
}

/// Checks instance attributes against the service's records and the attribute rules.
fn check_attributes(srv: &ServiceRec, attrs: &BTreeMap<String, String>, quotas: &Quotas) -> Result<(), ApiError> {
    let has = |k: &str| attrs.contains_key(k);
    let custom = attrs.keys().filter(|k| !k.starts_with("AWS_")).count();
    if custom > quotas.custom_attributes_per_instance {
        return Err(invalid(format!(
            "An instance can have at most {} custom attributes; got {custom}",
            quotas.custom_attributes_per_instance
        )));
    }
    let total: usize = attrs.iter().map(|(k, v)| k.len() + v.len()).sum();
    if total > 5000 {
        return Err(invalid(format!("The attributes total {total} characters; the limit is 5000")));
    }
    if let Some(v) = attrs.get("AWS_INSTANCE_IPV4") {
        if v.parse::<std::net::Ipv4Addr>().is_err() {
            return Err(invalid(format!("AWS_INSTANCE_IPV4 {v} is not an IPv4 address")));
        }
    }
    if let Some(v) = attrs.get("AWS_INSTANCE_IPV6") {
        if v.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(invalid(format!("AWS_INSTANCE_IPV6 {v} is not an IPv6 address")));
        }
    }
    if let Some(v) = attrs.get("AWS_INSTANCE_PORT") {
        if !matches!(v.parse::<u32>(), Ok(1..=65535)) {
            return Err(invalid(format!("AWS_INSTANCE_PORT {v} is not a port number (1-65535)")));
        }
    }
    if let Some(v) = attrs.get("AWS_INIT_HEALTH_STATUS") {
        if v != "HEALTHY" && v != "UNHEALTHY" {
            return Err(invalid(format!("AWS_INIT_HEALTH_STATUS must be HEALTHY or UNHEALTHY, not {v}")));
        }
    }
    if has("AWS_ALIAS_DNS_NAME") {
        let weighted = srv.routing_policy == Some(m::RoutingPolicy::Weighted);
        let addr_records =
            srv.dns_records.iter().flatten().all(|r| matches!(r.record_type, m::RecordType::A | m::RecordType::Aaaa));
        if !weighted || srv.dns_records.is_none() || !addr_records {
            return Err(invalid("AWS_ALIAS_DNS_NAME needs a service with A/AAAA records and RoutingPolicy WEIGHTED"));
        }
        if attrs.keys().any(|k| k.starts_with("AWS_INSTANCE_")) {
            return Err(invalid("AWS_ALIAS_DNS_NAME cannot be combined with AWS_INSTANCE_* attributes"));
        }
        return Ok(());
    }
    if has("AWS_EC2_INSTANCE_ID") {
        if srv.dns_records.is_some() {
            return Err(invalid("AWS_EC2_INSTANCE_ID is only supported in HTTP namespaces"));
        }
        if attrs.keys().any(|k| k.starts_with("AWS_") && k != "AWS_EC2_INSTANCE_ID" && k != "AWS_INIT_HEALTH_STATUS") {
            return Err(invalid("Only AWS_INIT_HEALTH_STATUS may accompany AWS_EC2_INSTANCE_ID"));
        }
    }
    let types: Vec<m::RecordType> = srv.dns_records.iter().flatten().map(|r| r.record_type).collect();
    let both_addresses = types.contains(&m::RecordType::A) && types.contains(&m::RecordType::Aaaa);
    if both_addresses && !has("AWS_INSTANCE_IPV4") && !has("AWS_INSTANCE_IPV6") {
        return Err(invalid(
            "AWS_INSTANCE_IPV4 or AWS_INSTANCE_IPV6 is required for a service with A and AAAA records",
        ));
    }
    for r in srv.dns_records.iter().flatten() {
        use m::RecordType as R;
        let missing = match r.record_type {
            // With both A and AAAA records an instance may have either address (checked above).
            R::A | R::Aaaa if both_addresses => None,
            R::A if !has("AWS_INSTANCE_IPV4") => Some("AWS_INSTANCE_IPV4 is required for a service with an A record"),
            R::Aaaa if !has("AWS_INSTANCE_IPV6") => {
                Some("AWS_INSTANCE_IPV6 is required for a service with an AAAA record")
            }
            R::Srv if !has("AWS_INSTANCE_PORT") => {
                Some("AWS_INSTANCE_PORT is required for a service with an SRV record")
            }
            R::Srv if !has("AWS_INSTANCE_IPV4") && !has("AWS_INSTANCE_IPV6") => {
                Some("AWS_INSTANCE_IPV4 or AWS_INSTANCE_IPV6 is required for a service with an SRV record")
            }
            R::Cname if !has("AWS_INSTANCE_CNAME") => {
                Some("AWS_INSTANCE_CNAME is required for a service with a CNAME record")
            }
            _ => None,
        };
        if let Some(msg) = missing {
            return Err(invalid(msg));
        }
    }
    if srv.health_check.is_some() && !has("AWS_INSTANCE_PORT") {
        return Err(invalid("AWS_INSTANCE_PORT is required for a service with a HealthCheckConfig"));
    }
    Ok(())
}
