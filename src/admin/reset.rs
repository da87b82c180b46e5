//! Reset, as a platform feature over every registered service (moto's `base_backend` reset): all
//! state, or one service's documents (its registry prefix) and operations.

use super::reply::{error, query_param, reply, store_error};
use crate::app::App;
use crate::model::Service;
use crate::store::StoreError;
use axum::body::Body;
use axum::http::{Response, StatusCode};
use serde_json::json;

/// `POST /_localplane/reset[?service=…]` (and the moto and LocalStack aliases).
pub async fn reset(app: &App, query: Option<&str>, request_id: &str) -> Response<Body> {
    let service = query_param(query, "service");
    let registration = match service.as_deref() {
        None => None,
        Some(s) => match Service::from_name(s).and_then(|s| app.registry.registration(s)) {
            Some(r) => Some(r),
            None => {
                let names: Vec<&str> = app.registry.registrations().map(|r| r.service.name()).collect();
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("service must be {}, not '{s}'", names.join(" or ")),
                    request_id,
                );
            }
        },
    };
    let engine = app.engine.clone();
    let deleted = app
        .engine
        .store()
        .write(move |tx| -> Result<usize, StoreError> {
            match registration {
                None => engine.clear_state(tx),
                Some(r) => Ok(tx.delete_prefix(r.key_prefix)? + engine.forget_operations(tx, r.service)?),
            }
        })
        .await;
    let deleted = match deleted {
        Ok(n) => n,
        Err(e) => return store_error(e, request_id),
    };
    if let Err(e) = settle(app, registration.is_none()).await {
        return store_error(e, request_id);
    }
    reply(
        StatusCode::OK,
        json!({ "reset": service.unwrap_or_else(|| "all".into()), "deletedKeys": deleted }),
        request_id,
    )
}

/// After the store changed under the services: forget their caches, re-apply the config file's
/// fault rules after a full reset, and wake the scheduler.
pub async fn settle(app: &App, full: bool) -> Result<(), StoreError> {
    app.registry.forget_cached();
    if full {
        app.engine.install_config_faults(&app.config_faults).await?;
    }
    app.engine.refresh_fault_flag().await?;
    app.engine.wake();
    Ok(())
}
