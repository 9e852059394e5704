//! The queue workload: producers send unique messages, consumers poll.

use serde::{Deserialize, Serialize};
use sim_core::{Op, Probability, SimRng, Value, Workload};

/// Clients `0..producers` each send `messages` messages to random
/// partitions, then stop; the other clients poll until the workload's
/// duration ends, so that after the last send they drain the log.
///
/// Sends look like `{f: "send", key: partition, value: message}` with
/// messages unique across clients; polls like `{f: "poll"}`, or
/// `{f: "poll", value: "crash"}` when the consumer is to crash while it
/// processes what it fetched.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogWorkload {
    /// How many of the clients produce (the rest consume).
    pub producers: usize,
    /// Partitions to send to (`0..partitions`), as the protocol's `partitions`.
    pub partitions: u32,
    /// Messages per producer.
    pub messages: u64,
    /// Chance that a poll crashes its consumer mid-batch.
    pub consumer_crash: Probability,
    /// Messages each producer has sent so far in this run (a fresh clone
    /// starts every run from zero).
    #[serde(skip)]
    sent: Vec<u64>,
}

impl Default for LogWorkload {
    fn default() -> LogWorkload {
        LogWorkload {
            producers: 2,
            partitions: 2,
            messages: 100,
            consumer_crash: Probability::ratio(0, 1),
            sent: Vec::new(),
        }
    }
}

impl LogWorkload {
    /// Checks the parameters; the message names the bad one.
    pub fn validate(&self) -> Result<(), String> {
        if self.partitions == 0 {
            return Err("`partitions` must be at least 1".into());
        }
        if self.messages >= 1_000_000 {
            return Err("`messages` must be below 1000000 (messages are numbered per producer)".into());
        }
        Ok(())
    }
}

impl Workload for LogWorkload {
    fn next_op(&mut self, client: usize, rng: &mut SimRng) -> Option<Op> {
        if client >= self.producers {
            let crash = rng.chance(self.consumer_crash);
            return Some(Op::new("poll", if crash { Value::from("crash") } else { Value::Nil }));
        }
        if self.sent.len() <= client {
            self.sent.resize(client + 1, 0);
        }
        if self.sent[client] == self.messages {
            return None;
        }
        self.sent[client] += 1;
        let message = client as i64 * 1_000_000 + self.sent[client] as i64;
        let partition = rng.below(u64::from(self.partitions)) as i64;
        Some(Op::new("send", message).on_key(partition))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim_core::{Seed, Stream};

    #[test]
    fn producers_send_unique_messages_then_stop_and_consumers_poll() {
        let mut workload = LogWorkload { producers: 2, messages: 3, ..LogWorkload::default() };
        let mut rng = SimRng::new(Seed(1), Stream::Workload);
        let mut sent = Vec::new();
        for client in [0, 1, 0, 1, 0, 1] {
            let op = workload.next_op(client, &mut rng).expect("a send");
            assert_eq!(op.f, "send");
            assert!(matches!(op.key, Some(Value::Int(0 | 1))));
            sent.push(op.value.as_int().unwrap());
        }
        sent.sort();
        sent.dedup();
        assert_eq!(sent.len(), 6);
        assert_eq!(workload.next_op(0, &mut rng), None);
        assert_eq!(workload.next_op(2, &mut rng).map(|op| op.f), Some("poll".to_string()));
    }
}
