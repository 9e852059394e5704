//! A backend: serves `concurrency` jobs at once, queues the rest, and answers
//! health checks at once, whatever its load.

use std::collections::VecDeque;

use sim_core::{Context, Latency, NodeId};

use super::{LoadBalancer, Msg, Timer};

/// A backend server.
#[derive(Debug)]
pub struct Backend {
    service: Latency,
    concurrency: usize,
    factor: u64,
    incarnation: u64,
    busy: usize,
    queue: VecDeque<(NodeId, u64)>,
    served: u64,
}

impl Backend {
    /// A backend whose service times are drawn from `service`, times `factor`.
    pub fn new(service: Latency, concurrency: usize, factor: u64) -> Backend {
        let concurrency = concurrency.max(1);
        Backend { service, concurrency, factor, incarnation: 0, busy: 0, queue: VecDeque::new(), served: 0 }
    }

    /// Jobs finished since the last start.
    pub fn served(&self) -> u64 {
        self.served
    }

    /// Jobs in service plus jobs waiting.
    pub fn load(&self) -> usize {
        self.busy + self.queue.len()
    }

    pub(super) fn on_start(&mut self, ctx: &mut Context<'_, LoadBalancer>) {
        self.incarnation = ctx.rng().next_u64();
    }

    pub(super) fn on_message(&mut self, ctx: &mut Context<'_, LoadBalancer>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Ping { seq } => ctx.send(from, Msg::Pong { seq, incarnation: self.incarnation }),
            Msg::Work { job, .. } => {
                self.queue.push_back((from, job));
                self.start_next(ctx);
            }
            _ => {}
        }
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Context<'_, LoadBalancer>, timer: Timer) {
        let Timer::Finish { balancer, job } = timer else { return };
        assert!(self.busy > 0, "busy=0 finishing job={job}");
        self.busy -= 1;
        self.served += 1;
        ctx.send(balancer, Msg::Done { job });
        self.start_next(ctx);
    }

    fn start_next(&mut self, ctx: &mut Context<'_, LoadBalancer>) {
        while self.busy < self.concurrency {
            let Some((balancer, job)) = self.queue.pop_front() else { return };
            let service = self.service.sample(ctx.rng()).saturating_mul(self.factor);
            self.busy += 1;
            ctx.set_timer(service, Timer::Finish { balancer, job });
        }
    }
}
