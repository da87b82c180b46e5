//! What Cloud Map keeps decoded and encoded in memory, so that its hottest reads (DiscoverInstances,
//! ListInstances, GetOperation, ListOperations) cost what they return. The decoded instances of
//! recently read services are kept, each set valid while its service's `instances_tag` is the one it
//! was read with, and each instance's summary is kept encoded in the protocols that asked for it, so
//! that a response is a choice of indexes and a copy of their bytes.

use super::records::{health_as_reported, InstanceRec, Keys, NamespaceRec, OperationRec, ServiceRec};
use crate::kept::{Encodings, Entry, Kept};
use crate::model::servicediscovery as m;
use crate::store::{decode_all, StoreError, Tx};
use crate::wire::shape::{encode_output, encode_output_sized, PreEncoded, Protocol};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// The instances of one service as of one `instances_tag`.
pub struct ServiceInstances {
    tag: u64,
    namespace_name: String,
    service_name: String,
    /// Whether the service has health checks (HealthStatus is then the instance's, else UNKNOWN).
    checked: bool,
    /// The instance records, in key order.
    pub recs: Vec<InstanceRec>,
    /// Each record's `HttpInstanceSummary` (DiscoverInstances) and `InstanceSummary`
    /// (ListInstances) in awsJson1_1 and in CBOR, built at first use.
    json: OnceLock<Vec<Vec<u8>>>,
    cbor: OnceLock<Vec<Vec<u8>>>,
    list_json: OnceLock<Vec<Vec<u8>>>,
    list_cbor: OnceLock<Vec<Vec<u8>>>,
}

impl ServiceInstances {
    /// The `HttpInstanceSummary` of record `i`.
    pub fn summary(&self, i: usize) -> m::HttpInstanceSummary {
        let inst = &self.recs[i];
        let health = health_as_reported(self.checked, inst.health);
        m::HttpInstanceSummary {
            instance_id: Some(inst.id.clone()),
            namespace_name: Some(self.namespace_name.clone()),
            service_name: Some(self.service_name.clone()),
            health_status: Some(health),
            attributes: Some(inst.attributes.clone()),
        }
    }

    /// The `InstanceSummary` of record `i` (ListInstances).
    pub fn list_summary(&self, i: usize) -> m::InstanceSummary {
        let inst = &self.recs[i];
        m::InstanceSummary {
            id: Some(inst.id.clone()),
            attributes: Some(inst.attributes.clone()),
            created_by_account: Some(inst.created_by.clone()),
        }
    }

    fn encoded(&self, protocol: Protocol) -> Option<&[Vec<u8>]> {
        let cell = match protocol {
            Protocol::AwsJson11 => &self.json,
            Protocol::RpcV2Cbor => &self.cbor,
            Protocol::RestJson1 | Protocol::AwsQuery => return None,
        };
        Some(cell.get_or_init(|| (0..self.recs.len()).map(|i| encode_output(&self.summary(i), protocol)).collect()))
    }

    fn list_encoded(&self, protocol: Protocol) -> Option<&[Vec<u8>]> {
        let cell = match protocol {
            Protocol::AwsJson11 => &self.list_json,
            Protocol::RpcV2Cbor => &self.list_cbor,
            Protocol::RestJson1 | Protocol::AwsQuery => return None,
        };
        Some(
            cell.get_or_init(|| (0..self.recs.len()).map(|i| encode_output(&self.list_summary(i), protocol)).collect()),
        )
    }

    /// The index range of the ListInstances page that starts after the instance id `after` and
    /// holds at most `max` records (at least 1), and whether records follow it.
    pub fn list_range(&self, after: Option<&str>, max: usize) -> (std::ops::Range<usize>, bool) {
        let start = after.map_or(0, |a| self.recs.partition_point(|r| r.id.as_str() <= a));
        let end = start.saturating_add(max.max(1)).min(self.recs.len());
        (start..end, end < self.recs.len())
    }

