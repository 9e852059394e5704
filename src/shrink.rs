//! Shrinking: from a failing seed to the smallest scenario file that still
//! fails the same way (the same check, the same failure signature).
//!
//! Faults are data, so the run's whole fault schedule — scripted or drawn by
//! the nemesis — is first written out as explicit `[[faults]]`. Then passes
//! of reductions run until none helps: drop faults (halves, quarters, …,
//! single ones), move each fault earlier, end the workload just after the
//! failure, fewer clients, one key, no loss or duplication, a constant
//! latency, no torn writes, fewer servers, and a time limit just past the
//! failure. Each candidate is a scenario file that is parsed and run like
//! any other and kept only if it fails with the same signature. Removing a
//! fault shifts later random draws, so a candidate that does not fail on the
//! current seed is also tried on a few more seeds, and the output pins the
//! seed that worked.
//!
//! The search is deterministic: candidates are tried in a fixed order and,
//! when seeds are tried in parallel, the first in order wins, so the same
//! input gives the same file for any number of jobs. A wall-clock budget
//! only stops the search early (the file says so).

use std::path::{Path, PathBuf};
use std::time::Instant;

use sim_core::{Duration, Time, TraceSink};

use crate::runner::SeedOutcome;
use crate::scenario::{Scenario, ScenarioError, exact, with_schedule};
use crate::{Registry, Status};

/// How to shrink.
#[derive(Clone, Debug)]
pub struct Options {
    /// Stop searching after this much wall time (the result so far is kept).
    pub time_budget: std::time::Duration,
    /// Most candidate runs in all.
    pub runs_max: u64,
    /// Seeds tried for a candidate that does not fail on the current one
    /// (the current seed included).
    pub seeds_per_candidate: u64,
    /// Runs at once when trying seeds.
    pub jobs: usize,
    /// Report progress on standard error.
    pub progress: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            time_budget: std::time::Duration::from_secs(120),
            runs_max: 5_000,
            seeds_per_candidate: 16,
            jobs: crate::sweep::default_jobs(),
            progress: false,
        }
    }
}

/// The sizes shrinking reduces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Size {
    /// Faults in the schedule.
    pub faults: usize,
    /// Client operations that completed (ok, fail or info).
    pub operations: usize,
    /// Servers.
    pub servers: usize,
    /// Clients.
    pub clients: usize,
    /// Virtual time the run took.
    pub time: Time,
}

impl std::fmt::Display for Size {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} faults, {} client operations, {} servers, {} clients, {} virtual",
            self.faults, self.operations, self.servers, self.clients, self.time
        )
    }
}

/// A shrunk reproduction.
#[derive(Clone, Debug)]
pub struct Shrunk {
    /// The scenario file's text, header comment included.
    pub text: String,
    /// The seed it fails on.
    pub seed: u64,
    /// The failure signature it keeps.
    pub signature: String,
    /// Sizes of the original failing run.
    pub before: Size,
    /// Sizes of the shrunk run.
    pub after: Size,
    /// Candidate runs tried.
    pub runs: u64,
    /// Whether the search ended before trying everything (time or run budget).
    pub cut_short: bool,
}

/// Why a seed could not be shrunk.
#[derive(Debug, thiserror::Error)]
pub enum ShrinkError {
    /// The scenario could not be read.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// The seed does not fail: there is nothing to shrink.
    #[error("seed {seed} of {path} does not fail ({status}): there is nothing to shrink")]
    Passes {
        /// The scenario file.
        path: PathBuf,
        /// The seed.
        seed: u64,
        /// How it came out.
        status: &'static str,
    },
    /// The seed could not be run.
    #[error("cannot run seed {seed}: {message}")]
    Run {
        /// The seed.
        seed: u64,
        /// Why.
        message: String,
    },
}

/// One candidate: a whole scenario as a TOML table, and its seed.
#[derive(Clone)]
struct Candidate {
    table: toml::Table,
    seed: u64,
}

struct Search<'a> {
    registry: &'a Registry,
    path: &'a Path,
    signature: String,
    options: &'a Options,
    started: Instant,
    runs: u64,
    cut_short: bool,
    best: Candidate,
    best_outcome: SeedOutcome,
    /// The sizes of the best candidate's run, kept from when it ran.
    best_size: Size,
}

/// Shrinks seed `seed` of the scenario at `path`.
pub fn shrink(registry: &Registry, path: &Path, seed: u64, options: &Options) -> Result<Shrunk, ShrinkError> {
    shrink_text(registry, path, &Scenario::read(path)?, seed, options)
}

