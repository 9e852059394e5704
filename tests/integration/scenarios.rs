//! Every scenario file runs, reaches the verdict it declares, and replays identically.

use crate::support::{orrery, scenario_files};

/// Seeds each scenario is swept over in the default suite, unless the
/// scenario says how far to look (`seeds = "A..B"`, for rare bugs).
const SEEDS: &str = "0..16";

fn seeds_of(file: &str) -> String {
    let text = std::fs::read_to_string(crate::support::root().join(file)).expect("scenario readable");
    let table: toml::Table = toml::from_str(&text).expect("scenario is TOML");
    table.get("seeds").and_then(|s| s.as_str()).unwrap_or(SEEDS).to_string()
}

#[test]
fn every_scenario_reaches_its_declared_verdict() {
    let files = scenario_files();
    assert!(files.len() >= 2, "scenarios/ holds the scenario files: {files:?}");
    let mut wrong = Vec::new();
    for file in &files {
        let out = orrery(&["sweep", file, "--seeds", &seeds_of(file)]);
        if out.code != 0 {
            wrong.push(format!("{file} (exit {}):\n{}{}", out.code, out.stdout, out.stderr));
        }
    }
    assert!(wrong.is_empty(), "scenarios whose verdict differs from the declared one:\n{}", wrong.join("\n"));
}

#[test]
fn every_scenario_replays_with_the_same_trace_hash() {
    for file in scenario_files() {
        for seed in ["1", "7"] {
            let hash = |out: crate::support::Output| {
                let json: serde_json::Value = serde_json::from_str(&out.stdout)
                    .unwrap_or_else(|e| panic!("{file}: {e}: {}", out.stderr));
                json["outcome"]["trace_hash"].as_str().expect("a trace hash").to_string()
            };
            let first = hash(orrery(&["run", &file, "--seed", seed, "--json"]));
            let second = hash(orrery(&["run", &file, "--seed", seed, "--json"]));
            assert_eq!(first, second, "{file} seed {seed} is not deterministic");
            let replay = orrery(&["replay", &file, "--seed", seed, "--expect-hash", &first]);
            assert_eq!(replay.code, 0, "{file} seed {seed}: {}", replay.stdout);
        }
    }
}
