//! Prometheus metrics at `GET /metrics`: requests by service, operation and status, request latency
//! histograms, unfinished operations by service, type and state, the operations that finished since
//! the process started, and the store's size.

use crate::app::App;
use crate::model::Service;
use crate::wire::shape::OperationInfo;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::collections::BTreeMap;

/// Latency buckets in seconds: sub-millisecond resolution where localplane lives.
const LATENCY_BUCKETS: &[f64] = &[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0];

/// How often recorded latencies are folded into the histogram buckets when nobody scrapes.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Installs the process-wide recorder; None when one is already installed. Inside a Tokio runtime
/// it also starts the recorder's upkeep: each latency sample waits in the recorder until it is folded
/// into the buckets, which a scrape of `/metrics` does; without scrapes and without upkeep the server
/// grew by ~13 bytes per request (22 MB per benchmark round).
pub fn install() -> Option<PrometheusHandle> {
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full("localplane_request_duration_seconds".into()), LATENCY_BUCKETS)
        .ok()?
        .install_recorder()
        .ok()?;
    if let Ok(rt) = tokio::runtime::Handle::try_current() {
        let kept = handle.clone();
        rt.spawn(async move {
            let mut every = tokio::time::interval(UPKEEP_EVERY);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                every.tick().await;
                kept.run_upkeep();
            }
        });
    }
    Some(handle)
}

/// The counter of one (status) and the latency histogram of one operation of a service.
struct Handles {
    histogram: metrics::Histogram,
    counters: Vec<(u16, metrics::Counter)>,
}

thread_local! {
    /// Metric handles by service and operation, so that a request costs a lookup, not a
    /// registration with freshly built label strings.
    static HANDLES: std::cell::RefCell<std::collections::HashMap<(&'static str, &'static str), Handles>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// Records one API request of `service`; `operation` is None for a request that named no
/// operation of it (labelled `Unknown`: label values stay a bounded set whatever clients send).
pub fn record_request(service: Service, operation: Option<&'static OperationInfo>, status: u16, seconds: f64) {
    let service = service.name();
    let operation = operation.map_or("Unknown", |o| o.name);
    HANDLES.with(|h| {
        let mut h = h.borrow_mut();
        let entry = h.entry((service, operation)).or_insert_with(|| Handles {
            histogram: metrics::histogram!("localplane_request_duration_seconds", "service" => service, "operation" => operation),
            counters: Vec::new(),
        });
        entry.histogram.record(seconds);
        match entry.counters.iter().find(|(s, _)| *s == status) {
            Some((_, c)) => c.increment(1),
            None => {
                let c = metrics::counter!("localplane_requests_total", "service" => service, "operation" => operation, "status" => status.to_string());
                c.increment(1);
                entry.counters.push((status, c));
            }
        }
    });
}

/// (service, type, state) of every `localplane_operations` gauge set so far.
static SHOWN: std::sync::Mutex<std::collections::BTreeSet<(String, String, String)>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

/// The text exposition, with the gauges read fresh from the store.
pub async fn render(app: &App) -> String {
    let Some(handle) = &app.metrics else {
        return String::from("# metrics recorder not installed\n");
    };
    // The unfinished operations only (the in-flight set, however long the history is); the
    // finished ones are the counter `localplane_operations_finished_total` (engine::count_finished).
    if let Ok(ops) = app.engine.list_operations(0).await {
        let mut counts: BTreeMap<(String, String, String), u64> = BTreeMap::new();
        for op in ops.into_iter().filter(|op| !op.terminal) {
            *counts.entry((op.service, op.operation_type, op.state)).or_default() += 1;
        }
        let mut shown = SHOWN.lock().unwrap_or_else(|e| e.into_inner());
        // A state no operation is in any more reads 0, not the count it had at the last scrape.
        for gone in shown.iter().filter(|k| !counts.contains_key(*k)) {
            let (service, op_type, state) = gone.clone();
            metrics::gauge!("localplane_operations", "service" => service, "type" => op_type, "state" => state)
                .set(0.0);
        }
        for ((service, op_type, state), n) in &counts {
            let labels = [("service", service.clone()), ("type", op_type.clone()), ("state", state.clone())];
            metrics::gauge!("localplane_operations", &labels).set(*n as f64);
        }
        shown.extend(counts.into_keys());
    }
    metrics::gauge!("localplane_store_bytes").set(app.engine.store().size_bytes() as f64);
    metrics::gauge!("localplane_operations_stuck").set(app.engine.stuck_operations().len() as f64);
    handle.render()
}
