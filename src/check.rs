//! `orrery check`: judge a recorded history.

use std::process::ExitCode;

/// Arguments of `orrery check`.
#[derive(clap::Args)]
pub struct CheckArgs {
    /// The history file.
    pub history: std::path::PathBuf,
}

/// Runs `orrery check`.
pub fn run(_args: CheckArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("orrery check is not implemented yet")
}
