//! What Cloud Map keeps in the store: the documents, their keys, and the id formats AWS uses.

use crate::model::servicediscovery as m;
use crate::wire::shape::Timestamp;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The store key prefix of every Cloud Map key.
pub const KEY_PREFIX: &str = "sd/";

/// Checks a snapshot row under [`KEY_PREFIX`]: every document (namespace, service, instance,
/// operation, tags, idempotency token) must decode as the record this version reads; index rows
/// hold ids and markers.
pub fn check_document(key: &str, value: &[u8]) -> Result<(), String> {
    use crate::registry::decodes;
    // sd/{account}/{region}/{kind}/…
    match key.split('/').nth(3).unwrap_or("") {
        "ns" => decodes::<NamespaceRec>(key, value, "namespace"),
        "srv" => decodes::<ServiceRec>(key, value, "service"),
        "inst" => decodes::<InstanceRec>(key, value, "instance"),
        "op" => decodes::<OperationRec>(key, value, "operation"),
        "tags" => decodes::<crate::tags::Tags>(key, value, "tags"),
        "token" => decodes::<(String, String)>(key, value, "idempotency token"),
        _ => Ok(()),
    }
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
    /// `ns-…`.
    pub id: String,
    /// Its ARN.
    pub arn: String,
    /// The name it was created with (a DNS name for DNS namespaces).
    pub name: String,
    /// The name DiscoverInstances takes (the name, made unique when an HTTP namespace holds it).
    pub http_name: String,
    /// HTTP, private DNS or public DNS.
    pub ns_type: m::NamespaceType,
    /// Its description.
    pub description: Option<String>,
    /// The VPC of a private DNS namespace.
    pub vpc: Option<String>,
    /// The Route 53 hosted zone of a DNS namespace.
    pub hosted_zone_id: Option<String>,
    /// The TTL of its SOA record, when set.
    pub soa_ttl: Option<i64>,
    /// Creation time, ms since the epoch.
    pub create_date: i64,
    /// The CreatorRequestId it was created with.
    pub creator_request_id: Option<String>,
    /// The owning account.
    pub owner: String,
    /// Whether its creation has succeeded.
    pub state: NamespaceState,
    /// How many services it holds.
    pub service_count: i32,
}

/// A DNS record template of a service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DnsRecordRec {
    /// A, AAAA, SRV or CNAME.
    pub record_type: m::RecordType,
    /// Its TTL in seconds.
    pub ttl: i64,
}

/// A Route 53 health check of a service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthCheckRec {
    /// HTTP, HTTPS or TCP.
    pub check_type: m::HealthCheckType,
    /// The path an HTTP(S) check requests.
    pub resource_path: Option<String>,
    /// Consecutive results that flip the status, when given.
    pub failure_threshold: Option<i32>,
}

