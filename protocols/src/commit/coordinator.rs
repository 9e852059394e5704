//! The coordinator: runs the transactions clients send it.
//!
//! In 2PC it collects the votes and decides, logging a commit (`dec/<txn>`)
//! and syncing before anyone hears of it; a finished commit gets an `end/<txn>`
//! marker so a restart resends only unfinished ones. An abort that anyone
//! hears of is logged and synced too (`abt/<txn>`), including a presumed
//! abort given by a restarted coordinator that has no record of the
//! transaction: otherwise a late or resent `Begin` could run the
//! transaction again and commit it after some participant applied the
//! abort. With every answered decision logged, a transaction this
//! coordinator has no record of was never decided, and running it again is
//! safe. In Paxos Commit it logs
//! nothing: it learns each participant's vote from the acceptors' ballot-0
//! reports and, when votes do not come in time, hands the transaction to
//! [`super::recovery`].

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use sim_core::{Context, NodeId, Time};

use super::layout::Layout;
use super::message::{Decision, Msg, Reads, Request, Timer, TxnId, Vote, Work};
use super::tally::Tally;
use super::{CommitBug, Settings, Variant, probe};

/// A logged commit decision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct DecisionRecord {
    txn: TxnId,
    participants: Vec<NodeId>,
}

/// One transaction in the coordinator's hands.
#[derive(Clone, Debug)]
struct Txn {
    read_only: bool,
    plan: Vec<(NodeId, Work)>,
    participants: Vec<NodeId>,
    yes: BTreeMap<NodeId, Reads>,
    tally: Tally,
    decision: Option<Decision>,
    acked: BTreeSet<NodeId>,
    started: Time,
    sent_at: Time,
    recovering: bool,
    logged: bool,
}

impl Txn {
    /// What the client hears: a read-only commit without every read is
    /// reported as an abort (a read that did not happen changes nothing).
    fn reply(&self) -> (Decision, Reads) {
        let reads: Reads = self.yes.values().flatten().copied().collect();
        match self.decision {
            Some(Decision::Commit) if !self.read_only || self.yes.len() == self.participants.len() => {
                (Decision::Commit, reads)
            }
            _ => (Decision::Abort, Vec::new()),
        }
    }
}

/// A coordinator's state.
#[derive(Clone, Debug)]
pub struct Coordinator {
    settings: Settings,
    layout: Layout,
    txns: BTreeMap<TxnId, Txn>,
    finished: BTreeMap<TxnId, (Decision, (Decision, Reads))>,
    unlogged: Vec<DecisionRecord>,
    flush_armed: bool,
}

fn key(prefix: &str, txn: TxnId) -> String {
    format!("{prefix}/{:06}.{:09}", txn.client, txn.seq)
}

/// Logs and syncs a 2PC abort decision.
fn log_abort<V: Variant>(ctx: &mut Context<'_, V>, txn: TxnId) {
    ctx.storage().put(&key("abt", txn), &txn);
    ctx.storage().sync();
}

impl Coordinator {
    /// Rebuilds a coordinator from its log: unfinished commits are resent.
    pub fn recover<V: Variant>(ctx: &mut Context<'_, V>, settings: Settings, layout: Layout) -> Coordinator {
        let mut c = Coordinator {
            settings,
            layout,
            txns: BTreeMap::new(),
            finished: BTreeMap::new(),
            unlogged: Vec::new(),
            flush_armed: false,
        };
        let now = ctx.now();
        let ended: BTreeSet<TxnId> =
            ctx.storage().scan::<TxnId>("end/").unwrap_or_default().into_iter().map(|(_, t)| t).collect();
        // A torn abort record was never synced, so never answered.
        for (_, txn) in ctx.storage().scan::<TxnId>("abt/").unwrap_or_default() {
            c.finished.insert(txn, (Decision::Abort, (Decision::Abort, Vec::new())));
        }
        for (_, record) in ctx.storage().scan::<DecisionRecord>("dec/").unwrap_or_default() {
            if ended.contains(&record.txn) {
                c.finished.insert(record.txn, (Decision::Commit, (Decision::Commit, Vec::new())));
                continue;
            }
            let txn = Txn {
                read_only: false,
                plan: Vec::new(),
                participants: record.participants,
                yes: BTreeMap::new(),
                tally: Tally::new(0),
                decision: Some(Decision::Commit),
                acked: BTreeSet::new(),
                started: now,
                sent_at: Time::ZERO,
                recovering: false,
                logged: true,
            };
            ctx.probe(probe::COORDINATOR_RECOVERS_COMMIT);
            c.txns.insert(record.txn, txn);
        }
        c
    }

    /// The outcome of `txn`, if this coordinator knows it.
    pub fn decision_of(&self, txn: TxnId) -> Option<Decision> {
        match self.txns.get(&txn) {
            Some(t) => t.decision,
            None => self.finished.get(&txn).map(|(d, _)| *d),
        }
    }

