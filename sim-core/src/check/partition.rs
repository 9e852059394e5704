//! Split a history into independent parts (P-compositionality), check the
//! parts on all cores, and assemble one deterministic report.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::check::linear::{Allowance, GaveUp, Outcome, PartOp, Pause, Progress, Search, Stuck};
use crate::check::model::{Interner, Model, ModelError, Prepared};
use crate::check::verdict::{OpRef, PartReport, Report, Verdict, Violation};
use crate::history::{History, HistoryError, Operation};

/// How much a whole check may spend before answering `Unknown`.
///
/// Every bound counts what the search does, never wall time, so a verdict
/// under a budget is the same on every machine and at every thread count.
/// The bounds are for the whole check: they are shared among the parts
/// still undecided, in equal shares, round after round (see `run_parts`).
#[derive(Clone, Debug)]
pub struct Budget {
    /// Configurations all parts together may visit.
    pub states_max: u64,
    /// Search steps all parts together may take: one per candidate tried
    /// plus one per memo word compared, so that the cost of long sets of
    /// `info` operations is counted, not only the configurations.
    pub steps_max: u64,
    /// Bytes the searches may hold at once (memo tables, their states and
    /// the search stacks), beyond the history itself.
    pub memory_max: usize,
    /// Set from outside (e.g. by a wall-clock timer) to stop every search.
    pub cancel: Option<Arc<AtomicBool>>,
}

impl Budget {
    /// The default bound on configurations (a few seconds of plain search).
    pub const STATES_MAX: u64 = 30_000_000;
    /// The default bound on steps: about five seconds of search on one
    /// laptop core (a hopeless history of 160 crashed writes stops at it).
    pub const STEPS_MAX: u64 = 1_000_000_000;
    /// The default bound on memory: 512 MiB (the conformance histories
    /// need under 100 MiB; a million open writes stop at it).
    pub const MEMORY_MAX: usize = 512 << 20;
}

impl Default for Budget {
    /// [`Budget::STATES_MAX`], [`Budget::STEPS_MAX`], [`Budget::MEMORY_MAX`]; no cancellation.
    fn default() -> Budget {
        Budget {
            states_max: Budget::STATES_MAX,
            steps_max: Budget::STEPS_MAX,
            memory_max: Budget::MEMORY_MAX,
            cancel: None,
        }
    }
}

/// Options of a linearizability check.
#[derive(Clone, Debug, Default)]
pub struct CheckOptions {
    /// The budget.
    pub budget: Budget,
    /// Worker threads; 0 means one per core.
    pub threads: usize,
}

/// Why a history could not be checked at all.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    /// The history breaks the rules of histories.
    #[error(transparent)]
    History(#[from] HistoryError),
    /// An operation does not fit the model.
    #[error("line {line}: {source}")]
    Model {
        /// 1-based line (record index + 1 until mapped) of the invocation.
        line: usize,
        /// What did not fit.
        source: ModelError,
    },
}

/// Checks a history for linearizability against `model`.
pub fn check_history<M: Model>(
    model: &M,
    history: &History,
    options: &CheckOptions,
) -> Result<Report, CheckError> {
    check(model, &history.operations()?, options)
}

/// Checks paired operations for linearizability against `model`.
pub fn check<M: Model>(model: &M, ops: &[Operation], options: &CheckOptions) -> Result<Report, CheckError> {
    let parts = prepare_parts(model, ops)?;
    let (outcomes, states) = run_parts(model, &parts, options);
    let skipped = ops.len() - parts.iter().map(|p| p.ops.len()).sum::<usize>();
    let parts: Vec<PartReport> = parts
        .iter()
        .zip(outcomes.into_iter().zip(states))
        .map(|(part, (outcome, states))| part_report(model, ops, part, states, outcome))
        .collect();
    let verdict =
        parts.iter().map(|p| p.verdict).max_by_key(|v| verdict_rank(*v)).unwrap_or(Verdict::Linearizable);
    Ok(Report {
        model: model.name().to_string(),
        verdict,
        operations: ops.len(),
        skipped,
        states: parts.iter().map(|p| p.states).sum(),
        parts,
    })
}

fn verdict_rank(verdict: Verdict) -> u8 {
    match verdict {
        Verdict::Linearizable => 0,
        Verdict::Unknown => 1,
        Verdict::NotLinearizable => 2,
    }
}

/// One independent part, prepared for the search.
struct Part<M: Model> {
    key: Option<crate::history::Value>,
    values: Interner,
    init: M::State,
    ops: Vec<PartOp<M::Op>>,
    /// For each part op, its index in the history's operations.
    origin: Vec<usize>,
}

