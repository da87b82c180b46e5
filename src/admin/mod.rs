//! The admin API under `/_localplane/` (plus `/metrics` and the reset aliases of moto and
//! LocalStack): an [`Endpoint`] per call, parsed from method and path, each with its authorization;
//! the handlers live one family a file. Everything it changes lives in the store, so it applies to
//! every replica sharing that store.

mod console;
mod faults;
mod operations;
mod reply;
mod reset;
mod seed;
pub mod snapshot;

pub use faults::validate_rule;

use crate::app::App;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{Response, StatusCode};
use reply::error;
use std::sync::Arc;

/// One call of the admin API, with the parameters its path carries.
#[derive(Debug, PartialEq, Eq)]
enum Endpoint {
    /// `GET /_localplane/health`: liveness, open to everyone.
    Health,
    /// `GET /metrics`: Prometheus text, open to everyone.
    Metrics,
    /// `GET /_localplane/timing`.
    GetTiming,
    /// `PUT /_localplane/timing` `{"profile": …, "overrides": …}`.
    PutTiming,
    /// `GET /_localplane/operations`.
    ListOperations,
    /// `POST /_localplane/operations/advance`: every unfinished operation one step.
    AdvanceAll,
    /// `POST /_localplane/operations/{id}/advance[?until=next|terminal]`.
    Advance {
        /// The operation id clients know.
        id: String,
    },
    /// `GET /_localplane/faults`.
    ListFaults,
    /// `POST /_localplane/faults` with a fault rule.
    AddFault,
    /// `DELETE /_localplane/faults`.
    ClearFaults,
    /// `DELETE /_localplane/faults/{id}`.
    RemoveFault {
        /// The rule's id.
        id: String,
    },
    /// `POST /_localplane/reset[?service=…]`, `/moto-api/reset`, `/_localstack/state/reset`.
    Reset,
    /// `GET /_localplane/snapshot`.
    ExportSnapshot,
    /// `PUT /_localplane/snapshot` with a snapshot document.
    ImportSnapshot,
    /// `GET /_localplane/ui[/{file}]`: the web console's page and its files, open to everyone
    /// (they hold no state; what the page shows comes from the endpoints below).
    ConsoleFile {
        /// The file under `/_localplane/ui/` (empty: the page).
        name: String,
    },
    /// `GET /_localplane/resources`: every service's resources, as a tree.
    Resources,
    /// `GET /_localplane/events`: the console's event stream.
    Events,
    /// `POST /_localplane/seed` with a seed file (YAML or JSON).
    Seed,
}

impl Endpoint {
    /// The endpoint of `method` and `path`, or None for no admin endpoint.
    fn from_request(method: &str, path: &str) -> Option<Endpoint> {
        let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        let decoded = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
        Some(match (method, segs.as_slice()) {
            ("GET", ["_localplane", "health"]) => Endpoint::Health,
            ("GET", ["metrics"]) => Endpoint::Metrics,
            ("GET", ["_localplane", "timing"]) => Endpoint::GetTiming,
            ("PUT", ["_localplane", "timing"]) => Endpoint::PutTiming,
            ("GET", ["_localplane", "operations"]) => Endpoint::ListOperations,
            ("POST", ["_localplane", "operations", "advance"]) => Endpoint::AdvanceAll,
            ("POST", ["_localplane", "operations", id, "advance"]) => Endpoint::Advance { id: decoded(id) },
            ("GET", ["_localplane", "faults"]) => Endpoint::ListFaults,
            ("POST", ["_localplane", "faults"]) => Endpoint::AddFault,
            ("DELETE", ["_localplane", "faults"]) => Endpoint::ClearFaults,
            ("DELETE", ["_localplane", "faults", id]) => Endpoint::RemoveFault { id: id.to_string() },
            ("POST", ["_localplane", "reset"] | ["moto-api", "reset"] | ["_localstack", "state", "reset"]) => {
                Endpoint::Reset
            }
            ("GET", ["_localplane", "snapshot"]) => Endpoint::ExportSnapshot,
            ("PUT", ["_localplane", "snapshot"]) => Endpoint::ImportSnapshot,
            ("GET", ["_localplane", "ui"] | ["_localplane", "ui", ""]) => Endpoint::ConsoleFile { name: String::new() },
            ("GET", ["_localplane", "ui", name]) if console::is_asset(name) => {
                Endpoint::ConsoleFile { name: name.to_string() }
            }
            ("GET", ["_localplane", "resources"]) => Endpoint::Resources,
            ("GET", ["_localplane", "events"]) => Endpoint::Events,
            ("POST", ["_localplane", "seed"]) => Endpoint::Seed,
            _ => return None,
        })
    }

