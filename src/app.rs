//! The application a server runs: the started services (the registry), the operation engine and
//! the settings every request reads. `server`, `admin` and `metrics` import it; it imports none of them.

use crate::auth::Auth;
use crate::engine::{Engine, FaultRule};
use crate::registry::Registry;
use std::sync::Arc;

/// Everything a request handler needs.
pub struct App {
    /// The services, started over the engine.
    pub registry: Registry,
    /// The operation engine (and through it the store).
    pub engine: Engine,
    /// Account used when the access key is not a 12-digit account id.
    pub default_account: String,
    /// Region used when a request is not signed.
    pub default_region: String,
    /// Fault rules of the config file, re-applied after a full reset.
    pub config_faults: Vec<FaultRule>,
    /// The Prometheus recorder's handle.
    pub metrics: Option<metrics_exporter_prometheus::PrometheusHandle>,
    /// Who may call: signature verification and the admin token.
    pub auth: Auth,
    /// The web console's state (what it saw of operations' steps, the end of its event streams).
    pub console: crate::console_state::Console,
}

impl App {
    /// An application over `engine` with every service of [`crate::services::ALL`] started and
    /// its operation driver registered.
    pub fn new(engine: Engine, default_account: String, default_region: String, auth: Auth) -> App {
        App {
            registry: Registry::start(crate::services::ALL, &engine),
            engine,
            default_account,
            default_region,
            config_faults: Vec::new(),
            metrics: None,
            auth,
            console: Default::default(),
        }
    }

    /// An application over a fresh in-memory store, for in-process tests.
    pub fn in_memory(timing: crate::engine::Timing) -> Result<Arc<App>, crate::store::StoreError> {
        let store = crate::store::Store::new(Arc::new(crate::store::memory::Memory::new()));
        let engine = Engine::new(store, Arc::new(crate::engine::SystemClock), timing);
        let auth = Auth { default_account: "000000000000".into(), ..Default::default() };
        Ok(Arc::new(App::new(engine, "000000000000".into(), "us-east-1".into(), auth)))
    }
}