fn prepare_parts<M: Model>(model: &M, ops: &[Operation]) -> Result<Vec<Part<M>>, CheckError> {
    let mut groups: BTreeMap<Option<crate::history::Value>, Vec<usize>> = BTreeMap::new();
    for (index, op) in ops.iter().enumerate() {
        groups.entry(model.part(op)).or_default().push(index);
    }
    groups.into_iter().map(|(key, members)| prepare_part(model, ops, key, &members)).collect()
}

fn prepare_part<M: Model>(
    model: &M,
    ops: &[Operation],
    key: Option<crate::history::Value>,
    members: &[usize],
) -> Result<Part<M>, CheckError> {
    let mut values = Interner::new();
    let init = model.init(&mut values);
    let mut part = Part { key, values: Interner::new(), init, ops: Vec::new(), origin: Vec::new() };
    for &index in members {
        let op = &ops[index];
        let prepared = model
            .prepare(op, &mut values)
            .map_err(|source| CheckError::Model { line: op.invoke_index + 1, source })?;
        if let Prepared::Op(prepared) = prepared {
            let ret = op.complete_index.filter(|_| op.kind != crate::history::RecordType::Info);
            part.ops.push(PartOp { op: prepared, call: op.invoke_index, ret });
            part.origin.push(index);
        }
    }
    part.values = values;
    Ok(part)
}

/// Each part's outcome; `None` where the search stopped early.
type Outcomes<S> = Vec<Option<Outcome<S>>>;

/// The first round's configurations per part; each round allows four times
/// more. The first round runs on the calling thread, in a fixed order, and
/// stops at the first part that is not linearizable: most parts of most
/// histories finish in it, and threads would cost more than they save.
/// Later rounds run every undecided part, on all cores.
const ROUND_FIRST: u64 = 1 << 10;
const ROUND_GROWTH: u64 = 4;

/// Searches every part, in rounds of growing budget so that the check can
/// stop as soon as one part is not linearizable. Each part's result depends
/// only on the round budgets, never on thread timing.
///
/// The budget is shared: in each round every undecided part may spend an
/// equal share of the states and steps left and of the memory. A part that
/// exceeds its memory share pauses and waits for parts to finish (an ended
/// search frees its memory); once no part can go on, or states or steps
/// run out, the undecided parts are `Unknown` with the reason.
fn run_parts<M: Model>(
    model: &M,
    parts: &[Part<M>],
    options: &CheckOptions,
) -> (Outcomes<M::State>, Vec<u64>) {
    let budget = &options.budget;
    let searches: Vec<Mutex<Search<'_, M>>> =
        parts.iter().map(|p| Mutex::new(Search::new(model, p.init.clone(), &p.ops))).collect();
    let mut outcomes: Vec<Option<Outcome<M::State>>> = vec![None; parts.len()];
    let mut until = if parts.len() == 1 { u64::MAX } else { ROUND_FIRST };
    loop {
        let mut undecided: Vec<usize> = (0..parts.len()).filter(|&i| outcomes[i].is_none()).collect();
        if undecided.is_empty() {
            break;
        }
        undecided.sort_by_key(|&i| std::cmp::Reverse(parts[i].ops.len()));
        let spent_states: u64 = searches.iter().map(|s| lock(s).states()).sum();
        let spent_steps: u64 = searches.iter().map(|s| lock(s).steps()).sum();
        let (states_left, steps_left) =
            (budget.states_max.saturating_sub(spent_states), budget.steps_max.saturating_sub(spent_steps));
        let share = |left: u64| left / undecided.len() as u64;
        if share(states_left) == 0 || share(steps_left) == 0 {
            let reason = if share(states_left) == 0 { GaveUp::States } else { GaveUp::Steps };
            undecided.iter().for_each(|&i| outcomes[i] = Some(Outcome::Unknown(reason)));
            break;
        }
        let shares = Shares {
            states: share(states_left),
            steps: share(steps_left),
            bytes: budget.memory_max / undecided.len(),
            until,
            cancel: budget.cancel.as_deref(),
        };
        let mut finished = false;
        let mut memory_paused = 0;
        for (i, progress) in run_round(&searches, &undecided, &shares, options.threads) {
            match progress {
                Progress::Done(outcome) => {
                    lock(&searches[i]).release();
                    outcomes[i] = Some(outcome);
                    finished = true;
                }
                Progress::Paused(Pause::Memory) => memory_paused += 1,
                Progress::Paused(_) => {}
            }
        }
        if outcomes.iter().any(|o| matches!(o, Some(Outcome::NotLinearizable(_)))) {
            break;
        }
        let searched = undecided.iter().filter(|&&i| outcomes[i].is_none()).count();
        if !finished && memory_paused == searched {
            undecided.iter().for_each(|&i| outcomes[i] = Some(Outcome::Unknown(GaveUp::Memory)));
            break;
        }
        until = until.saturating_mul(ROUND_GROWTH);
    }
    let states = searches.iter().map(|s| lock(s).states()).collect();
    (outcomes, states)
}

