//! When the steps of operations started and ended, as this server saw them: operation records keep
//! a step's state, not its times, so the console notes the moment it first sees a step in progress
//! and the moment it first sees it ended, while some console is watching. A step that moved while
//! none was has no time of its own (the first step starts when its operation was created, the last
//! one ends when its operation ended).

use crate::engine::OperationView;
use serde::Serialize;
use std::collections::HashMap;

/// A step with its times (ms since the epoch), as the console shows it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TimedStep {
    /// Step name.
    pub name: String,
    /// Its state.
    pub state: String,
    /// When it started, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_ms: Option<i64>,
    /// When it ended, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ended_ms: Option<i64>,
}

/// When a step was seen starting and ending.
type Seen = (Option<i64>, Option<i64>);

/// What was seen of each step of each operation (by `service/id`).
#[derive(Default)]
pub struct StepTimes {
    seen: HashMap<String, Vec<Seen>>,
}

fn has_started(state: &str) -> bool {
    state != "PENDING"
}

fn has_ended(state: &str) -> bool {
    matches!(state, "COMPLETED" | "FAILED" | "CANCELLED")
}

impl StepTimes {
    /// Notes what `ops` show at `now` (forgetting operations no longer listed) and returns each
    /// operation's steps with their times, in the order of `ops`.
    pub fn observe(&mut self, ops: &[OperationView], now: i64) -> Vec<Vec<TimedStep>> {
        let mut kept = HashMap::with_capacity(ops.len());
        let mut out = Vec::with_capacity(ops.len());
        for op in ops {
            let key = format!("{}/{}", op.service, op.id);
            // First sight of an operation that already moved: no step time is known but the ends.
            let first_sight = !self.seen.contains_key(&key);
            let mut times = self.seen.remove(&key).unwrap_or_default();
            times.resize(op.steps.len(), (None, None));
            let mut steps = Vec::with_capacity(op.steps.len());
            let mut previous_end = Some(op.created_ms);
            for (i, (step, (started, ended))) in op.steps.iter().zip(times.iter_mut()).enumerate() {
                let seen_now = (!first_sight || op.created_ms >= now - 1_000).then_some(now);
                if has_started(&step.state) && started.is_none() {
                    *started = if i == 0 { Some(op.created_ms) } else { seen_now.and(previous_end.or(seen_now)) };
                }
                if has_ended(&step.state) && ended.is_none() {
                    *ended = seen_now;
                }
                if i + 1 == op.steps.len() && ended.is_none() && has_ended(&step.state) {
                    *ended = op.ended_ms;
                }
                // A step seen ending after its operation ended (the look came later) ended with it.
                if let Some(op_end) = op.ended_ms {
                    *started = started.map(|t| t.min(op_end));
                    *ended = ended.map(|t| t.min(op_end));
                }
                previous_end = *ended;
                steps.push(TimedStep {
                    name: step.name.clone(),
                    state: step.state.clone(),
                    started_ms: *started,
                    ended_ms: *ended,
                });
            }
            kept.insert(key, times);
            out.push(steps);
        }
        self.seen = kept;
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::StepView;

    fn op(states: &[&str], created: i64, ended: Option<i64>) -> OperationView {
        OperationView {
            service: "kafkaconnect".into(),
            id: "op".into(),
            operation_type: "UPDATE_CONNECTOR_CONFIGURATION".into(),
            account: None,
            acting_account: None,
            resource: "c".into(),
            state: "UPDATE_IN_PROGRESS".into(),
            terminal: ended.is_some(),
            steps: states
                .iter()
                .enumerate()
                .map(|(i, s)| StepView { name: format!("S{i}"), state: s.to_string() })
                .collect(),
            created_ms: created,
            ended_ms: ended,
            error_code: None,
            stuck: None,
        }
    }

    #[test]
    fn steps_take_the_times_they_were_seen_moving() {
        let mut t = StepTimes::default();
        let s = t.observe(&[op(&["IN_PROGRESS", "PENDING"], 1_000, None)], 1_000);
        assert_eq!((s[0][0].started_ms, s[0][0].ended_ms), (Some(1_000), None));
        assert_eq!(s[0][1].started_ms, None);
        let s = t.observe(&[op(&["COMPLETED", "IN_PROGRESS"], 1_000, None)], 1_500);
        assert_eq!((s[0][0].started_ms, s[0][0].ended_ms), (Some(1_000), Some(1_500)));
        assert_eq!(s[0][1].started_ms, Some(1_500), "the next step starts when the one before ended");
        let s = t.observe(&[op(&["COMPLETED", "COMPLETED"], 1_000, Some(2_100))], 2_200);
        assert_eq!(s[0][1].ended_ms, Some(2_100), "seen after the operation ended: its end");
        assert_eq!(t.observe(&[], 3_000), Vec::<Vec<TimedStep>>::new());
        assert!(t.seen.is_empty(), "operations no longer listed are forgotten");
    }

    #[test]
    fn an_operation_first_seen_late_gets_only_its_known_ends() {
        let mut t = StepTimes::default();
        let s = t.observe(&[op(&["COMPLETED", "COMPLETED", "COMPLETED"], 1_000, Some(4_000))], 60_000);
        assert_eq!((s[0][0].started_ms, s[0][0].ended_ms), (Some(1_000), None));
        assert_eq!((s[0][1].started_ms, s[0][1].ended_ms), (None, None));
        assert_eq!((s[0][2].started_ms, s[0][2].ended_ms), (None, Some(4_000)));
    }
}
