//! Queue semantics from a history: lost, duplicated, reordered and
//! unexpected messages, judged against a declared delivery guarantee.
//!
//! The history speaks two functions, as in Jepsen's queue tests:
//!
//! * `send`: key = the partition (an integer), argument = the message (any
//!   value, unique per send). `ok` means the log acknowledged it, `fail` that
//!   it certainly was not written, `info` that it may or may not have been.
//! * `poll`: the `ok` result lists what the consumer delivered, as
//!   `[partition, offset, message]` triples. A poll that did not complete
//!   `ok` delivered nothing.
//!
//! Given the history after the run drained (consumers caught up), [`check`]
//! reports:
//!
//! * **lost**: a send acknowledged `ok` whose message was never delivered
//!   from its partition;
//! * **duplicates**: a message delivered from two different positions (it is
//!   in the log twice, as retries without idempotence put it). At-least-once
//!   allows them; exactly-once does not. Delivering the *same* position again
//!   (a consumer group re-reading after a rebalance) is a redelivery, which a
//!   consumer removes by offset; both guarantees allow it and it is counted;
//! * **reorderings** within a partition: two different messages delivered at
//!   one offset (the partition's log diverged), one poll delivering a
//!   partition's offsets out of order, or a send acknowledged before another
//!   was invoked yet placed after it;
//! * **unexpected**: a message delivered that was never sent, was sent only
//!   to another partition, or whose send failed (a `fail` that happened).
//!
//! ```
//! use sim_core::check::delivery::{check, Guarantee};
//! use sim_core::{History, Record, RecordType, Time, Value};
//!
//! let record = |process, kind, f: &str, key: Option<i64>, value: Value| Record {
//!     process, kind, f: f.into(), key: key.map(Value::Int), value, time: Time::ZERO, error: None,
//! };
//! let mut history = History::new();
//! history.push(record(0, RecordType::Invoke, "send", Some(0), Value::Int(7)));
//! history.push(record(0, RecordType::Ok, "send", Some(0), Value::Int(7)));
//! history.push(record(1, RecordType::Invoke, "poll", None, Value::Nil));
//! history.push(record(1, RecordType::Ok, "poll", None, Value::List(vec![])));
//! let report = check(&history.operations().unwrap(), Guarantee::AtLeastOnce).unwrap();
//! assert_eq!(report.lost.len(), 1);
//! assert!(!report.is_valid());
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::history::{Operation, RecordType, Value};

/// What the system promises about delivery.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Guarantee {
    /// Every acknowledged message is delivered; it may sit in the log more than once.
    #[default]
    AtLeastOnce,
    /// Every acknowledged message is delivered, and each message holds exactly
    /// one position in its partition, so consumers deduplicating by offset see
    /// it once, in partition order.
    ExactlyOnce,
}

impl fmt::Display for Guarantee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Guarantee::AtLeastOnce => "at-least-once",
            Guarantee::ExactlyOnce => "exactly-once",
        })
    }
}

/// A place in a partitioned log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Position {
    /// The partition.
    pub partition: i64,
    /// The offset within it.
    pub offset: i64,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.partition, self.offset)
    }
}

/// An acknowledged message that no poll delivered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Lost {
    /// The message.
    pub message: Value,
    /// The partition it was sent to.
    pub partition: i64,
    /// The send, as an index into the operations checked.
    pub send: usize,
}

/// A message delivered from more than one position.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Duplicate {
    /// The message.
    pub message: Value,
    /// Every position it was delivered from, in order.
    pub positions: Vec<Position>,
    /// The polls that delivered it.
    pub polls: Vec<usize>,
}

/// A way a partition's order broke.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Reorder {
    /// Two different messages were delivered at one position.
    Divergent {
        /// The position.
        position: Position,
        /// The messages seen there, in order.
        messages: Vec<Value>,
        /// The polls that delivered them.
        polls: Vec<usize>,
    },
    /// One poll delivered a partition's offsets out of order.
    WithinPoll {
        /// The poll.
        poll: usize,
        /// The offset delivered first.
        first: Position,
        /// The smaller offset delivered after it.
        then: Position,
    },
    /// `earlier` was acknowledged before `later` was invoked, yet sits after it.
    ProducerOrder {
        /// The send acknowledged first.
        earlier: usize,
        /// Its (first) position.
        earlier_at: Position,
        /// The send invoked afterwards.
        later: usize,
        /// Its (first) position, before `earlier_at`.
        later_at: Position,
    },
}

