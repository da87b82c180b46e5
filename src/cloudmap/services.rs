//! Services: create, get, list, update (an asynchronous UPDATE_SERVICE operation), delete, and
//! their attributes. The rules of DNS records, routing policies and health checks live here.

use super::records::*;
use super::scope::*;
use crate::model::servicediscovery::{self as m, errors as e};
use crate::store::{get_json, put_json};
use crate::wire::shape::{ApiError, Timestamp};
use std::collections::BTreeMap;

/// CreateService.
pub fn create(s: &mut Scope, input: m::CreateServiceRequest) -> Result<m::CreateServiceResponse, ApiError> {
    let tags = tags_of(&input.tags);
    s.check_tags(&input.name, &tags)?;
    let ns_ref = match (&input.namespace_id, input.dns_config.as_ref().and_then(|d| d.namespace_id.as_ref())) {
        (Some(a), Some(b)) if a != b => {
            return Err(invalid("NamespaceId and DnsConfig.NamespaceId name different namespaces"))
        }
        (Some(a), _) => a.clone(),
        (None, Some(b)) => b.clone(),
        (None, None) => return Err(invalid("NamespaceId is required")),
    };
    let ns_id = s.namespace_id(&ns_ref, "CreateService")?;
    if s.is_consumer() && !tags.is_empty() {
        // Nobody tags in a namespace another account shares: the request fails whole.
        return Err(s.denied("TagResource", &s.arn("namespace", &ns_id)));
    }
    let mut ns = s.namespace(&ns_id)?;
    check_definition(&ns, &input)?;
    let token = s.request_token("CreateService", input.creator_request_id.as_deref(), || {
        let mut fp = input.clone();
        fp.creator_request_id = None;
        format!("{fp:?}")
    });
    if let Some(id) = s.replay(&token)? {
        if let Some(srv) = get_json::<ServiceRec>(s.tx, &s.keys.service(&id))? {
            return Ok(m::CreateServiceResponse { service: Some(model(&srv)) });
        }
    }
    let name_key = s.keys.service_name(&ns.id, &service_name_key(&ns, &input.name));
    if let Some(other) = s.tx.get(&name_key)? {
        let other = String::from_utf8_lossy(&other).into_owned();
        let existing = s.service(&other)?;
        let mut err = ApiError::new(
            &e::SERVICE_ALREADY_EXISTS,
            format!("Service {} already exists in namespace {}: {other}", input.name, ns.id),
        );
        if let Some(c) = existing.creator_request_id {
            err = err.with("CreatorRequestId", c);
        }
        return Err(err.with("ServiceId", other).with("ServiceArn", existing.arn));
    }
    let id = new_service_id();
    let srv = ServiceRec {
        id: id.clone(),
        arn: s.arn("service", &id),
        name: input.name.clone(),
        namespace_id: ns.id.clone(),
        description: input.description.clone(),
        routing_policy: input.dns_config.as_ref().map(|d| d.routing_policy.unwrap_or(m::RoutingPolicy::Multivalue)),
        dns_records: input.dns_config.as_ref().map(|d| dns_records_rec(&d.dns_records)),
        service_type: if input.dns_config.is_some() { m::ServiceType::DnsHttp } else { m::ServiceType::Http },
        health_check: input.health_check_config.as_ref().map(health_check_rec),
        custom_health: input.health_check_custom_config.is_some(),
        create_date: s.engine.now_ms(),
        creator_request_id: input.creator_request_id.clone(),
        created_by: s.cx.account.clone(),
        owner: ns.owner.clone(),
        instance_count: 0,
        revision: 1,
        attributes: BTreeMap::new(),
        instances_tag: 0,
        others_registered: false,
    };
    put_json(s.tx, &s.keys.service(&id), &srv)?;
    s.tx.put(&name_key, id.as_bytes())?;
    ns.service_count += 1;
    put_json(s.tx, &s.keys.namespace(&ns.id), &ns)?;
    if !tags.is_empty() {
        s.put_tags(&srv.arn, &tags)?;
    }
    s.remember(&token, &id)?;
    Ok(m::CreateServiceResponse { service: Some(model(&srv)) })
}

