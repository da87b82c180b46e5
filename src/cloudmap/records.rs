//! What Cloud Map keeps in the store: the documents, their keys, and the id formats AWS uses.

use crate::model::servicediscovery as m;
use crate::wire::shape::Timestamp;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The store key prefix of every Cloud Map key.
pub const KEY_PREFIX: &str = "sd/";

/// Checks a snapshot row under [`KEY_PREFIX`]: the documents (namespaces, services, instances,
/// operations) must be JSON.
pub fn check_document(key: &str, value: &[u8]) -> Result<(), String> {
    let is_document = ["/ns/", "/srv/", "/inst/", "/op/"].iter().any(|seg| key.contains(seg));
    if is_document && serde_json::from_slice::<serde_json::Value>(value).is_err() {
        return Err(format!("the value of {key} is not a JSON document"));
    }
    Ok(())
}

/// The engine's name for Cloud Map operations.
pub const SERVICE: crate::model::Service = crate::model::Service::ServiceDiscovery;

/// Lifecycle of a namespace document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NamespaceState {
    /// Its CREATE_NAMESPACE operation has not succeeded yet: invisible to the API, name reserved.
    Creating,
    /// Visible.
    Active,
}

/// A namespace.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NamespaceRec {
    pub id: String,
    pub arn: String,
    pub name: String,
    pub http_name: String,
    pub ns_type: m::NamespaceType,
    pub description: Option<String>,
    pub vpc: Option<String>,
    pub hosted_zone_id: Option<String>,
    pub soa_ttl: Option<i64>,
    pub create_date: i64,
    pub creator_request_id: Option<String>,
    pub owner: String,
    pub state: NamespaceState,
    pub service_count: i32,
}

/// A DNS record template of a service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DnsRecordRec {
    pub record_type: m::RecordType,
    pub ttl: i64,
}

/// A Route 53 health check of a service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthCheckRec {
    pub check_type: m::HealthCheckType,
    pub resource_path: Option<String>,
    pub failure_threshold: Option<i32>,
}

/// A service.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceRec {
    pub id: String,
    pub arn: String,
    pub name: String,
    pub namespace_id: String,
    pub description: Option<String>,
    pub routing_policy: Option<m::RoutingPolicy>,
    pub dns_records: Option<Vec<DnsRecordRec>>,
    /// `HTTP` or `DNS_HTTP`.
    pub service_type: m::ServiceType,
    pub health_check: Option<HealthCheckRec>,
    pub custom_health: bool,
    pub create_date: i64,
    pub creator_request_id: Option<String>,
    pub created_by: String,
    pub owner: String,
    pub instance_count: i32,
    pub revision: i64,
    pub attributes: BTreeMap<String, String>,
    /// Changes (to a new random value) with every change of any of the service's instance records,
    /// health included — unlike `revision`, which AWS moves only on (de)registration. It tells the
    /// decoded-instances cache whether what it holds is still what the store holds.
    #[serde(default)]
    pub instances_tag: u64,
}

impl ServiceRec {
    /// Marks the service's instances as changed (see `instances_tag`).
    pub fn instances_changed(&mut self) {
        self.instances_tag = rand::random();
    }
}

/// A registered instance.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InstanceRec {
    pub id: String,
    pub service_id: String,
    pub creator_request_id: Option<String>,
    pub attributes: BTreeMap<String, String>,
    pub created_by: String,
    pub health: m::HealthStatus,
}

/// The HealthStatus clients see: the stored status when the service has health checks, else UNKNOWN.
pub fn health_as_reported(checked: bool, stored: m::HealthStatus) -> m::HealthStatus {
    if checked {
        stored
    } else {
        m::HealthStatus::Unknown
    }
}

/// The change an operation carries, applied when it succeeds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Change {
    CreateNamespace {
        namespace_id: String,
        fail: Option<(String, String)>,
    },
    DeleteNamespace {
        namespace_id: String,
    },
    UpdateNamespace {
        namespace_id: String,
        description: Option<String>,
        soa_ttl: Option<i64>,
    },
    UpdateService {
        service_id: String,
        description: Option<String>,
        dns_records: Option<Vec<DnsRecordRec>>,
        health_check: Option<HealthCheckRec>,
    },
    RegisterInstance {
        instance: InstanceRec,
    },
    DeregisterInstance {
        service_id: String,
        instance_id: String,
    },
}

