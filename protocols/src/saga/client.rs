//! The saga client: a transfer is one saga at one orchestrator; a read-all
//! asks every shard directly, with no locks and no saga.
//!
//! It resends `Begin` (same saga) until the orchestrator answers. `Completed`
//! is `ok`; `Compensated` and `Refused` are `fail`, because both mean the
//! money certainly did not move; the engine's timeout is `info`, since the
//! saga may still finish. After a timeout it moves to the next orchestrator.

use std::collections::BTreeMap;

use sim_core::{Client, Cluster, Context, Duration, NodeId, Op, OpId, Outcome, TimerId, Value};

use super::Saga;
use super::message::{Ending, Msg, SagaId, Timer, Transfer};
use crate::commit::{Layout, Request};

#[derive(Clone, Debug)]
enum Pending {
    Transfer {
        op: OpId,
        saga: SagaId,
        transfer: Transfer,
        argument: Value,
    },
    Read {
        op: OpId,
        read: u64,
        initial: i64,
        accounts: u64,
        asks: Vec<(NodeId, Vec<u64>)>,
        got: BTreeMap<u64, i64>,
    },
}

/// A client of the saga bank.
#[derive(Debug)]
pub struct SagaClient {
    layout: Layout,
    orchestrator: usize,
    resend: Duration,
    seq: u64,
    pending: Option<Pending>,
    timer: Option<TimerId>,
}

fn int(value: &Value, index: usize) -> Option<i64> {
    value.as_list()?.get(index)?.as_int()
}

impl SagaClient {
    /// A client that starts with the first orchestrator.
    pub fn new(config: &Saga, cluster: &Cluster) -> SagaClient {
        let layout = Layout::new(config.orchestrators, cluster);
        SagaClient {
            layout,
            orchestrator: 0,
            resend: config.client_resend,
            seq: 0,
            pending: None,
            timer: None,
        }
    }

    /// The pending operation for workload operation `op`, if the bank knows it.
    /// Saga ids name the client, so two clients never share one.
    fn pending(&mut self, client: NodeId, id: OpId, op: &Op) -> Option<Pending> {
        let v = &op.value;
        self.seq += 1;
        match op.f.as_str() {
            "transfer" => {
                let (from, to) = (u64::try_from(int(v, 0)?).ok()?, u64::try_from(int(v, 1)?).ok()?);
                let transfer = Transfer { from, to, amount: int(v, 2)? };
                let saga = SagaId { client: client.0, seq: self.seq };
                Some(Pending::Transfer { op: id, saga, transfer, argument: v.clone() })
            }
            "read-all" => {
                let accounts = u64::try_from(int(v, 0)?).ok()?;
                let plan = self.layout.plan(&Request::ReadAll { accounts });
                let asks = plan.into_iter().map(|(node, work)| (node, work.reads)).collect();
                Some(Pending::Read {
                    op: id,
                    read: self.seq,
                    initial: int(v, 1)?,
                    accounts,
                    asks,
                    got: BTreeMap::new(),
                })
            }
            _ => None,
        }
    }

    /// Sends (again) what the pending operation waits on, and arms the resend.
    fn send(&mut self, ctx: &mut Context<'_, Saga>) {
        let timer = match self.pending.as_ref() {
            Some(Pending::Transfer { saga, transfer, .. }) => {
                let to = self.layout.coordinators[self.orchestrator];
                ctx.send(to, Msg::Begin { saga: *saga, transfer: *transfer });
                Timer::Resend { saga: *saga }
            }
            Some(Pending::Read { read, asks, got, .. }) => {
                for (shard, accounts) in asks.iter().filter(|(_, a)| a.iter().any(|a| !got.contains_key(a))) {
                    ctx.send(*shard, Msg::Read { read: *read, accounts: accounts.clone() });
                }
                Timer::Reread { read: *read }
            }
            None => return,
        };
        self.timer = Some(ctx.set_timer(self.resend, timer));
    }

    fn finish(&mut self, ctx: &mut Context<'_, Saga>, op: OpId, outcome: Outcome) {
        if let Some(timer) = self.timer.take() {
            ctx.cancel_timer(timer);
        }
        self.pending = None;
        ctx.complete(op, outcome);
    }

    fn on_reply(&mut self, ctx: &mut Context<'_, Saga>, saga: SagaId, ending: Ending) {
        let Some(Pending::Transfer { op, saga: mine, argument, .. }) = self.pending.clone() else { return };
        if mine != saga {
            return;
        }
        let outcome = match ending {
            Ending::Completed => Outcome::Ok(argument),
            Ending::Compensated => Outcome::Fail("compensated: the money did not move".into()),
            Ending::Refused => Outcome::Fail("refused: the debit would overdraw".into()),
        };
        self.finish(ctx, op, outcome);
    }

    fn on_balances(&mut self, ctx: &mut Context<'_, Saga>, read: u64, balances: Vec<(u64, i64)>) {
        let Some(Pending::Read { op, read: mine, initial, accounts, got, .. }) = self.pending.as_mut() else {
            return;
        };
        if *mine != read {
            return;
        }
        got.extend(balances);
        let all: Option<Vec<Value>> =
            (0..*accounts).map(|a| got.get(&a).map(|d| Value::Int(*initial + d))).collect();
        if let Some(all) = all {
            let op = *op;
            self.finish(ctx, op, Outcome::Ok(Value::List(all)));
        }
    }
}

impl Client<Saga> for SagaClient {
    fn on_invoke(&mut self, ctx: &mut Context<'_, Saga>, id: OpId, op: Op) {
        match self.pending(ctx.id(), id, &op) {
            Some(pending) => {
                self.pending = Some(pending);
                self.send(ctx);
            }
            None => ctx.complete(id, Outcome::Fail(format!("the bank cannot perform {:?}", op.f))),
        }
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Saga>, _from: NodeId, msg: Msg) {
        match msg {
            Msg::Reply { saga, ending } => self.on_reply(ctx, saga, ending),
            Msg::Balances { read, balances } => self.on_balances(ctx, read, balances),
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Saga>, id: TimerId, _timer: Timer) {
        if self.timer == Some(id) {
            self.send(ctx);
        }
    }

    fn on_timeout(&mut self, ctx: &mut Context<'_, Saga>, _id: OpId) {
        if let Some(timer) = self.timer.take() {
            ctx.cancel_timer(timer);
        }
        if matches!(self.pending.take(), Some(Pending::Transfer { .. })) {
            self.orchestrator = (self.orchestrator + 1) % self.layout.coordinators.len();
        }
    }
}
