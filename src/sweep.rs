//! Sweeps: many seeds of one scenario, one simulation per core, shardable
//! across machines, ending in a table of failures grouped by signature.
//!
//! Seeds are drawn lazily from their range ([`Seeds`]), so a range of any
//! size costs nothing until it runs. A shard's JSON lines are a header, one
//! outcome per seed and a footer; [`merge`] refuses shard sets that are
//! incomplete, duplicated or from different sweeps.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use serde::{Deserialize, Serialize};
use sim_core::TraceSink;

use crate::coverage::{self, Coverage, Declared};
use crate::runner::{Runner, SeedOutcome};
use crate::{Conclusion, Expect, Status};

/// The seeds of a sweep: a half-open range, optionally one shard of it
/// (every `count`-th seed starting at the `index`-th).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seeds {
    /// First seed of the whole range.
    pub start: u64,
    /// One past the last seed of the whole range.
    pub end: u64,
    /// This shard's index, `0..count`.
    pub shard_index: u64,
    /// How many shards the range is split into.
    pub shard_count: u64,
}

impl Seeds {
    /// Every seed of `range`.
    pub fn range(range: std::ops::Range<u64>) -> Seeds {
        Seeds { start: range.start, end: range.end, shard_index: 0, shard_count: 1 }
    }

    /// Shard `index` of `count` of these seeds.
    pub fn shard(self, index: u64, count: u64) -> Seeds {
        assert!(count > 0 && index < count, "shard index={index} count={count}");
        Seeds { shard_index: index, shard_count: count, ..self }
    }

    /// How many seeds this shard runs.
    pub fn len(&self) -> u64 {
        let total = self.end - self.start;
        if total <= self.shard_index { 0 } else { (total - self.shard_index).div_ceil(self.shard_count) }
    }

    /// Whether it runs no seed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The `i`-th seed of this shard, if there is one.
    pub fn nth(&self, i: u64) -> Option<u64> {
        (i < self.len()).then(|| self.start + self.shard_index + i * self.shard_count)
    }

    /// The range as `A..B`.
    pub fn range_text(&self) -> String {
        format!("{}..{}", self.start, self.end)
    }
}

/// The first line of a sweep's JSON lines: what was swept.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Header {
    /// Scenario name.
    pub scenario: String,
    /// Scenario file.
    pub path: PathBuf,
    /// What the scenario expects.
    pub expect: Expect,
    /// The seeds (and shard) this file covers.
    pub seeds: Seeds,
    /// The coverage probes the protocol declares, so that a merge can name
    /// the unreached ones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub probes: Vec<Declared>,
}

/// The last line of a sweep's JSON lines: whether every seed ran.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Footer {
    /// Seeds that ran.
    pub ran: u64,
    /// Why the sweep stopped before its last seed, if it did.
    pub stopped: Option<String>,
}

/// Everything a sweep table is made from.
#[derive(Clone, Debug, PartialEq)]
pub struct Sweep {
    /// What was swept.
    pub header: Header,
    /// One outcome per seed run, in seed order.
    pub outcomes: Vec<SeedOutcome>,
    /// Why the sweep stopped early, if it did.
    pub stopped: Option<String>,
}

impl Sweep {
    /// What the sweep concludes about its scenario.
    pub fn conclusion(&self) -> Conclusion {
        self.header.expect.judge_seeds(&self.outcomes, self.stopped.as_deref())
    }
}

/// How to run a sweep.
#[derive(Clone, Debug)]
pub struct Options {
    /// Simulations run at once.
    pub jobs: usize,
    /// Stop at the first failing seed.
    pub stop_on_failure: bool,
    /// Start no new seed after this much wall time.
    pub time_budget: Option<std::time::Duration>,
    /// Report a seed as hung after this much wall time and exit the process.
    pub seed_timeout: Option<std::time::Duration>,
    /// Show progress on standard error.
    pub progress: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            jobs: default_jobs(),
            stop_on_failure: false,
            time_budget: None,
            seed_timeout: None,
            progress: false,
        }
    }
}

