//! The wire: which service, operation and protocol a request is (from the services' generated wire
//! tables, which the caller hands in: the wire knows no service by name); decoding its document;
//! encoding outputs and AWS errors back in the same protocol. Protocol quirks live here and nowhere else.

pub mod decode;
pub mod encode;
pub mod query;
pub mod rest;
pub mod shape;
pub mod sigv4;

use shape::{ApiError, ErrorShape, Json, OperationInfo, Protocol, WireService, SERIALIZATION_EXCEPTION};

/// The largest request body accepted.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Where a request goes. `service` is an index into the tables given to [`classify`].
#[derive(Debug)]
pub enum Route {
    /// An operation of a service.
    Operation {
        /// The service (index into the tables).
        service: usize,
        /// The operation.
        operation: &'static OperationInfo,
        /// The protocol it arrived in.
        protocol: Protocol,
        /// REST path labels: name → decoded value (empty for the RPC protocols).
        labels: Vec<(&'static str, String)>,
    },
    /// A request addressed to a service that names no operation of it.
    UnknownOperation {
        /// The service (index into the tables).
        service: usize,
        /// The protocol it arrived in.
        protocol: Protocol,
        /// What the request named (a target, an operation or a path), for the error message.
        name: String,
    },
    /// A query-protocol request (a form body) to service `service`, whose operation its body's
    /// `Action` names: known once the body is read.
    QueryAction {
        /// The service (index into the tables).
        service: usize,
    },
    /// Not an AWS API request of any service here.
    Other,
}

/// Classifies a request by method, raw path and headers (never by Host) against the services'
/// wire tables: an rpcv2Cbor path, then an `X-Amz-Target`, then the REST URI templates.
pub fn classify(
    services: &[&'static WireService],
    method: &str,
    raw_path: &str,
    header: impl Fn(&str) -> Option<String>,
) -> Route {
    if method == "POST" {
        if let Some((shape, op)) = cbor_operation(raw_path) {
            if header("smithy-protocol").is_some_and(|v| v.eq_ignore_ascii_case("rpc-v2-cbor")) {
                let named = |w: &WireService| {
                    w.target_prefix.is_some_and(|p| shape == p || shape == format!("{}.{p}", w.smithy_namespace))
                };
                if let Some(i) = services.iter().position(|w| w.speaks(Protocol::RpcV2Cbor) && named(w)) {
                    return rpc_route(services, i, Protocol::RpcV2Cbor, op);
                }
            }
        }
        if let Some(target) = header("x-amz-target") {
            let json = |w: &&WireService| w.speaks(Protocol::AwsJson11);
            let addressed = services.iter().position(|w| {
                json(w) && w.target_prefix.is_some_and(|p| target.strip_prefix(p).is_some_and(|r| r.starts_with('.')))
            });
            if let Some(i) = addressed {
                let prefix_len = services[i].target_prefix.map_or(0, |p| p.len() + 1);
                return rpc_route(services, i, Protocol::AwsJson11, &target[prefix_len..]);
            }
            // A target of no service here: the JSON RPC service answers it has no such operation.
            if let Some(i) = services.iter().position(json) {
                return Route::UnknownOperation { service: i, protocol: Protocol::AwsJson11, name: target };
            }
        }
        if raw_path == "/" && query::is_form(header("content-type").as_deref()) {
            // The service the request is signed for, else the first that speaks the query protocol.
            let signed_for = header("authorization").and_then(|a| sigv4_service(&a));
            let query = |w: &&&WireService| w.speaks(Protocol::AwsQuery);
            let signed = services.iter().position(|w| query(&w) && signed_for.as_deref() == Some(w.name));
            if let Some(service) = signed.or_else(|| services.iter().position(|w| query(&w))) {
                return Route::QueryAction { service };
            }
        }
    }
    for (i, w) in services.iter().enumerate().filter(|(_, w)| w.speaks(Protocol::RestJson1)) {
        if let Some((operation, labels)) = rest::match_operation(method, raw_path, w.operations) {
            return Route::Operation { service: i, operation, protocol: Protocol::RestJson1, labels };
        }
    }
    // A path under a REST service's first URI segment (`/v1/`, say) that matches none of its
    // operations is that service's unknown operation.
    for (i, w) in services.iter().enumerate().filter(|(_, w)| w.speaks(Protocol::RestJson1)) {
        let under = |op: &OperationInfo| {
            let segment = op.uri.trim_start_matches('/').split(['/', '?']).next().unwrap_or("");
            !segment.is_empty()
                && raw_path.strip_prefix('/').and_then(|p| p.strip_prefix(segment)).is_some_and(|r| r.starts_with('/'))
        };
        if w.operations.iter().any(under) {
            let name = format!("{method} {raw_path}");
            return Route::UnknownOperation { service: i, protocol: Protocol::RestJson1, name };
        }
    }
    Route::Other
}

/// The service of a SigV4 `Authorization` header's credential scope (`Credential=AK/DATE/REGION/SERVICE/aws4_request`).
fn sigv4_service(authorization: &str) -> Option<String> {
    let scope = authorization.split("Credential=").nth(1)?.split([',', ' ']).next()?;
    scope.split('/').nth(3).map(str::to_string)
}

/// The route of operation `name` of RPC service `i`.
fn rpc_route(services: &[&'static WireService], i: usize, protocol: Protocol, name: &str) -> Route {
    match services[i].operation(name) {
        Some(operation) => Route::Operation { service: i, operation, protocol, labels: Vec::new() },
        None => Route::UnknownOperation { service: i, protocol, name: name.to_string() },
    }
}

/// `…/service/<svc>/operation/<Op>` → (`<svc>`, `<Op>`).
fn cbor_operation(raw_path: &str) -> Option<(&str, &str)> {
    let segs: Vec<&str> = raw_path.trim_end_matches('/').rsplit('/').take(4).collect();
    if segs.len() != 4 || segs[1] != "operation" || segs[3] != "service" {
        return None;
    }
    Some((segs[2], segs[0]))
}

/// The input document of a request: the RPC body, or for REST the JSON body merged with the path
/// labels and query parameters; errors are `service`'s own.
pub fn input_document(
    service: &WireService,
    protocol: Protocol,
    operation: &OperationInfo,
    labels: Vec<(&'static str, String)>,
    query: Option<&str>,
    body: &[u8],
) -> Result<Json, ApiError> {
    if protocol != Protocol::RestJson1 {
        return decode_rpc_body(protocol, body);
    }
    let doc = if body.iter().all(u8::is_ascii_whitespace) {
        Json::Null
    } else {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::new(service.malformed_error, format!("The request body is not valid JSON: {e}")))?
    };
    rest::input_document(operation, labels, &rest::parse_query(query), doc, service.validation_error)
}

/// Decodes an RPC request body (JSON or CBOR) into a document; an empty body is `{}`.
pub fn decode_rpc_body(protocol: Protocol, body: &[u8]) -> Result<Json, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Json::Object(Default::default()));
    }
    match protocol {
        Protocol::AwsQuery => query::decode_form(body).map(|(_, params)| params),
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
        // rpcv2Cbor sends blobs as byte strings and strings as text strings; the models served
        // here have no blob member, so a byte string is always a string sent as the wrong type.
        // (A service with blob members needs its wire table to say where they are.)
        C::Bytes(_) => {
            return Err(ApiError::new(
                &SERIALIZATION_EXCEPTION,
                "A CBOR byte string was sent where the model expects a text string (major type 3)",
            ))
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

/// Encodes `err` the way `protocol` carries errors, for `service` (None: a request of no service).
/// Framework failures (500, 503) take the service's own error names where its model has them.
pub fn encode_error(protocol: Protocol, service: Option<&WireService>, err: &ApiError) -> ErrorResponse {
    use shape::Encoder;
    let own =
        |s: &'static ErrorShape, own: Option<&'static ErrorShape>| if std::ptr::eq(err.shape, s) { own } else { None };
    let shape: &ErrorShape = service
        .and_then(|w| {
            own(&shape::INTERNAL_FAILURE, w.internal_error)
                .or_else(|| own(&shape::SERVICE_UNAVAILABLE, w.unavailable_error))
        })
        .unwrap_or(err.shape);
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
        Protocol::AwsQuery => ErrorResponse {
            status: shape.status,
            content_type: query::CONTENT_TYPE,
            headers: vec![],
            body: query::error_body(shape, err),
        },
        Protocol::RpcV2Cbor => {
            let mut e = shape::CborEncoder::new();
            let namespace = service.map_or("com.amazonaws", |w| w.smithy_namespace);
            write_error_members(&mut e, format!("{namespace}#{}", shape.name), err);
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
