//! The MSK Connect state machines, advanced one step per engine call:
//!
//! * connector create `CREATING → RUNNING | FAILED` and delete `DELETING → gone`;
//! * custom plugin create `CREATING → ACTIVE | CREATE_FAILED` and delete `DELETING → gone`;
//! * worker configuration delete `DELETING → gone`;
//! * connector operations. Updates go `PENDING → UPDATE_IN_PROGRESS`, then through their steps
//!   `INITIALIZE_UPDATE → UPDATE_WORKER_SETTING | UPDATE_CONNECTOR_CONFIGURATION → VALIDATE_UPDATE →
//!   FINALIZE_UPDATE` one at a time, and end `UPDATE_COMPLETE`, which is when the target settings
//!   reach the connector. A failing step turns `FAILED`, the later ones `CANCELLED`, and the
//!   operation `UPDATE_FAILED`; unless the request skipped health validation or the failure came
//!   before anything changed (at `INITIALIZE_UPDATE`), a rollback follows:
//!   `UPDATE_FAILED → ROLLBACK_IN_PROGRESS → ROLLBACK_COMPLETE | ROLLBACK_FAILED`. Pause, resume
//!   and restart go `PENDING → *_IN_PROGRESS → *_COMPLETE | *_FAILED`.
//!
//! Failures are data: an operation fails where its `planned_failure` says (set at request time by
//! localplane's own validation, or by a fault rule), and the driver adds one check of its own at
//! `VALIDATE_UPDATE`: the target plugin must be ACTIVE by then.
//!
//! Step durations, `fast` / `realistic` (overridable per operation type through the timing):
//!
//! | task | fast | realistic |
//! |---|---|---|
//! | `CREATE_CONNECTOR` (one step) | 1 s | 5 min |
//! | `DELETE_CONNECTOR` (one step) | 500 ms | 90 s |
//! | `CREATE_CUSTOM_PLUGIN` (one step) | 500 ms | 20 s |
//! | `DELETE_CUSTOM_PLUGIN`, `DELETE_WORKER_CONFIGURATION` | 300 ms | 5 s |
//! | update: `PENDING` → first step | 300 ms | 15 s |
//! | update: each of the four steps | 400 ms | 45 s (an update takes ≈ 3¼ min) |
//! | update: `UPDATE_FAILED` → `ROLLBACK_IN_PROGRESS` → end | 300 + 400 ms | 15 s + 60 s |
//! | pause / resume / restart: `PENDING` → in progress → end | 300 + 500 ms | 10 s + 60 s |

use super::records::*;
use crate::engine::{
    step_log_enabled, OperationDriver, OperationView, Rollback, StepLog, StepOutcome, StepView, Timing,
};
use crate::model::kafkaconnect as m;
use crate::store::{get_json, put_json, StoreError, Tx};

use m::ConnectorOperationState as OpState;
use m::ConnectorOperationStepState as StepState;
use m::ConnectorOperationStepType as StepType;

/// Drives MSK Connect tasks.
pub struct MskConnectDriver;

/// The timing name (also the override key) and (fast, realistic) ms of each one-step task.
const CREATE_CONNECTOR: (&str, i64, i64) = ("CREATE_CONNECTOR", 1_000, 300_000);
const DELETE_CONNECTOR: (&str, i64, i64) = ("DELETE_CONNECTOR", 500, 90_000);
const CREATE_CUSTOM_PLUGIN: (&str, i64, i64) = ("CREATE_CUSTOM_PLUGIN", 500, 20_000);
const DELETE_CUSTOM_PLUGIN: (&str, i64, i64) = ("DELETE_CUSTOM_PLUGIN", 300, 5_000);
const DELETE_WORKER_CONFIGURATION: (&str, i64, i64) = ("DELETE_WORKER_CONFIGURATION", 300, 5_000);

/// The delay before a task's first step under `timing`.
pub fn first_step_ms(timing: &Timing, task: &Task, op_type: Option<m::ConnectorOperationType>) -> Option<i64> {
    let (name, fast, realistic) = match task {
        Task::CreateConnector(_) => CREATE_CONNECTOR,
        Task::DeleteConnector(_) => DELETE_CONNECTOR,
        Task::CreatePlugin(_) => CREATE_CUSTOM_PLUGIN,
        Task::DeletePlugin(_) => DELETE_CUSTOM_PLUGIN,
        Task::DeleteWorkerConfiguration(_) => DELETE_WORKER_CONFIGURATION,
        Task::Operation { .. } => {
            let t = op_type.unwrap_or(m::ConnectorOperationType::UpdateConnectorConfiguration);
            return operation_ms(timing, t, Phase::Start);
        }
    };
    timing.step_ms(name, fast, realistic)
}

