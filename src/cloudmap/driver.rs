//! The Cloud Map operation state machine: SUBMITTED → PENDING → SUCCESS | FAIL. The change an
//! operation carries takes effect in the transaction that marks it SUCCESS, as on AWS.

use super::cache::{Caches, KeptOperation};
use super::records::*;
use crate::engine::{step_log_enabled, OperationDriver, OperationView, StepLog, StepOutcome, StepView, Timing};
use crate::model::servicediscovery as m;
use crate::store::{get_json, put_json, StoreError, Tx};
use std::sync::Arc;

/// Drives Cloud Map operations, keeping each record it writes decoded for its next step (and for
/// GetOperation).
#[derive(Default)]
pub struct CloudMapDriver {
    /// The backend's caches.
    pub cache: Arc<Caches>,
}

/// Step durations (ms) per operation type: (fast, realistic) for SUBMITTED→PENDING and PENDING→end.
fn durations(op_type: m::OperationType) -> [(i64, i64); 2] {
    use m::OperationType as T;
    match op_type {
        T::CreateNamespace | T::DeleteNamespace | T::UpdateNamespace => [(500, 2_000), (1_500, 28_000)],
        T::UpdateService => [(500, 1_000), (1_500, 5_000)],
        T::RegisterInstance | T::DeregisterInstance => [(500, 1_000), (1_500, 2_500)],
    }
}

/// When a new operation of `op_type` moves on by itself: (SUBMITTED→PENDING, PENDING→end) in ms
/// from its start; None while the timing waits for manual advances. Turning PENDING is a time
/// the record carries ([`OperationRec::pending_at`]), so the first write after the request's is
/// the one that ends it.
pub fn step_times(timing: &Timing, op_type: m::OperationType) -> Option<(i64, i64)> {
    let [(f1, r1), (f2, r2)] = durations(op_type);
    let first = timing.step_ms(op_type.as_str(), f1, r1)?;
    Some((first, first + timing.step_ms(op_type.as_str(), f2, r2)?))
}

/// The resource an operation changes, as the admin API names it.
fn resource_of(op: &OperationRec) -> String {
    match &op.change {
        Change::CreateNamespace { namespace_id, .. }
        | Change::DeleteNamespace { namespace_id }
        | Change::UpdateNamespace { namespace_id, .. } => namespace_id.clone(),
        Change::UpdateService { service_id, .. } => service_id.clone(),
        Change::RegisterInstance { instance } => format!("{}/{}", instance.service_id, instance.id),
        Change::DeregisterInstance { service_id, instance_id } => format!("{service_id}/{instance_id}"),
        Change::Ended { resource } => resource.clone(),
    }
}

impl OperationDriver for CloudMapDriver {
    fn forget(&self, tx: &mut dyn Tx, op_ref: &str) -> Result<bool, StoreError> {
        let Some((keys, op_id)) = Keys::from_op_ref(op_ref) else { return Ok(true) };
        let k = keys.operation(&op_id);
        if let Some(op) = get_json::<OperationRec>(tx, &k)? {
            // The by-time index entry lives with the account that asked for it.
            let asked = Keys::new(op.performer.as_deref().unwrap_or(&op.owner), &op.region);
            tx.delete(&asked.operation_by_time(op.create_date, &op_id))?;
            tx.delete(&k)?;
        }
        Ok(true)
    }

    fn describe(&self, tx: &mut dyn Tx, op_ref: &str, now: i64) -> Result<Option<OperationView>, StoreError> {
        let Some((keys, op_id)) = Keys::from_op_ref(op_ref) else { return Ok(None) };
        let Some(mut op) = get_json::<OperationRec>(tx, &keys.operation(&op_id))? else { return Ok(None) };
        op.settle(now);
        let order = [m::OperationStatus::Submitted, m::OperationStatus::Pending];
        let at = order.iter().position(|s| *s == op.status).unwrap_or(order.len());
        let mut steps: Vec<StepView> = order
            .iter()
            .enumerate()
            .map(|(i, name)| StepView {
                name: name.as_str().to_string(),
                state: if i < at {
                    "COMPLETED"
                } else if i == at {
                    "IN_PROGRESS"
                } else {
                    "PENDING"
                }
                .to_string(),
            })
            .collect();
        steps.push(StepView {
            name: "APPLY".into(),
            state: match op.status {
                m::OperationStatus::Success => "COMPLETED",
                m::OperationStatus::Fail => "FAILED",
                m::OperationStatus::Submitted | m::OperationStatus::Pending => "PENDING",
            }
            .to_string(),
        });
        Ok(Some(OperationView {
            service: SERVICE.name().to_string(),
            id: op.id.clone(),
            operation_type: op.op_type.as_str().to_string(),
            account: Some(op.owner.clone()),
            acting_account: op.performer.clone(),
            resource: resource_of(&op),
            state: op.status.as_str().to_string(),
            terminal: op.is_terminal(),
            steps,
            created_ms: op.create_date,
            ended_ms: op.is_terminal().then_some(op.update_date),
            error_code: op.error_code.clone(),
            stuck: None,
        }))
    }

