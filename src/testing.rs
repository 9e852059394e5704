//! Scenario files as tests: one line in a protocol crate's `cargo test`
//! sweeps its scenarios and fails with the seed, the failing check and the
//! command that replays it.
//!
//! ```no_run
//! #[test]
//! fn scenarios() {
//!     orrery::testing::assert_scenarios(&orrery::Registry::builtin(), "scenarios");
//! }
//! ```

use std::path::{Path, PathBuf};

use proptest::test_runner::TestCaseError;
use sim_core::{FaultSchedule, TraceSink};

use crate::coverage::Coverage;
use crate::sweep::{self, Options, Seeds};
use crate::{Expect, Registry, Scenario, Status};

/// Seeds a passing scenario is swept over when its file names none: sweeps
/// run hundreds of seeds a second, and 16 prove little.
pub const PASS_SEEDS: u64 = 500;
/// Seeds searched for a violation when the file names none.
pub const VIOLATION_SEEDS: u64 = 200;

/// Every `.toml` file under `dir`, recursively, in sorted order.
pub fn scenario_files(dir: impl AsRef<Path>) -> Vec<PathBuf> {
    let mut files = Vec::new();
    collect(dir.as_ref(), &mut files);
    files.sort();
    files
}

fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, files);
        } else if path.extension().is_some_and(|e| e == "toml") {
            files.push(path);
        }
    }
}

/// The seeds a test sweeps a scenario over: its own `seeds`, else
/// [`PASS_SEEDS`] or [`VIOLATION_SEEDS`].
pub fn test_seeds(scenario: &Scenario) -> std::ops::Range<u64> {
    scenario.seed_range().unwrap_or(match scenario.expect {
        Expect::Pass => 0..PASS_SEEDS,
        Expect::Violation(_) => 0..VIOLATION_SEEDS,
    })
}

/// Sweeps one scenario file over its test seeds and says what went wrong,
/// with the sweep table (every failure group with its replay command).
pub fn check_scenario(registry: &Registry, path: impl AsRef<Path>) -> Result<(), String> {
    let path = path.as_ref();
    let (scenario, runner) = registry.load(path).map_err(|e| e.to_string())?;
    let seeds = test_seeds(&scenario);
    check_seeds(runner.as_ref(), seeds)
}

/// Sweeps a bound scenario over `seeds`; a violation scenario stops at the
/// first failure, which must be the expected one. A probe the protocol
/// reached but does not declare in `Catalogued::PROBES` fails it too.
fn check_seeds(runner: &dyn crate::Runner, seeds: std::ops::Range<u64>) -> Result<(), String> {
    let scenario = runner.scenario();
    let options =
        Options { stop_on_failure: matches!(scenario.expect, Expect::Violation(_)), ..Options::default() };
    let swept = sweep::run(runner, Seeds::range(seeds), &options);
    let undeclared = Coverage::of(&swept.header.probes, &swept.outcomes).undeclared();
    if !undeclared.is_empty() {
        return Err(format!(
            "probes reached but not declared in Catalogued::PROBES: {}\n{}",
            undeclared.join(", "),
            sweep::table(&swept)
        ));
    }
    let conclusion = swept.conclusion();
    if conclusion.is_expected() { Ok(()) } else { Err(sweep::table(&swept)) }
}

/// Panics unless the scenario file reaches the verdict it declares over its test seeds.
pub fn assert_scenario(registry: &Registry, path: impl AsRef<Path>) {
    if let Err(table) = check_scenario(registry, path.as_ref()) {
        panic!("{} did not reach its declared verdict:\n{table}", path.as_ref().display());
    }
}

/// Panics unless every scenario file under `dir` reaches the verdict it declares.
pub fn assert_scenarios(registry: &Registry, dir: impl AsRef<Path>) {
    let files = scenario_files(dir.as_ref());
    assert!(!files.is_empty(), "no scenario files under {}", dir.as_ref().display());
    let wrong: Vec<String> = files
        .iter()
        .filter_map(|f| check_scenario(registry, f).err().map(|t| format!("{}:\n{t}", f.display())))
        .collect();
    assert!(wrong.is_empty(), "scenarios that did not reach their declared verdict:\n{}", wrong.join("\n"));
}

/// Runs one seed of a scenario with its faults replaced by `schedule` (and
/// no nemesis): for proptest, whose shrinking then removes and shortens
/// faults. A failure writes the reproduction as a scenario file under
/// `target/orrery-failures/` and returns the command that replays it.
///
/// ```no_run
/// use orrery::{Registry, strategy, testing};
/// proptest::proptest! {
///     #[test]
///     fn raft_is_linearizable(seed in strategy::seed(), faults in strategy::schedule(3)) {
///         testing::run_schedule(&Registry::builtin(), "scenarios/raft-nemesis.toml", seed, &faults)?;
///     }
/// }
/// ```
pub fn run_schedule(
    registry: &Registry,
    path: impl AsRef<Path>,
    seed: u64,
    schedule: &FaultSchedule,
) -> Result<(), TestCaseError> {
    let path = path.as_ref();
    let text = Scenario::read(path).map_err(|e| TestCaseError::fail(e.to_string()))?;
    let edited = crate::scenario::with_schedule(&text, schedule, seed)
        .map_err(|e| TestCaseError::fail(format!("{}: {e}", path.display())))?;
    let (scenario, runner) =
        registry.parse(&edited, path).map_err(|e| TestCaseError::fail(format!("{e}\n{edited}")))?;
    let (outcome, _) = runner.run(seed, TraceSink::Hash).map_err(|e| TestCaseError::fail(e.to_string()))?;
    if scenario.expect.judge_seed(&outcome).is_expected() {
        return Ok(());
    }
    let file = reproduction_path(&scenario.name, seed);
    let written = std::fs::create_dir_all(file.parent().expect("a directory"))
        .and_then(|()| std::fs::write(&file, &edited));
    let failure = outcome
        .failure()
        .or_else(|| outcome.checks.iter().find(|c| c.status == Status::Unknown))
        .map_or_else(
            || "no check failed".to_string(),
            |c| format!("{} {}: {}", c.name, c.status.label(), c.detail),
        );
    let replay = match written {
        Ok(()) => format!("replay: {} run {} --seed {seed}", crate::program(), file.display()),
        Err(e) => format!("(could not write the reproduction to {}: {e})\n{edited}", file.display()),
    };
    Err(TestCaseError::fail(format!(
        "seed {seed} of {} with {} faults: {failure}\n{replay}",
        path.display(),
        schedule.len()
    )))
}

fn reproduction_path(name: &str, seed: u64) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from);
    target.join("orrery-failures").join(format!("{name}-seed-{seed}.toml"))
}
