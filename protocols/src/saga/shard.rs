//! A shard: holds accounts and applies saga steps, each exactly once.
//!
//! Durable records: `bal/<account>` (balance change since the start) and
//! `step/<saga>/<step>` (the step's [`StepRecord`]). A step is applied,
//! refused, undone or cancelled only after both are synced, so a restarted
//! shard answers a retried request exactly as it answered the first.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sim_core::{Context, NodeId, Protocol};

use super::message::{Msg, SagaId, Step, StepState};
use super::probe;

/// What a shard knows of one step: the request id is `(saga, step)`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepRecord {
    /// The saga.
    pub saga: SagaId,
    /// Which step.
    pub step: Step,
    /// The account it changes.
    pub account: u64,
    /// The change.
    pub delta: i64,
    /// The orchestrator that runs the saga.
    pub orchestrator: NodeId,
    /// Where it stands.
    pub state: StepState,
}

/// A shard's state.
#[derive(Clone, Debug, Default)]
pub struct Shard {
    opening: i64,
    balances: BTreeMap<u64, i64>,
    steps: BTreeMap<(SagaId, Step), StepRecord>,
    refund_again: bool,
}

fn key(saga: SagaId, step: Step) -> String {
    let tag = match step {
        Step::Debit => "d",
        Step::Credit => "c",
    };
    format!("step/{:06}.{:09}/{tag}", saga.client, saga.seq)
}

impl Shard {
    /// Rebuilds a shard from storage. `opening` is every account's opening
    /// balance (a debit may not take a balance below zero); `refund_again`
    /// plants the non-idempotent compensation.
    pub fn recover<P: Protocol>(ctx: &mut Context<'_, P>, opening: i64, refund_again: bool) -> Shard {
        let mut shard = Shard { opening, refund_again, ..Shard::default() };
        let storage = ctx.storage();
        for (name, delta) in storage.scan::<i64>("bal/").unwrap_or_default() {
            if let Ok(account) = name["bal/".len()..].parse() {
                shard.balances.insert(account, delta);
            }
        }
        for (_, record) in storage.scan::<StepRecord>("step/").unwrap_or_default() {
            shard.steps.insert((record.saga, record.step), record);
        }
        shard
    }

    /// Balance changes since the start, by account.
    pub fn balances(&self) -> &BTreeMap<u64, i64> {
        &self.balances
    }

    /// Every step this shard has heard of, by request id.
    pub fn steps(&self) -> &BTreeMap<(SagaId, Step), StepRecord> {
        &self.steps
    }

    fn balance(&self, account: u64) -> i64 {
        self.balances.get(&account).copied().unwrap_or(0)
    }

    /// Changes `account` by `delta` and stores the new balance (unsynced).
    fn add<P: Protocol>(&mut self, ctx: &mut Context<'_, P>, account: u64, delta: i64) {
        let balance = self.balance(account) + delta;
        self.balances.insert(account, balance);
        ctx.storage().put(&format!("bal/{account}"), &balance);
    }

    /// Stores `record`, syncs, and tells the orchestrator where it stands.
    fn settle<P: Protocol<Msg = Msg>>(&mut self, ctx: &mut Context<'_, P>, record: StepRecord) {
        ctx.storage().put(&key(record.saga, record.step), &record);
        ctx.storage().sync();
        let reply = Msg::Stepped { saga: record.saga, step: record.step, state: record.state };
        ctx.send(record.orchestrator, reply);
        self.steps.insert((record.saga, record.step), record);
    }

    /// Handles `Do`: a step seen before is only answered again.
    pub fn on_do<P: Protocol<Msg = Msg>>(
        &mut self,
        ctx: &mut Context<'_, P>,
        from: NodeId,
        request: StepRecord,
    ) {
        if let Some(known) = self.steps.get(&(request.saga, request.step)) {
            let reply = Msg::Stepped { saga: known.saga, step: known.step, state: known.state };
            ctx.send(from, reply);
            return;
        }
        let overdraws = request.delta < 0 && self.opening + self.balance(request.account) + request.delta < 0;
        let state = if overdraws { StepState::Refused } else { StepState::Applied };
        if state.is_applied() {
            self.add(ctx, request.account, request.delta);
        }
        self.settle(ctx, StepRecord { orchestrator: from, state, ..request });
    }

    /// Handles `Undo`: reverses an applied step once; an unknown step is
    /// cancelled so that its `Do`, if still on the way, is refused.
    pub fn on_undo<P: Protocol<Msg = Msg>>(
        &mut self,
        ctx: &mut Context<'_, P>,
        from: NodeId,
        request: StepRecord,
    ) {
        let known = self.steps.get(&(request.saga, request.step)).cloned();
        match known.as_ref().map(|r| r.state) {
            None => ctx.probe(probe::UNDO_BEFORE_DO),
            Some(StepState::Undone) => ctx.probe(probe::COMPENSATION_RETRIED),
            Some(_) => {}
        }
        let record = match known {
            None => StepRecord { orchestrator: from, state: StepState::Cancelled, ..request },
            Some(r)
                if r.state == StepState::Applied || (self.refund_again && r.state == StepState::Undone) =>
            {
                // (non-idempotent-compensation) An undone step is reversed again.
                self.add(ctx, r.account, -r.delta);
                StepRecord { state: StepState::Undone, ..r }
            }
            Some(r) => {
                ctx.send(from, Msg::Stepped { saga: r.saga, step: r.step, state: r.state });
                return;
            }
        };
        self.settle(ctx, record);
    }

    /// The current balance changes of `accounts`.
    pub fn read(&self, accounts: &[u64]) -> Vec<(u64, i64)> {
        accounts.iter().map(|&a| (a, self.balance(a))).collect()
    }
}
