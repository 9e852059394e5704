//! Raft: a replicated key-value store of compare-and-set registers.
//!
//! # The algorithm
//!
//! Servers keep a log of commands and apply its committed prefix, in order, to
//! a state machine (integer registers plus a session table). Time is divided
//! into *terms*; each term has at most one leader, which alone appends client
//! commands and replicates them to the others.
//!
//! 1. **Election.** A follower that hears nothing from a leader for a random
//!    timeout (drawn from the node's own stream) becomes a candidate: it bumps
//!    its term, votes for itself, persists both, and asks the others for votes.
//!    A server grants at most one vote per term, and only to a candidate whose
//!    log is at least as up to date as its own (higher last term, or the same
//!    last term and at least as long). A majority of votes makes a leader.
//! 2. **Replication.** The leader sends `Append` messages carrying the entries
//!    after what it believes the follower has, with the index and term of the
//!    entry just before them. A follower accepts only if its own log has that
//!    entry, drops any conflicting suffix, appends, *syncs*, and only then acks.
//! 3. **Commit.** The leader commits index N once a majority (itself included,
//!    after its own sync) holds N, *and* the entry at N is from the current
//!    term. Entries from earlier terms are committed only indirectly, by a
//!    later entry of the current term (the Figure 8 rule).
//! 4. **Durability.** Term, vote and log live in [`sim_core::Storage`] and are
//!    synced before the server acts on them: before granting a vote, before
//!    acknowledging entries, before a leader counts itself. A restarted server
//!    rebuilds everything from storage; a torn log entry (a write cut short by
//!    the crash) was never acknowledged, so the log is truncated there.
//! 5. **Clients.** Clients send to the server they believe leads and follow
//!    `NotLeader` hints, rotating and backing off on a timer. Each request has
//!    a per-client sequence number; the state machine remembers the last one
//!    per client and its answer, so a retried write or cas applies at most once.
//! 6. **Reads.** Either through the log like any command ([`ReadMode::Log`]),
//!    or by read-index ([`ReadMode::ReadIndex`]): the leader, once it has
//!    committed its term's opening no-op, notes its commit index, confirms it
//!    is still leader by a heartbeat round acknowledged by a majority, and
//!    answers from its state machine once it has applied up to that index.
//!
//! # The invariants (checked after every server step, see [`invariants`])
//!
//! * **Election safety**: at most one leader per term, over the whole run.
//! * **Log matching**: two logs holding an entry with the same index and term
//!   are identical up to it.
//! * **Leader completeness**: a leader's log holds every entry committed before.
//! * **State-machine safety**: no two servers apply different entries at one index.
//!
//! # Planted bugs ([`RaftBug`])
//!
//! `figure-8` commits earlier-term entries by counting replicas;
//! `vote-without-persist` forgets to persist a granted vote; `stale-read` lets
//! a leader answer reads without confirming it still leads; `ack-before-sync`
//! acknowledges entries before they are durable.

mod client;
mod codec;
pub mod invariants;
mod log;
mod machine;
mod message;
mod server;

use serde::{Deserialize, Serialize};
use sim_core::{Cluster, Duration, Invariant, NodeId, Protocol};

pub use client::RaftClient;
pub use log::Entry;
pub use machine::{Answer, Machine};
pub use message::{Cmd, Msg, Timer};
pub use server::{Role, Server};

/// How the leader serves reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ReadMode {
    /// Reads are log entries, committed and applied like writes.
    Log,
    /// Reads wait for a heartbeat round that confirms leadership, then read locally.
    #[default]
    ReadIndex,
}

sim_core::planted_bugs! {
    /// A planted bug: a named deviation from Raft, off by default.
    pub enum RaftBug {
        /// Commit entries from earlier terms by counting replicas.
        Figure8 = "figure-8": "commits earlier-term entries by counting replicas: committed entries can be overwritten",
        /// Grant votes without persisting `votedFor`.
        VoteWithoutPersist = "vote-without-persist": "grants votes without persisting them: two leaders in one term after a restart",
        /// The leader serves reads locally without confirming leadership.
        StaleRead = "stale-read": "a leader reads locally without confirming leadership: a deposed leader returns stale data",
        /// Acknowledge appended entries before syncing them.
        AckBeforeSync = "ack-before-sync": "acknowledges entries before syncing: acknowledged writes vanish at a crash",
    }
}