/// A delivered message nobody sent there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Unexpected {
    /// The message.
    pub message: Value,
    /// Where it was delivered from.
    pub position: Position,
    /// The poll that delivered it.
    pub poll: usize,
    /// Its send, if there was one (which failed, or went to another partition).
    pub send: Option<usize>,
}

/// What [`check`] found.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The guarantee judged against.
    pub guarantee: Guarantee,
    /// Sends acknowledged `ok`.
    pub sends_ok: usize,
    /// Sends with an unknown outcome.
    pub sends_info: usize,
    /// Sends that certainly failed.
    pub sends_fail: usize,
    /// Distinct messages delivered.
    pub delivered: usize,
    /// Deliveries of a position already delivered (allowed).
    pub redeliveries: usize,
    /// Duplicates the guarantee allows (at-least-once), not listed below.
    pub duplicates_allowed: usize,
    /// Acknowledged, never delivered.
    pub lost: Vec<Lost>,
    /// Duplicates beyond the guarantee.
    pub duplicates: Vec<Duplicate>,
    /// Broken partition order.
    pub reorders: Vec<Reorder>,
    /// Delivered, never sent there.
    pub unexpected: Vec<Unexpected>,
}

impl Report {
    /// Whether the history keeps the guarantee.
    pub fn is_valid(&self) -> bool {
        self.lost.is_empty()
            && self.duplicates.is_empty()
            && self.reorders.is_empty()
            && self.unexpected.is_empty()
    }

    /// One line for people: the counts, and the first anomaly of each class.
    pub fn summary(&self) -> String {
        let mut parts = vec![format!(
            "{} sent ok, {} delivered, {} redelivered, {} allowed duplicates",
            self.sends_ok, self.delivered, self.redeliveries, self.duplicates_allowed
        )];
        if let Some(l) = self.lost.first() {
            parts.push(format!(
                "{} lost (first: {} to partition {}, op {})",
                self.lost.len(),
                l.message,
                l.partition,
                l.send
            ));
        }
        if let Some(d) = self.duplicates.first() {
            let at: Vec<String> = d.positions.iter().map(Position::to_string).collect();
            parts.push(format!(
                "{} duplicated (first: {} at {})",
                self.duplicates.len(),
                d.message,
                at.join(", ")
            ));
        }
        if let Some(r) = self.reorders.first() {
            parts.push(format!("{} reordered (first: {})", self.reorders.len(), describe(r)));
        }
        if let Some(u) = self.unexpected.first() {
            parts.push(format!(
                "{} unexpected (first: {} at {}, poll {})",
                self.unexpected.len(),
                u.message,
                u.position,
                u.poll
            ));
        }
        parts.join("; ")
    }
}

fn describe(reorder: &Reorder) -> String {
    match reorder {
        Reorder::Divergent { position, messages, .. } => {
            let messages: Vec<String> = messages.iter().map(Value::to_string).collect();
            format!("{} holds {}", position, messages.join(" and "))
        }
        Reorder::WithinPoll { poll, first, then } => format!("poll {poll} delivered {first} before {then}"),
        Reorder::ProducerOrder { earlier, earlier_at, later, later_at, .. } => {
            format!("op {earlier} acked before op {later} began, yet {earlier_at} is after {later_at}")
        }
    }
}

/// Why a history cannot be judged: it does not speak `send` / `poll`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// A send without an integer partition as its key.
    #[error("operation {op}: a send needs an integer partition as its key")]
    SendWithoutPartition {
        /// Index of the operation.
        op: usize,
    },
    /// Two sends of one message: messages must be unique to be traced.
    #[error("operations {first} and {second} both send {message}; messages must be unique")]
    MessageSentTwice {
        /// The message.
        message: Value,
        /// The first send.
        first: usize,
        /// The second send.
        second: usize,
    },
    /// A poll result that is not a list of `[partition, offset, message]`.
    #[error("operation {op}: a poll delivers a list of [partition offset message], not {found}")]
    MalformedPoll {
        /// Index of the operation.
        op: usize,
        /// What was there.
        found: Value,
    },
}

/// One message as one poll delivered it.
#[derive(Clone, Debug)]
struct Delivery {
    poll: usize,
    position: Position,
    message: Value,
}