fn lock<'a, 'b, M: Model>(search: &'a Mutex<Search<'b, M>>) -> std::sync::MutexGuard<'a, Search<'b, M>> {
    search.lock().expect("no worker panicked")
}

/// What each undecided part may spend in one round.
struct Shares<'a> {
    /// Configurations beyond those already visited.
    states: u64,
    /// Steps beyond those already taken.
    steps: u64,
    /// Bytes held at once.
    bytes: usize,
    /// The round's bound on a part's configurations in total.
    until: u64,
    cancel: Option<&'a AtomicBool>,
}

impl Shares<'_> {
    fn allowance(&self, search: &Search<'_, impl Model>) -> Allowance<'_> {
        Allowance {
            states_until: self.until.min(search.states().saturating_add(self.states)),
            steps_until: search.steps().saturating_add(self.steps),
            bytes_max: self.bytes,
            cancel: self.cancel,
        }
    }
}

/// Resumes the `undecided` searches within their shares, on all cores.
fn run_round<M: Model>(
    searches: &[Mutex<Search<'_, M>>],
    undecided: &[usize],
    shares: &Shares<'_>,
    threads: usize,
) -> Vec<(usize, Progress<M::State>)> {
    let first = shares.until == ROUND_FIRST;
    let resume = |i: usize| {
        let mut search = lock(&searches[i]);
        let allowance = shares.allowance(&search);
        (i, search.resume(allowance))
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = if threads == 0 { cores } else { threads }.min(undecided.len());
    if first {
        // In order, stopping at the first part that is not linearizable: the
        // order is fixed, so which parts were searched is deterministic too.
        let mut results = Vec::with_capacity(undecided.len());
        for &i in undecided {
            let result = resume(i);
            let failed = matches!(result.1, Progress::Done(Outcome::NotLinearizable(_)));
            results.push(result);
            if failed {
                break;
            }
        }
        return results;
    }
    if threads <= 1 {
        return undecided.iter().map(|&i| resume(i)).collect();
    }
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::with_capacity(undecided.len()));
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                while let Some(&i) = undecided.get(next.fetch_add(1, Ordering::Relaxed)) {
                    let result = resume(i);
                    results.lock().expect("no worker panicked").push(result);
                }
            });
        }
    });
    results.into_inner().expect("no worker panicked")
}

fn part_report<M: Model>(
    model: &M,
    ops: &[Operation],
    part: &Part<M>,
    states: u64,
    outcome: Option<Outcome<M::State>>,
) -> PartReport {
    let mut report = PartReport {
        key: part.key.clone(),
        verdict: Verdict::Linearizable,
        operations: part.ops.len(),
        states,
        violation: None,
        gave_up: None,
    };
    let Some(outcome) = outcome else {
        report.verdict = Verdict::Unknown;
        report.gave_up = Some("not searched further: another part is not linearizable".into());
        return report;
    };
    match outcome {
        Outcome::Linearizable => {}
        Outcome::NotLinearizable(stuck) => {
            report.verdict = Verdict::NotLinearizable;
            report.violation = Some(violation(model, ops, part, stuck));
        }
        Outcome::Unknown(gave_up) => {
            report.verdict = Verdict::Unknown;
            report.gave_up = Some(match gave_up {
                GaveUp::States => "the limit on states explored (budget states_max)".into(),
                GaveUp::Steps => "the limit on search steps (budget steps_max)".into(),
                GaveUp::Memory => "the limit on memory (budget memory_max)".into(),
                GaveUp::Cancelled => "cancelled (time limit)".into(),
            });
        }
    }
    report
}