/// Which transition of a connector operation is timed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// `PENDING` → in progress.
    Start,
    /// One update step, or a pause/resume/restart doing its work.
    Work,
    /// `UPDATE_FAILED` → `ROLLBACK_IN_PROGRESS`.
    RollbackStart,
    /// `ROLLBACK_IN_PROGRESS` → its end.
    Rollback,
}

fn operation_ms(timing: &Timing, op_type: m::ConnectorOperationType, phase: Phase) -> Option<i64> {
    let update = matches!(
        op_type,
        m::ConnectorOperationType::UpdateWorkerSetting | m::ConnectorOperationType::UpdateConnectorConfiguration
    );
    let (fast, realistic) = match (phase, update) {
        (Phase::Start, true) => (300, 15_000),
        (Phase::Work, true) => (400, 45_000),
        (Phase::Start, false) => (300, 10_000),
        (Phase::Work, false) => (500, 60_000),
        (Phase::RollbackStart, _) => (300, 15_000),
        (Phase::Rollback, _) => (400, 60_000),
    };
    timing.step_ms(op_type.as_str(), fast, realistic)
}

/// The account field of an ARN.
fn account_of(arn: &str) -> Option<String> {
    arn.split(':').nth(4).filter(|a| !a.is_empty()).map(str::to_string)
}

/// The admin view of a create or delete that is still under way (`None` once it is over: those are
/// not operations clients can look up, and a finished one would shadow the resource's next task).
fn lifecycle_view(operation_type: &str, arn: &str, state: &str, since: i64, in_flight: bool) -> Option<OperationView> {
    in_flight.then(|| OperationView {
        service: SERVICE.name().to_string(),
        id: arn.to_string(),
        operation_type: operation_type.to_string(),
        account: account_of(arn),
        acting_account: None,
        resource: arn.to_string(),
        state: state.to_string(),
        terminal: false,
        steps: Vec::new(),
        created_ms: since,
        ended_ms: None,
        error_code: None,
        stuck: None,
    })
}

impl OperationDriver for MskConnectDriver {
    fn describe(&self, tx: &mut dyn Tx, task_ref: &str, _now: i64) -> Result<Option<OperationView>, StoreError> {
        let Some((keys, task)) = Task::parse_ref(task_ref) else {
            return Ok(None);
        };
        Ok(match task {
            Task::Operation { connector_id, operation_id } => {
                get_json::<ConnectorOperationRec>(tx, &keys.operation(&connector_id, &operation_id))?.map(|op| {
                    OperationView {
                        service: SERVICE.name().to_string(),
                        id: op.arn.clone(),
                        operation_type: op.op_type.as_str().to_string(),
                        account: account_of(&op.arn),
                        acting_account: None,
                        resource: op.connector_arn.clone(),
                        state: op.state.as_str().to_string(),
                        terminal: op.is_terminal(),
                        steps: op
                            .steps
                            .iter()
                            .map(|s| StepView {
                                name: s.step_type.as_str().to_string(),
                                state: s.state.as_str().to_string(),
                            })
                            .collect(),
                        created_ms: op.creation_time,
                        ended_ms: op.end_time,
                        error_code: op.error_info.as_ref().map(|e| e.code.clone()),
                        stuck: None,
                    }
                })
            }
            Task::CreateConnector(id) => get_json::<ConnectorRec>(tx, &keys.connector(&id))?.and_then(|c| {
                let live = c.state == m::ConnectorState::Creating;
                lifecycle_view(CREATE_CONNECTOR.0, &c.arn, c.state.as_str(), c.creation_time, live)
            }),
            Task::DeleteConnector(id) => get_json::<ConnectorRec>(tx, &keys.connector(&id))?.and_then(|c| {
                let since = c.deleting_since.unwrap_or(c.creation_time);
                lifecycle_view(
                    DELETE_CONNECTOR.0,
                    &c.arn,
                    c.state.as_str(),
                    since,
                    c.state == m::ConnectorState::Deleting,
                )
            }),
            Task::CreatePlugin(id) => get_json::<PluginRec>(tx, &keys.plugin(&id))?.and_then(|p| {
                let live = p.state == m::CustomPluginState::Creating;
                lifecycle_view(CREATE_CUSTOM_PLUGIN.0, &p.arn, p.state.as_str(), p.creation_time, live)
            }),
            Task::DeletePlugin(id) => get_json::<PluginRec>(tx, &keys.plugin(&id))?.and_then(|p| {
                let since = p.deleting_since.unwrap_or(p.creation_time);
                let live = p.state == m::CustomPluginState::Deleting;
                lifecycle_view(DELETE_CUSTOM_PLUGIN.0, &p.arn, p.state.as_str(), since, live)
            }),
            Task::DeleteWorkerConfiguration(id) => get_json::<WorkerConfigRec>(tx, &keys.worker_configuration(&id))?
                .and_then(|w| {
                    let since = w.deleting_since.unwrap_or(w.creation_time);
                    let live = w.state == m::WorkerConfigurationState::Deleting;
                    lifecycle_view(DELETE_WORKER_CONFIGURATION.0, &w.arn, w.state.as_str(), since, live)
                }),
        })
    }