/// A service.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServiceRec {
    /// `srv-…`.
    pub id: String,
    /// Its ARN.
    pub arn: String,
    /// Its name, unique in its namespace.
    pub name: String,
    /// The namespace it is in.
    pub namespace_id: String,
    /// Its description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// How DNS answers choose instances (services with DNS records).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_policy: Option<m::RoutingPolicy>,
    /// The records each instance gets in DNS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_records: Option<Vec<DnsRecordRec>>,
    /// `HTTP` or `DNS_HTTP`.
    pub service_type: m::ServiceType,
    /// A Route 53 health check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheckRec>,
    /// Whether it has a HealthCheckCustomConfig.
    pub custom_health: bool,
    /// Creation time, ms since the epoch.
    pub create_date: i64,
    /// The CreatorRequestId it was created with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator_request_id: Option<String>,
    /// The account that created it.
    pub created_by: String,
    /// The account owning its namespace.
    pub owner: String,
    /// How many instances are registered.
    pub instance_count: i32,
    /// Its InstancesRevision, moved by every (de)registration.
    pub revision: i64,
    /// Its service attributes.
    pub attributes: BTreeMap<String, String>,
    /// Changes (to a new random value) with every change of any of the service's instance records,
    /// health included — unlike `revision`, which AWS moves only on (de)registration. It tells the
    /// decoded-instances cache whether what it holds is still what the store holds.
    #[serde(default)]
    pub instances_tag: u64,
    /// Whether an account other than the namespace's owner has ever registered an instance in it
    /// (through a RAM share): only then can UpdateService meet others' instances.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub others_registered: bool,
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
    /// The instance id the caller chose.
    pub id: String,
    /// The service it is registered in.
    pub service_id: String,
    /// The CreatorRequestId of its registration.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creator_request_id: Option<String>,
    /// Its attributes (`AWS_INSTANCE_IPV4`, …).
    pub attributes: BTreeMap<String, String>,
    /// The account that registered it.
    pub created_by: String,
    /// Its stored health status (what clients see depends on the service's checks).
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
    /// What an ended operation keeps of its change: the resource it concerned (the change itself
    /// was applied, or refused).
    Ended {
        /// The resource, as the admin API names it.
        resource: String,
    },
    /// Makes the namespace visible (or fails with `fail`, a conflict found at acceptance).
    CreateNamespace {
        /// The namespace.
        namespace_id: String,
        /// The failure (code, message) the operation ends with instead.
        fail: Option<(String, String)>,
    },
    /// Deletes the namespace and frees its names.
    DeleteNamespace {
        /// The namespace.
        namespace_id: String,
    },
    /// Sets the description and SOA TTL given.
    UpdateNamespace {
        /// The namespace.
        namespace_id: String,
        /// The new description.
        description: Option<String>,
        /// The new SOA TTL.
        soa_ttl: Option<i64>,
    },
    /// Sets the description, record TTLs and health check given.
    UpdateService {
        /// The service.
        service_id: String,
        /// The new description.
        description: Option<String>,
        /// The new DNS records.
        dns_records: Option<Vec<DnsRecordRec>>,
        /// The new health check.
        health_check: Option<HealthCheckRec>,
    },
    /// Writes the instance.
    RegisterInstance {
        /// The instance record.
        instance: InstanceRec,
    },
    /// Deletes the instance.
    DeregisterInstance {
        /// The service.
        service_id: String,
        /// The instance.
        instance_id: String,
    },
}

/// An asynchronous operation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OperationRec {
    /// The OperationId.
    pub id: String,
    /// The account it belongs to: the owner of the namespace it concerns (its `OwnerAccount`).
    pub owner: String,
    /// The account that asked for it, when not the owner (a consumer of a shared namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub performer: Option<String>,
    /// The region it belongs to.
    pub region: String,
    /// Its type.
    pub op_type: m::OperationType,
    /// SUBMITTED, PENDING, SUCCESS or FAIL.
    pub status: m::OperationStatus,
    /// The ErrorCode of a failed operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The ErrorMessage of a failed operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// Creation time, ms since the epoch.
    pub create_date: i64,
    /// Time of its last status change, ms since the epoch.
    pub update_date: i64,
    /// Its Targets (NAMESPACE, SERVICE, INSTANCE, ROUTE_53_CHANGE_ID).
    pub targets: BTreeMap<String, String>,
    /// The namespace it concerns.
    pub namespace_id: Option<String>,
    /// The service it concerns.
    pub service_id: Option<String>,
    /// The change it applies when it succeeds.
    pub change: Change,
    /// The in-flight lock key this operation holds, released when it ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub busy_key: Option<String>,
    /// When a SUBMITTED operation turns PENDING by itself (ms since the epoch): that step is a
    /// time, not a write. None once the record says PENDING, and while it waits for a manual
    /// advance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_at: Option<i64>,
    /// A failure injected by a fault rule: the operation ends FAIL with this code and message and
    /// its change is not applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<(String, String)>,
}