    /// The ListInstances response holding records `range`, in the request's protocol.
    pub fn list_response(
        &self,
        range: std::ops::Range<usize>,
        next_token: Option<&str>,
        owner: &str,
        protocol: Protocol,
    ) -> Vec<u8> {
        let Some(parts) = self.list_encoded(protocol) else {
            let out = m::ListInstancesResponse {
                instances: Some(range.map(|i| self.list_summary(i)).collect()),
                next_token: next_token.map(str::to_string),
                resource_owner: Some(owner.to_string()),
            };
            return encode_output(&out, protocol);
        };
        let instances: Vec<PreEncoded> = parts[range].iter().map(|p| PreEncoded(p)).collect();
        let size = instances.iter().map(|p| p.len() + 1).sum::<usize>() + 128;
        let out = m::ListInstancesResponseParts {
            instances: Some(instances),
            next_token: next_token.map(str::to_string),
            resource_owner: Some(owner.to_string()),
        };
        encode_output_sized(&out, protocol, size)
    }

    /// The DiscoverInstances response holding records `picked`, in the request's protocol.
    pub fn response(&self, picked: &[usize], revision: i64, protocol: Protocol) -> Vec<u8> {
        let Some(parts) = self.encoded(protocol) else {
            let instances = picked.iter().map(|&i| self.summary(i)).collect();
            let out = m::DiscoverInstancesResponse { instances: Some(instances), instances_revision: Some(revision) };
            return encode_output(&out, protocol);
        };
        let instances: Vec<PreEncoded> = picked.iter().map(|&i| PreEncoded(&parts[i])).collect();
        let size = instances.iter().map(|p| p.len() + 1).sum::<usize>() + 64;
        let out = m::DiscoverInstancesResponseParts { instances: Some(instances), instances_revision: Some(revision) };
        encode_output_sized(&out, protocol, size)
    }

    /// The indexes a DiscoverInstances request returns: the records its filters match, a random
    /// `max` of them.
    pub fn pick(&self, input: &m::DiscoverInstancesRequest, max: usize) -> Vec<usize> {
        let matches = |i: &InstanceRec, params: &BTreeMap<String, String>| {
            params.iter().all(|(k, v)| i.attributes.get(k) == Some(v))
        };
        let mut found: Vec<usize> = match &input.query_parameters {
            Some(q) => (0..self.recs.len()).filter(|&i| matches(&self.recs[i], q)).collect(),
            None => (0..self.recs.len()).collect(),
        };
        if let Some(opt) = &input.optional_parameters {
            let narrowed: Vec<usize> = found.iter().copied().filter(|&i| matches(&self.recs[i], opt)).collect();
            if !narrowed.is_empty() {
                found = narrowed;
            }
        }
        if self.checked {
            let health = |i: &usize| self.recs[*i].health;
            found = match input.health_status.unwrap_or(m::HealthStatusFilter::Healthy) {
                m::HealthStatusFilter::Healthy => {
                    found.into_iter().filter(|i| health(i) == m::HealthStatus::Healthy).collect()
                }
                m::HealthStatusFilter::Unhealthy => {
                    found.into_iter().filter(|i| health(i) == m::HealthStatus::Unhealthy).collect()
                }
                m::HealthStatusFilter::All => found,
                m::HealthStatusFilter::HealthyOrElseAll => {
                    let healthy: Vec<usize> =
                        found.iter().copied().filter(|i| health(i) == m::HealthStatus::Healthy).collect();
                    if healthy.is_empty() {
                        found
                    } else {
                        healthy
                    }
                }
            };
        }
        // Shuffling only as far as the page reaches is the same random choice as shuffling all. The
        // order needs no cryptographic generator: a fast one per thread, seeded from the OS's.
        use rand::seq::SliceRandom;
        use rand::SeedableRng;
        thread_local! {
            static RNG: std::cell::RefCell<rand::rngs::SmallRng> =
                std::cell::RefCell::new(rand::rngs::SmallRng::from_entropy());
        }
        let max = max.min(found.len());
        RNG.with(|rng| found.partial_shuffle(&mut *rng.borrow_mut(), max).0.to_vec())
    }
}

/// Everything Cloud Map keeps in memory.
pub struct Caches {
    /// The instance sets of recently read services.
    pub instances: InstanceCache,
    /// Operation records and their GetOperation answers.
    pub operations: Kept<KeptOperation>,
    /// The namespace records DiscoverInstances reads.
    pub namespaces: Kept<NamespaceRec>,
    /// The service records DiscoverInstances reads.
    pub services: Kept<ServiceRec>,
}

