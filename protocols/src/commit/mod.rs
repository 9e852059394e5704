//! Atomic commit over sharded bank accounts: two-phase commit, which blocks
//! when its coordinator fails, and Paxos Commit, which does not.
//!
//! # Layout
//!
//! The first `coordinators` servers (default 3: n0, n1, n2) coordinate; the
//! rest are *participants*, shards holding the bank's accounts (account `a`
//! lives on shard `a % shards`). Clients send every transaction to one
//! coordinator, n0 at first, and move to the next coordinator only when an
//! operation times out. A transaction is a `transfer` (two accounts, usually
//! on two shards) or a `read-all` (every account, on every shard, as a
//! read-only transaction through the same machinery). Participants lock the
//! accounts a transaction touches from prepare until they learn its outcome;
//! a prepare that meets a lock is refused (no waiting, so no deadlock), and
//! the client retries the transfer as a new transaction after a short pause.
//! Balances are kept as changes from the initial balance, so servers need not
//! know it; the client adds it back for `read-all`.
//!
//! # Two-phase commit ([`TwoPc`])
//!
//! 1. The coordinator sends `Prepare` with each participant's share.
//! 2. A participant that can lock the accounts logs a prepare record (work,
//!    participants, coordinator), *syncs*, and votes yes with its reads;
//!    otherwise it logs an abort and votes no.
//! 3. All yes: the coordinator logs the commit decision, *syncs*, and only then
//!    sends `Decide(Commit)` and answers the client. Any no, or no answer
//!    within `vote_timeout`: it decides abort, and logs and syncs that too
//!    before anyone hears of it (read-only transactions excepted).
//! 4. A participant applies the decision, logs its outcome, syncs, releases
//!    the locks and acknowledges with `Done`; the coordinator resends the
//!    decision until every participant has.
//! 5. Recovery: a restarted participant reloads its prepare records and
//!    re-takes their locks; every prepared participant asks the coordinator
//!    (`Status`) every `ask_after` until it learns the outcome. A restarted
//!    coordinator reloads its logged decisions and resends unfinished
//!    commits; asked about a transaction it has no record of, it presumes
//!    abort, and logs the abort before answering. Since every decision
//!    anyone heard of is logged, a transaction with no record was never
//!    decided, and a resent `Begin` may safely run it again; without the
//!    logged presumed abort, that rerun could commit what a participant had
//!    already aborted.
//!
//! A prepared participant may not decide alone: the coordinator may have
//! committed. So while the coordinator is down, its prepared participants
//! keep their locks and every transaction touching those accounts fails —
//! the textbook blocking. Read-only transactions log nothing at the
//! coordinator (commit and abort release the same locks).
//!
//! # Paxos Commit ([`PaxosCommit`], Gray & Lamport 2006)
//!
//! Each participant's vote is the value of its own consensus instance, decided
//! by the coordinator nodes as 2F+1 acceptors. A participant sends its vote as
//! a ballot-0 `Accept` to every acceptor (it alone may propose at ballot 0);
//! the acceptors log it, sync, and report `Accepted` to the coordinator, which
//! commits once every instance has chosen `Prepared` (a majority accepted it)
//! and aborts once one has chosen `Aborted`. Nothing is logged at the
//! coordinator. When a participant stays prepared too long it asks another
//! coordinator node to `Recover`: that node runs phase 1 with a higher ballot
//! on every instance of the transaction, adopts any value already accepted
//! and proposes `Aborted` for the rest, and announces the outcome once phase 2
//! is accepted. Any majority of acceptors can so finish a transaction whose
//! coordinator is gone: Paxos Commit does not block.
//!
//! # Invariants (judged at the end of a run, see [`checks`])
//!
//! * **Atomicity**: no transaction is committed at one participant and
//!   aborted, or never applied, at another.
//! * **No participant stays prepared forever**: once the faults are repaired
//!   (and the coordinator is back), every prepared participant learns the
//!   outcome within a second.
//! * **Conservation**: every successful `read-all` sums to the initial total,
//!   and so do the balances at the end.
//!
//! # Planted bugs ([`CommitBug`])
//!
//! `decide-before-log` (2PC) sends the commit decision and writes it only at the
//! next group commit: a coordinator crash in between forgets a commit some
//! participants applied, and it then answers abort to the rest.
//! `forget-prepare` does not log the prepare record: a participant restarted
//! while prepared forgets its yes vote and its locks, and never applies the
//! commit it voted for.

