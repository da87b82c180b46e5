//! What every Cloud Map operation works with: a [`Scope`] (the request's store transaction, its
//! account and region's keys, the quotas, the engine and the caches) and the rules several resources
//! share: id and ARN resolution, loading a resource or its not-found error, CreatorRequestId
//! idempotency, starting an asynchronous operation, tags, filters and paging tokens.

use super::cache::Caches;
use super::driver;
use super::records::*;
use crate::engine::{Engine, TimingProfile};
use crate::model::servicediscovery::{self as m, errors as e};
use crate::paging::BadToken;
use crate::store::{get_json, put_json, Tx};
use crate::tags::{TagProblem, Tags};
use crate::wire::shape::{ApiError, ErrorShape, RequestContext};
use std::collections::BTreeMap;

/// Quotas of one account and region (AWS defaults).
#[derive(Debug, Clone)]
pub struct Quotas {
    /// Namespaces per account and region.
    pub namespaces: usize,
    /// Instances per service.
    pub instances_per_service: i32,
    /// Tags per namespace or service.
    pub tags_per_resource: usize,
    /// Attributes not starting with `AWS_` per instance.
    pub custom_attributes_per_instance: usize,
    /// Service attributes per service.
    pub attributes_per_service: usize,
}

impl Quotas {
    /// The Cloud Map quotas of the server's configuration (`[quotas]`, `--quota`).
    pub fn from_config(q: &crate::quotas::Quotas) -> Quotas {
        let n = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
        Quotas {
            namespaces: n(q.namespaces_per_region),
            instances_per_service: i32::try_from(q.instances_per_service).unwrap_or(i32::MAX),
            tags_per_resource: n(q.tags_per_resource),
            custom_attributes_per_instance: n(q.custom_attributes_per_instance),
            attributes_per_service: n(q.attributes_per_service),
        }
    }
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

/// One request's unit of work: everything an operation reads and writes goes through it, in one
/// store transaction.
pub struct Scope<'a> {
    /// The transaction.
    pub tx: &'a mut dyn Tx,
    /// The account whose key space `keys` is: the caller's, or the owner's of a namespace shared
    /// with the caller once a request has addressed it by ARN ([`Scope::enter`]).
    pub partition: String,
    /// The key space of `partition` in the caller's region.
    pub keys: Keys,
    /// The caller.
    pub cx: &'a RequestContext,
    /// The quotas.
    pub quotas: &'a Quotas,
    /// The operation engine (clock, timing, faults, scheduling).
    pub engine: &'a Engine,
    /// What is kept decoded in memory.
    pub cache: &'a Caches,
}

/// `InvalidInput` with `msg`.
pub fn invalid(msg: impl Into<String>) -> ApiError {
    ApiError::new(&e::INVALID_INPUT, msg)
}

/// `OperationNotFound` for operation `id`.
pub fn op_not_found(id: &str) -> ApiError {
    ApiError::new(&e::OPERATION_NOT_FOUND, format!("No operation found with ID {id}"))
}

/// `NamespaceNotFound` for namespace `id` (or name).
pub fn ns_not_found(id: &str) -> ApiError {
    ApiError::new(&e::NAMESPACE_NOT_FOUND, format!("Namespace not found: {id}"))
}

/// `ServiceNotFound` for service `id` (or name).
pub fn srv_not_found(id: &str) -> ApiError {
    ApiError::new(&e::SERVICE_NOT_FOUND, format!("Service not found: {id}"))
}

/// `InstanceNotFound` for instance `id` of service `srv`.
pub fn inst_not_found(srv: &str, id: &str) -> ApiError {
    ApiError::new(&e::INSTANCE_NOT_FOUND, format!("Instance not found: {id} in service {srv}"))
}

/// `DuplicateRequest`: operation `op` (the stored busy marker) is still changing `what`.
pub fn duplicate(op: &[u8], what: &str) -> ApiError {
    let op = String::from_utf8_lossy(op).into_owned();
    ApiError::new(
        &e::DUPLICATE_REQUEST,
        format!("Operation {op} on {what} is still in progress; wait for it to finish"),
    )
    .with("DuplicateOperationId", op)
}

