//! A replicated, partitioned log with consumer groups, after Kafka.
//!
//! # The algorithm
//!
//! Server 0 is the **controller**; servers 1.. are **brokers**, each holding a
//! replica of every partition. Clients produce (`send`) and consume (`poll`).
//!
//! 1. **Controller.** It owns, durably (written and synced before anyone
//!    hears of it), each partition's leader, *leader epoch* and *in-sync
//!    replica set* (ISR), plus the consumer group's generation and committed
//!    offsets. Brokers heartbeat it; a broker silent for `session` is dead.
//!    Each broker counts its starts durably (its *incarnation*, Kafka's broker
//!    epoch) and heartbeats with it; the controller stamps its metadata with
//!    the incarnations it knows, and a broker ignores metadata stamped with
//!    another, so word sent before a crash cannot make the restarted broker
//!    lead a term it has no state for. A partition whose leader is dead, or
//!    restarted (a higher incarnation), gets a new leader chosen from the live
//!    ISR, a bumped epoch, and an ISR cut to its live members. If no ISR member is alive the partition stays offline
//!    and keeps its last ISR, so that one of them, which holds every committed
//!    record, leads it next. The controller is one node with durable state, as
//!    Kafka's was with ZooKeeper: while it is down no failover happens (the
//!    log is unavailable, never wrong); restarted, it reloads its decisions,
//!    grants every broker a fresh session and starts a new group generation.
//!    Consensus for the controller (Raft, as KRaft) would remove that window;
//!    it was left out to keep one concept per module.
//! 2. **Replication.** A follower fetches from its leader with its log end and
//!    the epoch of its last record. The leader answers only fetches of its own
//!    epoch; if the follower's last record does not match its own at that
//!    offset, it says `Diverged` and the follower drops its suffix (synced) and
//!    fetches again, one record back each time (divergent tails are short:
//!    uncommitted records of a deposed leader). Followers append, sync, then
//!    fetch on; the offset of the next fetch is the acknowledgement.
//! 3. **High watermark.** The leader's watermark is the least log end over the
//!    ISR (widened by a pending expansion, as KIP-497's maximal ISR), never
//!    moving back. Consumers read only below it, and `acks = "all"` sends are
//!    answered once it passes them. Records below it are on every ISR member.
//! 4. **ISR changes** go through the controller: the leader proposes dropping a
//!    follower not caught up for `lag_max`, or adding one that reached the
//!    watermark, against the state version it knows; it uses the change only
//!    once the controller confirms. A deposed leader's proposals are refused.
//! 5. **Producers** send to the leader they believe in, retry every
//!    `retry_after` (refreshing metadata) up to `retries` times, and report
//!    `fail` only if no attempt was ever sent. `acks = "leader"` is answered
//!    after the leader's own sync; `"all"` at the watermark. In idempotent mode
//!    each record carries `(producer, seq)` and a leader finds a retry already
//!    in its log and answers with its offset instead of appending it again.
//! 6. **Consumers** join the group at the coordinator (the controller), which
//!    gives partition `p` to member `p mod n` in member order and bumps the
//!    generation at each join or expiry (a member silent for `member_session`).
//!    A consumer fetches committed records from its partition's leader,
//!    processes the batch (`process_time`), delivers it, and only then commits
//!    the next offset, which the coordinator accepts from the current owner
//!    only and never backwards. A consumer that crashes mid-batch (the
//!    workload's `"crash"` poll) or whose session lapsed drops the batch and
//!    rejoins as a new member; the next owner starts at the committed offset.
//!    A poll waits `poll_timeout` for its batch; one that comes later is kept
//!    for the next poll of that partition and offset, so a network slower
//!    than the timeout still delivers.
//!
//! # What it guarantees, and the invariant it keeps
//!
//! With `acks = "all"`, every acknowledged message is delivered; each offset
//! holds one message for good; with idempotence each message holds one
//! offset. Consumers may see an offset again after a rebalance (redelivery,
//! removed by offset). So the judge checks exactly-once (idempotent) or
//! at-least-once with [`sim_core::check::delivery`], once consumers drained the log.
//! After every step, [`invariants::CommittedPrefix`]: each live ISR member
//! holds its leader's committed records.
//!
//! # Planted bugs ([`LogBug`])
//!
//! `acks-leader-only` answers sends before replication whatever `acks` says:
//! a failover loses acknowledged messages. `unclean-election` lets the
//! controller pick a live replica outside the ISR when none in it is alive:
//! it lacks acknowledged records, which vanish. `commit-before-process` commits
//! a batch's offset before processing it: a consumer crash loses the batch.
//! `retry-duplicates` makes each retry a new record: a retried send whose
//! first attempt landed sits in the log twice.

mod broker;
mod client;
mod controller;
pub mod invariants;
mod message;
pub mod probe;
mod server;
mod workload;

pub use broker::{Broker, Replica};
pub use client::LogClient;
pub use controller::{Controller, Group};
pub use message::{Acks, Msg, PartitionState, Record, Timer};
pub use server::Server;
pub use workload::LogWorkload;

use serde::{Deserialize, Serialize};
use sim_core::check::delivery::Guarantee;
use sim_core::{
    Cluster, ClusterView, Duration, Invalid, Invariant, ModelKind, NodeId, Protocol, RunReport, WorkloadSpec,
};