/// An asynchronous operation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OperationRec {
    pub id: String,
    pub owner: String,
    pub region: String,
    pub op_type: m::OperationType,
    pub status: m::OperationStatus,
    pub error_code: Option<String>,
    pub error_message: Option<String>,
    pub create_date: i64,
    pub update_date: i64,
    pub targets: BTreeMap<String, String>,
    pub namespace_id: Option<String>,
    pub service_id: Option<String>,
    pub change: Change,
    /// The in-flight lock key this operation holds, released when it ends.
    pub busy_key: Option<String>,
    /// A failure injected by a fault rule: the operation ends FAIL with this code and message and
    /// its change is not applied.
    #[serde(default)]
    pub fault: Option<(String, String)>,
}

impl OperationRec {
    /// The wire shape.
    pub fn to_model(&self) -> m::OperationShape {
        m::OperationShape {
            id: Some(self.id.clone()),
            owner_account: Some(self.owner.clone()),
            type_: Some(self.op_type),
            status: Some(self.status),
            error_message: self.error_message.clone(),
            error_code: self.error_code.clone(),
            create_date: Some(Timestamp(self.create_date)),
            update_date: Some(Timestamp(self.update_date)),
            targets: Some(self.targets.clone()),
        }
    }

    /// Whether the operation has ended.
    pub fn is_terminal(&self) -> bool {
        matches!(self.status, m::OperationStatus::Success | m::OperationStatus::Fail)
    }
}

/// The key space of one account and region.
#[derive(Debug, Clone)]
pub struct Keys {
    pub scope: String,
}

impl Keys {
    pub fn new(account: &str, region: &str) -> Self {
        Keys { scope: format!("{KEY_PREFIX}{account}/{region}/") }
    }
    /// From an operation reference `"{account}/{region}/{op_id}"`.
    pub fn from_op_ref(op_ref: &str) -> Option<(Self, String)> {
        let mut it = op_ref.splitn(3, '/');
        let (a, r, id) = (it.next()?, it.next()?, it.next()?);
        Some((Keys::new(a, r), id.to_string()))
    }
    pub fn op_ref(account: &str, region: &str, op_id: &str) -> String {
        format!("{account}/{region}/{op_id}")
    }
    pub fn namespaces(&self) -> String {
        format!("{}ns/", self.scope)
    }
    pub fn namespace(&self, id: &str) -> String {
        format!("{}ns/{id}", self.scope)
    }
    pub fn http_name(&self, name: &str) -> String {
        format!("{}nsidx/http/{name}", self.scope)
    }
    pub fn zone_name(&self, ns_type: m::NamespaceType, vpc: Option<&str>, name: &str) -> String {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        match vpc {
            Some(vpc) if ns_type == m::NamespaceType::DnsPrivate => {
                format!("{}nsidx/vpc/{vpc}/{name}", self.scope)
            }
            _ => format!("{}nsidx/public/{name}", self.scope),
        }
    }
    pub fn services(&self) -> String {
        format!("{}srv/", self.scope)
    }
    pub fn service(&self, id: &str) -> String {
        format!("{}srv/{id}", self.scope)
    }
    pub fn service_name_prefix(&self, ns: &str) -> String {
        format!("{}srvidx/{ns}/", self.scope)
    }
    pub fn service_name(&self, ns: &str, key: &str) -> String {
        format!("{}srvidx/{ns}/{key}", self.scope)
    }
    pub fn instances(&self, srv: &str) -> String {
        format!("{}inst/{srv}/", self.scope)
    }
    pub fn instance(&self, srv: &str, id: &str) -> String {
        format!("{}inst/{srv}/{id}", self.scope)
    }
    pub fn operation(&self, id: &str) -> String {
        // Filed under the creation time the id ends with (base-36 milliseconds), so that new
        // operations land next to each other: a burst of writes dirties a few pages, not one each.
        // Built by hand: this key is made for every operation a page lists, and `format!` with
        // padding showed in profiles of ListOperations.
        let created = id.rsplit_once('-').map_or("", |(_, t)| t);
        let mut key = String::with_capacity(self.scope.len() + 15 + created.len().max(10) + id.len());
        key.push_str(&self.scope);
        key.push_str("op/");
        key.extend(std::iter::repeat_n('0', 10usize.saturating_sub(created.chars().count())));
        key.push_str(created);
        key.push('/');
        key.push_str(id);
        key
    }
    pub fn operations_newest_first(&self) -> String {
        format!("{}opnew/", self.scope)
    }
    pub fn operation_by_time(&self, create_ms: i64, id: &str) -> String {
        format!("{}opnew/{:016x}/{id}", self.scope, i64::MAX - create_ms.max(0))
    }
    pub fn busy(&self, what: &str) -> String {
        format!("{}busy/{what}", self.scope)
    }
    pub fn token(&self, api: &str, token: &str) -> String {
        format!("{}token/{api}/{token}", self.scope)
    }
    pub fn tags(&self, arn: &str) -> String {
        format!("{}tags/{arn}", self.scope)
    }
}

