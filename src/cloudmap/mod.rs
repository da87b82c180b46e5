//! AWS Cloud Map: the 30 operations of `servicediscovery` over the store and the operation engine.
//! Each operation is a function from a typed input to a typed output; rules live here, bytes do not.

pub mod discover;
pub mod driver;
pub mod records;

use crate::engine::Engine;
use crate::kept::Entry;
use crate::model::servicediscovery::{self as m, errors as e};
use crate::store::{decode_one, get_json, put_json, StoreError, Tx};
use crate::wire::shape::{ApiError, RequestContext, Timestamp};
use base64::Engine as _;
use records::*;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Quotas of one account and region (AWS defaults).
#[derive(Debug, Clone)]
pub struct Quotas {
    pub namespaces: usize,
    pub instances_per_service: i32,
    pub tags_per_resource: usize,
    pub custom_attributes_per_instance: usize,
    pub attributes_per_service: usize,
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas {
            namespaces: 50,
            instances_per_service: 1000,
            tags_per_resource: 50,
            custom_attributes_per_instance: 30,
            attributes_per_service: 30,
        }
    }
}

/// The Cloud Map backend.
#[derive(Clone)]
pub struct CloudMap {
    engine: Engine,
    quotas: Quotas,
    instances: Arc<discover::InstanceCache>,
    operations: Arc<crate::kept::Kept<discover::KeptOperation>>,
    targets: Arc<KeptTargets>,
}

/// A record as kept decoded.
type KeptRec<T> = Arc<Entry<T>>;

/// The namespace and service records DiscoverInstances reads, kept decoded.
struct KeptTargets {
    namespaces: crate::kept::Kept<NamespaceRec>,
    services: crate::kept::Kept<ServiceRec>,
}

impl KeptTargets {
    /// The most records of each kind kept.
    const MAX: usize = 10_000;
}

fn invalid(msg: impl Into<String>) -> ApiError {
    ApiError::new(&e::INVALID_INPUT, msg)
}

fn op_not_found(id: &str) -> ApiError {
    ApiError::new(&e::OPERATION_NOT_FOUND, format!("No operation found with ID {id}"))
}

fn ns_not_found(id: &str) -> ApiError {
    ApiError::new(&e::NAMESPACE_NOT_FOUND, format!("Namespace not found: {id}"))
}

fn srv_not_found(id: &str) -> ApiError {
    ApiError::new(&e::SERVICE_NOT_FOUND, format!("Service not found: {id}"))
}

fn inst_not_found(srv: &str, id: &str) -> ApiError {
    ApiError::new(&e::INSTANCE_NOT_FOUND, format!("Instance not found: {id} in service {srv}"))
}

/// Accepts an id or an ARN of `kind` (`namespace`/`service`) and returns the id. An ARN of another
/// account or region cannot be in this scope: there is no RAM sharing in localplane.
fn resolve_id(cx: &RequestContext, kind: &str, value: &str) -> Result<Option<String>, ApiError> {
    let Some(rest) = value.strip_prefix("arn:") else {
        return Ok(Some(value.to_string()));
    };
    let parts: Vec<&str> = rest.splitn(5, ':').collect();
    if parts.len() != 5 || parts[1] != "servicediscovery" {
        return Err(invalid(format!("{value} is not a Cloud Map {kind} ARN")));
    }
    let Some(id) = parts[4].strip_prefix(&format!("{kind}/")) else {
        return Err(invalid(format!("{value} is not a Cloud Map {kind} ARN")));
    };
    if parts[2] != cx.region || parts[3] != cx.account {
        return Ok(None);
    }
    Ok(Some(id.to_string()))
}

fn arn(cx: &RequestContext, kind: &str, id: &str) -> String {
    format!("arn:aws:servicediscovery:{}:{}:{kind}/{id}", cx.region, cx.account)
}

fn encode_token(last_key: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(last_key)
}

fn decode_token(token: &Option<String>) -> Result<Option<String>, ApiError> {
    match token {
        None => Ok(None),
        Some(t) => base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(t)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .map(Some)
            .ok_or_else(|| invalid("The NextToken is not valid; pass the value from the previous response")),
    }
}

/// Scans `prefix` from after the token's key, keeping entries `keep` accepts, one page of `max`.
/// Returns the page and the next token (only when more entries remain).
fn page<T: serde::de::DeserializeOwned>(
    tx: &mut dyn Tx,
    prefix: &str,
    token: &Option<String>,
    max: usize,
    mut keep: impl FnMut(&mut dyn Tx, &T) -> Result<bool, ApiError>,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let mut after = match decode_token(token)? {
        Some(k) if k.starts_with(prefix) => Some(k),
        Some(_) => return Err(invalid("The NextToken does not belong to this request")),
        None => None,
    };
    let mut out = Vec::new();
    // One row past a full page is enough to know there is a next page when nothing is filtered out.
    let batch = (max + 1).min(256);
    loop {
        let rows = tx.scan(prefix, after.as_deref(), batch)?;
        let exhausted = rows.len() < batch;
        // Decoded one at a time: rows past the page are never decoded.
        for (k, v) in rows {
            let item: T = decode_one(&k, &v)?;
            if keep(tx, &item)? {
                if out.len() == max {
                    return Ok((out, after.map(|a| encode_token(&a))));
                }
                out.push(item);
            }
            after = Some(k);
        }
        if exhausted {
            return Ok((out, None));
        }
    }
}

fn page_size(max: Option<i32>, default: usize) -> usize {
    max.map(|m| m.max(1) as usize).unwrap_or(default)
}

fn tags_to_rec(tags: &Option<Vec<m::Tag>>) -> Vec<(String, String)> {
    tags.iter().flatten().map(|t| (t.key.clone(), t.value.clone())).collect()
}

impl CloudMap {
    /// A backend over the engine's store.
    /// What DiscoverInstances returns: the service's instances, the indexes of those chosen, and the
    /// service's revision.
    async fn discover(
        &self,
        cx: &RequestContext,
        input: m::DiscoverInstancesRequest,
    ) -> Result<(Arc<discover::ServiceInstances>, Vec<usize>, i64), ApiError> {
        let cx = cx.clone();
        let cache = self.instances.clone();
        let kept = self.targets.clone();
        self.engine
            .store()
            .read(move |tx| {
                let Some(keys) = Self::owner_scope(&cx, &input.owner_account) else {
                    return Err(ns_not_found(&input.namespace_name));
                };
                let (ns, srv) = Self::discover_target(tx, &keys, &kept, &input.namespace_name, &input.service_name)?;
                let set = cache.instances(tx, &keys, &srv.value, |_| Ok::<_, ApiError>(ns.value.http_name.clone()))?;
                let picked = set.pick(&input, page_size(input.max_results, 100));
                Ok((set, picked, srv.value.revision))
            })
            .await
    }

    /// Forgets cached decoded records (after a reset or an import replaced what the store holds).
    pub fn forget_cached(&self) {
        self.instances.clear();
        self.operations.clear();
        self.targets.namespaces.clear();
        self.targets.services.clear();
    }

    pub fn new(engine: Engine, quotas: Quotas) -> Self {
        CloudMap {
            engine,
            quotas,
            instances: Arc::default(),
            operations: Arc::new(crate::kept::Kept::new(discover::KeptOperation::MAX)),
            targets: Arc::new(KeptTargets {
                namespaces: crate::kept::Kept::new(KeptTargets::MAX),
                services: crate::kept::Kept::new(KeptTargets::MAX),
            }),
        }
    }

    fn check_tags(&self, resource: &str, tags: &[(String, String)]) -> Result<(), ApiError> {
        if tags.iter().any(|(k, _)| k.starts_with("aws:")) {
            return Err(invalid("Tag keys starting with aws: are reserved"));
        }
        let distinct: std::collections::BTreeSet<&String> = tags.iter().map(|(k, _)| k).collect();
        if distinct.len() > self.quotas.tags_per_resource {
            return Err(ApiError::new(
                &e::TOO_MANY_TAGS_EXCEPTION,
                format!("A resource can have at most {} tags", self.quotas.tags_per_resource),
            )
            .with("ResourceName", resource));
        }
        Ok(())
    }

