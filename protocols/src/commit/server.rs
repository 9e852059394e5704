//! A commit server: whichever roles the layout gives it (coordinator and, in
//! Paxos Commit, acceptor and recovery leader; or shard), rebuilt from
//! storage at every start, and a periodic tick for resends.

use std::marker::PhantomData;

use sim_core::{Cluster, Context, Node, NodeId, Time, TimerId};

use super::acceptor::Acceptor;
use super::coordinator::Coordinator;
use super::layout::Layout;
use super::message::{Msg, Timer};
use super::participant::Participant;
use super::recovery::Recovery;
use super::{CommitBug, Variant};

/// A commit server.
#[derive(Debug)]
pub struct Server<V: Variant> {
    config: V,
    layout: Layout,
    coordinator: Option<Coordinator>,
    recovery: Option<Recovery>,
    acceptor: Option<Acceptor>,
    participant: Option<Participant>,
    started: Time,
    _variant: PhantomData<V>,
}

impl<V: Variant> Server<V> {
    /// A server that has not started yet.
    pub fn new(config: V, _id: NodeId, cluster: &Cluster) -> Server<V> {
        let layout = Layout::new(config.settings().coordinators, cluster);
        Server {
            config,
            layout,
            coordinator: None,
            recovery: None,
            acceptor: None,
            participant: None,
            started: Time::ZERO,
            _variant: PhantomData,
        }
    }

    /// The roles of the cluster's servers.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The shard role, if this server holds accounts.
    pub fn participant(&self) -> Option<&Participant> {
        self.participant.as_ref()
    }

    /// Outcomes this server decided or learned as a coordinator, by transaction.
    pub fn decisions(&self) -> std::collections::BTreeMap<super::TxnId, super::Decision> {
        self.coordinator.as_ref().map(Coordinator::decisions).unwrap_or_default()
    }

    /// When this incarnation started.
    pub fn started(&self) -> Time {
        self.started
    }

    fn on_tick(&mut self, ctx: &mut Context<'_, V>) {
        let settings = self.config.settings().clone();
        if let Some(p) = self.participant.as_mut() {
            p.on_tick(ctx, &self.layout, settings.ask_after);
        }
        if let Some(c) = self.coordinator.as_mut() {
            for (txn, participants) in c.on_tick(ctx) {
                if let Some(r) = self.recovery.as_mut() {
                    r.start(ctx, settings.vote_timeout, txn, participants);
                }
            }
        }
        if let Some(r) = self.recovery.as_mut() {
            r.on_tick(ctx, settings.tick);
        }
        ctx.set_timer(settings.tick, Timer::Tick);
    }

    fn on_recover(
        &mut self,
        ctx: &mut Context<'_, V>,
        from: NodeId,
        txn: super::TxnId,
        participants: Vec<NodeId>,
    ) {
        let known = self.coordinator.as_ref().and_then(|c| c.decision_of(txn));
        let known = known.or_else(|| self.recovery.as_ref().and_then(|r| r.decision_of(txn)));
        if let Some(decision) = known {
            ctx.send(from, Msg::Decide { txn, decision });
        } else if let Some(r) = self.recovery.as_mut() {
            r.start(ctx, self.config.settings().vote_timeout, txn, participants);
        }
    }
}

impl<V: Variant> Node<V> for Server<V> {
    fn on_start(&mut self, ctx: &mut Context<'_, V>) {
        let id = ctx.id();
        self.started = ctx.now();
        if self.layout.is_coordinator(id) {
            self.coordinator =
                Some(Coordinator::recover(ctx, self.config.settings().clone(), self.layout.clone()));
            if V::PAXOS {
                self.acceptor = Some(Acceptor::recover(ctx));
                self.recovery = Some(Recovery::new(self.layout.clone()));
            }
        }
        if self.layout.is_shard(id) {
            let forget = self.config.settings().has(CommitBug::ForgetPrepare);
            self.participant = Some(Participant::recover(ctx, forget));
        }
        ctx.set_timer(self.config.settings().tick, Timer::Tick);
    }

    fn on_message(&mut self, ctx: &mut Context<'_, V>, from: NodeId, msg: Msg) {
        let layout = &self.layout;
        match msg {
            Msg::Begin { txn, request } => {
                if let Some(c) = self.coordinator.as_mut() {
                    c.on_begin(ctx, from, txn, request);
                }
            }
            Msg::Prepare { txn, work, participants } => {
                if let Some(p) = self.participant.as_mut() {
                    p.on_prepare(ctx, layout, from, txn, work, participants);
                }
            }
            Msg::Voted { txn, vote, reads } => {
                if let Some(c) = self.coordinator.as_mut() {
                    c.on_voted(ctx, from, txn, vote, reads);
                }
            }
            Msg::Decide { txn, decision } => {
                if let Some(p) = self.participant.as_mut()
                    && layout.is_coordinator(from)
                {
                    p.on_decide(ctx, from, txn, decision);
                }
                if let Some(c) = self.coordinator.as_mut() {
                    c.adopt(ctx, txn, decision);
                }
            }
            Msg::Done { txn } => {
                if let Some(c) = self.coordinator.as_mut() {
                    c.on_done(ctx, from, txn);
                }
                if let Some(r) = self.recovery.as_mut() {
                    r.on_done(from, txn);
                }
            }
            Msg::Status { txn } => {
                if let Some(c) = self.coordinator.as_mut() {
                    c.on_status(ctx, from, txn);
                }
            }
            Msg::Recover { txn, participants } => self.on_recover(ctx, from, txn, participants),
            Msg::Promise { txn, ballot } => {
                if let Some(a) = self.acceptor.as_mut() {
                    a.on_promise(ctx, from, txn, ballot);
                }
            }
            Msg::Promised { txn, ballot, accepted } => {
                if let Some(r) = self.recovery.as_mut() {
                    r.on_promised(ctx, from, txn, ballot, accepted);
                }
            }
            Msg::Accept { txn, rm, ballot, value, leader } => {
                if let Some(a) = self.acceptor.as_mut() {
                    a.on_accept(ctx, txn, rm, ballot, value, leader);
                }
            }
            Msg::Accepted { txn, rm, ballot: 0, value } => {
                if let Some(c) = self.coordinator.as_mut() {
                    c.on_accepted(ctx, from, txn, rm, value);
                }
            }
            Msg::Accepted { txn, rm, ballot, value } => {
                let decided =
                    self.recovery.as_mut().and_then(|r| r.on_accepted(ctx, from, txn, rm, ballot, value));
                if let (Some(decision), Some(c)) = (decided, self.coordinator.as_mut()) {
                    c.adopt(ctx, txn, decision);
                }
            }
            Msg::Nack { txn, promised } => {
                if let Some(r) = self.recovery.as_mut() {
                    r.on_nack(txn, promised);
                }
            }
            Msg::Reply { .. } => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, V>, _id: TimerId, timer: Timer) {
        match timer {
            Timer::Tick => self.on_tick(ctx),
            Timer::Flush => {
                if let Some(c) = self.coordinator.as_mut() {
                    c.on_flush(ctx);
                }
            }
            Timer::Resend { .. } | Timer::Retry { .. } => {}
        }
    }
}
