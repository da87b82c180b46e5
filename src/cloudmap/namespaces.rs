//! Namespaces: create (HTTP, private DNS, public DNS), update, delete, get and list. Creating,
//! updating and deleting are asynchronous operations; a namespace becomes visible when its
//! CREATE_NAMESPACE operation succeeds.

use super::records::*;
use super::scope::*;
use crate::model::servicediscovery::{self as m, errors as e};
use crate::store::{get_json, put_json};
use crate::tags::Tags;
use crate::wire::shape::{ApiError, Timestamp};
use std::collections::BTreeMap;

/// A namespace to create, whichever its type.
struct NewNamespace {
    api: &'static str,
    ns_type: m::NamespaceType,
    name: String,
    vpc: Option<String>,
    description: Option<String>,
    creator_request_id: Option<String>,
    tags: Tags,
    soa_ttl: Option<i64>,
    /// The request without its CreatorRequestId, printed.
    fingerprint: String,
}

/// CreateHttpNamespace.
pub fn create_http(s: &mut Scope, input: m::CreateHttpNamespaceRequest) -> Result<String, ApiError> {
    let mut fp = input.clone();
    fp.creator_request_id = None;
    create(
        s,
        NewNamespace {
            api: "CreateHttpNamespace",
            ns_type: m::NamespaceType::Http,
            name: input.name,
            vpc: None,
            description: input.description,
            creator_request_id: input.creator_request_id,
            tags: tags_of(&input.tags),
            soa_ttl: None,
            fingerprint: format!("{fp:?}"),
        },
    )
}

/// CreatePrivateDnsNamespace.
pub fn create_private_dns(s: &mut Scope, input: m::CreatePrivateDnsNamespaceRequest) -> Result<String, ApiError> {
    let mut fp = input.clone();
    fp.creator_request_id = None;
    create(
        s,
        NewNamespace {
            api: "CreatePrivateDnsNamespace",
            ns_type: m::NamespaceType::DnsPrivate,
            name: input.name,
            vpc: Some(input.vpc),
            description: input.description,
            creator_request_id: input.creator_request_id,
            tags: tags_of(&input.tags),
            soa_ttl: input.properties.as_ref().map(|p| p.dns_properties.soa.ttl),
            fingerprint: format!("{fp:?}"),
        },
    )
}

/// CreatePublicDnsNamespace.
pub fn create_public_dns(s: &mut Scope, input: m::CreatePublicDnsNamespaceRequest) -> Result<String, ApiError> {
    let mut fp = input.clone();
    fp.creator_request_id = None;
    create(
        s,
        NewNamespace {
            api: "CreatePublicDnsNamespace",
            ns_type: m::NamespaceType::DnsPublic,
            name: input.name,
            vpc: None,
            description: input.description,
            creator_request_id: input.creator_request_id,
            tags: tags_of(&input.tags),
            soa_ttl: input.properties.as_ref().map(|p| p.dns_properties.soa.ttl),
            fingerprint: format!("{fp:?}"),
        },
    )
}

