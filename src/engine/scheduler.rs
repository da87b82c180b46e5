//! The scheduler: advances due operations (the due steps of a pass share transactions of up to
//! [`STEP_BATCH`], each step alone again when one fails), and backs off an operation
//! whose step keeps failing (bounded exponential, per operation) instead of retrying it in a loop;
//! a store that refuses writes backs the whole pass off. A failure is logged when it starts, then
//! once per [`LOG_EVERY_MS`] with counts, and stuck operations show in the admin API and `/metrics`.

use super::{parse_sched_key, sched_key, Engine, StoreError, TimingProfile, SCHED};
use std::collections::HashMap;
use std::time::Duration;

/// How often the scheduler re-reads what other replicas may have changed (timing, fault rules).
const SETTINGS_REFRESH: Duration = Duration::from_millis(250);
/// How often the scheduler drops the finished operations past the retention.
const RETENTION_SWEEP: Duration = Duration::from_secs(1);
/// The longest the scheduler sleeps, which bounds how late a replica sees those changes.
const MAX_SCHEDULER_SLEEP_MS: i64 = 500;
/// The first retry of a failed step, doubling with each further failure up to [`MAX_BACKOFF_MS`].
const FIRST_BACKOFF_MS: i64 = 250;
/// The longest wait between two tries of a failing step.
const MAX_BACKOFF_MS: i64 = 30_000;
/// How often a repeated failure is logged again (with how many tries failed since).
pub const LOG_EVERY_MS: i64 = 10_000;
/// How many due entries a pass (and the look for the next due time) reads at most.
const DUE_BATCH: usize = 512;

/// How many due steps share one transaction.
const STEP_BATCH: usize = 64;

/// How many schedule entries one look at the schedule copies.
const DUE_PIECE: usize = 16;

/// A due step: its schedule key, service and operation.
type DueStep = (String, String, String);

/// Why a batch of steps was not kept: the error, and which step of the batch raised it (None when
/// the transaction itself failed).
struct BatchFailed {
    at: Option<usize>,
    error: StoreError,
}

impl From<StoreError> for BatchFailed {
    fn from(error: StoreError) -> Self {
        BatchFailed { at: None, error }
    }
}

/// An operation whose step failed, as this replica last tried it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepFailure {
    /// How many tries in a row failed.
    pub attempts: u32,
    /// The last error.
    pub error: String,
    /// When the first of them failed (ms since the epoch).
    pub since_ms: i64,
    /// When the next try is due (ms since the epoch).
    pub retry_at_ms: i64,
}

/// The failing operations of this replica, by `service/op`, and when failures were last logged.
#[derive(Default)]
pub(super) struct Failures {
    by_op: HashMap<String, StepFailure>,
    logged_at: i64,
    failed_since_log: u64,
}

impl Failures {
    fn backed_off(&self, op: &str, now: i64) -> Option<i64> {
        self.by_op.get(op).map(|f| f.retry_at_ms).filter(|t| *t > now)
    }
}

fn backoff_ms(attempts: u32) -> i64 {
    FIRST_BACKOFF_MS.saturating_mul(1i64 << attempts.saturating_sub(1).min(20)).min(MAX_BACKOFF_MS)
}

impl Engine {
    /// Advances every operation whose step is due (and not backed off); returns how many steps
    /// ran. A store that refuses the pass ends it with that error.
    pub async fn advance_due_operations(&self) -> Result<usize, StoreError> {
        let now = self.now_ms();
        let limit_key = sched_key(now + 1, "", "");
        let due: Vec<String> = self
            .inner
            .store
            .read(move |tx| -> Result<Vec<String>, StoreError> {
                // In small pieces: most of the schedule is usually not due yet, and a piece is a
                // copy of its keys.
                let mut due = Vec::new();
                while due.len() < DUE_BATCH {
                    let rows = tx.scan(SCHED, due.last().map(String::as_str), DUE_PIECE)?;
                    let whole = rows.len() == DUE_PIECE;
                    let before = due.len();
                    due.extend(rows.into_iter().map(|(k, _)| k).take_while(|k| *k < limit_key));
                    if !whole || due.len() - before < DUE_PIECE {
                        break;
                    }
                }
                due.truncate(DUE_BATCH);
                Ok(due)
            })
            .await?;
        let due: Vec<DueStep> = {
            let f = self.failures();
            due.into_iter()
                .filter_map(|key| parse_sched_key(&key).map(|(service, op)| (key, service, op)))
                .filter(|(_, service, op)| {
                    f.by_op.is_empty() || f.backed_off(&format!("{service}/{op}"), now).is_none()
                })
                .collect()
        };
        let mut ran = 0;
        // The steps of a batch share one transaction (one commit). When one of them fails, none
        // is kept: that one backs off and each of the others goes back on the list alone.
        let mut work: Vec<&[DueStep]> = due.chunks(STEP_BATCH).rev().collect();
        while let Some(batch) = work.pop() {
            match self.write_steps(batch).await {
                Ok(stepped) => {
                    ran += stepped;
                    for (_, service, op) in batch {
                        self.step_succeeded(service, op);
                    }
                }
                Err(BatchFailed { error: e @ StoreError::Unavailable(_), .. }) => return Err(e),
                Err(BatchFailed { at, error }) => {
                    for (i, step) in batch.iter().enumerate().rev() {
                        if Some(i) == at || batch.len() == 1 {
                            self.step_failed(&step.1, &step.2, &error);
                        } else {
                            work.push(std::slice::from_ref(step));
                        }
                    }
                }
            }
        }
        self.log_failures();
        Ok(ran)
    }

