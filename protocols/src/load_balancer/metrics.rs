//! What a balancer records for the checks: every forward and every change
//! of a backend's health, with the virtual time it happened.

use serde::Serialize;
use sim_core::{NodeId, Time};

/// One request forwarded to a backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Forward {
    /// When it was sent.
    pub at: Time,
    /// The backend it went to.
    pub backend: NodeId,
}

/// A backend admitted or ejected by a balancer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct HealthChange {
    /// When.
    pub at: Time,
    /// Which backend.
    pub backend: NodeId,
    /// True when admitted, false when ejected.
    pub admitted: bool,
}

/// A balancer's record of its decisions since it (last) started.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BalancerLog {
    /// When this balancer (last) started.
    pub started: Time,
    /// Every forward, in time order.
    pub forwards: Vec<Forward>,
    /// Every admission and ejection, in time order.
    pub health: Vec<HealthChange>,
}

impl BalancerLog {
    /// Whether `backend` was admitted just after the log's changes up to `at` (inclusive).
    pub fn admitted_at(&self, backend: NodeId, at: Time) -> bool {
        self.health.iter().rfind(|c| c.backend == backend && c.at <= at).is_some_and(|c| c.admitted)
    }

    /// The first change of `backend` to `admitted` at or after `from`.
    pub fn first_change(&self, backend: NodeId, admitted: bool, from: Time) -> Option<Time> {
        self.health
            .iter()
            .find(|c| c.backend == backend && c.admitted == admitted && c.at >= from)
            .map(|c| c.at)
    }
}
