//! Paxos Commit's recovery leader: finishes a transaction whose coordinator
//! went quiet, on any coordinator node, with any majority of acceptors.
//!
//! 1. Pick a ballot above any seen for the transaction (round from this
//!    node's clock, then the node's index, so ballots never collide).
//! 2. Phase 1: a majority promises the ballot for every instance of the
//!    transaction and reports what it accepted.
//! 3. Phase 2: for each participant's instance propose the value accepted at
//!    the highest ballot, or `Aborted` if none was; a majority accepts.
//! 4. Commit if every instance chose `Prepared`, else abort; tell the
//!    participants until each acknowledges.

use std::collections::{BTreeMap, BTreeSet};

use sim_core::{Context, Duration, NodeId, Time};

use super::layout::Layout;
use super::message::{Decision, Msg, TxnId, Vote};
use super::tally::Tally;
use super::{Variant, probe};

#[derive(Clone, Debug)]
struct Run {
    ballot: u64,
    participants: Vec<NodeId>,
    promises: BTreeMap<NodeId, Vec<(NodeId, u64, Vote)>>,
    proposed: bool,
    tally: Tally,
    decision: Option<Decision>,
    acked: BTreeSet<NodeId>,
    started: Time,
    base: Duration,
    patience: Duration,
    sent_at: Time,
    stale: bool,
}

/// The recovery runs this node leads.
#[derive(Clone, Debug)]
pub struct Recovery {
    layout: Layout,
    runs: BTreeMap<TxnId, Run>,
    finished: BTreeMap<TxnId, Decision>,
    seen: BTreeMap<TxnId, u64>,
}

impl Recovery {
    /// No runs yet, over the coordinator nodes of `layout`.
    pub fn new(layout: Layout) -> Recovery {
        Recovery { layout, runs: BTreeMap::new(), finished: BTreeMap::new(), seen: BTreeMap::new() }
    }

    /// The outcome of `txn`, if a run here settled it.
    pub fn decision_of(&self, txn: TxnId) -> Option<Decision> {
        self.finished.get(&txn).copied().or_else(|| self.runs.get(&txn).and_then(|r| r.decision))
    }

    /// Starts recovering `txn` unless a run is under way or it is settled.
    pub fn start<V: Variant>(
        &mut self,
        ctx: &mut Context<'_, V>,
        patience: Duration,
        txn: TxnId,
        participants: Vec<NodeId>,
    ) {
        if self.decision_of(txn).is_some() || self.runs.contains_key(&txn) {
            return;
        }
        let run = Run {
            ballot: 0,
            participants,
            promises: BTreeMap::new(),
            proposed: false,
            tally: Tally::new(0),
            decision: None,
            acked: BTreeSet::new(),
            started: ctx.now(),
            base: patience,
            patience,
            sent_at: ctx.now(),
            stale: false,
        };
        self.runs.insert(txn, run);
        self.begin_ballot(ctx, txn);
    }

    /// Phase 1 with a fresh ballot.
    fn begin_ballot<V: Variant>(&mut self, ctx: &mut Context<'_, V>, txn: TxnId) {
        ctx.probe(probe::RECOVERY_BALLOT);
        let count = self.layout.coordinators.len() as u64;
        let index = self.layout.coordinators.iter().position(|&c| c == ctx.id()).unwrap_or(0) as u64;
        let seen = self.seen.get(&txn).copied().unwrap_or(0);
        let round = (ctx.clock().as_nanos() / 1_000).max(seen / count + 1);
        let ballot = round * count + index + 1;
        let jitter = Duration::from_nanos(ctx.rng().below(50_000_000));
        let now = ctx.now();
        let run = self.runs.get_mut(&txn).expect("run exists");
        run.ballot = ballot;
        run.promises.clear();
        run.proposed = false;
        run.tally = Tally::new(ballot);
        run.started = now;
        run.stale = false;
        run.patience = run.base + jitter;
        for &acceptor in &self.layout.coordinators {
            ctx.send(acceptor, Msg::Promise { txn, ballot });
        }
    }

    /// Phase 1b: with a majority of promises, propose a value per instance.
    pub fn on_promised<V: Variant>(
        &mut self,
        ctx: &mut Context<'_, V>,
        from: NodeId,
        txn: TxnId,
        ballot: u64,
        accepted: Vec<(NodeId, u64, Vote)>,
    ) {
        let Some(run) = self.runs.get_mut(&txn) else { return };
        if run.ballot != ballot || run.proposed || run.decision.is_some() {
            return;
        }
        run.promises.insert(from, accepted);
        if run.promises.len() < self.layout.majority() {
            return;
        }
        run.proposed = true;
        let leader = ctx.id();
        for &rm in &run.participants {
            let value = run
                .promises
                .values()
                .flatten()
                .filter(|(r, _, _)| *r == rm)
                .max_by_key(|(_, b, _)| *b)
                .map_or(Vote::Aborted, |(_, _, v)| *v);
            for &acceptor in &self.layout.coordinators {
                ctx.send(acceptor, Msg::Accept { txn, rm, ballot, value, leader });
            }
        }
    }

    /// Phase 2b; returns the outcome when this report settles it.
    pub fn on_accepted<V: Variant>(
        &mut self,
        ctx: &mut Context<'_, V>,
        from: NodeId,
        txn: TxnId,
        rm: NodeId,
        ballot: u64,
        value: Vote,
    ) -> Option<Decision> {
        let run = self.runs.get_mut(&txn)?;
        if run.decision.is_some() {
            return None;
        }
        run.tally.add(rm, from, ballot, value);
        let decision = run.tally.outcome(&run.participants, self.layout.majority())?;
        run.decision = Some(decision);
        run.sent_at = ctx.now();
        for &node in &run.participants {
            ctx.send(node, Msg::Decide { txn, decision });
        }
        Some(decision)
    }

    /// An acceptor promised a higher ballot: try again above it.
    pub fn on_nack(&mut self, txn: TxnId, promised: u64) {
        let seen = self.seen.entry(txn).or_insert(0);
        *seen = (*seen).max(promised);
        if let Some(run) = self.runs.get_mut(&txn)
            && run.decision.is_none()
            && promised > run.ballot
        {
            run.stale = true;
        }
    }

    /// A participant applied the outcome.
    pub fn on_done(&mut self, from: NodeId, txn: TxnId) {
        let Some(run) = self.runs.get_mut(&txn) else { return };
        run.acked.insert(from);
        if let Some(decision) = run.decision
            && run.participants.iter().all(|p| run.acked.contains(p))
        {
            self.runs.remove(&txn);
            self.finished.insert(txn, decision);
        }
    }

    /// Retries stalled ballots and resends outcomes not yet acknowledged.
    pub fn on_tick<V: Variant>(&mut self, ctx: &mut Context<'_, V>, resend: Duration) {
        let now = ctx.now();
        let mut retry = Vec::new();
        for (&txn, run) in &mut self.runs {
            match run.decision {
                Some(decision) if now.since(run.sent_at) >= resend => {
                    run.sent_at = now;
                    for &node in run.participants.iter().filter(|p| !run.acked.contains(p)) {
                        ctx.send(node, Msg::Decide { txn, decision });
                    }
                }
                Some(_) => {}
                None if run.stale || now.since(run.started) >= run.patience => retry.push(txn),
                None => {}
            }
        }
        for txn in retry {
            self.begin_ballot(ctx, txn);
        }
    }
}