/// One job per core.
pub fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Runs `seeds` of the runner's scenario on `options.jobs` threads; outcomes
/// come back in seed order.
pub fn run(runner: &dyn Runner, seeds: Seeds, options: &Options) -> Sweep {
    let scenario = runner.scenario();
    let header = Header {
        scenario: scenario.name.clone(),
        path: scenario.path.clone(),
        expect: scenario.expect.clone(),
        seeds,
        probes: coverage::declared(runner.probes()),
    };
    let (outcomes, stopped) = execute(runner, seeds, options);
    Sweep { header, outcomes, stopped }
}

fn execute(runner: &dyn Runner, seeds: Seeds, options: &Options) -> (Vec<SeedOutcome>, Option<String>) {
    let jobs = options.jobs.clamp(1, 1024);
    let next = AtomicU64::new(0);
    let stop = AtomicBool::new(false);
    let stopped: Mutex<Option<String>> = Mutex::new(None);
    let results: Mutex<Vec<SeedOutcome>> = Mutex::new(Vec::new());
    let running: Vec<Mutex<Option<(u64, Instant)>>> = (0..jobs).map(|_| Mutex::new(None)).collect();
    let running = &running;
    let working = &AtomicUsize::new(jobs);
    let progress = Progress::new(seeds.len(), options.progress);
    #[allow(clippy::disallowed_methods)] // wall-clock budget of the sweep itself
    let started = Instant::now();
    std::thread::scope(|scope| {
        for slot in running {
            scope.spawn(|| {
                loop {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    if options.time_budget.is_some_and(|b| started.elapsed() > b) {
                        stopped.lock().expect("lock").get_or_insert_with(|| "time budget spent".into());
                        break;
                    }
                    let Some(seed) = seeds.nth(next.fetch_add(1, Ordering::Relaxed)) else { break };
                    #[allow(clippy::disallowed_methods)] // watchdog for hung seeds, outside the simulation
                    let now = Instant::now();
                    *slot.lock().expect("lock") = Some((seed, now));
                    let outcome = runner
                        .run(seed, TraceSink::Hash)
                        .map(|r| r.0)
                        .unwrap_or_else(|e| SeedOutcome::errored(seed, &e));
                    *slot.lock().expect("lock") = None;
                    if outcome.status == Status::Fail && options.stop_on_failure {
                        stop.store(true, Ordering::Relaxed);
                        stopped
                            .lock()
                            .expect("lock")
                            .get_or_insert_with(|| format!("stopped at the first failure (seed {seed})"));
                    }
                    progress.advance(outcome.status == Status::Fail);
                    results.lock().expect("lock").push(outcome);
                }
                working.fetch_sub(1, Ordering::Relaxed);
            });
        }
        if let Some(timeout) = options.seed_timeout {
            scope.spawn(move || watchdog(runner, running, working, timeout));
        }
    });
    progress.finish();
    let mut outcomes = results.into_inner().expect("lock");
    outcomes.sort_by_key(|o| o.seed);
    let mut stopped = stopped.into_inner().expect("lock");
    if stopped.is_none() && (outcomes.len() as u64) < seeds.len() {
        stopped = Some("interrupted".into());
    }
    (outcomes, stopped)
}

/// A protocol stuck in a handler cannot be interrupted: report its seed and
/// the command that reproduces it, then end the process.
fn watchdog(
    runner: &dyn Runner,
    running: &[Mutex<Option<(u64, Instant)>>],
    working: &AtomicUsize,
    timeout: std::time::Duration,
) {
    while working.load(Ordering::Relaxed) > 0 {
        std::thread::sleep(std::time::Duration::from_millis(50));
        for slot in running {
            if let Some((seed, since)) = *slot.lock().expect("lock")
                && since.elapsed() > timeout
            {
                let scenario = runner.scenario();
                // Harmless for a file already in swarm mode, needed after `sweep --swarm`.
                let in_swarm = scenario.nemesis.as_ref().is_some_and(|n| n.swarm.is_some());
                eprintln!(
                    "error: seed {seed} hung: no result after {timeout:?} of wall time (a handler that never returns?)\nreproduce: {} run {} --seed {seed}{}",
                    crate::program(),
                    scenario.path.display(),
                    if in_swarm { " --swarm" } else { "" }
                );
                std::process::exit(1);
            }
        }
    }
}

