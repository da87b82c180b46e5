//! From probe results to a status: one logical checker per instance. The first verdict sets the
//! status directly (leaving UNKNOWN); after that it flips only after FailureThreshold consecutive
//! results that disagree with it, in either direction.

use crate::model::servicediscovery::HealthStatus;

/// The counter of one instance's checker.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checker {
    /// The stored status the counter refers to; a different one (a re-registration reset it, say)
    /// starts the count over.
    basis: Option<HealthStatus>,
    /// Consecutive results that disagree with `basis`.
    disagreeing: u32,
}

impl Checker {
    /// Takes one probe result for an instance whose stored status is `current`; returns the new
    /// status when it changes.
    pub fn observe(&mut self, current: HealthStatus, healthy: bool, threshold: u32) -> Option<HealthStatus> {
        if self.basis != Some(current) {
            self.basis = Some(current);
            self.disagreeing = 0;
        }
        let verdict = if healthy { HealthStatus::Healthy } else { HealthStatus::Unhealthy };
        if current == verdict {
            self.disagreeing = 0;
            return None;
        }
        if current == HealthStatus::Unknown {
            return Some(verdict);
        }
        self.disagreeing += 1;
        (self.disagreeing >= threshold.max(1)).then_some(verdict)
    }

    /// Records that the status is now `status` (after the store accepted it).
    pub fn settle(&mut self, status: HealthStatus) {
        self.basis = Some(status);
        self.disagreeing = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use HealthStatus::{Healthy as HEALTHY, Unhealthy as UNHEALTHY, Unknown as UNKNOWN};

    #[test]
    fn the_first_verdict_leaves_unknown_at_once() {
        let mut c = Checker::default();
        assert_eq!(c.observe(UNKNOWN, false, 3), Some(UNHEALTHY));
        let mut c = Checker::default();
        assert_eq!(c.observe(UNKNOWN, true, 3), Some(HEALTHY));
    }

    #[test]
    fn flips_after_threshold_consecutive_disagreements() {
        let mut c = Checker::default();
        assert_eq!(c.observe(HEALTHY, false, 3), None);
        assert_eq!(c.observe(HEALTHY, false, 3), None);
        assert_eq!(c.observe(HEALTHY, true, 3), None, "an agreeing result resets the count");
        assert_eq!(c.observe(HEALTHY, false, 3), None);
        assert_eq!(c.observe(HEALTHY, false, 3), None);
        assert_eq!(c.observe(HEALTHY, false, 3), Some(UNHEALTHY));
        c.settle(UNHEALTHY);
        assert_eq!(c.observe(UNHEALTHY, true, 1), Some(HEALTHY));
    }

    #[test]
    fn a_reset_status_starts_the_count_over() {
        let mut c = Checker::default();
        assert_eq!(c.observe(HEALTHY, false, 2), None);
        assert_eq!(c.observe(UNKNOWN, false, 2), Some(UNHEALTHY));
    }
}