/// Shrinks seed `seed` of scenario text `text` (from `path`, which names it
/// in messages and in the result's header). A swarm seed is first written
/// as the plain scenario its draw amounts to.
pub fn shrink_text(
    registry: &Registry,
    path: &Path,
    text: &str,
    seed: u64,
    options: &Options,
) -> Result<Shrunk, ShrinkError> {
    let (scenario, runner) = registry.parse(text, path)?;
    let (outcome, report) =
        runner.run(seed, TraceSink::Hash).map_err(|e| ShrinkError::Run { seed, message: e.to_string() })?;
    if outcome.status != Status::Fail {
        return Err(ShrinkError::Passes { path: path.to_path_buf(), seed, status: outcome.status.label() });
    }
    let signature = outcome.signature.clone().unwrap_or_default();
    let before = size(&scenario, &outcome, report.faults_applied);
    #[allow(clippy::disallowed_methods)] // the search's own wall-clock budget, outside any simulation
    let started = Instant::now();
    let original = Candidate { table: toml::from_str(text).expect("parsed above"), seed };
    let mut search = Search {
        registry,
        path,
        signature,
        options,
        started,
        runs: 0,
        cut_short: false,
        best: original.clone(),
        best_outcome: outcome.clone(),
        best_size: before,
    };
    let mut applied = sim_core::FaultSchedule::new();
    for entry in &report.schedule.entries()[..report.faults_applied] {
        applied.push(entry.at, entry.fault.clone());
    }
    let plain = match &outcome.swarm {
        Some(config) => {
            crate::swarm::plain_text(text, config).map_err(|message| ShrinkError::Run { seed, message })?
        }
        None => text.to_string(),
    };
    if let Ok(explicit) = with_schedule(&plain, &applied, seed).map(|t| toml::from_str::<toml::Table>(&t))
        && let Ok(table) = explicit
    {
        search.try_replace(Candidate { table, seed });
    }
    for _round in 0..6 {
        let runs = search.runs;
        let before_round = search.best_size;
        search.round();
        if search.best_size == before_round || search.cut_short || search.runs == runs {
            break;
        }
    }
    let after = search.best_size;
    let text = search.render(path, seed, &before, &after);
    Ok(Shrunk {
        text,
        seed: search.best.seed,
        signature: search.signature.clone(),
        before,
        after,
        runs: search.runs,
        cut_short: search.cut_short,
    })
}

fn size(scenario: &Scenario, outcome: &SeedOutcome, faults: usize) -> Size {
    Size {
        faults,
        operations: outcome.ops.iter().sum(),
        servers: scenario.cluster.servers,
        clients: scenario.workload.clients,
        time: outcome.time,
    }
}

