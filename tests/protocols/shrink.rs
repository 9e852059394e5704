//! Shrinking keeps the failure, is deterministic, and makes the file smaller.

use std::path::Path;

use orrery::Registry;
use orrery::shrink::{self, Options};
use sim_core::TraceSink;

use crate::root;

fn options(jobs: usize) -> Options {
    Options { jobs, time_budget: std::time::Duration::from_secs(600), ..Options::default() }
}

#[test]
fn a_shrunk_planted_bug_fails_the_same_way_and_is_smaller() {
    let registry = Registry::builtin();
    let path = root().join("scenarios/primary-backup-split-brain.toml");
    let (_, runner) = registry.load(&path).unwrap();
    let original = runner.run(4, TraceSink::Hash).unwrap().0;
    let shrunk = shrink::shrink(&registry, &path, 4, &options(2)).unwrap();
    assert_eq!(Some(shrunk.signature.as_str()), original.signature.as_deref());
    assert!(!shrunk.cut_short, "the search ran out of budget");

    let (scenario, runner) = registry.parse(&shrunk.text, Path::new("shrunk.toml")).unwrap();
    assert_eq!(scenario.seed, shrunk.seed);
    let first = runner.run(shrunk.seed, TraceSink::Hash).unwrap().0;
    let again = runner.run(shrunk.seed, TraceSink::Hash).unwrap().0;
    assert_eq!(first.signature, original.signature, "the shrunk file fails another way");
    assert_eq!(first.trace_hash, again.trace_hash, "the shrunk file does not replay exactly");
    assert!(scenario.expect.judge_seed(&first).is_expected(), "it expects its own violation");

    let (b, a) = (&shrunk.before, &shrunk.after);
    assert!(a.faults <= b.faults && a.servers <= b.servers && a.clients <= b.clients, "{b} -> {a}");
    assert!(a.operations < b.operations && a.time < b.time, "{b} -> {a}");
    assert!(a.faults <= 3 && a.operations <= 10, "not small enough: {a}");
    assert!(shrunk.text.contains("# Before:") && shrunk.text.contains("# After:"), "{}", shrunk.text);
}

#[test]
fn shrinking_twice_gives_the_same_file_for_any_number_of_jobs() {
    let registry = Registry::builtin();
    let path = root().join("scenarios/register-skip-sync.toml");
    let one = shrink::shrink(&registry, &path, 4, &options(1)).unwrap();
    let two = shrink::shrink(&registry, &path, 4, &options(2)).unwrap();
    assert_eq!(one.text, two.text);
}

#[test]
fn a_passing_seed_is_an_error_not_an_empty_file() {
    let registry = Registry::builtin();
    let path = root().join("scenarios/register-basic.toml");
    let error = shrink::shrink(&registry, &path, 0, &options(1)).unwrap_err();
    assert!(error.to_string().contains("does not fail"), "{error}");
}
