//! A saga server: an orchestrator or a shard, as the layout says, rebuilt
//! from storage at every start, with a periodic tick for resends.

use sim_core::{Cluster, Context, Node, NodeId, TimerId};

use super::message::{Msg, Timer};
use super::orchestrator::Orchestrator;
use super::shard::{Shard, StepRecord};
use super::{Saga, SagaBug};
use crate::commit::Layout;

/// A saga server.
#[derive(Debug)]
pub struct Server {
    config: Saga,
    layout: Layout,
    orchestrator: Option<Orchestrator>,
    shard: Option<Shard>,
}

impl Server {
    /// A server that has not started yet.
    pub fn new(config: Saga, cluster: &Cluster) -> Server {
        let layout = Layout::new(config.orchestrators, cluster);
        Server { config, layout, orchestrator: None, shard: None }
    }

    /// The roles of the cluster's servers (orchestrators are the layout's coordinators).
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The orchestrator role, if this server has it.
    pub fn orchestrator(&self) -> Option<&Orchestrator> {
        self.orchestrator.as_ref()
    }

    /// The shard role, if this server holds accounts.
    pub fn shard(&self) -> Option<&Shard> {
        self.shard.as_ref()
    }
}

impl Node<Saga> for Server {
    fn on_start(&mut self, ctx: &mut Context<'_, Saga>) {
        let id = ctx.id();
        if self.layout.is_coordinator(id) {
            let log = !self.config.has(SagaBug::ForgetProgress);
            self.orchestrator =
                Some(Orchestrator::recover(ctx, self.layout.clone(), self.config.deadline, log));
        }
        if self.layout.is_shard(id) {
            let refund_again = self.config.has(SagaBug::NonIdempotentCompensation);
            self.shard = Some(Shard::recover(ctx, self.config.opening_balance, refund_again));
        }
        ctx.set_timer(self.config.tick, Timer::Tick);
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Saga>, from: NodeId, msg: Msg) {
        match (msg, self.orchestrator.as_mut(), self.shard.as_mut()) {
            (Msg::Begin { saga, transfer }, Some(o), _) => o.on_begin(ctx, from, saga, transfer),
            (Msg::Stepped { saga, step, state }, Some(o), _) => o.on_stepped(ctx, saga, step, state),
            (Msg::Do { saga, step, account, delta }, _, Some(s)) => {
                let state = super::StepState::Applied;
                s.on_do(ctx, from, StepRecord { saga, step, account, delta, orchestrator: from, state });
            }
            (Msg::Undo { saga, step, account, delta }, _, Some(s)) => {
                let state = super::StepState::Undone;
                s.on_undo(ctx, from, StepRecord { saga, step, account, delta, orchestrator: from, state });
            }
            (Msg::Read { read, accounts }, _, Some(s)) => {
                ctx.send(from, Msg::Balances { read, balances: s.read(&accounts) });
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Saga>, _id: TimerId, timer: Timer) {
        if timer == Timer::Tick {
            if let Some(o) = self.orchestrator.as_mut() {
                o.on_tick(ctx);
            }
            ctx.set_timer(self.config.tick, Timer::Tick);
        }
    }
}