/// `AccessDeniedException`: the caller may not do this to a resource of another account. The model
/// declares no such error; AWS's IAM answers it (with HTTP 400 here, as the reference chose).
pub static ACCESS_DENIED: ErrorShape =
    ErrorShape { name: "AccessDeniedException", status: 400, server_fault: false, members: &["Message"] };

/// Where an id or ARN of a namespace or service points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Addr {
    /// The caller's own resource `id` (a bare id, or an ARN of the caller's account).
    Own(String),
    /// Resource `id` of account `owner` (an ARN of another account in the caller's region).
    Other {
        /// The account in the ARN.
        owner: String,
        /// The id in the ARN.
        id: String,
        /// The ARN as given.
        arn: String,
    },
    /// An ARN of another region: nothing there is visible from this one.
    Elsewhere,
}

impl Addr {
    /// The id, whoever owns it (ids are unique across accounts); None for another region.
    pub fn id(&self) -> Option<&str> {
        match self {
            Addr::Own(id) | Addr::Other { id, .. } => Some(id),
            Addr::Elsewhere => None,
        }
    }
}

/// Reads an id or an ARN of `kind` (`namespace`/`service`).
pub fn address(cx: &RequestContext, kind: &str, value: &str) -> Result<Addr, ApiError> {
    let Some(rest) = value.strip_prefix("arn:") else {
        return Ok(Addr::Own(value.to_string()));
    };
    let parts: Vec<&str> = rest.splitn(5, ':').collect();
    if parts.len() != 5 || parts[1] != "servicediscovery" {
        return Err(invalid(format!("{value} is not a Cloud Map {kind} ARN")));
    }
    let Some(id) = parts[4].strip_prefix(&format!("{kind}/")) else {
        return Err(invalid(format!("{value} is not a Cloud Map {kind} ARN")));
    };
    Ok(if parts[2] != cx.region {
        Addr::Elsewhere
    } else if parts[3] == cx.account {
        Addr::Own(id.to_string())
    } else {
        Addr::Other { owner: parts[3].to_string(), id: id.to_string(), arn: value.to_string() }
    })
}

/// The ARN of resource `id` of `kind` of `account` in `region`.
pub fn arn_of(region: &str, account: &str, kind: &str, id: &str) -> String {
    format!("arn:aws:servicediscovery:{region}:{account}:{kind}/{id}")
}

/// The active namespace `id` of the key space `keys`, or `NamespaceNotFound`.
pub fn active_namespace(tx: &mut dyn Tx, keys: &Keys, id: &str) -> Result<NamespaceRec, ApiError> {
    match get_json::<NamespaceRec>(tx, &keys.namespace(id))? {
        Some(ns) if ns.state == NamespaceState::Active => Ok(ns),
        _ => Err(ns_not_found(id)),
    }
}

/// DNS namespaces compare service names case-insensitively (they are DNS names); HTTP ones exactly.
pub fn service_name_key(ns: &NamespaceRec, name: &str) -> String {
    if ns.ns_type == m::NamespaceType::Http {
        name.to_string()
    } else {
        name.to_ascii_lowercase()
    }
}

/// The tags of a create request, in the order given.
pub fn tags_of(tags: &Option<Vec<m::Tag>>) -> Tags {
    Tags::from_pairs(tags.iter().flatten().map(|t| (t.key.clone(), t.value.clone())))
}

/// The page size a request asks for (the model's validation bounds `MaxResults`).
pub fn page_size(max: Option<i32>) -> usize {
    crate::paging::page_size(max, 100, usize::MAX)
}

