//! DiscoverInstances at the cost of what it returns: the decoded instances of recently discovered
//! services are kept in memory, each set valid while its service's `instances_tag` is the one it
//! was read with, and each instance's `HttpInstanceSummary` is kept encoded in the protocols that
//! asked for it, so that a response is a random choice of indexes and a copy of their bytes.

use super::records::{InstanceRec, Keys, ServiceRec};
use crate::model::servicediscovery as m;
use crate::store::{decode_all, StoreError, Tx};
use crate::wire::shape::{encode_output, CborEncoder, Encoder, JsonEncoder, JsonTimestamps, Protocol};
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
    /// Each record's `HttpInstanceSummary` in awsJson1_1 and in CBOR, built at first use.
    json: OnceLock<Vec<Vec<u8>>>,
    cbor: OnceLock<Vec<Vec<u8>>>,
}

impl ServiceInstances {
    /// The `HttpInstanceSummary` of record `i`.
    pub fn summary(&self, i: usize) -> m::HttpInstanceSummary {
        let inst = &self.recs[i];
        let health = super::health_as_reported(self.checked, &inst.health);
        m::HttpInstanceSummary {
            instance_id: Some(inst.id.clone()),
            namespace_name: Some(self.namespace_name.clone()),
            service_name: Some(self.service_name.clone()),
            health_status: Some(health),
            attributes: Some(inst.attributes.clone()),
        }
    }

    fn encoded(&self, protocol: Protocol) -> Option<&[Vec<u8>]> {
        let cell = match protocol {
            Protocol::AwsJson11 => &self.json,
            Protocol::RpcV2Cbor => &self.cbor,
            Protocol::RestJson1 => return None,
        };
        Some(cell.get_or_init(|| (0..self.recs.len()).map(|i| encode_output(&self.summary(i), protocol)).collect()))
    }

    /// The DiscoverInstances response holding records `picked`, in the request's protocol.
    pub fn response(&self, picked: &[usize], revision: i64, protocol: Protocol) -> Vec<u8> {
        let Some(parts) = self.encoded(protocol) else {
            let instances = picked.iter().map(|&i| self.summary(i)).collect();
            let out = m::DiscoverInstancesResponse { instances: Some(instances), instances_revision: Some(revision) };
            return encode_output(&out, protocol);
        };
        let size: usize = picked.iter().map(|&i| parts[i].len() + 1).sum::<usize>() + 64;
        fn write<E: Encoder>(e: &mut E, parts: &[Vec<u8>], picked: &[usize], revision: i64) {
            // The member order and count of the generated DiscoverInstancesResponse encoder.
            e.begin_map(2);
            e.key("Instances");
            e.begin_list(picked.len());
            for &i in picked {
                e.raw(&parts[i]);
            }
            e.end_list();
            e.key("InstancesRevision");
            e.int(revision);
            e.end_map();
        }
        if protocol == Protocol::RpcV2Cbor {
            let mut e = CborEncoder::with_capacity(size);
            write(&mut e, parts, picked, revision);
            e.finish()
        } else {
            let mut e = JsonEncoder::with_capacity(JsonTimestamps::EpochSeconds, size);
            write(&mut e, parts, picked, revision);
            e.finish()
        }
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
            let health = |i: &usize| self.recs[*i].health.as_str();
            found = match input.health_status.unwrap_or(m::HealthStatusFilter::Healthy) {
                m::HealthStatusFilter::Healthy => found.into_iter().filter(|i| health(i) == "HEALTHY").collect(),
                m::HealthStatusFilter::Unhealthy => found.into_iter().filter(|i| health(i) == "UNHEALTHY").collect(),
                m::HealthStatusFilter::All => found,
                m::HealthStatusFilter::HealthyOrElseAll => {
                    let healthy: Vec<usize> = found.iter().copied().filter(|i| health(i) == "HEALTHY").collect();
                    if healthy.is_empty() {
                        found
                    } else {
                        healthy
                    }
                }
            };
        }
        // Shuffling only as far as the page reaches is the same random choice as shuffling all.
        use rand::seq::SliceRandom;
        let max = max.min(found.len());
        let (chosen, _) = found.partial_shuffle(&mut rand::thread_rng(), max);
        chosen.to_vec()
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

