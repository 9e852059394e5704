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

/// The probes this crate declares are reached under the nemesis, and the
/// sweep counts the seeds that reached each; `scenarios` above fails if
/// the code reaches a probe `Chain::PROBES` does not declare.
#[test]
fn the_nemesis_reaches_every_declared_probe() {
    use orrery::Catalogued;
    let (_, runner) = registry().load("scenarios/chain-nemesis.toml").unwrap_or_else(|e| panic!("{e}"));
    let sweep = orrery::sweep::run(runner.as_ref(), orrery::sweep::Seeds::range(0..50), &Default::default());
    let coverage = orrery::coverage::Coverage::of(&sweep.header.probes, &sweep.outcomes);
    let table = orrery::sweep::table(&sweep);
    assert!(coverage.unreached.is_empty() && coverage.undeclared().is_empty(), "{table}");
    assert_eq!(coverage.reached.len(), Chain::PROBES.len(), "{table}");
    for reach in &coverage.reached {
        let seeds = sweep.outcomes.iter().filter(|o| o.probes.contains_key(reach.name)).count();
        assert_eq!(reach.seeds, seeds, "{table}");
    }
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
