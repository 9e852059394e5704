//! The orchestrator: runs each transfer as a debit step then a credit step,
//! and compensates what was done when the saga cannot finish in time.
//!
//! Durable records: `saga/<id>` (the saga's [`SagaRecord`]), rewritten and
//! synced at every change of phase *before* the next request leaves, so a
//! restarted orchestrator knows every step it may have asked for. With the
//! planted `forget-progress` nothing is written: a restart forgets every saga.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sim_core::{Context, Duration, NodeId, Protocol, Time};

use super::message::{Ending, Msg, SagaId, Step, StepState, Transfer};
use super::probe;
use crate::commit::Layout;

/// Where a saga stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Asking for the debit.
    Debiting,
    /// The debit is applied; asking for the credit.
    Crediting,
    /// Reversing, in this order, the steps that may have been applied.
    Compensating(Vec<Step>),
    /// Ended; the client has been (or will be, on asking) told how.
    Ended(Ending),
}

/// An orchestrator's durable knowledge of one saga.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SagaRecord {
    /// The saga.
    pub saga: SagaId,
    /// The client to answer.
    pub client: NodeId,
    /// What it moves.
    pub transfer: Transfer,
    /// Where it stands.
    pub phase: Phase,
    /// When the orchestrator began it: compensation starts at `began + deadline`.
    pub began: Time,
}

impl SagaRecord {
    /// How the saga ended, if it has.
    pub fn ending(&self) -> Option<Ending> {
        match self.phase {
            Phase::Ended(ending) => Some(ending),
            _ => None,
        }
    }
}

/// An orchestrator's state.
#[derive(Clone, Debug)]
pub struct Orchestrator {
    sagas: BTreeMap<SagaId, SagaRecord>,
    layout: Layout,
    deadline: Duration,
    log: bool,
}

fn key(saga: SagaId) -> String {
    format!("saga/{:06}.{:09}", saga.client, saga.seq)
}

impl Orchestrator {
    /// Rebuilds an orchestrator from its log (nothing, if `log` is off).
    pub fn recover<P: Protocol>(
        ctx: &mut Context<'_, P>,
        layout: Layout,
        deadline: Duration,
        log: bool,
    ) -> Orchestrator {
        let mut sagas = BTreeMap::new();
        if log {
            for (_, record) in ctx.storage().scan::<SagaRecord>("saga/").unwrap_or_default() {
                sagas.insert(record.saga, record);
            }
        }
        if sagas.values().any(|r| r.ending().is_none()) {
            ctx.probe(probe::ORCHESTRATOR_RESUMES);
        }
        Orchestrator { sagas, layout, deadline, log }
    }

    /// Every saga this incarnation knows, by id.
    pub fn sagas(&self) -> &BTreeMap<SagaId, SagaRecord> {
        &self.sagas
    }

    /// Handles a client's `Begin`: starts an unknown saga, answers an ended one.
    pub fn on_begin<P: Protocol<Msg = Msg>>(
        &mut self,
        ctx: &mut Context<'_, P>,
        client: NodeId,
        saga: SagaId,
        transfer: Transfer,
    ) {
        match self.sagas.get(&saga).map(SagaRecord::ending) {
            Some(Some(ending)) => ctx.send(client, Msg::Reply { saga, ending }),
            Some(None) => {}
            None => {
                let began = ctx.now();
                self.enter(ctx, SagaRecord { saga, client, transfer, phase: Phase::Debiting, began });
            }
        }
    }

    /// Logs `record` (synced), keeps it, and sends what its phase asks for.
    fn enter<P: Protocol<Msg = Msg>>(&mut self, ctx: &mut Context<'_, P>, record: SagaRecord) {
        if self.log {
            ctx.storage().put(&key(record.saga), &record);
            ctx.storage().sync();
        }
        self.send(ctx, &record);
        self.sagas.insert(record.saga, record);
    }

    /// Sends the request `record`'s phase waits on, or the client's reply.
    fn send<P: Protocol<Msg = Msg>>(&self, ctx: &mut Context<'_, P>, record: &SagaRecord) {
        let saga = record.saga;
        let request = |step: Step, undo: bool| {
            let (account, delta) = record.transfer.change(step);
            if undo {
                Msg::Undo { saga, step, account, delta }
            } else {
                Msg::Do { saga, step, account, delta }
            }
        };
        let (step, msg) = match &record.phase {
            Phase::Debiting => (Step::Debit, request(Step::Debit, false)),
            Phase::Crediting => (Step::Credit, request(Step::Credit, false)),
            Phase::Compensating(steps) => match steps.first() {
                Some(&step) => (step, request(step, true)),
                None => return,
            },
            Phase::Ended(ending) => {
                ctx.send(record.client, Msg::Reply { saga, ending: *ending });
                return;
            }
        };
        let (account, _) = record.transfer.change(step);
        ctx.send(self.layout.shard_of(account), msg);
    }

    /// Handles a shard's report on one step; stale reports change nothing.
    pub fn on_stepped<P: Protocol<Msg = Msg>>(
        &mut self,
        ctx: &mut Context<'_, P>,
        saga: SagaId,
        step: Step,
        state: StepState,
    ) {
        let Some(record) = self.sagas.get(&saga) else { return };
        let next = match (&record.phase, step, state) {
            (Phase::Debiting, Step::Debit, StepState::Applied) => Phase::Crediting,
            (Phase::Debiting, Step::Debit, StepState::Refused) => Phase::Ended(Ending::Refused),
            (Phase::Crediting, Step::Credit, StepState::Applied) => Phase::Ended(Ending::Completed),
            (Phase::Compensating(steps), _, _) if steps.first() == Some(&step) && !state.is_applied() => {
                match &steps[1..] {
                    [] => Phase::Ended(Ending::Compensated),
                    rest => Phase::Compensating(rest.to_vec()),
                }
            }
            _ => return,
        };
        let record = SagaRecord { phase: next, ..record.clone() };
        self.enter(ctx, record);
    }

    /// Resends what every running saga waits on; a saga past its deadline
    /// starts compensating, the last step it may have applied first.
    pub fn on_tick<P: Protocol<Msg = Msg>>(&mut self, ctx: &mut Context<'_, P>) {
        let now = ctx.now();
        let running: Vec<SagaRecord> =
            self.sagas.values().filter(|r| r.ending().is_none()).cloned().collect();
        for record in running {
            let late = now.since(record.began) >= self.deadline;
            let undo = match record.phase {
                Phase::Debiting if late => vec![Step::Debit],
                Phase::Crediting if late => vec![Step::Credit, Step::Debit],
                _ => {
                    self.send(ctx, &record);
                    continue;
                }
            };
            ctx.probe(probe::COMPENSATION_STARTS);
            self.enter(ctx, SagaRecord { phase: Phase::Compensating(undo), ..record });
        }
    }
}
