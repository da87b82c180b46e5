//! The admin API under `/_localplane/`: health now; timing, faults, advance, reset and snapshots
//! build on the same handler.

use crate::server::App;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Response, StatusCode};

fn json(status: StatusCode, body: serde_json::Value, request_id: &str) -> Response<Body> {
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert("content-type", HeaderValue::from_static("application/json"));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        resp.headers_mut().insert("x-amzn-requestid", v);
    }
    resp
}

/// Answers an admin request.
pub async fn handle(
    _app: &App,
    method: &str,
    path: &str,
    _req: Request,
    request_id: &str,
) -> Response<Body> {
    match (method, path) {
        ("GET", "/_localplane/health") => json(
            StatusCode::OK,
            serde_json::json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}),
            request_id,
        ),
        _ => json(
            StatusCode::NOT_FOUND,
            serde_json::json!({"message": format!("No admin endpoint {method} {path}")}),
            request_id,
        ),
    }
}
