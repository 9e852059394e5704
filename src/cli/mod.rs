//! The `orrery` command line, for any [`Registry`]: parse, run the
//! subcommand, map the outcome to an exit code.
//!
//! A crate with its own protocols gets the whole command line with
//! `orrery::cli::main(Registry::builtin().with::<MyProtocol>())`.

mod check;
mod list;
mod replay;
mod run;
mod shrink;
mod sweep;
mod viz;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::Registry;
use crate::expect::EXIT_USAGE;

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
    /// Shrink a failing seed to the smallest scenario file that fails the same way.
    Shrink(shrink::ShrinkArgs),
    /// Draw a recorded trace as an offline HTML page or a static SVG.
    Viz(viz::VizArgs),
    /// List protocols, models and scenarios.
    List(list::ListArgs),
    /// Print the scenario-file reference: every table and key, its type, default and meaning.
    Reference,
}

/// Runs the command line in `std::env::args` against `registry`.
pub fn main(registry: Registry) -> ExitCode {
    install_panic_hook();
    init_logging();
    if let Some(name) = std::env::args_os()
        .next()
        .and_then(|a| std::path::Path::new(&a).file_stem().map(|s| s.to_string_lossy().into_owned()))
    {
        crate::set_program(name);
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run::run(&registry, args),
        Command::Sweep(args) => sweep::run(&registry, args),
        Command::Replay(args) => replay::run(&registry, args),
        Command::Check(args) => check::run(args),
        Command::Shrink(args) => shrink::run(&registry, args),
        Command::Viz(args) => viz::run(args),
        Command::List(args) => list::run(&registry, args),
        Command::Reference => {
            print!("{}", crate::reference::markdown());
            Ok(ExitCode::SUCCESS)
        }
    };
    let code = match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(EXIT_USAGE)
        }
    };
    flush_stdout(code)
}

/// A closed pipe (`orrery list | head -1`) or a full disk ends the command
/// quietly with an error code instead of a panic.
fn flush_stdout(code: ExitCode) -> ExitCode {
    use std::io::Write as _;
    match std::io::stdout().flush() {
        Ok(()) => code,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => code,
        Err(e) => {
            eprintln!("error: cannot write to standard output: {e}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// Reads and binds a scenario; with `swarm` (the `--swarm` flag) in swarm
/// mode whatever its file says.
pub(crate) fn load(
    registry: &Registry,
    path: &std::path::Path,
    swarm: bool,
) -> Result<(crate::Scenario, Box<dyn crate::Runner>), crate::ScenarioError> {
    let text = crate::Scenario::read(path)?;
    let mut scenario = crate::Scenario::parse(&text, path)?;
    if swarm {
        scenario.enable_swarm();
    }
    let runner = registry.bind(&scenario, &text)?;
    Ok((scenario, runner))
}

/// Writes to standard output, turning a closed pipe or full disk into an error.
pub(crate) fn out(text: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(anyhow::anyhow!("cannot write to standard output: {e}")),
    }
}

/// A panic inside a simulated node's handler is caught by the engine and
/// reported with its seed and replay command; printing it as well would bury
/// sweep output. Any other panic is a bug in Orrery and prints in full.
fn install_panic_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !sim_core::in_handler() || std::env::var_os("ORRERY_SHOW_PANICS").is_some() {
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
