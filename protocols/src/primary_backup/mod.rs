//! Primary-backup replication with failover, fenced by majority-elected epochs.
//!
//! The classic first design for high availability: one server, the primary,
//! orders every client request and copies the resulting state to its backups
//! before answering; when the backups stop hearing from it, one of them takes
//! over. Done naively this loses acknowledged writes and ends in split brain;
//! done right it is Viewstamped Replication / Multi-Paxos in miniature.
//!
//! **Epochs.** Time is divided into epochs, each with at most one primary. A
//! backup that hears no heartbeat for a randomised election timeout asks the
//! others to promise epoch `e + 1` (`Prepare`). A server promises only an epoch
//! above any it promised before, persists the promise with `sync` (a forgotten
//! vote could be cast twice), and hands over its state (`Promise`). With
//! promises from a majority, the candidate becomes primary.
//!
//! **State.** The replicated state is small (the registers and a session table),
//! so the primary ships it whole, tagged with a [`Version`] `(epoch, seq)`. A
//! new primary adopts the newest state among the majority that elected it:
//! since any two majorities share a server, that state includes everything a
//! previous primary ever acknowledged.
//!
//! **Requests.** For every request, reads included, the primary applies it,
//! bumps `seq`, persists, sends the state to its backups, and answers only
//! once a majority holds that version in its epoch. Backups ignore (and
//! `Nack`) messages from epochs older than their promise, so a deposed primary
//! can never again gather a majority: it can neither acknowledge a write nor
//! serve a stale read. The session table (each client's last request id and
//! answer) travels with the state, so a client may resend a request anywhere
//! without it being applied twice.
//!
//! Invariants kept (checked as the run goes, see [`invariants`]):
//!
//! * at most one primary per epoch;
//! * (with the linearizability checker) every acknowledged operation survives
//!   failover, and no two servers act as primary at once to any effect.
//!
//! Planted bugs, each the naive version of one of the above:
//!
//! * `async-replication`: the primary answers as soon as it has applied a
//!   request locally; writes it acknowledged are lost when a backup takes over.
//! * `no-fencing`: a backup promotes itself when its timeout fires, asking
//!   nobody; a primary waits only for the backups it still hears from, and
//!   writes the others off as dead; backups accept state from whoever sends
//!   it and primaries never step down. In a partition each side thinks the
//!   other is dead, and two primaries serve clients at once (split brain),
//!   which shows as a non-linearizable history; the [`SplitBrain`] check
//!   (`check_split_brain = true`) names the two servers.
//!
//! [`SplitBrain`]: invariants::SplitBrain

mod client;
pub mod invariants;
mod message;
mod server;

use serde::{Deserialize, Serialize};
use sim_core::{Cluster, Duration, Invariant, NodeId, Protocol};

pub use client::PrimaryBackupClient;
pub use message::{Answer, Msg, Snapshot, Timer, Version};
pub use server::Server;

sim_core::planted_bugs! {
    /// A planted bug, off unless a scenario names it.
    pub enum Bug {
        /// The primary acknowledges before its backups hold the change.
        AsyncReplication = "async-replication": "the primary acknowledges before backups have the write: failover loses it",
        /// Backups promote themselves on timeout, with no epoch votes and no fencing.
        NoFencing = "no-fencing": "a backup promotes itself on timeout and the old primary keeps serving: split brain",
    }
}

/// The rare paths primary-backup marks with `ctx.probe`.
pub mod probe {
    /// A server became primary of an epoch after the first.
    pub const FAILOVER: &str = "failover";
    /// A backup refused state from a primary of an older epoch.
    pub const STALE_PRIMARY_FENCED: &str = "stale-primary-fenced";
    /// A primary became a backup.
    pub const PRIMARY_STEPS_DOWN: &str = "primary-steps-down";
    /// A primary stepped down with replies held for replication.
    pub const HELD_REPLIES_DROPPED: &str = "held-replies-dropped";
    /// A retried request was answered from the session table, not applied again.
    pub const SESSION_REPLAYED: &str = "session-replayed";