impl Search<'_> {
    fn budget_left(&mut self) -> bool {
        if self.runs >= self.options.runs_max || self.started.elapsed() >= self.options.time_budget {
            self.cut_short = true;
        }
        !self.cut_short
    }

    /// Runs one candidate on one seed: its outcome if it parses and runs.
    fn run(&self, table: &toml::Table, seed: u64) -> Option<(Scenario, SeedOutcome, usize)> {
        let text = toml::to_string(table).ok()?;
        let (scenario, runner) = self.registry.parse(&text, self.path).ok()?;
        let (outcome, report) = runner.run(seed, TraceSink::Hash).ok()?;
        Some((scenario, outcome, report.faults_applied))
    }

    fn same_failure(&self, outcome: &SeedOutcome) -> bool {
        outcome.status == Status::Fail && outcome.signature.as_deref() == Some(self.signature.as_str())
    }

    /// Keeps `candidate` if it fails the same way on its seed or one of the
    /// next few; the first seed in order that works is pinned.
    fn try_replace(&mut self, candidate: Candidate) -> bool {
        if !self.budget_left() {
            return false;
        }
        let seeds: Vec<u64> =
            (0..self.options.seeds_per_candidate.max(1)).map(|i| candidate.seed.wrapping_add(i)).collect();
        for chunk in seeds.chunks(self.options.jobs.max(1)) {
            self.runs += chunk.len() as u64;
            let this: &Search<'_> = self;
            let results: Vec<Option<(Scenario, SeedOutcome, usize)>> = std::thread::scope(|scope| {
                let handles: Vec<_> = chunk
                    .iter()
                    .map(|&seed| {
                        let table = &candidate.table;
                        scope.spawn(move || this.run(table, seed))
                    })
                    .collect();
                handles.into_iter().map(|h| h.join().ok().flatten()).collect()
            });
            for (&seed, result) in chunk.iter().zip(results) {
                if let Some((scenario, outcome, applied)) = result.filter(|(_, o, _)| self.same_failure(o)) {
                    self.best = Candidate { table: candidate.table.clone(), seed };
                    self.best_size = size(&scenario, &outcome, applied);
                    self.best_outcome = outcome;
                    self.report();
                    return true;
                }
            }
            if !self.budget_left() {
                return false;
            }
        }
        false
    }

    fn report(&self) {
        if self.options.progress {
            let o = &self.best_outcome;
            let elapsed = self.started.elapsed();
            eprintln!(
                "shrink     {} runs, {:.1}s, {:.0}s left: {} faults, {} operations, {} virtual (seed {})",
                self.runs,
                elapsed.as_secs_f64(),
                self.options.time_budget.saturating_sub(elapsed).as_secs_f64(),
                faults(&self.best.table).len(),
                o.ops.iter().sum::<usize>(),
                o.time,
                self.best.seed
            );
        }
    }

    /// One pass over every dimension, in the order that removes the most first.
    fn round(&mut self) {
        self.drop_faults();
        self.end_after_failure();
        self.fewer("workload", "clients", 0);
        self.think_longer();
        self.set("workload", "keys", toml::Value::Integer(1));
        self.set("network", "loss", toml::Value::Float(0.0));
        self.set("network", "duplicate", toml::Value::Float(0.0));
        self.set("network", "latency", toml::Value::String("1ms".into()));
        self.set("storage", "torn_writes", toml::Value::Float(0.0));
        self.fewer("cluster", "servers", 1);
        self.move_faults_earlier();
        self.drop_faults();
        self.limit_time();
    }

    /// Delta debugging over the fault list: drop halves, then quarters, …,
    /// then single faults.
    fn drop_faults(&mut self) {
        let mut chunk = faults(&self.best.table).len().div_ceil(2).max(1);
        loop {
            let mut start = 0;
            while start < faults(&self.best.table).len() {
                let mut candidate = self.best.clone();
                let list = faults_mut(&mut candidate.table);
                let end = (start + chunk).min(list.len());
                list.drain(start..end);
                if !self.try_replace(candidate) {
                    start += chunk;
                }
                if self.cut_short {
                    return;
                }
            }
            if chunk == 1 {
                return;
            }
            chunk = chunk.div_ceil(2);
        }
    }

    /// Each fault, in order, moved as early as it can go without passing the
    /// fault before it: first all the way, then halfway.
    fn move_faults_earlier(&mut self) {
        for i in 0..faults(&self.best.table).len() {
            let list = faults(&self.best.table);
            let Some(at) = fault_at(&list[i]) else { continue };
            let floor =
                if i == 0 { Duration::ZERO } else { fault_at(&list[i - 1]).unwrap_or(Duration::ZERO) };
            let gap = at.as_nanos() - floor.as_nanos();
            let targets =
                [0, 1, 2, 3].map(|quarter| Duration::from_nanos(floor.as_nanos() + gap / 4 * quarter));
            for target in targets {
                if target >= at {
                    continue;
                }
                let mut candidate = self.best.clone();
                set_fault_at(&mut faults_mut(&mut candidate.table)[i], target);
                if self.try_replace(candidate) {
                    break;
                }
            }
        }
    }

    /// Clients that think longer between operations issue fewer of them:
    /// the longest pause that still fails wins.
    fn think_longer(&mut self) {
        for pause in ["500ms", "200ms", "100ms", "50ms", "20ms"] {
            let value = toml::Value::String(pause.into());
            if self.best.table.get("workload").and_then(|w| w.get("think")) == Some(&value) {
                return;
            }
            let mut candidate = self.best.clone();
            let workload = table_mut(&mut candidate.table, "workload");
            workload.remove("rate");
            workload.insert("think".into(), value);
            if self.try_replace(candidate) {
                return;
            }
        }
    }

    /// The workload ends just after the failure showed.
    fn end_after_failure(&mut self) {
        let Some(failed_at) = self.best_outcome.failed_at else { return };
        let end = round_up_ms(failed_at.since(Time::ZERO) + Duration::from_millis(1));
        let mut candidate = self.best.clone();
        table_mut(&mut candidate.table, "workload")
            .insert("duration".into(), toml::Value::String(exact(end.as_nanos())));
        self.try_replace(candidate);
    }

    /// The run's time limit just after the failure.
    fn limit_time(&mut self) {
        let Some(failed_at) = self.best_outcome.failed_at else { return };
        let end = round_up_ms(failed_at.since(Time::ZERO) + Duration::from_millis(1));
        let mut candidate = self.best.clone();
        table_mut(&mut candidate.table, "limits")
            .insert("time".into(), toml::Value::String(exact(end.as_nanos())));
        self.try_replace(candidate);
    }

    /// `table.key` set to `value`, kept if it still fails the same way.
    fn set(&mut self, table: &str, key: &str, value: toml::Value) {
        if self.best.table.get(table).and_then(|t| t.get(key)) == Some(&value) {
            return;
        }
        let mut candidate = self.best.clone();
        table_mut(&mut candidate.table, table).insert(key.into(), value);
        self.try_replace(candidate);
    }

    /// An integer `table.key` brought down towards `floor`: the floor first,
    /// then one less at a time.
    fn fewer(&mut self, table: &str, key: &str, floor: i64) {
        let current = |best: &toml::Table| {
            let scenario: Option<Scenario> =
                toml::to_string(best).ok().and_then(|t| Scenario::parse(&t, Path::new("")).ok());
            scenario
                .map(|s| if key == "servers" { s.cluster.servers as i64 } else { s.workload.clients as i64 })
        };
        let Some(mut n) = current(&self.best.table) else { return };
        let mut tried_floor = false;
        while n > floor && !self.cut_short {
            let target = if tried_floor { n - 1 } else { floor.max(1).min(n - 1) };
            tried_floor = true;
            let mut candidate = self.best.clone();
            table_mut(&mut candidate.table, table).insert(key.into(), toml::Value::Integer(target));
            if self.try_replace(candidate) {
                n = target;
            } else if target == n - 1 {
                return;
            }
        }
    }

    /// The shrunk scenario as a file: a header saying where it came from.
    fn render(&self, path: &Path, seed: u64, before: &Size, after: &Size) -> String {
        let mut table = self.best.table.clone();
        let name = table.get("name").and_then(|v| v.as_str()).unwrap_or("scenario").to_string();
        let check = self.best_outcome.failure().map(|f| f.name.clone()).unwrap_or_default();
        let reproduces_a_bug_of_the_run = crate::expect::RUN_FAILURES.contains(&check.as_str());
        table.insert("name".into(), toml::Value::String(format!("{name}-shrunk")));
        table.insert(
            "description".into(),
            toml::Value::String(format!("Shrunk from {} seed {seed}: {}", path.display(), self.signature)),
        );
        table.insert("seed".into(), toml::Value::Integer(self.best.seed as i64));
        table.insert(
            "seeds".into(),
            toml::Value::String(format!("{}..{}", self.best.seed, self.best.seed + 1)),
        );
        let expect = if reproduces_a_bug_of_the_run {
            toml::Value::String("pass".into())
        } else {
            let mut violation = toml::Table::new();
            violation.insert("violation".into(), toml::Value::String(self.signature.clone()));
            toml::Value::Table(violation)
        };
        table.insert("expect".into(), expect);
        let mut out = String::new();
        out.push_str(&format!("# Shrunk by `orrery shrink` from {}, seed {seed}.\n", path.display()));
        out.push_str(&format!("# Signature: {}\n", self.signature));
        out.push_str(&format!("# Before: {before}.\n"));
        out.push_str(&format!("# After:  {after}.\n"));
        if reproduces_a_bug_of_the_run {
            out.push_str("# It reproduces a panic or a run limit, which is never an expected violation:\n# it fails until the bug is fixed.\n");
        }
        if self.cut_short {
            out.push_str("# The search stopped at its budget; a longer one may shrink further.\n");
        }
        out.push('\n');
        out.push_str(&toml::to_string(&table).expect("a TOML table serializes"));
        out
    }
}

fn round_up_ms(d: Duration) -> Duration {
    Duration::from_millis(d.as_nanos().div_ceil(1_000_000))
}

fn faults(table: &toml::Table) -> Vec<toml::Value> {
    table.get("faults").and_then(|f| f.as_array()).cloned().unwrap_or_default()
}

fn faults_mut(table: &mut toml::Table) -> &mut Vec<toml::Value> {
    let entry = table.entry("faults").or_insert_with(|| toml::Value::Array(Vec::new()));
    if !entry.is_array() {
        *entry = toml::Value::Array(Vec::new());
    }
    entry.as_array_mut().expect("an array")
}

fn table_mut<'t>(table: &'t mut toml::Table, name: &str) -> &'t mut toml::Table {
    let entry = table.entry(name).or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if !entry.is_table() {
        *entry = toml::Value::Table(toml::Table::new());
    }
    entry.as_table_mut().expect("a table")
}

fn fault_at(fault: &toml::Value) -> Option<Duration> {
    fault.get("at")?.as_str()?.parse().ok()
}

fn set_fault_at(fault: &mut toml::Value, at: Duration) {
    if let Some(t) = fault.as_table_mut() {
        t.insert("at".into(), toml::Value::String(exact(at.as_nanos())));
    }
}
