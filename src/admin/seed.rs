//! `POST /_localplane/seed`: applies the seed file in the body (YAML or JSON) and lists what it
//! created and what was already there; a bad file is a 400 naming the line and the reason.

use super::reply::{body_bytes, error, reply, MAX_ADMIN_BODY};
use crate::app::App;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{Response, StatusCode};
use serde_json::json;

/// `POST /_localplane/seed` with the text of a seed file.
pub async fn seed(app: &App, req: Request, request_id: &str) -> Response<Body> {
    let bytes = match body_bytes(req, MAX_ADMIN_BODY, request_id).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let Ok(text) = std::str::from_utf8(&bytes) else {
        return error(StatusCode::BAD_REQUEST, "the seed file is not UTF-8 text", request_id);
    };
    match crate::seed::seed(app, text).await {
        Ok(outcomes) => reply(StatusCode::OK, json!({ "seeded": outcomes }), request_id),
        Err(e) => reply(StatusCode::BAD_REQUEST, json!({ "message": e.to_string(), "line": e.line }), request_id),
    }
}
