//! The saga bank's checks of a finished run: every saga ended all-or-nothing
//! (and the run drained), money is conserved, and how often a read saw a
//! transfer half done — measured, not judged.

use std::collections::BTreeMap;

use sim_core::{ClusterView, Duration, NodeId, RecordType, RunReport, Time, Value};

use super::Saga;
use super::message::{Ending, SagaId, Step, Transfer};
use super::orchestrator::SagaRecord;
use super::shard::{Shard, StepRecord};
use crate::commit::Layout;
use sim_core::Judgement;

/// How long after the last repair every saga must have ended.
pub const SETTLE: Duration = Duration::from_millis(1000);

/// What the servers up at the end know: shards, step records, sagas.
struct Final<'a> {
    shards: Vec<(NodeId, &'a Shard)>,
    shards_total: usize,
    /// Where each account lives, if any server is up to say.
    layout: Option<Layout>,
    /// Up orchestrators, and every saga each knows.
    orchestrators: BTreeMap<NodeId, &'a BTreeMap<SagaId, SagaRecord>>,
    steps: BTreeMap<SagaId, Vec<&'a StepRecord>>,
}

impl<'a> Final<'a> {
    fn gather(view: &ClusterView<'a, Saga>) -> Final<'a> {
        let shards: Vec<(NodeId, &Shard)> =
            view.servers().filter_map(|(id, s)| s.shard().map(|p| (id, p))).collect();
        let orchestrators =
            view.servers().filter_map(|(id, s)| s.orchestrator().map(|o| (id, o.sagas()))).collect();
        let mut steps: BTreeMap<SagaId, Vec<&StepRecord>> = BTreeMap::new();
        for record in shards.iter().flat_map(|(_, s)| s.steps().values()) {
            steps.entry(record.saga).or_default().push(record);
        }
        let layout = view.servers().next().map(|(_, s)| s.layout().clone());
        let shards_total = layout.as_ref().map_or(0, |l| l.shards.len());
        Final { shards, shards_total, layout, orchestrators, steps }
    }

    /// Whether a shard the transfer touches is down: its saga cannot finish,
    /// not even by compensating, until that shard is back.
    fn blocked(&self, transfer: &Transfer) -> bool {
        let up = |account| {
            self.layout.as_ref().is_some_and(|l| self.shards.iter().any(|(id, _)| *id == l.shard_of(account)))
        };
        !(up(transfer.from) && up(transfer.to))
    }

    fn complete(&self) -> bool {
        self.shards.len() == self.shards_total
    }

    /// The saga's record at its (up) orchestrator: `None` if that
    /// orchestrator is down, `Some(None)` if it is up and does not know it.
    fn record(&self, orchestrator: NodeId, saga: SagaId) -> Option<Option<&'a SagaRecord>> {
        self.orchestrators.get(&orchestrator).map(|sagas| sagas.get(&saga))
    }

    /// Balance change of the saga's steps still applied at the shards.
    fn applied(&self, saga: SagaId) -> i64 {
        self.steps.get(&saga).map_or(0, |s| s.iter().filter(|r| r.state.is_applied()).map(|r| r.delta).sum())
    }
}

fn judgement(name: &str, pass: Option<bool>, detail: String, at: Option<Time>) -> Judgement {
    match pass {
        Some(true) => Judgement::pass(name, detail),
        Some(false) => Judgement::fail(name, detail, at),
        None => Judgement::unknown(name, detail),
    }
}

/// Saga outcome, conservation and the isolation measure.
pub fn judge(config: &Saga, report: &RunReport, view: &ClusterView<'_, Saga>) -> Vec<Judgement> {
    let state = Final::gather(view);
    vec![outcomes(report, &state), conservation(config, report, &state), isolation(report)]
}

/// When the last fault was repaired, if the run ended at least [`SETTLE`]
/// later with nothing left broken: then every saga must have ended.
fn settled(report: &RunReport) -> Option<Time> {
    let applied = &report.schedule.entries()[..report.faults_applied];
    let at = match applied.last() {
        Some(last) if !last.fault.is_repair() => return None,
        Some(last) => last.at,
        None => Time::ZERO,
    };
    (report.time.since(at) >= SETTLE).then_some(at)
}

/// Whether a step's state at its shard contradicts how its saga ended.
fn disagrees(ending: Ending, record: &StepRecord) -> bool {
    (ending == Ending::Completed) != record.state.is_applied()
}