    /// The instances of service `srv` of the namespace called `namespace_name` (its HTTP name), as
    /// of this transaction.
    pub fn instances(
        &self,
        tx: &mut dyn Tx,
        keys: &Keys,
        namespace_name: &str,
        srv: &ServiceRec,
    ) -> Result<Arc<ServiceInstances>, StoreError> {
        let prefix = keys.instances(&srv.id);
        let checked = srv.health_check.is_some() || srv.custom_health;
        if let Some(held) = self.lock().by_prefix.get(&prefix) {
            if held.tag == srv.instances_tag
                && held.checked == checked
                && held.namespace_name == namespace_name
                && held.service_name == srv.name
            {
                return Ok(held.clone());
            }
        }
        let recs: Vec<InstanceRec> =
            decode_all::<InstanceRec>(tx.scan(&prefix, None, usize::MAX)?)?.into_iter().map(|(_, i)| i).collect();
        let read = Arc::new(ServiceInstances {
            tag: srv.instances_tag,
            namespace_name: namespace_name.to_string(),
            service_name: srv.name.clone(),
            checked,
            recs,
            json: OnceLock::new(),
            cbor: OnceLock::new(),
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
                health: if i % 3 == 0 { "UNHEALTHY" } else { "HEALTHY" }.into(),
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
    fn operation_answers_follow_the_stored_bytes() {
        let answers = OperationAnswers::default();
        let build = |raw: &[u8]| -> Result<m::GetOperationResponse, StoreError> {
            let id = String::from_utf8_lossy(raw).to_string();
            Ok(m::GetOperationResponse { operation: Some(m::Operation { id: Some(id), ..Default::default() }) })
        };
        let first = answers.answer("k", b"one".to_vec(), Protocol::AwsJson11, build).unwrap();
        assert_eq!(first, br#"{"Operation":{"Id":"one"}}"#);
        let again = answers.answer("k", b"one".to_vec(), Protocol::AwsJson11, |_| panic!("kept answer")).unwrap();
        assert_eq!(again, first);
        let changed = answers.answer("k", b"two".to_vec(), Protocol::AwsJson11, build).unwrap();
        assert_eq!(changed, br#"{"Operation":{"Id":"two"}}"#, "new bytes, new answer");
        let cbor = answers.answer("k", b"two".to_vec(), Protocol::RpcV2Cbor, build).unwrap();
        assert_ne!(cbor, changed, "each protocol has its own encoding");
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

/// GetOperation answers of recently read operations, each valid while the stored record is byte for
/// byte the one it was built from (the record is read on every call; only the decode and the
/// encode are saved).
#[derive(Default)]
pub struct OperationAnswers {
    held: Mutex<HashMap<String, Arc<Answer>>>,
}

/// One operation's record and its GetOperation answer per protocol.
pub struct Answer {
    raw: Vec<u8>,
    json: OnceLock<Vec<u8>>,
    cbor: OnceLock<Vec<u8>>,
    rest: OnceLock<Vec<u8>>,
}

impl OperationAnswers {
    /// The most answers held; past it the cache starts over.
    const MAX: usize = 10_000;

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Arc<Answer>>> {
        self.held.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The GetOperation answer for the record `raw` stored at `key`, built by `build` when the
    /// cache holds none for these exact bytes.
    pub fn answer(
        &self,
        key: &str,
        raw: Vec<u8>,
        protocol: Protocol,
        build: impl FnOnce(&[u8]) -> Result<m::GetOperationResponse, StoreError>,
    ) -> Result<Vec<u8>, StoreError> {
        let held = self.lock().get(key).filter(|a| a.raw == raw).cloned();
        let answer = match held {
            Some(a) => a,
            None => {
                let a = Arc::new(Answer { raw, json: OnceLock::new(), cbor: OnceLock::new(), rest: OnceLock::new() });
                let mut map = self.lock();
                if map.len() >= Self::MAX {
                    map.clear();
                }
                map.insert(key.to_string(), a.clone());
                a
            }
        };
        let cell = match protocol {
            Protocol::AwsJson11 => &answer.json,
            Protocol::RpcV2Cbor => &answer.cbor,
            Protocol::RestJson1 => &answer.rest,
        };
        if let Some(bytes) = cell.get() {
            return Ok(bytes.clone());
        }
        let out = encode_output(&build(&answer.raw)?, protocol);
        Ok(cell.get_or_init(|| out).clone())
    }

    /// Forgets everything.
    pub fn clear(&self) {
        self.lock().clear();
    }
}