/// Reserves the namespace's names, writes it (invisible until its operation succeeds) and starts
/// its CREATE_NAMESPACE operation.
fn create(s: &mut Scope, new: NewNamespace) -> Result<String, ApiError> {
    let NewNamespace { api, ns_type, name, vpc, description, creator_request_id, tags, soa_ttl, fingerprint } = new;
    s.check_tags(&name, &tags)?;
    let token = s.request_token(api, creator_request_id.as_deref(), || fingerprint);
    if let Some(op) = s.replay(&token)? {
        return Ok(op);
    }
    let existing = s.tx.scan(&s.keys.namespaces(), None, s.quotas.namespaces + 1)?;
    if existing.len() >= s.quotas.namespaces {
        return Err(ApiError::new(
            &e::RESOURCE_LIMIT_EXCEEDED,
            format!("The account already has {} namespaces in {}", s.quotas.namespaces, s.cx.region),
        ));
    }
    let id = new_namespace_id();
    let zone_key = s.keys.zone_name(ns_type, vpc.as_deref(), &name);
    let mut fail = None;
    let mut http_name = name.clone();
    if ns_type == m::NamespaceType::Http {
        if let Some(other) = s.tx.get(&s.keys.http_name(&name))? {
            return Err(already_exists(s, &other, &name)?);
        }
    } else {
        if let Some(other) = s.tx.get(&zone_key)? {
            if ns_type == m::NamespaceType::DnsPublic {
                return Err(already_exists(s, &other, &name)?);
            }
            // Route 53 refuses a second private zone of that name in that VPC: the operation
            // fails, as on AWS, rather than the request.
            fail = Some((
                "CANNOT_CREATE_HOSTED_ZONE".to_string(),
                format!(
                    "Route 53 cannot create the hosted zone {name}: VPC {} already has a conflicting private hosted zone",
                    vpc.clone().unwrap_or_default()
                ),
            ));
        }
        if s.tx.get(&s.keys.http_name(&name))?.is_some() {
            http_name = format!("{name}-{}", &hex::encode(rand::random::<[u8; 4]>()));
        }
    }
    let ns = NamespaceRec {
        id: id.clone(),
        arn: s.arn("namespace", &id),
        name: name.clone(),
        http_name: http_name.clone(),
        ns_type,
        description,
        vpc,
        hosted_zone_id: (ns_type != m::NamespaceType::Http).then(new_hosted_zone_id),
        soa_ttl,
        create_date: s.engine.now_ms(),
        creator_request_id: creator_request_id.clone(),
        owner: s.cx.account.clone(),
        state: NamespaceState::Creating,
        service_count: 0,
    };
    put_json(s.tx, &s.keys.namespace(&id), &ns)?;
    if fail.is_none() {
        s.tx.put(&s.keys.http_name(&http_name), id.as_bytes())?;
        if ns_type != m::NamespaceType::Http {
            s.tx.put(&zone_key, id.as_bytes())?;
        }
    }
    if !tags.is_empty() {
        s.put_tags(&ns.arn, &tags)?;
    }
    let op = s.start_operation(NewOperation {
        op_type: m::OperationType::CreateNamespace,
        targets: BTreeMap::from([("NAMESPACE".to_string(), id.clone())]),
        namespace_id: Some(id.clone()),
        service_id: None,
        change: Change::CreateNamespace { namespace_id: id, fail },
        busy_key: None,
        service: None,
    })?;
    s.remember(&token, &op)?;
    Ok(op)
}

/// `NamespaceAlreadyExists`, naming the namespace `other_id` that holds the name.
fn already_exists(s: &mut Scope, other_id: &[u8], name: &str) -> Result<ApiError, ApiError> {
    let other_id = String::from_utf8_lossy(other_id).into_owned();
    let other = get_json::<NamespaceRec>(s.tx, &s.keys.namespace(&other_id))?;
    let mut err = ApiError::new(&e::NAMESPACE_ALREADY_EXISTS, format!("Namespace {name} already exists: {other_id}"));
    if let Some(crid) = other.and_then(|o| o.creator_request_id) {
        err = err.with("CreatorRequestId", crid);
    }
    Ok(err.with("NamespaceId", other_id))
}

/// A namespace update, whichever its type.
struct NamespaceUpdate {
    api: &'static str,
    id: String,
    expected_type: m::NamespaceType,
    description: Option<String>,
    soa_ttl: Option<i64>,
    updater_request_id: Option<String>,
    /// The request without its UpdaterRequestId, printed.
    fingerprint: String,
}

/// UpdateHttpNamespace.
pub fn update_http(s: &mut Scope, input: m::UpdateHttpNamespaceRequest) -> Result<String, ApiError> {
    let mut fp = input.clone();
    fp.updater_request_id = None;
    update(
        s,
        NamespaceUpdate {
            api: "UpdateHttpNamespace",
            id: input.id,
            expected_type: m::NamespaceType::Http,
            description: Some(input.namespace.description),
            soa_ttl: None,
            updater_request_id: input.updater_request_id,
            fingerprint: format!("{fp:?}"),
        },
    )
}