/// Every saga an orchestrator ended agrees with its steps at the shards; no
/// applied step belongs to a saga its (up) orchestrator forgot; and once the
/// faults are repaired, nothing is still running.
fn outcomes(report: &RunReport, state: &Final<'_>) -> Judgement {
    let fail = |detail: String, at| judgement("saga-outcome", Some(false), detail, at);
    let settled = settled(report);
    let mut ended: BTreeMap<Ending, usize> = BTreeMap::new();
    let mut running = 0;
    for sagas in state.orchestrators.values() {
        for record in sagas.values() {
            let Some(ending) = record.ending() else {
                let overdue = report.time.since(record.began) >= SETTLE;
                if settled.is_some() && overdue && !state.blocked(&record.transfer) {
                    return fail(
                        format!("{} still running at the end, begun at {}", record.saga, record.began),
                        Some(record.began + SETTLE),
                    );
                }
                running += 1;
                continue;
            };
            *ended.entry(ending).or_default() += 1;
            let steps = state.steps.get(&record.saga).map_or(&[][..], Vec::as_slice);
            if let Some(step) = steps.iter().find(|s| disagrees(ending, s)) {
                let detail =
                    format!("{} ended {ending:?} but its {:?} is {:?}", record.saga, step.step, step.state);
                return fail(detail, Some(report.time));
            }
            if ending == Ending::Completed && steps.len() < 2 && state.complete() {
                return fail(
                    format!("{} ended Completed but a shard never heard of one step", record.saga),
                    Some(report.time),
                );
            }
        }
    }
    for (saga, steps) in &state.steps {
        let applied: Vec<&&StepRecord> = steps.iter().filter(|s| s.state.is_applied()).collect();
        // Both steps applied is a completed saga, even if forgotten; one is half a transfer.
        let [step] = applied.as_slice() else { continue };
        if state.record(step.orchestrator, *saga) == Some(None) {
            let other =
                if step.step == Step::Debit { "credited nor refunded" } else { "debited nor reversed" };
            let detail = format!(
                "{saga}: {:?} of {} on account {} applied, never {other}; orchestrator {} has no record of it",
                step.step,
                step.delta.abs(),
                step.account,
                step.orchestrator
            );
            return fail(detail, settled.map(|t| t + SETTLE).or(Some(report.time)));
        }
    }
    let count = |e| ended.get(&e).copied().unwrap_or(0);
    let detail = format!(
        "{} completed, {} compensated, {} refused, {running} still running{}",
        count(Ending::Completed),
        count(Ending::Compensated),
        count(Ending::Refused),
        if settled.is_some() { "; drained" } else { "" }
    );
    judgement("saga-outcome", Some(true), detail, None)
}

/// The final balances sum to the opening total, once the steps of sagas
/// still running (or whose orchestrator is down) are set aside.
fn conservation(config: &Saga, report: &RunReport, state: &Final<'_>) -> Judgement {
    let unknown = |detail: String| judgement("conservation", None, detail, None);
    if let Some(opening) =
        read_alls(report).iter().map(|(argument, _)| argument[1]).find(|&o| o != config.opening_balance)
    {
        return unknown(format!(
            "the workload's initial_balance {opening} is not the protocol's opening_balance {}",
            config.opening_balance
        ));
    }
    if !state.complete() {
        return unknown(format!(
            "{} of {} shards up at the end: the final balances are unknown",
            state.shards.len(),
            state.shards_total
        ));
    }
    let mut sum: i64 = state.shards.iter().flat_map(|(_, s)| s.balances().values()).sum();
    let mut aside = 0;
    for (saga, steps) in &state.steps {
        let orchestrator = steps[0].orchestrator;
        let pending = match state.record(orchestrator, *saga) {
            None => true,
            Some(record) => record.is_some_and(|r| r.ending().is_none()),
        };
        if pending {
            sum -= state.applied(*saga);
            aside += 1;
        }
    }
    if sum != 0 {
        return judgement(
            "conservation",
            Some(false),
            format!("the final balances are off by {sum}"),
            Some(report.time),
        );
    }
    judgement(
        "conservation",
        Some(true),
        format!("final balances conserve money ({aside} unfinished sagas set aside)"),
        None,
    )
}

/// Every `ok` read-all as (its argument `[accounts, initial]`, its balances).
fn read_alls(report: &RunReport) -> Vec<([i64; 2], Vec<i64>)> {
    let list =
        |v: &Value| -> Vec<i64> { v.as_list().unwrap_or(&[]).iter().filter_map(Value::as_int).collect() };
    let operations = report.history.operations().unwrap_or_default();
    operations
        .iter()
        .filter(|op| op.f == "read-all" && op.kind == RecordType::Ok)
        .map(|op| {
            let argument = list(&op.argument);
            (
                [argument.first().copied().unwrap_or(0), argument.get(1).copied().unwrap_or(0)],
                list(&op.result),
            )
        })
        .collect()
}

/// Of the `ok` read-alls, how many did not sum to the bank's total (each saw
/// at least one transfer half done), and how many there were. Any bank
/// history will do: 2PC's and Paxos Commit's too.
pub fn half_done_reads(report: &RunReport) -> (usize, usize) {
    let reads = read_alls(report);
    let off = reads
        .iter()
        .filter(|([accounts, initial], balances)| balances.iter().sum::<i64>() != accounts * initial)
        .count();
    (off, reads.len())
}