impl Caches {
    /// The most namespace or service records kept.
    const MAX_TARGETS: usize = 10_000;

    /// The service record at `key` as `tx` sees it, kept decoded.
    pub fn service(&self, tx: &mut dyn Tx, key: &str) -> Result<Option<Arc<Entry<ServiceRec>>>, StoreError> {
        self.services.read(tx, key, |raw| crate::store::decode_one::<ServiceRec>(key, raw))
    }

    /// Writes the service record `s` at `key`, kept decoded for the next read.
    pub fn put_service(&self, tx: &mut dyn Tx, key: &str, s: ServiceRec) -> Result<(), StoreError> {
        self.services.write(tx, key, crate::store::encode_json(key, &s)?, s)
    }

    /// Forgets everything (after a reset or an import replaced what the store holds).
    pub fn clear(&self) {
        self.instances.clear();
        self.operations.clear();
        self.namespaces.clear();
        self.services.clear();
    }
}

impl Default for Caches {
    fn default() -> Self {
        Caches {
            instances: InstanceCache::default(),
            operations: Kept::new(KeptOperation::MAX),
            namespaces: Kept::new(Self::MAX_TARGETS),
            services: Kept::new(Self::MAX_TARGETS),
        }
    }
}

/// The instance sets of recently discovered services.
#[derive(Default)]
pub struct InstanceCache {
    held: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    by_prefix: HashMap<String, Arc<ServiceInstances>>,
    instances: usize,
}

impl InstanceCache {
    /// The most instances held at once (records and their encodings: about 1 KB each); past it the
    /// cache starts over.
    const MAX_INSTANCES: usize = 50_000;

    fn lock(&self) -> MutexGuard<'_, Entries> {
        self.held.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The instances of service `srv`, as of this transaction. `namespace_name` gives the HTTP
    /// name of the service's namespace; it is asked for only when the set is read anew (a
    /// service never moves to another namespace, and neither has a name that changes).
    pub fn instances<E: From<StoreError>>(
        &self,
        tx: &mut dyn Tx,
        keys: &Keys,
        srv: &ServiceRec,
        namespace_name: impl FnOnce(&mut dyn Tx) -> Result<String, E>,
    ) -> Result<Arc<ServiceInstances>, E> {
        let prefix = keys.instances(&srv.id);
        let checked = srv.health_check.is_some() || srv.custom_health;
        if let Some(held) = self.lock().by_prefix.get(&prefix) {
            if held.tag == srv.instances_tag && held.checked == checked && held.service_name == srv.name {
                return Ok(held.clone());
            }
        }
        let recs: Vec<InstanceRec> =
            decode_all::<InstanceRec>(tx.scan(&prefix, None, usize::MAX)?)?.into_iter().map(|(_, i)| i).collect();
        let read = Arc::new(ServiceInstances {
            tag: srv.instances_tag,
            namespace_name: namespace_name(tx)?,
            service_name: srv.name.clone(),
            checked,
            recs,
            json: OnceLock::new(),
            cbor: OnceLock::new(),
            list_json: OnceLock::new(),
            list_cbor: OnceLock::new(),
        });
        let mut held = self.lock();
        if held.instances + read.recs.len() > Self::MAX_INSTANCES {
            held.by_prefix.clear();
            held.instances = 0;
        }
        held.instances += read.recs.len();
        if let Some(old) = held.by_prefix.insert(prefix, read.clone()) {
            held.instances -= old.recs.len();
        }
        Ok(read)
    }

    /// Forgets everything (after a reset or a snapshot import replaced the store's contents).
    pub fn clear(&self) {
        let mut held = self.lock();
        held.by_prefix.clear();
        held.instances = 0;
    }
}

/// A Cloud Map operation record as last read (GetOperation, ListOperations), and its GetOperation
/// answer per protocol.
pub struct KeptOperation {
    /// The record.
    pub rec: OperationRec,
    /// Its GetOperation answer per protocol, encoded at first use.
    pub answer: Encodings,
}

impl KeptOperation {
    /// The most operation records kept decoded.
    pub const MAX: usize = 20_000;

    /// Decodes the record stored at `key`.
    pub fn decode(key: &str, raw: &[u8]) -> Result<KeptOperation, StoreError> {
        Ok(KeptOperation { rec: crate::store::decode_one(key, raw)?, answer: Encodings::default() })
    }

