//! The primary-backup client: finds the primary, follows redirects, resends.
//!
//! A request carries an id that increases per client, and the primary keeps
//! each client's last id and answer in the replicated state, so resending a
//! request (to the same server or another) never applies it twice. That is
//! what lets the client resend freely after silence; when even that fails,
//! the engine's operation timeout records the operation as `info`.

use sim_core::{Client, Context, Duration, NodeId, Op, OpId, Outcome, TimerId, Value};

use super::PrimaryBackup;
use super::message::{Answer, Command, Msg, Timer};

/// The operation in flight.
#[derive(Debug)]
struct Pending {
    op: OpId,
    req: u64,
    key: i64,
    command: Command,
    attempt: u32,
    backoff: Duration,
    /// Sends to the current target that went unanswered.
    unanswered: u32,
}

/// A primary-backup client.
#[derive(Debug)]
pub struct PrimaryBackupClient {
    config: PrimaryBackup,
    /// Where requests go: the last server believed to be primary.
    target: NodeId,
    next_req: u64,
    pending: Option<Pending>,
}

impl PrimaryBackupClient {
    /// A client that first tries `target`.
    pub fn new(config: PrimaryBackup, target: NodeId) -> PrimaryBackupClient {
        PrimaryBackupClient { config, target, next_req: 0, pending: None }
    }

    fn send(&mut self, ctx: &mut Context<'_, PrimaryBackup>) {
        let Some(p) = &mut self.pending else { return };
        p.unanswered += 1;
        ctx.send(self.target, Msg::Request { req: p.req, key: p.key, command: p.command.clone() });
    }

    /// Arms the next resend, doubling the wait each time up to the cap.
    fn arm(&mut self, ctx: &mut Context<'_, PrimaryBackup>) {
        let retry_max = self.config.retry_max;
        let Some(p) = &mut self.pending else { return };
        p.attempt += 1;
        ctx.set_timer(p.backoff, Timer::Retry { req: p.req, attempt: p.attempt });
        p.backoff = (p.backoff + p.backoff).min(retry_max);
    }

    /// The server after `after`, for when the current one says nothing useful.
    fn next_server(ctx: &Context<'_, PrimaryBackup>, after: NodeId) -> NodeId {
        let servers = ctx.servers();
        let at = servers.iter().position(|&s| s == after).unwrap_or(0);
        servers[(at + 1) % servers.len()]
    }

    fn on_reply(&mut self, ctx: &mut Context<'_, PrimaryBackup>, from: NodeId, req: u64, answer: Answer) {
        let Some(p) = self.pending.take_if(|p| p.req == req) else { return };
        self.target = from;
        let outcome = match p.command {
            Command::Read => Outcome::Ok(answer.value.into()),
            Command::Write(v) => Outcome::Ok(v.into()),
            Command::Cas(from, to) if answer.applied => Outcome::Ok(vec![from, to].into()),
            Command::Cas(..) => Outcome::Fail("cas mismatch".into()),
        };
        ctx.complete(p.op, outcome);
    }

    fn on_redirect(
        &mut self,
        ctx: &mut Context<'_, PrimaryBackup>,
        from: NodeId,
        req: u64,
        hint: Option<NodeId>,
    ) {
        if self.pending.as_ref().is_none_or(|p| p.req != req) {
            return;
        }
        // Resend on the timer rather than at once, so that a cluster without a
        // primary is not flooded while it elects one.
        self.target = hint.filter(|&h| h != from).unwrap_or_else(|| Self::next_server(ctx, from));
        if let Some(p) = &mut self.pending {
            p.unanswered = 0;
        }
        self.arm(ctx);
    }
}

impl Client<PrimaryBackup> for PrimaryBackupClient {
    fn on_invoke(&mut self, ctx: &mut Context<'_, PrimaryBackup>, id: OpId, op: Op) {
        let (Some(command), Some(Value::Int(key))) =
            (Command::from_op(&op), op.key.clone().or(Some(Value::Int(0))))
        else {
            ctx.complete(id, Outcome::Fail(format!("primary-backup cannot perform {}", op.f)));
            return;
        };
        self.next_req += 1;
        let backoff = self.config.retry;
        self.pending =
            Some(Pending { op: id, req: self.next_req, key, command, attempt: 0, backoff, unanswered: 0 });
        self.send(ctx);
        self.arm(ctx);
    }

    fn on_message(&mut self, ctx: &mut Context<'_, PrimaryBackup>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Reply { req, answer } => self.on_reply(ctx, from, req, answer),
            Msg::Redirect { req, primary } => self.on_redirect(ctx, from, req, primary),
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, PrimaryBackup>, _id: TimerId, timer: Timer) {
        let Timer::Retry { req, attempt } = timer else { return };
        let Some(p) = &self.pending else { return };
        if p.req != req || p.attempt != attempt {
            return;
        }
        // Silence twice over: the target may be down or cut off; try the next
        // server, which answers or redirects to the primary it knows.
        if p.unanswered >= 2 {
            self.target = Self::next_server(ctx, self.target);
            if let Some(p) = &mut self.pending {
                p.unanswered = 0;
            }
        }
        self.send(ctx);
        self.arm(ctx);
    }

    fn on_timeout(&mut self, _ctx: &mut Context<'_, PrimaryBackup>, _id: OpId) {
        self.pending = None;
    }
}
