//! The ABD client: runs the query and store phases against a majority.
//!
//! Each phase is sent to every server and completes at the first majority
//! of answers; servers that stay silent get the phase again on a timer,
//! with the wait doubling up to a cap. The client never gives up by itself:
//! an operation that cannot reach a majority is left to the engine's
//! operation timeout, which records it as `info`.

use std::collections::BTreeSet;

use sim_core::{Client, Context, Duration, NodeId, Op, OpId, Outcome, TimerId, Value};

use super::message::{Msg, Stamped, Timer, Timestamp};
use super::{Abd, Bug, probe};

/// What the operation in progress is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Read,
    Write(i64),
}

/// Which phase the operation in progress is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Query,
    Store,
}

/// The operation in progress and its current phase.
#[derive(Debug)]
struct Pending {
    op: OpId,
    key: i64,
    kind: Kind,
    step: Step,
    phase: u64,
    answered: BTreeSet<NodeId>,
    /// The highest value seen by the query, then the value being stored.
    stamped: Stamped,
    /// Whether the query's answers so far carried different timestamps.
    disagreed: bool,
    backoff: Duration,
}

/// An ABD client (also the writer that picks timestamps).
#[derive(Debug)]
pub struct AbdClient {
    config: Abd,
    id: NodeId,
    majority: usize,
    next_phase: u64,
    /// The highest counter this client has written with, so that its own
    /// writes never reuse a timestamp even if an abandoned write is still in flight.
    counter_used: u64,
    pending: Option<Pending>,
}

impl AbdClient {
    /// A client with id `id` in a cluster whose majority is `majority`.
    pub fn new(config: Abd, id: NodeId, majority: usize) -> AbdClient {
        AbdClient { config, id, majority, next_phase: 0, counter_used: 0, pending: None }
    }

    /// Starts a new phase of the pending operation: a fresh id, everyone asked.
    fn start_phase(&mut self, ctx: &mut Context<'_, Abd>, step: Step) {
        self.next_phase += 1;
        let retry = self.config.retry;
        let Some(pending) = self.pending.as_mut() else { return };
        pending.step = step;
        pending.phase = self.next_phase;
        pending.answered.clear();
        pending.backoff = retry;
        send_phase(ctx, pending);
        ctx.set_timer(retry, Timer::Resend { phase: pending.phase });
    }

    fn on_query_ack(&mut self, ctx: &mut Context<'_, Abd>, from: NodeId, phase: u64, stamped: Stamped) {
        let Some(pending) = current(&mut self.pending, phase, Step::Query) else { return };
        if !pending.answered.insert(from) {
            return;
        }
        pending.disagreed |= pending.answered.len() > 1 && stamped.ts != pending.stamped.ts;
        if stamped.ts > pending.stamped.ts {
            pending.stamped = stamped;
        }
        if pending.answered.len() < self.majority {
            return;
        }
        if pending.kind == Kind::Read && pending.disagreed {
            ctx.probe(probe::READ_DISAGREED);
        }
        match pending.kind {
            Kind::Read if self.config.has(Bug::NoReadRepair) => self.finish(ctx),
            Kind::Read => {
                if pending.disagreed {
                    ctx.probe(probe::READ_REPAIRED);
                }
                self.start_phase(ctx, Step::Store)
            }
            Kind::Write(value) => {
                self.counter_used = self.counter_used.max(pending.stamped.ts.counter) + 1;
                let ts = Timestamp { counter: self.counter_used, writer: self.id.0 };
                pending.stamped = Stamped { ts, value: Some(value) };
                self.start_phase(ctx, Step::Store);
            }
        }
    }

    fn on_store_ack(&mut self, ctx: &mut Context<'_, Abd>, from: NodeId, phase: u64) {
        let Some(pending) = current(&mut self.pending, phase, Step::Store) else { return };
        if pending.answered.insert(from) && pending.answered.len() >= self.majority {
            self.finish(ctx);
        }
    }

    fn finish(&mut self, ctx: &mut Context<'_, Abd>) {
        let Some(pending) = self.pending.take() else { return };
        let value = match pending.kind {
            Kind::Read => Value::from(pending.stamped.value),
            Kind::Write(v) => Value::Int(v),
        };
        ctx.complete(pending.op, Outcome::Ok(value));
    }
}

/// The pending operation, if it is in phase `phase` of kind `step`.
fn current(pending: &mut Option<Pending>, phase: u64, step: Step) -> Option<&mut Pending> {
    pending.as_mut().filter(|p| p.phase == phase && p.step == step)
}

fn send_phase(ctx: &mut Context<'_, Abd>, pending: &Pending) {
    let servers = ctx.servers().to_vec();
    for server in servers.into_iter().filter(|s| !pending.answered.contains(s)) {
        let msg = match pending.step {
            Step::Query => Msg::Query { phase: pending.phase, key: pending.key },
            Step::Store => Msg::Store { phase: pending.phase, key: pending.key, stamped: pending.stamped },
        };
        ctx.send(server, msg);
    }
}

/// The operation `op` asks for, if ABD can do it (reads and writes only).
fn parse(op: &Op) -> Option<(i64, Kind)> {
    let key = match &op.key {
        None => 0,
        Some(Value::Int(k)) => *k,
        Some(_) => return None,
    };
    match (op.f.as_str(), &op.value) {
        ("read", _) => Some((key, Kind::Read)),
        ("write", Value::Int(v)) => Some((key, Kind::Write(*v))),
        _ => None,
    }
}

impl Client<Abd> for AbdClient {
    fn on_invoke(&mut self, ctx: &mut Context<'_, Abd>, id: OpId, op: Op) {
        let Some((key, kind)) = parse(&op) else {
            ctx.complete(id, Outcome::Fail(format!("abd cannot perform {}", op.f)));
            return;
        };
        let pending = Pending {
            op: id,
            key,
            kind,
            step: Step::Query,
            phase: 0,
            answered: BTreeSet::new(),
            stamped: Stamped::default(),
            disagreed: false,
            backoff: self.config.retry,
        };
        self.pending = Some(pending);
        self.start_phase(ctx, Step::Query);
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Abd>, from: NodeId, msg: Msg) {
        match msg {
            Msg::QueryAck { phase, stamped } => self.on_query_ack(ctx, from, phase, stamped),
            Msg::StoreAck { phase } => self.on_store_ack(ctx, from, phase),
            Msg::Query { .. } | Msg::Store { .. } => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Abd>, _id: TimerId, timer: Timer) {
        let Timer::Resend { phase } = timer;
        let retry_max = self.config.retry_max;
        let Some(pending) = self.pending.as_mut().filter(|p| p.phase == phase) else { return };
        ctx.probe(probe::PHASE_RESENT);
        send_phase(ctx, pending);
        pending.backoff = (pending.backoff + pending.backoff).min(retry_max);
        ctx.set_timer(pending.backoff, Timer::Resend { phase });
    }

    fn on_timeout(&mut self, _ctx: &mut Context<'_, Abd>, _id: OpId) {
        self.pending = None;
    }
}
