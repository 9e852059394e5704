//! The scenario files are the tests; proptest adds fault schedules.

use chain_replication::Chain;
use orrery::{Registry, strategy, testing};
use proptest::prelude::*;

fn registry() -> Registry {
    Registry::builtin().with::<Chain>()
}

#[test]
fn scenarios() {
    testing::assert_scenarios(&registry(), "scenarios");
}

/// `cargo test -- --ignored --nocapture`: the correct chain over 1,000 seeds.
#[test]
#[ignore = "long: 1,000 seeds"]
fn chain_nemesis_over_a_thousand_seeds() {
    let (_, runner) = registry().load("scenarios/chain-nemesis.toml").unwrap_or_else(|e| panic!("{e}"));
    let sweep =
        orrery::sweep::run(runner.as_ref(), orrery::sweep::Seeds::range(0..1000), &Default::default());
    eprintln!("{}", sweep.conclusion().line());
    assert!(sweep.conclusion().is_expected(), "{}", orrery::sweep::table(&sweep));
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, failure_persistence: None, ..ProptestConfig::default() })]

    /// Any schedule of faults, drawn and shrunk by proptest.
    #[test]
    fn chain_is_linearizable_under_any_schedule(seed in strategy::seed(), faults in strategy::schedule(3)) {
        testing::run_schedule(&registry(), "scenarios/chain-nemesis.toml", seed, &faults)?;
    }
}
