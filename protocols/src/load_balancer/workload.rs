//! The request workload: each operation is one request on a random key.

use serde::{Deserialize, Serialize};
use sim_core::{Op, SimRng, Value, Workload};

/// Requests on keys drawn uniformly from `0..keys`: `{f: "request", key: k}`.
/// A successful request's result is the number of the backend that served it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RequestWorkload {
    /// How many distinct keys (consistent hashing routes by key).
    pub keys: u64,
}

impl Default for RequestWorkload {
    fn default() -> RequestWorkload {
        RequestWorkload { keys: 1000 }
    }
}

impl RequestWorkload {
    /// Checks the parameters; the message names the bad one.
    pub fn validate(&self) -> Result<(), String> {
        if self.keys == 0 {
            return Err("`keys` must be at least 1".into());
        }
        Ok(())
    }
}

impl Workload for RequestWorkload {
    fn next_op(&mut self, _client: usize, rng: &mut SimRng) -> Option<Op> {
        let key = rng.below(self.keys) as i64;
        Some(Op::new("request", Value::Nil).on_key(key))
    }
}
