//! Durable asynchronous operations. An operation is a document written by its service in the same
//! transaction as the change it carries, plus a schedule entry saying when its next step is due.
//! The scheduler advances due steps, each in its own transaction; since all of it is in the store, a
//! restarted process simply picks up the schedule where the dead one left it.

pub mod faults;
mod listing;
mod retention;
pub mod scheduler;
pub mod timing;

pub use retention::{parse_retention, DEFAULT_OPERATION_RETENTION};

pub use faults::{FaultRule, Rollback};
pub use timing::{Timing, TimingProfile};

use crate::model::Service;
use crate::store::{get_json, put_json, Store, StoreError, Tx};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use tokio::sync::Notify;

/// Key prefix of schedule entries: `sched/{due_ms:016x}/{service}/{op}`.
const SCHED: &str = "sched/";
/// Key prefix of the reverse index: `schedof/{service}/{op}` → the schedule key (empty while the
/// operation waits for a manual advance). Exists exactly for unfinished operations.
const SCHED_OF: &str = "schedof/";
/// Key prefix of the index of every operation ever submitted: `ops/{service}/{created_ms:016x}/{op}`
/// (in submission order, so that new entries land next to each other).
const OPS: &str = "ops/";
/// Key prefix of the settings every replica sharing the store follows (a reset keeps them).
pub const SETTINGS: &str = "settings/";
/// How many operations the admin listing (`GET /_localplane/operations`, `ops list`) and the
/// console show when nothing says otherwise: every unfinished one and the newest finished ones.
pub const LISTED_OPERATIONS: usize = 1_000;
/// The timing in force for every replica: `{"profile": "fast", "overrides": {…}}`.
const SETTINGS_TIMING: &str = "settings/timing";

/// The timing as the store keeps it.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredTiming {
    profile: String,
    #[serde(default)]
    overrides: BTreeMap<String, i64>,
}

/// Reads the time. Nothing in localplane reads the wall clock but through this.
pub trait Clock: Send + Sync {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
}

/// The system clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
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

/// One step of an operation as the admin API shows it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct StepView {
    /// Step name.
    pub name: String,
    /// Its state (`PENDING`, `IN_PROGRESS`, `COMPLETED`, `FAILED`, `CANCELLED`).
    pub state: String,
}

/// An operation of any service as the admin API and `localplane ops` show it.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationView {
    /// The service's name.
    pub service: String,
    /// The id clients use (an OperationId, an operation ARN).
    pub id: String,
    /// Operation type.
    pub operation_type: String,
    /// The account it belongs to (for a Cloud Map operation, the namespace owner's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// The account that asked for it, when not `account` (a consumer of a shared namespace).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acting_account: Option<String>,
    /// The resource it changes (id or ARN).
    pub resource: String,
    /// Current state.
    pub state: String,
    /// Whether it has ended.
    pub terminal: bool,
    /// Steps with their states.
    pub steps: Vec<StepView>,
    /// Creation time, ms since the epoch.
    pub created_ms: i64,
    /// End time, ms since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_ms: Option<i64>,
    /// Failure code, when it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// When its next step keeps failing on this replica: how, and when it is tried again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stuck: Option<scheduler::StepFailure>,
}

/// A service's operation state machine.
pub trait OperationDriver: Send + Sync {
    /// Moves operation `op` one step forward at time `now`, changing its resources as the step says,
    /// and logs the state it left the operation in ([`StepLog`]).
    fn advance(&self, tx: &mut dyn Tx, op: &str, now: i64, timing: &Timing) -> Result<StepOutcome, StoreError>;

    /// Describes operation `op` as it is at `now`, for the admin API (None when it no longer exists).
    fn describe(&self, _tx: &mut dyn Tx, _op: &str, _now: i64) -> Result<Option<OperationView>, StoreError> {
        Ok(None)
    }

    /// Deletes the record of the finished operation `op`, past the retention of finished
    /// operations; false when this service keeps its operations (then the engine keeps its index
    /// entry too).
    fn forget(&self, _tx: &mut dyn Tx, _op: &str) -> Result<bool, StoreError> {
        Ok(false)
    }
}

