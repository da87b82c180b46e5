//! The health side road: real HTTP, HTTPS and TCP checks of the instances of services with a
//! HealthCheckConfig, as Route 53 runs them for Cloud Map. Results change the instance's status in
//! the store, which GetInstancesHealthStatus, DiscoverInstances and the DNS answers all read.
//! Custom health (HealthCheckCustomConfig) is not probed: its status is whatever the user reports.
//!
//! Road: [`prober`] (schedule, concurrency, store writes) → [`targets`] (what to probe) →
//! [`probe`] / [`tls`] (one probe) → [`status`] (results to status).

pub mod policy;
pub mod probe;
pub mod prober;
pub mod status;
pub mod targets;
pub mod tls;

pub use prober::spawn;

use std::time::Duration;

/// How probes run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HealthSettings {
    /// Time between two probes of one instance; `None`: 30 s under `realistic`, 5 s otherwise.
    pub interval: Option<Duration>,
    /// The most probes in flight at once.
    pub concurrency: usize,
    /// Per-stage time limits of one probe.
    pub timeouts: probe::Timeouts,
    /// The addresses probes may reach.
    pub targets: policy::TargetPolicy,
}

impl Default for HealthSettings {
    fn default() -> Self {
        HealthSettings {
            interval: None,
            concurrency: 32,
            timeouts: probe::Timeouts::default(),
            targets: policy::TargetPolicy::default(),
        }
    }
}

/// Parses an interval such as `1s` or `500ms` (humantime); it must be at least 10 ms.
pub fn parse_interval(text: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(text.trim())
        .map_err(|e| format!("'{text}' is not a duration such as 1s or 500ms: {e}"))?;
    if d < Duration::from_millis(10) {
        return Err(format!("'{text}' is too short; use at least 10ms"));
    }
    Ok(d)
}
