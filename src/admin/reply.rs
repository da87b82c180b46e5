//! How admin calls read their requests and answer: JSON bodies, query parameters, JSON replies
//! and errors that say what to do.

use crate::store::StoreError;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Response, StatusCode};
use serde_json::{json, Value};

/// The largest admin request body (a snapshot can be big).
const MAX_ADMIN_BODY: usize = 256 * 1024 * 1024;

/// A JSON reply.
pub fn reply(status: StatusCode, body: Value, request_id: &str) -> Response<Body> {
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert("content-type", HeaderValue::from_static("application/json"));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        resp.headers_mut().insert("x-amzn-requestid", v);
    }
    resp
}

/// An error reply `{"message": …}`.
pub fn error(status: StatusCode, message: impl std::fmt::Display, request_id: &str) -> Response<Body> {
    reply(status, json!({ "message": message.to_string() }), request_id)
}

/// A store failure: 503 while the store is unreachable (retry), else 500.
pub fn store_error(e: StoreError, request_id: &str) -> Response<Body> {
    let status = match e {
        StoreError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error(status, e, request_id)
}

/// The request's JSON body; an empty body is `{}`.
pub async fn body_json(req: Request) -> Result<Value, String> {
    let bytes = axum::body::to_bytes(req.into_body(), MAX_ADMIN_BODY)
        .await
        .map_err(|e| format!("cannot read the body: {e}"))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    serde_json::from_slice(&bytes).map_err(|e| format!("the body is not valid JSON: {e}"))
}

/// The decoded value of query parameter `name`.
pub fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    crate::wire::rest::parse_query(query).into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}
