//! Durable asynchronous operations. An operation is a document written by its service in the same
//! transaction as the change it carries, plus a schedule entry saying when its next step is due.
//! The scheduler advances due steps, each in its own transaction; since all of it is in the store, a
//! restarted process simply picks up the schedule where the dead one left it.

pub mod timing;

pub use timing::{Timing, TimingProfile};

use crate::store::{Store, StoreError, Tx};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::Notify;

/// Key prefix of schedule entries: `sched/{due_ms:016x}/{service}/{op}`.
const SCHED: &str = "sched/";
/// Key prefix of the reverse index: `schedof/{service}/{op}` → the schedule key.
const SCHED_OF: &str = "schedof/";

/// Reads the time. Nothing in localplane reads the wall clock but through this.
pub trait Clock: Send + Sync {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
}

/// The system clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}

/// What a step of an operation led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepOutcome {
    /// The operation has more steps; the next one takes this many milliseconds under the profile
    /// (`None`: only a manual advance moves it).
    Continue(Option<i64>),
    /// The operation reached a terminal state.
    Done,
}

/// A service's operation state machine.
pub trait OperationDriver: Send + Sync {
    /// Moves operation `op` one step forward at time `now`, changing its resources as the step says.
    fn advance(
        &self,
        tx: &mut dyn Tx,
        op: &str,
        now: i64,
        timing: &Timing,
    ) -> Result<StepOutcome, StoreError>;
}

/// The operation engine: schedule, drivers, timing and the wake-up of the scheduler task.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<EngineInner>,
}

struct EngineInner {
    store: Store,
    clock: Arc<dyn Clock>,
    timing: RwLock<Timing>,
    drivers: RwLock<HashMap<&'static str, Arc<dyn OperationDriver>>>,
    wake: Notify,
}

fn sched_key(due: i64, service: &str, op: &str) -> String {
    format!("{SCHED}{:016x}/{service}/{op}", due.max(0))
}

impl Engine {
    /// An engine over `store`.
    pub fn new(store: Store, clock: Arc<dyn Clock>, timing: Timing) -> Self {
        Engine {
            inner: Arc::new(EngineInner {
                store,
                clock,
                timing: RwLock::new(timing),
                drivers: RwLock::new(HashMap::new()),
                wake: Notify::new(),
            }),
        }
    }

    /// Registers the state machine of `service`'s operations.
    pub fn register(&self, service: &'static str, driver: Arc<dyn OperationDriver>) {
        if let Ok(mut d) = self.inner.drivers.write() {
            d.insert(service, driver);
        }
    }

    /// The current time.
    pub fn now_ms(&self) -> i64 {
        self.inner.clock.now_ms()
    }

