//! What a page draws: one run, flattened into lanes, messages, operations,
//! faults and the verdict. Every field is plain data the page reads as JSON.

use serde::Serialize;
use sim_core::{History, RecordType, RunReport, Value};

use crate::error::VizError;
use crate::failure::Failure;
use crate::parse;

/// One run, ready to draw: nodes (servers, then clients), what they sent,
/// what the clients did, what went wrong, and the verdict marks.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Run {
    /// Shown as the page title and heading.
    pub title: String,
    /// The seed, if known (a bare trace does not say).
    pub seed: Option<u64>,
    /// Extra `name: value` lines for the header, in the order given.
    pub metadata: Vec<(String, String)>,
    /// One lane per node, servers first, then clients, each in id order.
    pub nodes: Vec<Lane>,
    /// Every sent message, in send order.
    pub messages: Vec<Message>,
    /// Every client operation, indexed as `History::operations` indexes them,
    /// so a checker's [`sim_core::check::OpRef::index`] names one directly.
    pub operations: Vec<Operation>,
    /// Every `fault` and `storage-loss` event, in time order.
    pub faults: Vec<FaultMark>,
    /// Intervals a node spent crashed, paused, slow or with a shifted clock.
    pub bands: Vec<Band>,
    /// Intervals during which links were cut, one per partition fault.
    pub partitions: Vec<Partition>,
    /// What the checks found; empty when the run passed.
    pub failures: Vec<Failure>,
    /// Virtual time of the last event, in nanoseconds.
    pub end: u64,
    /// Trace lines read.
    pub events: usize,
    /// Every timer firing, in time order (drawn as ticks on the node's lane).
    pub timers: Vec<TimerFiring>,
    /// Messages or timers that waited for a paused node, per node id.
    pub deferred: Vec<(u32, usize)>,
}

/// Whether a lane is a server or a client.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// A protocol server (the nodes faults act on).
    Server,
    /// A client issuing the workload's operations.
    Client,
}

/// One node's lane.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Lane {
    /// The node id as the trace numbers it.
    pub id: u32,
    /// `n0`, `n1`, … as the rest of Orrery prints node ids.
    pub name: String,
    /// Server or client.
    pub role: Role,
}

/// One sent message and what became of each copy.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Message {
    /// Message id, unique within the run.
    pub mid: u64,
    /// Sender node id.
    pub from: u32,
    /// Receiver node id.
    pub to: u32,
    /// Send time, nanoseconds.
    pub sent: u64,
    /// Deliveries and drops in trace order; a duplicated message has two,
    /// a message still in flight at the end none.
    pub arrivals: Vec<Arrival>,
    /// Whether the network made a second copy.
    pub duplicated: bool,
    /// The message body exactly as the trace recorded it.
    pub body: serde_json::Value,
}

/// One copy of a message reaching (or failing to reach) its receiver.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Arrival {
    /// When, in nanoseconds. A drop at send time (partition, loss,
    /// overload) has `t == sent`; a drop at a crashed receiver has the arrival time.
    pub t: u64,
    /// `None` if delivered, else why it was dropped.
    pub dropped: Option<String>,
}

/// One client operation, invoke to completion.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Operation {
    /// Index among the history's operations.
    pub index: usize,
    /// The client node's id (its lane).
    pub node: u32,
    /// The history process.
    pub process: u64,
    /// The function (`read`, `write`, `cas`, …).
    pub f: String,
    /// The key, if the operation has one.
    pub key: Option<Value>,
    /// The key as text, for the key filter.
    pub key_text: Option<String>,
    /// The invocation's argument.
    pub argument: Value,
    /// `ok`, `fail`, or `info` (timed out or never completed).
    pub kind: RecordType,
    /// The `ok` result.
    pub result: Value,
    /// Invocation time, nanoseconds.
    pub invoked: u64,
    /// Completion time; `None` if the run ended first.
    pub completed: Option<u64>,
}

