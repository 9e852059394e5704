//! The client: one request at a time to its current balancer, failing over
//! to the next balancer when an answer is late.

use sim_core::{Client, Context, Duration, NodeId, Op, OpId, Outcome, TimerId, Value};

use super::{LoadBalancer, Msg, Timer, probe};

/// A load-balancer client.
#[derive(Debug)]
pub struct LbClient {
    balancers: Vec<NodeId>,
    current: usize,
    retry: Duration,
    next_req: u64,
    pending: Option<Pending>,
    failovers: u64,
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    op: OpId,
    req: u64,
    key: i64,
    timer: TimerId,
}

impl LbClient {
    /// A client of `balancers` that starts with balancer `index % len`.
    pub fn new(balancers: Vec<NodeId>, index: usize, retry: Duration) -> LbClient {
        let current = if balancers.is_empty() { 0 } else { index % balancers.len() };
        LbClient { balancers, current, retry, next_req: 0, pending: None, failovers: 0 }
    }

    /// The balancer it sends to now.
    pub fn balancer(&self) -> Option<NodeId> {
        self.balancers.get(self.current).copied()
    }

    /// How many times it moved to another balancer.
    pub fn failovers(&self) -> u64 {
        self.failovers
    }

    fn send(&mut self, ctx: &mut Context<'_, LoadBalancer>, op: OpId, req: u64, key: i64) {
        let balancer = self.balancers[self.current];
        ctx.send(balancer, Msg::Request { req, key });
        let timer = ctx.set_timer(self.retry, Timer::Retry { req });
        self.pending = Some(Pending { op, req, key, timer });
    }
}

impl Client<LoadBalancer> for LbClient {
    fn on_invoke(&mut self, ctx: &mut Context<'_, LoadBalancer>, id: OpId, op: Op) {
        let key = match (&op.f[..], &op.key) {
            ("request", Some(Value::Int(key))) => *key,
            ("request", None) => 0,
            _ => {
                ctx.complete(id, Outcome::Fail(format!("load-balancer cannot perform {}", op.f)));
                return;
            }
        };
        if self.balancers.is_empty() {
            ctx.complete(id, Outcome::Fail("no balancers".into()));
            return;
        }
        self.next_req += 1;
        self.send(ctx, id, self.next_req, key);
    }

    fn on_message(&mut self, ctx: &mut Context<'_, LoadBalancer>, _from: NodeId, msg: Msg) {
        let Msg::Reply { req, backend } = msg else { return };
        let Some(pending) = self.pending.take_if(|p| p.req == req) else { return };
        ctx.cancel_timer(pending.timer);
        ctx.complete(pending.op, Outcome::Ok(Value::Int(i64::from(backend.0))));
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, LoadBalancer>, _id: TimerId, timer: Timer) {
        let Timer::Retry { req } = timer else { return };
        let Some(pending) = self.pending.filter(|p| p.req == req) else { return };
        // Late: this balancer may be down. Move to the next one and stay there.
        ctx.probe(probe::CLIENT_FAILS_OVER);
        self.current = (self.current + 1) % self.balancers.len();
        self.failovers += 1;
        self.send(ctx, pending.op, pending.req, pending.key);
    }

    fn on_timeout(&mut self, ctx: &mut Context<'_, LoadBalancer>, _id: OpId) {
        if let Some(pending) = self.pending.take() {
            ctx.cancel_timer(pending.timer);
        }
    }
}