use crate::{Catalogued, Judgement};

sim_core::planted_bugs! {
    /// The log's planted bugs.
    pub enum LogBug {
        /// Leaders acknowledge before replication, whatever `acks` asks.
        AcksLeaderOnly = "acks-leader-only": "leaders acknowledge before replicating: a failover loses acknowledged messages",
        /// The controller elects an out-of-sync replica when no in-sync one is alive.
        UncleanElection = "unclean-election": "an out-of-sync replica may lead: acknowledged messages it lacks vanish",
        /// Consumers commit a batch's offset before processing it.
        CommitBeforeProcess = "commit-before-process": "consumers commit before processing: a consumer crash loses its batch",
        /// Producers make every retry a new record.
        RetryDuplicates = "retry-duplicates": "every retry is a new record: a retried send lands twice",
    }
}

/// The log's settings, as a scenario's `[protocol]` table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Log {
    /// Partitions of the one topic (the workload's `partitions` must match).
    pub partitions: u32,
    /// When sends are acknowledged.
    pub acks: Acks,
    /// Producers tag records so leaders drop retries they already hold.
    pub idempotent: bool,
    /// Period of heartbeats, fetches and the controller's checks.
    pub tick: Duration,
    /// A broker silent this long is dead to the controller.
    pub session: Duration,
    /// A follower not caught up for this long leaves the ISR.
    pub lag_max: Duration,
    /// A follower re-sends an unanswered fetch after this long.
    pub fetch_timeout: Duration,
    /// Most records per fetch.
    pub fetch_max: usize,
    /// A producer retries an unanswered send after this long.
    pub retry_after: Duration,
    /// Retries before a producer gives up (`info`, or `fail` if never sent).
    pub retries: u32,
    /// Consumer heartbeat period.
    pub heartbeat: Duration,
    /// A member silent this long leaves the group.
    pub member_session: Duration,
    /// A consumer gives up on an unanswered fetch after this long.
    pub poll_timeout: Duration,
    /// How long a consumer spends processing a batch.
    pub process_time: Duration,
    /// Planted bugs to switch on.
    pub bugs: Vec<LogBug>,
}

impl Default for Log {
    fn default() -> Log {
        Log {
            partitions: 2,
            acks: Acks::All,
            idempotent: true,
            tick: Duration::from_millis(10),
            session: Duration::from_millis(100),
            lag_max: Duration::from_millis(60),
            fetch_timeout: Duration::from_millis(30),
            fetch_max: 32,
            retry_after: Duration::from_millis(40),
            retries: 8,
            heartbeat: Duration::from_millis(20),
            member_session: Duration::from_millis(120),
            poll_timeout: Duration::from_millis(30),
            process_time: Duration::from_millis(2),
            bugs: Vec::new(),
        }
    }
}

impl Log {
    /// What the settings promise: exactly-once with idempotent producers,
    /// at-least-once without.
    pub fn guarantee(&self) -> Guarantee {
        if self.idempotent { Guarantee::ExactlyOnce } else { Guarantee::AtLeastOnce }
    }
}

impl Protocol for Log {
    type Msg = Msg;
    type Timer = Timer;
    type Server = Server;
    type Client = LogClient;

    fn server(&self, id: NodeId, cluster: &Cluster) -> Server {
        assert!(
            cluster.servers().len() >= 2,
            "servers={} the log needs a controller and a broker",
            cluster.servers().len()
        );
        if id == cluster.servers()[0] {
            Server::Controller(Controller::new(self.clone()))
        } else {
            Server::Broker(Broker::new(self.clone()))
        }
    }

    fn client(&self, _id: NodeId, _cluster: &Cluster) -> LogClient {
        LogClient::new(self.clone())
    }

    fn invariants(&self) -> Vec<Box<dyn Invariant<Self>>> {
        vec![Box::new(invariants::CommittedPrefix)]
    }
}

impl Catalogued for Log {
    const NAME: &'static str = "log";
    const SUMMARY: &'static str =
        "a replicated partitioned log with ISR, acks, idempotent producers and consumer groups (after Kafka)";
    type Bug = LogBug;
    type Workload = LogWorkload;
    const MODEL: Option<ModelKind> = None;
    const PROBES: &'static [(&'static str, &'static str)] = probe::ALL;

    fn validate(&self, _setup: &sim_core::Setup) -> Result<(), Invalid> {
        Invalid::periods(&[
            ("tick", self.tick),
            ("session", self.session),
            ("lag_max", self.lag_max),
            ("fetch_timeout", self.fetch_timeout),
            ("retry_after", self.retry_after),
            ("heartbeat", self.heartbeat),
            ("member_session", self.member_session),
            ("poll_timeout", self.poll_timeout),
        ])
    }

    fn judge(&self, report: &RunReport, servers: &ClusterView<'_, Self>) -> Vec<Judgement> {
        invariants::judge(self, report, servers)
    }
}

impl WorkloadSpec for LogWorkload {
    fn validate(&self) -> Result<(), Invalid> {
        LogWorkload::validate(self).map_err(Invalid::quoting)
    }
}
