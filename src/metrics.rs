//! Prometheus metrics at `GET /metrics`: requests by service, operation and status, request latency
//! histograms, operations by service, type and state, and the store's size.

use crate::server::App;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::collections::BTreeMap;

/// Latency buckets in seconds: sub-millisecond resolution where localplane lives.
const LATENCY_BUCKETS: &[f64] = &[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0];

/// Installs the process-wide recorder; None when one is already installed.
pub fn install() -> Option<PrometheusHandle> {
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full("localplane_request_duration_seconds".into()), LATENCY_BUCKETS)
        .ok()?
        .install_recorder()
        .ok()
}

/// Records one API request.
pub fn record_request(service: &'static str, operation: &str, status: u16, seconds: f64) {
    let labels =
        [("service", service.to_string()), ("operation", operation.to_string()), ("status", status.to_string())];
    metrics::counter!("localplane_requests_total", &labels).increment(1);
    let labels = [("service", service.to_string()), ("operation", operation.to_string())];
    metrics::histogram!("localplane_request_duration_seconds", &labels).record(seconds);
}

/// The text exposition, with the gauges read fresh from the store.
pub async fn render(app: &App) -> String {
    let Some(handle) = &app.metrics else {
        return String::from("# metrics recorder not installed\n");
    };
    if let Ok(ops) = app.engine.list_operations().await {
        let mut counts: BTreeMap<(String, String, String), u64> = BTreeMap::new();
        for op in ops {
            *counts.entry((op.service, op.operation_type, op.state)).or_default() += 1;
        }
        for ((service, op_type, state), n) in counts {
            let labels = [("service", service), ("type", op_type), ("state", state)];
            metrics::gauge!("localplane_operations", &labels).set(n as f64);
        }
    }
    metrics::gauge!("localplane_store_bytes").set(app.engine.store().size_bytes() as f64);
    handle.render()
}
