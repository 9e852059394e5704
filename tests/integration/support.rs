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

/// Every scenario file under `scenarios/`, relative to the root, sorted.
pub fn scenario_files() -> Vec<String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("scenarios/ is readable").flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "toml") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&root().join("scenarios"), &mut files);
    let mut names: Vec<String> = files
        .iter()
        .map(|p| p.strip_prefix(root()).expect("under root").to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A fresh scratch directory for one test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("orrery-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}
