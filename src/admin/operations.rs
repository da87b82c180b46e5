//! Health, metrics, the timing profile, and the operations of every service: listing them and
//! advancing them by hand (the `manual` profile).

use super::reply::{body_json, error, query_param, reply, store_error};
use crate::app::App;
use crate::engine::{Timing, TimingProfile};
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Response, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// `GET /_localplane/health`.
pub fn health(request_id: &str) -> Response<Body> {
    reply(StatusCode::OK, json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}), request_id)
}

/// `GET /metrics`.
pub async fn metrics(app: &App) -> Response<Body> {
    let mut resp = Response::new(Body::from(crate::metrics::render(app).await));
    resp.headers_mut().insert("content-type", HeaderValue::from_static("text/plain; version=0.0.4"));
    resp
}

/// `GET /_localplane/timing`.
pub fn timing(app: &App, request_id: &str) -> Response<Body> {
    let t: Timing = app.engine.timing();
    reply(StatusCode::OK, json!({ "profile": t.profile.as_str(), "overrides": t.overrides }), request_id)
}

/// `PUT /_localplane/timing`.
pub async fn set_timing(app: &App, req: Request, request_id: &str) -> Response<Body> {
    let body = match body_json(req, request_id).await {
        Ok(b) => b,
        Err(refused) => return refused,
    };
    let Some(profile) = body.get("profile").and_then(Value::as_str) else {
        return error(
            StatusCode::BAD_REQUEST,
            "the body must be {\"profile\": \"instant|fast|realistic|manual\"}",
            request_id,
        );
    };
    let profile: TimingProfile = match profile.parse() {
        Ok(p) => p,
        Err(e) => return error(StatusCode::BAD_REQUEST, e, request_id),
    };
    let mut timing = app.engine.timing();
    timing.profile = profile;
    if let Some(overrides) = body.get("overrides") {
        match serde_json::from_value::<BTreeMap<String, i64>>(overrides.clone()) {
            Ok(o) if o.values().all(|v| *v >= 0) => timing.overrides = o,
            _ => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "overrides must map operation types to milliseconds (>= 0)",
                    request_id,
                )
            }
        }
    }
    if let Err(e) = app.engine.set_timing(timing).await {
        return store_error(e, request_id);
    }
    self::timing(app, request_id)
}

/// `GET /_localplane/operations[?limit=N]`: every unfinished operation and the newest finished
/// ones, `limit` (default 1,000) in all.
pub async fn list(app: &App, query: Option<&str>, request_id: &str) -> Response<Body> {
    let limit = match query_param(query, "limit") {
        None => crate::engine::LISTED_OPERATIONS,
        Some(text) => match text.parse::<usize>() {
            Ok(n) if (1..=1_000_000).contains(&n) => n,
            _ => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("limit must be a whole number from 1 to 1000000, not {text}"),
                    request_id,
                )
            }
        },
    };
    match app.engine.list_operations(limit).await {
        Ok(ops) => reply(StatusCode::OK, json!({ "operations": ops }), request_id),
        Err(e) => store_error(e, request_id),
    }
}

/// `POST /_localplane/operations/advance`.
pub async fn advance_all(app: &App, request_id: &str) -> Response<Body> {
    match app.engine.advance_all().await {
        Ok(n) => reply(StatusCode::OK, json!({ "advanced": n }), request_id),
        Err(e) => store_error(e, request_id),
    }
}

/// `POST /_localplane/operations/{id}/advance[?until=next|terminal]`.
pub async fn advance(app: &App, id: &str, query: Option<&str>, request_id: &str) -> Response<Body> {
    let to_end = match query_param(query, "until").as_deref() {
        None | Some("next") => false,
        Some("terminal") => true,
        Some(other) => {
            return error(StatusCode::BAD_REQUEST, format!("until must be next or terminal, not {other}"), request_id)
        }
    };
    let found = match app.engine.find_operation(id).await {
        Ok(f) => f,
        Err(e) => return store_error(e, request_id),
    };
    let Some((service, op_ref)) = found else {
        return error(
            StatusCode::NOT_FOUND,
            format!("No operation {id}; list them with GET /_localplane/operations"),
            request_id,
        );
    };
    match app.engine.advance_operation(&service, &op_ref, to_end).await {
        Ok(view) => reply(StatusCode::OK, json!({ "operation": view }), request_id),
        Err(e) => store_error(e, request_id),
    }
}
