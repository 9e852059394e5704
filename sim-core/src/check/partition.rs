//! Split a history into independent parts (P-compositionality), check the
//! parts on all cores, and assemble one deterministic report.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use crate::check::linear::{GaveUp, Limits, Outcome, PartOp, Search, Stuck};
use crate::check::model::{Interner, Model, ModelError, Prepared};
use crate::check::verdict::{OpRef, PartReport, Report, Verdict, Violation};
use crate::history::{History, HistoryError, Operation};

/// How much a check may spend before answering `Unknown`.
#[derive(Clone, Debug)]
pub struct Budget {
    /// Configurations one part may visit.
    pub states_max: u64,
    /// Bytes one part's memo table may hold.
    pub memory_max: usize,
    /// Set from outside (e.g. by a wall-clock timer) to stop every search.
    pub cancel: Option<Arc<AtomicBool>>,
}

impl Default for Budget {
    /// 200 million configurations and 4 GiB per part; no cancellation.
    fn default() -> Budget {
        Budget { states_max: 200_000_000, memory_max: 4 << 30, cancel: None }
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
/// more. The first round runs on the calling thread: most parts of most
/// histories finish in it, and threads would cost more than they save.
const ROUND_FIRST: u64 = 1 << 10;
const ROUND_GROWTH: u64 = 4;

/// Searches every part, in rounds of growing budget so that the check can
/// stop as soon as one part is not linearizable. Each part's result depends
/// only on the round budgets, never on thread timing.
fn run_parts<M: Model>(
    model: &M,
    parts: &[Part<M>],
    options: &CheckOptions,
) -> (Outcomes<M::State>, Vec<u64>) {
    let limits = Limits {
        states_max: options.budget.states_max,
        memory_max: options.budget.memory_max,
        cancel: options.budget.cancel.as_deref(),
    };
    let searches: Vec<Mutex<Search<'_, M>>> =
        parts.iter().map(|p| Mutex::new(Search::new(model, p.init.clone(), &p.ops, limits))).collect();
    let mut outcomes: Vec<Option<Outcome<M::State>>> = vec![None; parts.len()];
    let mut until = if parts.len() == 1 { u64::MAX } else { ROUND_FIRST };
    loop {
        let mut undecided: Vec<usize> = (0..parts.len()).filter(|&i| outcomes[i].is_none()).collect();
        if undecided.is_empty() {
            break;
        }
        undecided.sort_by_key(|&i| std::cmp::Reverse(parts[i].ops.len()));
        let threads = if until == ROUND_FIRST { 1 } else { options.threads };
        for (i, outcome) in run_round(&searches, &undecided, until, threads) {
            outcomes[i] = outcome;
        }
        if outcomes.iter().any(|o| matches!(o, Some(Outcome::NotLinearizable(_)))) {
            break;
        }
        until = until.saturating_mul(ROUND_GROWTH);
    }
    let states = searches.iter().map(|s| s.lock().expect("no worker panicked").states()).collect();
    (outcomes, states)
}

/// Resumes the `undecided` searches up to `until` states each, on all cores.
fn run_round<M: Model>(
    searches: &[Mutex<Search<'_, M>>],
    undecided: &[usize],
    until: u64,
    threads: usize,
) -> Vec<(usize, Option<Outcome<M::State>>)> {
    let resume = |i: usize| (i, searches[i].lock().expect("no worker panicked").resume(until));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = if threads == 0 { cores } else { threads }.min(undecided.len());
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
                GaveUp::States => "the limit on states explored".into(),
                GaveUp::Memory => "the limit on memory".into(),
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
