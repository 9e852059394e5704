//! The command line: output shapes (insta snapshots), exit codes, errors.

use crate::support::{orrery, root, scratch};

#[test]
fn run_prints_a_summary_and_exits_zero_when_as_expected() {
    let out = orrery(&["run", "scenarios/register-basic.toml", "--seed", "3"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    insta::assert_snapshot!("run_register_basic", redact_hashes(&out.stdout));
}

#[test]
fn run_of_a_failing_seed_prints_the_violation_and_replay_command() {
    let out = orrery(&["run", "scenarios/register-skip-sync.toml", "--seed", "0"]);
    assert_eq!(out.code, 0, "a violation is what this scenario expects");
    assert!(out.stdout.contains("linearizability  FAIL"), "{}", out.stdout);
    insta::assert_snapshot!("run_register_skip_sync", redact_hashes(&out.stdout));
}

#[test]
fn run_exits_one_when_the_seed_is_not_as_expected() {
    // Find a passing seed of a scenario that expects a violation.
    let passing = (0..50)
        .map(|s| s.to_string())
        .find(|s| orrery(&["run", "scenarios/register-skip-sync.toml", "--seed", s]).code == 1)
        .expect("some seed of register-skip-sync happens to pass");
    let out = orrery(&["run", "scenarios/register-skip-sync.toml", "--seed", &passing]);
    assert!(out.stdout.contains("NOT as expected"), "{}", out.stdout);
}

#[test]
fn run_writes_trace_and_history_files() {
    let dir = scratch("files");
    let (trace, history) = (dir.join("trace.jsonl"), dir.join("history.jsonl"));
    let out = orrery(&[
        "run",
        "scenarios/register-basic.toml",
        "--trace",
        trace.to_str().unwrap(),
        "--history",
        history.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let trace = std::fs::read_to_string(trace).unwrap();
    let first: serde_json::Value = serde_json::from_str(trace.lines().next().unwrap()).unwrap();
    assert_eq!(first["ev"], "start");
    assert!(trace.lines().any(|l| l.contains("\"ev\":\"deliver\"")));
    let history =
        sim_core::History::read_jsonl(std::fs::read_to_string(history).unwrap().as_bytes()).unwrap();
    assert!(history.operations().unwrap().len() > 100);
}

#[test]
fn sweep_groups_failures_and_exits_by_expectation() {
    let out = orrery(&["sweep", "scenarios/register-skip-sync.toml", "--seeds", "0..20", "--jobs", "2"]);
    assert_eq!(out.code, 0, "violations are expected: {}", out.stdout);
    insta::assert_snapshot!("sweep_register_skip_sync", out.stdout);

    let out = orrery(&["sweep", "scenarios/register-basic.toml", "--seeds", "0..8"]);
    assert_eq!(out.code, 0, "{}", out.stdout);
    assert!(out.stdout.contains("8 run: 8 passed, 0 failed"), "{}", out.stdout);
}

#[test]
fn sweep_stops_on_first_failure() {
    let out = orrery(&[
        "sweep",
        "scenarios/register-skip-sync.toml",
        "--seeds",
        "0..200",
        "--jobs",
        "1",
        "--stop-on-failure",
    ]);
    assert_eq!(out.code, 0);
    assert!(out.stdout.contains("stopped    stopped at the first failure"), "{}", out.stdout);
    assert!(out.stdout.contains("1 failed"), "{}", out.stdout);
}

#[test]
fn sharded_sweeps_merged_equal_the_whole_sweep() {
    let dir = scratch("shards");
    let whole = orrery(&["sweep", "scenarios/register-skip-sync.toml", "--seeds", "0..30"]);
    let mut files = Vec::new();
    for shard in ["0/3", "1/3", "2/3"] {
        let file = dir.join(format!("shard-{}.jsonl", &shard[..1]));
        let out = orrery(&[
            "sweep",
            "scenarios/register-skip-sync.toml",
            "--seeds",
            "0..30",
            "--shard",
            shard,
            "--output",
            file.to_str().unwrap(),
        ]);
        assert!(out.code == 0 || out.code == 1, "{}", out.stderr);
        files.push(file.to_string_lossy().into_owned());
    }
    let mut args = vec!["sweep", "--merge"];
    args.extend(files.iter().map(String::as_str));
    let merged = orrery(&args);
    assert_eq!(merged.code, whole.code);
    assert_eq!(merged.stdout, whole.stdout, "merged shards print the same table as one sweep");
}

#[test]
fn replay_detects_a_stale_hash() {
    let out = orrery(&[
        "replay",
        "scenarios/register-basic.toml",
        "--seed",
        "5",
        "--expect-hash",
        "0123456789abcdef",
    ]);
    assert_eq!(out.code, 1);
    assert!(out.stdout.contains("MISMATCH"), "{}", out.stdout);
    let report = scratch("replay").join("report.json");
    let run = orrery(&["run", "scenarios/register-basic.toml", "--seed", "5", "--json"]);
    std::fs::write(&report, run.stdout).unwrap();
    let out = orrery(&[
        "replay",
        "scenarios/register-basic.toml",
        "--seed",
        "5",
        "--expect-hash",
        report.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.contains("matches the recorded hash"));
}

#[test]
fn list_shows_protocols_models_and_scenarios() {
    let out = orrery(&["list"]);
    assert_eq!(out.code, 0);
    for expected in [
        "protocols",
        "register",
        "bug skip-sync",
        "probe dedup-cache-hit",
        "models",
        "cas-register",
        "scenarios/register-basic.toml",
    ] {
        assert!(out.stdout.contains(expected), "missing {expected:?} in:\n{}", out.stdout);
    }
}

#[test]
fn malformed_scenarios_give_located_errors_and_exit_two() {
    let dir = root().join("tests/integration/malformed");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().map(|e| e.path()).collect();
    files.sort();
    assert!(files.len() >= 12, "a dozen malformed scenarios");
    let mut report = String::new();
    for file in files {
        let relative = file.strip_prefix(root()).unwrap().to_string_lossy().into_owned();
        let out = orrery(&["run", &relative]);
        assert_eq!(out.code, 2, "{relative}: {}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{relative} panicked: {}", out.stderr);
        assert!(
            out.stderr.starts_with(&format!("error: {relative}:")),
            "{relative}: error names the file: {}",
            out.stderr
        );
        report.push_str(&out.stderr);
    }
    insta::assert_snapshot!("malformed_scenarios", report);
}

#[test]
fn usage_errors_exit_two() {
    assert_eq!(orrery(&["sweep", "scenarios/register-basic.toml", "--seeds", "9..3"]).code, 2);
    assert_eq!(orrery(&["sweep", "scenarios/register-basic.toml", "--shard", "3/3"]).code, 2);
    assert_eq!(orrery(&["run", "scenarios/does-not-exist.toml"]).code, 2);
    assert_eq!(orrery(&["frobnicate"]).code, 2);
}

#[test]
fn printed_faults_replay_the_nemesis_run_exactly() {
    let out = orrery(&["run", "scenarios/raft-nemesis.toml", "--seed", "3", "--print-faults"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let (summary, faults) = out.stdout.split_once("# The faults of seed 3").expect("a fault section");
    let hash = |text: &str| text.lines().find_map(|l| l.strip_prefix("trace hash ")).map(str::to_string);
    let original = std::fs::read_to_string(root().join("scenarios/raft-nemesis.toml")).unwrap();
    let (before_nemesis, after) = original.split_once("[nemesis]").unwrap();
    let rest = after.split_once("\n[").map_or(String::new(), |(_, r)| format!("[{r}"));
    let faults = faults.split_once('\n').unwrap().1;
    let scripted = format!("{before_nemesis}{rest}\n{faults}");
    let file = scratch("printed-faults").join("scripted.toml");
    std::fs::write(&file, scripted).unwrap();
    let replay = orrery(&["run", file.to_str().unwrap(), "--seed", "3"]);
    assert_eq!(replay.code, 0, "{}{}", replay.stdout, replay.stderr);
    assert_eq!(hash(&replay.stdout), hash(summary), "the scripted schedule reproduces the nemesis run");
}

/// Trace hashes change whenever a protocol's messages do; snapshots pin the
/// shape of the report, and replay tests pin the hashes themselves.
fn redact_hashes(text: &str) -> String {
    text.split_inclusive(['\n', ' '])
        .map(|word| {
            let bare = word.trim_end();
            if bare.len() == 16 && bare.bytes().all(|b| b.is_ascii_hexdigit()) {
                word.replacen(bare, "<trace hash>", 1)
            } else {
                word.to_string()
            }
        })
        .collect()
}
