//! The `orrery` command line: parse, run the subcommand, map the outcome to an exit code.

mod check;
mod list;
mod replay;
mod run;
mod runner;
mod scenario;
mod sweep;

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};

/// Orrery: a deterministic simulator for distributed systems.
#[derive(Parser)]
#[command(name = "orrery", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one seed of a scenario and summarise it.
    Run(run::RunArgs),
    /// Run many seeds of a scenario, one simulation per core.
    Sweep(sweep::SweepArgs),
    /// Rerun a seed and verify its trace hash.
    Replay(replay::ReplayArgs),
    /// Check a recorded history for linearizability against a model.
    Check(check::CheckArgs),
    /// List protocols, models and scenarios.
    List(list::ListArgs),
}

/// Exit code for usage or input errors.
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    quiet_simulated_panics();
    init_logging();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Sweep(args) => sweep::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Check(args) => check::run(args),
        Command::List(args) => list::run(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// 0 when the outcome is what was expected, 1 when it is not.
fn exit(as_expected: bool) -> ExitCode {
    if as_expected { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// Reads a scenario and binds it to its protocol.
fn load(path: &Path) -> anyhow::Result<(scenario::Scenario, Box<dyn runner::Runner>)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read scenario {}", path.display()))?;
    let scenario = scenario::Scenario::parse(&text, path)?;
    let runner = runner::runner(&scenario, &text)?;
    Ok((scenario, runner))
}

/// A panic in a simulated node is caught by the engine and reported with its
/// seed; printing it as well would bury sweep output. Other panics (bugs in
/// Orrery itself) still print.
fn quiet_simulated_panics() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let in_simulation = info
            .location()
            .is_some_and(|l| l.file().contains("protocols/") || l.file().contains("sim-core/"));
        if !in_simulation || std::env::var_os("ORRERY_SHOW_PANICS").is_some() {
            default(info);
        }
    }));
}

/// Logs go to stderr when `ORRERY_LOG` (or `RUST_LOG`) asks for them, e.g.
/// `ORRERY_LOG=debug`. Records carry the virtual time (`t`) and node of the
/// handler that wrote them, never the wall clock.
fn init_logging() {
    let filter = std::env::var("ORRERY_LOG").or_else(|_| std::env::var("RUST_LOG"));
    if let Ok(filter) = filter {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .without_time()
            .with_writer(std::io::stderr)
            .init();
    }
}