/// The rare paths Raft marks with `ctx.probe`: a sweep that reaches none of
/// a bug's paths cannot find that bug.
pub mod probe {
    /// A leader saw a higher term and became a follower.
    pub const LEADER_STEPS_DOWN: &str = "leader-steps-down";
    /// A restarted server granted a vote in the term it recovered from storage.
    pub const VOTE_AFTER_RESTART: &str = "vote-granted-after-restart";
    /// A leader's commit index moved past entries of earlier terms.
    pub const EARLIER_TERM_COMMITTED: &str = "entry-from-earlier-term-committed";
    /// A follower dropped a conflicting suffix of its log.
    pub const LOG_TRUNCATED: &str = "log-truncated";
    /// A leader stepped down with reads waiting for their confirmation.
    pub const READS_ABANDONED: &str = "reads-abandoned-at-step-down";
    /// A restarted server cut a torn entry off its log.
    pub const TORN_LOG_REPAIRED: &str = "torn-log-repaired";
    /// A client's request went unanswered and it tried the next server.
    pub const CLIENT_RETRIED: &str = "client-retried";

    /// Every probe, with what reaching it means.
    pub const ALL: &[(&str, &str)] = &[
        (LEADER_STEPS_DOWN, "a leader saw a higher term and became a follower"),
        (
            VOTE_AFTER_RESTART,
            "a restarted server granted a vote in the term it recovered (vote-without-persist votes twice here)",
        ),
        (
            EARLIER_TERM_COMMITTED,
            "a leader's commit index passed entries of earlier terms (figure-8 commits them by counting replicas)",
        ),
        (LOG_TRUNCATED, "a follower dropped a conflicting suffix of its log"),
        (READS_ABANDONED, "a deposed leader held unconfirmed reads (stale-read would have answered them)"),
        (TORN_LOG_REPAIRED, "a restarted server cut a torn entry off its log"),
        (CLIENT_RETRIED, "a client's request went unanswered and it tried the next server"),
    ];
}

/// Raft's settings, as a scenario file's `[protocol]` table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Raft {
    /// Shortest election timeout.
    pub election_timeout_min: Duration,
    /// Longest election timeout.
    pub election_timeout_max: Duration,
    /// Interval between a leader's heartbeats.
    pub heartbeat: Duration,
    /// How long a client waits for an answer before trying another server.
    pub client_retry: Duration,
    /// Most entries in one `Append` message.
    pub batch_max: usize,
    /// How reads are served.
    pub read_mode: ReadMode,
    /// Planted bugs to switch on.
    pub bugs: Vec<RaftBug>,
    /// Check the invariants as the run goes; off, only the history judges
    /// the run, as a black-box tester such as Jepsen would.
    pub invariants: bool,
}

impl Default for Raft {
    fn default() -> Raft {
        Raft {
            election_timeout_min: Duration::from_millis(150),
            election_timeout_max: Duration::from_millis(300),
            heartbeat: Duration::from_millis(50),
            client_retry: Duration::from_millis(100),
            batch_max: 64,
            read_mode: ReadMode::ReadIndex,
            bugs: Vec::new(),
            invariants: true,
        }
    }
}

impl Raft {
    /// Whether planted bug `bug` is switched on.
    pub fn has(&self, bug: RaftBug) -> bool {
        self.bugs.contains(&bug)
    }

    /// The same settings with `bug` switched on.
    pub fn with_bug(mut self, bug: RaftBug) -> Raft {
        self.bugs.push(bug);
        self
    }
}

impl Protocol for Raft {
    type Msg = Msg;
    type Timer = Timer;
    type Server = Server;
    type Client = RaftClient;

    fn server(&self, id: NodeId, cluster: &Cluster) -> Server {
        Server::new(self.clone(), id, cluster)
    }

    fn client(&self, _id: NodeId, cluster: &Cluster) -> RaftClient {
        RaftClient::new(self, cluster)
    }

    fn invariants(&self) -> Vec<Box<dyn Invariant<Raft>>> {
        if self.invariants { invariants::all() } else { Vec::new() }
    }
}

impl sim_core::Catalogued for Raft {
    const NAME: &'static str = "raft";
    const SUMMARY: &'static str = "Raft consensus replicating a key-value store of cas registers";
    type Bug = RaftBug;
    type Workload = sim_core::RegisterWorkload;
    const FAULTS: &'static [sim_core::NemesisKind] = &sim_core::NemesisKind::ALL;
    const PROBES: &'static [(&'static str, &'static str)] = probe::ALL;

    fn validate(&self, _setup: &sim_core::Setup) -> Result<(), sim_core::Invalid> {
        use sim_core::Invalid;
        Invalid::periods(&[
            ("election_timeout_min", self.election_timeout_min),
            ("election_timeout_max", self.election_timeout_max),
            ("heartbeat", self.heartbeat),
            ("client_retry", self.client_retry),
        ])?;
        Invalid::ordered(
            ("election_timeout_min", self.election_timeout_min),
            ("election_timeout_max", self.election_timeout_max),
        )
    }
}
