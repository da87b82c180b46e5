//! How admin calls read their requests and answer: JSON bodies, query parameters, JSON replies
//! and errors that say what to do.

use crate::store::StoreError;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Response, StatusCode};
use serde_json::{json, Value};

/// The largest body of an admin call (a fault rule or a timing profile is a few hundred bytes).
pub const MAX_ADMIN_BODY: usize = 1024 * 1024;

/// The largest snapshot `PUT /_localplane/snapshot` takes.
pub const MAX_SNAPSHOT_BODY: usize = 256 * 1024 * 1024;

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

/// The request's body, at most `limit` bytes: a larger one (declared or sent) is a 413 reply, sent
/// before the body is read when its `Content-Length` says so.
pub async fn body_bytes(req: Request, limit: usize, request_id: &str) -> Result<axum::body::Bytes, Response<Body>> {
    let too_large = || {
        error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the body is larger than this call's limit of {limit} bytes (admin calls take {MAX_ADMIN_BODY} bytes, a snapshot import {MAX_SNAPSHOT_BODY})"
            ),
            request_id,
        )
    };
    let declared =
        req.headers().get("content-length").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    match axum::body::to_bytes(req.into_body(), limit).await {
        Ok(bytes) => Ok(bytes),
        Err(e) if std::error::Error::source(&e).is_some_and(|s| s.is::<http_body_util::LengthLimitError>()) => {
            Err(too_large())
        }
        Err(e) => Err(error(StatusCode::BAD_REQUEST, format!("cannot read the body: {e}"), request_id)),
    }
}

/// The request's JSON body (at most [`MAX_ADMIN_BODY`] bytes); an empty body is `{}`.
pub async fn body_json(req: Request, request_id: &str) -> Result<Value, Response<Body>> {
    let bytes = body_bytes(req, MAX_ADMIN_BODY, request_id).await?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| error(StatusCode::BAD_REQUEST, format!("the body is not valid JSON: {e}"), request_id))
}

/// The decoded value of query parameter `name`.
pub fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    crate::wire::rest::parse_query(query).into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bodies_over_the_limit_are_413_declared_or_not() {
        let streamed = Request::new(Body::from(vec![b' '; MAX_ADMIN_BODY + 1]));
        let refused = body_bytes(streamed, MAX_ADMIN_BODY, "r").await.unwrap_err();
        assert_eq!(refused.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let mut declared = Request::new(Body::empty());
        declared.headers_mut().insert("content-length", HeaderValue::from_static("2000000"));
        assert_eq!(
            body_bytes(declared, MAX_ADMIN_BODY, "r").await.unwrap_err().status(),
            StatusCode::PAYLOAD_TOO_LARGE
        );
        let within = Request::new(Body::from(vec![b' '; MAX_ADMIN_BODY]));
        assert_eq!(body_bytes(within, MAX_ADMIN_BODY, "r").await.map(|b| b.len()).ok(), Some(MAX_ADMIN_BODY));
    }
}
