//! DiscoverInstances and DiscoverInstancesRevision: by namespace HTTP name and service name, over
//! the kept namespace and service records and the instance cache.

use super::cache::ServiceInstances;
use super::records::*;
use super::scope::*;
use crate::kept::Entry;
use crate::model::servicediscovery as m;
use crate::store::decode_one;
use crate::wire::shape::ApiError;
use std::sync::Arc;

/// What DiscoverInstances returns: the service's instances, the indexes of those chosen, and the
/// service's revision.
pub struct Discovered {
    /// The service's instances.
    pub set: Arc<ServiceInstances>,
    /// The indexes of those chosen, in the order returned.
    pub picked: Vec<usize>,
    /// The service's `InstancesRevision`.
    pub revision: i64,
}

/// DiscoverInstances.
pub fn discover(s: &mut Scope, input: &m::DiscoverInstancesRequest) -> Result<Discovered, ApiError> {
    s.enter_owner_account(&input.owner_account);
    let (ns, srv) = target(s, &input.namespace_name, &input.service_name)?;
    let set =
        s.cache.instances.instances(s.tx, &s.keys, &srv.value, |_| Ok::<_, ApiError>(ns.value.http_name.clone()))?;
    let picked = set.pick(input, page_size(input.max_results));
    Ok(Discovered { set, picked, revision: srv.value.revision })
}

/// DiscoverInstancesRevision.
pub fn revision(
    s: &mut Scope,
    input: m::DiscoverInstancesRevisionRequest,
) -> Result<m::DiscoverInstancesRevisionResponse, ApiError> {
    s.enter_owner_account(&input.owner_account);
    let (_, srv) = target(s, &input.namespace_name, &input.service_name)?;
    Ok(m::DiscoverInstancesRevisionResponse { instances_revision: Some(srv.value.revision) })
}

/// A record as kept decoded.
type KeptRec<T> = Arc<Entry<T>>;

/// Resolves `NamespaceName` (the HttpName) and `ServiceName` in the scope's key space: the namespace
/// and the service, decoded unless kept from an earlier read of the same bytes. Another account's
/// namespace answers only while it is shared with the caller; else, as for a name that does not
/// exist, `NamespaceNotFound`.
fn target(
    s: &mut Scope,
    namespace_name: &str,
    service_name: &str,
) -> Result<(KeptRec<NamespaceRec>, KeptRec<ServiceRec>), ApiError> {
    let ns_id = s.tx.get(&s.keys.http_name(namespace_name))?.ok_or_else(|| ns_not_found(namespace_name))?;
    let ns_id = String::from_utf8_lossy(&ns_id);
    let key = s.keys.namespace(&ns_id);
    let ns = match s.cache.namespaces.read(s.tx, &key, |raw| decode_one::<NamespaceRec>(&key, raw))? {
        Some(ns) if ns.value.state == NamespaceState::Active => ns,
        _ => return Err(ns_not_found(&ns_id)),
    };
    if s.is_consumer() && !s.may_use_namespace(&ns.value.owner, &ns.value.id)? {
        return Err(ns_not_found(namespace_name));
    }
    let name_key = service_name_key(&ns.value, service_name);
    let srv_id = s.tx.get(&s.keys.service_name(&ns.value.id, &name_key))?.ok_or_else(|| srv_not_found(service_name))?;
    let srv_id = String::from_utf8_lossy(&srv_id);
    let key = s.keys.service(&srv_id);
    let srv = s.cache.service(s.tx, &key)?.ok_or_else(|| srv_not_found(&srv_id))?;
    Ok((ns, srv))
}