    fn advance(&self, tx: &mut dyn Tx, task_ref: &str, now: i64, timing: &Timing) -> Result<StepOutcome, StoreError> {
        let Some((keys, task)) = Task::parse_ref(task_ref) else {
            return Ok(StepOutcome::Done);
        };
        match task {
            Task::CreateConnector(id) => finish_connector_create(tx, &keys, &id),
            Task::DeleteConnector(id) => finish_connector_delete(tx, &keys, &id),
            Task::CreatePlugin(id) => finish_plugin_create(tx, &keys, &id),
            Task::DeletePlugin(id) => finish_plugin_delete(tx, &keys, &id),
            Task::DeleteWorkerConfiguration(id) => finish_worker_configuration_delete(tx, &keys, &id),
            Task::Operation { connector_id, operation_id } => {
                advance_operation(tx, &keys, &connector_id, &operation_id, now, timing)
            }
        }
    }
}

/// Why a plugin reference cannot run a connector, if it cannot.
fn plugin_problem(tx: &mut dyn Tx, keys: &Keys, plugins: &[RevisionRef]) -> Result<Option<Problem>, StoreError> {
    for p in plugins {
        let found = match parse_arn(&p.arn) {
            Some(a) => get_json::<PluginRec>(tx, &keys.plugin(&a.id))?.filter(|r| r.arn == p.arn),
            None => None,
        };
        match found {
            Some(plugin) if plugin.state == m::CustomPluginState::Active => {}
            Some(plugin) => {
                return Ok(Some(Problem::new(
                    "InvalidPlugin",
                    format!("Custom plugin {} is {}, not ACTIVE", p.arn, plugin.state.as_str()),
                )))
            }
            None => {
                return Ok(Some(Problem::new("InvalidPlugin", format!("Custom plugin {} no longer exists", p.arn))))
            }
        }
    }
    Ok(None)
}

fn finish_connector_create(tx: &mut dyn Tx, keys: &Keys, id: &str) -> Result<StepOutcome, StoreError> {
    let key = keys.connector(id);
    let Some(mut c) = get_json::<ConnectorRec>(tx, &key)? else {
        return Ok(StepOutcome::Done);
    };
    if c.state != m::ConnectorState::Creating {
        return Ok(StepOutcome::Done);
    }
    let failure = match c.planned_create_failure.take() {
        Some(p) => Some(p),
        None => plugin_problem(tx, keys, &c.worker.plugins)?,
    };
    match failure {
        Some(p) => {
            c.state = m::ConnectorState::Failed;
            c.state_description = Some(p);
        }
        None => c.state = m::ConnectorState::Running,
    }
    put_json(tx, &key, &c)?;
    let code = c.state_description.as_ref().filter(|_| c.state == m::ConnectorState::Failed).map(|p| p.code.as_str());
    log_finished(tx, CREATE_CONNECTOR.0, &c.arn, c.state.as_str(), code);
    Ok(StepOutcome::Done)
}