/// A progress bar on a terminal; a plain line every tenth otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    plain: bool,
    total: u64,
    done: AtomicU64,
    failed: AtomicU64,
}

impl Progress {
    fn new(total: u64, show: bool) -> Progress {
        use std::io::IsTerminal;
        let terminal = show && std::io::stderr().is_terminal();
        let bar = terminal.then(|| {
            let bar = indicatif::ProgressBar::new(total);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} seeds, {msg} [{elapsed} < {eta}]",
                )
                .expect("valid template"),
            );
            bar
        });
        Progress { bar, plain: show && !terminal, total, done: AtomicU64::new(0), failed: AtomicU64::new(0) }
    }

    fn advance(&self, failed: bool) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let failures = self.failed.fetch_add(u64::from(failed), Ordering::Relaxed) + u64::from(failed);
        if let Some(bar) = &self.bar {
            bar.set_message(format!("{failures} failed"));
            bar.inc(1);
        } else if self.plain {
            let step = (self.total / 10).max(1);
            if done.is_multiple_of(step) || done == self.total {
                eprintln!("progress {done}/{} seeds, {failures} failed", self.total);
            }
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// Why a sweep's JSON lines could not be written or merged.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// A line is not what a sweep writes.
    #[error("{path}:{line}: {message}")]
    Format {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
    /// The files do not make up one whole sweep.
    #[error("{0}")]
    Shards(String),
}

/// Writes a sweep as JSON lines: header, one outcome per seed, footer.
pub fn write_jsonl(out: &mut dyn Write, sweep: &Sweep) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, &sweep.header)?;
    writeln!(out)?;
    for outcome in &sweep.outcomes {
        serde_json::to_writer(&mut *out, outcome)?;
        writeln!(out)?;
    }
    let footer = Footer { ran: sweep.outcomes.len() as u64, stopped: sweep.stopped.clone() };
    serde_json::to_writer(&mut *out, &footer)?;
    writeln!(out)?;
    out.flush()
}

/// One shard file, read back.
fn read_shard(path: &Path) -> Result<(Header, Vec<SeedOutcome>, Footer), SweepError> {
    let io = |source| SweepError::Io { path: path.to_path_buf(), source };
    let format =
        |line: usize, message: String| SweepError::Format { path: path.to_path_buf(), line, message };
    let file = std::fs::File::open(path).map_err(io)?;
    if file.metadata().map_err(io)?.is_dir() {
        return Err(format(0, "is a directory, not a sweep's JSON lines".into()));
    }
    let mut header = None;
    let mut footer = None;
    let mut outcomes = Vec::new();
    for (index, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(io)?;
        let number = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        if footer.is_some() {
            return Err(format(number, "a line after the footer".into()));
        }
        if header.is_none() {
            let parsed: Header = serde_json::from_str(&line).map_err(|e| {
                format(number, format!("expected a sweep header (written by `orrery sweep --output`): {e}"))
            })?;
            header = Some(parsed);
        } else if let Ok(outcome) = serde_json::from_str::<SeedOutcome>(&line) {
            outcomes.push(outcome);
        } else {
            let parsed: Footer = serde_json::from_str(&line)
                .map_err(|e| format(number, format!("neither a seed outcome nor a footer: {e}")))?;
            footer = Some(parsed);
        }
    }
    let header = header.ok_or_else(|| format(1, "empty file: expected a sweep header".into()))?;
    let footer = footer.ok_or_else(|| {
        format(0, "no footer: the sweep that wrote this file did not finish (interrupted?)".into())
    })?;
    Ok((header, outcomes, footer))
}