    /// The GetOperation answer in `protocol` at `now`: kept once it no longer changes by itself
    /// (a SUBMITTED operation turning PENDING at a later time is encoded afresh until then).
    pub fn answer(&self, protocol: Protocol, now: i64) -> Vec<u8> {
        let encode = || encode_output(&m::GetOperationResponse { operation: Some(self.rec.to_model(now)) }, protocol);
        if self.rec.changes_after(now) {
            return encode();
        }
        self.answer.get(protocol, encode).to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(n: usize, checked: bool) -> ServiceInstances {
        let recs = (0..n)
            .map(|i| InstanceRec {
                id: format!("i-{i}"),
                service_id: "srv-x".into(),
                creator_request_id: None,
                attributes: BTreeMap::from([
                    ("AWS_INSTANCE_IPV4".to_string(), format!("10.0.0.{i}")),
                    ("stage".to_string(), if i % 2 == 0 { "blue" } else { "green\"\u{e9}" }.to_string()),
                ]),
                created_by: "123456789012".into(),
                health: if i % 3 == 0 { m::HealthStatus::Unhealthy } else { m::HealthStatus::Healthy },
            })
            .collect();
        ServiceInstances {
            tag: 1,
            namespace_name: "ns".into(),
            service_name: "web".into(),
            checked,
            recs,
            json: OnceLock::new(),
            cbor: OnceLock::new(),
            list_json: OnceLock::new(),
            list_cbor: OnceLock::new(),
        }
    }

    /// The bytes assembled from kept parts are the bytes the generated encoder writes.
    #[test]
    fn assembled_responses_equal_the_generated_encoding() {
        for checked in [false, true] {
            let s = set(7, checked);
            for picked in [vec![], vec![3], vec![6, 0, 2, 5]] {
                for protocol in [Protocol::AwsJson11, Protocol::RpcV2Cbor, Protocol::RestJson1] {
                    let typed = m::DiscoverInstancesResponse {
                        instances: Some(picked.iter().map(|&i| s.summary(i)).collect()),
                        instances_revision: Some(42),
                    };
                    assert_eq!(s.response(&picked, 42, protocol), encode_output(&typed, protocol), "{protocol:?}");
                }
            }
        }
    }

    #[test]
    fn assembled_list_pages_equal_the_generated_encoding() {
        let s = set(7, false);
        for (after, max) in [(None, 100), (None, 3), (Some("i-2"), 2), (Some("i-6"), 5), (Some("i-9"), 1)] {
            let (range, more) = s.list_range(after, max);
            let next = more.then(|| format!("token-{}", range.end));
            for protocol in [Protocol::AwsJson11, Protocol::RpcV2Cbor, Protocol::RestJson1] {
                let typed = m::ListInstancesResponse {
                    instances: Some(range.clone().map(|i| s.list_summary(i)).collect()),
                    next_token: next.clone(),
                    resource_owner: Some("123456789012".into()),
                };
                let assembled = s.list_response(range.clone(), next.as_deref(), "123456789012", protocol);
                assert_eq!(assembled, encode_output(&typed, protocol), "{after:?} {max} {protocol:?}");
            }
        }
        assert_eq!(s.list_range(Some("i-2"), 2), (3..5, true));
        assert_eq!(s.list_range(Some("i-5"), 5), (6..7, false));
        assert_eq!(s.list_range(Some("i-9"), 5), (7..7, false));
    }

    #[test]
    fn picks_follow_filters_and_stay_distinct() {
        let s = set(30, true);
        let input = m::DiscoverInstancesRequest {
            query_parameters: Some(BTreeMap::from([("stage".to_string(), "blue".to_string())])),
            ..Default::default()
        };
        let picked = s.pick(&input, 4);
        assert_eq!(picked.len(), 4);
        let distinct: std::collections::BTreeSet<_> = picked.iter().collect();
        assert_eq!(distinct.len(), 4);
        assert!(picked.iter().all(|&i| i % 2 == 0 && i % 3 != 0), "blue and healthy only: {picked:?}");
        let all = m::DiscoverInstancesRequest { health_status: Some(m::HealthStatusFilter::All), ..Default::default() };
        assert_eq!(s.pick(&all, 100).len(), 30);
    }
}