/// Removes a connector and everything that belongs to it: its name, operations and tags.
fn remove_connector(tx: &mut dyn Tx, keys: &Keys, c: &ConnectorRec) -> Result<(), StoreError> {
    tx.delete(&keys.connector(&c.id))?;
    tx.delete(&keys.connector_in_order(c.creation_time, &c.id))?;
    let name_key = keys.connector_name(&c.name);
    if tx.get(&name_key)?.as_deref() == Some(c.id.as_bytes()) {
        tx.delete(&name_key)?;
    }
    tx.delete_prefix(&keys.operations(&c.id))?;
    tx.delete_prefix(&keys.operations_newest_first(&c.id))?;
    tx.delete(&keys.tags(&c.arn))?;
    Ok(())
}

fn finish_connector_delete(tx: &mut dyn Tx, keys: &Keys, id: &str) -> Result<StepOutcome, StoreError> {
    if let Some(c) = get_json::<ConnectorRec>(tx, &keys.connector(id))? {
        if c.state == m::ConnectorState::Deleting {
            remove_connector(tx, keys, &c)?;
            log_finished(tx, DELETE_CONNECTOR.0, &c.arn, "DELETED", None);
        }
    }
    Ok(StepOutcome::Done)
}

fn finish_plugin_create(tx: &mut dyn Tx, keys: &Keys, id: &str) -> Result<StepOutcome, StoreError> {
    let key = keys.plugin(id);
    let Some(mut p) = get_json::<PluginRec>(tx, &key)? else {
        return Ok(StepOutcome::Done);
    };
    if p.state != m::CustomPluginState::Creating {
        return Ok(StepOutcome::Done);
    }
    match p.planned_create_failure.take() {
        Some(problem) => {
            p.state = m::CustomPluginState::CreateFailed;
            p.state_description = Some(problem);
        }
        None => {
            p.state = m::CustomPluginState::Active;
            p.latest_revision = Some(1);
        }
    }
    put_json(tx, &key, &p)?;
    let code =
        p.state_description.as_ref().filter(|_| p.state != m::CustomPluginState::Active).map(|d| d.code.as_str());
    log_finished(tx, CREATE_CUSTOM_PLUGIN.0, &p.arn, p.state.as_str(), code);
    Ok(StepOutcome::Done)
}

fn finish_plugin_delete(tx: &mut dyn Tx, keys: &Keys, id: &str) -> Result<StepOutcome, StoreError> {
    if let Some(p) = get_json::<PluginRec>(tx, &keys.plugin(id))? {
        if p.state == m::CustomPluginState::Deleting {
            tx.delete(&keys.plugin(id))?;
            tx.delete(&keys.plugin_in_order(p.creation_time, id))?;
            let name_key = keys.plugin_name(&p.name);
            if tx.get(&name_key)?.as_deref() == Some(id.as_bytes()) {
                tx.delete(&name_key)?;
            }
            tx.delete(&keys.tags(&p.arn))?;
            log_finished(tx, DELETE_CUSTOM_PLUGIN.0, &p.arn, "DELETED", None);
        }
    }
    Ok(StepOutcome::Done)
}

fn finish_worker_configuration_delete(tx: &mut dyn Tx, keys: &Keys, id: &str) -> Result<StepOutcome, StoreError> {
    if let Some(w) = get_json::<WorkerConfigRec>(tx, &keys.worker_configuration(id))? {
        if w.state == m::WorkerConfigurationState::Deleting {
            tx.delete(&keys.worker_configuration(id))?;
            tx.delete(&keys.worker_configuration_in_order(w.creation_time, id))?;
            let name_key = keys.worker_configuration_name(&w.name);
            if tx.get(&name_key)?.as_deref() == Some(id.as_bytes()) {
                tx.delete(&name_key)?;
            }
            tx.delete(&keys.tags(&w.arn))?;
            log_finished(tx, DELETE_WORKER_CONFIGURATION.0, &w.arn, "DELETED", None);
        }
    }
    Ok(StepOutcome::Done)
}

/// Counts and logs the end of a one-step task (a create or delete) on the resource `arn`.
fn log_finished(tx: &mut dyn Tx, task: &'static str, arn: &str, state: &'static str, error_code: Option<&str>) {
    crate::engine::count_finished(tx, SERVICE.name(), task, state);
    if step_log_enabled() {
        let service = SERVICE.name();
        StepLog {
            service,
            operation: arn,
            operation_type: task,
            resource: arn,
            state,
            step: "",
            error_code,
            finished: true,
        }
        .emit();
    }
}

