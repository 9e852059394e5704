//! `orrery sweep`: many seeds of one scenario, one simulation per core,
//! shardable across machines, ending in a table of failures grouped by
//! signature.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use anyhow::{Context as _, bail};
use serde::{Deserialize, Serialize};
use sim_core::TraceSink;

use crate::runner::{CheckResult, Runner, SeedOutcome, Status};
use crate::scenario::{Expect, Scenario};
use crate::{exit, load};

/// Arguments of `orrery sweep`.
#[derive(clap::Args)]
pub struct SweepArgs {
    /// The scenario file (not needed with --merge).
    #[arg(required_unless_present = "merge")]
    pub scenario: Option<PathBuf>,
    /// Seeds to run, as a half-open range `A..B` (default: the scenario's `seeds`, else 0..100).
    #[arg(long, value_name = "A..B")]
    pub seeds: Option<String>,
    /// Simulations run at once (default: one per core).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Run only every N-th seed starting at the I-th (0-based), to split a range over machines.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Write one JSON line per seed to this file (for --merge).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Combine the JSON lines of sharded sweeps into one table instead of running.
    #[arg(long, num_args = 1.., value_name = "FILES", conflicts_with_all = ["scenario", "shard", "output"])]
    pub merge: Vec<PathBuf>,
    /// Stop at the first seed whose checks fail.
    #[arg(long)]
    pub stop_on_failure: bool,
    /// Start no new seed after this much wall time, e.g. "10m".
    #[arg(long, value_name = "DURATION")]
    pub time_budget: Option<WallDuration>,
    /// Report a seed as hung if it runs longer than this wall time.
    #[arg(long, value_name = "DURATION", default_value = "120s")]
    pub seed_timeout: WallDuration,
}

/// A wall-clock duration argument ("90s", "10m"), read like a virtual one.
#[derive(Clone, Copy, Debug)]
pub struct WallDuration(pub std::time::Duration);

impl std::str::FromStr for WallDuration {
    type Err = String;
    fn from_str(s: &str) -> Result<WallDuration, String> {
        let d: sim_core::Duration = s.parse().map_err(|e: sim_core::DurationError| e.to_string())?;
        Ok(WallDuration(std::time::Duration::from_nanos(d.as_nanos())))
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
    /// The seed range, `A..B`.
    pub seeds: String,
    /// The shard, `I/N`, if sharded.
    pub shard: Option<String>,
}

/// Everything a sweep table is made from.
pub struct Sweep {
    /// What was swept.
    pub header: Header,
    /// One outcome per seed run, in seed order.
    pub outcomes: Vec<SeedOutcome>,
    /// Why the sweep stopped early, if it did.
    pub stopped: Option<String>,
}

/// Runs `orrery sweep`.
pub fn run(args: SweepArgs) -> anyhow::Result<ExitCode> {
    if !args.merge.is_empty() {
        let sweep = merge(&args.merge)?;
        print!("{}", table(&sweep));
        return Ok(exit(as_expected(&sweep)));
    }
    let path = args.scenario.clone().expect("clap requires a scenario without --merge");
    let (scenario, runner) = load(&path)?;
    let seeds_text = args.seeds.clone().or_else(|| scenario.seeds.clone()).unwrap_or_else(|| "0..100".into());
    let range = parse_range(&seeds_text)?;
    let (shard_index, shard_count) = args.shard.as_deref().map(parse_shard).transpose()?.unwrap_or((0, 1));
    let seeds: Vec<u64> = range.clone().filter(|s| (s - range.start) % shard_count == shard_index).collect();
    let jobs =
        args.jobs.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())).max(1);
    let header = Header {
        scenario: scenario.name.clone(),
        path: path.clone(),
        expect: scenario.expect,
        seeds: seeds_text.clone(),
        shard: args.shard.clone(),
    };
    let options = Options {
        jobs,
        stop_on_failure: args.stop_on_failure,
        time_budget: args.time_budget.map(|d| d.0),
        seed_timeout: args.seed_timeout.0,
    };
    #[allow(clippy::disallowed_methods)] // the sweep reports its own wall time, outside any simulation
    let started = Instant::now();
    let (outcomes, stopped) = execute(&scenario, runner.as_ref(), &seeds, &options)?;
    let wall = started.elapsed().as_secs_f64();
    eprintln!(
        "ran {} seeds on {jobs} jobs in {wall:.1}s ({:.1} seeds/s)",
        outcomes.len(),
        outcomes.len() as f64 / wall.max(1e-9)
    );
    let sweep = Sweep { header, outcomes, stopped };
    if let Some(output) = &args.output {
        write_jsonl(output, &sweep)?;
    }
    print!("{}", table(&sweep));
    Ok(exit(as_expected(&sweep)))
}

struct Options {
    jobs: usize,
    stop_on_failure: bool,
    time_budget: Option<std::time::Duration>,
    seed_timeout: std::time::Duration,
}

