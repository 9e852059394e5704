//! `orrery run`: one seed of a scenario, summarised for people or tools.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use sim_core::{RunReport, TraceSink};

use crate::{Conclusion, Expect, Registry, SeedOutcome, Status};

/// Arguments of `orrery run`.
#[derive(clap::Args)]
pub struct RunArgs {
    /// The scenario file.
    pub scenario: PathBuf,
    /// The seed (default: the scenario's own).
    #[arg(long)]
    pub seed: Option<u64>,
    /// Write the trace as JSON lines to this file.
    #[arg(long, value_name = "FILE")]
    pub trace: Option<PathBuf>,
    /// Write the client history as JSON lines to this file.
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
    /// Print the report as JSON instead of text.
    #[arg(long)]
    pub json: bool,
    /// Also print the run's fault schedule as `[[faults]]` entries for a scenario file.
    #[arg(long)]
    pub print_faults: bool,
    /// Swarm mode whatever the file says: each seed draws its own fault kinds, rates and network noise.
    #[arg(long)]
    pub swarm: bool,
    /// Draw the run as one offline HTML page (or, for a `.svg` file, a static SVG).
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

/// Runs `orrery run`.
pub fn run(registry: &Registry, args: RunArgs) -> anyhow::Result<ExitCode> {
    let (scenario, runner) = super::load(registry, &args.scenario, args.swarm)?;
    let seed = args.seed.unwrap_or(scenario.seed);
    for path in [&args.trace, &args.history, &args.html].into_iter().flatten() {
        super::shrink::check_writable(path)?;
    }
    // The trace is kept in memory and written here, so a full disk is an
    // input/output error (exit 2), never a verdict about the protocol.
    let keep = args.trace.is_some() || args.html.is_some();
    let sink = if keep { TraceSink::Memory(Vec::new()) } else { TraceSink::Hash };
    let (outcome, report) = runner.run(seed, sink)?;
    if let Some(path) = &args.trace {
        let mut out = BufWriter::new(
            File::create(path).with_context(|| format!("cannot create trace file {}", path.display()))?,
        );
        out.write_all(report.trace.as_deref().unwrap_or_default())
            .and_then(|()| out.flush())
            .with_context(|| format!("cannot write the trace to {}", path.display()))?;
    }
    if let Some(path) = &args.history {
        let file =
            File::create(path).with_context(|| format!("cannot create history file {}", path.display()))?;
        let mut out = BufWriter::new(file);
        report
            .history
            .write_jsonl(&mut out)
            .and_then(|()| out.flush())
            .context("cannot write the history")?;
    }
    let conclusion = scenario.expect.judge_seed(&outcome);
    if let Some(path) = &args.html {
        let picture = crate::picture::draw_run(runner.as_ref(), &outcome, &report)?;
        std::fs::write(path, crate::picture::render(&picture, path))
            .with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("drew       {}", path.display());
    }
    if args.json {
        let json = serde_json::json!({
            "scenario": scenario.name,
            "path": scenario.path,
            "expect": scenario.expect,
            "as_expected": conclusion.is_expected(),
            "outcome": outcome,
            "end": report.end,
            "net": report.net,
            "probes": report.probes,
            "schedule": report.schedule,
        });
        super::out(&format!("{}\n", serde_json::to_string_pretty(&json)?))?;
    } else {
        super::out(&summary(
            &scenario.name,
            &args.scenario,
            &outcome,
            &report,
            &scenario.expect,
            &conclusion,
            runner.probes(),
        ))?;
        if args.print_faults {
            if let Some(config) = &outcome.swarm {
                super::out(&format!(
                    "\n# The configuration seed {seed} drew in swarm mode, as plain settings: in place of the\n# scenario's [network], [storage] and [nemesis] they give this very run again.\n\n"
                ))?;
                super::out(&crate::swarm::plain_toml(config, scenario.network.fifo))?;
            }
            super::out(&format!(
                "\n# The faults of seed {seed}, to paste into a scenario file (without [nemesis]):\n\n"
            ))?;
            super::out(&crate::scenario::schedule_toml(&report.schedule))?;
        }
    }
    Ok(conclusion.exit_code())
}

/// The probes one seed reached, each with its count and first hit, then the
/// declared probes it did not reach.
fn probes(out: &mut String, report: &RunReport, declared: &[(&str, &str)]) {
    use std::fmt::Write as _;
    let hits = report.probes.hits();
    if hits.is_empty() && declared.is_empty() {
        return;
    }
    let width =
        hits.iter().map(|h| h.name.len()).chain(declared.iter().map(|d| d.0.len())).max().unwrap_or(0);
    if hits.is_empty() {
        let _ = writeln!(out, "probes     none reached");
    }
    for (i, hit) in hits.iter().enumerate() {
        let label = if i == 0 { "probes" } else { "" };
        let mark = if declared.iter().any(|d| d.0 == hit.name) { "" } else { "  UNDECLARED" };
        let times = format!("{} {}", hit.count, if hit.count == 1 { "time" } else { "times" });
        let _ = writeln!(
            out,
            "{label:<10} {:<width$} {times:>12}, first at {} by {}{mark}",
            hit.name, hit.first, hit.node
        );
    }
    let unreached: Vec<&str> =
        declared.iter().map(|d| d.0).filter(|name| report.probes.get(name).is_none()).collect();
    if !unreached.is_empty() {
        let _ = writeln!(out, "unreached  {}", unreached.join(", "));
    }
}

/// The human summary of one seed; `declared` are the protocol's probes.
pub fn summary(
    name: &str,
    path: &std::path::Path,
    outcome: &SeedOutcome,
    report: &RunReport,
    expect: &Expect,
    conclusion: &Conclusion,
    declared: &[(&str, &str)],
) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let net = &report.net;
    let faults: Vec<String> = outcome.faults.iter().map(|(k, n)| format!("{k} x{n}")).collect();
    let _ = writeln!(out, "scenario   {name} ({})", path.display());
    let _ = writeln!(out, "seed       {}", outcome.seed);
    let _ = writeln!(out, "simulated  {} of virtual time, {} events", outcome.time, outcome.events);
    let _ = writeln!(
        out,
        "messages   sent {}, delivered {}, dropped {} (partition {}, loss {}, down {}), duplicated {}",
        net.sent,
        net.delivered,
        net.dropped_partition + net.dropped_loss + net.dropped_down,
        net.dropped_partition,
        net.dropped_loss,
        net.dropped_down,
        net.duplicated
    );
    if let Some(config) = &outcome.swarm {
        let _ = writeln!(out, "swarm      {}", crate::swarm::describe(config));
    }
    let _ = writeln!(
        out,
        "faults     {}",
        if faults.is_empty() { "none".to_string() } else { faults.join(", ") }
    );
    probes(&mut out, report, declared);
    let [ok, fail, info] = outcome.ops;
    let _ = writeln!(out, "operations ok {ok}, fail {fail}, info {info}");
    let _ = writeln!(out, "checks");
    for check in &outcome.checks {
        let _ = writeln!(
            out,
            "  {:<16} {:<7} {}",
            check.name,
            check.status.label(),
            crate::sweep::one_line(&check.detail)
        );
    }
    let _ = writeln!(out, "trace hash {}", outcome.trace_hash);
    let verdict = match outcome.status {
        Status::Pass => "pass",
        Status::Fail => "violation",
        Status::Unknown => "unknown",
    };
    let note = match conclusion {
        Conclusion::AsExpected(_) => "as expected".to_string(),
        Conclusion::NotAsExpected(why) => format!("NOT as expected: {why}"),
        Conclusion::Undecided(why) => format!("UNDECIDED: {why}"),
    };
    let _ = writeln!(out, "verdict    {verdict} (scenario expects {expect}: {note})");
    if outcome.status == Status::Fail {
        let _ = writeln!(
            out,
            "replay     {} replay {} --seed {} --expect-hash {}",
            crate::program(),
            path.display(),
            outcome.seed,
            outcome.trace_hash
        );
    }
    out
}
