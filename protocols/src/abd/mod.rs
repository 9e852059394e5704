//! ABD: an atomic multi-writer register emulated by a majority of servers.
//!
//! Attiya, Bar-Noy and Dolev showed that a register can be made atomic
//! (linearizable) over a message-passing system in which any minority of
//! servers may fail, with no leader and no consensus. Every register value
//! carries a [`Timestamp`] `(counter, writer)`, ordered lexicographically so
//! that two writers never produce the same one.
//!
//! The clients do the work; a server only stores the highest-timestamped
//! value it has seen per key, durably, and answers two requests:
//!
//! 1. **Query**: reply with the stored `(timestamp, value)`.
//! 2. **Store**: keep `(timestamp, value)` if the timestamp is higher than the
//!    stored one, sync it to storage, then acknowledge.
//!
//! A **write** queries a majority, picks a timestamp above every one it saw
//! (and above any it used before), then stores its value at a majority.
//! A **read** queries a majority, picks the highest `(timestamp, value)`, and
//! stores it back at a majority before returning (read repair): once a read
//! returns a value, a majority holds it, so every later read sees it or
//! something newer.
//!
//! Invariants kept (and checked as the run goes, see [`invariants`]):
//!
//! * a server's stored timestamp for a key never decreases, even across
//!   crashes, because it is synced before it is acknowledged;
//! * a timestamp names one value: no two servers ever hold the same
//!   timestamp with different values.
//!
//! Planted bug `no-read-repair` skips the read's write-back: a read that
//! sees a write still in flight at one server returns it, and a later read
//! from a majority that misses that server returns the older value, a
//! new-old inversion the linearizability checker catches.

mod client;
pub mod invariants;
mod message;
mod server;

use serde::{Deserialize, Serialize};
use sim_core::{
    Cluster, Duration, Invalid, Invariant, ModelKind, NodeId, Protocol, RegisterMix, RegisterWorkload,
    Workload, WorkloadSpec,
};

pub use client::AbdClient;
pub use message::{Msg, Timer, Timestamp};
pub use server::Server;

sim_core::planted_bugs! {
    /// A planted bug, off unless a scenario names it.
    pub enum Bug {
        /// Reads return the highest value of a majority without writing it back.
        NoReadRepair = "no-read-repair": "reads skip the write-back phase: a later read can see an older value",
    }
}

/// The rare paths ABD marks with `ctx.probe`.
pub mod probe {
    /// A read's majority answered with different timestamps.
    pub const READ_DISAGREED: &str = "read-quorum-disagreed";
    /// A read wrote back a value some of its majority lacked.
    pub const READ_REPAIRED: &str = "read-repair-writes-back";
    /// A server ignored a store older than the value it holds.
    pub const STALE_STORE_IGNORED: &str = "stale-store-ignored";
    /// A client resent a phase a majority had not answered in time.
    pub const PHASE_RESENT: &str = "phase-resent";

    /// Every probe, with what reaching it means.
    pub const ALL: &[(&str, &str)] = &[
        (
            READ_DISAGREED,
            "a read's majority answered with different timestamps: only repair keeps reads monotonic",
        ),
        (READ_REPAIRED, "a read wrote back a value part of its majority lacked (no-read-repair skips this)"),
        (STALE_STORE_IGNORED, "a server ignored a store older than its value: a late write or repair"),
        (PHASE_RESENT, "a client resent a phase a majority had not answered in time"),
    ];
}

/// The ABD protocol's settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Abd {
    /// How long a client waits for a majority before resending a phase.
    pub retry: Duration,
    /// Longest wait between resends, as the backoff doubles.
    pub retry_max: Duration,
    /// Planted bugs.
    pub bugs: Vec<Bug>,
}

impl Default for Abd {
    fn default() -> Abd {
        Abd { retry: Duration::from_millis(20), retry_max: Duration::from_millis(160), bugs: Vec::new() }
    }
}

impl Abd {
    /// The correct protocol with `bugs` planted.
    pub fn with_bugs(bugs: Vec<Bug>) -> Abd {
        Abd { bugs, ..Abd::default() }
    }

    /// Whether `bug` is planted.
    pub fn has(&self, bug: Bug) -> bool {
        self.bugs.contains(&bug)
    }
}

impl Protocol for Abd {
    type Msg = Msg;
    type Timer = Timer;
    type Server = Server;
    type Client = AbdClient;

    fn server(&self, _id: NodeId, _cluster: &Cluster) -> Server {
        Server::default()
    }

    fn client(&self, id: NodeId, cluster: &Cluster) -> AbdClient {
        AbdClient::new(self.clone(), id, cluster.majority())
    }

    fn invariants(&self) -> Vec<Box<dyn Invariant<Self>>> {
        vec![
            Box::new(invariants::MonotoneTimestamps::default()),
            Box::new(invariants::UniqueTimestamps::default()),
        ]
    }
}

impl sim_core::Catalogued for Abd {
    const NAME: &'static str = "abd";
    const SUMMARY: &'static str = "ABD quorum register: majority reads and writes with timestamps, no leader";
    type Bug = Bug;
    type Workload = AbdWorkload;
    const PROBES: &'static [(&'static str, &'static str)] = probe::ALL;
    const MODEL: Option<ModelKind> = Some(ModelKind::Register);

    fn validate(&self, _setup: &sim_core::Setup) -> Result<(), Invalid> {
        Invalid::periods(&[("retry", self.retry), ("retry_max", self.retry_max)])?;
        Invalid::ordered(("retry", self.retry), ("retry_max", self.retry_max))
    }
}

/// Register reads and writes over a few keys. Compare-and-set is not an ABD
/// operation, so the mix defaults to reads and writes only and a cas weight
/// is an error.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AbdWorkload {
    /// How many registers (keys `0..keys`).
    pub keys: u64,
    /// Operation mix; `cas` must be 0.
    pub mix: RegisterMix,
    /// Values are drawn from `0..values`.
    pub values: u64,
}

impl Default for AbdWorkload {
    fn default() -> AbdWorkload {
        let register = RegisterWorkload::default();
        AbdWorkload {
            keys: register.keys,
            mix: RegisterMix { read: 1, write: 1, cas: 0 },
            values: register.values,
        }
    }
}

impl AbdWorkload {
    fn register(&self) -> RegisterWorkload {
        RegisterWorkload { keys: self.keys, mix: self.mix, values: self.values }
    }
}

impl Workload for AbdWorkload {
    fn next_op(&mut self, client: usize, rng: &mut sim_core::SimRng) -> Option<sim_core::Op> {
        self.register().next_op(client, rng)
    }
}

impl WorkloadSpec for AbdWorkload {
    fn validate(&self) -> Result<(), Invalid> {
        if self.mix.cas > 0 {
            return Err(Invalid::new("mix", "abd is a read/write register: mix.cas must be 0"));
        }
        WorkloadSpec::validate(&self.register())
    }
}
