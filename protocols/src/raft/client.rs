//! The Raft client: finds the leader, retries with backoff, reports outcomes.
//!
//! A request goes to the server believed to lead. A `NotLeader` with a hint
//! is followed at once (a few times per attempt, so stale hints cannot make
//! it bounce forever); without a hint, or after too many bounces, the client
//! waits for its retry timer, which tries the next server and doubles the
//! wait (up to four times the base). Every retry carries the same sequence
//! number, so the servers apply the request at most once. The client never
//! guesses an outcome: if no answer comes, the engine's operation timeout
//! records `info`.

use sim_core::{Client, Cluster, Context, Duration, NodeId, Op, OpId, Outcome, TimerId, Value};

use super::Raft;
use super::machine::Answer;
use super::message::{Msg, Timer};
use crate::register::Command;

const REDIRECTS_MAX: u32 = 3;
const BACKOFF_MAX: u64 = 4;

#[derive(Clone, Debug)]
struct Pending {
    op: OpId,
    seq: u64,
    key: i64,
    command: Command,
    redirects: u32,
    attempts: u64,
    timer: TimerId,
}

/// A client of the Raft store.
#[derive(Debug)]
pub struct RaftClient {
    servers: Vec<NodeId>,
    leader: usize,
    retry: Duration,
    seq: u64,
    pending: Option<Pending>,
}

impl RaftClient {
    /// A client that starts by asking the first server.
    pub fn new(config: &Raft, cluster: &Cluster) -> RaftClient {
        RaftClient {
            servers: cluster.servers().to_vec(),
            leader: 0,
            retry: config.client_retry,
            seq: 0,
            pending: None,
        }
    }

    fn send(&self, ctx: &mut Context<'_, Raft>) {
        let Some(p) = &self.pending else { return };
        let to = self.servers[self.leader];
        ctx.send(to, Msg::Request { seq: p.seq, key: p.key, command: p.command.clone() });
    }

    fn arm(&self, ctx: &mut Context<'_, Raft>, seq: u64, attempts: u64) -> TimerId {
        ctx.set_timer(self.retry.saturating_mul(attempts.min(BACKOFF_MAX)), Timer::Retry { seq })
    }

    fn finish(&mut self, ctx: &mut Context<'_, Raft>, answer: Answer) {
        let Some(p) = self.pending.take() else { return };
        ctx.cancel_timer(p.timer);
        let outcome = match (answer, p.command) {
            (Answer::Read(value), _) => Outcome::Ok(value.into()),
            (Answer::Written, Command::Write(v)) => Outcome::Ok(v.into()),
            (Answer::Swapped, Command::Cas(from, to)) => Outcome::Ok(vec![from, to].into()),
            (Answer::Mismatch, _) => Outcome::Fail("cas mismatch".into()),
            (answer, command) => panic!("answer={} does not fit command={command}", answer.name()),
        };
        ctx.complete(p.op, outcome);
    }

    fn redirect(&mut self, ctx: &mut Context<'_, Raft>, hint: Option<NodeId>) {
        let Some(p) = self.pending.as_mut() else { return };
        match hint.and_then(|h| self.servers.iter().position(|&s| s == h)) {
            Some(index) if p.redirects < REDIRECTS_MAX => {
                p.redirects += 1;
                self.leader = index;
                self.send(ctx);
            }
            // No hint: move on, and let the retry timer send after a pause.
            _ => self.leader = (self.leader + 1) % self.servers.len(),
        }
    }
}

impl Client<Raft> for RaftClient {
    fn on_invoke(&mut self, ctx: &mut Context<'_, Raft>, id: OpId, op: Op) {
        let (Some(command), Some(Value::Int(key))) = (Command::from_op(&op), op.key.clone()) else {
            ctx.complete(id, Outcome::Fail(format!("raft cannot perform {}", op.f)));
            return;
        };
        self.seq += 1;
        let timer = self.arm(ctx, self.seq, 1);
        self.pending =
            Some(Pending { op: id, seq: self.seq, key, command, redirects: 0, attempts: 1, timer });
        self.send(ctx);
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Raft>, from: NodeId, msg: Msg) {
        let Some(seq) = self.pending.as_ref().map(|p| p.seq) else { return };
        match msg {
            Msg::Reply { seq: s, answer } if s == seq => {
                if let Some(index) = self.servers.iter().position(|&s| s == from) {
                    self.leader = index;
                }
                self.finish(ctx, answer);
            }
            Msg::NotLeader { seq: s, hint } if s == seq => self.redirect(ctx, hint),
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Raft>, _id: TimerId, timer: Timer) {
        let Timer::Retry { seq } = timer else { return };
        let Some(p) = self.pending.as_ref().filter(|p| p.seq == seq) else { return };
        let attempts = p.attempts + 1;
        let timer = self.arm(ctx, seq, attempts);
        if let Some(p) = self.pending.as_mut() {
            p.attempts = attempts;
            p.redirects = 0;
            p.timer = timer;
        }
        ctx.probe(super::probe::CLIENT_RETRIED);
        self.leader = (self.leader + 1) % self.servers.len();
        self.send(ctx);
    }

    fn on_timeout(&mut self, ctx: &mut Context<'_, Raft>, _id: OpId) {
        if let Some(p) = self.pending.take() {
            ctx.cancel_timer(p.timer);
        }
    }
}