/// A timer firing at a node: often the step that starts an election or a retry.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TimerFiring {
    /// When, in nanoseconds.
    pub t: u64,
    /// The node whose timer fired.
    pub node: u32,
    /// The timer's payload exactly as the trace recorded it.
    pub body: serde_json::Value,
}

/// One fault (or storage loss) at an instant.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FaultMark {
    /// When, in nanoseconds.
    pub t: u64,
    /// `crash`, `restart`, `pause`, `resume`, `partition`, `heal`, `slow`,
    /// `clock-jump` or `storage-loss`.
    pub kind: String,
    /// The node it acts on; `None` for partitions and heals.
    pub node: Option<u32>,
    /// A one-line description for people.
    pub text: String,
    /// The event exactly as the trace recorded it.
    pub body: serde_json::Value,
}

/// An interval a node spent in a state other than plainly up.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Band {
    /// The node.
    pub node: u32,
    /// `crashed`, `paused`, `slow` or `clock`.
    pub state: String,
    /// Start, nanoseconds.
    pub from: u64,
    /// End, nanoseconds (the run's end if it never recovered).
    pub to: u64,
    /// E.g. `slow x10`, `clock +250ms`.
    pub label: String,
}

/// An interval during which a partition fault's links were cut.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Partition {
    /// Start, nanoseconds.
    pub from: u64,
    /// The heal or mend that ended it (or the run's end).
    pub to: u64,
    /// Which groups are cut, e.g. `n0 | n1 n2`.
    pub text: String,
    /// The groups that cannot talk to each other; a one-way cut lists
    /// senders, then receivers.
    pub groups: Vec<Vec<u32>>,
}

impl Run {
    /// Reads a JSON-lines trace and, optionally, the history of the same run.
    ///
    /// Operations come from the history when it is given (it carries the
    /// linearizability checker's numbering), else from the trace's `invoke`
    /// and `complete` events, which the simulator records in the same order.
    /// Errors name the offending line.
    pub fn from_jsonl(trace: &str, history: Option<&str>) -> Result<Run, VizError> {
        let history = match history {
            Some(text) => Some(History::read_jsonl(text.as_bytes()).map_err(VizError::History)?),
            None => None,
        };
        parse::run(trace, history.as_ref())
    }

    /// Builds a run from a finished simulation whose trace was kept in
    /// memory, with its seed, counts and, if the run ended abnormally
    /// (invariant, panic, limit), that failure marked.
    pub fn from_report(report: &RunReport, title: &str) -> Result<Run, VizError> {
        let trace = report.trace.as_deref().ok_or(VizError::NoTrace)?;
        let trace = std::str::from_utf8(trace)
            .map_err(|e| VizError::Trace { line: 0, message: format!("trace is not UTF-8: {e}") })?;
        let mut run = parse::run(trace, Some(&report.history))?;
        run.title = title.to_string();
        run.seed = Some(report.seed.0);
        run.metadata.push(("end".into(), report.end.to_string()));
        run.metadata.push(("events".into(), report.events.to_string()));
        run.metadata.push(("trace hash".into(), format!("{:016x}", report.trace_hash)));
        if let Some(failure) = Failure::from_run_end(&report.end, report.time) {
            run.mark_failure(failure);
        }
        Ok(run)
    }

    /// Adds a verdict mark. A failure without an instant takes the
    /// completion (or invocation) time of the operation it blocks on.
    pub fn mark_failure(&mut self, mut failure: Failure) {
        if failure.at.is_none()
            && let Some(op) = failure.blocked.and_then(|i| self.operations.get(i))
        {
            failure.at = Some(op.completed.unwrap_or(op.invoked));
            failure.node = failure.node.or(Some(op.node));
        }
        self.failures.push(failure);
    }

    /// The lane of node `id`, if the run has that node.
    pub fn lane(&self, id: u32) -> Option<&Lane> {
        self.nodes.iter().find(|l| l.id == id)
    }
}