impl OperationRec {
    /// The wire shape as of `now`.
    pub fn to_model(&self, now: i64) -> m::OperationShape {
        let (status, update_date) = self.status_at(now);
        m::OperationShape {
            id: Some(self.id.clone()),
            owner_account: Some(self.owner.clone()),
            type_: Some(self.op_type),
            status: Some(status),
            error_message: self.error_message.clone(),
            error_code: self.error_code.clone(),
            create_date: Some(Timestamp(self.create_date)),
            update_date: Some(Timestamp(update_date)),
            targets: Some(self.targets.clone()),
        }
    }

    /// Its status and UpdateDate as of `now`: a SUBMITTED operation whose first step is due reads
    /// PENDING since that time.
    pub fn status_at(&self, now: i64) -> (m::OperationStatus, i64) {
        match (self.status, self.pending_at) {
            (m::OperationStatus::Submitted, Some(at)) if at <= now => (m::OperationStatus::Pending, at),
            (status, _) => (status, self.update_date),
        }
    }

    /// Whether what it reads as will change by itself after `now` (it turns PENDING later).
    pub fn changes_after(&self, now: i64) -> bool {
        self.status == m::OperationStatus::Submitted && self.pending_at.is_some_and(|at| at > now)
    }

    /// Writes what it reads as at `now` into the record (before a step moves it on).
    pub fn settle(&mut self, now: i64) {
        (self.status, self.update_date) = self.status_at(now);
        if self.status != m::OperationStatus::Submitted {
            self.pending_at = None;
        }
    }

    /// Whether the operation has ended.
    pub fn is_terminal(&self) -> bool {
        matches!(self.status, m::OperationStatus::Success | m::OperationStatus::Fail)
    }
}

/// A namespace as AWS RAM shares it: `arn:aws:servicediscovery:{region}:{owner}:namespace/{id}`,
/// shareable while its creation has succeeded.
pub const SHAREABLE_NAMESPACE: crate::registry::Shareable = crate::registry::Shareable {
    resource_type: "servicediscovery:Namespace",
    arn_service: "servicediscovery",
    arn_kind: "namespace",
    exists: |tx, account, region, id| {
        let ns = crate::store::get_json::<NamespaceRec>(tx, &Keys::new(account, region).namespace(id))?;
        Ok(ns.is_some_and(|ns| ns.state == NamespaceState::Active))
    },
};

/// The key space of one account and region.
#[derive(Debug, Clone)]
pub struct Keys {
    /// `sd/{account}/{region}/`.
    pub scope: String,
}