/// UpdatePrivateDnsNamespace.
pub fn update_private_dns(s: &mut Scope, input: m::UpdatePrivateDnsNamespaceRequest) -> Result<String, ApiError> {
    let mut fp = input.clone();
    fp.updater_request_id = None;
    update(
        s,
        NamespaceUpdate {
            api: "UpdatePrivateDnsNamespace",
            id: input.id,
            expected_type: m::NamespaceType::DnsPrivate,
            description: input.namespace.description,
            soa_ttl: input.namespace.properties.as_ref().map(|p| p.dns_properties.soa.ttl),
            updater_request_id: input.updater_request_id,
            fingerprint: format!("{fp:?}"),
        },
    )
}

/// UpdatePublicDnsNamespace.
pub fn update_public_dns(s: &mut Scope, input: m::UpdatePublicDnsNamespaceRequest) -> Result<String, ApiError> {
    let mut fp = input.clone();
    fp.updater_request_id = None;
    update(
        s,
        NamespaceUpdate {
            api: "UpdatePublicDnsNamespace",
            id: input.id,
            expected_type: m::NamespaceType::DnsPublic,
            description: input.namespace.description,
            soa_ttl: input.namespace.properties.as_ref().map(|p| p.dns_properties.soa.ttl),
            updater_request_id: input.updater_request_id,
            fingerprint: format!("{fp:?}"),
        },
    )
}

/// Starts the UPDATE_NAMESPACE operation of an update.
fn update(s: &mut Scope, update: NamespaceUpdate) -> Result<String, ApiError> {
    let NamespaceUpdate { api, id, expected_type, description, soa_ttl, updater_request_id, fingerprint } = update;
    let id = s.namespace_id(&id, api)?;
    s.only_owner(api, &s.arn("namespace", &id))?;
    let token = s.request_token("UpdateNamespace", updater_request_id.as_deref(), || fingerprint);
    if let Some(op) = s.replay(&token)? {
        return Ok(op);
    }
    let ns = s.namespace(&id)?;
    if ns.ns_type != expected_type {
        return Err(invalid(format!(
            "Namespace {id} is of type {}; use the update call for that type",
            ns.ns_type.as_str()
        )));
    }
    let busy = s.keys.busy(&format!("ns/{id}"));
    s.check_not_busy(&busy, || format!("namespace {id}"))?;
    let op = s.start_operation(NewOperation {
        op_type: m::OperationType::UpdateNamespace,
        targets: BTreeMap::from([("NAMESPACE".to_string(), id.clone())]),
        namespace_id: Some(id.clone()),
        service_id: None,
        change: Change::UpdateNamespace { namespace_id: id, description, soa_ttl },
        busy_key: Some(busy),
        service: None,
    })?;
    s.remember(&token, &op)?;
    Ok(op)
}

/// DeleteNamespace: only an empty namespace.
pub fn delete(s: &mut Scope, input: m::DeleteNamespaceRequest) -> Result<m::DeleteNamespaceResponse, ApiError> {
    let id = s.namespace_id(&input.id, "DeleteNamespace")?;
    s.only_owner("DeleteNamespace", &s.arn("namespace", &id))?;
    let ns = s.namespace(&id)?;
    if ns.service_count > 0 {
        return Err(ApiError::new(
            &e::RESOURCE_IN_USE,
            format!("Namespace {id} contains {} services; delete them first", ns.service_count),
        ));
    }
    let busy = s.keys.busy(&format!("ns/{id}"));
    s.check_not_busy(&busy, || format!("namespace {id}"))?;
    let mut targets = BTreeMap::from([("NAMESPACE".to_string(), id.clone())]);
    if ns.ns_type != m::NamespaceType::Http {
        targets.insert("ROUTE_53_CHANGE_ID".into(), new_change_id());
    }
    let op = s.start_operation(NewOperation {
        op_type: m::OperationType::DeleteNamespace,
        targets,
        namespace_id: Some(id.clone()),
        service_id: None,
        change: Change::DeleteNamespace { namespace_id: id },
        busy_key: Some(busy),
        service: None,
    })?;
    Ok(m::DeleteNamespaceResponse { operation_id: Some(op) })
}

