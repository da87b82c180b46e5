//! The prober task: keeps the set of checked instances in step with the store, probes each one every
//! interval with bounded concurrency, and writes an instance's status to the store when it changes.
//! It runs beside the request handlers and never holds anything they wait for.

use super::probe;
use super::status::Checker;
use super::targets::{self, ProbeSpec, Target, TargetKey};
use super::HealthSettings;
use crate::cloudmap::records::{InstanceRec, Keys, ServiceRec};
use crate::engine::{Engine, TimingProfile};
use crate::model::servicediscovery::HealthStatus;
use crate::store::{get_json, put_json, StoreError};
use rand::Rng;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Semaphore};
use tokio::time::Instant;

/// The AWS check interval, used by the `realistic` profile.
pub const AWS_INTERVAL: Duration = Duration::from_secs(30);
/// The interval of the other profiles when none is configured.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(5);

/// One checked instance as the prober tracks it.
struct Tracked {
    spec: ProbeSpec,
    threshold: u32,
    /// The status in the store, as last read or written.
    health: HealthStatus,
    checker: Checker,
    next_due: Instant,
    in_flight: bool,
}

/// A finished probe.
struct ProbeResult {
    key: TargetKey,
    spec: ProbeSpec,
    verdict: probe::Verdict,
}

/// Probes the instances of services with a HealthCheckConfig.
pub struct Prober {
    engine: Engine,
    settings: HealthSettings,
    tls: tokio_rustls::TlsConnector,
    permits: Arc<Semaphore>,
    tracked: HashMap<TargetKey, Tracked>,
}

impl Prober {
    /// A prober over the engine's store; fails only when the TLS client cannot be set up.
    pub fn new(engine: Engine, settings: HealthSettings) -> Result<Self, rustls::Error> {
        let permits = Arc::new(Semaphore::new(settings.concurrency.max(1)));
        Ok(Prober { engine, settings, tls: super::tls::connector()?, permits, tracked: HashMap::new() })
    }

    /// The probe interval in force: the configured one, else 30 s under `realistic` and 5 s otherwise.
    /// (The `manual` profile does not stop probes: they are not operations.)
    pub fn interval(&self) -> Duration {
        match (self.settings.interval, self.engine.timing().profile) {
            (Some(d), _) => d,
            (None, TimingProfile::Realistic) => AWS_INTERVAL,
            (None, _) => DEFAULT_INTERVAL,
        }
    }

    /// Runs until `shutdown` fires; probes in flight then finish on their own tasks.
    pub async fn run(mut self, mut shutdown: crate::shutdown::Shutdown) {
        let (done_tx, mut done_rx) = mpsc::channel::<ProbeResult>(256);
        while !shutdown.is_stopped() {
            let interval = self.interval();
            if let Err(e) = self.refresh(interval).await {
                tracing::warn!(error = %e, "reading the instances to health-check failed; retrying on the next tick");
            }
            self.launch_due(&done_tx);
            let tick = interval.clamp(Duration::from_millis(50), Duration::from_secs(1));
            let wake = tokio::time::sleep(tick);
            tokio::pin!(wake);
            loop {
                tokio::select! {
                    _ = &mut wake => break,
                    _ = shutdown.recv() => return,
                    Some(result) = done_rx.recv() => {
                        self.take_result(result, interval).await;
                        self.launch_due(&done_tx);
                    }
                }
            }
        }
    }

    /// Brings the tracked set in line with the store: new instances are probed soon, changed ones
    /// start over, gone ones are dropped.
    async fn refresh(&mut self, interval: Duration) -> Result<(), StoreError> {
        let targets: Vec<Target> = self.engine.store().read(|tx| targets::checked_instances(tx)).await?;
        let realistic = self.engine.timing().profile == TimingProfile::Realistic;
        let now = Instant::now();
        let mut keep: HashMap<TargetKey, Tracked> = HashMap::with_capacity(targets.len());
        for t in targets {
            let tracked = match self.tracked.remove(&t.key) {
                Some(mut old) if old.spec == t.spec => {
                    old.threshold = t.threshold;
                    old.health = t.health;
                    old
                }
                _ => {
                    // AWS spreads first checks over the interval; elsewhere check right away.
                    let delay = if realistic {
                        interval.mul_f64(rand::thread_rng().gen_range(0.0..1.0))
                    } else {
                        Duration::ZERO
                    };
                    Tracked {
                        spec: t.spec,
                        threshold: t.threshold,
                        health: t.health,
                        checker: Checker::default(),
                        next_due: now + delay,
                        in_flight: false,
                    }
                }
            };
            keep.insert(t.key, tracked);
        }
        self.tracked = keep;
        Ok(())
    }