    fn advance(&self, tx: &mut dyn Tx, op_ref: &str, now: i64, timing: &Timing) -> Result<StepOutcome, StoreError> {
        let Some((keys, op_id)) = Keys::from_op_ref(op_ref) else {
            return Ok(StepOutcome::Done);
        };
        let key = keys.operation(&op_id);
        let Some(kept) = self.cache.operations.read(tx, &key, |raw| KeptOperation::decode(&key, raw))? else {
            return Ok(StepOutcome::Done);
        };
        if kept.value.rec.is_terminal() {
            return Ok(StepOutcome::Done);
        }
        let mut op = kept.value.rec.clone();
        op.settle(now);
        let outcome = step(tx, &self.cache, &keys, &mut op, now, timing, None)?;
        log_step(tx, &op);
        write_operation(tx, &self.cache, &key, op)?;
        Ok(outcome)
    }
}

/// Writes the operation record `op` at `key`; an unfinished one stays decoded for its next step
/// (and GetOperation). A finished one is kept by the first GetOperation that reads it, so that
/// what is kept is bounded by what is in flight and read, not by what is written.
pub fn write_operation(tx: &mut dyn Tx, cache: &Caches, key: &str, op: OperationRec) -> Result<(), StoreError> {
    let raw = crate::store::encode_json(key, &op)?;
    if op.is_terminal() {
        return tx.put_owned(key, raw);
    }
    cache.operations.write(tx, key, raw, KeptOperation { rec: op, answer: Default::default() })
}

/// Runs every step of the new operation `op` (not yet written) to its end in this transaction:
/// the `instant` profile, without a store round trip per step. `service` is the record of the
/// service it concerns as the request read it in this transaction, when it did (not read again).
pub fn run_to_end(
    tx: &mut dyn Tx,
    cache: &Caches,
    keys: &Keys,
    op: &mut OperationRec,
    now: i64,
    timing: &Timing,
    mut service: Option<ServiceRec>,
) -> Result<(), StoreError> {
    while !op.is_terminal() {
        // The record goes to the step that applies the change.
        let known = if op.status == m::OperationStatus::Pending { service.take() } else { None };
        step(tx, cache, keys, op, now, timing, known)?;
    }
    // Its steps took no time: one line says where it ended.
    log_step(tx, op);
    Ok(())
}

/// Moves the unfinished operation `op` one step on (its caller writes it back). An operation that
/// ends keeps of its change only the resource it concerned.
fn step(
    tx: &mut dyn Tx,
    cache: &Caches,
    keys: &Keys,
    op: &mut OperationRec,
    now: i64,
    timing: &Timing,
    service: Option<ServiceRec>,
) -> Result<StepOutcome, StoreError> {
    let outcome = match op.status {
        m::OperationStatus::Submitted => {
            op.status = m::OperationStatus::Pending;
            op.update_date = now;
            op.pending_at = None;
            let [_, (f, r)] = durations(op.op_type);
            StepOutcome::Continue(timing.step_ms(op.op_type.as_str(), f, r))
        }
        m::OperationStatus::Pending => {
            let outcome = match &op.fault {
                Some(f) => Err(f.clone()),
                None => apply(tx, cache, keys, op, service)?,
            };
            match outcome {
                Ok(()) => op.status = m::OperationStatus::Success,
                Err((code, message)) => {
                    undo(tx, keys, op)?;
                    op.status = m::OperationStatus::Fail;
                    op.error_code = Some(code);
                    op.error_message = Some(message);
                }
            }
            op.update_date = now;
            if let Some(busy) = op.busy_key.take() {
                tx.delete(&busy)?;
            }
            op.change = Change::Ended { resource: resource_of(op) };
            op.fault = None;
            StepOutcome::Done
        }
        m::OperationStatus::Success | m::OperationStatus::Fail => StepOutcome::Done,
    };
    Ok(outcome)
}

/// Logs the state a step left `op` in, at info.
fn log_step(tx: &mut dyn Tx, op: &OperationRec) {
    if op.is_terminal() {
        crate::engine::count_finished(tx, SERVICE.name(), op.op_type.as_str(), op.status.as_str());
    }
    if step_log_enabled() {
        let step = match op.status {
            m::OperationStatus::Submitted => "SUBMITTED",
            m::OperationStatus::Pending => "PENDING",
            m::OperationStatus::Success | m::OperationStatus::Fail => "",
        };
        StepLog {
            service: SERVICE.name(),
            operation: &op.id,
            operation_type: op.op_type.as_str(),
            resource: &resource_of(op),
            state: op.status.as_str(),
            step,
            error_code: op.error_code.as_deref(),
            finished: op.is_terminal(),
        }
        .emit();
    }
}

type Failure = (String, String);

