//! `orrery replay`: rerun a seed and verify its trace hash, so a stale
//! reproduction is detected rather than trusted.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use sim_core::TraceSink;

use crate::expect::EXIT_UNEXPECTED;
use crate::{Registry, Status};

/// Arguments of `orrery replay`.
#[derive(clap::Args)]
pub struct ReplayArgs {
    /// The scenario file.
    pub scenario: PathBuf,
    /// The seed to replay.
    #[arg(long)]
    pub seed: u64,
    /// The trace hash the seed produced before: 16 hex digits, or a JSON report from `orrery run --json`.
    #[arg(long, value_name = "HASH|REPORT")]
    pub expect_hash: Option<String>,
    /// Swarm mode whatever the file says: each seed draws its own fault kinds, rates and network noise.
    #[arg(long)]
    pub swarm: bool,
}

/// Runs `orrery replay`.
pub fn run(registry: &Registry, args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let (scenario, runner) = super::load(registry, &args.scenario, args.swarm)?;
    let (outcome, _) = runner.run(args.seed, TraceSink::Hash)?;
    let expected = args.expect_hash.as_deref().map(expected_hash).transpose()?;
    let mut out = format!(
        "scenario   {} ({})\nseed       {}\ntrace hash {}\n",
        scenario.name,
        args.scenario.display(),
        args.seed,
        outcome.trace_hash
    );
    for check in outcome.checks.iter().filter(|c| c.status != Status::Pass) {
        out.push_str(&format!("check      {}: {}\n", check.name, crate::sweep::one_line(&check.detail)));
    }
    let code = match expected {
        None => ExitCode::SUCCESS,
        Some(expected) if expected == outcome.trace_hash => {
            out.push_str("replay     matches the recorded hash\n");
            ExitCode::SUCCESS
        }
        Some(expected) => {
            out.push_str(&format!(
                "replay     MISMATCH: recorded {expected}, got {}; the code or the scenario changed since it was recorded\n",
                outcome.trace_hash
            ));
            ExitCode::from(EXIT_UNEXPECTED)
        }
    };
    super::out(&out)?;
    Ok(code)
}

fn expected_hash(text: &str) -> anyhow::Result<String> {
    let is_hash = text.len() == 16 && text.bytes().all(|b| b.is_ascii_hexdigit());
    if is_hash {
        return Ok(text.to_ascii_lowercase());
    }
    let report = std::fs::read_to_string(text).with_context(|| {
        format!("--expect-hash {text:?} is neither 16 hex digits nor a readable report file")
    })?;
    let json: serde_json::Value =
        serde_json::from_str(&report).with_context(|| format!("{text} is not a JSON report"))?;
    json["outcome"]["trace_hash"]
        .as_str()
        .map(str::to_string)
        .with_context(|| format!("{text} has no outcome.trace_hash"))
}