/// The in-progress state of a pause, resume or restart.
fn working_state(t: m::ConnectorOperationType) -> OpState {
    match t {
        m::ConnectorOperationType::PauseConnector => OpState::PauseInProgress,
        m::ConnectorOperationType::ResumeConnector => OpState::ResumeInProgress,
        m::ConnectorOperationType::RestartConnector => OpState::RestartInProgress,
        _ => OpState::UpdateInProgress,
    }
}

/// The success state of an operation and the connector state it leaves behind.
fn completion(op: &ConnectorOperationRec) -> (OpState, m::ConnectorState) {
    match op.op_type {
        m::ConnectorOperationType::PauseConnector => (OpState::PauseComplete, m::ConnectorState::Paused),
        m::ConnectorOperationType::ResumeConnector => (OpState::ResumeComplete, m::ConnectorState::Running),
        m::ConnectorOperationType::RestartConnector => (OpState::RestartComplete, m::ConnectorState::Running),
        _ => (OpState::UpdateComplete, op.origin_state),
    }
}

/// The failure state of an operation in its current phase.
fn failure_state(op: &ConnectorOperationRec) -> OpState {
    match op.op_type {
        m::ConnectorOperationType::PauseConnector => OpState::PauseFailed,
        m::ConnectorOperationType::ResumeConnector => OpState::ResumeFailed,
        m::ConnectorOperationType::RestartConnector => OpState::RestartFailed,
        _ if op.state == OpState::RollbackInProgress => OpState::RollbackFailed,
        _ => OpState::UpdateFailed,
    }
}

/// Ends `op` at `now`, leaving the connector in `state` and free for the next operation.
fn finish(op: &mut ConnectorOperationRec, c: &mut ConnectorRec, state: m::ConnectorState, now: i64) {
    op.end_time = Some(now);
    c.state = state;
    if c.active_operation.as_deref() == Some(op.id.as_str()) {
        c.active_operation = None;
    }
}

/// Ends an operation that its connector's deletion interrupted: the running and pending steps are
/// cancelled and the operation fails.
pub fn cancel_for_deletion(op: &mut ConnectorOperationRec, now: i64) {
    for s in &mut op.steps {
        if matches!(s.state, StepState::Pending | StepState::InProgress) {
            s.state = StepState::Cancelled;
        }
    }
    op.state = failure_state(op);
    op.error_info =
        Some(Problem::new("ConnectorDeleted", "The connector was deleted while this operation was in progress"));
    op.end_time = Some(now);
}

fn advance_operation(
    tx: &mut dyn Tx,
    keys: &Keys,
    connector_id: &str,
    op_id: &str,
    now: i64,
    timing: &Timing,
) -> Result<StepOutcome, StoreError> {
    let op_key = keys.operation(connector_id, op_id);
    let c_key = keys.connector(connector_id);
    let (Some(mut op), Some(mut c)) =
        (get_json::<ConnectorOperationRec>(tx, &op_key)?, get_json::<ConnectorRec>(tx, &c_key)?)
    else {
        return Ok(StepOutcome::Done);
    };
    if op.is_terminal() {
        return Ok(StepOutcome::Done);
    }
    let outcome = match op.state {
        OpState::Pending => {
            op.state = working_state(op.op_type);
            if let Some(first) = op.steps.first_mut() {
                first.state = StepState::InProgress;
            }
            StepOutcome::Continue(operation_ms(timing, op.op_type, Phase::Work))
        }
        OpState::UpdateInProgress => advance_update_step(tx, keys, &mut op, &mut c, now, timing)?,
        // Non-terminal UPDATE_FAILED: a rollback follows.
        OpState::UpdateFailed => {
            op.state = OpState::RollbackInProgress;
            StepOutcome::Continue(operation_ms(timing, op.op_type, Phase::Rollback))
        }
        OpState::RollbackInProgress => {
            let rollback = op.planned_failure.as_ref().map(|f| f.rollback);
            if rollback == Some(Rollback::Failed) {
                op.state = OpState::RollbackFailed;
                c.state_description = Some(Problem::new(
                    "RollbackFailed",
                    format!(
                        "Operation {} failed and its rollback failed too; the connector needs to be deleted and created again",
                        op.arn
                    ),
                ));
                finish(&mut op, &mut c, m::ConnectorState::Failed, now);
            } else {
                op.state = OpState::RollbackComplete;
                let origin = op.origin_state;
                finish(&mut op, &mut c, origin, now);
            }
            StepOutcome::Done
        }
        OpState::PauseInProgress | OpState::ResumeInProgress | OpState::RestartInProgress => {
            match op.planned_failure.clone() {
                Some(f) => {
                    op.state = failure_state(&op);
                    op.error_info = Some(Problem::new(&f.code, f.message));
                    let origin = op.origin_state;
                    finish(&mut op, &mut c, origin, now);
                }
                None => {
                    let (done, state) = completion(&op);
                    op.state = done;
                    finish(&mut op, &mut c, state, now);
                }
            }
            StepOutcome::Done
        }
        _ => StepOutcome::Done,
    };
    put_json(tx, &op_key, &op)?;
    put_json(tx, &c_key, &c)?;
    if op.is_terminal() {
        crate::engine::count_finished(tx, SERVICE.name(), op.op_type.as_str(), op.state.as_str());
    }
    if step_log_enabled() {
        let step = op.steps.iter().find(|s| s.state == StepState::InProgress).map(|s| s.step_type.as_str());
        StepLog {
            service: SERVICE.name(),
            operation: &op.arn,
            operation_type: op.op_type.as_str(),
            resource: &op.connector_arn,
            state: op.state.as_str(),
            step: step.unwrap_or(""),
            error_code: op.error_info.as_ref().map(|e| e.code.as_str()),
            finished: op.is_terminal(),
        }
        .emit();
    }
    Ok(outcome)
}

