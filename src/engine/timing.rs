//! Timing profiles: how long each step of an operation takes. Time is a policy, chosen per run.

use std::collections::BTreeMap;
use std::str::FromStr;

/// How fast operations move.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimingProfile {
    /// Every operation completes before its API call returns.
    Instant,
    /// A few hundred milliseconds per step; an operation ends in about two seconds.
    #[default]
    Fast,
    /// Durations like AWS's: MSK Connect minutes, Cloud Map namespaces tens of seconds.
    Realistic,
    /// Nothing moves until advanced through the admin API.
    Manual,
}

impl TimingProfile {
    /// The profile's name.
    pub fn as_str(self) -> &'static str {
        match self {
            TimingProfile::Instant => "instant",
            TimingProfile::Fast => "fast",
            TimingProfile::Realistic => "realistic",
            TimingProfile::Manual => "manual",
        }
    }
}

impl FromStr for TimingProfile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "instant" => Ok(TimingProfile::Instant),
            "fast" => Ok(TimingProfile::Fast),
            "realistic" => Ok(TimingProfile::Realistic),
            "manual" => Ok(TimingProfile::Manual),
            other => Err(format!("unknown timing profile '{other}' (expected instant, fast, realistic or manual)")),
        }
    }
}

/// The profile in force plus per-operation-type overrides (`"<OPERATION_TYPE>" → ms per step`).
#[derive(Debug, Clone, Default)]
pub struct Timing {
    /// The profile.
    pub profile: TimingProfile,
    /// Per-step duration overrides by operation type, in milliseconds.
    pub overrides: BTreeMap<String, i64>,
}

impl Timing {
    /// A timing with no overrides.
    pub fn new(profile: TimingProfile) -> Self {
        Timing { profile, overrides: BTreeMap::new() }
    }

    /// How long one step of an operation of `op_type` takes; `None` under `manual`.
    /// `fast_ms` and `realistic_ms` are the service's durations for that step under those profiles.
    pub fn step_ms(&self, op_type: &str, fast_ms: i64, realistic_ms: i64) -> Option<i64> {
        match self.profile {
            TimingProfile::Manual => None,
            TimingProfile::Instant => Some(0),
            TimingProfile::Fast => Some(self.overrides.get(op_type).copied().unwrap_or(fast_ms)),
            TimingProfile::Realistic => Some(self.overrides.get(op_type).copied().unwrap_or(realistic_ms)),
        }
    }
}
