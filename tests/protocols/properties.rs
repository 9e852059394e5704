//! proptest over fault schedules, through the library's strategies: correct
//! protocols survive any schedule, and a planted bug is found and shrunk to
//! a few faults.

use orrery::{Registry, strategy, testing};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestError, TestRunner};

use crate::root;

proptest! {
    #![proptest_config(Config { cases: 24, failure_persistence: None, ..Config::default() })]

    #[test]
    fn raft_is_linearizable_under_any_schedule(seed in strategy::seed(), faults in strategy::schedule(3)) {
        testing::run_schedule(&Registry::builtin(), root().join("scenarios/raft-nemesis.toml"), seed, &faults)?;
    }

    #[test]
    fn abd_is_linearizable_under_any_schedule(seed in strategy::seed(), faults in strategy::schedule(3)) {
        testing::run_schedule(&Registry::builtin(), root().join("scenarios/abd-nemesis.toml"), seed, &faults)?;
    }
}

/// The register that acknowledges unsynced writes fails under schedules with
/// a crash; proptest's shrinking brings the schedule down to a few faults and
/// the failure names the replay command.
#[test]
fn a_planted_bug_shrinks_to_a_small_schedule() {
    let registry = Registry::builtin();
    let path = root().join("scenarios/register-skip-sync.toml");
    let mut runner = TestRunner::new(Config { cases: 256, failure_persistence: None, ..Config::default() });
    let result = runner.run(&(0u64..4, strategy::schedule(1)), |(seed, faults)| {
        testing::run_schedule(&registry, &path, seed, &faults)
    });
    match result {
        Err(TestError::Fail(reason, (_, faults))) => {
            assert!(faults.len() <= 4, "shrunk to {} faults: {faults:?}", faults.len());
            assert!(reason.message().contains("replay: orrery run"), "{reason}");
        }
        other => panic!("expected the skip-sync bug to be found: {other:?}"),
    }
}