    /// The timing in force.
    pub fn timing(&self) -> Timing {
        self.inner
            .timing
            .read()
            .map(|t| t.clone())
            .unwrap_or_default()
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    fn driver(&self, service: &str) -> Option<Arc<dyn OperationDriver>> {
        self.inner
            .drivers
            .read()
            .ok()
            .and_then(|d| d.get(service).cloned())
    }

    /// Inside a request's transaction: a new operation `op` of `service` has been written. Under the
    /// `instant` profile it runs to its end here, before the response; otherwise its first step is
    /// scheduled `first_step_ms` from now (or left for a manual advance).
    pub fn submit(
        &self,
        tx: &mut dyn Tx,
        service: &'static str,
        op: &str,
        first_step_ms: Option<i64>,
    ) -> Result<(), StoreError> {
        let timing = self.timing();
        if timing.profile == TimingProfile::Instant {
            return self.run_to_end(tx, service, op, &timing);
        }
        self.schedule(tx, service, op, first_step_ms.map(|d| self.now_ms() + d))
    }

    /// Runs every remaining step of `op` in this transaction.
    pub fn run_to_end(
        &self,
        tx: &mut dyn Tx,
        service: &str,
        op: &str,
        timing: &Timing,
    ) -> Result<(), StoreError> {
        let Some(driver) = self.driver(service) else {
            return Err(StoreError::Backend(format!(
                "no driver for {service} operations"
            )));
        };
        // A state machine has a handful of steps; the bound only guards against a driver bug.
        for _ in 0..64 {
            if driver.advance(tx, op, self.now_ms(), timing)? == StepOutcome::Done {
                return self.unschedule(tx, service, op);
            }
        }
        Err(StoreError::Backend(format!(
            "operation {op} did not finish"
        )))
    }

    /// Sets when `op`'s next step is due (`None`: unscheduled, waits for a manual advance).
    pub fn schedule(
        &self,
        tx: &mut dyn Tx,
        service: &str,
        op: &str,
        due: Option<i64>,
    ) -> Result<(), StoreError> {
        self.unschedule(tx, service, op)?;
        let of = format!("{SCHED_OF}{service}/{op}");
        let key = match due {
            Some(due) => sched_key(due, service, op),
            None => String::new(),
        };
        if !key.is_empty() {
            tx.put(&key, b"")?;
        }
        // The reverse entry exists for every unfinished operation, scheduled or waiting.
        tx.put(&of, key.as_bytes())?;
        self.inner.wake.notify_one();
        Ok(())
    }

    /// Removes `op` from the schedule (it finished, or its resource is gone).
    pub fn unschedule(&self, tx: &mut dyn Tx, service: &str, op: &str) -> Result<(), StoreError> {
        let of = format!("{SCHED_OF}{service}/{op}");
        if let Some(old) = tx.get(&of)? {
            if !old.is_empty() {
                tx.delete(&String::from_utf8_lossy(&old))?;
            }
            tx.delete(&of)?;
        }
        Ok(())
    }

    /// Advances one step of `op` now (the manual advance); returns whether it is finished.
    pub fn advance_one(
        &self,
        tx: &mut dyn Tx,
        service: &str,
        op: &str,
    ) -> Result<bool, StoreError> {
        let Some(driver) = self.driver(service) else {
            return Err(StoreError::Backend(format!(
                "no driver for {service} operations"
            )));
        };
        let timing = self.timing();
        let now = self.now_ms();
        match driver.advance(tx, op, now, &timing)? {
            StepOutcome::Done => {
                self.unschedule(tx, service, op)?;
                Ok(true)
            }
            StepOutcome::Continue(delay) => {
                self.schedule(tx, service, op, delay.map(|d| now + d))?;
                Ok(false)
            }
        }
    }

    /// Advances every operation whose step is due, one transaction per step; returns how many steps ran.
    pub async fn advance_due_operations(&self) -> Result<usize, StoreError> {
        let now = self.now_ms();
        let limit_key = sched_key(now + 1, "", "");
        let due: Vec<String> = self
            .inner
            .store
            .read(move |tx| -> Result<Vec<String>, StoreError> {
                let rows = tx.scan(SCHED, None, 512)?;
                Ok(rows
                    .into_iter()
                    .map(|(k, _)| k)
                    .take_while(|k| *k < limit_key)
                    .collect())
            })
            .await?;
        let mut ran = 0;
        for key in due {
            let Some((service, op)) = parse_sched_key(&key) else {
                continue;
            };
            let engine = self.clone();
            let stepped = self
                .inner
                .store
                .write(move |tx| -> Result<bool, StoreError> {
                    // Another step (a manual advance, a reset) may have moved it meanwhile.
                    if tx.get(&key)?.is_none() {
                        return Ok(false);
                    }
                    engine.advance_one(tx, &service, &op)?;
                    Ok(true)
                })
                .await;
            match stepped {
                Ok(true) => ran += 1,
                Ok(false) => {}
                Err(e) => {
                    tracing::error!(error = %e, "advancing an operation failed; it stays scheduled")
                }
            }
        }
        Ok(ran)
    }

    /// Milliseconds until the earliest scheduled step (None when nothing is scheduled).
    async fn next_due_in(&self) -> Result<Option<i64>, StoreError> {
        let first = self
            .inner
            .store
            .read(|tx| -> Result<Option<String>, StoreError> {
                Ok(tx.scan(SCHED, None, 1)?.into_iter().next().map(|(k, _)| k))
            })
            .await?;
        Ok(first.and_then(|k| {
            let hex = k.strip_prefix(SCHED)?.split('/').next()?;
            let due = i64::from_str_radix(hex, 16).ok()?;
            Some((due - self.now_ms()).max(0))
        }))
    }

    /// The scheduler task: sleeps until the next step is due or something new is scheduled.
    pub async fn run_scheduler(self) {
        loop {
            if let Err(e) = self.advance_due_operations().await {
                tracing::error!(error = %e, "scheduler pass failed; retrying");
            }
            let wait = match self.next_due_in().await {
                Ok(Some(ms)) => Duration::from_millis(ms.clamp(1, 1000) as u64),
                Ok(None) => Duration::from_secs(1),
                Err(_) => Duration::from_millis(500),
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.inner.wake.notified() => {}
            }
        }
    }
}

fn parse_sched_key(key: &str) -> Option<(String, String)> {
    let rest = key.strip_prefix(SCHED)?;
    let mut parts = rest.splitn(3, '/');
    let _due = parts.next()?;
    let service = parts.next()?.to_string();
    let op = parts.next()?.to_string();
    Some((service, op))
}