/// One send: its operation, partition and outcome.
#[derive(Clone, Copy, Debug)]
struct Send {
    op: usize,
    partition: i64,
    kind: RecordType,
}

/// Judges `ops` (a drained history's operations) against `guarantee`.
/// Operations other than `send` and `poll` are ignored.
pub fn check(ops: &[Operation], guarantee: Guarantee) -> Result<Report, DeliveryError> {
    let sends = sends(ops)?;
    let deliveries = deliveries(ops)?;
    let mut report = Report { guarantee, ..Report::default() };
    for send in sends.values() {
        match send.kind {
            RecordType::Ok => report.sends_ok += 1,
            RecordType::Fail => report.sends_fail += 1,
            _ => report.sends_info += 1,
        }
    }
    let mut at: BTreeMap<&Value, BTreeSet<Position>> = BTreeMap::new();
    let mut seen: BTreeSet<(Position, &Value)> = BTreeSet::new();
    for d in &deliveries {
        at.entry(&d.message).or_default().insert(d.position);
        if !seen.insert((d.position, &d.message)) {
            report.redeliveries += 1;
        }
    }
    report.delivered = at.len();
    report.lost = lost(&sends, &at);
    report.unexpected = unexpected(&sends, &deliveries);
    let (allowed, duplicates) = duplicates(&deliveries, &at, guarantee);
    report.duplicates_allowed = allowed;
    report.duplicates = duplicates;
    report.reorders = divergent(&deliveries);
    report.reorders.extend(within_poll(&deliveries));
    report.reorders.extend(producer_order(ops, &sends, &at));
    Ok(report)
}

fn sends(ops: &[Operation]) -> Result<BTreeMap<&Value, Send>, DeliveryError> {
    let mut sends: BTreeMap<&Value, Send> = BTreeMap::new();
    for (index, op) in ops.iter().enumerate().filter(|(_, op)| op.f == "send") {
        let Some(Value::Int(partition)) = op.key else {
            return Err(DeliveryError::SendWithoutPartition { op: index });
        };
        let send = Send { op: index, partition, kind: op.kind };
        if let Some(first) = sends.insert(&op.argument, send) {
            return Err(DeliveryError::MessageSentTwice {
                message: op.argument.clone(),
                first: first.op,
                second: index,
            });
        }
    }
    Ok(sends)
}

fn deliveries(ops: &[Operation]) -> Result<Vec<Delivery>, DeliveryError> {
    let mut out = Vec::new();
    for (poll, op) in ops.iter().enumerate() {
        if op.f != "poll" || op.kind != RecordType::Ok {
            continue;
        }
        let malformed = || DeliveryError::MalformedPoll { op: poll, found: op.result.clone() };
        for item in op.result.as_list().ok_or_else(malformed)? {
            let [Value::Int(partition), Value::Int(offset), message] =
                item.as_list().ok_or_else(malformed)?
            else {
                return Err(malformed());
            };
            let position = Position { partition: *partition, offset: *offset };
            out.push(Delivery { poll, position, message: message.clone() });
        }
    }
    Ok(out)
}

fn lost(sends: &BTreeMap<&Value, Send>, at: &BTreeMap<&Value, BTreeSet<Position>>) -> Vec<Lost> {
    let delivered_in = |message: &Value, partition| {
        at.get(message).is_some_and(|positions| positions.iter().any(|p| p.partition == partition))
    };
    let mut lost: Vec<Lost> = sends
        .iter()
        .filter(|(m, s)| s.kind == RecordType::Ok && !delivered_in(m, s.partition))
        .map(|(m, s)| Lost { message: (*m).clone(), partition: s.partition, send: s.op })
        .collect();
    lost.sort_by_key(|l| l.send);
    lost
}

fn unexpected(sends: &BTreeMap<&Value, Send>, deliveries: &[Delivery]) -> Vec<Unexpected> {
    let mut reported: BTreeSet<(&Value, Position)> = BTreeSet::new();
    let mut out = Vec::new();
    for d in deliveries {
        let send = sends.get(&d.message);
        let fine = send.is_some_and(|s| s.kind != RecordType::Fail && s.partition == d.position.partition);
        if !fine && reported.insert((&d.message, d.position)) {
            out.push(Unexpected {
                message: d.message.clone(),
                position: d.position,
                poll: d.poll,
                send: send.map(|s| s.op),
            });
        }
    }
    out
}