mod acceptor;
pub mod checks;
mod client;
mod coordinator;
mod layout;
mod message;
mod participant;
pub mod probe;
mod recovery;
mod server;
mod tally;
mod workload;

use serde::{Deserialize, Serialize};
use sim_core::{Cluster, ClusterView, Duration, NodeId, Protocol, RunReport};

pub use client::BankClient;
pub use layout::Layout;
pub use message::{Decision, Msg, Reads, Request, Timer, TxnId, Vote, Work};
pub use participant::Participant;
pub use server::Server;
pub use workload::BankWorkload;

use sim_core::{Catalogued, Invalid, Judgement, ModelKind, WorkloadSpec};

sim_core::planted_bugs! {
    /// A planted bug: a named deviation from the protocol, off by default.
    pub enum CommitBug {
        /// (2PC) The coordinator sends the commit decision before logging it.
        DecideBeforeLog = "decide-before-log": "(2pc only) the coordinator sends its commit before logging it: after a crash it answers abort to the rest",
        /// A participant does not persist its prepare record.
        ForgetPrepare = "forget-prepare": "a participant does not log its prepare: restarted, it forgets its yes vote and loses the transfer",
    }
}

/// Settings shared by both commit protocols, as a scenario's `[protocol]` table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// How many servers (the first ones) coordinate; the rest are shards.
    pub coordinators: usize,
    /// Period of each server's look at unfinished work (resends).
    pub tick: Duration,
    /// How long a coordinator waits for votes before aborting (2PC) or
    /// recovering (Paxos Commit).
    pub vote_timeout: Duration,
    /// How long a prepared participant waits before asking for the outcome.
    pub ask_after: Duration,
    /// How long a client waits before resending its request.
    pub client_resend: Duration,
    /// (decide-before-log) How long a decision stays unlogged after it was sent.
    pub flush_delay: Duration,
    /// Planted bugs to switch on.
    pub bugs: Vec<CommitBug>,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            coordinators: 3,
            tick: Duration::from_millis(50),
            vote_timeout: Duration::from_millis(200),
            ask_after: Duration::from_millis(100),
            client_resend: Duration::from_millis(100),
            flush_delay: Duration::from_millis(50),
            bugs: Vec::new(),
        }
    }
}

impl Settings {
    /// Whether planted bug `bug` is switched on.
    pub fn has(&self, bug: CommitBug) -> bool {
        self.bugs.contains(&bug)
    }
}

/// What both commit protocols share: messages, timers, settings; Paxos or not.
pub trait Variant: Protocol<Msg = Msg, Timer = Timer> + Clone {
    /// Whether the outcome is decided by Paxos among the coordinator nodes.
    const PAXOS: bool;
    /// The settings.
    fn settings(&self) -> &Settings;
}

/// Two-phase commit with a logged decision and presumed abort.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TwoPc(pub Settings);

/// Paxos Commit: the votes are decided by Paxos among the coordinator nodes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Settings")]
pub struct PaxosCommit(pub Settings);

impl TryFrom<Settings> for PaxosCommit {
    type Error = String;
    fn try_from(settings: Settings) -> Result<PaxosCommit, String> {
        if settings.has(CommitBug::DecideBeforeLog) {
            return Err("bug `decide-before-log` does not apply: Paxos Commit logs no decision".into());
        }
        Ok(PaxosCommit(settings))
    }
}

