//! The RAM transitions as durable engine operations: one step settles what a request left moving —
//! `ASSOCIATING` → `ASSOCIATED` (or `FAILED` under a fault rule), `DISASSOCIATING` →
//! `DISASSOCIATED`, a share `DELETING` → `DELETED` — and keeps the grant index in step.

use super::records::*;
use super::scope::save_share;
use crate::engine::{OperationDriver, OperationView, StepOutcome, StepView, Timing};
use crate::model::ram as m;
use crate::store::{get_json, put_json, StoreError, Tx};

/// Drives RAM transitions.
pub struct RamDriver;

/// How long a transition of `kind` takes: `fast` 0.5 s, `realistic` 2 s.
pub fn step_ms(timing: &Timing, kind: &TransitionKind) -> Option<i64> {
    timing.step_ms(kind.operation_type(), 500, 2_000)
}

impl OperationDriver for RamDriver {
    fn describe(&self, tx: &mut dyn Tx, op_ref: &str, _now: i64) -> Result<Option<OperationView>, StoreError> {
        let Some(op) = get_json::<TransitionRec>(tx, &transition_key(op_ref))? else { return Ok(None) };
        let terminal = op.state != "IN_PROGRESS";
        let resource = match op.entities.as_slice() {
            [] => op.share_arn.clone(),
            [(_, one)] => format!("{} {one}", op.share_arn),
            many => format!("{} ({} associations)", op.share_arn, many.len()),
        };
        Ok(Some(OperationView {
            service: SERVICE.name().to_string(),
            id: op.id.clone(),
            operation_type: op.kind.operation_type().to_string(),
            account: op.share_arn.split(':').nth(4).map(str::to_string),
            acting_account: None,
            resource,
            state: op.state.clone(),
            terminal,
            steps: vec![StepView {
                name: "SETTLE".into(),
                state: match op.state.as_str() {
                    "IN_PROGRESS" => "IN_PROGRESS",
                    "FAILED" => "FAILED",
                    _ => "COMPLETED",
                }
                .into(),
            }],
            created_ms: op.created,
            ended_ms: op.ended,
            error_code: if op.state == "FAILED" { op.fault.as_ref().map(|f| f.0.clone()) } else { None },
            stuck: None,
        }))
    }

    fn advance(&self, tx: &mut dyn Tx, op_ref: &str, now: i64, _timing: &Timing) -> Result<StepOutcome, StoreError> {
        let key = transition_key(op_ref);
        let Some(mut op) = get_json::<TransitionRec>(tx, &key)? else { return Ok(StepOutcome::Done) };
        if op.state != "IN_PROGRESS" {
            return Ok(StepOutcome::Done);
        }
        let share_key = share_key(&op.region, &op.owner, &op.share_id);
        if let Some(mut share) = get_json::<ShareRec>(tx, &share_key)? {
            let now = now.max(share.updated);
            settle(&mut share, &op, op_ref, now);
            save_share(tx, &share)?;
        }
        let state = if op.fault.is_some() { "FAILED" } else { "SUCCEEDED" };
        crate::engine::count_finished(tx, SERVICE.name(), op.kind.operation_type(), state);
        op.state = state.into();
        op.ended = Some(now);
        put_json(tx, &key, &op)?;
        Ok(StepOutcome::Done)
    }
}

/// Applies transition `op` (reference `op_ref`) to `share` at `now`. Associations something else
/// moved since (a later request, a deleted resource) are left alone.
fn settle(share: &mut ShareRec, op: &TransitionRec, op_ref: &str, now: i64) {
    use m::ResourceShareAssociationStatus as S;
    if op.kind == TransitionKind::DeleteShare {
        if share.status == m::ResourceShareStatus::Deleting {
            share.status = m::ResourceShareStatus::Deleted;
            share.updated = now;
            for a in share.associations.iter_mut().filter(|a| a.status == S::Disassociating) {
                a.status = S::Disassociated;
                a.updated = now;
            }
        }
        return;
    }
    for a in share.associations.iter_mut().filter(|a| a.moving.as_deref() == Some(op_ref)) {
        a.moving = None;
        a.updated = now;
        match (&op.kind, &op.fault) {
            (TransitionKind::Associate, Some((_, message))) => {
                a.status = S::Failed;
                a.status_message = Some(message.clone());
            }
            (TransitionKind::Associate, None) => a.status = S::Associated,
            (_, _) => a.status = S::Disassociated,
        }
    }
}