    /// Runs the due steps `steps` in one write transaction; how many ran (a step that another one,
    /// a manual advance or a reset, moved meanwhile is passed over). When one fails, none is kept.
    async fn write_steps(&self, steps: &[DueStep]) -> Result<usize, BatchFailed> {
        let (engine, steps) = (self.clone(), steps.to_vec());
        self.inner
            .store
            .write(move |tx| -> Result<usize, BatchFailed> {
                let mut stepped = 0;
                for (at, (key, service, op)) in steps.iter().enumerate() {
                    let failed = |error| BatchFailed { at: Some(at), error };
                    if tx.get(key).map_err(failed)?.is_some() {
                        engine.advance_one(tx, service, op).map_err(failed)?;
                        stepped += 1;
                    }
                }
                Ok(stepped)
            })
            .await
    }

    /// The operations whose last step failed on this replica, by `service/op`.
    pub fn stuck_operations(&self) -> HashMap<String, StepFailure> {
        self.failures().by_op.clone()
    }

    fn failures(&self) -> std::sync::MutexGuard<'_, Failures> {
        self.inner.failures.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn step_succeeded(&self, service: &str, op: &str) {
        let mut f = self.failures();
        if f.by_op.is_empty() {
            return;
        }
        let id = format!("{service}/{op}");
        if f.by_op.remove(&id).is_some() {
            tracing::info!(operation = id, "a step that kept failing went through; the operation moves on");
        }
    }

    fn step_failed(&self, service: &str, op: &str, error: &StoreError) {
        let now = self.now_ms();
        let mut f = self.failures();
        let id = format!("{service}/{op}");
        let entry = f.by_op.entry(id.clone()).or_insert_with(|| StepFailure {
            attempts: 0,
            error: String::new(),
            since_ms: now,
            retry_at_ms: now,
        });
        entry.attempts += 1;
        entry.error = error.to_string();
        entry.retry_at_ms = now + backoff_ms(entry.attempts);
        // The first failure after a quiet interval is logged in full; the rest are counted into
        // one line per interval (many operations failing at once, a full disk, are one story).
        if now - f.logged_at >= LOG_EVERY_MS {
            f.logged_at = now;
            f.failed_since_log = 0;
            tracing::error!(
                operation = id,
                error = %error,
                "advancing an operation failed; it stays scheduled and is retried with growing pauses (up to {} s); see GET /_localplane/operations",
                MAX_BACKOFF_MS / 1000
            );
        } else {
            f.failed_since_log += 1;
        }
    }

    /// One line per [`LOG_EVERY_MS`] while operations keep failing.
    fn log_failures(&self) {
        let now = self.now_ms();
        let mut f = self.failures();
        if f.by_op.is_empty() || now - f.logged_at < LOG_EVERY_MS || f.failed_since_log == 0 {
            return;
        }
        let (stuck, tries) = (f.by_op.len(), f.failed_since_log);
        let (op, example) = f.by_op.iter().next().map(|(k, v)| (k.clone(), v.error.clone())).unwrap_or_default();
        tracing::warn!(
            stuck,
            failed_tries = tries,
            operation = %op,
            error = %example,
            "operations keep failing their steps (counts since the last such line); they retry with growing pauses"
        );
        f.logged_at = now;
        f.failed_since_log = 0;
    }

