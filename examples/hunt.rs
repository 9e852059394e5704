//! The hunting table: how fast each planted bug is found, under (a) its
//! protocol's one swarm scenario (`scenarios/swarm/<protocol>.toml`, the
//! same file for all its bugs) and (b) the protocol's generic fixed
//! nemesis scenario, both with the bug switched on and nothing else changed.
//!
//! ```text
//! cargo run --release --example hunt [-- --seeds 1000] [--jobs N] [--only bug,bug] [--protocols p,q]
//! ```
//!
//! For each it prints the first failing seed and the failures per 1,000
//! seeds of seeds `0..N`, as a Markdown table (`docs/hunting.md` holds one).

use std::path::{Path, PathBuf};

use orrery::sweep::{self, Seeds};
use orrery::{Registry, Status};

/// Each protocol's generic fixed-nemesis scenario: `<protocol>-nemesis.toml`
/// where there is one, else the closest (the harsh one).
fn generic(protocol: &str) -> &'static str {
    match protocol {
        "register" => "scenarios/register-harsh.toml",
        "abd" => "scenarios/abd-nemesis.toml",
        "primary-backup" => "scenarios/primary-backup-nemesis.toml",
        "raft" => "scenarios/raft-nemesis.toml",
        "load-balancer" => "scenarios/lb-harsh.toml",
        "2pc" => "scenarios/2pc-nemesis.toml",
        "paxos-commit" => "scenarios/paxos-commit-harsh.toml",
        "saga" => "scenarios/saga-nemesis.toml",
        "log" => "scenarios/log-nemesis.toml",
        other => panic!("protocol={other} has no generic nemesis scenario listed"),
    }
}

/// What a sweep of one bug found.
struct Found {
    first: Option<u64>,
    failures: usize,
    seeds: usize,
}

impl Found {
    fn cells(&self) -> (String, String) {
        let first = self.first.map_or("-".to_string(), |s| s.to_string());
        let per_mille = self.failures as f64 * 1000.0 / self.seeds.max(1) as f64;
        (first, format!("{per_mille:.1}"))
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1));
    let seeds: u64 = value("--seeds").map_or(1000, |n| n.parse().expect("--seeds N"));
    let jobs = value("--jobs").map_or_else(sweep::default_jobs, |n| n.parse().expect("--jobs N"));
    let only: Vec<&str> = value("--only").map(|l| l.split(',').collect()).unwrap_or_default();
    let protocols: Vec<&str> = value("--protocols").map(|l| l.split(',').collect()).unwrap_or_default();
    let registry = Registry::builtin();
    println!("Seeds 0..{seeds} of each scenario with one planted bug switched on, on {jobs} jobs.\n");
    println!(
        "| protocol | bug | (a) swarm: first | (a) per 1000 | (b) nemesis: first | (b) per 1000 | (b) scenario |"
    );
    println!("|---|---|---:|---:|---:|---:|---|");
    for entry in registry.entries().filter(|e| protocols.is_empty() || protocols.contains(&e.name)) {
        let swarm_file = PathBuf::from(format!("scenarios/swarm/{}.toml", entry.name));
        let generic_file = PathBuf::from(generic(entry.name));
        for (bug, _) in &entry.bugs {
            if !only.is_empty() && !only.contains(bug) {
                continue;
            }
            let (a, b) = match (
                hunt(&registry, &swarm_file, bug, seeds, jobs),
                hunt(&registry, &generic_file, bug, seeds, jobs),
            ) {
                (Ok(a), Ok(b)) => (a, b),
                (Err(why), _) | (_, Err(why)) => {
                    println!("| {} | {bug} | does not apply: {why} | | | | |", entry.name);
                    continue;
                }
            };
            let ((a_first, a_rate), (b_first, b_rate)) = (a.cells(), b.cells());
            println!(
                "| {} | {bug} | {a_first} | {a_rate} | {b_first} | {b_rate} | {} |",
                entry.name,
                generic_file.display()
            );
        }
    }
}

/// Sweeps `file` with `bug` planted over seeds `0..seeds`; an error if the
/// protocol refuses the bug (a bug of a shared enum that it cannot have).
fn hunt(registry: &Registry, file: &Path, bug: &str, seeds: u64, jobs: usize) -> Result<Found, String> {
    let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let planted =
        orrery::scenario::with_bug(&text, bug).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    let (_, runner) = registry.parse(&planted, file).map_err(|e| e.message)?;
    let options = sweep::Options { jobs, progress: false, ..sweep::Options::default() };
    let swept = sweep::run(runner.as_ref(), Seeds::range(0..seeds), &options);
    // A panic or a run limit is not the bug found.
    let failing: Vec<u64> = swept
        .outcomes
        .iter()
        .filter(|o| o.status == Status::Fail && !orrery::went_wrong(o))
        .map(|o| o.seed)
        .collect();
    Ok(Found { first: failing.first().copied(), failures: failing.len(), seeds: swept.outcomes.len() })
}