/// GetNamespace.
pub fn get(s: &mut Scope, input: m::GetNamespaceRequest) -> Result<m::GetNamespaceResponse, ApiError> {
    let id = s.namespace_id(&input.id, "GetNamespace")?;
    let ns = s.namespace(&id)?;
    Ok(m::GetNamespaceResponse { namespace: Some(model(&ns)) })
}

/// ListNamespaces: the caller's active namespaces in id order, then those other accounts share
/// with it (by owner, then id); filtered before paging.
pub fn list(s: &mut Scope, input: m::ListNamespacesRequest) -> Result<m::ListNamespacesResponse, ApiError> {
    use m::FilterCondition as C;
    let mut filters = Vec::new();
    let (mut own, mut shared) = (true, true);
    for f in input.filters.iter().flatten() {
        let allowed: &[C] = match f.name {
            m::NamespaceFilterName::ResourceOwner => &[C::Eq],
            _ => &[C::Eq, C::BeginsWith, C::In],
        };
        let (c, v) = filter_values(&f.values, f.condition, C::Eq, allowed, f.name.as_str())?;
        if f.name == m::NamespaceFilterName::ResourceOwner {
            let (o, sh) = resource_owner_sides(&v[0]);
            (own, shared) = (own && o, shared && sh);
        } else {
            filters.push((f.name, c, v.to_vec()));
        }
    }
    let keeps = move |ns: &NamespaceRec| {
        ns.state == NamespaceState::Active
            && filters.iter().all(|(name, c, v)| match name {
                m::NamespaceFilterName::Type => matches_text(*c, v, ns.ns_type.as_str()),
                m::NamespaceFilterName::Name => matches_text(*c, v, &ns.name),
                m::NamespaceFilterName::HttpName => matches_text(*c, v, &ns.http_name),
                m::NamespaceFilterName::ResourceOwner => true,
            })
    };
    let prefix = s.keys.namespaces();
    let after = token_key(&input.next_token, &prefix)?;
    let cx = s.cx;
    let (namespaces, next_token) = page_own_then_shared(
        s.tx,
        &prefix,
        after,
        page_size(input.max_results),
        own,
        |_, key, raw| {
            let ns: NamespaceRec = crate::store::decode_one(key, raw)?;
            Ok(keeps(&ns).then(|| summary(&ns)))
        },
        |tx| {
            let mut out = Vec::new();
            if shared {
                for (owner, id) in shared_namespaces(tx, cx)? {
                    match get_json::<NamespaceRec>(tx, &Keys::new(&owner, &cx.region).namespace(&id))? {
                        Some(ns) if keeps(&ns) => out.push((format!("{owner}/{id}"), summary(&ns))),
                        _ => {}
                    }
                }
            }
            Ok(out)
        },
    )?;
    Ok(m::ListNamespacesResponse { namespaces: Some(namespaces), next_token })
}

fn properties(ns: &NamespaceRec) -> m::NamespaceProperties {
    m::NamespaceProperties {
        dns_properties: Some(m::DnsProperties {
            hosted_zone_id: ns.hosted_zone_id.clone(),
            soa: ns.soa_ttl.map(|ttl| m::Soa { ttl }),
        }),
        http_properties: Some(m::HttpProperties { http_name: Some(ns.http_name.clone()) }),
    }
}

fn model(ns: &NamespaceRec) -> m::Namespace {
    m::Namespace {
        id: Some(ns.id.clone()),
        arn: Some(ns.arn.clone()),
        resource_owner: Some(ns.owner.clone()),
        name: Some(ns.name.clone()),
        type_: Some(ns.ns_type),
        description: ns.description.clone(),
        service_count: Some(ns.service_count),
        properties: Some(properties(ns)),
        create_date: Some(Timestamp(ns.create_date)),
        creator_request_id: ns.creator_request_id.clone(),
    }
}

fn summary(ns: &NamespaceRec) -> m::NamespaceSummary {
    let n = model(ns);
    m::NamespaceSummary {
        id: n.id,
        arn: n.arn,
        resource_owner: n.resource_owner,
        name: n.name,
        type_: n.type_,
        description: n.description,
        service_count: n.service_count,
        properties: n.properties,
        create_date: n.create_date,
    }
}
