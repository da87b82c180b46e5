//! The ground every MSK Connect operation stands on: a unit of work ([`Scope`]: one transaction
//! over the keys of the caller's account and region), ARN resolution and lookups with their
//! not-found errors, the checks several resources share, and starting or cancelling the engine's
//! tasks and connector operations.

use super::records::*;
use crate::engine::{Engine, FaultRule};
use crate::model::kafkaconnect::{self as m, errors as e};
use crate::paging::{self, BadToken};
use crate::store::{get_json, put_json, StoreError, Tx};
use crate::tags::{TagProblem, Tags};
use crate::wire::shape::{ApiError, RequestContext};

/// The most tags one resource can carry (the usual AWS limit; MSK Connect's own is undocumented).
pub const MAX_TAGS_PER_RESOURCE: usize = 50;
/// Page size of List* when `maxResults` is absent, and the most a page holds.
const PAGE_SIZE: usize = 100;
/// How many connectors a scan for users of a plugin or worker configuration reads at a time.
const SCAN_BATCH: usize = 256;

/// A 400 BadRequestException.
pub fn bad_request(msg: impl Into<String>) -> ApiError {
    ApiError::new(&e::BAD_REQUEST_EXCEPTION, msg)
}

/// A 404 NotFoundException.
pub fn not_found(msg: impl Into<String>) -> ApiError {
    ApiError::new(&e::NOT_FOUND_EXCEPTION, msg)
}

/// A 409 ConflictException.
pub fn conflict(msg: impl Into<String>) -> ApiError {
    ApiError::new(&e::CONFLICT_EXCEPTION, msg)
}

/// Names of connectors, plugins and worker configurations: letters, digits and hyphens, starting
/// with a letter or digit (the console's rule; the model only limits the length).
pub fn check_name(noun: &str, name: &str) -> Result<(), ApiError> {
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-')
        && name.len() <= 128;
    if ok {
        Ok(())
    } else {
        Err(bad_request(format!(
            "The {noun} name '{name}' is not valid: use 1-128 letters, digits and hyphens, starting with a letter or digit"
        )))
    }
}

/// The tags `resource` (a noun and a name or ARN, for the message) would carry, if allowed.
pub fn check_tags(resource: &str, tags: &Tags) -> Result<(), ApiError> {
    tags.check(MAX_TAGS_PER_RESOURCE).map_err(|problem| match problem {
        TagProblem::Reserved(k) => {
            bad_request(format!("Tag key {k} is reserved: keys starting with aws: belong to AWS"))
        }
        TagProblem::TooMany { count, limit } => {
            bad_request(format!("{resource} would have {count} tags; a resource can have at most {limit}"))
        }
    })
}

/// The page size of a List* request: 100 when absent, else clamped to 1..=100.
pub fn page_size(max_results: Option<i32>) -> usize {
    paging::page_size(max_results, PAGE_SIZE, PAGE_SIZE)
}

/// The key a List* request's `nextToken` continues after; the token must belong to `prefix`.
pub fn page_after(next_token: Option<&str>, prefix: &str) -> Result<Option<String>, ApiError> {
    next_token.map(|t| paging::key_of(t, prefix)).transpose().map_err(|_: BadToken| {
        bad_request("The nextToken is not valid for this request; pass the value from the previous response")
    })
}

/// Takes apart an ARN the caller passed for a resource of one of `kinds`. A string that is not an
/// MSK Connect ARN of such a kind is a bad request; an ARN of another account or region names
/// nothing here (`None`).
pub fn resolve(cx: &RequestContext, arn: &str, kinds: &[ArnKind]) -> Result<Option<ParsedArn>, ApiError> {
    let parsed = parse_arn(arn).filter(|p| kinds.contains(&p.kind));
    let Some(p) = parsed else {
        let expected: Vec<String> = kinds
            .iter()
            .map(|k| format!("arn:aws:kafkaconnect:{}:{}:{}/NAME/ID", cx.region, cx.account, k.resource_type()))
            .collect();
        let nouns: Vec<&str> = kinds.iter().map(|k| k.noun()).collect();
        return Err(bad_request(format!(
            "'{arn}' is not a valid {} ARN (expected {})",
            nouns.join(" or "),
            expected.join(" or ")
        )));
    };
    if p.account != cx.account || p.region != cx.region {
        return Ok(None);
    }
    Ok(Some(p))
}