const BASE32: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";

fn random_chars(alphabet: &[u8], n: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..n).map(|_| alphabet[rng.gen_range(0..alphabet.len())] as char).collect()
}

/// `ns-` + 16 base32 characters.
pub fn new_namespace_id() -> String {
    format!("ns-{}", random_chars(BASE32, 16))
}

/// `srv-` + 16 base32 characters.
pub fn new_service_id() -> String {
    format!("srv-{}", random_chars(BASE32, 16))
}

/// 32 base32 characters + `-` + base-36 of the creation time in milliseconds.
pub fn new_operation_id(create_ms: i64) -> String {
    format!("{}-{}", random_chars(BASE32, 32), base36(create_ms.max(0) as u64))
}

/// A Route 53 hosted zone id.
pub fn new_hosted_zone_id() -> String {
    format!("Z{}", random_chars(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 20))
}

/// A Route 53 change id.
pub fn new_change_id() -> String {
    format!("C{}", random_chars(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", 13))
}

/// Lowercase base-36.
pub fn base36(mut n: u64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    if n == 0 {
        return "0".into();
    }
    let mut out = Vec::new();
    while n > 0 {
        out.push(DIGITS[(n % 36) as usize]);
        n /= 36;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_keys_are_filed_by_creation_time() {
        let keys = Keys::new("123456789012", "us-east-1");
        for (id, want) in [
            ("abc-k9302yzd", "sd/123456789012/us-east-1/op/00k9302yzd/abc-k9302yzd"),
            ("no_dash", "sd/123456789012/us-east-1/op/0000000000/no_dash"),
            ("x-\u{e9}", "sd/123456789012/us-east-1/op/000000000\u{e9}/x-\u{e9}"),
            ("a-0123456789abc", "sd/123456789012/us-east-1/op/0123456789abc/a-0123456789abc"),
        ] {
            assert_eq!(keys.operation(id), want);
        }
    }

    /// The typed records write back exactly the documents an earlier build stored.
    #[test]
    fn stored_documents_round_trip_unchanged() {
        let snapshot: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/fixtures/snapshot-v2.json")).expect("the fixture is JSON");
        fn same<T: serde::de::DeserializeOwned + Serialize>(key: &str, stored: &str) {
            let rec: T = serde_json::from_str(stored).unwrap_or_else(|e| panic!("{key}: {e}"));
            assert_eq!(serde_json::to_string(&rec).expect("encodes"), stored, "{key}");
        }
        let mut seen = 0;
        for (key, value) in snapshot["entries"].as_object().expect("entries") {
            let stored = value.as_str().expect("a string value");
            let kind = key.strip_prefix("sd/").and_then(|k| k.split('/').nth(2));
            match kind {
                Some("ns") => same::<NamespaceRec>(key, stored),
                Some("srv") => same::<ServiceRec>(key, stored),
                Some("inst") => same::<InstanceRec>(key, stored),
                Some("op") => same::<OperationRec>(key, stored),
                Some("tags") => same::<crate::tags::Tags>(key, stored),
                _ => continue,
            }
            seen += 1;
        }
        assert_eq!(seen, 3 + 4 + 4 + 10 + 2);
    }

    #[test]
    fn operation_id_suffix_is_base36_millis() {
        assert_eq!(base36(1_587_055_860_121), "k9302yzd");
        let id = new_operation_id(1_749_636_902_114);
        assert!(id.ends_with("-mbrsmxuq"), "{id}");
        assert_eq!(id.len(), 32 + 1 + 8);
        assert!(new_namespace_id().starts_with("ns-"));
    }
}
