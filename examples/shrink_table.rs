//! The shrinking table: for every planted bug, its protocol's generic
//! nemesis scenario with the bug switched on, the first seed that fails it,
//! and that seed shrunk to a minimal scenario file.
//!
//! ```text
//! cargo run --release --example shrink_table [-- --write scenarios/shrunk] [--budget 60s] [--only bug,bug]
//! ```
//!
//! With `--write DIR` each reproduction is written to `DIR/<protocol>-<bug>.toml`,
//! where the test suite runs it as a regression.

use std::path::{Path, PathBuf};

use orrery::Registry;
use orrery::shrink::{self, Options};
use orrery::sweep::{self, Seeds};

/// Each planted bug with the generic nemesis scenario of its protocol.
const BUGS: &[(&str, &str)] = &[
    ("scenarios/register-harsh.toml", "skip-sync"),
    ("scenarios/abd-nemesis.toml", "no-read-repair"),
    ("scenarios/primary-backup-nemesis.toml", "async-replication"),
    ("scenarios/primary-backup-nemesis.toml", "no-fencing"),
    ("scenarios/raft-nemesis.toml", "figure-8"),
    ("scenarios/raft-nemesis.toml", "vote-without-persist"),
    ("scenarios/raft-nemesis.toml", "stale-read"),
    ("scenarios/raft-nemesis.toml", "ack-before-sync"),
    ("scenarios/lb-harsh.toml", "no-health-checks"),
    ("scenarios/lb-harsh.toml", "no-readmit"),
    ("scenarios/2pc-nemesis.toml", "decide-before-log"),
    ("scenarios/2pc-nemesis.toml", "forget-prepare"),
    ("scenarios/paxos-commit-harsh.toml", "forget-prepare"),
    ("scenarios/saga-nemesis.toml", "non-idempotent-compensation"),
    ("scenarios/saga-nemesis.toml", "forget-progress"),
    ("scenarios/log-nemesis.toml", "acks-leader-only"),
    ("scenarios/log-nemesis.toml", "unclean-election"),
    ("scenarios/log-nemesis.toml", "commit-before-process"),
    ("scenarios/log-nemesis.toml", "retry-duplicates"),
];

/// The bug's own scenario, shrunk when the generic nemesis finds nothing.
fn dedicated(bug: &str) -> Option<&'static str> {
    Some(match bug {
        "figure-8" => "scenarios/raft-figure-8.toml",
        "vote-without-persist" => "scenarios/raft-vote-without-persist.toml",
        "unclean-election" => "scenarios/log-unclean-election.toml",
        "no-readmit" => "scenarios/lb-no-readmit.toml",
        "no-health-checks" => "scenarios/lb-no-health-checks.toml",
        "decide-before-log" => "scenarios/2pc-decide-before-log.toml",
        _ => return None,
    })
}

/// Seeds searched for a first failure.
const SEARCH: u64 = 1000;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let write = args.iter().position(|a| a == "--write").and_then(|i| args.get(i + 1)).map(PathBuf::from);
    let budget = args
        .iter()
        .position(|a| a == "--budget")
        .and_then(|i| args.get(i + 1))
        .and_then(|b| b.parse::<sim_core::Duration>().ok())
        .map_or(std::time::Duration::from_secs(60), |d| std::time::Duration::from_nanos(d.as_nanos()));
    let only: Vec<String> = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map(|list| list.split(',').map(str::to_string).collect())
        .unwrap_or_default();
    let registry = Registry::builtin();
    let scratch = PathBuf::from("target/shrink-table");
    std::fs::create_dir_all(&scratch).expect("a scratch directory");
    println!(
        "{:<20} {:<28} {:>5}  {:<46} {:<34} {:>7}",
        "protocol", "bug", "seed", "before (faults/ops/servers/time)", "after", "wall"
    );
    for (file, bug) in BUGS {
        if !only.is_empty() && !only.iter().any(|o| o == bug) {
            continue;
        }
        let Some(planted) = plant(Path::new(file), bug, &scratch) else {
            println!("{:<20} {bug:<28} {file} is missing", "?");
            continue;
        };
        let (scenario, runner) = match registry.load(&planted) {
            Ok(bound) => bound,
            Err(e) => {
                println!("{:<20} {bug:<28} cannot load: {e}", "?");
                continue;
            }
        };
        let options = sweep::Options { stop_on_failure: true, ..sweep::Options::default() };
        let swept = sweep::run(runner.as_ref(), Seeds::range(0..SEARCH), &options);
        let protocol = scenario.protocol.name.clone();
        let first = swept.outcomes.iter().find(|o| o.status == orrery::Status::Fail).cloned();
        let (planted, first) = match (first, dedicated(bug)) {
            (Some(first), _) => (planted, first),
            (None, Some(own)) => {
                let (_, runner) = registry.load(own).expect("the bug's own scenario loads");
                let swept = sweep::run(runner.as_ref(), Seeds::range(0..SEARCH), &options);
                match swept.outcomes.iter().find(|o| o.status == orrery::Status::Fail) {
                    Some(first) => {
                        println!(
                            "{protocol:<20} {bug:<28} no failure in seeds 0..{SEARCH} of {file}; its own scenario {own}:"
                        );
                        (PathBuf::from(own), first.clone())
                    }
                    None => {
                        println!("{protocol:<20} {bug:<28} no failure in seeds 0..{SEARCH}, nor in {own}");
                        continue;
                    }
                }
            }
            (None, None) => {
                println!("{protocol:<20} {bug:<28} no failure in seeds 0..{SEARCH}");
                continue;
            }
        };
        #[allow(clippy::disallowed_methods)] // the table reports how long shrinking took
        let started = std::time::Instant::now();
        let result = shrink::shrink(
            &registry,
            &planted,
            first.seed,
            &Options { time_budget: budget, ..Options::default() },
        );
        let wall = started.elapsed().as_secs_f64();
        match result {
            Ok(shrunk) => {
                let b = &shrunk.before;
                let a = &shrunk.after;
                println!(
                    "{protocol:<20} {bug:<28} {:>5}  {:<46} {:<34} {wall:>6.1}s",
                    first.seed,
                    format!("{}/{}/{}/{} ({})", b.faults, b.operations, b.servers, b.time, shrunk.signature),
                    format!("{}/{}/{}/{}", a.faults, a.operations, a.servers, a.time),
                );
                if let Some(dir) = &write {
                    let out = dir.join(format!("{protocol}-{bug}.toml"));
                    std::fs::create_dir_all(dir).expect("the output directory");
                    std::fs::write(&out, shrunk.text).expect("write the reproduction");
                }
            }
            Err(e) => println!("{protocol:<20} {bug:<28} {:>5}  cannot shrink: {e}", first.seed),
        }
    }
}

/// `file` with `bug` switched on, written to `dir`: the same scenario, a
/// planted bug, a violation expected of whatever check fires.
fn plant(file: &Path, bug: &str, dir: &Path) -> Option<PathBuf> {
    let text = std::fs::read_to_string(file).ok()?;
    let mut table: toml::Table = toml::from_str(&orrery::scenario::with_bug(&text, bug).ok()?).ok()?;
    let name = format!("{}-{bug}", table.get("name")?.as_str()?);
    table.insert("name".into(), toml::Value::String(name.clone()));
    let out = dir.join(format!("{name}.toml"));
    std::fs::write(&out, toml::to_string(&table).ok()?).ok()?;
    Some(out)
}
