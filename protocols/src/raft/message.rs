//! What Raft servers and clients say to each other, and the timers they set.

use serde::{Deserialize, Serialize};
use sim_core::NodeId;

use super::log::Entry;
use super::machine::Answer;
use crate::register::Command;

/// The command a log entry carries.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Cmd {
    /// Opens a leader's term so it can commit (and learn its commit index).
    Noop,
    /// A client's request.
    Client {
        /// The client that asked.
        client: NodeId,
        /// Its sequence number, for at-most-once application.
        seq: u64,
        /// The register.
        key: i64,
        /// What to do.
        command: Command,
    },
}

impl std::fmt::Display for Cmd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cmd::Noop => write!(f, "noop"),
            Cmd::Client { client, seq, key, command } => {
                write!(f, "{command} on key {key} (request {seq} of {client})")
            }
        }
    }
}

/// Messages between servers, and between clients and servers.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Msg {
    /// A candidate asks for a vote.
    RequestVote {
        /// The candidate's term.
        term: u64,
        /// Index of the candidate's last entry.
        last_index: u64,
        /// Term of the candidate's last entry.
        last_term: u64,
    },
    /// The answer to `RequestVote`.
    Vote {
        /// The voter's term.
        term: u64,
        /// Whether the vote was granted.
        granted: bool,
    },
    /// A leader replicates entries (none for a heartbeat).
    Append {
        /// The leader's term.
        term: u64,
        /// Index of the entry before `entries`.
        prev_index: u64,
        /// Term of that entry.
        prev_term: u64,
        /// New entries, in order.
        entries: Vec<Entry>,
        /// The leader's commit index.
        commit: u64,
        /// The leader's read-index round, echoed in the reply.
        round: u64,
    },
    /// A follower's answer to `Append`.
    AppendReply {
        /// The follower's term.
        term: u64,
        /// Whether the entries were accepted (and are durable).
        success: bool,
        /// On success, the index up to which the follower matches the leader.
        match_index: u64,
        /// On failure, where the leader should try next.
        hint: u64,
        /// The round of the `Append` answered.
        round: u64,
    },
    /// A client asks for a command on a register.
    Request {
        /// The client's sequence number.
        seq: u64,
        /// The register.
        key: i64,
        /// What to do.
        command: Command,
    },
    /// A server answers a request.
    Reply {
        /// The request answered.
        seq: u64,
        /// The result.
        answer: Answer,
    },
    /// The server is not the leader; `hint` is who it thinks is.
    NotLeader {
        /// The request refused.
        seq: u64,
        /// The leader, if known.
        hint: Option<NodeId>,
    },
}

/// Timers of servers and clients.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Timer {
    /// A follower or candidate heard from no leader for too long.
    Election,
    /// A leader's heartbeat, valid only in its term.
    Heartbeat {
        /// The term it was set in.
        term: u64,
    },
    /// Planted bug `ack-before-sync`: the deferred sync.
    Flush,
    /// A client has waited long enough for request `seq`.
    Retry {
        /// The request.
        seq: u64,
    },
}