/// Runs `seeds` on `options.jobs` threads; results come back in seed order.
fn execute(
    scenario: &Scenario,
    runner: &dyn Runner,
    seeds: &[u64],
    options: &Options,
) -> anyhow::Result<(Vec<SeedOutcome>, Option<String>)> {
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let stopped: Mutex<Option<String>> = Mutex::new(None);
    let results: Mutex<Vec<SeedOutcome>> = Mutex::new(Vec::with_capacity(seeds.len()));
    let running: Vec<Mutex<Option<(u64, Instant)>>> = (0..options.jobs).map(|_| Mutex::new(None)).collect();
    let working = AtomicUsize::new(options.jobs);
    let progress = Progress::new(seeds.len() as u64);
    #[allow(clippy::disallowed_methods)] // wall-clock budget of the sweep itself
    let started = Instant::now();
    std::thread::scope(|scope| {
        for slot in &running {
            scope.spawn(|| {
                loop {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    if options.time_budget.is_some_and(|b| started.elapsed() > b) {
                        stopped.lock().expect("lock").get_or_insert_with(|| "time budget spent".into());
                        break;
                    }
                    let Some(&seed) = seeds.get(next.fetch_add(1, Ordering::Relaxed)) else { break };
                    #[allow(clippy::disallowed_methods)] // watchdog for hung seeds, outside the simulation
                    let now = Instant::now();
                    *slot.lock().expect("lock") = Some((seed, now));
                    let outcome =
                        runner.run(seed, TraceSink::Hash).map(|r| r.0).unwrap_or_else(|e| errored(seed, &e));
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
        // The watchdog: a protocol stuck in a handler cannot be interrupted, so
        // report its seed and the command to reproduce it, then exit.
        scope.spawn(|| {
            while working.load(Ordering::Relaxed) > 0 {
                std::thread::sleep(std::time::Duration::from_millis(50));
                for slot in &running {
                    if let Some((seed, since)) = *slot.lock().expect("lock")
                        && since.elapsed() > options.seed_timeout
                    {
                        eprintln!(
                            "error: seed {seed} hung: no result after {:?} of wall time (a handler that never returns?)\nreproduce: orrery run {} --seed {seed}",
                            options.seed_timeout,
                            scenario.path.display()
                        );
                        std::process::exit(1);
                    }
                }
            }
        });
    });
    progress.finish();
    let mut outcomes = results.into_inner().expect("lock");
    outcomes.sort_by_key(|o| o.seed);
    Ok((outcomes, stopped.into_inner().expect("lock")))
}

fn errored(seed: u64, error: &anyhow::Error) -> SeedOutcome {
    SeedOutcome {
        seed,
        status: Status::Fail,
        signature: Some("error".into()),
        checks: vec![CheckResult {
            name: "error".into(),
            status: Status::Fail,
            detail: format!("{error:#}"),
            signature: None,
        }],
        time: sim_core::Time::ZERO,
        failed_at: Some(sim_core::Time::ZERO),
        events: 0,
        ops: [0; 3],
        faults: BTreeMap::new(),
        trace_hash: String::new(),
    }
}

/// A progress bar on a terminal; a plain line every tenth otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    total: u64,
    done: AtomicUsize,
    failed: AtomicUsize,
}

impl Progress {
    fn new(total: u64) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(total);
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} seeds, {msg} [{elapsed} < {eta}]",
                )
                .expect("valid template"),
            );
            bar
        });
        Progress { bar, total, done: AtomicUsize::new(0), failed: AtomicUsize::new(0) }
    }

    fn advance(&self, failed: bool) {
        let done = self.done.fetch_add(1, Ordering::Relaxed) as u64 + 1;
        let failures = self.failed.fetch_add(usize::from(failed), Ordering::Relaxed) + usize::from(failed);
        match &self.bar {
            Some(bar) => {
                bar.set_message(format!("{failures} failed"));
                bar.inc(1);
            }
            None => {
                let step = (self.total / 10).max(1);
                if done.is_multiple_of(step) || done == self.total {
                    eprintln!("progress {done}/{} seeds, {failures} failed", self.total);
                }
            }
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

fn parse_range(text: &str) -> anyhow::Result<std::ops::Range<u64>> {
    crate::scenario::parse_seeds(text).with_context(|| {
        format!(
            "--seeds {text:?}: expected a non-empty range A..B (A up to but not including B), like 0..1000"
        )
    })
}

fn parse_shard(text: &str) -> anyhow::Result<(u64, u64)> {
    let parsed =
        text.split_once('/').and_then(|(i, n)| Some((i.trim().parse().ok()?, n.trim().parse().ok()?)));
    match parsed {
        Some((i, n)) if n > 0 && i < n => Ok((i, n)),
        _ => bail!("--shard {text:?}: expected I/N with 0 <= I < N, like 0/4"),
    }
}

fn write_jsonl(path: &Path, sweep: &Sweep) -> anyhow::Result<()> {
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut out = BufWriter::new(file);
    serde_json::to_writer(&mut out, &sweep.header)?;
    writeln!(out)?;
    for outcome in &sweep.outcomes {
        serde_json::to_writer(&mut out, outcome)?;
        writeln!(out)?;
    }
    out.flush().with_context(|| format!("cannot write {}", path.display()))
}

/// Reads the JSON lines of several shards of one sweep into one.
pub fn merge(paths: &[PathBuf]) -> anyhow::Result<Sweep> {
    let mut header: Option<Header> = None;
    let mut outcomes: BTreeMap<u64, SeedOutcome> = BTreeMap::new();
    for path in paths {
        let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
        let mut lines = BufReader::new(file).lines().enumerate();
        let (_, first) = lines.next().with_context(|| format!("{}: empty file", path.display()))?;
        let this: Header = serde_json::from_str(&first?).with_context(|| {
            format!("{}:1: expected a sweep header (written by `orrery sweep --output`)", path.display())
        })?;
        match &header {
            None => header = Some(Header { shard: None, ..this }),
            Some(h) if h.scenario != this.scenario || h.seeds != this.seeds => bail!(
                "{}: sweeps {} over {}, but the first file sweeps {} over {}",
                path.display(),
                this.scenario,
                this.seeds,
                h.scenario,
                h.seeds
            ),
            Some(_) => {}
        }
        for (index, line) in lines {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            let outcome: SeedOutcome = serde_json::from_str(&line)
                .with_context(|| format!("{}:{}: not a seed outcome", path.display(), index + 1))?;
            outcomes.insert(outcome.seed, outcome);
        }
    }
    let header = header.context("--merge needs at least one file")?;
    Ok(Sweep { header, outcomes: outcomes.into_values().collect(), stopped: None })
}

/// Whether the sweep came out as its scenario expects.
pub fn as_expected(sweep: &Sweep) -> bool {
    let failed = sweep.outcomes.iter().any(|o| o.status == Status::Fail);
    match sweep.header.expect {
        Expect::Pass => !failed,
        Expect::Violation => failed,
    }
}

/// The sweep table: counts, faults exercised, failures grouped by signature.
pub fn table(sweep: &Sweep) -> String {
    let mut out = String::new();
    let count = |s| sweep.outcomes.iter().filter(|o| o.status == s).count();
    let h = &sweep.header;
    let _ = writeln!(out, "sweep      {} ({}) seeds {}", h.scenario, h.path.display(), h.seeds);
    let _ = writeln!(
        out,
        "seeds      {} run: {} passed, {} failed, {} unknown",
        sweep.outcomes.len(),
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
    let mut groups: BTreeMap<&str, Vec<&SeedOutcome>> = BTreeMap::new();
    for outcome in sweep.outcomes.iter().filter(|o| o.status == Status::Fail) {
        groups.entry(outcome.signature.as_deref().unwrap_or("failure")).or_default().push(outcome);
    }
    if !groups.is_empty() {
        let _ = writeln!(out, "failures   by signature, fastest-failing seed first");
    }
    for (signature, mut members) in groups {
        members.sort_by_key(|o| (o.failed_at, o.seed));
        let first = members[0];
        let seeds: Vec<String> = members.iter().take(10).map(|o| o.seed.to_string()).collect();
        let more =
            if members.len() > 10 { format!(" and {} more", members.len() - 10) } else { String::new() };
        let _ = writeln!(out, "  {signature}: {} seeds ({}{more})", members.len(), seeds.join(", "));
        if let Some(check) = first.checks.iter().find(|c| c.status == Status::Fail) {
            let at = first.failed_at.map_or(String::new(), |t| format!(" at {t}"));
            let _ = writeln!(out, "    seed {} failed{at}: {}", first.seed, check.detail);
        }
        let _ = writeln!(out, "    replay: orrery run {} --seed {}", h.path.display(), first.seed);
    }
    let verdict = match (h.expect, as_expected(sweep)) {
        (Expect::Pass, true) => "pass: every seed passed, as expected",
        (Expect::Pass, false) => "FAIL: the scenario expects every seed to pass",
        (Expect::Violation, true) => "violation found, as expected",
        (Expect::Violation, false) => "FAIL: the scenario expects a violation and no seed showed one",
    };
    let _ = writeln!(out, "verdict    {verdict}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_shards_parse() {
        assert_eq!(parse_range("3..7").unwrap(), 3..7);
        assert!(parse_range("7..3").is_err());
        assert!(parse_range("x").is_err());
        assert_eq!(parse_shard("1/4").unwrap(), (1, 4));
        assert!(parse_shard("4/4").is_err());
    }
}
