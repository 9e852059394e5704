//! The whole Orrery command line, with chain replication registered.

use std::process::ExitCode;

use chain_replication::Chain;
use orrery::Registry;

fn main() -> ExitCode {
    orrery::cli::main(Registry::builtin().with::<Chain>())
}