/// Reads the JSON lines of every shard of one sweep into one sweep.
pub fn merge(paths: &[PathBuf]) -> Result<Sweep, SweepError> {
    let mut first: Option<(PathBuf, Header)> = None;
    let mut shards: BTreeMap<u64, PathBuf> = BTreeMap::new();
    let mut outcomes: BTreeMap<u64, SeedOutcome> = BTreeMap::new();
    let mut stopped = None;
    for path in paths {
        let (header, seeds, footer) = read_shard(path)?;
        let whole = Seeds { shard_index: 0, shard_count: 1, ..header.seeds };
        if let Some((first_path, h)) = &first {
            let same_sweep = h.scenario == header.scenario
                && h.expect == header.expect
                && Seeds { shard_index: 0, shard_count: 1, ..h.seeds } == whole
                && h.seeds.shard_count == header.seeds.shard_count;
            if !same_sweep {
                return Err(SweepError::Shards(format!(
                    "{} is from another sweep than {}: {} {} over {} in {} shards, against {} {} over {} in {} shards",
                    path.display(),
                    first_path.display(),
                    header.scenario,
                    header.expect,
                    header.seeds.range_text(),
                    header.seeds.shard_count,
                    h.scenario,
                    h.expect,
                    h.seeds.range_text(),
                    h.seeds.shard_count
                )));
            }
            if h.probes != header.probes {
                let names =
                    |h: &Header| h.probes.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", ");
                return Err(SweepError::Shards(format!(
                    "{} declares other probes than {} (written by another version of the protocol?): [{}] against [{}]",
                    path.display(),
                    first_path.display(),
                    names(&header),
                    names(h)
                )));
            }
        } else {
            first = Some((path.clone(), header.clone()));
        }
        if let Some(other) = shards.insert(header.seeds.shard_index, path.clone()) {
            return Err(SweepError::Shards(format!(
                "shard {}/{} appears twice: {} and {}",
                header.seeds.shard_index,
                header.seeds.shard_count,
                other.display(),
                path.display()
            )));
        }
        for outcome in seeds {
            let belongs = (outcome.seed >= whole.start && outcome.seed < whole.end)
                && (outcome.seed - whole.start) % header.seeds.shard_count == header.seeds.shard_index;
            if !belongs {
                return Err(SweepError::Shards(format!(
                    "{}: seed {} does not belong to shard {}/{} of {}",
                    path.display(),
                    outcome.seed,
                    header.seeds.shard_index,
                    header.seeds.shard_count,
                    whole.range_text()
                )));
            }
            outcomes.insert(outcome.seed, outcome);
        }
        if footer.stopped.is_some() {
            stopped = stopped.or(footer.stopped.map(|why| format!("shard {}: {why}", path.display())));
        }
    }
    let (_, header) = first.ok_or_else(|| SweepError::Shards("--merge needs at least one file".into()))?;
    let missing: Vec<String> =
        (0..header.seeds.shard_count).filter(|i| !shards.contains_key(i)).map(|i| i.to_string()).collect();
    if !missing.is_empty() {
        return Err(SweepError::Shards(format!(
            "incomplete shard set: {} of {} shards given; missing shard {}",
            shards.len(),
            header.seeds.shard_count,
            missing.join(", ")
        )));
    }
    let header = Header { seeds: Seeds { shard_index: 0, shard_count: 1, ..header.seeds }, ..header };
    Ok(Sweep { header, outcomes: outcomes.into_values().collect(), stopped })
}

