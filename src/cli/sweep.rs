//! `orrery sweep`: many seeds of one scenario, sharded and merged, ending in
//! the failure table.

use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;

use crate::Registry;
use crate::shard::{self, Shard};
use crate::sweep::{self, Options, Seeds, Sweep};

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
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub jobs: Option<u16>,
    /// Run only every N-th seed starting at the I-th (0-based), to split a range over machines;
    /// `auto` reads I and N from the batch engine's environment (Kubernetes Indexed Job,
    /// Slurm array, or ORRERY_SHARD_INDEX and ORRERY_SHARD_COUNT).
    #[arg(long, value_name = "I/N|auto")]
    pub shard: Option<String>,
    /// Write one JSON line per seed to this file (for --merge); a directory gets
    /// sweep-shard-<I>-of-<N>.jsonl, the file `--shard auto` writes by default.
    #[arg(long, short, value_name = "FILE|DIR")]
    pub output: Option<PathBuf>,
    /// Combine the JSON lines of every shard of a sweep into one table instead of running.
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
    /// Draw the fastest-failing seed of each failure group as a page in this directory.
    #[arg(long, value_name = "DIR", conflicts_with = "merge")]
    pub html: Option<PathBuf>,
    /// Shrink the fastest-failing seed of each failure group into a scenario file in this directory.
    #[arg(long, value_name = "DIR", conflicts_with = "merge")]
    pub shrink: Option<PathBuf>,
    /// Swarm mode whatever the file says: each seed draws its own fault kinds, rates and network noise.
    #[arg(long, conflicts_with = "merge")]
    pub swarm: bool,
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

/// Runs `orrery sweep`.
pub fn run(registry: &Registry, args: SweepArgs) -> anyhow::Result<ExitCode> {
    if !args.merge.is_empty() {
        let sweep = sweep::merge(&args.merge)?;
        super::out(&sweep::table(&sweep))?;
        return Ok(sweep.conclusion().exit_code());
    }
    let path = args.scenario.clone().context("a scenario file is needed without --merge")?;
    let (scenario, runner) = super::load(registry, &path, args.swarm)?;
    let seeds_text = args.seeds.clone().or_else(|| scenario.seeds.clone()).unwrap_or_else(|| "0..100".into());
    let range = crate::scenario::parse_seeds(&seeds_text).with_context(|| {
        format!("--seeds {seeds_text:?}: expected a non-empty range A..B (A up to but not including B), like 0..1000")
    })?;
    let shard = shard_of(args.shard.as_deref())?;
    let seeds = Seeds::range(range).shard(shard.index, shard.count);
    if shard.engine.is_some() {
        eprintln!("shard      {shard}");
    }
    for dir in [&args.html, &args.shrink].into_iter().flatten() {
        anyhow::ensure!(dir.is_dir(), "{} is not a directory", dir.display());
    }
    let output_path = output_of(&shard, args.output.as_deref());
    if let Some(path) = &output_path {
        super::shrink::check_writable(path)?;
    }
    let mut output = match &output_path {
        Some(path) => Some(BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("cannot create {}", path.display()))?,
        )),
        None => None,
    };
    let jobs = args.jobs.map_or_else(sweep::default_jobs, usize::from);
    let options = Options {
        jobs,
        stop_on_failure: args.stop_on_failure,
        time_budget: args.time_budget.map(|d| d.0),
        seed_timeout: Some(args.seed_timeout.0),
        progress: true,
    };
    #[allow(clippy::disallowed_methods)] // the sweep reports its own wall time, outside any simulation
    let started = std::time::Instant::now();
    let sweep: Sweep = sweep::run(runner.as_ref(), seeds, &options);
    let wall = started.elapsed().as_secs_f64();
    eprintln!(
        "ran {} seeds on {jobs} jobs in {wall:.1}s ({:.1} seeds/s)",
        sweep.outcomes.len(),
        sweep.outcomes.len() as f64 / wall.max(1e-9)
    );
    if let (Some(out), Some(path)) = (output.as_mut(), &output_path) {
        sweep::write_jsonl(out, &sweep).with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("wrote      {}", path.display());
    }
    super::out(&sweep::table(&sweep))?;
    let firsts = sweep::fastest_failures(&sweep);
    if let Some(dir) = &args.html {
        for outcome in &firsts {
            let file = dir.join(format!("{}-seed-{}.html", scenario.name, outcome.seed));
            let (picture, _) = crate::picture::draw(runner.as_ref(), outcome.seed)?;
            std::fs::write(&file, orrery_viz::html(&picture))
                .with_context(|| format!("cannot write {}", file.display()))?;
            super::out(&format!("drew       {}\n", file.display()))?;
        }
    }
    if let Some(dir) = &args.shrink {
        let options = crate::shrink::Options { jobs, ..crate::shrink::Options::default() };
        for outcome in &firsts {
            let file = dir.join(format!("{}-seed-{}.toml", scenario.name, outcome.seed));
            let shrunk = super::shrink::shrink_file(registry, &path, args.swarm, outcome.seed, &options)?;
            std::fs::write(&file, &shrunk.text)
                .with_context(|| format!("cannot write {}", file.display()))?;
            super::out(&format!("shrunk     {}: {}\n", file.display(), shrunk.after))?;
        }
    }
    Ok(sweep.conclusion().exit_code())
}

/// The shard `--shard` names: none is shard 0 of 1, `auto` is read from
/// the environment, anything else is `I/N`.
fn shard_of(text: Option<&str>) -> anyhow::Result<Shard> {
    Ok(match text {
        None => Shard::typed(0, 1),
        Some("auto") => {
            shard::shard_from_env(|name| std::env::var_os(name).map(|v| v.to_string_lossy().into_owned()))?
        }
        Some(text) => {
            let (index, count) = shard::parse(text)?;
            Shard::typed(index, count)
        }
    })
}

/// Where the JSON lines go: `--output` (a directory gets the shard's own
/// file name), or the shard's file name when the shard came from the
/// environment, since a batch engine's shard is only of use merged.
fn output_of(shard: &Shard, output: Option<&Path>) -> Option<PathBuf> {
    match output {
        Some(path) => Some(shard.output(Some(path))),
        None => shard.engine.is_some().then(|| shard.output(None)),
    }
}