    /// Milliseconds until the earliest step worth trying: the earliest due entry not backed off,
    /// or the earliest retry of those that are (None when nothing is scheduled).
    async fn next_due_in(&self) -> Result<Option<i64>, StoreError> {
        // While nothing is backed off the earliest entry is the answer: one key, as before back-off.
        let look = if self.failures().by_op.is_empty() { 1 } else { DUE_BATCH };
        let heads = self
            .inner
            .store
            .read(move |tx| -> Result<Vec<String>, StoreError> {
                Ok(tx.scan(SCHED, None, look)?.into_iter().map(|(k, _)| k).collect())
            })
            .await?;
        let now = self.now_ms();
        let f = self.failures();
        let next = heads
            .iter()
            .filter_map(|k| {
                let hex = k.strip_prefix(SCHED)?.split('/').next()?;
                let due = i64::from_str_radix(hex, 16).ok()?;
                let (service, op) = parse_sched_key(k)?;
                Some(f.backed_off(&format!("{service}/{op}"), now).unwrap_or(due))
            })
            .min();
        Ok(next.map(|t| (t - now).max(0)))
    }

    /// The scheduler task: sleeps until the next step is due or something new is scheduled, and
    /// keeps this replica's copy of the replica-wide settings fresh; returns once `shutdown` fires
    /// (between two steps: a step's transaction is never cut short).
    pub async fn run_scheduler(self, mut shutdown: crate::shutdown::Shutdown) {
        let mut refreshed: Option<tokio::time::Instant> = None;
        // Consecutive failed passes: the pause after one doubles, so a store that refuses writes
        // (a full disk) is not retried in a loop.
        let mut failed_passes: u32 = 0;
        let mut swept: Option<tokio::time::Instant> = None;
        while !shutdown.is_stopped() {
            self.inner.planned_wake.store(i64::MIN, std::sync::atomic::Ordering::Release);
            let mut pass: Result<(), StoreError> = Ok(());
            if refreshed.is_none_or(|t| t.elapsed() >= SETTINGS_REFRESH) {
                pass = self.refresh_settings().await;
                refreshed = Some(tokio::time::Instant::now());
            }
            if pass.is_ok() && swept.is_none_or(|t| t.elapsed() >= RETENTION_SWEEP) {
                pass = self.drop_expired_operations().await.map(|_| ());
                swept = Some(tokio::time::Instant::now());
            }
            let manual = self.timing().profile == TimingProfile::Manual;
            if !manual && pass.is_ok() {
                pass = self.advance_due_operations().await.map(|_| ());
            }
            let mut wait = match self.next_due_in().await {
                Ok(Some(ms)) => ms.clamp(1, MAX_SCHEDULER_SLEEP_MS),
                Ok(None) => MAX_SCHEDULER_SLEEP_MS,
                Err(e) => {
                    pass = pass.and(Err(e));
                    MAX_SCHEDULER_SLEEP_MS
                }
            };
            // One line when the store goes away and one when it is back, not one per pass.
            match pass {
                Err(e) => {
                    if failed_passes == 0 {
                        tracing::error!(error = %e, "scheduler pass failed; operations wait until the store answers again");
                    }
                    failed_passes += 1;
                    wait = wait.max(backoff_ms(failed_passes).min(5_000));
                }
                Ok(()) if failed_passes > 0 => {
                    tracing::info!(failed_passes, "the store answers again; operations move on");
                    failed_passes = 0;
                }
                _ => {}
            }
            // A step scheduled from now on for this time or later wakes nobody (a pass would find
            // nothing due); one scheduled between the look at the schedule and here found the
            // scheduler awake and left a wake-up that ends the sleep at once.
            self.inner.planned_wake.store(self.now_ms().saturating_add(wait), std::sync::atomic::Ordering::Release);
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
                _ = self.inner.wake.notified() => {}
                _ = shutdown.recv() => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Clock, OperationDriver, StepOutcome, StoppedClock, Timing};
    use crate::model::Service;
    use crate::store::{memory::Memory, Store, Tx};
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// A driver whose every step fails, counting the tries.
    struct Failing(Arc<AtomicUsize>);

    impl OperationDriver for Failing {
        fn advance(&self, _: &mut dyn Tx, op: &str, _: i64, _: &Timing) -> Result<StepOutcome, StoreError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Err(StoreError::Corrupt { key: op.to_string(), detail: "unreadable".into() })
        }

        fn describe(
            &self,
            _: &mut dyn Tx,
            op: &str,
            _: i64,
        ) -> Result<Option<crate::engine::OperationView>, StoreError> {
            Err(StoreError::Corrupt { key: op.to_string(), detail: "unreadable".into() })
        }
    }