/// DeleteService: only a service without instances or instance operations in flight.
pub fn delete(s: &mut Scope, input: m::DeleteServiceRequest) -> Result<m::DeleteServiceResponse, ApiError> {
    let id = s.service_id(&input.id, "DeleteService")?;
    let srv = s.service(&id)?;
    s.only_owner_or(&srv.created_by, "DeleteService", &srv.arn)?;
    if srv.instance_count > 0 || !s.tx.scan(&s.keys.instances(&id), None, 1)?.is_empty() {
        return Err(ApiError::new(
            &e::RESOURCE_IN_USE,
            format!("Service {id} still has {} registered instances; deregister them first", srv.instance_count),
        ));
    }
    if !s.tx.scan(&s.keys.busy(&format!("inst/{id}/")), None, 1)?.is_empty() {
        return Err(ApiError::new(&e::RESOURCE_IN_USE, format!("Service {id} has instance operations in progress")));
    }
    s.tx.delete(&s.keys.service(&id))?;
    s.tx.delete(&s.keys.tags(&srv.arn))?;
    if let Some(mut ns) = get_json::<NamespaceRec>(s.tx, &s.keys.namespace(&srv.namespace_id))? {
        s.tx.delete(&s.keys.service_name(&ns.id, &service_name_key(&ns, &srv.name)))?;
        ns.service_count = (ns.service_count - 1).max(0);
        put_json(s.tx, &s.keys.namespace(&ns.id), &ns)?;
    }
    Ok(m::DeleteServiceResponse {})
}

/// GetService.
pub fn get(s: &mut Scope, input: m::GetServiceRequest) -> Result<m::GetServiceResponse, ApiError> {
    let id = s.service_id(&input.id, "GetService")?;
    let srv = s.service(&id)?;
    Ok(m::GetServiceResponse { service: Some(model(&srv)) })
}

/// ListServices: the services of the caller's namespaces in id order (whoever created them), then
/// those of namespaces other accounts share with it (by owner, then id); filtered before paging.
pub fn list(s: &mut Scope, input: m::ListServicesRequest) -> Result<m::ListServicesResponse, ApiError> {
    use m::FilterCondition as C;
    let mut namespace = None;
    let (mut own, mut shared) = (true, true);
    for f in input.filters.iter().flatten() {
        let (_, v) = filter_values(&f.values, f.condition, C::Eq, &[C::Eq], f.name.as_str())?;
        match f.name {
            m::ServiceFilterName::NamespaceId => namespace = Some(v[0].clone()),
            m::ServiceFilterName::ResourceOwner => {
                let (o, sh) = resource_owner_sides(&v[0]);
                (own, shared) = (own && o, shared && sh);
            }
        }
    }
    // A namespace filter narrows the list to the caller's namespace or to one shared with it.
    let mut shared_list = None;
    let namespace = match namespace {
        None => None,
        Some(value) => match address(s.cx, "namespace", &value)? {
            Addr::Own(id) => {
                shared = false;
                Some(id)
            }
            Addr::Elsewhere => {
                (own, shared) = (false, false);
                None
            }
            Addr::Other { owner, id, arn } => {
                if !s.may_use_namespace(&owner, &id)? {
                    return Err(s.denied("ListServices", &arn));
                }
                own = false;
                shared_list = Some(vec![(owner, id.clone())]);
                Some(id)
            }
        },
    };
    let prefix = s.keys.services();
    let after = token_key(&input.next_token, &prefix)?;
    let cx = s.cx;
    let (services, next_token) = page_own_then_shared(
        s.tx,
        &prefix,
        after,
        page_size(input.max_results),
        own,
        |_, key, raw| {
            let srv: ServiceRec = crate::store::decode_one(key, raw)?;
            let keep = namespace.as_ref().is_none_or(|n| *n == srv.namespace_id);
            Ok(keep.then(|| summary(&srv)))
        },
        |tx| {
            let mut out = Vec::new();
            if !shared {
                return Ok(out);
            }
            let namespaces = match shared_list {
                Some(list) => list,
                None => shared_namespaces(tx, cx)?,
            };
            for (owner, ns_id) in namespaces {
                let keys = Keys::new(&owner, &cx.region);
                let mut found = Vec::new();
                for (_, id) in tx.scan(&keys.service_name_prefix(&ns_id), None, usize::MAX)? {
                    let id = String::from_utf8_lossy(&id).into_owned();
                    if let Some(srv) = get_json::<ServiceRec>(tx, &keys.service(&id))? {
                        found.push((format!("{owner}/{id}"), summary(&srv)));
                    }
                }
                found.sort_by(|a, b| a.0.cmp(&b.0));
                out.extend(found);
            }
            out.sort_by(|a, b| a.0.cmp(&b.0));
            Ok(out)
        },
    )?;
    Ok(m::ListServicesResponse { services: Some(services), next_token })
}