    /// Every probe, with what reaching it means.
    pub const ALL: &[(&str, &str)] = &[
        (
            FAILOVER,
            "a server became primary of an epoch after the first (async-replication loses writes here)",
        ),
        (
            STALE_PRIMARY_FENCED,
            "a backup refused state from an older epoch's primary (no-fencing accepts it)",
        ),
        (PRIMARY_STEPS_DOWN, "a primary lost its quorum or saw a newer epoch and became a backup"),
        (HELD_REPLIES_DROPPED, "a primary stepped down holding replies: their requests end as info"),
        (SESSION_REPLAYED, "a retried request was answered from the session table, not applied twice"),
    ];
}

/// The primary-backup protocol's settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrimaryBackup {
    /// How often the primary sends its state when idle.
    pub heartbeat: Duration,
    /// Shortest election timeout (drawn uniformly between min and max).
    pub election_min: Duration,
    /// Longest election timeout.
    pub election_max: Duration,
    /// A primary that has not heard from a majority for this long steps down.
    pub step_down_after: Duration,
    /// How long a client waits before resending a request.
    pub retry: Duration,
    /// Longest wait between resends, as the backoff doubles.
    pub retry_max: Duration,
    /// Also run the split-brain check during the run.
    pub check_split_brain: bool,
    /// Planted bugs.
    pub bugs: Vec<Bug>,
}

impl Default for PrimaryBackup {
    fn default() -> PrimaryBackup {
        PrimaryBackup {
            heartbeat: Duration::from_millis(30),
            election_min: Duration::from_millis(150),
            election_max: Duration::from_millis(300),
            step_down_after: Duration::from_millis(300),
            retry: Duration::from_millis(50),
            retry_max: Duration::from_millis(400),
            check_split_brain: false,
            bugs: Vec::new(),
        }
    }
}

impl PrimaryBackup {
    /// The correct protocol with `bugs` planted.
    pub fn with_bugs(bugs: Vec<Bug>) -> PrimaryBackup {
        PrimaryBackup { bugs, ..PrimaryBackup::default() }
    }

    /// Whether `bug` is planted.
    pub fn has(&self, bug: Bug) -> bool {
        self.bugs.contains(&bug)
    }
}

impl Protocol for PrimaryBackup {
    type Msg = Msg;
    type Timer = Timer;
    type Server = Server;
    type Client = PrimaryBackupClient;

    fn server(&self, id: NodeId, cluster: &Cluster) -> Server {
        Server::new(self.clone(), id, cluster.majority())
    }

    fn client(&self, id: NodeId, cluster: &Cluster) -> PrimaryBackupClient {
        // Spread the first guesses so that clients find the primary by redirects.
        let servers = cluster.servers();
        PrimaryBackupClient::new(self.clone(), servers[id.index() % servers.len()])
    }

    fn invariants(&self) -> Vec<Box<dyn Invariant<Self>>> {
        let mut invariants: Vec<Box<dyn Invariant<Self>>> =
            vec![Box::new(invariants::OnePrimaryPerEpoch::default())];
        if self.check_split_brain {
            invariants.push(Box::new(invariants::SplitBrain));
        }
        invariants
    }
}

impl sim_core::Catalogued for PrimaryBackup {
    const NAME: &'static str = "primary-backup";
    const SUMMARY: &'static str =
        "primary-backup replication with heartbeats, majority-elected epochs and fencing";
    type Bug = Bug;
    type Workload = sim_core::RegisterWorkload;
    const FAULTS: &'static [sim_core::NemesisKind] = &sim_core::NemesisKind::ALL;
    const PROBES: &'static [(&'static str, &'static str)] = probe::ALL;

    fn validate(&self, _setup: &sim_core::Setup) -> Result<(), sim_core::Invalid> {
        use sim_core::Invalid;
        Invalid::periods(&[
            ("heartbeat", self.heartbeat),
            ("election_min", self.election_min),
            ("election_max", self.election_max),
            ("step_down_after", self.step_down_after),
            ("retry", self.retry),
            ("retry_max", self.retry_max),
        ])?;
        Invalid::ordered(("election_min", self.election_min), ("election_max", self.election_max))?;
        Invalid::ordered(("retry", self.retry), ("retry_max", self.retry_max))
    }
}