    /// Writes a new operation and hands it to the engine, in the caller's transaction.
    #[allow(clippy::too_many_arguments)]
    fn start_operation(
        &self,
        tx: &mut dyn Tx,
        cx: &RequestContext,
        op_type: m::OperationType,
        targets: BTreeMap<String, String>,
        namespace_id: Option<String>,
        service_id: Option<String>,
        change: Change,
        busy_key: Option<String>,
    ) -> Result<String, StoreError> {
        let keys = Keys::new(&cx.account, &cx.region);
        let now = self.engine.now_ms();
        let id = new_operation_id(now);
        if let Some(b) = &busy_key {
            tx.put(b, id.as_bytes())?;
        }
        let resources: Vec<&str> = [namespace_id.as_deref(), service_id.as_deref()].into_iter().flatten().collect();
        let fault = self.engine.take_operation_fault(tx, SERVICE, op_type.as_str(), &resources)?.map(|rule| {
            let message = rule.error_message.unwrap_or_else(|| format!("Injected fault {}", rule.id));
            (rule.error_code, message)
        });
        let op = OperationRec {
            id: id.clone(),
            owner: cx.account.clone(),
            region: cx.region.clone(),
            op_type,
            status: m::OperationStatus::Submitted,
            error_code: None,
            error_message: None,
            create_date: now,
            update_date: now,
            targets,
            namespace_id,
            service_id,
            change,
            busy_key,
            fault,
        };
        put_json(tx, &keys.operation(&id), &op)?;
        tx.put(&keys.operation_by_time(now, &id), b"")?;
        let timing = self.engine.timing();
        let op_ref = Keys::op_ref(&cx.account, &cx.region, &id);
        self.engine.submit(tx, SERVICE, &op_ref, driver::first_step_ms(&timing, op_type))?;
        Ok(id)
    }

    /// Returns the operation already started with this idempotency token, or `InvalidInput` when the
    /// token was used for a different request.
    fn replay(tx: &mut dyn Tx, key: &str, fingerprint: &str) -> Result<Option<String>, ApiError> {
        let Some(raw) = tx.get(key)? else {
            return Ok(None);
        };
        let stored: (String, String) = serde_json::from_slice(&raw).map_err(ApiError::internal)?;
        if stored.0 == fingerprint {
            Ok(Some(stored.1))
        } else {
            Err(invalid(
                "The request id was already used for a different request; use a new CreatorRequestId for a new request",
            ))
        }
    }

    fn remember(tx: &mut dyn Tx, key: &str, fingerprint: &str, result: &str) -> Result<(), StoreError> {
        put_json(tx, key, &(fingerprint, result))
    }

    #[allow(clippy::too_many_arguments)]
    async fn create_namespace(
        &self,
        cx: &RequestContext,
        api: &'static str,
        ns_type: m::NamespaceType,
        name: String,
        vpc: Option<String>,
        description: Option<String>,
        creator_request_id: Option<String>,
        tags: Vec<(String, String)>,
        soa_ttl: Option<i64>,
        fingerprint: String,
    ) -> Result<String, ApiError> {
        let this = self.clone();
        let cx = cx.clone();
        self.check_tags(&name, &tags)?;
        self.engine
            .store()
            .write(move |tx| {
                let keys = Keys::new(&cx.account, &cx.region);
                let token_key = creator_request_id.as_ref().map(|t| keys.token(api, t));
                if let Some(k) = &token_key {
                    if let Some(op) = Self::replay(tx, k, &fingerprint)? {
                        return Ok(op);
                    }
                }
                let existing = tx.scan(&keys.namespaces(), None, this.quotas.namespaces + 1)?;
                if existing.len() >= this.quotas.namespaces {
                    return Err(ApiError::new(
                        &e::RESOURCE_LIMIT_EXCEEDED,
                        format!("The account already has {} namespaces in {}", this.quotas.namespaces, cx.region),
                    ));
                }
                let id = new_namespace_id();
                let zone_key = keys.zone_name(ns_type, vpc.as_deref(), &name);
                let mut fail = None;
                let mut http_name = name.clone();
                if ns_type == m::NamespaceType::Http {
                    if let Some(other) = tx.get(&keys.http_name(&name))? {
                        return Err(already_exists(tx, &keys, &other, &name)?);
                    }
                } else {
                    if let Some(other) = tx.get(&zone_key)? {
                        if ns_type == m::NamespaceType::DnsPublic {
                            return Err(already_exists(tx, &keys, &other, &name)?);
                        }
                        // Route 53 refuses a second private zone of that name in that VPC: the
                        // operation fails, as on AWS, rather than the request.
                        fail = Some((
                            "CANNOT_CREATE_HOSTED_ZONE".to_string(),
                            format!(
                                "Route 53 cannot create the hosted zone {name}: VPC {} already has a conflicting private hosted zone",
                                vpc.clone().unwrap_or_default()
                            ),
                        ));
                    }
                    if tx.get(&keys.http_name(&name))?.is_some() {
                        http_name = format!("{name}-{}", &hex::encode(rand::random::<[u8; 4]>()));
                    }
                }
                let now = this.engine.now_ms();
                let ns = NamespaceRec {
                    id: id.clone(),
                    arn: arn(&cx, "namespace", &id),
                    name: name.clone(),
                    http_name: http_name.clone(),
                    ns_type,
                    description,
                    vpc,
                    hosted_zone_id: (ns_type != m::NamespaceType::Http).then(new_hosted_zone_id),
                    soa_ttl,
                    create_date: now,
                    creator_request_id: creator_request_id.clone(),
                    owner: cx.account.clone(),
                    state: NamespaceState::Creating,
                    service_count: 0,
                };
                put_json(tx, &keys.namespace(&id), &ns)?;
                if fail.is_none() {
                    tx.put(&keys.http_name(&http_name), id.as_bytes())?;
                    if ns_type != m::NamespaceType::Http {
                        tx.put(&zone_key, id.as_bytes())?;
                    }
                }
                if !tags.is_empty() {
                    put_json(tx, &keys.tags(&ns.arn), &tags)?;
                }
                let targets = BTreeMap::from([("NAMESPACE".to_string(), id.clone())]);
                let change = Change::CreateNamespace { namespace_id: id.clone(), fail };
                let op = this.start_operation(tx, &cx, m::OperationType::CreateNamespace, targets, Some(id), None, change, None)?;
                if let Some(k) = &token_key {
                    Self::remember(tx, k, &fingerprint, &op)?;
                }
                Ok(op)
            })
            .await
    }

    /// Reads an active namespace.
    fn namespace(tx: &mut dyn Tx, keys: &Keys, id: &str) -> Result<NamespaceRec, ApiError> {
        match get_json::<NamespaceRec>(tx, &keys.namespace(id))? {
            Some(ns) if ns.state == NamespaceState::Active => Ok(ns),
            _ => Err(ns_not_found(id)),
        }
    }

    fn service(tx: &mut dyn Tx, keys: &Keys, id: &str) -> Result<ServiceRec, ApiError> {
        get_json::<ServiceRec>(tx, &keys.service(id))?.ok_or_else(|| srv_not_found(id))
    }

    #[allow(clippy::too_many_arguments)]
    async fn update_namespace(
        &self,
        cx: &RequestContext,
        id: String,
        expected_type: m::NamespaceType,
        description: Option<String>,
        soa_ttl: Option<i64>,
        updater_request_id: Option<String>,
        fingerprint: String,
    ) -> Result<String, ApiError> {
        let this = self.clone();
        let cx = cx.clone();
        self.engine
            .store()
            .write(move |tx| {
                let keys = Keys::new(&cx.account, &cx.region);
                let Some(id) = resolve_id(&cx, "namespace", &id)? else {
                    return Err(ns_not_found(&id));
                };
                let token_key = updater_request_id.as_ref().map(|t| keys.token("UpdateNamespace", t));
                if let Some(k) = &token_key {
                    if let Some(op) = Self::replay(tx, k, &fingerprint)? {
                        return Ok(op);
                    }
                }
                let ns = Self::namespace(tx, &keys, &id)?;
                if ns.ns_type != expected_type {
                    return Err(invalid(format!(
                        "Namespace {id} is of type {}; use the update call for that type",
                        ns.ns_type.as_str()
                    )));
                }
                let busy = keys.busy(&format!("ns/{id}"));
                if let Some(other) = tx.get(&busy)? {
                    return Err(duplicate(&other, &format!("namespace {id}")));
                }
                let targets = BTreeMap::from([("NAMESPACE".to_string(), id.clone())]);
                let change = Change::UpdateNamespace { namespace_id: id.clone(), description, soa_ttl };
                let op = this.start_operation(
                    tx,
                    &cx,
                    m::OperationType::UpdateNamespace,
                    targets,
                    Some(id),
                    None,
                    change,
                    Some(busy),
                )?;
                if let Some(k) = &token_key {
                    Self::remember(tx, k, &fingerprint, &op)?;
                }
                Ok(op)
            })
            .await
    }