impl TwoPc {
    /// The same settings with `bug` switched on.
    pub fn with_bug(mut self, bug: CommitBug) -> TwoPc {
        self.0.bugs.push(bug);
        self
    }
}

impl Variant for TwoPc {
    const PAXOS: bool = false;
    fn settings(&self) -> &Settings {
        &self.0
    }
}

impl Variant for PaxosCommit {
    const PAXOS: bool = true;
    fn settings(&self) -> &Settings {
        &self.0
    }
}

impl Protocol for TwoPc {
    type Msg = Msg;
    type Timer = Timer;
    type Server = Server<TwoPc>;
    type Client = BankClient<TwoPc>;

    fn server(&self, id: NodeId, cluster: &Cluster) -> Server<TwoPc> {
        Server::new(self.clone(), id, cluster)
    }

    fn client(&self, id: NodeId, cluster: &Cluster) -> BankClient<TwoPc> {
        BankClient::new(self, id, cluster)
    }
}

impl Protocol for PaxosCommit {
    type Msg = Msg;
    type Timer = Timer;
    type Server = Server<PaxosCommit>;
    type Client = BankClient<PaxosCommit>;

    fn server(&self, id: NodeId, cluster: &Cluster) -> Server<PaxosCommit> {
        Server::new(self.clone(), id, cluster)
    }

    fn client(&self, id: NodeId, cluster: &Cluster) -> BankClient<PaxosCommit> {
        BankClient::new(self, id, cluster)
    }
}

impl Catalogued for TwoPc {
    const NAME: &'static str = "2pc";
    const SUMMARY: &'static str =
        "two-phase commit of bank transfers over sharded accounts: blocks while its coordinator is down";
    type Bug = CommitBug;
    type Workload = BankWorkload;
    const MODEL: Option<ModelKind> = None;
    const PROBES: &'static [(&'static str, &'static str)] = probe::TWO_PC;

    fn validate(&self, setup: &sim_core::Setup) -> Result<(), Invalid> {
        self.settings().validate(setup)
    }

    fn judge(&self, report: &RunReport, servers: &ClusterView<'_, Self>) -> Vec<Judgement> {
        checks::judge(report, servers)
    }
}

impl Catalogued for PaxosCommit {
    const NAME: &'static str = "paxos-commit";
    const SUMMARY: &'static str = "Paxos Commit of bank transfers: votes decided by 2F+1 acceptors, available while a coordinator is down";
    type Bug = CommitBug;
    type Workload = BankWorkload;
    const MODEL: Option<ModelKind> = None;
    const PROBES: &'static [(&'static str, &'static str)] = probe::PAXOS_COMMIT;

    fn validate(&self, setup: &sim_core::Setup) -> Result<(), Invalid> {
        self.settings().validate(setup)
    }

    fn judge(&self, report: &RunReport, servers: &ClusterView<'_, Self>) -> Vec<Judgement> {
        checks::judge(report, servers)
    }
}

impl Settings {
    /// The timers are real periods, and there are coordinators and shards.
    fn validate(&self, setup: &sim_core::Setup) -> Result<(), Invalid> {
        Invalid::periods(&[
            ("tick", self.tick),
            ("vote_timeout", self.vote_timeout),
            ("ask_after", self.ask_after),
            ("client_resend", self.client_resend),
            ("flush_delay", self.flush_delay),
        ])?;
        if self.coordinators == 0 || self.coordinators >= setup.servers {
            return Err(Invalid::new(
                "protocol.coordinators",
                format!(
                    "{} coordinators among {} servers: the first servers coordinate, the rest hold accounts, and both are needed",
                    self.coordinators, setup.servers
                ),
            ));
        }
        Ok(())
    }
}

impl WorkloadSpec for BankWorkload {
    fn validate(&self) -> Result<(), Invalid> {
        BankWorkload::validate(self).map_err(Invalid::quoting)
    }
}
