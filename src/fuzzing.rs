//! Entry points of the decoders that face untrusted input, shared by the `cargo fuzz` targets in
//! `fuzz/` and by the test that replays their committed corpus. Each takes arbitrary bytes and must
//! return without panicking, whatever the bytes are.

use crate::wire::shape::Protocol;
use crate::wire::{self, rest, sigv4};

/// Picks an operation of a model from the first input byte.
fn pick<'a, T: Copy>(data: &'a [u8], ops: &'static [T]) -> (T, &'a [u8]) {
    match data.split_first() {
        Some((b, rest)) => (ops[usize::from(*b) % ops.len()], rest),
        None => (ops[0], data),
    }
}

/// An awsJson1_1 Cloud Map body: decode, then validate against the chosen operation's input.
pub fn awsjson_body(data: &[u8]) {
    let (op, body) = pick(data, crate::model::servicediscovery::Operation::ALL);
    if let Ok(doc) = wire::decode_rpc_body(Protocol::AwsJson11, body) {
        let _ = crate::model::servicediscovery::validate_input(op, &doc);
    }
}

/// An rpcv2Cbor Cloud Map body: decode, then validate against the chosen operation's input.
pub fn cbor_body(data: &[u8]) {
    let (op, body) = pick(data, crate::model::servicediscovery::Operation::ALL);
    if let Ok(doc) = wire::decode_rpc_body(Protocol::RpcV2Cbor, body) {
        let _ = crate::model::servicediscovery::validate_input(op, &doc);
    }
}

/// A restJson1 request written as `METHOD PATH[?QUERY]\nBODY`: route, bind labels, query and body,
/// then validate against the MSK Connect operation it matched.
pub fn rest_request(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (head, body) = text.split_once('\n').unwrap_or((&text, ""));
    let (method, target) = head.split_once(' ').unwrap_or(("GET", head));
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (target, None),
    };
    let wires: Vec<_> = crate::model::Service::ALL.iter().map(|s| s.wire()).collect();
    let _ = wire::classify(&wires, method, path, |_| None);
    let Some((op, labels)) = rest::match_operation(method, path, crate::model::kafkaconnect::OPERATIONS) else {
        return;
    };
    let doc = serde_json::from_str(body).unwrap_or(serde_json::Value::Null);
    let bad = &crate::model::kafkaconnect::errors::BAD_REQUEST_EXCEPTION;
    if let Ok(input) = rest::input_document(op, labels, &rest::parse_query(query), doc, bad) {
        if let Some(op) = crate::model::kafkaconnect::Operation::from_name(op.name) {
            let _ = crate::model::kafkaconnect::validate_input(op, &input);
        }
    }
}

/// A SigV4 request: the first line is the `Authorization` header, the following `name: value`
/// lines are headers, a blank line, then the body. Parsed and verified against a fixed key.
pub fn sigv4_header(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (head, body) = text.split_once("\n\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let auth = lines.next().unwrap_or("").to_string();
    let _ = sigv4::parse_authorization(&auth);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let lookup = |name: &str| -> Option<String> {
        if name == "authorization" {
            return Some(auth.clone());
        }
        headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
    };
    let req = sigv4::verify::SignedRequest {
        method: "POST",
        raw_path: "/v1/connectors/arn%3Aaws%3Akafkaconnect",
        raw_query: Some("currentVersion=A&x=%2F"),
        header: &lookup,
        body: body.as_bytes(),
        service: "kafkaconnect",
    };
    let _ = sigv4::verify::verify(&req, 1_700_000_000, |k| (k == "AKIDEXAMPLE").then(|| "secret".to_string()));
}

/// An admin API body: a fault rule and a snapshot document.
pub fn admin_body(data: &[u8]) {
    if let Ok(rule) = serde_json::from_slice::<crate::engine::FaultRule>(data) {
        let _ = crate::admin::validate_rule(&rule);
    }
    if let Ok(doc) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = crate::admin::snapshot::check_snapshot(&doc);
        if let Some(profile) = doc.get("profile").and_then(|p| p.as_str()) {
            let _ = profile.parse::<crate::engine::TimingProfile>();
        }
    }
}

/// A configuration file.
pub fn config_file(data: &[u8]) {
    let _ = crate::config::FileConfig::parse(&String::from_utf8_lossy(data));
}

/// A transaction over a map in memory: the DNS target's store.
struct MemTx(std::collections::BTreeMap<String, Vec<u8>>);

