//! Workloads: what clients ask for, and how fast.
//!
//! Clients run closed-loop, as in Jepsen: each client has one operation
//! outstanding; when it completes (or times out), the client thinks for a
//! while and asks for the next, until the workload's duration is over.

use serde::{Deserialize, Serialize};

use crate::history::{Op, Value};
use crate::net::Latency;
use crate::rng::SimRng;
use crate::time::Duration;

/// A source of operations for clients.
pub trait Workload {
    /// The next operation for client number `client`, or `None` if it is done.
    fn next_op(&mut self, client: usize, rng: &mut SimRng) -> Option<Op>;
}

/// How clients pace themselves.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pacing {
    /// Pause between one operation's end and the next one's start.
    pub think: Latency,
    /// No operation starts after this much virtual time.
    pub duration: Duration,
    /// An operation not completed within this long is recorded as `info`.
    pub timeout: Option<Duration>,
}

/// The pacing of a run that says nothing else: the one set of defaults the
/// engine and scenario files share.
impl Default for Pacing {
    fn default() -> Pacing {
        Pacing {
            think: Latency::Uniform { min: Duration::from_millis(5), max: Duration::from_millis(20) },
            duration: Duration::from_secs(5),
            timeout: Some(Duration::from_secs(1)),
        }
    }
}

/// Relative weights of reads, writes and compare-and-sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegisterMix {
    /// Weight of reads.
    pub read: u32,
    /// Weight of writes.
    pub write: u32,
    /// Weight of compare-and-sets.
    #[serde(default)]
    pub cas: u32,
}

impl Default for RegisterMix {
    fn default() -> RegisterMix {
        RegisterMix { read: 2, write: 2, cas: 1 }
    }
}

/// Read / write / compare-and-set over a few keys, Jepsen's register test.
///
/// Operations look like `{f: "read", key: 2}`, `{f: "write", key: 2, value: 3}`
/// and `{f: "cas", key: 2, value: [3, 1]}`. Values are drawn from `0..values`,
/// so compare-and-sets succeed often enough to matter.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RegisterWorkload {
    /// How many registers (keys `0..keys`).
    pub keys: u64,
    /// Operation mix.
    pub mix: RegisterMix,
    /// Values are drawn from `0..values`.
    pub values: u64,
}

impl Default for RegisterWorkload {
    fn default() -> RegisterWorkload {
        RegisterWorkload { keys: 3, mix: RegisterMix::default(), values: 5 }
    }
}

impl RegisterWorkload {
    /// Checks the parameters; the message names the bad one.
    pub fn validate(&self) -> Result<(), String> {
        if self.keys == 0 {
            return Err("`keys` must be at least 1".into());
        }
        if self.values == 0 {
            return Err("`values` must be at least 1".into());
        }
        let RegisterMix { read, write, cas } = self.mix;
        if u64::from(read) + u64::from(write) + u64::from(cas) == 0 {
            return Err("`mix` must give some operation a positive weight".into());
        }
        Ok(())
    }
}

impl Workload for RegisterWorkload {
    fn next_op(&mut self, _client: usize, rng: &mut SimRng) -> Option<Op> {
        let RegisterMix { read, write, cas } = self.mix;
        let key = Value::Int(rng.below(self.keys) as i64);
        let value = |rng: &mut SimRng| rng.below(self.values) as i64;
        let roll = rng.below(u64::from(read) + u64::from(write) + u64::from(cas));
        let op = if roll < u64::from(read) {
            Op::new("read", Value::Nil)
        } else if roll < u64::from(read) + u64::from(write) {
            Op::new("write", value(rng))
        } else {
            let expected = value(rng);
            Op::new("cas", vec![expected, value(rng)])
        };
        Some(op.on_key(key))
    }
}

/// A fixed list of operations per client, for hand-written tests.
#[derive(Clone, Debug, Default)]
pub struct Script {
    per_client: Vec<std::collections::VecDeque<Op>>,
}

impl Script {
    /// A script where client `i` performs `ops[i]` in order.
    pub fn new(ops: Vec<Vec<Op>>) -> Script {
        Script { per_client: ops.into_iter().map(Into::into).collect() }
    }
}

impl Workload for Script {
    fn next_op(&mut self, client: usize, _rng: &mut SimRng) -> Option<Op> {
        self.per_client.get_mut(client)?.pop_front()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Seed, Stream};

    #[test]
    fn register_mix_follows_weights() {
        let mut workload =
            RegisterWorkload { keys: 2, mix: RegisterMix { read: 1, write: 0, cas: 1 }, values: 3 };
        let mut rng = SimRng::new(Seed(1), Stream::Workload);
        let ops: Vec<Op> = (0..1000).map(|_| workload.next_op(0, &mut rng).unwrap()).collect();
        assert!(!ops.iter().any(|op| op.f == "write"));
        let reads = ops.iter().filter(|op| op.f == "read").count();
        assert!((400..600).contains(&reads), "reads={reads}");
        assert!(ops.iter().all(|op| matches!(op.key, Some(Value::Int(0 | 1)))));
        let cas = ops.iter().find(|op| op.f == "cas").unwrap();
        assert_eq!(cas.value.as_list().map(<[Value]>::len), Some(2));
    }

    #[test]
    fn validation_names_the_problem() {
        let bad = RegisterWorkload { keys: 0, ..RegisterWorkload::default() };
        assert_eq!(bad.validate(), Err("`keys` must be at least 1".to_string()));
    }
}