/// What a step left an operation at: the fields of the info line every step logs.
pub struct StepLog<'a> {
    /// The service's name.
    pub service: &'a str,
    /// The id clients use.
    pub operation: &'a str,
    /// Operation type.
    pub operation_type: &'a str,
    /// The resource it changes.
    pub resource: &'a str,
    /// The state it is in now.
    pub state: &'a str,
    /// The step under way ("" when none is).
    pub step: &'a str,
    /// Failure code, when it failed.
    pub error_code: Option<&'a str>,
    /// Whether it has ended.
    pub finished: bool,
}

/// Counts an operation of `service` and `operation_type` that ended in `state` in transaction `tx`:
/// the counter `localplane_operations_finished_total{service,type,state}` of `/metrics` (since the
/// process started), so that metrics need not read the history. Drivers call it where an operation
/// ends; it is counted once `tx` has committed, so a step rolled back (a store failure, or another
/// step of its scheduler batch failing) and retried is counted once.
pub fn count_finished(tx: &mut dyn Tx, service: &'static str, operation_type: &'static str, state: &'static str) {
    tx.after_commit(Box::new(move || {
        FINISHED.with(|handles| {
            handles
                .borrow_mut()
                .entry((service, operation_type, state))
                .or_insert_with(|| {
                    metrics::counter!("localplane_operations_finished_total",
                        "service" => service, "type" => operation_type, "state" => state)
                })
                .increment(1);
        })
    }));
}