/// Runs the update step that is IN_PROGRESS to its end: COMPLETED (and the next one starts, or the
/// update completes), or FAILED where a failure was planned or the target plugin is not usable.
fn advance_update_step(
    tx: &mut dyn Tx,
    keys: &Keys,
    op: &mut ConnectorOperationRec,
    c: &mut ConnectorRec,
    now: i64,
    timing: &Timing,
) -> Result<StepOutcome, StoreError> {
    let Some(i) = op.steps.iter().position(|s| s.state == StepState::InProgress) else {
        // No step is running (a corrupt document): end the operation where it stands.
        op.state = OpState::UpdateFailed;
        let origin = op.origin_state;
        finish(op, c, origin, now);
        return Ok(StepOutcome::Done);
    };
    let step = op.steps[i].step_type;
    let mut failure = op.planned_failure.clone().filter(|f| f.step == Some(step));
    if failure.is_none() && step == StepType::ValidateUpdate {
        if let Some(target) = &op.target_worker_setting {
            if let Some(p) = plugin_problem(tx, keys, &target.plugins)? {
                failure = Some(PlannedFailure {
                    step: Some(step),
                    code: p.code,
                    message: p.message,
                    rollback: Rollback::Complete,
                });
            }
        }
    }
    let Some(f) = failure else {
        op.steps[i].state = StepState::Completed;
        if let Some(next) = op.steps.get_mut(i + 1) {
            next.state = StepState::InProgress;
            return Ok(StepOutcome::Continue(operation_ms(timing, op.op_type, Phase::Work)));
        }
        op.state = OpState::UpdateComplete;
        if let Some(w) = &op.target_worker_setting {
            c.worker = w.clone();
        }
        if let Some(cfg) = &op.target_connector_configuration {
            c.connector_configuration = cfg.clone();
        }
        let origin = op.origin_state;
        finish(op, c, origin, now);
        return Ok(StepOutcome::Done);
    };
    op.steps[i].state = StepState::Failed;
    for later in op.steps.iter_mut().skip(i + 1) {
        later.state = StepState::Cancelled;
    }
    op.state = OpState::UpdateFailed;
    op.error_info = Some(Problem::new(&f.code, f.message.clone()));
    // Nothing changed before the first step finished, and skipping health validation means
    // accepting the result as it is: neither rolls back.
    let rollback =
        if op.skip_health_validation || step == StepType::InitializeUpdate { Rollback::None } else { f.rollback };
    op.planned_failure = Some(PlannedFailure { rollback, ..f });
    if rollback == Rollback::None {
        let origin = op.origin_state;
        finish(op, c, origin, now);
        return Ok(StepOutcome::Done);
    }
    Ok(StepOutcome::Continue(operation_ms(timing, op.op_type, Phase::RollbackStart)))
}