    /// Every outcome this coordinator knows, by transaction.
    pub fn decisions(&self) -> BTreeMap<TxnId, Decision> {
        let mut all: BTreeMap<TxnId, Decision> = self.finished.iter().map(|(t, (d, _))| (*t, *d)).collect();
        all.extend(self.txns.iter().filter_map(|(t, x)| x.decision.map(|d| (*t, d))));
        all
    }

    /// A client asks for `txn`: answer if it is decided, else start it once.
    pub fn on_begin<V: Variant>(
        &mut self,
        ctx: &mut Context<'_, V>,
        client: NodeId,
        txn: TxnId,
        request: Request,
    ) {
        if let Some((_, (decision, reads))) = self.finished.get(&txn) {
            ctx.send(client, Msg::Reply { txn, decision: *decision, reads: reads.clone() });
            return;
        }
        if let Some(t) = self.txns.get(&txn) {
            if t.decision.is_some() {
                let (decision, reads) = t.reply();
                ctx.send(client, Msg::Reply { txn, decision, reads });
            }
            return;
        }
        let plan = self.layout.plan(&request);
        let now = ctx.now();
        let t = Txn {
            read_only: plan.iter().all(|(_, w)| w.is_read_only()),
            participants: plan.iter().map(|(n, _)| *n).collect(),
            plan,
            yes: BTreeMap::new(),
            tally: Tally::new(0),
            decision: None,
            acked: BTreeSet::new(),
            started: now,
            sent_at: now,
            recovering: false,
            logged: false,
        };
        for (node, work) in &t.plan {
            ctx.send(*node, Msg::Prepare { txn, work: work.clone(), participants: t.participants.clone() });
        }
        self.txns.insert(txn, t);
    }

    /// A participant's vote (and reads).
    pub fn on_voted<V: Variant>(
        &mut self,
        ctx: &mut Context<'_, V>,
        from: NodeId,
        txn: TxnId,
        vote: Vote,
        reads: Reads,
    ) {
        let Some(t) = self.txns.get_mut(&txn) else {
            match self.decision_of(txn) {
                Some(decision) => ctx.send(from, Msg::Decide { txn, decision }),
                // Presumed abort: a commit would have been logged.
                None if !V::PAXOS && vote == Vote::Prepared => {
                    let decision = self.presume_abort(ctx, txn);
                    ctx.send(from, Msg::Decide { txn, decision });
                }
                None => {}
            }
            return;
        };
        if let Some(decision) = t.decision {
            ctx.send(from, Msg::Decide { txn, decision });
            return;
        }
        match vote {
            // In Paxos Commit too: the participant alone proposes at ballot 0
            // and proposed `Aborted`, so its instance can never choose `Prepared`.
            Vote::Aborted => self.decide(ctx, txn, Decision::Abort),
            Vote::Prepared => {
                t.yes.insert(from, reads);
                self.settle(ctx, txn);
            }
        }
    }

    /// An acceptor accepted a participant's ballot-0 vote (Paxos Commit).
    pub fn on_accepted<V: Variant>(
        &mut self,
        ctx: &mut Context<'_, V>,
        from: NodeId,
        txn: TxnId,
        rm: NodeId,
        value: Vote,
    ) {
        if let Some(t) = self.txns.get_mut(&txn) {
            t.tally.add(rm, from, 0, value);
            self.settle(ctx, txn);
        }
    }

    /// Decides `txn` if the votes (2PC) or the chosen values (Paxos) settle it.
    fn settle<V: Variant>(&mut self, ctx: &mut Context<'_, V>, txn: TxnId) {
        let Some(t) = self.txns.get(&txn) else { return };
        if t.decision.is_some() {
            return;
        }
        let all_yes = t.yes.len() == t.participants.len();
        let decision = if V::PAXOS {
            match t.tally.outcome(&t.participants, self.layout.majority()) {
                Some(Decision::Commit) if !all_yes => None,
                outcome => outcome,
            }
        } else {
            all_yes.then_some(Decision::Commit)
        };
        if let Some(decision) = decision {
            self.decide(ctx, txn, decision);
        }
    }

    /// Someone who knows told us the outcome of `txn`: adopt it.
    pub fn adopt<V: Variant>(&mut self, ctx: &mut Context<'_, V>, txn: TxnId, decision: Decision) {
        if self.txns.get(&txn).is_some_and(|t| t.decision.is_none()) {
            self.decide(ctx, txn, decision);
        }
    }

