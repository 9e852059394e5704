//! `orrery shrink`: a failing seed down to the smallest scenario file that
//! fails the same way.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use super::sweep::WallDuration;
use crate::Registry;
use crate::shrink::{self, Options};

/// Arguments of `orrery shrink`.
#[derive(clap::Args)]
pub struct ShrinkArgs {
    /// The scenario file.
    pub scenario: PathBuf,
    /// The failing seed.
    #[arg(long)]
    pub seed: u64,
    /// Write the shrunk scenario here (default: standard output).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Stop searching after this much wall time, keeping the smallest found so far.
    #[arg(long, value_name = "DURATION", default_value = "2m")]
    pub time_budget: WallDuration,
    /// Runs at once when trying seeds (default: one per core); the result does not depend on it.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub jobs: Option<u16>,
    /// Swarm mode whatever the file says: each seed draws its own fault kinds, rates and network noise.
    #[arg(long)]
    pub swarm: bool,
}

/// Runs `orrery shrink`.
pub fn run(registry: &Registry, args: ShrinkArgs) -> anyhow::Result<ExitCode> {
    if let Some(path) = &args.output {
        check_writable(path)?;
    }
    let options = Options {
        time_budget: args.time_budget.0,
        jobs: args.jobs.map_or_else(crate::sweep::default_jobs, usize::from),
        progress: true,
        ..Options::default()
    };
    let shrunk = shrink_file(registry, &args.scenario, args.swarm, args.seed, &options)?;
    eprintln!("signature  {}", shrunk.signature);
    eprintln!("before     {}", shrunk.before);
    eprintln!("after      {} (seed {}, {} runs)", shrunk.after, shrunk.seed, shrunk.runs);
    match &args.output {
        Some(path) => {
            std::fs::write(path, &shrunk.text).with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("wrote      {}", path.display());
            eprintln!("replay     {} run {}", crate::program(), path.display());
        }
        None => super::out(&shrunk.text)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Shrinks seed `seed` of the scenario at `path`, in swarm mode if `swarm`.
pub(crate) fn shrink_file(
    registry: &Registry,
    path: &std::path::Path,
    swarm: bool,
    seed: u64,
    options: &Options,
) -> anyhow::Result<shrink::Shrunk> {
    let mut text = crate::Scenario::read(path)?;
    if swarm {
        text = crate::swarm::swarm_text(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    }
    Ok(shrink::shrink_text(registry, path, &text, seed, options)?)
}

/// Fails before any work if `path` cannot be created.
pub(crate) fn check_writable(path: &std::path::Path) -> anyhow::Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(std::path::Path::new("."));
    anyhow::ensure!(dir.is_dir(), "cannot write {}: {} is not a directory", path.display(), dir.display());
    Ok(())
}
