//! Snapshots: the whole store as one JSON document, and importing one — checked row by row against
//! the registry's services and the engine's prefixes before anything is replaced.

use super::reply::{body_json, error, reply, store_error};
use crate::app::App;
use crate::engine::FaultRule;
use crate::store::StoreError;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{Response, StatusCode};
use serde_json::{json, Value};

/// The snapshot format name and version.
const SNAPSHOT_FORMAT: &str = "localplane-snapshot";
/// 2: operations filed under their creation time.
const SNAPSHOT_VERSION: u64 = 2;

/// `GET /_localplane/snapshot`.
pub async fn export(app: &App, request_id: &str) -> Response<Body> {
    match export_snapshot(app).await {
        Ok(v) => reply(StatusCode::OK, v, request_id),
        Err(e) => store_error(e, request_id),
    }
}

/// `PUT /_localplane/snapshot`.
pub async fn import(app: &App, req: Request, request_id: &str) -> Response<Body> {
    let body = match body_json(req).await {
        Ok(b) => b,
        Err(e) => return error(StatusCode::BAD_REQUEST, e, request_id),
    };
    let rows = match check_snapshot(&body) {
        Ok(rows) => rows,
        Err(e) => return error(StatusCode::BAD_REQUEST, format!("invalid snapshot, nothing changed: {e}"), request_id),
    };
    let n = rows.len();
    let replaced = app
        .engine
        .store()
        .write(move |tx| -> Result<(), StoreError> {
            tx.delete_prefix("")?;
            for (k, v) in rows {
                tx.put(&k, &v)?;
            }
            Ok(())
        })
        .await;
    if let Err(e) = replaced {
        return store_error(e, request_id);
    }
    if let Err(e) = super::reset::settle(app, false).await {
        return store_error(e, request_id);
    }
    reply(StatusCode::OK, json!({ "imported": n }), request_id)
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
            super::validate_rule(&rule).map_err(|e| format!("{k}: {e}"))?;
        }
        rows.push((k.clone(), v.as_bytes().to_vec()));
    }
    Ok(rows)
}