/// Applies the change of a succeeding operation. `Err` is a failure AWS would report in the operation.
fn apply(
    tx: &mut dyn Tx,
    cache: &Caches,
    keys: &Keys,
    op: &OperationRec,
    mut known: Option<ServiceRec>,
) -> Result<Result<(), Failure>, StoreError> {
    // The service record the request already read, or the stored one (kept decoded).
    let mut service = |tx: &mut dyn Tx, id: &str| match known.take() {
        Some(s) if s.id == id => Ok(Some(s)),
        _ => Ok::<_, StoreError>(cache.service(tx, &keys.service(id))?.map(|e| e.value.clone())),
    };
    // Writes a service record, kept decoded for the next request.
    let put_service = |tx: &mut dyn Tx, s: ServiceRec| cache.put_service(tx, &keys.service(&s.id), s);
    match &op.change {
        Change::CreateNamespace { namespace_id, fail } => {
            if let Some(f) = fail {
                return Ok(Err(f.clone()));
            }
            let k = keys.namespace(namespace_id);
            if let Some(mut ns) = get_json::<NamespaceRec>(tx, &k)? {
                ns.state = NamespaceState::Active;
                put_json(tx, &k, &ns)?;
            }
        }
        Change::DeleteNamespace { namespace_id } => {
            let k = keys.namespace(namespace_id);
            if let Some(ns) = get_json::<NamespaceRec>(tx, &k)? {
                if ns.service_count > 0 {
                    return Ok(Err(("RESOURCE_IN_USE".into(), format!("Namespace {} still contains services", ns.id))));
                }
                tx.delete(&k)?;
                release_names(tx, keys, &ns)?;
                tx.delete(&keys.tags(&ns.arn))?;
                // A shared namespace's RAM associations end with it.
                crate::ram::grants::resource_gone(tx, &op.region, &ns.owner, &ns.arn)?;
            }
        }
        Change::UpdateNamespace { namespace_id, description, soa_ttl } => {
            let k = keys.namespace(namespace_id);
            if let Some(mut ns) = get_json::<NamespaceRec>(tx, &k)? {
                if let Some(d) = description {
                    ns.description = Some(d.clone());
                }
                if let Some(t) = soa_ttl {
                    ns.soa_ttl = Some(*t);
                }
                put_json(tx, &k, &ns)?;
            }
        }
        Change::UpdateService { service_id, description, dns_records, health_check } => {
            if let Some(mut s) = service(tx, service_id)? {
                if let Some(d) = description {
                    s.description = Some(d.clone());
                }
                if let Some(r) = dns_records {
                    s.dns_records = Some(r.clone());
                }
                s.health_check = health_check.clone();
                put_service(tx, s)?;
            }
        }
        Change::RegisterInstance { instance } => {
            let Some(mut s) = service(tx, &instance.service_id)? else {
                return Ok(Err(("INTERNAL_FAILURE".into(), format!("Service {} was deleted", instance.service_id))));
            };
            let ik = keys.instance(&instance.service_id, &instance.id);
            let mut exists = false;
            tx.get_with(&ik, &mut |v| exists = v.is_some())?;
            if !exists {
                s.instance_count += 1;
            }
            s.others_registered |= instance.created_by != s.owner;
            s.revision += 1;
            s.instances_changed();
            put_json(tx, &ik, instance)?;
            put_service(tx, s)?;
        }
        Change::DeregisterInstance { service_id, instance_id } => {
            let ik = keys.instance(service_id, instance_id);
            if tx.delete(&ik)? {
                if let Some(mut s) = service(tx, service_id)? {
                    s.instance_count = (s.instance_count - 1).max(0);
                    s.revision += 1;
                    s.instances_changed();
                    put_service(tx, s)?;
                }
            }
        }
        // Never applied twice: an ended operation has no change left.
        Change::Ended { .. } => {}
    }
    Ok(Ok(()))
}

/// Releases what a failed operation reserved when it was accepted.
fn undo(tx: &mut dyn Tx, keys: &Keys, op: &OperationRec) -> Result<(), StoreError> {
    if let Change::CreateNamespace { namespace_id, .. } = &op.change {
        let k = keys.namespace(namespace_id);
        if let Some(ns) = get_json::<NamespaceRec>(tx, &k)? {
            if ns.state == NamespaceState::Creating {
                tx.delete(&k)?;
                release_names(tx, keys, &ns)?;
                tx.delete(&keys.tags(&ns.arn))?;
            }
        }
    }
    Ok(())
}

/// Frees the name reservations of a namespace that is gone, where they point at it.
pub fn release_names(tx: &mut dyn Tx, keys: &Keys, ns: &NamespaceRec) -> Result<(), StoreError> {
    let names = [keys.http_name(&ns.http_name), keys.zone_name(ns.ns_type, ns.vpc.as_deref(), &ns.name)];
    for k in names {
        if tx.get(&k)?.as_deref() == Some(ns.id.as_bytes()) {
            tx.delete(&k)?;
        }
    }
    Ok(())
}
