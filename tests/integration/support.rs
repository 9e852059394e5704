//! Running the built `orrery` binary from the repository root.

use std::path::{Path, PathBuf};
use std::process::Command;

/// What one invocation printed and how it exited.
pub struct Output {
    /// The exit code.
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

/// The repository root, where `scenarios/` lives.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Runs `orrery` with `args` from the repository root.
pub fn orrery(args: &[&str]) -> Output {
    let output = Command::new(env!("CARGO_BIN_EXE_orrery"))
        .args(args)
        .current_dir(root())
        .env_remove("ORRERY_SHOW_PANICS")
        .output()
        .expect("the orrery binary runs");
    Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// A fresh scratch directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("orrery-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}