    /// The operation GetOperation names (in `OwnerAccount` when given), decoded unless kept from
    /// an earlier read of the same bytes.
    async fn kept_operation(
        &self,
        cx: &RequestContext,
        input: m::GetOperationRequest,
    ) -> Result<KeptRec<discover::KeptOperation>, ApiError> {
        let cx = cx.clone();
        let kept = self.operations.clone();
        self.engine
            .store()
            .read(move |tx| {
                let Some(keys) = Self::owner_scope(&cx, &input.owner_account) else {
                    return Err(op_not_found(&input.operation_id));
                };
                let key = keys.operation(&input.operation_id);
                kept.read(tx, &key, |raw| discover::KeptOperation::decode(&key, raw))?
                    .ok_or_else(|| op_not_found(&input.operation_id))
            })
            .await
    }

    /// One ListInstances page: the service's instance set, the range listed, the next token and
    /// the service's owner. Instances are listed in key (instance id) order; the token is the key
    /// of the last one listed.
    #[allow(clippy::type_complexity)]
    fn instances_page(
        tx: &mut dyn Tx,
        cache: &discover::InstanceCache,
        cx: &RequestContext,
        input: &m::ListInstancesRequest,
    ) -> Result<(Arc<discover::ServiceInstances>, std::ops::Range<usize>, Option<String>, String), ApiError> {
        let keys = &Keys::new(&cx.account, &cx.region);
        let Some(id) = resolve_id(cx, "service", &input.service_id)? else {
            return Err(srv_not_found(&input.service_id));
        };
        let id = id.as_str();
        let srv = Self::service(tx, keys, id)?;
        let prefix = keys.instances(id);
        let after = match decode_token(&input.next_token)? {
            Some(k) if k.starts_with(&prefix) => Some(k[prefix.len()..].to_string()),
            Some(_) => return Err(invalid("The NextToken does not belong to this request")),
            None => None,
        };
        let set = cache.instances(tx, keys, &srv, |tx| {
            Ok::<_, ApiError>(Self::namespace(tx, keys, &srv.namespace_id)?.http_name)
        })?;
        let (range, more) = set.list_range(after.as_deref(), page_size(input.max_results, 100));
        let next = more.then(|| encode_token(&keys.instance(id, &set.recs[range.end - 1].id)));
        Ok((set, range, next, srv.owner))
    }

    /// Resolves `NamespaceName` (the HttpName) and `ServiceName` for discovery: the namespace and
    /// the service, decoded unless kept from an earlier read of the same bytes.
    fn discover_target(
        tx: &mut dyn Tx,
        keys: &Keys,
        kept: &KeptTargets,
        namespace_name: &str,
        service_name: &str,
    ) -> Result<(KeptRec<NamespaceRec>, KeptRec<ServiceRec>), ApiError> {
        let ns_id = tx.get(&keys.http_name(namespace_name))?.ok_or_else(|| ns_not_found(namespace_name))?;
        let ns_id = String::from_utf8_lossy(&ns_id);
        let key = keys.namespace(&ns_id);
        let ns = match kept.namespaces.read(tx, &key, |raw| decode_one::<NamespaceRec>(&key, raw))? {
            Some(ns) if ns.value.state == NamespaceState::Active => ns,
            _ => return Err(ns_not_found(&ns_id)),
        };
        let name_key = service_name_key(&ns.value, service_name);
        let srv_id = tx.get(&keys.service_name(&ns.value.id, &name_key))?.ok_or_else(|| srv_not_found(service_name))?;
        let srv_id = String::from_utf8_lossy(&srv_id);
        let key = keys.service(&srv_id);
        let srv = kept
            .services
            .read(tx, &key, |raw| decode_one::<ServiceRec>(&key, raw))?
            .ok_or_else(|| srv_not_found(&srv_id))?;
        Ok((ns, srv))
    }

    fn owner_scope(cx: &RequestContext, owner: &Option<String>) -> Option<Keys> {
        match owner {
            Some(o) if *o != cx.account => None,
            _ => Some(Keys::new(&cx.account, &cx.region)),
        }
    }
}

fn duplicate(op: &[u8], what: &str) -> ApiError {
    let op = String::from_utf8_lossy(op).into_owned();
    ApiError::new(
        &e::DUPLICATE_REQUEST,
        format!("Operation {op} on {what} is still in progress; wait for it to finish"),
    )
    .with("DuplicateOperationId", op)
}

fn already_exists(tx: &mut dyn Tx, keys: &Keys, other_id: &[u8], name: &str) -> Result<ApiError, ApiError> {
    let other_id = String::from_utf8_lossy(other_id).into_owned();
    let other = get_json::<NamespaceRec>(tx, &keys.namespace(&other_id))?;
    let mut err = ApiError::new(&e::NAMESPACE_ALREADY_EXISTS, format!("Namespace {name} already exists: {other_id}"));
    if let Some(crid) = other.and_then(|o| o.creator_request_id) {
        err = err.with("CreatorRequestId", crid);
    }
    Ok(err.with("NamespaceId", other_id))
}

/// DNS namespaces compare service names case-insensitively (they are DNS names); HTTP ones exactly.
fn service_name_key(ns: &NamespaceRec, name: &str) -> String {
    if ns.ns_type == m::NamespaceType::Http {
        name.to_string()
    } else {
        name.to_ascii_lowercase()
    }
}

fn namespace_properties(ns: &NamespaceRec) -> m::NamespaceProperties {
    m::NamespaceProperties {
        dns_properties: Some(m::DnsProperties {
            hosted_zone_id: ns.hosted_zone_id.clone(),
            soa: ns.soa_ttl.map(|ttl| m::Soa { ttl }),
        }),
        http_properties: Some(m::HttpProperties { http_name: Some(ns.http_name.clone()) }),
    }
}

fn namespace_model(ns: &NamespaceRec) -> m::Namespace {
    m::Namespace {
        id: Some(ns.id.clone()),
        arn: Some(ns.arn.clone()),
        resource_owner: Some(ns.owner.clone()),
        name: Some(ns.name.clone()),
        type_: Some(ns.ns_type),
        description: ns.description.clone(),
        service_count: Some(ns.service_count),
        properties: Some(namespace_properties(ns)),
        create_date: Some(Timestamp(ns.create_date)),
        creator_request_id: ns.creator_request_id.clone(),
    }
}

fn dns_config_model(s: &ServiceRec) -> Option<m::DnsConfig> {
    s.dns_records.as_ref().map(|records| m::DnsConfig {
        namespace_id: Some(s.namespace_id.clone()),
        routing_policy: s.routing_policy,
        dns_records: records.iter().map(|r| m::DnsRecord { type_: r.record_type, ttl: r.ttl }).collect(),
    })
}

fn health_check_model(s: &ServiceRec) -> Option<m::HealthCheckConfig> {
    s.health_check.as_ref().map(|h| m::HealthCheckConfig {
        type_: h.check_type,
        resource_path: h.resource_path.clone(),
        failure_threshold: h.failure_threshold,
    })
}

fn service_model(s: &ServiceRec) -> m::Service {
    m::Service {
        id: Some(s.id.clone()),
        arn: Some(s.arn.clone()),
        resource_owner: Some(s.owner.clone()),
        name: Some(s.name.clone()),
        namespace_id: Some(s.namespace_id.clone()),
        description: s.description.clone(),
        instance_count: Some(s.instance_count),
        dns_config: dns_config_model(s),
        type_: Some(s.service_type),
        health_check_config: health_check_model(s),
        health_check_custom_config: s
            .custom_health
            .then_some(m::HealthCheckCustomConfig { failure_threshold: Some(1) }),
        create_date: Some(Timestamp(s.create_date)),
        creator_request_id: s.creator_request_id.clone(),
        created_by_account: Some(s.created_by.clone()),
    }
}

