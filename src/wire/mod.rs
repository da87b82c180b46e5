//! The wire: which service, operation and protocol a request is; decoding its document; encoding
//! outputs and AWS errors back in the same protocol. Protocol quirks live here and nowhere else.

pub mod rest;
pub mod shape;
pub mod sigv4;

use shape::{ApiError, ErrorShape, Json, OperationInfo, Protocol, SERIALIZATION_EXCEPTION};

/// The `X-Amz-Target` prefix and Smithy service name of Cloud Map.
pub const CLOUDMAP_TARGET_PREFIX: &str = "Route53AutoNaming_v20170314";
/// The Smithy namespace of Cloud Map's shapes (for CBOR error `__type`).
pub const CLOUDMAP_NAMESPACE: &str = "com.amazonaws.servicediscovery";

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Where a request goes.
#[derive(Debug)]
pub enum Route {
    /// A Cloud Map operation in awsJson1_1 or rpcv2Cbor.
    CloudMap {
        /// Operation name.
        operation: String,
        /// Protocol.
        protocol: Protocol,
    },
    /// An MSK Connect operation with its decoded path labels.
    KafkaConnect {
        /// The operation.
        operation: &'static OperationInfo,
        /// Label name → decoded value.
        labels: Vec<(&'static str, String)>,
    },
    /// A request that looks like MSK Connect (`/v1/...`) but matches no operation.
    KafkaConnectUnknown,
    /// Not an AWS API request.
    Other,
}

/// Classifies a request by method, raw path and headers (never by Host).
pub fn classify(method: &str, raw_path: &str, header: impl Fn(&str) -> Option<String>) -> Route {
    if method == "POST" {
        if let Some(cbor) = cbor_operation(raw_path) {
            if header("smithy-protocol").is_some_and(|v| v.eq_ignore_ascii_case("rpc-v2-cbor")) {
                return Route::CloudMap { operation: cbor, protocol: Protocol::RpcV2Cbor };
            }
        }
        if let Some(target) = header("x-amz-target") {
            if let Some(op) = target.strip_prefix(CLOUDMAP_TARGET_PREFIX).and_then(|r| r.strip_prefix('.')) {
                return Route::CloudMap { operation: op.to_string(), protocol: Protocol::AwsJson11 };
            }
            return Route::CloudMap { operation: target, protocol: Protocol::AwsJson11 };
        }
    }
    if raw_path.starts_with("/v1/") {
        return match rest::match_operation(method, raw_path, crate::model::kafkaconnect::OPERATIONS) {
            Some((operation, labels)) => Route::KafkaConnect { operation, labels },
            None => Route::KafkaConnectUnknown,
        };
    }
    Route::Other
}

/// `…/service/<svc>/operation/<Op>` → `Op` when `<svc>` is Cloud Map's service shape.
fn cbor_operation(raw_path: &str) -> Option<String> {
    let segs: Vec<&str> = raw_path.trim_end_matches('/').rsplit('/').take(4).collect();
    if segs.len() != 4 || segs[1] != "operation" || segs[3] != "service" {
        return None;
    }
    let svc = segs[2];
    let absolute = format!("{CLOUDMAP_NAMESPACE}.{CLOUDMAP_TARGET_PREFIX}");
    (svc == CLOUDMAP_TARGET_PREFIX || svc == absolute).then(|| segs[0].to_string())
}

/// Decodes an RPC request body (JSON or CBOR) into a document; an empty body is `{}`.
pub fn decode_rpc_body(protocol: Protocol, body: &[u8]) -> Result<Json, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Json::Object(Default::default()));
    }
    match protocol {
        Protocol::RpcV2Cbor => {
            let v: ciborium::Value = ciborium::de::from_reader(body).map_err(|e| {
                ApiError::new(&SERIALIZATION_EXCEPTION, format!("The request body is not valid CBOR: {e}"))
            })?;
            cbor_to_json(v, 0)
        }
        _ => serde_json::from_slice(body)
            .map_err(|e| ApiError::new(&SERIALIZATION_EXCEPTION, format!("The request body is not valid JSON: {e}"))),
    }
}

/// How deeply nested a CBOR document may be.
const MAX_DEPTH: usize = 64;