impl crate::store::Tx for MemTx {
    fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, crate::store::StoreError> {
        Ok(self.0.get(key).cloned())
    }
    fn put(&mut self, key: &str, value: &[u8]) -> Result<(), crate::store::StoreError> {
        self.0.insert(key.to_string(), value.to_vec());
        Ok(())
    }
    fn delete(&mut self, key: &str) -> Result<bool, crate::store::StoreError> {
        Ok(self.0.remove(key).is_some())
    }
    fn scan(
        &mut self,
        prefix: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<(String, Vec<u8>)>, crate::store::StoreError> {
        Ok(self
            .0
            .range(prefix.to_string()..crate::store::prefix_end(prefix))
            .filter(|(k, _)| after.is_none_or(|a| k.as_str() > a))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }
    fn delete_prefix(&mut self, prefix: &str) -> Result<usize, crate::store::StoreError> {
        let keys: Vec<String> =
            self.0.range(prefix.to_string()..crate::store::prefix_end(prefix)).map(|(k, _)| k.clone()).collect();
        for k in &keys {
            self.0.remove(k);
        }
        Ok(keys.len())
    }
}

/// A private DNS namespace `fuzz.local` with a MULTIVALUE A+SRV service `web` of 10 instances.
fn dns_fixture() -> MemTx {
    use crate::cloudmap::records::*;
    use crate::model::servicediscovery as m;
    use crate::store::put_json;
    let mut tx = MemTx(Default::default());
    let keys = Keys::new("000000000000", "us-east-1");
    let ns = NamespaceRec {
        id: "ns-fuzzfuzzfuzzfuzz".into(),
        arn: "arn:aws:servicediscovery:us-east-1:000000000000:namespace/ns-fuzzfuzzfuzzfuzz".into(),
        name: "fuzz.local".into(),
        http_name: "fuzz.local".into(),
        ns_type: m::NamespaceType::DnsPrivate,
        description: None,
        vpc: Some("vpc-1".into()),
        hosted_zone_id: Some("ZFUZZ".into()),
        soa_ttl: Some(60),
        create_date: 0,
        creator_request_id: None,
        owner: "000000000000".into(),
        state: NamespaceState::Active,
        service_count: 1,
    };
    let srv = ServiceRec {
        id: "srv-fuzzfuzzfuzzfuzz".into(),
        arn: "arn:aws:servicediscovery:us-east-1:000000000000:service/srv-fuzzfuzzfuzzfuzz".into(),
        name: "web".into(),
        namespace_id: ns.id.clone(),
        description: None,
        routing_policy: Some(m::RoutingPolicy::Multivalue),
        dns_records: Some(vec![
            DnsRecordRec { record_type: m::RecordType::A, ttl: 30 },
            DnsRecordRec { record_type: m::RecordType::Srv, ttl: 30 },
        ]),
        service_type: m::ServiceType::DnsHttp,
        health_check: None,
        custom_health: true,
        create_date: 0,
        creator_request_id: None,
        created_by: "000000000000".into(),
        owner: "000000000000".into(),
        instance_count: 10,
        revision: 1,
        attributes: Default::default(),
        instances_tag: 0,
        others_registered: false,
    };
    let _ = put_json(&mut tx, &keys.namespace(&ns.id), &ns);
    let _ = put_json(&mut tx, &keys.service(&srv.id), &srv);
    let _ = crate::store::Tx::put(&mut tx, &keys.service_name(&ns.id, "web"), srv.id.as_bytes());
    for i in 0..10 {
        let inst = InstanceRec {
            id: format!("i-{i}"),
            service_id: srv.id.clone(),
            creator_request_id: None,
            attributes: [
                ("AWS_INSTANCE_IPV4".to_string(), format!("10.0.0.{i}")),
                ("AWS_INSTANCE_PORT".to_string(), "80".to_string()),
            ]
            .into_iter()
            .collect(),
            created_by: "000000000000".into(),
            health: if i % 3 == 0 { m::HealthStatus::Unhealthy } else { m::HealthStatus::Healthy },
        };
        let _ = put_json(&mut tx, &keys.instance(&srv.id, &inst.id), &inst);
    }
    tx
}

/// A DNS message: parsed, and each of its questions resolved against a fixture namespace.
pub fn dns_query(data: &[u8]) {
    let Ok(message) = hickory_proto::op::Message::from_vec(data) else { return };
    let mut tx = dns_fixture();
    let view = crate::dns::view::View::default();
    for q in message.queries.iter().take(4) {
        let _ = crate::dns::lookup::resolve(&mut tx, &view, q.name(), q.query_type(), &mut rand::thread_rng());
    }
}

/// A fuzz target: takes arbitrary bytes, must not panic.
pub type Target = fn(&[u8]);

/// Every target by name, for the corpus replay.
pub const TARGETS: &[(&str, Target)] = &[
    ("awsjson_body", awsjson_body),
    ("cbor_body", cbor_body),
    ("rest_request", rest_request),
    ("sigv4_header", sigv4_header),
    ("admin_body", admin_body),
    ("config_file", config_file),
    ("dns_query", dns_query),
];
