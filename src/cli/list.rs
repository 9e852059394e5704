//! `orrery list`: protocols with their parameters, planted bugs and
//! coverage probes, models, scenarios.

use std::path::PathBuf;
use std::process::ExitCode;

use std::fmt::Write as _;

use crate::{ModelKind, Registry, Scenario};

/// Arguments of `orrery list`.
#[derive(clap::Args)]
pub struct ListArgs {
    /// Where to look for scenario files.
    #[arg(long, default_value = "scenarios")]
    pub scenarios: PathBuf,
}

/// Runs `orrery list`.
pub fn run(registry: &Registry, args: ListArgs) -> anyhow::Result<ExitCode> {
    let mut out = String::from("protocols\n");
    for p in registry.entries() {
        let model = p.model.map_or("none", ModelKind::name);
        let _ = writeln!(out, "  {:<16} {} (model: {model})", p.name, p.summary);
        for parameter in &p.parameters {
            let _ = writeln!(out, "    {parameter}");
        }
        for parameter in &p.workload {
            let _ = writeln!(out, "    workload.{parameter}");
        }
        for (bug, effect) in &p.bugs {
            let _ = writeln!(out, "    bug {bug:<22} {effect}");
        }
        let width = p.probes.iter().map(|(probe, _)| probe.len()).max().unwrap_or(0).max(20);
        for (probe, meaning) in p.probes {
            let _ = writeln!(out, "    probe {probe:<width$} {meaning}");
        }
    }
    out.push_str("models\n");
    for model in ModelKind::ALL {
        let _ = writeln!(out, "  {:<16} {}", model.name(), model.summary());
    }
    let _ = writeln!(out, "scenarios ({})", args.scenarios.display());
    let files = crate::testing::scenario_files(&args.scenarios);
    if files.is_empty() {
        out.push_str("  none found\n");
    }
    for file in files {
        match registry.load(&file) {
            Ok((s, _)) => {
                let _ = writeln!(out, "  {:<44} {:<9} {}", file.display(), expect_word(&s), s.description);
            }
            Err(e) => {
                let _ = writeln!(out, "  {:<44} INVALID   {e}", file.display());
            }
        }
    }
    super::out(&out)?;
    Ok(ExitCode::SUCCESS)
}

fn expect_word(s: &Scenario) -> &'static str {
    match s.expect {
        crate::Expect::Pass => "pass",
        crate::Expect::Violation(_) => "violation",
    }
}
