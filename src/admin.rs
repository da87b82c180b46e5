//! The admin API under `/_localplane/` (plus the reset aliases of moto and LocalStack): health,
//! timing, operations and manual advance, fault rules, reset and snapshots. Everything it changes
//! lives in the store, so it applies to every replica sharing that store.

use crate::app::App;
use crate::engine::{FaultRule, Timing, TimingProfile};
use crate::store::StoreError;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Response, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The largest admin request body (a snapshot can be big).
const MAX_ADMIN_BODY: usize = 256 * 1024 * 1024;

/// The snapshot format name and version.
const SNAPSHOT_FORMAT: &str = "localplane-snapshot";
/// 2: operations filed under their creation time (`sd/…/op/{created}/{id}`, `ops/{service}/{ms}/…`).
const SNAPSHOT_VERSION: u64 = 2;

fn reply(status: StatusCode, body: Value, request_id: &str) -> Response<Body> {
    let mut resp = Response::new(Body::from(body.to_string()));
    *resp.status_mut() = status;
    resp.headers_mut().insert("content-type", HeaderValue::from_static("application/json"));
    if let Ok(v) = HeaderValue::from_str(request_id) {
        resp.headers_mut().insert("x-amzn-requestid", v);
    }
    resp
}

fn error(status: StatusCode, message: impl std::fmt::Display, request_id: &str) -> Response<Body> {
    reply(status, json!({ "message": message.to_string() }), request_id)
}

fn store_error(e: StoreError, request_id: &str) -> Response<Body> {
    let status = match e {
        StoreError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    };
    error(status, e, request_id)
}

async fn body_json(req: Request) -> Result<Value, String> {
    let bytes = axum::body::to_bytes(req.into_body(), MAX_ADMIN_BODY)
        .await
        .map_err(|e| format!("cannot read the body: {e}"))?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    serde_json::from_slice(&bytes).map_err(|e| format!("the body is not valid JSON: {e}"))
}

fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    crate::wire::rest::parse_query(query).into_iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// Whether `path` is one of the admin paths (including the moto and LocalStack reset aliases).
pub fn is_admin_path(path: &str) -> bool {
    path.starts_with("/_localplane/")
        || path == "/moto-api/reset"
        || path == "/_localstack/state/reset"
        || path == "/metrics"
}