    /// Whether a caller without the admin token may call it.
    fn is_open(&self) -> bool {
        matches!(self, Endpoint::Health | Endpoint::Metrics | Endpoint::ConsoleFile { .. })
    }
}

/// Whether `path` is one of the admin paths (including the moto and LocalStack reset aliases).
pub fn is_admin_path(path: &str) -> bool {
    path.starts_with("/_localplane/")
        || path == "/moto-api/reset"
        || path == "/_localstack/state/reset"
        || path == "/metrics"
}

/// Answers an admin request.
pub async fn handle(app: &Arc<App>, method: &str, path: &str, req: Request, request_id: &str) -> Response<Body> {
    let endpoint = Endpoint::from_request(method, path);
    if !endpoint.as_ref().is_some_and(Endpoint::is_open) && !app.auth.admin_allowed(req.headers()) {
        return error(
            StatusCode::UNAUTHORIZED,
            "The admin API needs `Authorization: Bearer <admin token>` (the --admin-token of this server)",
            request_id,
        );
    }
    let Some(endpoint) = endpoint else {
        return error(StatusCode::NOT_FOUND, format!("No admin endpoint {method} {path}"), request_id);
    };
    let query = req.uri().query().map(str::to_string);
    let query = query.as_deref();
    match endpoint {
        Endpoint::Health => operations::health(request_id),
        Endpoint::Metrics => operations::metrics(app).await,
        Endpoint::GetTiming => operations::timing(app, request_id),
        Endpoint::PutTiming => operations::set_timing(app, req, request_id).await,
        Endpoint::ListOperations => operations::list(app, query, request_id).await,
        Endpoint::AdvanceAll => operations::advance_all(app, request_id).await,
        Endpoint::Advance { id } => operations::advance(app, &id, query, request_id).await,
        Endpoint::ListFaults => faults::list(app, request_id).await,
        Endpoint::AddFault => faults::add(app, req, request_id).await,
        Endpoint::ClearFaults => faults::clear(app, request_id).await,
        Endpoint::RemoveFault { id } => faults::remove(app, id, request_id).await,
        Endpoint::Reset => reset::reset(app, query, request_id).await,
        Endpoint::ExportSnapshot => snapshot::export(app, request_id).await,
        Endpoint::ImportSnapshot => snapshot::import(app, req, request_id).await,
        Endpoint::ConsoleFile { name } => console::asset(app, &name, request_id),
        Endpoint::Resources => console::resources(app, request_id).await,
        Endpoint::Events => console::events(app).await,
        Endpoint::Seed => seed::seed(app, req, request_id).await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_and_who_may_call_them() {
        assert_eq!(Endpoint::from_request("GET", "/_localplane/health"), Some(Endpoint::Health));
        assert!(Endpoint::Health.is_open() && Endpoint::Metrics.is_open());
        assert_eq!(
            Endpoint::from_request("POST", "/_localplane/operations/a%2Fb/advance"),
            Some(Endpoint::Advance { id: "a/b".into() })
        );
        assert_eq!(Endpoint::from_request("POST", "/moto-api/reset"), Some(Endpoint::Reset));
        assert!(!Endpoint::Reset.is_open());
        assert_eq!(Endpoint::from_request("GET", "/_localplane/reset"), None);
        assert_eq!(
            Endpoint::from_request("GET", "/_localplane/ui"),
            Some(Endpoint::ConsoleFile { name: String::new() })
        );
        assert!(Endpoint::from_request("GET", "/_localplane/ui/console.js").is_some_and(|e| e.is_open()));
        assert_eq!(Endpoint::from_request("GET", "/_localplane/ui/nothing.js"), None);
        assert!(
            !Endpoint::Resources.is_open() && !Endpoint::Events.is_open(),
            "what the console shows needs the token"
        );
    }
}