fn duplicates(
    deliveries: &[Delivery],
    at: &BTreeMap<&Value, BTreeSet<Position>>,
    guarantee: Guarantee,
) -> (usize, Vec<Duplicate>) {
    let twice: Vec<(&&Value, &BTreeSet<Position>)> = at.iter().filter(|(_, p)| p.len() > 1).collect();
    if guarantee == Guarantee::AtLeastOnce {
        return (twice.len(), Vec::new());
    }
    let duplicates = twice
        .into_iter()
        .map(|(message, positions)| {
            let polls: BTreeSet<usize> =
                deliveries.iter().filter(|d| &d.message == *message).map(|d| d.poll).collect();
            Duplicate {
                message: (*message).clone(),
                positions: positions.iter().copied().collect(),
                polls: polls.into_iter().collect(),
            }
        })
        .collect();
    (0, duplicates)
}

fn divergent(deliveries: &[Delivery]) -> Vec<Reorder> {
    let mut by_position: BTreeMap<Position, Vec<&Delivery>> = BTreeMap::new();
    for d in deliveries {
        by_position.entry(d.position).or_default().push(d);
    }
    let mut out = Vec::new();
    for (position, here) in by_position {
        let mut messages: Vec<Value> = Vec::new();
        let mut polls: BTreeSet<usize> = BTreeSet::new();
        for d in &here {
            if !messages.contains(&d.message) {
                messages.push(d.message.clone());
            }
            polls.insert(d.poll);
        }
        if messages.len() > 1 {
            out.push(Reorder::Divergent { position, messages, polls: polls.into_iter().collect() });
        }
    }
    out
}

fn within_poll(deliveries: &[Delivery]) -> Vec<Reorder> {
    let mut out = Vec::new();
    let mut last: BTreeMap<(usize, i64), Position> = BTreeMap::new();
    for d in deliveries {
        let key = (d.poll, d.position.partition);
        match last.get(&key) {
            Some(&first) if first.offset >= d.position.offset => {
                out.push(Reorder::WithinPoll { poll: d.poll, first, then: d.position });
            }
            _ => {
                last.insert(key, d.position);
            }
        }
    }
    out
}