fn service_summary(s: &ServiceRec) -> m::ServiceSummary {
    let full = service_model(s);
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

/// Checks a service definition against the namespace it goes into (CreateService rules).
fn check_service_definition(ns: &NamespaceRec, input: &m::CreateServiceRequest) -> Result<(), ApiError> {
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

/// The health an instance reports in its service.
fn reported_health(srv: &ServiceRec, inst: &InstanceRec) -> m::HealthStatus {
    health_as_reported(srv.health_check.is_some() || srv.custom_health, inst.health)
}

/// The HealthStatus clients see: the stored status when the service has health checks, else UNKNOWN.
fn health_as_reported(checked: bool, stored: m::HealthStatus) -> m::HealthStatus {
    if checked {
        stored
    } else {
        m::HealthStatus::Unknown
    }
}

fn filter_values<'a>(
    values: &'a [String],
    condition: Option<m::FilterCondition>,
    default: m::FilterCondition,
    allowed: &[m::FilterCondition],
    name: &str,
) -> Result<(m::FilterCondition, &'a [String]), ApiError> {
    let c = condition.unwrap_or(default);
    if !allowed.contains(&c) {
        return Err(invalid(format!("Condition {} is not supported for filter {name}", c.as_str())));
    }
    let ok = match c {
        m::FilterCondition::Eq | m::FilterCondition::BeginsWith => values.len() == 1,
        m::FilterCondition::In => !values.is_empty(),
        m::FilterCondition::Between => values.len() == 2,
    };
    if !ok {
        return Err(invalid(format!("Filter {name} with condition {} got {} values", c.as_str(), values.len())));
    }
    Ok((c, values))
}

fn matches_text(c: m::FilterCondition, values: &[String], actual: &str) -> bool {
    match c {
        m::FilterCondition::BeginsWith => actual.starts_with(values[0].as_str()),
        _ => values.iter().any(|v| v == actual),
    }
}

fn parse_epoch(v: &str) -> Result<i64, ApiError> {
    v.trim()
        .parse::<f64>()
        .ok()
        .filter(|f| f.is_finite())
        .map(|f| (f * 1000.0) as i64)
        .ok_or_else(|| invalid(format!("UPDATE_DATE value {v} is not a time in epoch seconds")))
}

impl m::Api for CloudMap {
    async fn create_http_namespace(
        &self,
        cx: &RequestContext,
        input: m::CreateHttpNamespaceRequest,
    ) -> Result<m::CreateHttpNamespaceResponse, ApiError> {
        let mut fp = input.clone();
        fp.creator_request_id = None;
        let op = self
            .create_namespace(
                cx,
                "CreateHttpNamespace",
                m::NamespaceType::Http,
                input.name,
                None,
                input.description,
                input.creator_request_id,
                tags_to_rec(&input.tags),
                None,
                format!("{fp:?}"),
            )
            .await?;
        Ok(m::CreateHttpNamespaceResponse { operation_id: Some(op) })
    }

    async fn create_private_dns_namespace(
        &self,
        cx: &RequestContext,
        input: m::CreatePrivateDnsNamespaceRequest,
    ) -> Result<m::CreatePrivateDnsNamespaceResponse, ApiError> {
        let mut fp = input.clone();
        fp.creator_request_id = None;
        let ttl = input.properties.as_ref().map(|p| p.dns_properties.soa.ttl);
        let op = self
            .create_namespace(
                cx,
                "CreatePrivateDnsNamespace",
                m::NamespaceType::DnsPrivate,
                input.name,
                Some(input.vpc),
                input.description,
                input.creator_request_id,
                tags_to_rec(&input.tags),
                ttl,
                format!("{fp:?}"),
            )
            .await?;
        Ok(m::CreatePrivateDnsNamespaceResponse { operation_id: Some(op) })
    }

    async fn create_public_dns_namespace(
        &self,
        cx: &RequestContext,
        input: m::CreatePublicDnsNamespaceRequest,
    ) -> Result<m::CreatePublicDnsNamespaceResponse, ApiError> {
        let mut fp = input.clone();
        fp.creator_request_id = None;
        let ttl = input.properties.as_ref().map(|p| p.dns_properties.soa.ttl);
        let op = self
            .create_namespace(
                cx,
                "CreatePublicDnsNamespace",
                m::NamespaceType::DnsPublic,
                input.name,
                None,
                input.description,
                input.creator_request_id,
                tags_to_rec(&input.tags),
                ttl,
                format!("{fp:?}"),
            )
            .await?;
        Ok(m::CreatePublicDnsNamespaceResponse { operation_id: Some(op) })
    }

    async fn create_service(
        &self,
        cx: &RequestContext,
        input: m::CreateServiceRequest,
    ) -> Result<m::CreateServiceResponse, ApiError> {
        let this = self.clone();
        let cx = cx.clone();
        let tags = tags_to_rec(&input.tags);
        self.check_tags(&input.name, &tags)?;
        self.engine
            .store()
            .write(move |tx| {
                let keys = Keys::new(&cx.account, &cx.region);
                let ns_ref =
                    match (&input.namespace_id, input.dns_config.as_ref().and_then(|d| d.namespace_id.as_ref())) {
                        (Some(a), Some(b)) if a != b => {
                            return Err(invalid("NamespaceId and DnsConfig.NamespaceId name different namespaces"))
                        }
                        (Some(a), _) => a.clone(),
                        (None, Some(b)) => b.clone(),
                        (None, None) => return Err(invalid("NamespaceId is required")),
                    };
                let Some(ns_id) = resolve_id(&cx, "namespace", &ns_ref)? else {
                    return Err(ns_not_found(&ns_ref));
                };
                let mut ns = Self::namespace(tx, &keys, &ns_id)?;
                check_service_definition(&ns, &input)?;
                let mut fp = input.clone();
                fp.creator_request_id = None;
                let fingerprint = format!("{fp:?}");
                let token_key = input.creator_request_id.as_ref().map(|t| keys.token("CreateService", t));
                if let Some(k) = &token_key {
                    if let Some(id) = Self::replay(tx, k, &fingerprint)? {
                        if let Some(s) = get_json::<ServiceRec>(tx, &keys.service(&id))? {
                            return Ok(m::CreateServiceResponse { service: Some(service_model(&s)) });
                        }
                    }
                }
                let name_key = keys.service_name(&ns.id, &service_name_key(&ns, &input.name));
                if let Some(other) = tx.get(&name_key)? {
                    let other = String::from_utf8_lossy(&other).into_owned();
                    let existing = Self::service(tx, &keys, &other)?;
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
                    arn: arn(&cx, "service", &id),
                    name: input.name.clone(),
                    namespace_id: ns.id.clone(),
                    description: input.description.clone(),
                    routing_policy: input
                        .dns_config
                        .as_ref()
                        .map(|d| d.routing_policy.unwrap_or(m::RoutingPolicy::Multivalue)),
                    dns_records: input.dns_config.as_ref().map(|d| {
                        d.dns_records.iter().map(|r| DnsRecordRec { record_type: r.type_, ttl: r.ttl }).collect()
                    }),
                    service_type: if input.dns_config.is_some() {
                        m::ServiceType::DnsHttp
                    } else {
                        m::ServiceType::Http
                    },
                    health_check: input.health_check_config.as_ref().map(health_check_rec),
                    custom_health: input.health_check_custom_config.is_some(),
                    create_date: this.engine.now_ms(),
                    creator_request_id: input.creator_request_id.clone(),
                    created_by: cx.account.clone(),
                    owner: ns.owner.clone(),
                    instance_count: 0,
                    revision: 1,
                    attributes: BTreeMap::new(),
                    instances_tag: 0,
                };
                put_json(tx, &keys.service(&id), &srv)?;
                tx.put(&name_key, id.as_bytes())?;
                ns.service_count += 1;
                put_json(tx, &keys.namespace(&ns.id), &ns)?;
                if !tags.is_empty() {
                    put_json(tx, &keys.tags(&srv.arn), &tags)?;
                }
                if let Some(k) = &token_key {
                    Self::remember(tx, k, &fingerprint, &id)?;
                }
                Ok(m::CreateServiceResponse { service: Some(service_model(&srv)) })
            })
            .await
    }

    async fn delete_namespace(
        &self,
        cx: &RequestContext,
        input: m::DeleteNamespaceRequest,
    ) -> Result<m::DeleteNamespaceResponse, ApiError> {
        let this = self.clone();
        let cx = cx.clone();
        self.engine
            .store()
            .write(move |tx| {
                let keys = Keys::new(&cx.account, &cx.region);
                let Some(id) = resolve_id(&cx, "namespace", &input.id)? else {
                    return Err(ns_not_found(&input.id));
                };
                let ns = Self::namespace(tx, &keys, &id)?;
                if ns.service_count > 0 {
                    return Err(ApiError::new(
                        &e::RESOURCE_IN_USE,
                        format!("Namespace {id} contains {} services; delete them first", ns.service_count),
                    ));
                }
                let busy = keys.busy(&format!("ns/{id}"));
                if let Some(other) = tx.get(&busy)? {
                    return Err(duplicate(&other, &format!("namespace {id}")));
                }
                let mut targets = BTreeMap::from([("NAMESPACE".to_string(), id.clone())]);
                if ns.ns_type != m::NamespaceType::Http {
                    targets.insert("ROUTE_53_CHANGE_ID".into(), new_change_id());
                }
                let change = Change::DeleteNamespace { namespace_id: id.clone() };
                let op = this.start_operation(
                    tx,
                    &cx,
                    m::OperationType::DeleteNamespace,
                    targets,
                    Some(id),
                    None,
                    change,
                    Some(busy),
                )?;
                Ok(m::DeleteNamespaceResponse { operation_id: Some(op) })
            })
            .await
    }

    async fn delete_service(
        &self,
        cx: &RequestContext,
        input: m::DeleteServiceRequest,
    ) -> Result<m::DeleteServiceResponse, ApiError> {
        let cx = cx.clone();
        self.engine
            .store()
            .write(move |tx| {
                let keys = Keys::new(&cx.account, &cx.region);
                let Some(id) = resolve_id(&cx, "service", &input.id)? else {
                    return Err(srv_not_found(&input.id));
                };
                let srv = Self::service(tx, &keys, &id)?;
                if srv.instance_count > 0 || !tx.scan(&keys.instances(&id), None, 1)?.is_empty() {
                    return Err(ApiError::new(
                        &e::RESOURCE_IN_USE,
                        format!(
                            "Service {id} still has {} registered instances; deregister them first",
                            srv.instance_count
                        ),
                    ));
                }
                if !tx.scan(&keys.busy(&format!("inst/{id}/")), None, 1)?.is_empty() {
                    return Err(ApiError::new(
                        &e::RESOURCE_IN_USE,
                        format!("Service {id} has instance operations in progress"),
                    ));
                }
                tx.delete(&keys.service(&id))?;
                tx.delete(&keys.tags(&srv.arn))?;
                if let Some(mut ns) = get_json::<NamespaceRec>(tx, &keys.namespace(&srv.namespace_id))? {
                    tx.delete(&keys.service_name(&ns.id, &service_name_key(&ns, &srv.name)))?;
                    ns.service_count = (ns.service_count - 1).max(0);
                    put_json(tx, &keys.namespace(&ns.id), &ns)?;
                }
                Ok(m::DeleteServiceResponse {})
            })
            .await
    }

    async fn delete_service_attributes(
        &self,
        cx: &RequestContext,
        input: m::DeleteServiceAttributesRequest,
    ) -> Result<m::DeleteServiceAttributesResponse, ApiError> {
        let cx = cx.clone();
        self.engine
            .store()
            .write(move |tx| {
                let keys = Keys::new(&cx.account, &cx.region);
                let Some(id) = resolve_id(&cx, "service", &input.service_id)? else {
                    return Err(srv_not_found(&input.service_id));
                };
                let mut srv = Self::service(tx, &keys, &id)?;
                for k in &input.attributes {
                    srv.attributes.remove(k);
                }
                put_json(tx, &keys.service(&id), &srv)?;
                Ok(m::DeleteServiceAttributesResponse {})
            })
            .await
    }

    async fn deregister_instance(
        &self,
        cx: &RequestContext,
        input: m::DeregisterInstanceRequest,
    ) -> Result<m::DeregisterInstanceResponse, ApiError> {
        let this = self.clone();
        let cx = cx.clone();
        self.engine
            .store()
            .write(move |tx| {
                let keys = Keys::new(&cx.account, &cx.region);
                let Some(srv_id) = resolve_id(&cx, "service", &input.service_id)? else {
                    return Err(srv_not_found(&input.service_id));
                };
                let srv = Self::service(tx, &keys, &srv_id)?;
                let busy = keys.busy(&format!("inst/{srv_id}/{}", input.instance_id));
                if let Some(other) = tx.get(&busy)? {
                    return Err(duplicate(&other, &format!("instance {}", input.instance_id)));
                }
                if tx.get(&keys.instance(&srv_id, &input.instance_id))?.is_none() {
                    return Err(inst_not_found(&srv_id, &input.instance_id));
                }
                let mut targets = BTreeMap::from([
                    ("INSTANCE".to_string(), input.instance_id.clone()),
                    ("SERVICE".to_string(), srv_id.clone()),
                ]);
                if srv.dns_records.is_some() {
                    targets.insert("ROUTE_53_CHANGE_ID".into(), new_change_id());
                }
                let change = Change::DeregisterInstance { service_id: srv_id.clone(), instance_id: input.instance_id };
                let op = this.start_operation(
                    tx,
                    &cx,
                    m::OperationType::DeregisterInstance,
                    targets,
                    Some(srv.namespace_id),
                    Some(srv_id),
                    change,
                    Some(busy),
                )?;
                Ok(m::DeregisterInstanceResponse { operation_id: Some(op) })
            })
            .await
    }

    async fn discover_instances(
        &self,
        cx: &RequestContext,
        input: m::DiscoverInstancesRequest,
    ) -> Result<m::DiscoverInstancesResponse, ApiError> {
        let (set, picked, revision) = self.discover(cx, input).await?;
        let instances = picked.iter().map(|&i| set.summary(i)).collect();
        Ok(m::DiscoverInstancesResponse { instances: Some(instances), instances_revision: Some(revision) })
    }

    async fn discover_instances_encoded(
        &self,
        cx: &RequestContext,
        input: m::DiscoverInstancesRequest,
        protocol: crate::wire::shape::Protocol,
    ) -> Result<Vec<u8>, ApiError> {
        let (set, picked, revision) = self.discover(cx, input).await?;
        Ok(set.response(&picked, revision, protocol))
    }

    async fn discover_instances_revision(
        &self,
        cx: &RequestContext,
        input: m::DiscoverInstancesRevisionRequest,
    ) -> Result<m::DiscoverInstancesRevisionResponse, ApiError> {
        let cx = cx.clone();
        let kept = self.targets.clone();
        self.engine
            .store()
            .read(move |tx| {
                let Some(keys) = Self::owner_scope(&cx, &input.owner_account) else {
                    return Err(ns_not_found(&input.namespace_name));
                };
                let (_, srv) = Self::discover_target(tx, &keys, &kept, &input.namespace_name, &input.service_name)?;
                Ok(m::DiscoverInstancesRevisionResponse { instances_revision: Some(srv.value.revision) })
            })
            .await
    }

    async fn get_instance(
        &self,
        cx: &RequestContext,
        input: m::GetInstanceRequest,
    ) -> Result<m::GetInstanceResponse, ApiError> {
        let cx = cx.clone();
        self.engine
            .store()
            .read(move |tx| {
                let keys = Keys::new(&cx.account, &cx.region);
                let Some(srv_id) = resolve_id(&cx, "service", &input.service_id)? else {
                    return Err(srv_not_found(&input.service_id));
                };
                let srv = Self::service(tx, &keys, &srv_id)?;
                let inst = get_json::<InstanceRec>(tx, &keys.instance(&srv_id, &input.instance_id))?
                    .ok_or_else(|| inst_not_found(&srv_id, &input.instance_id))?;
                Ok(m::GetInstanceResponse {
                    resource_owner: Some(srv.owner),
                    instance: Some(m::Instance {
                        id: inst.id,
                        creator_request_id: inst.creator_request_id,
                        attributes: Some(inst.attributes),
                        created_by_account: Some(inst.created_by),
                    }),
                })
            })
            .await
    }

    async fn get_instances_health_status(
        &self,
        cx: &RequestContext,
        input: m::GetInstancesHealthStatusRequest,
    ) -> Result<m::GetInstancesHealthStatusResponse, ApiError> {
        let cx = cx.clone();
        self.engine
            .store()
            .read(move |tx| {
                let keys = Keys::new(&cx.account, &cx.region);
                let Some(srv_id) = resolve_id(&cx, "service", &input.service_id)? else {
                    return Err(srv_not_found(&input.service_id));
                };
                let srv = Self::service(tx, &keys, &srv_id)?;
                let max = page_size(input.max_results, 100);
                let mut status = BTreeMap::new();
                let next_token = match &input.instances {
                    Some(ids) => {
                        let start = match decode_token(&input.next_token)? {
                            Some(s) => s.parse::<usize>().map_err(|_| invalid("The NextToken is not valid"))?,
                            None => 0,
                        };
                        for id in ids.iter().skip(start).take(max) {
                            let inst = get_json::<InstanceRec>(tx, &keys.instance(&srv_id, id))?
                                .ok_or_else(|| inst_not_found(&srv_id, id))?;
                            status.insert(id.clone(), reported_health(&srv, &inst));
                        }
                        (start + max < ids.len()).then(|| encode_token(&(start + max).to_string()))
                    }
                    None => {
                        let (items, token) =
                            page::<InstanceRec>(tx, &keys.instances(&srv_id), &input.next_token, max, |_, _| Ok(true))?;
                        for inst in items {
                            status.insert(inst.id.clone(), reported_health(&srv, &inst));
                        }
                        token
                    }
                };
                Ok(m::GetInstancesHealthStatusResponse { status: Some(status), next_token })
            })
            .await
    }

    async fn get_namespace(
        &self,
        cx: &RequestContext,
        input: m::GetNamespaceRequest,
    ) -> Result<m::GetNamespaceResponse, ApiError> {
        let cx = cx.clone();
        self.engine
            .store()
            .read(move |tx| {
                let keys = Keys::new(&cx.account, &cx.region);
                let Some(id) = resolve_id(&cx, "namespace", &input.id)? else {
                    return Err(ns_not_found(&input.id));
                };
                let ns = Self::namespace(tx, &keys, &id)?;
                Ok(m::GetNamespaceResponse { namespace: Some(namespace_model(&ns)) })
            })
            .await
    }

    async fn get_operation(
        &self,
        cx: &RequestContext,
        input: m::GetOperationRequest,
    ) -> Result<m::GetOperationResponse, ApiError> {
        let op = self.kept_operation(cx, input).await?;
        Ok(m::GetOperationResponse { operation: Some(op.value.rec.to_model()) })
    }

    async fn get_operation_encoded(
        &self,
        cx: &RequestContext,
        input: m::GetOperationRequest,
        protocol: crate::wire::shape::Protocol,
    ) -> Result<Vec<u8>, ApiError> {
        Ok(self.kept_operation(cx, input).await?.value.answer(protocol).to_vec())
    }

    async fn get_service(
        &self,
        cx: &RequestContext,
        input: m::GetServiceRequest,
    ) -> Result<m::GetServiceResponse, ApiError> {
        let cx = cx.clone();
        self.engine
            .store()
            .read(move |tx| {
                let keys = Keys::new(&cx.account, &cx.region);
                let Some(id) = resolve_id(&cx, "service", &input.id)? else {
                    return Err(srv_not_found(&input.id));
                };
                let srv = Self::service(tx, &keys, &id)?;
                Ok(m::GetServiceResponse { service: Some(service_model(&srv)) })
            })
            .await
    }

    async fn get_service_attributes(
        &self,
        cx: &RequestContext,
        input: m::GetServiceAttributesRequest,
    ) -> Result<m::GetServiceAttributesResponse, ApiError> {
        let cx = cx.clone();
        self.engine
            .store()
            .read(move |tx| {
                let keys = Keys::new(&cx.account, &cx.region);
                let Some(id) = resolve_id(&cx, "service", &input.service_id)? else {
                    return Err(srv_not_found(&input.service_id));
                };
                let srv = Self::service(tx, &keys, &id)?;
                Ok(m::GetServiceAttributesResponse {
                    service_attributes: Some(m::ServiceAttributes {
                        service_arn: Some(srv.arn),
                        resource_owner: Some(srv.owner),
                        attributes: Some(srv.attributes),
                    }),
                })
            })
            .await
    }

    async fn list_instances(
        &self,
        cx: &RequestContext,
        input: m::ListInstancesRequest,
    ) -> Result<m::ListInstancesResponse, ApiError> {
        let cx = cx.clone();
        let cache = self.instances.clone();
        self.engine
            .store()
            .read(move |tx| {
                let (set, range, next_token, owner) = Self::instances_page(tx, &cache, &cx, &input)?;
                Ok(m::ListInstancesResponse {
                    resource_owner: Some(owner),
                    instances: Some(range.map(|i| set.list_summary(i)).collect()),
                    next_token,
                })
            })
            .await
    }

    async fn list_instances_encoded(
        &self,
        cx: &RequestContext,
        input: m::ListInstancesRequest,
        protocol: crate::wire::shape::Protocol,
    ) -> Result<Vec<u8>, ApiError> {
        let cx = cx.clone();
        let cache = self.instances.clone();
        self.engine
            .store()
            .read(move |tx| {
                let (set, range, next_token, owner) = Self::instances_page(tx, &cache, &cx, &input)?;
                Ok(set.list_response(range, next_token.as_deref(), &owner, protocol))
            })
            .await
    }

    async fn list_namespaces(
        &self,
        cx: &RequestContext,
        input: m::ListNamespacesRequest,
    ) -> Result<m::ListNamespacesResponse, ApiError> {
        use m::FilterCondition as C;
        let cx = cx.clone();
        let mut filters = Vec::new();
        for f in input.filters.iter().flatten() {
            let allowed: &[C] = match f.name {
                m::NamespaceFilterName::ResourceOwner => &[C::Eq],
                _ => &[C::Eq, C::BeginsWith, C::In],
            };
            let (c, v) = filter_values(&f.values, f.condition, C::Eq, allowed, f.name.as_str())?;
            filters.push((f.name, c, v.to_vec()));
        }
        self.engine
            .store()
            .read(move |tx| {
                let keys = Keys::new(&cx.account, &cx.region);
                let max = page_size(input.max_results, 100);
                let (items, next_token) =
                    page::<NamespaceRec>(tx, &keys.namespaces(), &input.next_token, max, |_, ns| {
                        if ns.state != NamespaceState::Active {
                            return Ok(false);
                        }
                        Ok(filters.iter().all(|(name, c, v)| match name {
                            m::NamespaceFilterName::Type => matches_text(*c, v, ns.ns_type.as_str()),
                            m::NamespaceFilterName::Name => matches_text(*c, v, &ns.name),
                            m::NamespaceFilterName::HttpName => matches_text(*c, v, &ns.http_name),
                            m::NamespaceFilterName::ResourceOwner => v[0] == "SELF",
                        }))
                    })?;
                let namespaces = items
                    .iter()
                    .map(|ns| {
                        let n = namespace_model(ns);
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
                    })
                    .collect();
                Ok(m::ListNamespacesResponse { namespaces: Some(namespaces), next_token })
            })
            .await
    }

    async fn list_operations(
        &self,
        cx: &RequestContext,
        input: m::ListOperationsRequest,
    ) -> Result<m::ListOperationsResponse, ApiError> {
        use m::FilterCondition as C;
        let cx = cx.clone();
        enum F {
            Namespace(String),
            Service(String),
            Status(Vec<m::OperationStatus>),
            Type(Vec<m::OperationType>),
            Updated(i64, i64),
        }
        let mut filters = Vec::new();
        for f in input.filters.iter().flatten() {
            let name = f.name.as_str();
            filters.push(match f.name {
                m::OperationFilterName::NamespaceId => {
                    let (_, v) = filter_values(&f.values, f.condition, C::Eq, &[C::Eq], name)?;
                    F::Namespace(resolve_id(&cx, "namespace", &v[0])?.unwrap_or_default())
                }
                m::OperationFilterName::ServiceId => {
                    let (_, v) = filter_values(&f.values, f.condition, C::Eq, &[C::Eq], name)?;
                    F::Service(resolve_id(&cx, "service", &v[0])?.unwrap_or_default())
                }
                m::OperationFilterName::Status => {
                    let (_, v) = filter_values(&f.values, f.condition, C::Eq, &[C::Eq, C::In], name)?;
                    let mut out = Vec::new();
                    for s in v {
                        let s = if s == "SUCCEED" { "SUCCESS" } else { s.as_str() };
                        let Some(status) = m::OperationStatus::from_wire(s) else {
                            return Err(invalid(format!("{s} is not an operation status")));
                        };
                        out.push(status);
                    }
                    F::Status(out)
                }
                m::OperationFilterName::Type => {
                    let (_, v) = filter_values(&f.values, f.condition, C::Eq, &[C::Eq, C::In], name)?;
                    let mut out = Vec::new();
                    for t in v {
                        let Some(op_type) = m::OperationType::from_wire(t) else {
                            return Err(invalid(format!("{t} is not an operation type")));
                        };
                        out.push(op_type);
                    }
                    F::Type(out)
                }
                m::OperationFilterName::UpdateDate => {
                    let (_, v) = filter_values(&f.values, f.condition, C::Between, &[C::Between], name)?;
                    F::Updated(parse_epoch(&v[0])?, parse_epoch(&v[1])?)
                }
            });
        }
        let kept = self.operations.clone();
        self.engine
            .store()
            .read(move |tx| {
                let keys = Keys::new(&cx.account, &cx.region);
                let max = page_size(input.max_results, 100);
                let prefix = keys.operations_newest_first();
                let mut after = match decode_token(&input.next_token)? {
                    Some(k) if k.starts_with(&prefix) => Some(k),
                    Some(_) => return Err(invalid("The NextToken does not belong to this request")),
                    None => None,
                };
                let mut out = Vec::new();
                let mut next = None;
                // One row past a full page is enough to know there is a next page when nothing
                // is filtered out.
                let batch = (max + 1).min(256);
                'scan: loop {
                    let rows = tx.scan(&prefix, after.as_deref(), batch)?;
                    let exhausted = rows.len() < batch;
                    for (k, _) in rows {
                        let key = keys.operation(k.rsplit('/').next().unwrap_or_default());
                        // Decoded unless kept from an earlier read of the same bytes.
                        if let Some(entry) = kept.read(tx, &key, |raw| discover::KeptOperation::decode(&key, raw))? {
                            let op = &entry.value.rec;
                            let keep = filters.iter().all(|f| match f {
                                F::Namespace(n) => op.namespace_id.as_deref() == Some(n.as_str()),
                                F::Service(s) => op.service_id.as_deref() == Some(s.as_str()),
                                F::Status(v) => v.contains(&op.status),
                                F::Type(v) => v.contains(&op.op_type),
                                F::Updated(a, b) => op.update_date >= *a && op.update_date <= *b,
                            });
                            if keep {
                                if out.len() == max {
                                    next = after.clone().map(|a| encode_token(&a));
                                    break 'scan;
                                }
                                out.push(m::OperationSummary { id: Some(op.id.clone()), status: Some(op.status) });
                            }
                        }
                        after = Some(k);
                    }
                    if exhausted {
                        break;
                    }
                }
                Ok(m::ListOperationsResponse { operations: Some(out), next_token: next })
            })
            .await
    }

    async fn list_services(
        &self,
        cx: &RequestContext,
        input: m::ListServicesRequest,
    ) -> Result<m::ListServicesResponse, ApiError> {
        use m::FilterCondition as C;
        let cx = cx.clone();
        let mut namespace = None;
        let mut others_only = false;
        for f in input.filters.iter().flatten() {
            let (_, v) = filter_values(&f.values, f.condition, C::Eq, &[C::Eq], f.name.as_str())?;
            match f.name {
                m::ServiceFilterName::NamespaceId => {
                    namespace = Some(resolve_id(&cx, "namespace", &v[0])?.unwrap_or_default())
                }
                m::ServiceFilterName::ResourceOwner => others_only = v[0] == "OTHER_ACCOUNTS",
            }
        }
        self.engine
            .store()
            .read(move |tx| {
                let keys = Keys::new(&cx.account, &cx.region);
                let max = page_size(input.max_results, 100);
                let (items, next_token) = page::<ServiceRec>(tx, &keys.services(), &input.next_token, max, |_, s| {
                    Ok(!others_only && namespace.as_ref().is_none_or(|n| *n == s.namespace_id))
                })?;
                Ok(m::ListServicesResponse { services: Some(items.iter().map(service_summary).collect()), next_token })
            })
            .await
    }

    async fn list_tags_for_resource(
        &self,
        cx: &RequestContext,
        input: m::ListTagsForResourceRequest,
    ) -> Result<m::ListTagsForResourceResponse, ApiError> {
        let cx = cx.clone();
        self.engine
            .store()
            .read(move |tx| {
                let keys = Keys::new(&cx.account, &cx.region);
                tagged_resource_exists(tx, &cx, &keys, &input.resource_arn)?;
                let tags: Vec<(String, String)> = get_json(tx, &keys.tags(&input.resource_arn))?.unwrap_or_default();
                Ok(m::ListTagsForResourceResponse {
                    tags: Some(tags.into_iter().map(|(key, value)| m::Tag { key, value }).collect()),
                })
            })
            .await
    }

    async fn register_instance(
        &self,
        cx: &RequestContext,
        input: m::RegisterInstanceRequest,
    ) -> Result<m::RegisterInstanceResponse, ApiError> {
        let this = self.clone();
        let cx = cx.clone();
        self.engine
            .store()
            .write(move |tx| {
                let keys = Keys::new(&cx.account, &cx.region);
                let Some(srv_id) = resolve_id(&cx, "service", &input.service_id)? else {
                    return Err(srv_not_found(&input.service_id));
                };
                let srv = Self::service(tx, &keys, &srv_id)?;
                let mut fp = input.clone();
                fp.creator_request_id = None;
                fp.service_id = srv_id.clone();
                let fingerprint = format!("{fp:?}");
                let token_key = input.creator_request_id.as_ref().map(|t| keys.token("RegisterInstance", t));
                if let Some(k) = &token_key {
                    if let Some(op) = Self::replay(tx, k, &fingerprint)? {
                        return Ok(m::RegisterInstanceResponse { operation_id: Some(op) });
                    }
                }
                check_attributes(&srv, &input.attributes, &this.quotas)?;
                let busy = keys.busy(&format!("inst/{srv_id}/{}", input.instance_id));
                if let Some(other) = tx.get(&busy)? {
                    return Err(duplicate(&other, &format!("instance {}", input.instance_id)));
                }
                let exists = tx.get(&keys.instance(&srv_id, &input.instance_id))?.is_some();
                if !exists && srv.instance_count >= this.quotas.instances_per_service {
                    return Err(ApiError::new(
                        &e::RESOURCE_LIMIT_EXCEEDED,
                        format!("Service {srv_id} already has {} instances", this.quotas.instances_per_service),
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
                    // A new (or re-created) Route 53 check has no data yet: UNKNOWN until the health
                    // prober's first verdict (DNS meanwhile treats the instance as healthy).
                    m::HealthStatus::Unknown
                };
                let instance = InstanceRec {
                    id: input.instance_id.clone(),
                    service_id: srv_id.clone(),
                    creator_request_id: input.creator_request_id.clone(),
                    attributes: input.attributes.clone(),
                    created_by: cx.account.clone(),
                    health,
                };
                let mut targets = BTreeMap::from([
                    ("INSTANCE".to_string(), input.instance_id.clone()),
                    ("SERVICE".to_string(), srv_id.clone()),
                ]);
                if srv.dns_records.is_some() {
                    targets.insert("ROUTE_53_CHANGE_ID".into(), new_change_id());
                }
                let change = Change::RegisterInstance { instance };
                let op = this.start_operation(
                    tx,
                    &cx,
                    m::OperationType::RegisterInstance,
                    targets,
                    Some(srv.namespace_id),
                    Some(srv_id),
                    change,
                    Some(busy),
                )?;
                if let Some(k) = &token_key {
                    Self::remember(tx, k, &fingerprint, &op)?;
                }
                Ok(m::RegisterInstanceResponse { operation_id: Some(op) })
            })
            .await
    }

    async fn tag_resource(
        &self,
        cx: &RequestContext,
        input: m::TagResourceRequest,
    ) -> Result<m::TagResourceResponse, ApiError> {
        let this = self.clone();
        let cx = cx.clone();
        self.engine
            .store()
            .write(move |tx| {
                let keys = Keys::new(&cx.account, &cx.region);
                tagged_resource_exists(tx, &cx, &keys, &input.resource_arn)?;
                let key = keys.tags(&input.resource_arn);
                let mut tags: Vec<(String, String)> = get_json(tx, &key)?.unwrap_or_default();
                for t in &input.tags {
                    match tags.iter_mut().find(|(k, _)| *k == t.key) {
                        Some(existing) => existing.1 = t.value.clone(),
                        None => tags.push((t.key.clone(), t.value.clone())),
                    }
                }
                this.check_tags(&input.resource_arn, &tags)?;
                put_json(tx, &key, &tags)?;
                Ok(m::TagResourceResponse {})
            })
            .await
    }

    async fn untag_resource(
        &self,
        cx: &RequestContext,
        input: m::UntagResourceRequest,
    ) -> Result<m::UntagResourceResponse, ApiError> {
        let cx = cx.clone();
        self.engine
            .store()
            .write(move |tx| {
                let keys = Keys::new(&cx.account, &cx.region);
                tagged_resource_exists(tx, &cx, &keys, &input.resource_arn)?;
                let key = keys.tags(&input.resource_arn);
                let mut tags: Vec<(String, String)> = get_json(tx, &key)?.unwrap_or_default();
                tags.retain(|(k, _)| !input.tag_keys.contains(k));
                put_json(tx, &key, &tags)?;
                Ok(m::UntagResourceResponse {})
            })
            .await
    }

    async fn update_http_namespace(
        &self,
        cx: &RequestContext,
        input: m::UpdateHttpNamespaceRequest,
    ) -> Result<m::UpdateHttpNamespaceResponse, ApiError> {
        let mut fp = input.clone();
        fp.updater_request_id = None;
        let op = self
            .update_namespace(
                cx,
                input.id,
                m::NamespaceType::Http,
                Some(input.namespace.description),
                None,
                input.updater_request_id,
                format!("{fp:?}"),
            )
            .await?;
        Ok(m::UpdateHttpNamespaceResponse { operation_id: Some(op) })
    }

    async fn update_instance_custom_health_status(
        &self,
        cx: &RequestContext,
        input: m::UpdateInstanceCustomHealthStatusRequest,
    ) -> Result<(), ApiError> {
        let cx = cx.clone();
        self.engine
            .store()
            .write(move |tx| {
                let keys = Keys::new(&cx.account, &cx.region);
                let Some(srv_id) = resolve_id(&cx, "service", &input.service_id)? else {
                    return Err(srv_not_found(&input.service_id));
                };
                let mut srv = Self::service(tx, &keys, &srv_id)?;
                let ik = keys.instance(&srv_id, &input.instance_id);
                let mut inst =
                    get_json::<InstanceRec>(tx, &ik)?.ok_or_else(|| inst_not_found(&srv_id, &input.instance_id))?;
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
                put_json(tx, &ik, &inst)?;
                srv.instances_changed();
                put_json(tx, &keys.service(&srv_id), &srv)?;
                Ok(())
            })
            .await
    }

    async fn update_private_dns_namespace(
        &self,
        cx: &RequestContext,
        input: m::UpdatePrivateDnsNamespaceRequest,
    ) -> Result<m::UpdatePrivateDnsNamespaceResponse, ApiError> {
        let mut fp = input.clone();
        fp.updater_request_id = None;
        let ttl = input.namespace.properties.as_ref().map(|p| p.dns_properties.soa.ttl);
        let op = self
            .update_namespace(
                cx,
                input.id,
                m::NamespaceType::DnsPrivate,
                input.namespace.description,
                ttl,
                input.updater_request_id,
                format!("{fp:?}"),
            )
            .await?;
        Ok(m::UpdatePrivateDnsNamespaceResponse { operation_id: Some(op) })
    }

    async fn update_public_dns_namespace(
        &self,
        cx: &RequestContext,
        input: m::UpdatePublicDnsNamespaceRequest,
    ) -> Result<m::UpdatePublicDnsNamespaceResponse, ApiError> {
        let mut fp = input.clone();
        fp.updater_request_id = None;
        let ttl = input.namespace.properties.as_ref().map(|p| p.dns_properties.soa.ttl);
        let op = self
            .update_namespace(
                cx,
                input.id,
                m::NamespaceType::DnsPublic,
                input.namespace.description,
                ttl,
                input.updater_request_id,
                format!("{fp:?}"),
            )
            .await?;
        Ok(m::UpdatePublicDnsNamespaceResponse { operation_id: Some(op) })
    }

    async fn update_service(
        &self,
        cx: &RequestContext,
        input: m::UpdateServiceRequest,
    ) -> Result<m::UpdateServiceResponse, ApiError> {
        let this = self.clone();
        let cx = cx.clone();
        self.engine
            .store()
            .write(move |tx| {
                let keys = Keys::new(&cx.account, &cx.region);
                let Some(id) = resolve_id(&cx, "service", &input.id)? else { return Err(srv_not_found(&input.id)) };
                let srv = Self::service(tx, &keys, &id)?;
                let ns = get_json::<NamespaceRec>(tx, &keys.namespace(&srv.namespace_id))?
                    .ok_or_else(|| srv_not_found(&id))?;
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
                        let mut old: Vec<&str> =
                            srv.dns_records.iter().flatten().map(|r| r.record_type.as_str()).collect();
                        new.sort_unstable();
                        old.sort_unstable();
                        if new != old {
                            return Err(invalid(format!(
                                "The record types of service {id} are [{}] and cannot change; only their TTLs can",
                                old.join(", ")
                            )));
                        }
                        Some(
                            change
                                .dns_records
                                .iter()
                                .map(|r| DnsRecordRec { record_type: r.type_, ttl: r.ttl })
                                .collect(),
                        )
                    }
                    None => None,
                };
                if let Some(h) = &input.service.health_check_config {
                    if srv.custom_health {
                        return Err(invalid("A service with HealthCheckCustomConfig cannot get a HealthCheckConfig"));
                    }
                    if ns.ns_type == m::NamespaceType::DnsPrivate {
                        return Err(invalid(
                            "HealthCheckConfig is not supported for services in private DNS namespaces",
                        ));
                    }
                    if srv.dns_records.iter().flatten().any(|r| r.record_type == m::RecordType::Cname) {
                        return Err(invalid("A service with a CNAME record cannot have a HealthCheckConfig"));
                    }
                    check_health_check(h)?;
                }
                let busy = keys.busy(&format!("srv/{id}"));
                if let Some(other) = tx.get(&busy)? {
                    return Err(duplicate(&other, &format!("service {id}")));
                }
                let targets = BTreeMap::from([("SERVICE".to_string(), id.clone())]);
                let change = Change::UpdateService {
                    service_id: id.clone(),
                    description: input.service.description.clone(),
                    dns_records,
                    health_check: input.service.health_check_config.as_ref().map(health_check_rec),
                };
                let op = this.start_operation(
                    tx,
                    &cx,
                    m::OperationType::UpdateService,
                    targets,
                    Some(ns.id),
                    Some(id),
                    change,
                    Some(busy),
                )?;
                Ok(m::UpdateServiceResponse { operation_id: Some(op) })
            })
            .await
    }

    async fn update_service_attributes(
        &self,
        cx: &RequestContext,
        input: m::UpdateServiceAttributesRequest,
    ) -> Result<m::UpdateServiceAttributesResponse, ApiError> {
        let this = self.clone();
        let cx = cx.clone();
        self.engine
            .store()
            .write(move |tx| {
                let keys = Keys::new(&cx.account, &cx.region);
                let Some(id) = resolve_id(&cx, "service", &input.service_id)? else {
                    return Err(srv_not_found(&input.service_id));
                };
                let mut srv = Self::service(tx, &keys, &id)?;
                srv.attributes.extend(input.attributes);
                if srv.attributes.len() > this.quotas.attributes_per_service {
                    return Err(ApiError::new(
                        &e::SERVICE_ATTRIBUTES_LIMIT_EXCEEDED_EXCEPTION,
                        format!(
                            "Service {id} would have {} attributes; the limit is {}",
                            srv.attributes.len(),
                            this.quotas.attributes_per_service
                        ),
                    ));
                }
                put_json(tx, &keys.service(&id), &srv)?;
                Ok(m::UpdateServiceAttributesResponse {})
            })
            .await
    }
}

