//! A shard: holds accounts, locks them for prepared transactions, logs its
//! votes and outcomes, and asks for the outcome while it is prepared.
//!
//! Durable records: `bal/<account>` (balance change since the start),
//! `prep/<txn>` (a prepare: work, participants, coordinator; deleted at the
//! outcome) and `out/<txn>` (the outcome). Every yes vote, abort vote and
//! applied outcome is synced before anyone hears of it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sim_core::{Context, NodeId, Time};

use super::layout::Layout;
use super::message::{Decision, Msg, Reads, TxnId, Vote, Work};
use super::{Variant, probe};

/// A transaction this shard voted yes for and whose outcome it awaits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prepared {
    /// The transaction.
    pub txn: TxnId,
    /// This shard's share.
    pub work: Work,
    /// Every participant.
    pub participants: Vec<NodeId>,
    /// The coordinator that asked.
    pub coordinator: NodeId,
    /// When this incarnation of the shard learned it was prepared.
    #[serde(skip)]
    pub since: Time,
    /// When it last asked for the outcome.
    #[serde(skip)]
    asked_at: Time,
    /// How many times it asked.
    #[serde(skip)]
    asked: usize,
}

/// A transaction's outcome as this shard applied it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Applied {
    /// The transaction.
    pub txn: TxnId,
    /// The outcome.
    pub decision: Decision,
    /// Every participant, as the prepare named them (empty if it never prepared).
    pub participants: Vec<NodeId>,
    /// Whether its work here changed nothing (commit and abort then look alike).
    pub read_only: bool,
    /// When it was applied (the start of this incarnation, if loaded).
    #[serde(skip)]
    pub at: Time,
}

/// A shard's state.
#[derive(Clone, Debug, Default)]
pub struct Participant {
    balances: BTreeMap<u64, i64>,
    locks: BTreeMap<u64, TxnId>,
    prepared: BTreeMap<TxnId, Prepared>,
    outcomes: BTreeMap<TxnId, Applied>,
    forget_prepare: bool,
}

fn key(prefix: &str, txn: TxnId) -> String {
    format!("{prefix}/{:06}.{:09}", txn.client, txn.seq)
}

impl Participant {
    /// Rebuilds a shard from its storage: balances, outcomes, prepares and their locks.
    pub fn recover<V: Variant>(ctx: &mut Context<'_, V>, forget_prepare: bool) -> Participant {
        let mut p = Participant { forget_prepare, ..Participant::default() };
        let now = ctx.now();
        let storage = ctx.storage();
        for (name, delta) in storage.scan::<i64>("bal/").unwrap_or_default() {
            if let Ok(account) = name["bal/".len()..].parse() {
                p.balances.insert(account, delta);
            }
        }
        for (_, mut applied) in storage.scan::<Applied>("out/").unwrap_or_default() {
            applied.at = now;
            p.outcomes.insert(applied.txn, applied);
        }
        for (_, mut prepared) in storage.scan::<Prepared>("prep/").unwrap_or_default() {
            prepared.since = now;
            prepared.asked_at = now;
            for account in prepared.work.accounts() {
                p.locks.insert(account, prepared.txn);
            }
            p.prepared.insert(prepared.txn, prepared);
        }
        if !p.prepared.is_empty() {
            ctx.probe(probe::PARTICIPANT_RECOVERS_PREPARED);
        }
        p
    }

    /// Balance changes since the start, by account.
    pub fn balances(&self) -> &BTreeMap<u64, i64> {
        &self.balances
    }

    /// Transactions prepared and awaiting their outcome.
    pub fn prepared(&self) -> &BTreeMap<TxnId, Prepared> {
        &self.prepared
    }

    /// Outcomes applied (or refused), by transaction.
    pub fn outcomes(&self) -> &BTreeMap<TxnId, Applied> {
        &self.outcomes
    }

