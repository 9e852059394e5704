//! The `orrery` binary: the command line over Orrery's built-in protocols.

use std::process::ExitCode;

fn main() -> ExitCode {
    orrery::cli::main(orrery::Registry::builtin())
}
