//! Entry points of the decoders that face untrusted input, shared by the `cargo fuzz` targets in
//! `fuzz/` and by the test that replays their committed corpus. Each takes arbitrary bytes and must
//! return without panicking, whatever the bytes are.

use crate::wire::shape::Protocol;
use crate::wire::{self, rest, sigv4};

/// Picks an operation name of a model from the first input byte.
fn pick<'a>(data: &'a [u8], ops: &'static [crate::wire::shape::OperationInfo]) -> (&'static str, &'a [u8]) {
    match data.split_first() {
        Some((b, rest)) => (ops[usize::from(*b) % ops.len()].name, rest),
        None => (ops[0].name, data),
    }
}

/// An awsJson1_1 Cloud Map body: decode, then validate against the chosen operation's input.
pub fn awsjson_body(data: &[u8]) {
    let (op, body) = pick(data, crate::model::servicediscovery::OPERATIONS);
    if let Ok(doc) = wire::decode_rpc_body(Protocol::AwsJson11, body) {
        let _ = crate::model::servicediscovery::validate_input(op, &doc);
    }
}

/// An rpcv2Cbor Cloud Map body: decode, then validate against the chosen operation's input.
pub fn cbor_body(data: &[u8]) {
    let (op, body) = pick(data, crate::model::servicediscovery::OPERATIONS);
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
    let _ = wire::classify(method, path, |_| None);
    let Some((op, labels)) = rest::match_operation(method, path, crate::model::kafkaconnect::OPERATIONS) else {
        return;
    };
    let doc = serde_json::from_str(body).unwrap_or(serde_json::Value::Null);
    let bad = &crate::model::kafkaconnect::errors::BAD_REQUEST_EXCEPTION;
    if let Ok(input) = rest::input_document(op, labels, &rest::parse_query(query), doc, bad) {
        let _ = crate::model::kafkaconnect::validate_input(op.name, &input);
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
    };
    let _ = sigv4::verify::verify(&req, 1_700_000_000, |k| (k == "AKIDEXAMPLE").then(|| "secret".to_string()));
}

/// An admin API body: a fault rule and a snapshot document.
pub fn admin_body(data: &[u8]) {
    if let Ok(rule) = serde_json::from_slice::<crate::engine::FaultRule>(data) {
        let _ = crate::admin::validate_rule(&rule);
    }
    if let Ok(doc) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = crate::admin::check_snapshot(&doc);
        if let Some(profile) = doc.get("profile").and_then(|p| p.as_str()) {
            let _ = profile.parse::<crate::engine::TimingProfile>();
        }
    }
}

/// A configuration file.
pub fn config_file(data: &[u8]) {
    let _ = crate::config::FileConfig::parse(&String::from_utf8_lossy(data));
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
];
