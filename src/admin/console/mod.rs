//! The web console: its page and assets (embedded in the binary at build time), the resource tree
//! of every service (`GET /_localplane/resources`) and the event stream that pushes operations,
//! resources and settings whenever the store's change feed moves (`GET /_localplane/events`).

mod events;

pub use events::events;

use super::reply::{reply, store_error};
use crate::app::App;
use crate::console_state::step_times;
use crate::engine::OperationView;
use crate::resource_tree::ScopeResources;
use crate::store::StoreError;
use axum::body::Body;
use axum::http::{HeaderValue, Response, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The most unfinished operations an answer lists (the rest are counted).
const MAX_IN_FLIGHT: usize = 200;

/// The most finished operations an answer lists, newest first.
const MAX_RECENT: usize = 50;

/// The files of the page: name under `/_localplane/ui/` (empty: the page itself), type, content.
const ASSETS: &[(&str, &str, &[u8])] = &[
    ("", "text/html; charset=utf-8", include_bytes!("../ui/index.html")),
    ("console.js", "text/javascript; charset=utf-8", include_bytes!("../ui/console.js")),
    ("console.css", "text/css; charset=utf-8", include_bytes!("../ui/console.css")),
    ("icon.svg", "image/svg+xml", include_bytes!("../ui/icon.svg")),
];

/// Whether `name` is a file of the page.
pub fn is_asset(name: &str) -> bool {
    ASSETS.iter().any(|(n, _, _)| *n == name)
}

/// What the page says of the admin token before it calls anything (so that it asks for the token
/// first rather than meet a 401): the same fact a call without the token would reveal.
const TOKEN_META: &str = r#"<meta name="localplane-admin-token" content="optional">"#;

/// `GET /_localplane/ui[/{name}]`: a file of the page. It may not be framed by another page (the
/// page's buttons change state) and runs only its own scripts.
pub fn asset(app: &App, name: &str, request_id: &str) -> Response<Body> {
    let Some((_, content_type, bytes)) = ASSETS.iter().find(|(n, _, _)| *n == name) else {
        return super::reply::error(StatusCode::NOT_FOUND, format!("No console file {name}"), request_id);
    };
    let body = match (name, &app.auth.admin_token) {
        ("", Some(_)) => {
            Body::from(String::from_utf8_lossy(bytes).replace(TOKEN_META, &TOKEN_META.replace("optional", "required")))
        }
        _ => Body::from(*bytes),
    };
    let mut resp = Response::new(body);
    let headers = resp.headers_mut();
    headers.insert("content-type", HeaderValue::from_static(content_type));
    headers.insert("cache-control", HeaderValue::from_static("no-cache"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"),
    );
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    resp
}

/// `GET /_localplane/resources`.
pub async fn resources(app: &App, request_id: &str) -> Response<Body> {
    match resource_tree(app).await {
        Ok(tree) => reply(StatusCode::OK, tree, request_id),
        Err(e) => store_error(e, request_id),
    }
}

/// Every service's resources in one read, as account → region → service → resources.
async fn resource_tree(app: &App) -> Result<Value, StoreError> {
    let backends = app.registry.backends();
    let listed = app
        .engine
        .store()
        .read(move |tx| -> Result<Vec<(&'static str, Vec<ScopeResources>)>, StoreError> {
            let mut out = Vec::with_capacity(backends.len());
            for (service, backend) in &backends {
                out.push((service.name(), backend.console_resources(tx)?));
            }
            Ok(out)
        })
        .await?;
    let mut tree: BTreeMap<String, BTreeMap<String, Vec<Value>>> = BTreeMap::new();
    for (service, scopes) in listed {
        for scope in scopes {
            tree.entry(scope.account)
                .or_default()
                .entry(scope.region)
                .or_default()
                .push(json!({ "service": service, "resources": scope.resources }));
        }
    }
    let accounts: Vec<Value> = tree
        .into_iter()
        .map(|(account, regions)| {
            let regions: Vec<Value> =
                regions.into_iter().map(|(region, services)| json!({"region": region, "services": services})).collect();
            json!({ "account": account, "regions": regions })
        })
        .collect();
    Ok(json!({ "accounts": accounts }))
}

/// The operations as the console shows them: unfinished ones first (oldest first), then the most
/// recently finished, each with its steps' times and whether it is a rollback.
async fn operations(app: &App) -> Result<Value, StoreError> {
    let ops = app.engine.list_operations(crate::engine::LISTED_OPERATIONS).await?;
    let now = app.engine.now_ms();
    let steps = match app.console.step_times() {
        Ok(mut times) => times.observe(&ops, now),
        Err(poisoned) => poisoned.into_inner().observe(&ops, now),
    };
    let mut listed: Vec<(OperationView, Vec<step_times::TimedStep>)> = ops.into_iter().zip(steps).collect();
    let (mut in_flight, mut finished): (Vec<_>, Vec<_>) = listed.drain(..).partition(|(op, _)| !op.terminal);
    in_flight.sort_by_key(|(op, _)| op.created_ms);
    finished.sort_by_key(|(op, _)| std::cmp::Reverse(op.ended_ms.unwrap_or(op.created_ms)));
    let counts = json!({ "inFlight": in_flight.len(), "finished": finished.len() });
    let show = |items: Vec<(OperationView, Vec<step_times::TimedStep>)>, max: usize| -> Vec<Value> {
        items
            .into_iter()
            .take(max)
            .map(|(op, steps)| {
                // UPDATE_FAILED that has not ended is the start of a rollback.
                let rollback = op.state.contains("ROLLBACK") || (op.state == "UPDATE_FAILED" && !op.terminal);
                let mut v = serde_json::to_value(&op).unwrap_or(Value::Null);
                v["steps"] = serde_json::to_value(steps).unwrap_or(Value::Null);
                v["rollback"] = Value::Bool(rollback);
                v
            })
            .collect()
    };
    Ok(json!({
        "inFlight": show(in_flight, MAX_IN_FLIGHT),
        "recent": show(finished, MAX_RECENT),
        "counts": counts,
    }))
}

/// The settings the console's actions change: the timing profile and the fault rules.
async fn settings(app: &App) -> Result<Value, StoreError> {
    let faults = app.engine.store().read(|tx| crate::engine::faults::list(tx)).await?;
    let timing = app.engine.timing();
    Ok(json!({ "timing": { "profile": timing.profile.as_str(), "overrides": timing.overrides }, "faults": faults }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_says_whether_it_needs_the_token() {
        let page = String::from_utf8_lossy(ASSETS[0].2);
        assert!(page.contains(TOKEN_META), "index.html must carry the token meta tag the server rewrites");
    }
}
