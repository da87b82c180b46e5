//! Snapshots: the whole store as one JSON document, and importing one — checked row by row against
//! the registry's services and the engine's prefixes before anything is replaced.

use super::reply::{body_bytes, error, reply, store_error, MAX_SNAPSHOT_BODY};
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
    let bytes = match body_bytes(req, MAX_SNAPSHOT_BODY, request_id).await {
        Ok(b) => b,
        Err(refused) => return refused,
    };
    // Parsed straight into its rows: a generic JSON tree would cost many times the body's size.
    let document: SnapshotDocument = match serde_json::from_slice(&bytes) {
        Ok(d) => d,
        Err(e) => {
            let why = format!("invalid snapshot, nothing changed: the body is not a snapshot document: {e}");
            return error(StatusCode::BAD_REQUEST, why, request_id);
        }
    };
    drop(bytes);
    let rows = match check_document(document) {
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

/// A snapshot as `PUT /_localplane/snapshot` reads it.
#[derive(serde::Deserialize)]
struct SnapshotDocument {
    format: Option<Value>,
    version: Option<Value>,
    /// Key → value; each value is checked to be a string (a tree of small values stays small).
    entries: Option<std::collections::BTreeMap<String, Value>>,
}

/// Checks a snapshot document and returns its rows; the message says what is wrong.
pub fn check_snapshot(body: &Value) -> Result<Vec<(String, Vec<u8>)>, String> {
    let document = SnapshotDocument {
        format: body.get("format").cloned(),
        version: body.get("version").cloned(),
        entries: match body.get("entries") {
            Some(Value::Object(m)) => Some(m.clone().into_iter().collect()),
            _ => None,
        },
    };
    check_document(document)
}

fn check_document(document: SnapshotDocument) -> Result<Vec<(String, Vec<u8>)>, String> {
    if document.format.as_ref().and_then(Value::as_str) != Some(SNAPSHOT_FORMAT) {
        return Err(format!("format must be \"{SNAPSHOT_FORMAT}\""));
    }
    if document.version.as_ref().and_then(Value::as_u64) != Some(SNAPSHOT_VERSION) {
        return Err(format!("version must be {SNAPSHOT_VERSION}"));
    }
    let Some(entries) = document.entries else {
        return Err("entries must be an object of key → value strings".into());
    };
    let entries = string_entries(entries)?;
    let mut rows = Vec::with_capacity(entries.len());
    for (k, v) in entries {
        if let Some(service) = crate::services::ALL.iter().find(|r| k.starts_with(r.key_prefix)) {
            (service.check_document)(&k, v.as_bytes())?;
        } else if !crate::engine::KEY_PREFIXES.iter().any(|p| k.starts_with(p)) {
            return Err(format!("unknown key {k}"));
        }
        if k.starts_with(crate::engine::faults::FAULTS) {
            let rule: FaultRule = serde_json::from_str(&v).map_err(|e| format!("{k}: {e}"))?;
            super::validate_rule(&rule).map_err(|e| format!("{k}: {e}"))?;
        }
        rows.push((k, v.into_bytes()));
    }
    Ok(rows)
}

/// The entries when every value is a string; else which one is not.
fn string_entries(m: std::collections::BTreeMap<String, Value>) -> Result<Vec<(String, String)>, String> {
    m.into_iter()
        .map(|(k, v)| match v {
            Value::String(s) => Ok((k, s)),
            _ => Err(format!("the value of {k} is not a string")),
        })
        .collect()
}