    #[tokio::test]
    async fn a_failing_step_is_retried_with_growing_pauses_not_in_a_loop() {
        let clock = Arc::new(StoppedClock::at(1_000_000));
        let store = Store::new(Arc::new(Memory::new()));
        let engine = Engine::new(store, clock.clone(), Timing::new(TimingProfile::Fast));
        let tries = Arc::new(AtomicUsize::new(0));
        engine.register(Service::ServiceDiscovery, Arc::new(Failing(tries.clone())));
        let e = engine.clone();
        engine
            .store()
            .write(move |tx| e.submit(tx, Service::ServiceDiscovery, "acct/region/op-1", Some(0)))
            .await
            .unwrap();
        for _ in 0..100 {
            engine.advance_due_operations().await.unwrap();
        }
        assert_eq!(tries.load(Ordering::SeqCst), 1, "tried once until its pause is over");
        let stuck = engine.stuck_operations();
        let failure = &stuck["servicediscovery/acct/region/op-1"];
        assert_eq!((failure.attempts, failure.retry_at_ms), (1, 1_000_000 + FIRST_BACKOFF_MS));
        assert!(engine.next_due_in().await.unwrap().unwrap() >= FIRST_BACKOFF_MS, "the scheduler sleeps");
        clock.advance(FIRST_BACKOFF_MS);
        engine.advance_due_operations().await.unwrap();
        assert_eq!(tries.load(Ordering::SeqCst), 2);
        assert_eq!(engine.stuck_operations()["servicediscovery/acct/region/op-1"].retry_at_ms, clock.now_ms() + 500);
        let listed = engine.list_operations(crate::engine::LISTED_OPERATIONS).await.unwrap();
        assert_eq!(listed.len(), 1, "an unreadable operation is listed");
        assert_eq!(listed[0].state, "UNREADABLE");
        assert_eq!(listed[0].stuck.as_ref().map(|s| s.attempts), Some(2));
        assert_eq!(backoff_ms(30), MAX_BACKOFF_MS);
    }

    /// A driver that ends every operation in one step, except those named `bad…`, whose step fails:
    /// the steps it tried, and the ends that committed (as `engine::count_finished` counts them).
    struct OneBad(Arc<std::sync::Mutex<Vec<String>>>, Arc<std::sync::Mutex<Vec<String>>>);

    impl OperationDriver for OneBad {
        fn advance(&self, tx: &mut dyn Tx, op: &str, _: i64, _: &Timing) -> Result<StepOutcome, StoreError> {
            self.0.lock().unwrap().push(op.to_string());
            tx.put(&format!("done/{op}"), b"")?;
            if op.contains("bad") {
                return Err(StoreError::Corrupt { key: op.to_string(), detail: "unreadable".into() });
            }
            let (ended, op) = (self.1.clone(), op.to_string());
            tx.after_commit(Box::new(move || ended.lock().unwrap().push(op)));
            Ok(StepOutcome::Done)
        }
    }

    #[tokio::test]
    async fn a_failing_step_in_a_batch_backs_off_alone_and_the_others_run_once() {
        let clock = Arc::new(StoppedClock::at(1_000_000));
        let store = Store::new(Arc::new(Memory::new()));
        let engine = Engine::new(store, clock.clone(), Timing::new(TimingProfile::Fast));
        let tries = Arc::new(std::sync::Mutex::new(Vec::new()));
        let ended = Arc::new(std::sync::Mutex::new(Vec::new()));
        engine.register(Service::ServiceDiscovery, Arc::new(OneBad(tries.clone(), ended.clone())));
        for op in ["a/r/op-1", "a/r/op-2", "a/r/op-3-bad", "a/r/op-4"] {
            let e = engine.clone();
            engine.store().write(move |tx| e.submit(tx, Service::ServiceDiscovery, op, Some(0))).await.unwrap();
        }
        assert_eq!(engine.advance_due_operations().await.unwrap(), 3);
        let mut tried = tries.lock().unwrap().clone();
        tried.sort();
        // The batch ran the first two and failed on the third; then the other three ran alone.
        assert_eq!(tried, ["a/r/op-1", "a/r/op-1", "a/r/op-2", "a/r/op-2", "a/r/op-3-bad", "a/r/op-4"]);
        let kept = engine
            .store()
            .read(|tx| -> Result<Vec<String>, StoreError> {
                Ok(tx.scan("done/", None, 10)?.into_iter().map(|(k, _)| k).collect())
            })
            .await
            .unwrap();
        assert_eq!(kept, ["done/a/r/op-1", "done/a/r/op-2", "done/a/r/op-4"], "the failed step changed nothing");
        let mut ended = ended.lock().unwrap().clone();
        ended.sort();
        assert_eq!(ended, ["a/r/op-1", "a/r/op-2", "a/r/op-4"], "each end counted once, after its commit");
        assert_eq!(engine.stuck_operations().keys().collect::<Vec<_>>(), ["servicediscovery/a/r/op-3-bad"]);
        engine.advance_due_operations().await.unwrap();
        assert_eq!(tries.lock().unwrap().len(), 6, "the failed one waits for its pause");
    }
}
