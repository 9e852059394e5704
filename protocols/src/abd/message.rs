//! ABD's messages, timers and timestamps.

use serde::{Deserialize, Serialize};

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.counter, self.writer)
    }
}

/// A value's version: a counter, then the writer's id to break ties.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Timestamp {
    /// Bumped by each write.
    pub counter: u64,
    /// The client that wrote it (0 for the initial, never-written value).
    pub writer: u32,
}

/// A timestamped register value as servers store it; `None` was never written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Stamped {
    /// The version.
    pub ts: Timestamp,
    /// The value.
    pub value: Option<i64>,
}

/// Messages between clients and servers; `phase` ids let a client ignore stale replies.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Msg {
    /// Phase 1 of reads and writes: what do you hold for `key`?
    Query {
        /// The client's phase id.
        phase: u64,
        /// The register.
        key: i64,
    },
    /// The server's stored value for the queried key.
    QueryAck {
        /// The phase it answers.
        phase: u64,
        /// What the server holds.
        stamped: Stamped,
    },
    /// Phase 2: keep this value if it is newer than yours.
    Store {
        /// The client's phase id.
        phase: u64,
        /// The register.
        key: i64,
        /// The value to keep.
        stamped: Stamped,
    },
    /// The value (or a newer one) is durable at the server.
    StoreAck {
        /// The phase it answers.
        phase: u64,
    },
}

/// Client timers: resend the current phase to servers that have not answered.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Timer {
    /// Resend phase `phase` if it is still running.
    Resend {
        /// The phase.
        phase: u64,
    },
}