/// The isolation anomaly, measured: a saga's intermediate states are visible.
pub fn isolation(report: &RunReport) -> Judgement {
    let (off, reads) = half_done_reads(report);
    let percent = if reads == 0 { 0.0 } else { off as f64 * 100.0 / reads as f64 };
    let detail =
        format!("{off} of {reads} read-alls ({percent:.1}%) saw a transfer half done (measured, not judged)");
    judgement("isolation", Some(true), detail, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::saga::{Phase, StepState};
    use sim_core::{FaultSchedule, History, NetStats, Probes, RunEnd, Seed};

    const SAGA: SagaId = SagaId { client: 9, seq: 1 };
    const TRANSFER: Transfer = Transfer { from: 0, to: 1, amount: 5 };

    fn report(end_ms: u64) -> RunReport {
        RunReport {
            seed: Seed(0),
            end: RunEnd::Finished,
            time: Time::ZERO + Duration::from_millis(end_ms),
            events: 0,
            trace_hash: 0,
            net: NetStats::default(),
            schedule: FaultSchedule::new(),
            faults_applied: 0,
            probes: Probes::new(),
            history: History::new(),
            trace: None,
        }
    }

    fn saga(phase: Phase, began_ms: u64) -> BTreeMap<SagaId, SagaRecord> {
        let began = Time::ZERO + Duration::from_millis(began_ms);
        BTreeMap::from([(
            SAGA,
            SagaRecord { saga: SAGA, client: NodeId(9), transfer: TRANSFER, phase, began },
        )])
    }

    fn step(step: Step, state: StepState) -> StepRecord {
        let (account, delta) = TRANSFER.change(step);
        StepRecord { saga: SAGA, step, account, delta, orchestrator: NodeId(0), state }
    }

    /// What the servers know: orchestrator n0 with `sagas`, shards n1 and n2
    /// (accounts 0 and 1, both up) with `steps`.
    fn known<'a>(
        sagas: &'a BTreeMap<SagaId, SagaRecord>,
        steps: &'a [StepRecord],
        shard: &'a Shard,
    ) -> Final<'a> {
        Final {
            shards: vec![(NodeId(1), shard), (NodeId(2), shard)],
            shards_total: 2,
            layout: Some(Layout { coordinators: vec![NodeId(0)], shards: vec![NodeId(1), NodeId(2)] }),
            orchestrators: BTreeMap::from([(NodeId(0), sagas)]),
            steps: BTreeMap::from([(SAGA, steps.iter().collect())]),
        }
    }

    #[test]
    fn a_saga_still_running_long_after_the_last_repair_fails() {
        let sagas = saga(Phase::Crediting, 100);
        let steps = [step(Step::Debit, StepState::Applied)];
        let shard = Shard::default();
        let late = outcomes(&report(2000), &known(&sagas, &steps, &shard));
        assert_eq!(late.status, sim_core::Status::Fail);
        assert!(late.detail.starts_with("t9.1 still running"), "{}", late.detail);
        let young = outcomes(&report(2000), &known(&saga(Phase::Crediting, 1500), &steps, &shard));
        assert_eq!(young.status, sim_core::Status::Pass, "{}", young.detail);
        assert!(young.detail.ends_with("1 still running; drained"), "{}", young.detail);
        // With the credited account's shard down, not even compensation can finish.
        let mut blocked = known(&sagas, &steps, &shard);
        blocked.shards.pop();
        assert_eq!(outcomes(&report(2000), &blocked).status, sim_core::Status::Pass);
    }

    #[test]
    fn an_ending_that_contradicts_a_step_fails() {
        let sagas = saga(Phase::Ended(Ending::Completed), 100);
        let steps = [step(Step::Debit, StepState::Applied), step(Step::Credit, StepState::Undone)];
        let broken = outcomes(&report(300), &known(&sagas, &steps, &Shard::default()));
        assert_eq!(broken.detail, "t9.1 ended Completed but its Credit is Undone");
        let sagas = saga(Phase::Ended(Ending::Compensated), 100);
        let steps = [step(Step::Debit, StepState::Undone), step(Step::Credit, StepState::Cancelled)];
        assert_eq!(
            outcomes(&report(300), &known(&sagas, &steps, &Shard::default())).status,
            sim_core::Status::Pass
        );
    }

    #[test]
    fn half_a_transfer_its_orchestrator_forgot_fails_but_a_whole_one_does_not() {
        let none = BTreeMap::new();
        let half = [step(Step::Debit, StepState::Applied), step(Step::Credit, StepState::Cancelled)];
        let forgotten = outcomes(&report(300), &known(&none, &half, &Shard::default()));
        assert_eq!(forgotten.status, sim_core::Status::Fail);
        assert!(forgotten.detail.contains("Debit of 5 on account 0 applied, never credited nor refunded"));
        let whole = [step(Step::Debit, StepState::Applied), step(Step::Credit, StepState::Applied)];
        assert_eq!(
            outcomes(&report(300), &known(&none, &whole, &Shard::default())).status,
            sim_core::Status::Pass
        );
    }
}
