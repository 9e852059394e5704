//! Primary-backup's messages, timers and replicated state.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::register::Command;

/// A state's place in history: the epoch that proposed it, then its sequence number.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Version {
    /// The epoch whose primary made this state.
    pub epoch: u64,
    /// Bumped by each batch of client requests within the epoch.
    pub seq: u64,
}

/// A client's answer, as sent and as remembered for duplicates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Answer {
    /// The register's value after the command (the current value for a failed cas).
    pub value: Option<i64>,
    /// False only for a cas whose expected value did not match.
    pub applied: bool,
}

/// The replicated state: the registers and, per client, its last request and answer,
/// so a retried request is answered again rather than applied twice.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Snapshot {
    /// Register values by key.
    pub registers: BTreeMap<i64, i64>,
    /// Per client id: the last request applied and its answer.
    pub sessions: BTreeMap<u32, (u64, Answer)>,
}

/// Messages between clients and servers, and among servers.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Msg {
    /// A client asks for `command` on register `key`.
    Request {
        /// Client-chosen request id, increasing per client.
        req: u64,
        /// The register.
        key: i64,
        /// What to do.
        command: Command,
    },
    /// The primary's answer, sent once the request is replicated to a majority.
    Reply {
        /// The request it answers.
        req: u64,
        /// The outcome.
        answer: Answer,
    },
    /// "I am not the primary; try this one."
    Redirect {
        /// The request it answers.
        req: u64,
        /// Who the server believes is primary, if anyone.
        primary: Option<NodeHint>,
    },
    /// A candidate asks for votes in `epoch`.
    Prepare {
        /// The epoch it wants to lead.
        epoch: u64,
    },
    /// A vote: the voter will ignore older epochs, and hands over its state.
    Promise {
        /// The epoch voted for.
        epoch: u64,
        /// The voter's latest state's version.
        version: Version,
        /// The voter's latest state.
        snapshot: Snapshot,
    },
    /// The primary's state (also its heartbeat).
    Replicate {
        /// The primary's epoch.
        epoch: u64,
        /// The state's version.
        version: Version,
        /// The state.
        snapshot: Snapshot,
    },
    /// The sender holds the primary's state up to `seq` in `epoch`.
    Ack {
        /// The epoch.
        epoch: u64,
        /// The highest sequence number held in that epoch.
        seq: u64,
    },
    /// The sender has promised a newer epoch: the receiver is fenced off.
    Nack {
        /// The epoch the sender has promised.
        promised: u64,
    },
}

/// A server's id as carried in a redirect.
pub type NodeHint = sim_core::NodeId;

/// What timers carry.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Timer {
    /// A server's periodic check: heartbeat, election timeout, step-down.
    Tick,
    /// A client's resend of request `req`, the `attempt`-th time.
    Retry {
        /// The request.
        req: u64,
        /// Which resend this is; only the latest counts.
        attempt: u32,
    },
}