/// Answers an admin request.
pub async fn handle(app: &App, method: &str, path: &str, req: Request, request_id: &str) -> Response<Body> {
    let query = req.uri().query().map(str::to_string);
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let open = matches!(segs.as_slice(), ["_localplane", "health"] | ["metrics"]);
    if !open && !app.auth.admin_allowed(req.headers()) {
        return error(
            StatusCode::UNAUTHORIZED,
            "The admin API needs `Authorization: Bearer <admin token>` (the --admin-token of this server)",
            request_id,
        );
    }
    match (method, segs.as_slice()) {
        ("GET", ["_localplane", "health"]) => {
            reply(StatusCode::OK, json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")}), request_id)
        }
        ("GET", ["metrics"]) => {
            let mut resp = Response::new(Body::from(crate::metrics::render(app).await));
            resp.headers_mut().insert("content-type", HeaderValue::from_static("text/plain; version=0.0.4"));
            resp
        }
        ("GET", ["_localplane", "timing"]) => timing_view(app, request_id),
        ("PUT", ["_localplane", "timing"]) => {
            let body = match body_json(req).await {
                Ok(b) => b,
                Err(e) => return error(StatusCode::BAD_REQUEST, e, request_id),
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
            timing_view(app, request_id)
        }
        ("GET", ["_localplane", "operations"]) => match app.engine.list_operations().await {
            Ok(ops) => reply(StatusCode::OK, json!({ "operations": ops }), request_id),
            Err(e) => store_error(e, request_id),
        },
        ("POST", ["_localplane", "operations", "advance"]) => match app.engine.advance_all().await {
            Ok(n) => reply(StatusCode::OK, json!({ "advanced": n }), request_id),
            Err(e) => store_error(e, request_id),
        },
        ("POST", ["_localplane", "operations", id, "advance"]) => {
            let id = percent_encoding::percent_decode_str(id).decode_utf8_lossy().into_owned();
            let to_end = match query_param(query.as_deref(), "until").as_deref() {
                None | Some("next") => false,
                Some("terminal") => true,
                Some(other) => {
                    return error(
                        StatusCode::BAD_REQUEST,
                        format!("until must be next or terminal, not {other}"),
                        request_id,
                    )
                }
            };
            let found = match app.engine.find_operation(&id).await {
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
        ("GET", ["_localplane", "faults"]) => match app.engine.store().read(|tx| crate::engine::faults::list(tx)).await
        {
            Ok(rules) => reply(StatusCode::OK, json!({ "faults": rules }), request_id),
            Err(e) => store_error(e, request_id),
        },
        ("POST", ["_localplane", "faults"]) => {
            let body = match body_json(req).await {
                Ok(b) => b,
                Err(e) => return error(StatusCode::BAD_REQUEST, e, request_id),
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
        ("DELETE", ["_localplane", "faults"]) => {
            match app.engine.store().write(|tx| crate::engine::faults::clear(tx)).await {
                Ok(n) => {
                    let _ = app.engine.refresh_fault_flag().await;
                    reply(StatusCode::OK, json!({ "deleted": n }), request_id)
                }
                Err(e) => store_error(e, request_id),
            }
        }
        ("DELETE", ["_localplane", "faults", id]) => {
            let id = id.to_string();
            match app.engine.store().write(move |tx| crate::engine::faults::remove(tx, &id)).await {
                Ok(true) => {
                    let _ = app.engine.refresh_fault_flag().await;
                    reply(StatusCode::OK, json!({ "deleted": 1 }), request_id)
                }
                Ok(false) => error(StatusCode::NOT_FOUND, "no such fault rule", request_id),
                Err(e) => store_error(e, request_id),
            }
        }
        ("POST", ["_localplane", "reset"])
        | ("POST", ["moto-api", "reset"])
        | ("POST", ["_localstack", "state", "reset"]) => {
            let service = query_param(query.as_deref(), "service");
            match reset(app, service.as_deref()).await {
                Ok(n) => reply(
                    StatusCode::OK,
                    json!({ "reset": service.unwrap_or_else(|| "all".into()), "deletedKeys": n }),
                    request_id,
                ),
                Err(ResetError::BadService(s)) => error(
                    StatusCode::BAD_REQUEST,
                    format!("service must be kafkaconnect or servicediscovery, not '{s}'"),
                    request_id,
                ),
                Err(ResetError::Store(e)) => store_error(e, request_id),
            }
        }
        ("GET", ["_localplane", "snapshot"]) => match export_snapshot(app).await {
            Ok(v) => reply(StatusCode::OK, v, request_id),
            Err(e) => store_error(e, request_id),
        },
        ("PUT", ["_localplane", "snapshot"]) => {
            let body = match body_json(req).await {
                Ok(b) => b,
                Err(e) => return error(StatusCode::BAD_REQUEST, e, request_id),
            };
            match import_snapshot(app, body).await {
                Ok(n) => reply(StatusCode::OK, json!({ "imported": n }), request_id),
                Err(ImportError::Invalid(e)) => {
                    error(StatusCode::BAD_REQUEST, format!("invalid snapshot, nothing changed: {e}"), request_id)
                }
                Err(ImportError::Store(e)) => store_error(e, request_id),
            }
        }
        _ => error(StatusCode::NOT_FOUND, format!("No admin endpoint {method} {path}"), request_id),
    }
}

fn timing_view(app: &App, request_id: &str) -> Response<Body> {
    let t: Timing = app.engine.timing();
    reply(StatusCode::OK, json!({ "profile": t.profile.as_str(), "overrides": t.overrides }), request_id)
}

/// Checks a fault rule against the services of this binary.
pub fn validate_rule(rule: &FaultRule) -> Result<(), String> {
    crate::registry::validate_rule(crate::services::ALL, rule)
}

enum ResetError {
    BadService(String),
    Store(StoreError),
}

/// Deletes all state (or one service's), its operations and their schedule; re-applies the fault
/// rules of the config file after a full reset.
async fn reset(app: &App, service: Option<&str>) -> Result<usize, ResetError> {
    let prefix = match service {
        None => None,
        Some(s) => match crate::model::Service::from_name(s).and_then(|s| app.registry.registration(s)) {
            Some(r) => Some((r.service, r.key_prefix)),
            None => return Err(ResetError::BadService(s.to_string())),
        },
    };
    let engine = app.engine.clone();
    let n = app
        .engine
        .store()
        .write(move |tx| -> Result<usize, StoreError> {
            match prefix {
                None => {
                    // The replica-wide settings (the timing profile) are configuration, not state.
                    let settings = tx.scan(crate::engine::SETTINGS, None, usize::MAX)?;
                    let n = tx.delete_prefix("")?;
                    for (k, v) in &settings {
                        tx.put(k, v)?;
                    }
                    Ok(n.saturating_sub(settings.len()))
                }
                Some((name, prefix)) => {
                    let mut n = tx.delete_prefix(prefix)?;
                    n += engine.forget_operations(tx, name)?;
                    Ok(n)
                }
            }
        })
        .await
        .map_err(ResetError::Store)?;
    app.registry.forget_cached();
    if service.is_none() {
        app.engine.install_config_faults(&app.config_faults).await.map_err(ResetError::Store)?;
    }
    app.engine.refresh_fault_flag().await.map_err(ResetError::Store)?;
    app.engine.wake();
    Ok(n)
}

/// The whole state as one JSON document.
pub async fn export_snapshot(app: &App) -> Result<Value, StoreError> {
    let entries = app
        .engine
        .store()
        .read(|tx| -> Result<serde_json::Map<String, Value>, StoreError> {
            let mut out = serde_json::Map::new();
            for (k, v) in tx.scan("", None, usize::MAX)? {
                out.insert(k, Value::String(String::from_utf8_lossy(&v).into_owned()));
            }
            Ok(out)
        })
        .await?;
    Ok(json!({
        "format": SNAPSHOT_FORMAT,
        "version": SNAPSHOT_VERSION,
        "localplane": env!("CARGO_PKG_VERSION"),
        "entries": entries,
    }))
}

enum ImportError {
    Invalid(String),
    Store(StoreError),
}

/// Checks a snapshot document and returns its rows; the message says what is wrong.
pub fn check_snapshot(body: &Value) -> Result<Vec<(String, Vec<u8>)>, String> {
    if body.get("format").and_then(Value::as_str) != Some(SNAPSHOT_FORMAT) {
        return Err(format!("format must be \"{SNAPSHOT_FORMAT}\""));
    }
    if body.get("version").and_then(Value::as_u64) != Some(SNAPSHOT_VERSION) {
        return Err(format!("version must be {SNAPSHOT_VERSION}"));
    }
    let Some(entries) = body.get("entries").and_then(Value::as_object) else {
        return Err("entries must be an object of key → value strings".into());
    };
    let mut rows = Vec::with_capacity(entries.len());
    for (k, v) in entries {
        let Some(v) = v.as_str() else {
            return Err(format!("the value of {k} is not a string"));
        };
        if let Some(service) = crate::services::ALL.iter().find(|r| k.starts_with(r.key_prefix)) {
            (service.check_document)(k, v.as_bytes())?;
        } else if !crate::engine::KEY_PREFIXES.iter().any(|p| k.starts_with(p)) {
            return Err(format!("unknown key {k}"));
        }
        if k.starts_with(crate::engine::faults::FAULTS) {
            let rule: FaultRule = serde_json::from_str(v).map_err(|e| format!("{k}: {e}"))?;
            validate_rule(&rule).map_err(|e| format!("{k}: {e}"))?;
        }
        rows.push((k.clone(), v.as_bytes().to_vec()));
    }
    Ok(rows)
}

/// Replaces the whole state with a snapshot, in one transaction, after checking it.
async fn import_snapshot(app: &App, body: Value) -> Result<usize, ImportError> {
    let rows = check_snapshot(&body).map_err(ImportError::Invalid)?;
    let n = rows.len();
    app.engine
        .store()
        .write(move |tx| -> Result<(), StoreError> {
            tx.delete_prefix("")?;
            for (k, v) in rows {
                tx.put(&k, &v)?;
            }
            Ok(())
        })
        .await
        .map_err(ImportError::Store)?;
    app.registry.forget_cached();
    app.engine.refresh_fault_flag().await.map_err(ImportError::Store)?;
    app.engine.wake();
    Ok(n)
}