    /// Decides `txn`: logs a 2PC commit first (unless the bug defers it), then
    /// tells the participants and the client.
    fn decide<V: Variant>(&mut self, ctx: &mut Context<'_, V>, txn: TxnId, decision: Decision) {
        let Some(t) = self.txns.get_mut(&txn) else { return };
        t.decision = Some(decision);
        t.sent_at = ctx.now();
        if !V::PAXOS && decision == Decision::Commit && !t.read_only {
            let record = DecisionRecord { txn, participants: t.participants.clone() };
            t.logged = true;
            if self.settings.has(CommitBug::DecideBeforeLog) {
                self.unlogged.push(record);
                if !self.flush_armed {
                    self.flush_armed = true;
                    ctx.set_timer(self.settings.flush_delay, Timer::Flush);
                }
            } else {
                ctx.storage().put(&key("dec", txn), &record);
                ctx.storage().sync();
            }
        }
        // A read-only transaction changes nothing either way: run again, it harms nobody.
        if !V::PAXOS && decision == Decision::Abort && !t.read_only {
            log_abort(ctx, txn);
        }
        for &node in &t.participants {
            ctx.send(node, Msg::Decide { txn, decision });
        }
        let (decision, reads) = t.reply();
        ctx.send(NodeId(txn.client), Msg::Reply { txn, decision, reads });
    }

    /// (decide-before-log) Logs the decisions already sent.
    pub fn on_flush<V: Variant>(&mut self, ctx: &mut Context<'_, V>) {
        self.flush_armed = false;
        for record in self.unlogged.drain(..) {
            ctx.storage().put(&key("dec", record.txn), &record);
        }
        ctx.storage().sync();
    }

    /// A participant applied the outcome of `txn`; returns whether `txn` was ours.
    pub fn on_done<V: Variant>(&mut self, ctx: &mut Context<'_, V>, from: NodeId, txn: TxnId) -> bool {
        let Some(t) = self.txns.get_mut(&txn) else { return false };
        t.acked.insert(from);
        if t.decision.is_some() && t.participants.iter().all(|p| t.acked.contains(p)) {
            let t = self.txns.remove(&txn).expect("present");
            if t.logged {
                ctx.storage().put(&key("end", txn), &txn);
            }
            let decision = t.decision.expect("decided");
            self.finished.insert(txn, (decision, t.reply()));
        }
        true
    }

    /// A prepared participant asks about `txn` (2PC).
    pub fn on_status<V: Variant>(&mut self, ctx: &mut Context<'_, V>, from: NodeId, txn: TxnId) {
        match self.decision_of(txn) {
            Some(decision) => ctx.send(from, Msg::Decide { txn, decision }),
            None if self.txns.contains_key(&txn) => {}
            // Presumed abort: a commit would have been logged.
            None => {
                let decision = self.presume_abort(ctx, txn);
                ctx.send(from, Msg::Decide { txn, decision });
            }
        }
    }

    /// Aborts `txn`, of which this coordinator has no record (2PC), and logs
    /// the abort before anyone hears of it, so the transaction is never run
    /// again and committed.
    fn presume_abort<V: Variant>(&mut self, ctx: &mut Context<'_, V>, txn: TxnId) -> Decision {
        assert!(self.decision_of(txn).is_none(), "txn={txn} is decided already");
        ctx.probe(probe::PRESUMED_ABORT);
        log_abort(ctx, txn);
        self.finished.insert(txn, (Decision::Abort, (Decision::Abort, Vec::new())));
        Decision::Abort
    }

    /// Resends what is missing; aborts (2PC) or returns for recovery (Paxos)
    /// the transactions whose votes did not come within `vote_timeout`.
    pub fn on_tick<V: Variant>(&mut self, ctx: &mut Context<'_, V>) -> Vec<(TxnId, Vec<NodeId>)> {
        let now = ctx.now();
        let (tick, vote_timeout) = (self.settings.tick, self.settings.vote_timeout);
        let majority = self.layout.majority();
        let mut late = Vec::new();
        let mut to_recover = Vec::new();
        for (&txn, t) in &mut self.txns {
            if let Some(decision) = t.decision {
                if now.since(t.sent_at) >= tick {
                    t.sent_at = now;
                    for &node in t.participants.iter().filter(|p| !t.acked.contains(p)) {
                        ctx.send(node, Msg::Decide { txn, decision });
                    }
                }
            } else if t.recovering {
            } else if now.since(t.started) >= vote_timeout {
                late.push(txn);
                if V::PAXOS {
                    t.recovering = true;
                    to_recover.push((txn, t.participants.clone()));
                }
            } else {
                for (node, work) in &t.plan {
                    let chosen = t.tally.chosen(*node, majority).is_some();
                    if !t.yes.contains_key(node) || (V::PAXOS && !chosen) {
                        let participants = t.participants.clone();
                        ctx.send(*node, Msg::Prepare { txn, work: work.clone(), participants });
                    }
                }
            }
        }
        if !V::PAXOS {
            for txn in late {
                ctx.probe(probe::VOTE_TIMEOUT_ABORT);
                self.decide(ctx, txn, Decision::Abort);
            }
        }
        to_recover
    }
}