/// (service, type, state) of a finished operation.
type FinishedKey = (&'static str, &'static str, &'static str);

thread_local! {
    /// The finished-operation counters by label, so that an ending costs a lookup.
    static FINISHED: std::cell::RefCell<std::collections::HashMap<FinishedKey, metrics::Counter>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// Whether step lines are logged (drivers build a [`StepLog`] only then).
pub fn step_log_enabled() -> bool {
    tracing::enabled!(tracing::Level::INFO)
}

impl StepLog<'_> {
    /// Logs the line, at info.
    pub fn emit(&self) {
        tracing::info!(
            service = self.service,
            operation = %self.operation,
            operation_type = %self.operation_type,
            resource = %self.resource,
            state = %self.state,
            step = self.step,
            error_code = self.error_code.unwrap_or(""),
            "operation {}",
            if self.finished { "finished" } else { "moved on" }
        );
    }
}

/// A clock that moves only when told to: in-process tests of service rules run on it, so that
/// every timestamp they see is the one they set.
#[derive(Debug, Default)]
pub struct StoppedClock(AtomicI64);

impl StoppedClock {
    /// A clock standing at `ms` milliseconds since the epoch.
    pub fn at(ms: i64) -> StoppedClock {
        StoppedClock(AtomicI64::new(ms))
    }

    /// Moves the clock `ms` milliseconds forward.
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for StoppedClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

/// The operation engine: schedule, drivers, timing and the wake-up of the scheduler task.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<EngineInner>,
}

struct EngineInner {
    store: Store,
    clock: Arc<dyn Clock>,
    /// This replica's copy of the replica-wide timing, with a count of its local changes.
    timing: RwLock<(u64, Timing)>,
    drivers: RwLock<HashMap<&'static str, Arc<dyn OperationDriver>>>,
    wake: Notify,
    /// Whether any request fault rule may exist (keeps the request path free of store reads): the
    /// low bit; the bits above count the local changes of the flag.
    request_faults: AtomicU64,
    /// The last time `creation_ms` handed out.
    last_creation: std::sync::atomic::AtomicI64,
    /// The operations whose steps keep failing on this replica, backed off.
    failures: std::sync::Mutex<scheduler::Failures>,
    /// The service quotas of this server.
    quotas: RwLock<crate::quotas::Quotas>,
    /// How long finished operations are kept, in ms (`i64::MAX`: forever).
    retention_ms: AtomicI64,
    /// When the sleeping scheduler wakes by itself (engine clock, ms); `i64::MIN` while it runs a
    /// pass. A step scheduled for that time or later needs no wake-up call.
    planned_wake: AtomicI64,
}

/// A refresh read the store when the local copy had seen `changes` local changes; a local change
/// since then is newer than what the refresh read, so the refresh must not overwrite it.
fn faults_word(changes: u64, any: bool) -> u64 {
    (changes << 1) | u64::from(any)
}

fn sched_key(due: i64, service: &str, op: &str) -> String {
    crate::store::key_with_hex16(SCHED, due.max(0) as u64, &["/", service, "/", op])
}

impl Engine {
    /// An engine over `store`.
    pub fn new(store: Store, clock: Arc<dyn Clock>, timing: Timing) -> Self {
        Engine {
            inner: Arc::new(EngineInner {
                store,
                clock,
                timing: RwLock::new((0, timing)),
                drivers: RwLock::new(HashMap::new()),
                wake: Notify::new(),
                request_faults: AtomicU64::new(faults_word(0, true)),
                last_creation: std::sync::atomic::AtomicI64::new(0),
                failures: Default::default(),
                quotas: RwLock::new(crate::quotas::Quotas::default()),
                retention_ms: AtomicI64::new(i64::MAX),
                planned_wake: AtomicI64::new(i64::MIN),
            }),
        }
    }

    /// Sets the service quotas (before the services start: they read them once).
    pub fn set_quotas(&self, quotas: crate::quotas::Quotas) {
        if let Ok(mut q) = self.inner.quotas.write() {
            *q = quotas;
        }
    }

    /// The service quotas.
    pub fn quotas(&self) -> crate::quotas::Quotas {
        self.inner.quotas.read().map(|q| q.clone()).unwrap_or_default()
    }

    /// Registers the state machine of `service`'s operations.
    pub fn register(&self, service: Service, driver: Arc<dyn OperationDriver>) {
        if let Ok(mut d) = self.inner.drivers.write() {
            d.insert(service.name(), driver);
        }
    }

    /// The current time.
    pub fn now_ms(&self) -> i64 {
        self.inner.clock.now_ms()
    }

    /// A creation time for a resource listed in creation order: the current time, or a millisecond
    /// past the last one handed out when that is not earlier, so that two resources created in the
    /// same millisecond still list in the order they were created. For resources created at human
    /// rates (connectors, plugins, worker configurations), not for operations, whose bursts would push the clock ahead.
    pub fn creation_ms(&self) -> i64 {
        use std::sync::atomic::Ordering;
        let now = self.now_ms();
        let prev = self
            .inner
            .last_creation
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |last| Some(now.max(last + 1)))
            .unwrap_or(now);
        now.max(prev + 1)
    }

    /// The timing in force (as of this replica's last look at the store).
    pub fn timing(&self) -> Timing {
        self.inner.timing.read().map(|t| t.1.clone()).unwrap_or_default()
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    fn driver(&self, service: &str) -> Option<Arc<dyn OperationDriver>> {
        self.inner.drivers.read().ok().and_then(|d| d.get(service).cloned())
    }

    /// Inside a request's transaction: a new operation `op` of `service` has been written. Under the
    /// `instant` profile it runs to its end here, before the response; otherwise its first step is
    /// scheduled `first_step_ms` from now (or left for a manual advance).
    pub fn submit(
        &self,
        tx: &mut dyn Tx,
        service: Service,
        op: &str,
        first_step_ms: Option<i64>,
    ) -> Result<(), StoreError> {
        self.file_finished(tx, service, op)?;
        let timing = self.timing();
        if timing.profile == TimingProfile::Instant {
            return self.run_to_end(tx, service, op, &timing);
        }
        // A new operation has no schedule entry to replace.
        self.put_schedule(tx, service.name(), op, first_step_ms.map(|d| self.now_ms() + d))
    }

    /// Inside a request's transaction: files the new operation `op` of `service` in the engine's
    /// index (listing, retention). [`Engine::submit`] does this for every operation it is handed;
    /// a driver that ran a new operation to its end itself, under the `instant` profile, files it
    /// here instead of submitting it.
    pub fn file_finished(&self, tx: &mut dyn Tx, service: Service, op: &str) -> Result<(), StoreError> {
        let key = crate::store::key_with_hex16(&format!("{OPS}{service}/"), self.now_ms().max(0) as u64, &["/", op]);
        tx.put(&key, b"")
    }

    /// Runs every remaining step of `op` in this transaction.
    pub fn run_to_end(&self, tx: &mut dyn Tx, service: Service, op: &str, timing: &Timing) -> Result<(), StoreError> {
        let service = service.name();
        let Some(driver) = self.driver(service) else {
            return Err(StoreError::Backend(format!("no driver for {service} operations")));
        };
        // A state machine has a handful of steps; the bound only guards against a driver bug.
        for _ in 0..64 {
            if driver.advance(tx, op, self.now_ms(), timing)? == StepOutcome::Done {
                return self.unschedule(tx, service, op);
            }
        }
        Err(StoreError::Backend(format!("operation {op} did not finish")))
    }

    /// Sets when `op`'s next step is due (`None`: unscheduled, waits for a manual advance).
    fn schedule(&self, tx: &mut dyn Tx, service: &str, op: &str, due: Option<i64>) -> Result<(), StoreError> {
        self.unschedule(tx, service, op)?;
        self.put_schedule(tx, service, op, due)
    }

    /// Writes the schedule entries of `op`, which has none, and wakes the scheduler when the step
    /// is due before it would wake by itself.
    fn put_schedule(&self, tx: &mut dyn Tx, service: &str, op: &str, due: Option<i64>) -> Result<(), StoreError> {
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
        if due.is_some_and(|due| due < self.inner.planned_wake.load(Ordering::Acquire)) {
            self.inner.wake.notify_one();
        }
        Ok(())
    }

    /// Removes `op` of `service` from the schedule (it finished, or its resource is gone).
    pub fn cancel(&self, tx: &mut dyn Tx, service: Service, op: &str) -> Result<(), StoreError> {
        self.unschedule(tx, service.name(), op)
    }

    fn unschedule(&self, tx: &mut dyn Tx, service: &str, op: &str) -> Result<(), StoreError> {
        let of = format!("{SCHED_OF}{service}/{op}");
        if let Some(old) = tx.get(&of)? {
            if !old.is_empty() {
                tx.delete(&String::from_utf8_lossy(&old))?;
            }
            tx.delete(&of)?;
        }
        Ok(())
    }

    /// Advances one step of `op` now (the manual advance, or a due step); returns whether it is
    /// finished.
    fn advance_one(&self, tx: &mut dyn Tx, service: &str, op: &str) -> Result<bool, StoreError> {
        let Some(driver) = self.driver(service) else {
            return Err(StoreError::Backend(format!("no driver for {service} operations")));
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

    /// Changes the timing in force for every replica sharing the store (the others see it at their
    /// next refresh). Operations waiting for a manual advance get scheduled when the new profile
    /// moves things on its own.
    pub async fn set_timing(&self, timing: Timing) -> Result<(), StoreError> {
        let manual = timing.profile == TimingProfile::Manual;
        let stored = StoredTiming { profile: timing.profile.as_str().to_string(), overrides: timing.overrides.clone() };
        let engine = self.clone();
        self.inner
            .store
            .write(move |tx| -> Result<(), StoreError> {
                put_json(tx, SETTINGS_TIMING, &stored)?;
                if manual {
                    return Ok(());
                }
                let now = engine.now_ms();
                for (key, value) in tx.scan(SCHED_OF, None, usize::MAX)? {
                    if value.is_empty() {
                        if let Some((service, op)) = key.strip_prefix(SCHED_OF).and_then(|r| r.split_once('/')) {
                            let (service, op) = (service.to_string(), op.to_string());
                            engine.schedule(tx, &service, &op, Some(now))?;
                        }
                    }
                }
                Ok(())
            })
            .await?;
        if let Ok(mut t) = self.inner.timing.write() {
            *t = (t.0 + 1, timing);
        }
        self.inner.wake.notify_one();
        Ok(())
    }

    /// Re-reads the settings another replica may have changed: the timing and whether request
    /// fault rules exist. The scheduler calls it every 250 ms.
    pub async fn refresh_settings(&self) -> Result<(), StoreError> {
        let timing_seen = self.inner.timing.read().map(|t| t.0).unwrap_or(0);
        let faults_seen = self.inner.request_faults.load(Ordering::Acquire);
        let (stored, any) = self
            .inner
            .store
            .read(|tx| -> Result<_, StoreError> {
                // An unreadable timing document (a hand-edited snapshot?) leaves the timing as it is.
                let stored = get_json::<StoredTiming>(tx, SETTINGS_TIMING).ok().flatten();
                Ok((stored, faults::any_request_fault(tx)?))
            })
            .await?;
        self.settle_fault_flag(faults_seen, any);
        let Some(stored) = stored else { return Ok(()) };
        let Ok(profile) = stored.profile.parse::<TimingProfile>() else { return Ok(()) };
        let timing = Timing { profile, overrides: stored.overrides };
        if let Ok(mut t) = self.inner.timing.write() {
            if t.0 == timing_seen {
                t.1 = timing;
            }
        }
        Ok(())
    }

    /// Sets the request-fault flag to `any` unless it changed since it was `seen`.
    fn settle_fault_flag(&self, seen: u64, any: bool) {
        let _ = self.inner.request_faults.compare_exchange(
            seen,
            faults_word((seen >> 1) + 1, any),
            Ordering::AcqRel,
            Ordering::Acquire,
        );
    }

    /// Moves one operation a step (or to its end); returns its view afterwards.
    pub async fn advance_operation(
        &self,
        service: &str,
        op: &str,
        to_end: bool,
    ) -> Result<Option<OperationView>, StoreError> {
        for _ in 0..64 {
            let engine = self.clone();
            let (s, o) = (service.to_string(), op.to_string());
            let finished = self
                .inner
                .store
                .write(move |tx| -> Result<bool, StoreError> {
                    if tx.get(&format!("{SCHED_OF}{s}/{o}"))?.is_none() {
                        return Ok(true);
                    }
                    engine.advance_one(tx, &s, &o)
                })
                .await?;
            if finished || !to_end {
                break;
            }
        }
        let engine = self.clone();
        let (s, o) = (service.to_string(), op.to_string());
        self.inner
            .store
            .read(move |tx| -> Result<Option<OperationView>, StoreError> {
                match engine.driver(&s) {
                    Some(d) => d.describe(tx, &o, engine.now_ms()),
                    None => Ok(None),
                }
            })
            .await
    }

    /// Moves every unfinished operation one step; returns how many moved.
    pub async fn advance_all(&self) -> Result<usize, StoreError> {
        let unfinished: Vec<String> = self
            .inner
            .store
            .read(|tx| -> Result<Vec<String>, StoreError> {
                Ok(tx.scan(SCHED_OF, None, usize::MAX)?.into_iter().map(|(k, _)| k).collect())
            })
            .await?;
        let mut moved = 0;
        for key in unfinished {
            if let Some((service, op)) = key.strip_prefix(SCHED_OF).and_then(|r| r.split_once('/')) {
                self.advance_operation(service, op, false).await?;
                moved += 1;
            }
        }
        Ok(moved)
    }

    /// Inside a request's transaction: takes one use of the first operation fault rule matching
    /// this new operation.
    pub fn take_operation_fault(
        &self,
        tx: &mut dyn Tx,
        service: Service,
        operation_type: &str,
        resources: &[&str],
    ) -> Result<Option<FaultRule>, StoreError> {
        faults::take(tx, |r| {
            r.service == service
                && r.operation_type.as_deref() == Some(operation_type)
                && r.resource.as_deref().is_none_or(|res| resources.contains(&res))
        })
    }

    /// Takes one use of a request fault for operation `api` of `service`, if any rule matches.
    pub async fn take_request_fault(
        &self,
        service: Service,
        api: &'static str,
    ) -> Result<Option<FaultRule>, StoreError> {
        let seen = self.inner.request_faults.load(Ordering::Acquire);
        if seen & 1 == 0 {
            return Ok(None);
        }
        let (taken, any) = self
            .inner
            .store
            .write(move |tx| -> Result<(Option<FaultRule>, bool), StoreError> {
                let taken = faults::take(tx, |r| r.service == service && r.api.as_deref() == Some(api))?;
                Ok((taken, faults::any_request_fault(tx)?))
            })
            .await?;
        self.settle_fault_flag(seen, any);
        Ok(taken)
    }

    /// Adds a fault rule; returns it with its id.
    pub async fn add_fault(&self, rule: FaultRule) -> Result<FaultRule, StoreError> {
        let id = format!("{:016x}-{}", self.now_ms(), &uuid::Uuid::new_v4().simple().to_string()[..8]);
        if rule.is_request_fault() {
            let _ = self
                .inner
                .request_faults
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |w| Some(faults_word((w >> 1) + 1, true)));
        }
        self.inner.store.write(move |tx| faults::add(tx, rule, id)).await
    }

    /// Installs the fault rules of the configuration file under stable ids (`config-N`), replacing
    /// what an earlier start left of them.
    pub async fn install_config_faults(&self, rules: &[FaultRule]) -> Result<(), StoreError> {
        let rules = rules.to_vec();
        self.inner
            .store
            .write(move |tx| -> Result<(), StoreError> {
                for (i, rule) in rules.into_iter().enumerate() {
                    faults::add(tx, rule, format!("config-{i}"))?;
                }
                Ok(())
            })
            .await?;
        self.refresh_fault_flag().await
    }

    /// Re-reads whether any request fault exists (after a reset, a snapshot import, a start).
    pub async fn refresh_fault_flag(&self) -> Result<(), StoreError> {
        let seen = self.inner.request_faults.load(Ordering::Acquire);
        let any = self.inner.store.read(|tx| faults::any_request_fault(tx)).await?;
        self.settle_fault_flag(seen, any);
        Ok(())
    }

    /// Wakes the scheduler (after a reset or an import changed the schedule).
    pub fn wake(&self) {
        self.inner.wake.notify_one();
    }

    /// Inside a transaction: deletes all state but the replica-wide settings (the timing profile is
    /// configuration, not state), as a full reset does; returns how many keys went.
    pub fn clear_state(&self, tx: &mut dyn Tx) -> Result<usize, StoreError> {
        let settings = tx.scan(SETTINGS, None, usize::MAX)?;
        let n = tx.delete_prefix("")?;
        for (k, v) in &settings {
            tx.put(k, v)?;
        }
        Ok(n.saturating_sub(settings.len()))
    }

    /// Inside a transaction: forgets every operation of `service` (its index, its schedule), as a
    /// reset of that service does; returns how many keys went.
    pub fn forget_operations(&self, tx: &mut dyn Tx, service: Service) -> Result<usize, StoreError> {
        let name = service.name();
        let mut n = tx.delete_prefix(&format!("{OPS}{name}/"))?;
        n += tx.delete_prefix(&format!("{SCHED_OF}{name}/"))?;
        let sched: Vec<String> = tx
            .scan(SCHED, None, usize::MAX)?
            .into_iter()
            .map(|(k, _)| k)
            .filter(|k| parse_sched_key(k).is_some_and(|(s, _)| s == name))
            .collect();
        for k in sched {
            n += usize::from(tx.delete(&k)?);
        }
        for rule in faults::list(tx)? {
            if rule.service == service {
                n += usize::from(faults::remove(tx, &rule.id)?);
            }
        }
        Ok(n)
    }
}

/// The key prefixes the engine owns (operation index, schedule, fault rules, settings): with the
/// services' prefixes of the registry, every key of the store.
pub const KEY_PREFIXES: &[&str] = &[OPS, SCHED, SCHED_OF, faults::FAULTS, SETTINGS];

/// (service, operation reference) of an `ops/` index key.
fn parse_ops_key(key: &str) -> Option<(&str, &str)> {
    let (service, rest) = key.strip_prefix(OPS)?.split_once('/')?;
    let (_, op) = rest.split_once('/')?;
    Some((service, op))
}

fn parse_sched_key(key: &str) -> Option<(String, String)> {
    let rest = key.strip_prefix(SCHED)?;
    let mut parts = rest.splitn(3, '/');
    let _due = parts.next()?;
    let service = parts.next()?.to_string();
    let op = parts.next()?.to_string();
    Some((service, op))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creation_times_increase_within_a_millisecond() {
        let store = Store::new(Arc::new(crate::store::memory::Memory::new()));
        let engine = Engine::new(store, Arc::new(StoppedClock::at(1_000)), Timing::default());
        assert_eq!((0..3).map(|_| engine.creation_ms()).collect::<Vec<_>>(), [1_000, 1_001, 1_002]);
        assert_eq!(engine.now_ms(), 1_000, "the clock itself is not moved");
        let later = Engine::new(
            Store::new(Arc::new(crate::store::memory::Memory::new())),
            Arc::new(StoppedClock::at(5_000)),
            Timing::default(),
        );
        assert_eq!(later.creation_ms(), 5_000);
    }
}