/// For each delivered send, the acknowledged send placed furthest after it
/// among those acknowledged before it was invoked: one sweep in history order.
fn producer_order(
    ops: &[Operation],
    sends: &BTreeMap<&Value, Send>,
    at: &BTreeMap<&Value, BTreeSet<Position>>,
) -> Vec<Reorder> {
    // (history index, completion?, send op, first position in its partition):
    // at one index an invocation sorts first, so only strictly earlier
    // acknowledgements count.
    let mut events: Vec<(usize, bool, usize, Position)> = Vec::new();
    for (message, send) in sends {
        let Some(first) = at.get(message).and_then(|p| p.iter().find(|p| p.partition == send.partition))
        else {
            continue;
        };
        let op = &ops[send.op];
        events.push((op.invoke_index, false, send.op, *first));
        if let (RecordType::Ok, Some(done)) = (send.kind, op.complete_index) {
            events.push((done, true, send.op, *first));
        }
    }
    events.sort();
    let mut furthest: BTreeMap<i64, (Position, usize)> = BTreeMap::new();
    let mut out = Vec::new();
    for (_, is_completion, op, position) in events {
        let best = furthest.get(&position.partition).copied();
        if is_completion {
            if best.is_none_or(|(p, _)| p.offset < position.offset) {
                furthest.insert(position.partition, (position, op));
            }
        } else if let Some((earlier_at, earlier)) = best.filter(|(p, _)| p.offset > position.offset) {
            out.push(Reorder::ProducerOrder { earlier, earlier_at, later: op, later_at: position });
        }
    }
    out.sort_by_key(|r| match r {
        Reorder::ProducerOrder { later, .. } => *later,
        _ => 0,
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Time;
    use proptest::prelude::*;

    /// Builds operations directly: (f, key, argument, kind, result, invoke, complete).
    struct Ops(Vec<Operation>);

    impl Ops {
        fn new() -> Ops {
            Ops(Vec::new())
        }

        fn at(
            &mut self,
            f: &str,
            key: Option<i64>,
            kind: RecordType,
            result: Value,
            span: (usize, usize),
        ) -> usize {
            let argument = if f == "send" { result.clone() } else { Value::Nil };
            self.0.push(Operation {
                invoke_index: span.0,
                complete_index: Some(span.1),
                process: self.0.len() as u64,
                f: f.into(),
                key: key.map(Value::Int),
                argument,
                kind,
                result: if kind == RecordType::Ok { result } else { Value::Nil },
                invoked_at: Time::ZERO,
                completed_at: None,
            });
            self.0.len() - 1
        }

        /// A send, sequential after everything so far.
        fn send(&mut self, partition: i64, message: i64, kind: RecordType) -> usize {
            let n = 2 * self.0.len();
            self.at("send", Some(partition), kind, Value::Int(message), (n, n + 1))
        }

        /// A poll delivering `(partition, offset, message)` triples.
        fn poll(&mut self, items: &[(i64, i64, i64)]) -> usize {
            let n = 2 * self.0.len();
            let list = items.iter().map(|&(p, o, m)| Value::from(vec![p, o, m])).collect();
            self.at("poll", None, RecordType::Ok, Value::List(list), (n, n + 1))
        }

        fn check(&self, guarantee: Guarantee) -> Report {
            check(&self.0, guarantee).expect("well-formed history")
        }
    }

    #[test]
    fn a_clean_history_is_valid_and_counted() {
        let mut ops = Ops::new();
        ops.send(0, 10, RecordType::Ok);
        ops.send(0, 11, RecordType::Info);
        ops.send(1, 12, RecordType::Fail);
        ops.poll(&[(0, 0, 10), (0, 1, 11)]);
        ops.poll(&[(0, 0, 10)]);
        let report = ops.check(Guarantee::ExactlyOnce);
        assert!(report.is_valid(), "{}", report.summary());
        assert_eq!((report.sends_ok, report.sends_info, report.sends_fail), (1, 1, 1));
        assert_eq!(report.delivered, 2);
        assert_eq!(report.redeliveries, 1);
    }

    #[test]
    fn an_acknowledged_message_never_delivered_is_lost() {
        let mut ops = Ops::new();
        let send = ops.send(1, 5, RecordType::Ok);
        ops.send(1, 6, RecordType::Info);
        ops.poll(&[(0, 0, 5)]);
        let report = ops.check(Guarantee::AtLeastOnce);
        assert_eq!(report.lost, vec![Lost { message: Value::Int(5), partition: 1, send }]);
    }

    #[test]
    fn two_positions_are_a_duplicate_only_under_exactly_once() {
        let mut ops = Ops::new();
        ops.send(0, 5, RecordType::Ok);
        let a = ops.poll(&[(0, 0, 5)]);
        let b = ops.poll(&[(0, 1, 5)]);
        let at_least = ops.check(Guarantee::AtLeastOnce);
        assert!(at_least.is_valid());
        assert_eq!(at_least.duplicates_allowed, 1);
        let exactly = ops.check(Guarantee::ExactlyOnce);
        let positions = vec![Position { partition: 0, offset: 0 }, Position { partition: 0, offset: 1 }];
        assert_eq!(
            exactly.duplicates,
            vec![Duplicate { message: Value::Int(5), positions, polls: vec![a, b] }]
        );
    }

    #[test]
    fn two_messages_at_one_offset_diverge() {
        let mut ops = Ops::new();
        ops.send(0, 5, RecordType::Ok);
        ops.send(0, 6, RecordType::Ok);
        let a = ops.poll(&[(0, 0, 5)]);
        let b = ops.poll(&[(0, 0, 6), (0, 1, 5)]);
        let report = ops.check(Guarantee::AtLeastOnce);
        let position = Position { partition: 0, offset: 0 };
        assert_eq!(
            report.reorders,
            vec![Reorder::Divergent {
                position,
                messages: vec![Value::Int(5), Value::Int(6)],
                polls: vec![a, b]
            }]
        );
    }

    #[test]
    fn a_poll_going_backwards_is_reordered() {
        let mut ops = Ops::new();
        ops.send(0, 5, RecordType::Info);
        ops.send(0, 6, RecordType::Info);
        let poll = ops.poll(&[(0, 1, 6), (0, 0, 5)]);
        let report = ops.check(Guarantee::AtLeastOnce);
        let (first, then) = (Position { partition: 0, offset: 1 }, Position { partition: 0, offset: 0 });
        assert_eq!(report.reorders, vec![Reorder::WithinPoll { poll, first, then }]);
    }

    #[test]
    fn an_acknowledged_send_placed_after_a_later_one_is_reordered() {
        let mut ops = Ops::new();
        let earlier = ops.send(0, 5, RecordType::Ok);
        let later = ops.send(0, 6, RecordType::Info);
        ops.poll(&[(0, 0, 6)]);
        ops.poll(&[(0, 1, 5)]);
        let report = ops.check(Guarantee::AtLeastOnce);
        let earlier_at = Position { partition: 0, offset: 1 };
        let later_at = Position { partition: 0, offset: 0 };
        assert_eq!(report.reorders, vec![Reorder::ProducerOrder { earlier, earlier_at, later, later_at }]);
    }

    #[test]
    fn concurrent_sends_may_land_in_either_order() {
        let mut ops = Ops::new();
        ops.at("send", Some(0), RecordType::Ok, Value::Int(5), (0, 3));
        ops.at("send", Some(0), RecordType::Ok, Value::Int(6), (1, 2));
        ops.poll(&[(0, 0, 5), (0, 1, 6)]);
        assert!(ops.check(Guarantee::ExactlyOnce).is_valid());
    }

    #[test]
    fn a_message_never_sent_failed_or_misplaced_is_unexpected() {
        let mut ops = Ops::new();
        let failed = ops.send(0, 5, RecordType::Fail);
        let elsewhere = ops.send(1, 6, RecordType::Info);
        let poll = ops.poll(&[(0, 0, 5), (0, 1, 6), (0, 2, 7)]);
        let report = ops.check(Guarantee::AtLeastOnce);
        let at = |offset| Position { partition: 0, offset };
        assert_eq!(
            report.unexpected,
            vec![
                Unexpected { message: Value::Int(5), position: at(0), poll, send: Some(failed) },
                Unexpected { message: Value::Int(6), position: at(1), poll, send: Some(elsewhere) },
                Unexpected { message: Value::Int(7), position: at(2), poll, send: None },
            ]
        );
    }

    #[test]
    fn malformed_histories_are_errors_not_verdicts() {
        let mut ops = Ops::new();
        ops.send(0, 5, RecordType::Ok);
        ops.send(1, 5, RecordType::Ok);
        assert!(matches!(check(&ops.0, Guarantee::AtLeastOnce), Err(DeliveryError::MessageSentTwice { .. })));
        let mut ops = Ops::new();
        ops.at("poll", None, RecordType::Ok, Value::List(vec![Value::Int(3)]), (0, 1));
        assert!(matches!(
            check(&ops.0, Guarantee::AtLeastOnce),
            Err(DeliveryError::MalformedPoll { op: 0, .. })
        ));
        let mut ops = Ops::new();
        ops.at("send", None, RecordType::Ok, Value::Int(1), (0, 1));
        assert!(matches!(
            check(&ops.0, Guarantee::AtLeastOnce),
            Err(DeliveryError::SendWithoutPartition { op: 0 })
        ));
    }

    /// Every anomaly reduced to comparable facts.
    #[derive(Debug, Default, PartialEq, Eq)]
    struct Facts {
        lost: BTreeSet<usize>,
        duplicated: BTreeSet<i64>,
        divergent: BTreeSet<Position>,
        backwards: BTreeSet<(usize, Position)>,
        out_of_order: BTreeSet<usize>,
        unexpected: BTreeSet<(i64, Position)>,
        redeliveries: usize,
    }

    fn facts(report: &Report) -> Facts {
        let mut f = Facts { redeliveries: report.redeliveries, ..Facts::default() };
        f.lost = report.lost.iter().map(|l| l.send).collect();
        f.duplicated = report.duplicates.iter().filter_map(|d| d.message.as_int()).collect();
        f.unexpected =
            report.unexpected.iter().filter_map(|u| Some((u.message.as_int()?, u.position))).collect();
        for r in &report.reorders {
            match r {
                Reorder::Divergent { position, .. } => f.divergent.insert(*position),
                Reorder::WithinPoll { poll, then, .. } => f.backwards.insert((*poll, *then)),
                Reorder::ProducerOrder { later, .. } => f.out_of_order.insert(*later),
            };
        }
        f
    }

    /// The definitions, literally, by nested loops over every delivery.
    fn brute(ops: &[Operation], guarantee: Guarantee) -> Facts {
        let mut all: Vec<(usize, usize, Position, i64)> = Vec::new(); // (poll, index in poll, position, message)
        for (i, op) in ops.iter().enumerate().filter(|(_, o)| o.f == "poll" && o.kind == RecordType::Ok) {
            for (k, item) in op.result.as_list().unwrap().iter().enumerate() {
                let v: Vec<i64> = item.as_list().unwrap().iter().map(|x| x.as_int().unwrap()).collect();
                all.push((i, k, Position { partition: v[0], offset: v[1] }, v[2]));
            }
        }
        let send_of = |m: i64| ops.iter().position(|o| o.f == "send" && o.argument == Value::Int(m));
        let partition_of = |i: usize| ops[i].key.as_ref().and_then(Value::as_int).unwrap();
        let mut f = Facts::default();
        for (i, op) in ops.iter().enumerate().filter(|(_, o)| o.f == "send" && o.kind == RecordType::Ok) {
            let m = op.argument.as_int().unwrap();
            if !all.iter().any(|d| d.3 == m && d.2.partition == partition_of(i)) {
                f.lost.insert(i);
            }
        }
        for (x, a) in all.iter().enumerate() {
            if all[..x].iter().any(|b| b.2 == a.2 && b.3 == a.3) {
                f.redeliveries += 1;
            }
            if guarantee == Guarantee::ExactlyOnce && all.iter().any(|b| b.3 == a.3 && b.2 != a.2) {
                f.duplicated.insert(a.3);
            }
            if all.iter().any(|b| b.2 == a.2 && b.3 != a.3) {
                f.divergent.insert(a.2);
            }
            let earlier_in_poll = all[..x].iter().filter(|b| b.0 == a.0 && b.2.partition == a.2.partition);
            if earlier_in_poll.clone().any(|b| b.2.offset >= a.2.offset) {
                f.backwards.insert((a.0, a.2));
            }
            let fine = send_of(a.3)
                .is_some_and(|s| ops[s].kind != RecordType::Fail && partition_of(s) == a.2.partition);
            if !fine {
                f.unexpected.insert((a.3, a.2));
            }
        }
        let first = |s: usize| {
            let m = ops[s].argument.as_int().unwrap();
            all.iter().filter(|d| d.3 == m && d.2.partition == partition_of(s)).map(|d| d.2.offset).min()
        };
        for (b, later) in ops.iter().enumerate().filter(|(_, o)| o.f == "send") {
            for (a, earlier) in
                ops.iter().enumerate().filter(|(_, o)| o.f == "send" && o.kind == RecordType::Ok)
            {
                let before = earlier.complete_index.is_some_and(|c| c < later.invoke_index);
                let same = partition_of(a) == partition_of(b);
                if let (true, true, Some(oa), Some(ob)) = (before, same, first(a), first(b))
                    && oa > ob
                {
                    f.out_of_order.insert(b);
                }
            }
        }
        f
    }

    /// Small histories: a few sends over two partitions with random outcomes
    /// and overlapping intervals, polls delivering random positions of those
    /// messages (and sometimes of a message nobody sent).
    fn history() -> impl Strategy<Value = Vec<Operation>> {
        let send = (0..2i64, 0..3u8, 0..12usize, 1..6usize);
        let item = (0..2i64, 0..4i64, 0..7i64);
        let poll = (proptest::collection::vec(item, 0..4), 0..12usize);
        (proptest::collection::vec(send, 0..6), proptest::collection::vec(poll, 0..4)).prop_map(
            |(sends, polls)| {
                let mut ops = Ops::new();
                for (message, (partition, outcome, start, length)) in sends.into_iter().enumerate() {
                    let kind = [RecordType::Ok, RecordType::Info, RecordType::Fail][usize::from(outcome)];
                    ops.at(
                        "send",
                        Some(partition),
                        kind,
                        Value::Int(message as i64),
                        (start, start + length),
                    );
                }
                for (items, start) in polls {
                    let list = items.iter().map(|&(p, o, m)| Value::from(vec![p, o, m])).collect();
                    ops.at("poll", None, RecordType::Ok, Value::List(list), (start, start + 1));
                }
                ops.0
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn agrees_with_brute_force(ops in history(), exactly in any::<bool>()) {
            let guarantee = if exactly { Guarantee::ExactlyOnce } else { Guarantee::AtLeastOnce };
            let report = check(&ops, guarantee).unwrap();
            prop_assert_eq!(facts(&report), brute(&ops, guarantee));
            prop_assert_eq!(report.is_valid(), facts(&report) == Facts { redeliveries: report.redeliveries, ..Facts::default() });
        }
    }
}