/// UpdateService: starts an UPDATE_SERVICE operation. Record types cannot change, only their TTLs.
pub fn update(s: &mut Scope, input: m::UpdateServiceRequest) -> Result<m::UpdateServiceResponse, ApiError> {
    let id = s.service_id(&input.id, "UpdateService")?;
    let srv = s.service(&id)?;
    s.only_owner_or(&srv.created_by, "UpdateService", &srv.arn)?;
    let ns = get_json::<NamespaceRec>(s.tx, &s.keys.namespace(&srv.namespace_id))?.ok_or_else(|| srv_not_found(&id))?;
    if ns.ns_type == m::NamespaceType::Http {
        return Err(invalid(format!(
            "Service {id} is in HTTP namespace {}; UpdateService is not supported there",
            ns.id
        )));
    }
    let dns_records = match &input.service.dns_config {
        Some(change) => {
            check_record_types(&change.dns_records)?;
            let mut new: Vec<&str> = change.dns_records.iter().map(|r| r.type_.as_str()).collect();
            let mut old: Vec<&str> = srv.dns_records.iter().flatten().map(|r| r.record_type.as_str()).collect();
            new.sort_unstable();
            old.sort_unstable();
            if new != old {
                return Err(invalid(format!(
                    "The record types of service {id} are [{}] and cannot change; only their TTLs can",
                    old.join(", ")
                )));
            }
            Some(dns_records_rec(&change.dns_records))
        }
        None => None,
    };
    if let Some(h) = &input.service.health_check_config {
        if srv.custom_health {
            return Err(invalid("A service with HealthCheckCustomConfig cannot get a HealthCheckConfig"));
        }
        if ns.ns_type == m::NamespaceType::DnsPrivate {
            return Err(invalid("HealthCheckConfig is not supported for services in private DNS namespaces"));
        }
        if srv.dns_records.iter().flatten().any(|r| r.record_type == m::RecordType::Cname) {
            return Err(invalid("A service with a CNAME record cannot have a HealthCheckConfig"));
        }
        check_health_check(h)?;
    }
    if srv.others_registered || srv.created_by != s.cx.account {
        let prefix = s.keys.instances(&id);
        for (key, raw) in s.tx.scan(&prefix, None, usize::MAX)? {
            let inst: InstanceRec = crate::store::decode_one(&key, &raw)?;
            if inst.created_by != s.cx.account {
                return Err(invalid(format!(
                    "Service {id} has instances registered by account {}; UpdateService cannot change a service \
                     holding other accounts' instances",
                    inst.created_by
                )));
            }
        }
    }
    let busy = s.keys.busy(&format!("srv/{id}"));
    s.check_not_busy(&busy, || format!("service {id}"))?;
    let op = s.start_operation(NewOperation {
        op_type: m::OperationType::UpdateService,
        targets: BTreeMap::from([("SERVICE".to_string(), id.clone())]),
        namespace_id: Some(ns.id),
        service_id: Some(id.clone()),
        change: Change::UpdateService {
            service_id: id,
            description: input.service.description.clone(),
            dns_records,
            health_check: input.service.health_check_config.as_ref().map(health_check_rec),
        },
        busy_key: Some(busy),
        service: Some(srv),
    })?;
    Ok(m::UpdateServiceResponse { operation_id: Some(op) })
}

