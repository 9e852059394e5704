//! The `orrery` command line: parse, run the subcommand, map the outcome to an exit code.

mod check;

use std::process::ExitCode;

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
    /// Check a recorded history for linearizability against a model.
    Check(check::CheckArgs),
}

/// Exit code for usage or input errors.
const EXIT_USAGE: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check(args) => check::run(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}