fn cbor_to_json(v: ciborium::Value, depth: usize) -> Result<Json, ApiError> {
    use ciborium::Value as C;
    if depth > MAX_DEPTH {
        return Err(ApiError::new(&SERIALIZATION_EXCEPTION, "The CBOR document is nested too deeply"));
    }
    Ok(match v {
        C::Null => Json::Null,
        C::Bool(b) => Json::Bool(b),
        C::Integer(i) => {
            let i: i128 = i.into();
            match i64::try_from(i) {
                Ok(n) => Json::from(n),
                Err(_) => return Err(ApiError::new(&SERIALIZATION_EXCEPTION, "CBOR integer out of range")),
            }
        }
        C::Float(f) => serde_json::Number::from_f64(f).map(Json::Number).unwrap_or(Json::Null),
        C::Text(s) => Json::String(s),
        C::Bytes(b) => {
            use base64::Engine;
            Json::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        C::Array(items) => {
            Json::Array(items.into_iter().map(|i| cbor_to_json(i, depth + 1)).collect::<Result<_, _>>()?)
        }
        C::Map(entries) => {
            let mut m = serde_json::Map::new();
            for (k, v) in entries {
                let C::Text(k) = k else {
                    return Err(ApiError::new(&SERIALIZATION_EXCEPTION, "CBOR map keys must be text strings"));
                };
                let v = cbor_to_json(v, depth + 1)?;
                if !v.is_null() {
                    m.insert(k, v);
                }
            }
            Json::Object(m)
        }
        C::Tag(_, inner) => cbor_to_json(*inner, depth + 1)?,
        _ => Json::Null,
    })
}

/// The encoded body and headers of an error response.
pub struct ErrorResponse {
    /// HTTP status.
    pub status: u16,
    /// Content type of the body.
    pub content_type: &'static str,
    /// Extra headers.
    pub headers: Vec<(&'static str, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// Encodes `err` the way `protocol` carries errors.
pub fn encode_error(protocol: Protocol, err: &ApiError) -> ErrorResponse {
    use shape::Encoder;
    let shape: &ErrorShape = err.shape;
    match protocol {
        Protocol::RestJson1 => {
            let mut e = shape::JsonEncoder::new(shape::JsonTimestamps::Iso8601);
            e.begin_map(1);
            e.key("message");
            e.str(&err.message);
            e.end_map();
            ErrorResponse {
                status: shape.status,
                content_type: "application/json",
                headers: vec![("x-amzn-ErrorType", shape.name.to_string())],
                body: e.finish(),
            }
        }
        Protocol::AwsJson11 => {
            let mut e = shape::JsonEncoder::new(shape::JsonTimestamps::EpochSeconds);
            write_error_members(&mut e, shape.name.to_string(), err);
            ErrorResponse {
                status: shape.status,
                content_type: "application/x-amz-json-1.1",
                headers: vec![],
                body: e.finish(),
            }
        }
        Protocol::RpcV2Cbor => {
            let mut e = shape::CborEncoder::new();
            write_error_members(&mut e, format!("{CLOUDMAP_NAMESPACE}#{}", shape.name), err);
            ErrorResponse {
                status: shape.status,
                content_type: "application/cbor",
                headers: vec![("smithy-protocol", "rpc-v2-cbor".to_string())],
                body: e.finish(),
            }
        }
    }
}

fn write_error_members<E: shape::Encoder>(e: &mut E, type_name: String, err: &ApiError) {
    e.begin_map(2 + err.fields.len());
    e.key("__type");
    e.str(&type_name);
    e.key("Message");
    e.str(&err.message);
    for (k, v) in &err.fields {
        e.key(k);
        e.str(v);
    }
    e.end_map();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_cbor_and_json() {
        let h = |name: &str| match name {
            "smithy-protocol" => Some("rpc-v2-cbor".to_string()),
            _ => None,
        };
        match classify("POST", "/prefix/service/Route53AutoNaming_v20170314/operation/GetOperation", h) {
            Route::CloudMap { operation, protocol } => {
                assert_eq!(operation, "GetOperation");
                assert_eq!(protocol, Protocol::RpcV2Cbor);
            }
            other => panic!("{other:?}"),
        }
        let h = |name: &str| (name == "x-amz-target").then(|| "Route53AutoNaming_v20170314.ListNamespaces".to_string());
        assert!(matches!(classify("POST", "/", h), Route::CloudMap { protocol: Protocol::AwsJson11, .. }));
    }

    #[test]
    fn cbor_error_matches_reference_bytes() {
        let err = ApiError::new(&crate::model::servicediscovery::errors::OPERATION_NOT_FOUND, "Operation not found");
        let r = encode_error(Protocol::RpcV2Cbor, &err);
        assert_eq!(r.body.len(), 86);
        assert_eq!(r.status, 404);
    }
}
