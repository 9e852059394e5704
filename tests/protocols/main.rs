//! The protocols' tests: the scenario files are the tests. Every file in
//! `scenarios/` reaches the verdict it declares over hundreds of seeds, every
//! planted bug has a scenario that finds it by the named check, runs replay
//! hash-exact, and proptest drives fault schedules through the same library
//! a protocol in another crate uses.

mod catalogue;
mod honesty;
mod leader;
mod probes;
mod properties;
mod scenarios;
mod shrink;

use std::path::{Path, PathBuf};

/// The repository root, where `scenarios/` lives.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Every scenario file, sorted.
pub fn scenario_files() -> Vec<PathBuf> {
    orrery::testing::scenario_files(root().join("scenarios"))
}
