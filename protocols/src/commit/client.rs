//! The bank client: one transaction per operation, sent to one coordinator.
//!
//! It resends `Begin` (same transaction) until the coordinator answers; an
//! abort is certain, so it retries the operation as a new transaction after
//! a short random pause, until the engine's operation timeout records `info`.
//! After a timeout it moves to the next coordinator for later operations.

use std::collections::BTreeMap;
use std::marker::PhantomData;

use sim_core::{Client, Cluster, Context, Duration, NodeId, Op, OpId, Outcome, TimerId, Value};

use super::Variant;
use super::layout::Layout;
use super::message::{Decision, Msg, Reads, Request, Timer, TxnId};

#[derive(Clone, Debug)]
struct Pending {
    op: OpId,
    txn: TxnId,
    request: Request,
    argument: Value,
    initial: i64,
    timer: TimerId,
}

/// A client of the bank.
#[derive(Debug)]
pub struct BankClient<V> {
    coordinators: Vec<NodeId>,
    coordinator: usize,
    resend: Duration,
    seq: u64,
    pending: Option<Pending>,
    _variant: PhantomData<V>,
}

fn int(value: &Value, index: usize) -> Option<i64> {
    value.as_list()?.get(index)?.as_int()
}

/// The request for a workload operation and, for `read-all`, the initial balance.
fn request(op: &Op) -> Option<(Request, i64)> {
    let v = &op.value;
    match op.f.as_str() {
        "transfer" => {
            let (from, to, amount) = (int(v, 0)?, int(v, 1)?, int(v, 2)?);
            Some((
                Request::Transfer { from: u64::try_from(from).ok()?, to: u64::try_from(to).ok()?, amount },
                0,
            ))
        }
        "read-all" => Some((Request::ReadAll { accounts: u64::try_from(int(v, 0)?).ok()? }, int(v, 1)?)),
        _ => None,
    }
}

impl<V: Variant> BankClient<V> {
    /// A client that starts with the first coordinator.
    pub fn new(config: &V, _id: NodeId, cluster: &Cluster) -> BankClient<V> {
        let layout = Layout::new(config.settings().coordinators, cluster);
        BankClient {
            coordinators: layout.coordinators,
            coordinator: 0,
            resend: config.settings().client_resend,
            seq: 0,
            pending: None,
            _variant: PhantomData,
        }
    }

    fn begin(&mut self, ctx: &mut Context<'_, V>) {
        let Some(p) = self.pending.as_mut() else { return };
        let to = self.coordinators[self.coordinator];
        ctx.send(to, Msg::Begin { txn: p.txn, request: p.request.clone() });
        p.timer = ctx.set_timer(self.resend, Timer::Resend { txn: p.txn });
    }

    fn next_txn(&mut self, ctx: &Context<'_, V>) -> TxnId {
        self.seq += 1;
        TxnId { client: ctx.id().0, seq: self.seq }
    }

    /// The operation's result if `reads` make it whole.
    fn result(p: &Pending, reads: &Reads) -> Option<Value> {
        match p.request {
            Request::Transfer { .. } => Some(p.argument.clone()),
            Request::ReadAll { accounts } => {
                let by_account: BTreeMap<u64, i64> = reads.iter().copied().collect();
                let balances: Option<Vec<Value>> =
                    (0..accounts).map(|a| by_account.get(&a).map(|d| Value::Int(p.initial + d))).collect();
                balances.map(Value::List)
            }
        }
    }

    fn on_reply(&mut self, ctx: &mut Context<'_, V>, txn: TxnId, decision: Decision, reads: Reads) {
        let Some(p) = self.pending.as_ref().filter(|p| p.txn == txn) else { return };
        let result = (decision == Decision::Commit).then(|| Self::result(p, &reads)).flatten();
        ctx.cancel_timer(p.timer);
        match result {
            Some(value) => {
                let op = p.op;
                self.pending = None;
                ctx.complete(op, Outcome::Ok(value));
            }
            None => {
                let pause = Duration::from_millis(ctx.rng().between(1, 20));
                let timer = ctx.set_timer(pause, Timer::Retry { txn });
                if let Some(p) = self.pending.as_mut() {
                    p.timer = timer;
                }
            }
        }
    }
}

impl<V: Variant> Client<V> for BankClient<V> {
    fn on_invoke(&mut self, ctx: &mut Context<'_, V>, id: OpId, op: Op) {
        let Some((request, initial)) = request(&op) else {
            ctx.complete(id, Outcome::Fail(format!("the bank cannot perform {}", op.f)));
            return;
        };
        let txn = self.next_txn(ctx);
        self.pending = Some(Pending { op: id, txn, request, argument: op.value, initial, timer: TimerId(0) });
        self.begin(ctx);
    }

    fn on_message(&mut self, ctx: &mut Context<'_, V>, _from: NodeId, msg: Msg) {
        if let Msg::Reply { txn, decision, reads } = msg {
            self.on_reply(ctx, txn, decision, reads);
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, V>, _id: TimerId, timer: Timer) {
        let current = self.pending.as_ref().map(|p| p.txn);
        match timer {
            Timer::Resend { txn } if current == Some(txn) => self.begin(ctx),
            Timer::Retry { txn } if current == Some(txn) => {
                let fresh = self.next_txn(ctx);
                if let Some(p) = self.pending.as_mut() {
                    p.txn = fresh;
                }
                self.begin(ctx);
            }
            _ => {}
        }
    }

    fn on_timeout(&mut self, ctx: &mut Context<'_, V>, _id: OpId) {
        if let Some(p) = self.pending.take() {
            ctx.cancel_timer(p.timer);
        }
        self.coordinator = (self.coordinator + 1) % self.coordinators.len();
    }
}