/// Runs `body` as one read-write unit of work in the caller's account and region: committed when
/// it returns `Ok`, rolled back when it returns `Err`.
pub async fn write<T, F>(engine: &Engine, cx: &RequestContext, body: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut Scope<'_>) -> Result<T, ApiError> + Send + 'static,
{
    let (engine, cx) = (engine.clone(), cx.clone());
    let store = engine.store().clone();
    store.write(move |tx| body(&mut Scope::new(tx, &cx, &engine))).await
}

/// Runs `body` as one read-only unit of work in the caller's account and region.
pub async fn read<T, F>(engine: &Engine, cx: &RequestContext, body: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&mut Scope<'_>) -> Result<T, ApiError> + Send + 'static,
{
    let (engine, cx) = (engine.clone(), cx.clone());
    let store = engine.store().clone();
    store.read(move |tx| body(&mut Scope::new(tx, &cx, &engine))).await
}

/// One unit of work: a transaction, the keys of the caller's account and region, the request and
/// the engine that tasks are handed to.
pub struct Scope<'a> {
    /// The transaction.
    pub tx: &'a mut dyn Tx,
    /// The request's account, region and protocol.
    pub cx: &'a RequestContext,
    /// The keys of the request's account and region.
    pub keys: Keys,
    /// The engine.
    pub engine: &'a Engine,
}

impl<'a> Scope<'a> {
    fn new(tx: &'a mut dyn Tx, cx: &'a RequestContext, engine: &'a Engine) -> Self {
        Scope { tx, cx, keys: Keys::new(&cx.account, &cx.region), engine }
    }

    /// Reads the connector `arn` names: 400 for a string that is not a connector ARN, 404 for one
    /// that names no connector.
    pub fn connector(&mut self, arn: &str) -> Result<ConnectorRec, ApiError> {
        let missing = || not_found(format!("Connector {arn} not found"));
        let p = resolve(self.cx, arn, &[ArnKind::Connector])?.ok_or_else(missing)?;
        match get_json::<ConnectorRec>(self.tx, &self.keys.connector(&p.id))? {
            Some(c) if c.arn == arn => Ok(c),
            _ => Err(missing()),
        }
    }

    /// Reads the custom plugin `arn` names (400 / 404 like [`Scope::connector`]).
    pub fn plugin(&mut self, arn: &str) -> Result<PluginRec, ApiError> {
        let missing = || not_found(format!("Custom plugin {arn} not found"));
        let p = resolve(self.cx, arn, &[ArnKind::CustomPlugin])?.ok_or_else(missing)?;
        match get_json::<PluginRec>(self.tx, &self.keys.plugin(&p.id))? {
            Some(r) if r.arn == arn => Ok(r),
            _ => Err(missing()),
        }
    }

    /// Reads the worker configuration `arn` names (400 / 404 like [`Scope::connector`]).
    pub fn worker_configuration(&mut self, arn: &str) -> Result<WorkerConfigRec, ApiError> {
        let missing = || not_found(format!("Worker configuration {arn} not found"));
        let p = resolve(self.cx, arn, &[ArnKind::WorkerConfiguration])?.ok_or_else(missing)?;
        match get_json::<WorkerConfigRec>(self.tx, &self.keys.worker_configuration(&p.id))? {
            Some(r) if r.arn == arn => Ok(r),
            _ => Err(missing()),
        }
    }

    /// A plugin a connector may use: it must exist with that revision (404) and not be failed or on
    /// its way out (400). A plugin still CREATING is accepted; the connector fails later if it never
    /// becomes ACTIVE.
    pub fn plugin_ref(&mut self, arn: &str, revision: i64) -> Result<RevisionRef, ApiError> {
        let p = self.plugin(arn)?;
        if revision != 1 {
            return Err(not_found(format!("Revision {revision} of custom plugin {arn} not found (it has revision 1)")));
        }
        match p.state {
            m::CustomPluginState::CreateFailed | m::CustomPluginState::Deleting => Err(bad_request(format!(
                "Custom plugin {arn} is {} and cannot be used by a connector",
                p.state.as_str()
            ))),
            _ => Ok(RevisionRef { arn: p.arn, revision }),
        }
    }

    /// A worker configuration a connector may use: it must exist with that revision (404) and not
    /// be DELETING (400).
    pub fn worker_configuration_ref(&mut self, arn: &str, revision: i64) -> Result<RevisionRef, ApiError> {
        let w = self.worker_configuration(arn)?;
        if revision != WorkerConfigRec::REVISION {
            return Err(not_found(format!(
                "Revision {revision} of worker configuration {arn} not found (it has revision 1)"
            )));
        }
        if w.state == m::WorkerConfigurationState::Deleting {
            return Err(bad_request(format!(
                "Worker configuration {arn} is DELETING and cannot be used by a connector"
            )));
        }
        Ok(RevisionRef { arn: w.arn, revision })
    }

    /// The name of a connector whose settings, current or being applied, use the resource `arn`.
    pub fn connector_using(&mut self, arn: &str) -> Result<Option<String>, ApiError> {
        let uses = |w: &WorkerSettingRec| {
            w.plugins.iter().any(|p| p.arn == arn) || w.worker_configuration.as_ref().is_some_and(|r| r.arn == arn)
        };
        let prefix = self.keys.connectors();
        let mut after: Option<String> = None;
        loop {
            let rows = self.tx.scan(&prefix, after.as_deref(), SCAN_BATCH)?;
            let exhausted = rows.len() < SCAN_BATCH;
            for (k, c) in crate::store::decode_all::<ConnectorRec>(rows)? {
                if uses(&c.worker) {
                    return Ok(Some(c.name));
                }
                if let Some(op_id) = &c.active_operation {
                    let op = get_json::<ConnectorOperationRec>(self.tx, &self.keys.operation(&c.id, op_id))?;
                    if op.and_then(|o| o.target_worker_setting).is_some_and(|t| uses(&t)) {
                        return Ok(Some(c.name));
                    }
                }
                after = Some(k);
            }
            if exhausted {
                return Ok(None);
            }
        }
    }

    /// The tags of the resource `arn` (none when it never had any).
    pub fn tags(&mut self, arn: &str) -> Result<Tags, StoreError> {
        Ok(get_json(self.tx, &self.keys.tags(arn))?.unwrap_or_default())
    }

    /// Replaces the tags of the resource `arn`.
    pub fn put_tags(&mut self, arn: &str, tags: &Tags) -> Result<(), StoreError> {
        put_json(self.tx, &self.keys.tags(arn), tags)
    }

    /// Hands `task` to the engine in this transaction.
    pub fn submit(&mut self, task: &Task, op_type: Option<m::ConnectorOperationType>) -> Result<(), StoreError> {
        let delay = super::driver::first_step_ms(&self.engine.timing(), task, op_type);
        self.engine.submit(self.tx, SERVICE, &task.to_ref(&self.cx.account, &self.cx.region), delay)
    }

    /// Removes `task` from the engine's schedule (its resource went another way).
    pub fn cancel(&mut self, task: &Task) -> Result<(), StoreError> {
        self.engine.cancel(self.tx, SERVICE, &task.to_ref(&self.cx.account, &self.cx.region))
    }

    /// Ends connector `c`'s operation in flight, if any, because the connector is being deleted,
    /// and takes it off the engine's schedule.
    pub fn cancel_operation_for_deletion(&mut self, c: &mut ConnectorRec, now: i64) -> Result<(), StoreError> {
        let Some(op_id) = c.active_operation.take() else {
            return Ok(());
        };
        let op_key = self.keys.operation(&c.id, &op_id);
        if let Some(mut op) = get_json::<ConnectorOperationRec>(self.tx, &op_key)? {
            super::driver::cancel_for_deletion(&mut op, now);
            put_json(self.tx, &op_key, &op)?;
        }
        self.cancel(&Task::Operation { connector_id: c.id.clone(), operation_id: op_id })
    }

    /// The failure an operation fault rule injects into a create of `operation_type`
    /// (`CREATE_CONNECTOR`, `CREATE_CUSTOM_PLUGIN`) on one of `resources`, taking one use of it.
    pub fn creation_fault(&mut self, operation_type: &str, resources: &[&str]) -> Result<Option<Problem>, StoreError> {
        Ok(self.engine.take_operation_fault(self.tx, SERVICE, operation_type, resources)?.map(|rule| {
            let message = rule.error_message.unwrap_or_else(|| format!("Injected fault {}", rule.id));
            Problem::new(&rule.error_code, message)
        }))
    }

    /// Writes operation `op` as connector `c`'s one operation in flight, moves the connector to
    /// `state`, and starts it; returns the operation's ARN. `c` is stale afterwards (under the
    /// `instant` timing the operation has already run).
    pub fn start_operation(
        &mut self,
        c: &mut ConnectorRec,
        mut op: ConnectorOperationRec,
        state: m::ConnectorState,
    ) -> Result<String, StoreError> {
        let rule =
            self.engine.take_operation_fault(self.tx, SERVICE, op.op_type.as_str(), &[&c.arn, &c.id, &c.name])?;
        if let Some(rule) = rule {
            let injected = injected_failure(&op, rule);
            op.planned_failure = match op.planned_failure.take() {
                Some(own) if step_position(&op, own.step) < step_position(&op, injected.step) => Some(own),
                _ => Some(injected),
            };
        }
        c.operation_count += 1;
        c.active_operation = Some(op.id.clone());
        c.state = state;
        c.state_description = None;
        put_json(self.tx, &self.keys.operation(&c.id, &op.id), &op)?;
        self.tx.put(&self.keys.operation_newest_first(&c.id, c.operation_count), op.id.as_bytes())?;
        put_json(self.tx, &self.keys.connector(&c.id), c)?;
        let task = Task::Operation { connector_id: c.id.clone(), operation_id: op.id.clone() };
        self.submit(&task, Some(op.op_type))?;
        Ok(op.arn)
    }
}

/// Where `step` falls in `op`'s steps (operations without steps fail while in progress: 0).
fn step_position(op: &ConnectorOperationRec, step: Option<m::ConnectorOperationStepType>) -> usize {
    step.and_then(|s| op.steps.iter().position(|x| x.step_type == s)).unwrap_or(0)
}

/// The failure an operation fault rule plans for `op`. Updates fail at the rule's step (default
/// `VALIDATE_UPDATE`; a change step of the other update type means this one's change step);
/// pause, resume and restart fail while in progress.
fn injected_failure(op: &ConnectorOperationRec, rule: FaultRule) -> PlannedFailure {
    let step = if op.is_update() {
        let wanted = rule
            .step
            .as_deref()
            .and_then(m::ConnectorOperationStepType::from_wire)
            .unwrap_or(m::ConnectorOperationStepType::ValidateUpdate);
        let change_step = op.steps.get(1).map(|s| s.step_type);
        Some(if op.steps.iter().any(|s| s.step_type == wanted) { wanted } else { change_step.unwrap_or(wanted) })
    } else {
        None
    };
    PlannedFailure {
        step,
        message: rule.error_message.unwrap_or_else(|| format!("Injected fault {}", rule.id)),
        code: rule.error_code,
        rollback: rule.rollback.unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(check_name("connector", "orders-s3-sink").is_ok());
        assert!(check_name("connector", "-x").is_err());
        assert!(check_name("connector", "a_b").is_err());
        assert!(check_name("connector", "").is_err());
    }
}