    fn launch_due(&mut self, done: &mpsc::Sender<ProbeResult>) {
        let now = Instant::now();
        for (key, t) in self.tracked.iter_mut() {
            if t.in_flight || t.next_due > now {
                continue;
            }
            t.in_flight = true;
            let (key, spec, done) = (key.clone(), t.spec.clone(), done.clone());
            let (permits, tls, timeouts) = (self.permits.clone(), self.tls.clone(), self.settings.timeouts);
            let allowed = self.settings.targets.check(spec.addr.ip());
            tokio::spawn(async move {
                let verdict = match (allowed, permits.acquire_owned().await) {
                    // A refused target is not connected to: the probe fails with the reason.
                    (Err(refused), _) => Err(refused),
                    (Ok(()), Ok(_permit)) => probe::probe(&spec, timeouts, &tls).await,
                    (Ok(()), Err(_)) => Err("the prober is shutting down".to_string()),
                };
                let _ = done.send(ProbeResult { key, spec, verdict }).await;
            });
        }
    }

    async fn take_result(&mut self, result: ProbeResult, interval: Duration) {
        let check = check_label(&result.spec);
        let outcome = if result.verdict.is_ok() { "healthy" } else { "unhealthy" };
        metrics::counter!("localplane_health_probes_total", "type" => check, "result" => outcome).increment(1);
        // Deregistered, or registered again elsewhere, while the probe ran: the result is moot.
        let Some(t) = self.tracked.get_mut(&result.key).filter(|t| t.spec == result.spec) else { return };
        t.in_flight = false;
        t.next_due = Instant::now() + interval;
        if let Err(reason) = &result.verdict {
            tracing::debug!(instance = %result.key.3, service = %result.key.2, target = %t.spec.addr, %reason, "health probe failed");
        }
        let Some(new) = t.checker.observe(t.health, result.verdict.is_ok(), t.threshold) else { return };
        match write_status(&self.engine, &result.key, &result.spec, t.health, new).await {
            Ok(true) => {
                tracing::info!(
                    instance = %result.key.3,
                    service = %result.key.2,
                    target = %result.spec.addr,
                    reason = result.verdict.as_ref().err().map(String::as_str).unwrap_or("probe succeeded"),
                    "instance health is now {}",
                    new.as_str()
                );
                t.health = new;
                t.checker.settle(new);
            }
            // Someone changed the instance first (a re-registration); the next refresh shows it.
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(error = %e, instance = %result.key.3, "storing a health status failed; the next probe tries again")
            }
        }
    }
}

fn check_label(spec: &ProbeSpec) -> &'static str {
    match spec.check {
        targets::CheckType::Http => "HTTP",
        targets::CheckType::Https => "HTTPS",
        targets::CheckType::Tcp => "TCP",
    }
}

/// Sets the instance's status to `new` when it is still the instance that was probed and its status
/// is still `expected`; returns whether it did.
async fn write_status(
    engine: &Engine,
    key: &TargetKey,
    spec: &ProbeSpec,
    expected: HealthStatus,
    new: HealthStatus,
) -> Result<bool, StoreError> {
    let (account, region, service, instance) = key.clone();
    let spec = spec.clone();
    engine
        .store()
        .write(move |tx| -> Result<bool, StoreError> {
            let keys = Keys::new(&account, &region);
            let ik = keys.instance(&service, &instance);
            let Some(mut inst) = get_json::<InstanceRec>(tx, &ik)? else { return Ok(false) };
            let same_address = targets::instance_addr(&inst) == Some(spec.addr);
            if inst.health != expected || !same_address {
                return Ok(false);
            }
            inst.health = new;
            put_json(tx, &ik, &inst)?;
            let sk = keys.service(&service);
            if let Some(mut srv) = get_json::<ServiceRec>(tx, &sk)? {
                srv.instances_changed();
                put_json(tx, &sk, &srv)?;
            }
            Ok(true)
        })
        .await
}

/// Starts the prober on a background task.
pub fn spawn(
    engine: Engine,
    settings: HealthSettings,
    shutdown: crate::shutdown::Shutdown,
) -> Result<tokio::task::JoinHandle<()>, rustls::Error> {
    let prober = Prober::new(engine, settings)?;
    Ok(tokio::spawn(prober.run(shutdown)))
}
