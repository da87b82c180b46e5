//! Fault rules: listing, adding (checked against the registry's services), removing.

use super::reply::{body_json, error, reply, store_error};
use crate::app::App;
use crate::engine::FaultRule;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{Response, StatusCode};
use serde_json::json;

/// Checks a fault rule against the services of this binary.
pub fn validate_rule(rule: &FaultRule) -> Result<(), String> {
    crate::registry::validate_rule(crate::services::ALL, rule)
}

/// `GET /_localplane/faults`.
pub async fn list(app: &App, request_id: &str) -> Response<Body> {
    match app.engine.store().read(|tx| crate::engine::faults::list(tx)).await {
        Ok(rules) => reply(StatusCode::OK, json!({ "faults": rules }), request_id),
        Err(e) => store_error(e, request_id),
    }
}

/// `POST /_localplane/faults`.
pub async fn add(app: &App, req: Request, request_id: &str) -> Response<Body> {
    let body = match body_json(req, request_id).await {
        Ok(b) => b,
        Err(refused) => return refused,
    };
    let rule: FaultRule = match serde_json::from_value(body) {
        Ok(r) => r,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("not a fault rule: {e}"), request_id),
    };
    if let Err(e) = validate_rule(&rule) {
        return error(StatusCode::BAD_REQUEST, e, request_id);
    }
    match app.engine.add_fault(rule).await {
        Ok(rule) => reply(StatusCode::CREATED, json!({ "id": rule.id, "fault": rule }), request_id),
        Err(e) => store_error(e, request_id),
    }
}

/// `DELETE /_localplane/faults`.
pub async fn clear(app: &App, request_id: &str) -> Response<Body> {
    match app.engine.store().write(|tx| crate::engine::faults::clear(tx)).await {
        Ok(n) => {
            let _ = app.engine.refresh_fault_flag().await;
            reply(StatusCode::OK, json!({ "deleted": n }), request_id)
        }
        Err(e) => store_error(e, request_id),
    }
}

/// `DELETE /_localplane/faults/{id}`.
pub async fn remove(app: &App, id: String, request_id: &str) -> Response<Body> {
    match app.engine.store().write(move |tx| crate::engine::faults::remove(tx, &id)).await {
        Ok(true) => {
            let _ = app.engine.refresh_fault_flag().await;
            reply(StatusCode::OK, json!({ "deleted": 1 }), request_id)
        }
        Ok(false) => error(StatusCode::NOT_FOUND, "no such fault rule", request_id),
        Err(e) => store_error(e, request_id),
    }
}
