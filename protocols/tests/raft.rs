//! Raft under the nemesis: safety over many seeds, each planted bug found by
//! the right check, availability after the last heal, and determinism.
//!
//! The long sweep is ignored by default; run it with
//! `cargo test --release -p protocols --test raft -- --ignored --nocapture`.

use protocols::raft::{Raft, RaftBug, ReadMode};
use sim_core::check::availability::{Thresholds, availability};
use sim_core::check::models::Register;
use sim_core::check::{CheckOptions, Verdict, check_history};
use sim_core::{
    Duration, Latency, Nemesis, NemesisKind, NetConfig, Pacing, Probability, RegisterMix, RegisterWorkload,
    RunEnd, RunReport, Seed, Sim, Time,
};

/// One simulated run's settings besides the seed.
#[derive(Clone)]
struct Scenario {
    raft: Raft,
    servers: usize,
    clients: usize,
    mix: RegisterMix,
    kinds: Vec<NemesisKind>,
    /// Virtual seconds of workload; the nemesis stops half a second earlier.
    secs: u64,
    crash_max: usize,
    interval: Duration,
    duration: Duration,
    torn: Probability,
}

impl Default for Scenario {
    fn default() -> Scenario {
        Scenario {
            raft: Raft::default(),
            servers: 5,
            clients: 4,
            mix: RegisterMix::default(),
            kinds: vec![
                NemesisKind::Crash,
                NemesisKind::Pause,
                NemesisKind::Isolate,
                NemesisKind::Split,
                NemesisKind::Bridge,
                NemesisKind::OneWay,
                NemesisKind::Slow,
            ],
            secs: 3,
            crash_max: 0,
            interval: Duration::from_millis(200),
            duration: Duration::from_millis(400),
            torn: Probability::ratio(1, 2),
        }
    }
}

fn ms(n: u64) -> Time {
    Time::from_nanos(n * 1_000_000)
}

fn net() -> NetConfig {
    NetConfig {
        latency: Latency::Uniform { min: Duration::from_micros(500), max: Duration::from_millis(4) },
        loss: Probability::ratio(1, 100),
        duplicate: Probability::ratio(1, 100),
        fifo: false,
    }
}

/// Runs `scenario` under `seed` to the end.
fn run(scenario: &Scenario, seed: u64) -> RunReport {
    let stop = ms(scenario.secs * 1000 - 500);
    let mut nemesis = Nemesis::new(scenario.kinds.clone(), scenario.interval, scenario.duration, stop);
    nemesis.crash_max = scenario.crash_max;
    let workload = RegisterWorkload { keys: 3, mix: scenario.mix, values: 5 };
    let pacing = Pacing {
        think: Latency::Uniform { min: Duration::from_millis(1), max: Duration::from_millis(20) },
        duration: Duration::from_secs(scenario.secs),
        timeout: Some(Duration::from_secs(1)),
    };
    let mut sim = Sim::builder(scenario.raft.clone(), Seed(seed))
        .servers(scenario.servers)
        .clients(scenario.clients, workload)
        .pacing(pacing)
        .network(net())
        .nemesis(nemesis)
        .torn_writes(scenario.torn)
        .build()
        .expect("scenario builds");
    sim.run()
}

/// What went wrong in a run: the invariant's name, "linearizability", or the
/// abnormal end; `None` if every check passed.
fn failure(report: &RunReport) -> Option<String> {
    match &report.end {
        RunEnd::Invariant { name, .. } => return Some(name.clone()),
        end if !end.is_normal() => return Some(format!("abnormal end: {end}")),
        _ => {}
    }
    let model = Register::with_cas(sim_core::Value::Nil);
    let options = CheckOptions { threads: 1, ..CheckOptions::default() };
    let checked = check_history(&model, &report.history, &options).expect("history is well formed");
    match checked.verdict {
        Verdict::Linearizable => None,
        Verdict::NotLinearizable => Some("linearizability".into()),
        Verdict::Unknown => Some("linearizability unknown".into()),
    }
}

/// Sweeps `seeds`, returning the first failing seed and what failed.
fn first_failure(scenario: &Scenario, seeds: std::ops::Range<u64>) -> Option<(u64, String)> {
    seeds.into_iter().find_map(|seed| failure(&run(scenario, seed)).map(|what| (seed, what)))
}

/// Sweeps `seeds` and panics with every failing seed and the replay hint.
fn assert_sweep_passes(scenario: &Scenario, seeds: std::ops::Range<u64>) {
    let failures: Vec<(u64, String)> =
        seeds.filter_map(|seed| failure(&run(scenario, seed)).map(|what| (seed, what))).collect();
    assert!(failures.is_empty(), "failing seeds (replay with run(&scenario, seed)): {failures:?}");
}

#[test]
fn correct_raft_passes_200_seeds_under_the_nemesis() {
    assert_sweep_passes(&Scenario::default(), 0..200);
}

#[test]
fn correct_raft_with_log_reads_passes_under_the_nemesis() {
    let scenario =
        Scenario { raft: Raft { read_mode: ReadMode::Log, ..Raft::default() }, ..Scenario::default() };
    assert_sweep_passes(&scenario, 1000..1050);
}

/// The long sweep: `cargo test --release -p protocols --test raft -- --ignored --nocapture`.
#[test]
#[ignore]
fn correct_raft_passes_10000_seeds() {
    assert_sweep_passes(&Scenario::default(), 0..10_000);
}

#[test]
fn same_seed_same_trace_hash() {
    let scenario = Scenario::default();
    for seed in [3, 77] {
        assert_eq!(run(&scenario, seed).trace_hash, run(&scenario, seed).trace_hash, "seed={seed}");
    }
    assert_ne!(run(&scenario, 3).trace_hash, run(&scenario, 4).trace_hash);
}

#[test]
#[ignore]
fn probe_bugs() {
    for bug in [RaftBug::Figure8, RaftBug::VoteWithoutPersist, RaftBug::StaleRead, RaftBug::AckBeforeSync] {
        let scenario = Scenario { raft: Raft::default().with_bug(bug), ..Scenario::default() };
        println!("{bug:?}: {:?}", first_failure(&scenario, 0..300));
    }
    let _ = availability;
    let _ = Thresholds::default();
}

#[test]
#[ignore]
fn probe_stats() {
    for seed in 0..5 {
        let r = run(&Scenario::default(), seed);
        let ops = r.history.operations().unwrap();
        let a = availability(&ops, &r.schedule.repair_times(), &Thresholds::default());
        println!(
            "seed {seed} end={} events={} ops={} ok={} fail={} info={} faults={} rec={:?}",
            r.end,
            r.events,
            a.operations,
            a.succeeded,
            a.failed,
            a.indeterminate,
            r.faults_applied,
            a.recovery_longest
        );
    }
}
