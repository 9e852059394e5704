//! What commit servers and clients say to each other, and the timers they set.

use serde::{Deserialize, Serialize};
use sim_core::NodeId;

/// A transaction's name: the client that began it and that client's counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TxnId {
    /// The client node.
    pub client: u32,
    /// The client's transaction counter.
    pub seq: u64,
}

impl std::fmt::Display for TxnId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "t{}.{}", self.client, self.seq)
    }
}

/// What a client asks a coordinator to do atomically.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Request {
    /// Move `amount` from account `from` to account `to`.
    Transfer {
        /// The debited account.
        from: u64,
        /// The credited account.
        to: u64,
        /// How much.
        amount: i64,
    },
    /// Read every account `0..accounts`.
    ReadAll {
        /// How many accounts there are.
        accounts: u64,
    },
}

/// One participant's share of a transaction: balance changes and reads.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Work {
    /// Changes to apply at commit, as (account, delta).
    pub deltas: Vec<(u64, i64)>,
    /// Accounts to read at prepare.
    pub reads: Vec<u64>,
}

impl Work {
    /// Every account the work touches (and so locks), sorted, without repeats.
    pub fn accounts(&self) -> Vec<u64> {
        let mut all: Vec<u64> =
            self.deltas.iter().map(|&(a, _)| a).chain(self.reads.iter().copied()).collect();
        all.sort_unstable();
        all.dedup();
        all
    }

    /// Whether the work changes nothing.
    pub fn is_read_only(&self) -> bool {
        self.deltas.is_empty()
    }
}

/// A participant's vote (in Paxos Commit, the value of its consensus instance).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Vote {
    /// Prepared: it holds the locks and has logged its work.
    Prepared,
    /// Aborted: it refused.
    Aborted,
}

/// A transaction's outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Decision {
    /// Apply everywhere.
    Commit,
    /// Apply nowhere.
    Abort,
}

impl std::fmt::Display for Decision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Decision::Commit => "commit",
            Decision::Abort => "abort",
        })
    }
}

/// Balances a participant read, as (account, balance change since the start).
pub type Reads = Vec<(u64, i64)>;

/// Messages between clients, coordinators, participants and acceptors.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Msg {
    /// Client to coordinator: run this transaction (resent until answered).
    Begin {
        /// The transaction.
        txn: TxnId,
        /// What it does.
        request: Request,
    },
    /// Coordinator to client: the outcome, with the reads if it committed.
    Reply {
        /// The transaction.
        txn: TxnId,
        /// The outcome.
        decision: Decision,
        /// Every participant's reads, if it committed.
        reads: Reads,
    },
    /// Coordinator to participant: prepare your share.
    Prepare {
        /// The transaction.
        txn: TxnId,
        /// This participant's share.
        work: Work,
        /// Every participant of the transaction.
        participants: Vec<NodeId>,
    },
    /// Participant to coordinator: its vote, and its reads if prepared.
    Voted {
        /// The transaction.
        txn: TxnId,
        /// The vote.
        vote: Vote,
        /// Its reads.
        reads: Reads,
    },
    /// Anyone who knows to a participant or coordinator: the outcome.
    Decide {
        /// The transaction.
        txn: TxnId,
        /// The outcome.
        decision: Decision,
    },
    /// Participant to coordinator: the outcome is applied; stop resending it.
    Done {
        /// The transaction.
        txn: TxnId,
    },
    /// Prepared participant to coordinator (2PC): what happened to `txn`?
    Status {
        /// The transaction.
        txn: TxnId,
    },
    /// Prepared participant to a coordinator node (Paxos Commit): finish `txn`.
    Recover {
        /// The transaction.
        txn: TxnId,
        /// Its participants.
        participants: Vec<NodeId>,
    },
    /// Paxos phase 1a: promise to ignore ballots below `ballot` for `txn`.
    Promise {
        /// The transaction.
        txn: TxnId,
        /// The recovery leader's ballot.
        ballot: u64,
    },
    /// Paxos phase 1b: promised; here is everything accepted for `txn`.
    Promised {
        /// The transaction.
        txn: TxnId,
        /// The ballot promised.
        ballot: u64,
        /// Accepted values, as (participant, ballot, value).
        accepted: Vec<(NodeId, u64, Vote)>,
    },
    /// Paxos phase 2a: accept `value` for participant `rm`'s instance.
    Accept {
        /// The transaction.
        txn: TxnId,
        /// Whose instance.
        rm: NodeId,
        /// The ballot (0: the participant's own vote).
        ballot: u64,
        /// The value.
        value: Vote,
        /// Where the acceptor reports.
        leader: NodeId,
    },
    /// Paxos phase 2b: accepted.
    Accepted {
        /// The transaction.
        txn: TxnId,
        /// Whose instance.
        rm: NodeId,
        /// The ballot.
        ballot: u64,
        /// The value.
        value: Vote,
    },
    /// An acceptor refuses a ballot below what it promised.
    Nack {
        /// The transaction.
        txn: TxnId,
        /// The ballot it promised.
        promised: u64,
    },
}

/// What a timer brings back.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Timer {
    /// A server's periodic look at unfinished work.
    Tick,
    /// (decide-before-log) the deferred write of decisions already sent.
    Flush,
    /// A client resends its `Begin`.
    Resend {
        /// The transaction.
        txn: TxnId,
    },
    /// A client retries after an abort, as a new transaction.
    Retry {
        /// The aborted transaction.
        txn: TxnId,
    },
}