/// GetServiceAttributes.
pub fn get_attributes(
    s: &mut Scope,
    input: m::GetServiceAttributesRequest,
) -> Result<m::GetServiceAttributesResponse, ApiError> {
    let id = s.service_id(&input.service_id, "GetServiceAttributes")?;
    let srv = s.service(&id)?;
    Ok(m::GetServiceAttributesResponse {
        service_attributes: Some(m::ServiceAttributes {
            service_arn: Some(srv.arn),
            resource_owner: Some(srv.owner),
            attributes: Some(srv.attributes),
        }),
    })
}

/// UpdateServiceAttributes: adds or replaces attributes, within the quota.
pub fn update_attributes(
    s: &mut Scope,
    input: m::UpdateServiceAttributesRequest,
) -> Result<m::UpdateServiceAttributesResponse, ApiError> {
    let id = s.service_id(&input.service_id, "UpdateServiceAttributes")?;
    let mut srv = s.service(&id)?;
    s.only_owner_or(&srv.created_by, "UpdateServiceAttributes", &srv.arn)?;
    srv.attributes.extend(input.attributes);
    if srv.attributes.len() > s.quotas.attributes_per_service {
        return Err(ApiError::new(
            &e::SERVICE_ATTRIBUTES_LIMIT_EXCEEDED_EXCEPTION,
            format!(
                "Service {id} would have {} attributes; the limit is {}",
                srv.attributes.len(),
                s.quotas.attributes_per_service
            ),
        ));
    }
    put_json(s.tx, &s.keys.service(&id), &srv)?;
    Ok(m::UpdateServiceAttributesResponse {})
}

/// DeleteServiceAttributes.
pub fn delete_attributes(
    s: &mut Scope,
    input: m::DeleteServiceAttributesRequest,
) -> Result<m::DeleteServiceAttributesResponse, ApiError> {
    let id = s.service_id(&input.service_id, "DeleteServiceAttributes")?;
    let mut srv = s.service(&id)?;
    s.only_owner_or(&srv.created_by, "DeleteServiceAttributes", &srv.arn)?;
    for k in &input.attributes {
        srv.attributes.remove(k);
    }
    put_json(s.tx, &s.keys.service(&id), &srv)?;
    Ok(m::DeleteServiceAttributesResponse {})
}

/// Checks a service definition against the namespace it goes into (CreateService rules).
fn check_definition(ns: &NamespaceRec, input: &m::CreateServiceRequest) -> Result<(), ApiError> {
    if let Some(dns) = &input.dns_config {
        if ns.ns_type == m::NamespaceType::Http {
            return Err(invalid(format!("Namespace {} is an HTTP namespace; DnsConfig is not allowed", ns.id)));
        }
        if input.type_ == Some(m::ServiceTypeOption::Http) {
            return Err(invalid("A service with Type HTTP cannot have a DnsConfig"));
        }
        check_record_types(&dns.dns_records)?;
        let has_cname = dns.dns_records.iter().any(|r| r.type_ == m::RecordType::Cname);
        if has_cname && dns.routing_policy != Some(m::RoutingPolicy::Weighted) {
            return Err(invalid("A CNAME record requires RoutingPolicy WEIGHTED"));
        }
        if has_cname && input.health_check_config.is_some() {
            return Err(invalid("A service with a CNAME record cannot have a HealthCheckConfig"));
        }
    }
    if input.health_check_config.is_some() && input.health_check_custom_config.is_some() {
        return Err(invalid("HealthCheckConfig and HealthCheckCustomConfig are mutually exclusive"));
    }
    if let Some(h) = &input.health_check_config {
        if ns.ns_type == m::NamespaceType::DnsPrivate {
            return Err(invalid("HealthCheckConfig is not supported for services in private DNS namespaces"));
        }
        check_health_check(h)?;
    }
    Ok(())
}