impl Keys {
    /// The key space of `account` in `region`.
    pub fn new(account: &str, region: &str) -> Self {
        Keys { scope: format!("{KEY_PREFIX}{account}/{region}/") }
    }
    /// From an operation reference `"{account}/{region}/{op_id}"`.
    pub fn from_op_ref(op_ref: &str) -> Option<(Self, String)> {
        let mut it = op_ref.splitn(3, '/');
        let (a, r, id) = (it.next()?, it.next()?, it.next()?);
        Some((Keys::new(a, r), id.to_string()))
    }
    /// The engine's reference of an operation.
    pub fn op_ref(account: &str, region: &str, op_id: &str) -> String {
        format!("{account}/{region}/{op_id}")
    }
    /// The prefix of every namespace document.
    pub fn namespaces(&self) -> String {
        format!("{}ns/", self.scope)
    }
    /// The namespace document `id`.
    pub fn namespace(&self, id: &str) -> String {
        format!("{}ns/{id}", self.scope)
    }
    /// The reservation of an HTTP name (its value: the namespace id).
    pub fn http_name(&self, name: &str) -> String {
        format!("{}nsidx/http/{name}", self.scope)
    }
    /// The reservation of a DNS zone name: per VPC for private namespaces, per account for public ones.
    pub fn zone_name(&self, ns_type: m::NamespaceType, vpc: Option<&str>, name: &str) -> String {
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        match vpc {
            Some(vpc) if ns_type == m::NamespaceType::DnsPrivate => {
                format!("{}nsidx/vpc/{vpc}/{name}", self.scope)
            }
            _ => format!("{}nsidx/public/{name}", self.scope),
        }
    }
    /// The prefix of every service document.
    pub fn services(&self) -> String {
        format!("{}srv/", self.scope)
    }
    /// The service document `id`.
    pub fn service(&self, id: &str) -> String {
        format!("{}srv/{id}", self.scope)
    }
    /// The prefix of the service name reservations of namespace `ns`.
    pub fn service_name_prefix(&self, ns: &str) -> String {
        format!("{}srvidx/{ns}/", self.scope)
    }
    /// The reservation of service name `key` in namespace `ns`.
    pub fn service_name(&self, ns: &str, key: &str) -> String {
        format!("{}srvidx/{ns}/{key}", self.scope)
    }
    /// The prefix of the instances of service `srv`.
    pub fn instances(&self, srv: &str) -> String {
        format!("{}inst/{srv}/", self.scope)
    }
    /// The instance document `id` of service `srv`.
    pub fn instance(&self, srv: &str, id: &str) -> String {
        format!("{}inst/{srv}/{id}", self.scope)
    }
    /// The operation document `id`.
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
    /// The prefix of the operation index ordered newest first.
    pub fn operations_newest_first(&self) -> String {
        format!("{}opnew/", self.scope)
    }
    /// The index entry of operation `id` created at `create_ms`, in the key space of the account
    /// that asked for it (its value: empty, or the owner's account when the operation is filed in
    /// the owner's key space).
    pub fn operation_by_time(&self, create_ms: i64, id: &str) -> String {
        let head = format!("{}opnew/", self.scope);
        crate::store::key_with_hex16(&head, (i64::MAX - create_ms.max(0)) as u64, &["/", id])
    }
    /// The in-flight marker of resource `what`.
    pub fn busy(&self, what: &str) -> String {
        format!("{}busy/{what}", self.scope)
    }
    /// The idempotency record of `token` sent to `api`.
    pub fn token(&self, api: &str, token: &str) -> String {
        format!("{}token/{api}/{token}", self.scope)
    }
    /// The tags of the resource `arn`.
    pub fn tags(&self, arn: &str) -> String {
        format!("{}tags/{arn}", self.scope)
    }
}

const BASE32: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";

fn random_chars(alphabet: &[u8], n: usize) -> String {
    let mut rng = rand::thread_rng();
    if alphabet.len() == 32 {
        // Five random bits per character, twelve characters per draw.
        let mut out = String::with_capacity(n);
        while out.len() < n {
            let mut bits: u64 = rng.gen();
            for _ in 0..12.min(n - out.len()) {
                out.push(alphabet[(bits & 31) as usize] as char);
                bits >>= 5;
            }
        }
        return out;
    }
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

    /// The typed records write back the documents an earlier build stored: the same members in
    /// the same order, except that the empty optional members of an operation, a service and an
    /// instance (a `null` an earlier build wrote) are left out, which reads back the same.
    #[test]
    fn stored_documents_round_trip_unchanged() {
        let snapshot: serde_json::Value =
            serde_json::from_str(include_str!("../../tests/fixtures/snapshot-v2.json")).expect("the fixture is JSON");
        fn same<T: serde::de::DeserializeOwned + Serialize>(key: &str, stored: &str) {
            let rec: T = serde_json::from_str(stored).unwrap_or_else(|e| panic!("{key}: {e}"));
            let mut want = stored.to_string();
            let empties: &[&str] = if key.contains("/op/") {
                &["error_code", "error_message", "busy_key", "fault"]
            } else if key.contains("/srv/") {
                &["description", "routing_policy", "dns_records", "health_check", "creator_request_id"]
            } else if key.contains("/inst/") {
                &["creator_request_id"]
            } else {
                &[]
            };
            for empty in empties {
                want = want.replace(&format!(",\"{empty}\":null"), "");
            }
            assert_eq!(serde_json::to_string(&rec).expect("encodes"), want, "{key}");
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