/// The sweep table: counts, faults exercised, probes reached and not,
/// failures grouped by signature.
pub fn table(sweep: &Sweep) -> String {
    let mut out = String::new();
    let count = |s| sweep.outcomes.iter().filter(|o| o.status == s).count();
    let h = &sweep.header;
    let _ = writeln!(out, "sweep      {} ({}) seeds {}", h.scenario, h.path.display(), h.seeds.range_text());
    let _ = writeln!(
        out,
        "seeds      {} of {} run: {} passed, {} failed, {} unknown",
        sweep.outcomes.len(),
        h.seeds.len(),
        count(Status::Pass),
        count(Status::Fail),
        count(Status::Unknown)
    );
    if let Some(reason) = &sweep.stopped {
        let _ = writeln!(out, "stopped    {reason}");
    }
    let mut faults: BTreeMap<&str, (u64, usize)> = BTreeMap::new();
    for outcome in &sweep.outcomes {
        for (kind, n) in &outcome.faults {
            let entry = faults.entry(kind).or_default();
            entry.0 += n;
            entry.1 += 1;
        }
    }
    if faults.is_empty() {
        let _ = writeln!(out, "faults     none exercised");
    } else {
        let _ = writeln!(out, "faults     {:<22} {:>8} {:>8}", "kind", "times", "seeds");
        for (kind, (times, seeds)) in &faults {
            let _ = writeln!(out, "           {kind:<22} {times:>8} {seeds:>8}");
        }
    }
    Coverage::of(&h.probes, &sweep.outcomes).write(&mut out);
    write_failures(&mut out, sweep);
    let _ = writeln!(out, "verdict    {}", sweep.conclusion().line());
    out
}

/// The seeds that did not pass, grouped by signature ("unknown" for the
/// undecided), each group fastest-failing seed first.
fn groups(sweep: &Sweep) -> BTreeMap<&str, Vec<&SeedOutcome>> {
    let mut groups: BTreeMap<&str, Vec<&SeedOutcome>> = BTreeMap::new();
    for outcome in sweep.outcomes.iter().filter(|o| o.status != Status::Pass) {
        let group = match outcome.status {
            Status::Unknown => "unknown",
            _ => outcome.signature.as_deref().unwrap_or("failure"),
        };
        groups.entry(group).or_default().push(outcome);
    }
    for members in groups.values_mut() {
        members.sort_by_key(|o| (o.failed_at, o.seed));
    }
    groups
}

fn write_failures(out: &mut String, sweep: &Sweep) {
    let groups = groups(sweep);
    if !groups.is_empty() {
        let _ = writeln!(out, "failures   by signature, fastest-failing seed first");
    }
    for (signature, members) in groups {
        let first = members[0];
        let seeds: Vec<String> = members.iter().take(10).map(|o| o.seed.to_string()).collect();
        let more =
            if members.len() > 10 { format!(" and {} more", members.len() - 10) } else { String::new() };
        let _ = writeln!(out, "  {signature}: {} seeds ({}{more})", members.len(), seeds.join(", "));
        let check = first.failure().or_else(|| first.checks.iter().find(|c| c.status == Status::Unknown));
        if let Some(check) = check {
            let at = first.failed_at.map_or(String::new(), |t| format!(" at {t}"));
            let verb = if first.status == Status::Fail { "failed" } else { "undecided" };
            let _ = writeln!(out, "    seed {} {verb}{at}: {}", first.seed, one_line(&check.detail));
        }
        let path = sweep.header.path.display();
        // `--swarm` is harmless for a file already in swarm mode, and needed after `sweep --swarm`.
        let swarm = if first.swarm.is_some() { " --swarm" } else { "" };
        let _ = writeln!(out, "    replay: {} run {path} --seed {}{swarm}", crate::program(), first.seed);
    }
}

/// The fastest-failing seed of each failure group, in the table's order.
pub fn fastest_failures(sweep: &Sweep) -> Vec<&SeedOutcome> {
    groups(sweep).into_values().map(|members| members[0]).filter(|o| o.status == Status::Fail).collect()
}

/// The first line of a message, marked if more followed.
pub fn one_line(text: &str) -> String {
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("").trim_end();
    if lines.next().is_some() { format!("{first} …") } else { first.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_partition_the_range() {
        let all = Seeds::range(3..20);
        let mut seen: Vec<u64> = (0..4)
            .flat_map(|i| {
                let s = all.shard(i, 4);
                (0..s.len()).map(move |k| s.nth(k).unwrap())
            })
            .collect();
        seen.sort_unstable();
        assert_eq!(seen, (3..20).collect::<Vec<_>>());
        assert_eq!(Seeds::range(0..u64::MAX).shard(0, u64::MAX).len(), 1);
        assert_eq!(Seeds::range(0..2).shard(5, 9).len(), 0);
    }
}