    /// Handles a `Prepare` from `coordinator`.
    pub fn on_prepare<V: Variant>(
        &mut self,
        ctx: &mut Context<'_, V>,
        layout: &Layout,
        coordinator: NodeId,
        txn: TxnId,
        work: Work,
        participants: Vec<NodeId>,
    ) {
        if let Some(applied) = self.outcomes.get(&txn) {
            ctx.probe(probe::LATE_PREPARE_REFUSED);
            ctx.send(coordinator, Msg::Decide { txn, decision: applied.decision });
            return;
        }
        if self.prepared.contains_key(&txn) {
            self.vote(ctx, layout, coordinator, txn, Vote::Prepared);
            return;
        }
        if work.accounts().iter().any(|a| self.locks.contains_key(a)) {
            let read_only = work.is_read_only();
            let applied = Applied { txn, decision: Decision::Abort, participants, read_only, at: ctx.now() };
            ctx.storage().put(&key("out", txn), &applied);
            ctx.storage().sync();
            self.outcomes.insert(txn, applied);
            self.vote(ctx, layout, coordinator, txn, Vote::Aborted);
            return;
        }
        for account in work.accounts() {
            self.locks.insert(account, txn);
        }
        let now = ctx.now();
        let prepared = Prepared { txn, work, participants, coordinator, since: now, asked_at: now, asked: 0 };
        if !self.forget_prepare {
            ctx.storage().put(&key("prep", txn), &prepared);
            ctx.storage().sync();
        }
        self.prepared.insert(txn, prepared);
        self.vote(ctx, layout, coordinator, txn, Vote::Prepared);
    }

    /// Sends `vote` to the coordinator and, in Paxos Commit, to every acceptor
    /// as this shard's ballot-0 proposal.
    fn vote<V: Variant>(
        &self,
        ctx: &mut Context<'_, V>,
        layout: &Layout,
        coordinator: NodeId,
        txn: TxnId,
        vote: Vote,
    ) {
        let reads: Reads = match (vote, self.prepared.get(&txn)) {
            (Vote::Prepared, Some(p)) => p.work.reads.iter().map(|&a| (a, self.balance(a))).collect(),
            _ => Vec::new(),
        };
        ctx.send(coordinator, Msg::Voted { txn, vote, reads });
        if V::PAXOS {
            let rm = ctx.id();
            for &acceptor in &layout.coordinators {
                ctx.send(acceptor, Msg::Accept { txn, rm, ballot: 0, value: vote, leader: coordinator });
            }
        }
    }

    fn balance(&self, account: u64) -> i64 {
        self.balances.get(&account).copied().unwrap_or(0)
    }

    /// Handles a `Decide` from `from`: applies it if prepared, and acknowledges.
    pub fn on_decide<V: Variant>(
        &mut self,
        ctx: &mut Context<'_, V>,
        from: NodeId,
        txn: TxnId,
        decision: Decision,
    ) {
        if let Some(prepared) = self.prepared.remove(&txn) {
            for account in prepared.work.accounts() {
                if self.locks.get(&account) == Some(&txn) {
                    self.locks.remove(&account);
                }
            }
            if decision == Decision::Commit {
                for &(account, delta) in &prepared.work.deltas {
                    let balance = self.balance(account) + delta;
                    self.balances.insert(account, balance);
                    ctx.storage().put(&format!("bal/{account}"), &balance);
                }
            }
            let read_only = prepared.work.is_read_only();
            let applied =
                Applied { txn, decision, participants: prepared.participants, read_only, at: ctx.now() };
            ctx.storage().delete(&key("prep", txn));
            ctx.storage().put(&key("out", txn), &applied);
            ctx.storage().sync();
            self.outcomes.insert(txn, applied);
        } else if decision == Decision::Abort && !self.outcomes.contains_key(&txn) {
            // Not prepared here (the prepare may still be on its way): remember
            // the abort so a late prepare is refused. Losing it is harmless.
            let at = ctx.now();
            self.outcomes
                .insert(txn, Applied { txn, decision, participants: Vec::new(), read_only: false, at });
        }
        ctx.send(from, Msg::Done { txn });
    }

    /// Asks about every transaction prepared for longer than `after`: the
    /// coordinator in 2PC, the next coordinator node in Paxos Commit.
    pub fn on_tick<V: Variant>(
        &mut self,
        ctx: &mut Context<'_, V>,
        layout: &Layout,
        after: sim_core::Duration,
    ) {
        let now = ctx.now();
        for p in self.prepared.values_mut() {
            if now.since(p.asked_at) < after {
                continue;
            }
            ctx.probe(probe::PARTICIPANT_IN_DOUBT);
            p.asked_at = now;
            p.asked += 1;
            if V::PAXOS {
                let home = layout.coordinators.iter().position(|&c| c == p.coordinator).unwrap_or(0);
                let to = layout.coordinators[(home + p.asked) % layout.coordinators.len()];
                ctx.send(to, Msg::Recover { txn: p.txn, participants: p.participants.clone() });
            } else {
                ctx.send(p.coordinator, Msg::Status { txn: p.txn });
            }
        }
    }
}