/// The store key a `NextToken` continues after; it must lie under `prefix`.
pub fn token_key(token: &Option<String>, prefix: &str) -> Result<Option<String>, ApiError> {
    let Some(token) = token else { return Ok(None) };
    match crate::paging::key_of(token, prefix) {
        Ok(key) => Ok(Some(key)),
        Err(BadToken::Unreadable) => {
            Err(invalid("The NextToken is not valid; pass the value from the previous response"))
        }
        Err(BadToken::OtherList) => Err(invalid("The NextToken does not belong to this request")),
    }
}

/// Checks a list filter's condition and number of values; returns the condition.
pub fn filter_values<'v>(
    values: &'v [String],
    condition: Option<m::FilterCondition>,
    default: m::FilterCondition,
    allowed: &[m::FilterCondition],
    name: &str,
) -> Result<(m::FilterCondition, &'v [String]), ApiError> {
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

/// Whether `actual` passes a text filter (`EQ`, `IN` or `BEGINS_WITH`).
pub fn matches_text(c: m::FilterCondition, values: &[String], actual: &str) -> bool {
    match c {
        m::FilterCondition::BeginsWith => actual.starts_with(values[0].as_str()),
        _ => values.iter().any(|v| v == actual),
    }
}

/// Pages one list made of the caller's own rows (a scan of `prefix`, kept or not by `keep`) followed
/// by items of namespaces other accounts share with it (`shared`: `("{owner}/{id}", item)` pairs in
/// that order), which list as if keyed `{prefix}~{owner}/{id}` — after every own key, so that one
/// `NextToken` form serves both. `own` false lists the shared items only.
pub fn page_own_then_shared<T>(
    tx: &mut dyn Tx,
    prefix: &str,
    after: Option<String>,
    max: usize,
    own: bool,
    mut keep: impl FnMut(&mut dyn Tx, &str, &[u8]) -> Result<Option<T>, ApiError>,
    shared: impl FnOnce(&mut dyn Tx) -> Result<Vec<(String, T)>, ApiError>,
) -> Result<(Vec<T>, Option<String>), ApiError> {
    let shared_start = format!("{prefix}~");
    let mut out = Vec::new();
    let mut last: Option<String> = None;
    if own && after.as_deref().is_none_or(|a| a < shared_start.as_str()) {
        let (items, next) = crate::paging::page(tx, prefix, after.clone(), max, |tx, k, v| {
            let item = keep(tx, k, v)?;
            if item.is_some() {
                last = Some(k.to_string());
            }
            Ok::<_, ApiError>(item)
        })?;
        if next.is_some() {
            return Ok((items, next));
        }
        out = items;
    }
    for (suffix, item) in shared(tx)? {
        let key = format!("{shared_start}{suffix}");
        if after.as_deref().is_some_and(|a| key.as_str() <= a) {
            continue;
        }
        if out.len() == max {
            return Ok((out, last.map(|k| crate::paging::token_after(&k))));
        }
        out.push(item);
        last = Some(key);
    }
    Ok((out, None))
}

/// Which sides of a list a `RESOURCE_OWNER` filter value keeps: (the caller's own, shared with it).
/// `SELF` the own, `OTHER_ACCOUNTS` the shared, anything else neither.
pub fn resource_owner_sides(value: &str) -> (bool, bool) {
    match value {
        "SELF" => (true, false),
        "OTHER_ACCOUNTS" => (false, true),
        _ => (false, false),
    }
}

/// The namespaces other accounts share with the caller now, as (owner, namespace id), by owner
/// then id.
pub fn shared_namespaces(tx: &mut dyn Tx, cx: &RequestContext) -> Result<Vec<(String, String)>, ApiError> {
    let mut out = Vec::new();
    for grant in crate::ram::grants::shared_with(tx, &cx.region, &cx.account)? {
        if let Ok(Addr::Other { owner, id, .. }) = address(cx, "namespace", &grant.resource_arn) {
            out.push((owner, id));
        }
    }
    out.sort();
    Ok(out)
}

/// An operation to start: what it is, what it targets and the change it applies when it succeeds.
pub struct NewOperation {
    /// Its type.
    pub op_type: m::OperationType,
    /// Its `Targets`.
    pub targets: BTreeMap<String, String>,
    /// The namespace it concerns (ListOperations filters, fault rules).
    pub namespace_id: Option<String>,
    /// The service it concerns (ListOperations filters, fault rules).
    pub service_id: Option<String>,
    /// The change.
    pub change: Change,
    /// The in-flight marker it holds until it ends, so that a second change of the same resource
    /// is refused meanwhile.
    pub busy_key: Option<String>,
    /// The record of the service it concerns as the request read it, unchanged since (an instant
    /// operation then does not read it again).
    pub service: Option<ServiceRec>,
}

/// A CreatorRequestId (or UpdaterRequestId) and the request it came with.
pub struct RequestToken {
    key: Option<String>,
    fingerprint: String,
}

impl<'a> Scope<'a> {
    /// A scope over `tx` for the caller `cx`.
    pub fn new(
        tx: &'a mut dyn Tx,
        cx: &'a RequestContext,
        quotas: &'a Quotas,
        engine: &'a Engine,
        cache: &'a Caches,
    ) -> Scope<'a> {
        Scope { tx, partition: cx.account.clone(), keys: Keys::new(&cx.account, &cx.region), cx, quotas, engine, cache }
    }

    /// Works in `owner`'s key space from now on (a namespace `owner` shares with the caller).
    pub fn enter(&mut self, owner: &str) {
        self.partition = owner.to_string();
        self.keys = Keys::new(owner, &self.cx.region);
    }

    /// Whether the request works in a namespace another account shares with the caller.
    pub fn is_consumer(&self) -> bool {
        self.partition != self.cx.account
    }

    /// `AccessDeniedException` for `action` on `arn`, in IAM's words.
    pub fn denied(&self, action: &str, arn: &str) -> ApiError {
        ApiError::new(
            &ACCESS_DENIED,
            format!(
                "User: arn:aws:iam::{}:root is not authorized to perform: servicediscovery:{action} on resource: {arn} \
                 because no resource-based policy allows the servicediscovery:{action} action",
                self.cx.account
            ),
        )
    }

    /// Refuses `action` on `arn` to a consumer: only the namespace's owner may do it.
    pub fn only_owner(&self, action: &str, arn: &str) -> Result<(), ApiError> {
        if self.is_consumer() {
            return Err(self.denied(action, arn));
        }
        Ok(())
    }

    /// Refuses `action` on `arn` to a consumer that did not create (or register) it.
    pub fn only_owner_or(&self, creator: &str, action: &str, arn: &str) -> Result<(), ApiError> {
        if self.is_consumer() && creator != self.cx.account {
            return Err(self.denied(action, arn));
        }
        Ok(())
    }

    /// Whether `owner`'s namespace `ns_id` is the caller's or shared with it now.
    pub fn may_use_namespace(&mut self, owner: &str, ns_id: &str) -> Result<bool, ApiError> {
        let arn = arn_of(&self.cx.region, owner, "namespace", ns_id);
        Ok(crate::ram::grants::may_use(self.tx, &self.cx.region, owner, &self.cx.account, &arn)?)
    }

    /// Works in the key space of `owner_account` (an `OwnerAccount` parameter) when it names
    /// another account; what is found there must still pass the share check of the caller.
    pub fn enter_owner_account(&mut self, owner_account: &Option<String>) {
        if let Some(owner) = owner_account {
            if *owner != self.cx.account {
                self.enter(&owner.clone());
            }
        }
    }

    /// The ARN of resource `id` of `kind` in the scope's key space (the owner's account).
    pub fn arn(&self, kind: &str, id: &str) -> String {
        arn_of(&self.cx.region, &self.partition, kind, id)
    }

    /// The namespace id an id or ARN names, for `action`. A bare id names the caller's own; an ARN of
    /// another account names that account's namespace, which must be shared with the caller now
    /// (the scope then works in the owner's key space), else `AccessDeniedException`.
    pub fn namespace_id(&mut self, value: &str, action: &str) -> Result<String, ApiError> {
        match address(self.cx, "namespace", value)? {
            Addr::Own(id) => Ok(id),
            Addr::Elsewhere => Err(ns_not_found(value)),
            Addr::Other { owner, id, arn } => {
                if !self.may_use_namespace(&owner, &id)? {
                    return Err(self.denied(action, &arn));
                }
                self.enter(&owner);
                Ok(id)
            }
        }
    }

    /// The service id an id or ARN names, for `action`: as [`Scope::namespace_id`], the service's
    /// namespace being the one that must be shared.
    pub fn service_id(&mut self, value: &str, action: &str) -> Result<String, ApiError> {
        match address(self.cx, "service", value)? {
            Addr::Own(id) => Ok(id),
            Addr::Elsewhere => Err(srv_not_found(value)),
            Addr::Other { owner, id, arn } => {
                let srv = get_json::<ServiceRec>(self.tx, &Keys::new(&owner, &self.cx.region).service(&id))?;
                match srv {
                    Some(srv) if self.may_use_namespace(&owner, &srv.namespace_id)? => {
                        self.enter(&owner);
                        Ok(id)
                    }
                    _ => Err(self.denied(action, &arn)),
                }
            }
        }
    }

    /// The active namespace `id`, or `NamespaceNotFound`.
    pub fn namespace(&mut self, id: &str) -> Result<NamespaceRec, ApiError> {
        active_namespace(self.tx, &self.keys, id)
    }

    /// The service `id`, or `ServiceNotFound`.
    pub fn service(&mut self, id: &str) -> Result<ServiceRec, ApiError> {
        // Kept decoded between requests (a registration's change keeps the service it wrote).
        let kept = self.cache.service(self.tx, &self.keys.service(id))?;
        kept.map(|e| e.value.clone()).ok_or_else(|| srv_not_found(id))
    }

    /// The instance `id` of service `srv`, or `InstanceNotFound`.
    pub fn instance(&mut self, srv: &str, id: &str) -> Result<InstanceRec, ApiError> {
        get_json::<InstanceRec>(self.tx, &self.keys.instance(srv, id))?.ok_or_else(|| inst_not_found(srv, id))
    }

    /// The idempotency token `token` of `api`, for a request whose other parameters print as
    /// `fingerprint()` (printed only when a token came).
    pub fn request_token(&self, api: &str, token: Option<&str>, fingerprint: impl FnOnce() -> String) -> RequestToken {
        // Tokens are the caller's own, wherever the request works.
        let Some(t) = token else { return RequestToken { key: None, fingerprint: String::new() } };
        let keys = if self.is_consumer() { Keys::new(&self.cx.account, &self.cx.region) } else { self.keys.clone() };
        RequestToken { key: Some(keys.token(api, t)), fingerprint: fingerprint() }
    }

    /// What the request first sent with this token produced (an operation or resource id), or
    /// `InvalidInput` when the token came with a different request.
    pub fn replay(&mut self, token: &RequestToken) -> Result<Option<String>, ApiError> {
        let Some(key) = &token.key else { return Ok(None) };
        let Some(raw) = self.tx.get(key)? else { return Ok(None) };
        let stored: (String, String) = serde_json::from_slice(&raw).map_err(ApiError::internal)?;
        if stored.0 == token.fingerprint {
            Ok(Some(stored.1))
        } else {
            Err(invalid(
                "The request id was already used for a different request; use a new CreatorRequestId for a new request",
            ))
        }
    }

    /// Remembers what the request with this token produced.
    pub fn remember(&mut self, token: &RequestToken, result: &str) -> Result<(), ApiError> {
        if let Some(key) = &token.key {
            put_json(self.tx, key, &(&token.fingerprint, result))?;
        }
        Ok(())
    }

    /// Refuses the change of `what` when an operation holds `busy_key`.
    pub fn check_not_busy(&mut self, busy_key: &str, what: impl FnOnce() -> String) -> Result<(), ApiError> {
        match self.tx.get(busy_key)? {
            Some(other) => Err(duplicate(&other, &what())),
            None => Ok(()),
        }
    }

    /// Writes a new operation and hands it to the engine; returns its id. Under the `instant`
    /// profile it runs to its end here, before it is first written (its in-flight lock, taken and
    /// released in this transaction, is never written).
    pub fn start_operation(&mut self, new: NewOperation) -> Result<String, ApiError> {
        let now = self.engine.now_ms();
        let timing = self.engine.timing();
        let inline = timing.profile == TimingProfile::Instant;
        let id = new_operation_id(now);
        if let (false, Some(b)) = (inline, &new.busy_key) {
            self.tx.put(b, id.as_bytes())?;
        }
        let resources: Vec<&str> =
            [new.namespace_id.as_deref(), new.service_id.as_deref()].into_iter().flatten().collect();
        let fault = self.engine.take_operation_fault(self.tx, SERVICE, new.op_type.as_str(), &resources)?.map(|rule| {
            let message = rule.error_message.unwrap_or_else(|| format!("Injected fault {}", rule.id));
            (rule.error_code, message)
        });
        // When it moves on by itself: PENDING at a time its record carries, then its end.
        let times = if inline { None } else { driver::step_times(&timing, new.op_type) };
        let mut op = OperationRec {
            id: id.clone(),
            owner: self.partition.clone(),
            performer: self.is_consumer().then(|| self.cx.account.clone()),
            region: self.cx.region.clone(),
            op_type: new.op_type,
            status: m::OperationStatus::Submitted,
            error_code: None,
            error_message: None,
            create_date: now,
            update_date: now,
            targets: new.targets,
            namespace_id: new.namespace_id,
            service_id: new.service_id,
            change: new.change,
            busy_key: if inline { None } else { new.busy_key },
            fault,
            pending_at: times.map(|(pending, _)| now + pending),
        };
        if inline {
            driver::run_to_end(self.tx, self.cache, &self.keys, &mut op, now, &timing, new.service)?;
        }
        driver::write_operation(self.tx, self.cache, &self.keys.operation(&id), op)?;
        // Listed to the account that asked for it (ListOperations), wherever it is filed.
        let by_time = Keys::new(&self.cx.account, &self.cx.region).operation_by_time(now, &id);
        let filed_in = if self.is_consumer() { self.partition.as_bytes() } else { b"" };
        self.tx.put(&by_time, filed_in)?;
        let op_ref = Keys::op_ref(&self.partition, &self.cx.region, &id);
        if inline {
            self.engine.file_finished(self.tx, SERVICE, &op_ref)?;
        } else {
            self.engine.submit(self.tx, SERVICE, &op_ref, times.map(|(_, end)| end))?;
        }
        Ok(id)
    }

    /// Checks the tags of `resource` against the tag rules.
    pub fn check_tags(&self, resource: &str, tags: &Tags) -> Result<(), ApiError> {
        match tags.check(self.quotas.tags_per_resource) {
            Ok(()) => Ok(()),
            Err(TagProblem::Reserved(_)) => Err(invalid("Tag keys starting with aws: are reserved")),
            Err(TagProblem::TooMany { limit, .. }) => {
                Err(ApiError::new(&e::TOO_MANY_TAGS_EXCEPTION, format!("A resource can have at most {limit} tags"))
                    .with("ResourceName", resource))
            }
        }
    }

    /// The tags of the resource `arn`.
    pub fn tags(&mut self, arn: &str) -> Result<Tags, ApiError> {
        Ok(get_json(self.tx, &self.keys.tags(arn))?.unwrap_or_default())
    }

    /// Stores the tags of the resource `arn`.
    pub fn put_tags(&mut self, arn: &str, tags: &Tags) -> Result<(), ApiError> {
        Ok(put_json(self.tx, &self.keys.tags(arn), tags)?)
    }
}