/// Tags exist only on namespaces and services addressed by ARN.
fn tagged_resource_exists(tx: &mut dyn Tx, cx: &RequestContext, keys: &Keys, arn: &str) -> Result<(), ApiError> {
    let not_found = || ApiError::new(&e::RESOURCE_NOT_FOUND_EXCEPTION, format!("Resource not found: {arn}"));
    let rest = arn
        .strip_prefix("arn:")
        .and_then(|r| r.split(':').nth(4))
        .ok_or_else(|| invalid(format!("{arn} is not a Cloud Map resource ARN")))?;
    let kind = rest.split('/').next().unwrap_or_default();
    if kind != "namespace" && kind != "service" {
        return Err(invalid(format!("{arn} is not a Cloud Map namespace or service ARN")));
    }
    let Some(id) = resolve_id(cx, kind, arn)? else {
        return Err(not_found());
    };
    let exists = if kind == "namespace" {
        matches!(get_json::<NamespaceRec>(tx, &keys.namespace(&id))?, Some(ns) if ns.state == NamespaceState::Active)
    } else {
        tx.get(&keys.service(&id))?.is_some()
    };
    if exists {
        Ok(())
    } else {
        Err(not_found())
    }
}

/// Cloud Map as it registers with the service registry.
pub static REGISTRATION: crate::registry::Registration = crate::registry::Registration {
    service: SERVICE,
    key_prefix: records::KEY_PREFIX,
    check_fault_rule: crate::registry::any_fault_rule,
    check_document: records::check_document,
    start: |engine| {
        let backend = Arc::new(CloudMap::new(engine.clone(), Quotas::default()));
        (backend, Arc::new(driver::CloudMapDriver))
    },
};

impl crate::registry::ServiceBackend for CloudMap {
    fn dispatch<'a>(
        &'a self,
        cx: &'a RequestContext,
        operation: &'static crate::wire::shape::OperationInfo,
        input: &'a crate::wire::shape::Json,
    ) -> crate::registry::Answer<'a> {
        Box::pin(async move {
            let op =
                m::Operation::from_name(operation.name).ok_or_else(|| ApiError::unknown_operation(operation.name))?;
            m::dispatch(self, cx, op, input, cx.protocol).await
        })
    }

    fn forget_cached(&self) {
        CloudMap::forget_cached(self);
    }
}