fn violation<M: Model>(model: &M, ops: &[Operation], part: &Part<M>, stuck: Stuck<M::State>) -> Violation {
    let name = |i: usize| OpRef::new(ops, part.origin[i]);
    let mut pending: Vec<OpRef> =
        stuck.pending.iter().filter(|&&i| i != stuck.blocked).map(|&i| name(i)).collect();
    pending.sort_by_key(|op| op.index);
    Violation {
        prefix: stuck.prefix.iter().map(|&i| name(i)).collect(),
        state: model.describe(&stuck.state, &part.values),
        pending,
        blocked: name(stuck.blocked),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::models::Register;
    use crate::history::{Record, RecordType, Value};
    use crate::time::Time;

    /// A tiny deterministic generator for test histories.
    struct XorShift(u64);

    impl XorShift {
        fn below(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    /// Where a simulated client is in its current operation.
    enum Phase {
        Idle,
        Invoked { key: i64, f: &'static str, value: Value },
        Applied { key: i64, f: &'static str, result: Value, crashed: bool },
    }

    /// A history of `count` operations over `keys` registers, linearizable by
    /// construction: each operation takes effect on a sequential register at
    /// a random moment between its invocation and completion; about 2% crash
    /// (info) and take effect or not.
    fn simulated(count: usize, keys: i64, processes: usize, seed: u64) -> History {
        let mut rng = XorShift(seed);
        let mut registers = vec![Value::Nil; keys as usize];
        let mut phases: Vec<Phase> = (0..processes).map(|_| Phase::Idle).collect();
        let (mut history, mut invoked) = (History::new(), 0);
        let mut time = 0;
        while invoked < count || phases.iter().any(|p| !matches!(p, Phase::Idle)) {
            let p = rng.below(processes as u64) as usize;
            time += 1;
            let record = |kind, f: &str, key: i64, value| Record {
                process: p as u64,
                kind,
                f: f.into(),
                key: Some(Value::Int(key)),
                value,
                time: Time::from_nanos(time),
                error: None,
            };
            phases[p] = match std::mem::replace(&mut phases[p], Phase::Idle) {
                Phase::Idle if invoked == count => Phase::Idle,
                Phase::Idle => {
                    invoked += 1;
                    let key = rng.below(keys as u64) as i64;
                    let (f, value) = match rng.below(3) {
                        0 => ("read", Value::Nil),
                        1 => ("write", Value::Int(rng.below(5) as i64)),
                        _ => (
                            "cas",
                            Value::List(vec![
                                Value::Int(rng.below(5) as i64),
                                Value::Int(rng.below(5) as i64),
                            ]),
                        ),
                    };
                    history.push(record(RecordType::Invoke, f, key, value.clone()));
                    Phase::Invoked { key, f, value }
                }
                Phase::Invoked { key, f, value } => {
                    let crashed = rng.below(50) == 0;
                    let register = &mut registers[key as usize];
                    let applies = !crashed || rng.below(2) == 0;
                    let result = match (f, &value) {
                        ("read", _) => register.clone(),
                        ("write", _) if applies => std::mem::replace(register, value.clone()),
                        ("cas", Value::List(pair)) if applies && *register == pair[0] => {
                            *register = pair[1].clone();
                            value.clone()
                        }
                        ("cas", _) => Value::Str("mismatch".into()),
                        _ => value.clone(),
                    };
                    let result = if f == "write" { value } else { result };
                    Phase::Applied { key, f, result, crashed }
                }
                Phase::Applied { key, f, result, crashed } => {
                    let kind = match (crashed, f, &result) {
                        (true, ..) => RecordType::Info,
                        (_, "cas", Value::Str(_)) => RecordType::Fail,
                        _ => RecordType::Ok,
                    };
                    history.push(record(kind, f, key, result));
                    Phase::Idle
                }
            };
        }
        history
    }

    #[test]
    fn hundred_thousand_operations_over_hundred_keys() {
        let history = simulated(100_000, 100, 12, 0x5eed);
        let report =
            check_history(&Register::with_cas(Value::Nil), &history, &CheckOptions::default()).unwrap();
        assert_eq!(report.parts.len(), 100);
        assert_eq!(report.operations, 100_000);
        assert_eq!(report.verdict, Verdict::Linearizable, "{report}");
        assert!(report.states < 2_000_000, "states={}", report.states);
    }

    #[test]
    fn a_planted_stale_read_is_found_in_a_big_history() {
        let mut history = simulated(5_000, 10, 6, 7);
        let last = history
            .records()
            .iter()
            .rev()
            .find(|r| r.kind == RecordType::Ok && r.f == "read")
            .unwrap()
            .clone();
        let mut records: Vec<Record> = history.records().to_vec();
        let at = records.iter().rposition(|r| *r == last).unwrap();
        records[at].value = Value::Int(99);
        history = records.into_iter().collect();
        let report =
            check_history(&Register::with_cas(Value::Nil), &history, &CheckOptions::default()).unwrap();
        assert_eq!(report.verdict, Verdict::NotLinearizable);
        let violation = report.violations().next().unwrap().violation.as_ref().unwrap();
        assert_eq!(violation.blocked.result, Value::Int(99), "{report}");
    }

    #[test]
    fn reports_are_deterministic_across_thread_counts() {
        let history = simulated(3_000, 7, 8, 11);
        let mut records: Vec<Record> = history.records().to_vec();
        for record in records.iter_mut().filter(|r| r.kind == RecordType::Ok && r.f == "read").step_by(97) {
            record.value = Value::Int(42);
        }
        let history: History = records.into_iter().collect();
        let run = |threads| {
            check_history(
                &Register::with_cas(Value::Nil),
                &history,
                &CheckOptions { threads, ..CheckOptions::default() },
            )
            .unwrap()
        };
        let one = run(1);
        assert_eq!(one.verdict, Verdict::NotLinearizable);
        assert_eq!(one, run(2));
        assert_eq!(one, run(4));
    }

    /// `writers` crashed writes of distinct values, all concurrent, then
    /// `readers` reads on `keys` keys of a value nobody wrote: not
    /// linearizable, but only an exhaustive search over subsets of the
    /// crashed writes can tell, so every budget runs out first.
    fn hopeless(writers: usize, keys: i64) -> History {
        let mut history = History::new();
        let record = |process: usize, kind, f: &str, key: i64, value: Value| Record {
            process: process as u64,
            kind,
            f: f.into(),
            key: Some(Value::Int(key)),
            value,
            time: Time::ZERO,
            error: None,
        };
        for key in 0..keys {
            for w in 0..writers {
                let value = Value::Int(w as i64 + 1);
                history.push(record(w, RecordType::Invoke, "write", key, value.clone()));
                history.push(record(w, RecordType::Info, "write", key, value));
            }
        }
        for key in 0..keys {
            let reader = writers + key as usize;
            history.push(record(reader, RecordType::Invoke, "read", key, Value::Nil));
            history.push(record(reader, RecordType::Ok, "read", key, Value::Int(-1)));
        }
        history
    }

    fn budget(states_max: u64, steps_max: u64, memory_max: usize) -> CheckOptions {
        CheckOptions { budget: Budget { states_max, steps_max, memory_max, cancel: None }, threads: 0 }
    }

    #[test]
    fn the_states_budget_is_shared_by_the_parts_and_gives_unknown() {
        let history = hopeless(30, 8);
        let options = budget(200_000, u64::MAX, usize::MAX);
        let report = check_history(&Register::new(Value::Nil), &history, &options).unwrap();
        assert_eq!(report.verdict, Verdict::Unknown, "{report}");
        assert!(report.states <= 200_000, "states={}", report.states);
        assert!(report.states > 150_000, "the budget is used: states={}", report.states);
        for part in &report.parts {
            assert_eq!(part.verdict, Verdict::Unknown);
            assert!(part.gave_up.as_deref().unwrap().contains("states_max"), "{part:?}");
        }
        let threads = |threads| {
            check_history(&Register::new(Value::Nil), &history, &CheckOptions { threads, ..options.clone() })
                .unwrap()
        };
        assert_eq!(report, threads(1), "the verdict under a budget does not depend on threads");
    }

    #[test]
    fn the_memory_budget_gives_unknown_without_growing_past_it() {
        let history = hopeless(5_000, 1);
        let memory_max = 1 << 20;
        let report =
            check_history(&Register::new(Value::Nil), &history, &budget(u64::MAX, u64::MAX, memory_max))
                .unwrap();
        assert_eq!(report.verdict, Verdict::Unknown, "{report}");
        let gave_up = report.parts[0].gave_up.as_deref().unwrap();
        assert!(gave_up.contains("memory_max"), "{gave_up}");
        // Each configuration stores a 5,000-bit set of crashed writes: the
        // bound is reached after about a thousand of them, not millions.
        assert!(report.states < 3_000, "states={}", report.states);
    }

    #[test]
    fn the_steps_budget_counts_long_sets_of_info_operations() {
        let history = hopeless(5_000, 1);
        let report =
            check_history(&Register::new(Value::Nil), &history, &budget(u64::MAX, 2_000_000, usize::MAX))
                .unwrap();
        assert_eq!(report.verdict, Verdict::Unknown, "{report}");
        assert!(report.parts[0].gave_up.as_deref().unwrap().contains("steps_max"), "{report}");
    }

    #[test]
    fn the_default_budget_ends_a_hopeless_check() {
        let report =
            check_history(&Register::new(Value::Nil), &hopeless(40, 4), &CheckOptions::default()).unwrap();
        assert_eq!(report.verdict, Verdict::Unknown, "{report}");
        assert!(report.states <= Budget::STATES_MAX, "states={}", report.states);
    }
}