fn check_health_check(h: &m::HealthCheckConfig) -> Result<(), ApiError> {
    if h.type_ == m::HealthCheckType::Tcp && h.resource_path.is_some() {
        return Err(invalid("ResourcePath is not allowed for a TCP health check"));
    }
    Ok(())
}

fn check_record_types(records: &[m::DnsRecord]) -> Result<(), ApiError> {
    let mut types: Vec<&str> = records.iter().map(|r| r.type_.as_str()).collect();
    types.sort_unstable();
    // The model's five sets, plus SRV beside A and/or AAAA, which real configurations use (ECS,
    // consul-aws, Terraform) and AWS accepts.
    let ok = matches!(
        types.as_slice(),
        ["A"] | ["AAAA"] | ["A", "AAAA"] | ["SRV"] | ["CNAME"] | ["A", "SRV"] | ["AAAA", "SRV"] | ["A", "AAAA", "SRV"]
    );
    if !ok {
        return Err(invalid(format!(
            "DnsRecords must be A, AAAA, A and AAAA, SRV (optionally with A and/or AAAA), or CNAME; got [{}]",
            types.join(", ")
        )));
    }
    Ok(())
}

fn dns_records_rec(records: &[m::DnsRecord]) -> Vec<DnsRecordRec> {
    records.iter().map(|r| DnsRecordRec { record_type: r.type_, ttl: r.ttl }).collect()
}

fn health_check_rec(h: &m::HealthCheckConfig) -> HealthCheckRec {
    let path = match h.type_ {
        m::HealthCheckType::Tcp => None,
        _ => Some(h.resource_path.clone().unwrap_or_else(|| "/".into())),
    };
    HealthCheckRec {
        check_type: h.type_,
        resource_path: path,
        // Echoed only when the caller gave it; the prober uses Route 53's default of 3 otherwise.
        failure_threshold: h.failure_threshold,
    }
}

fn dns_config_model(srv: &ServiceRec) -> Option<m::DnsConfig> {
    srv.dns_records.as_ref().map(|records| m::DnsConfig {
        namespace_id: Some(srv.namespace_id.clone()),
        routing_policy: srv.routing_policy,
        dns_records: records.iter().map(|r| m::DnsRecord { type_: r.record_type, ttl: r.ttl }).collect(),
    })
}

fn health_check_model(srv: &ServiceRec) -> Option<m::HealthCheckConfig> {
    srv.health_check.as_ref().map(|h| m::HealthCheckConfig {
        type_: h.check_type,
        resource_path: h.resource_path.clone(),
        failure_threshold: h.failure_threshold,
    })
}

fn model(srv: &ServiceRec) -> m::Service {
    m::Service {
        id: Some(srv.id.clone()),
        arn: Some(srv.arn.clone()),
        resource_owner: Some(srv.owner.clone()),
        name: Some(srv.name.clone()),
        namespace_id: Some(srv.namespace_id.clone()),
        description: srv.description.clone(),
        instance_count: Some(srv.instance_count),
        dns_config: dns_config_model(srv),
        type_: Some(srv.service_type),
        health_check_config: health_check_model(srv),
        health_check_custom_config: srv
            .custom_health
            .then_some(m::HealthCheckCustomConfig { failure_threshold: Some(1) }),
        create_date: Some(Timestamp(srv.create_date)),
        creator_request_id: srv.creator_request_id.clone(),
        created_by_account: Some(srv.created_by.clone()),
    }
}

fn summary(srv: &ServiceRec) -> m::ServiceSummary {
    let full = model(srv);
    m::ServiceSummary {
        id: full.id,
        arn: full.arn,
        resource_owner: full.resource_owner,
        name: full.name,
        type_: full.type_,
        description: full.description,
        instance_count: full.instance_count,
        dns_config: full.dns_config,
        health_check_config: full.health_check_config,
        health_check_custom_config: full.health_check_custom_config,
        create_date: full.create_date,
        created_by_account: full.created_by_account,
    }
}
