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
    Duration, Fault, FaultSchedule, Latency, Limits, Nemesis, NemesisKind, NetConfig, NodeId, Pacing,
    Probability, RegisterMix, RegisterWorkload, RunEnd, RunReport, Seed, Sim, Time,
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
    /// Faults scripted on top of (or instead of) the nemesis.
    faults: FaultSchedule,
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
            faults: FaultSchedule::new(),
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
        .faults(scenario.faults.clone())
        .limits(Limits { time_max: Some(ms(scenario.secs * 1000 + 5000)), ..Limits::default() })
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

/// Asserts that some seed below `k` fails, and by one of `expected` checks.
fn assert_bug_found(scenario: &Scenario, k: u64, expected: &[&str]) -> u64 {
    let Some((seed, what)) = first_failure(scenario, 0..k) else {
        panic!("no seed in 0..{k} found the bug");
    };
    assert!(expected.contains(&what.as_str()), "seed={seed} failed {what}, expected one of {expected:?}");
    println!("found by {what} at seed {seed}");
    seed
}

/// `vote-without-persist`, found by **election safety**. Three servers, no
/// clients and reads through the log (so there is no term-opening no-op: logs
/// stay empty and every candidate is up to date):
/// 1. n1 is down while n0 and n2 elect a leader, in term 1 unless a vote split;
/// 2. both crash; the follower forgets its term-1 vote, the candidate does not;
/// 3. all three restart. If n1 times out first it campaigns in term 1, the
///    forgetful follower votes again, and term 1 has a second leader.
#[test]
fn vote_without_persist_is_found_by_election_safety() {
    let faults = FaultSchedule::new()
        .at(ms(0), Fault::Crash { node: NodeId(1) })
        .at(ms(600), Fault::Crash { node: NodeId(0) })
        .at(ms(600), Fault::Crash { node: NodeId(2) })
        .at(ms(650), Fault::Restart { node: NodeId(0) })
        .at(ms(650), Fault::Restart { node: NodeId(1) })
        .at(ms(650), Fault::Restart { node: NodeId(2) });
    let scenario = Scenario {
        raft: Raft { read_mode: ReadMode::Log, ..Raft::default() }.with_bug(RaftBug::VoteWithoutPersist),
        servers: 3,
        clients: 0,
        kinds: Vec::new(),
        secs: 2,
        faults,
        ..Scenario::default()
    };
    assert_bug_found(&scenario, 20, &["election-safety"]);
}

/// `ack-before-sync`, found by **linearizability** (invariants off, as a
/// black-box tester would run it; with them on, leader completeness fires
/// first). Crashes take down up to all three servers at once, losing
/// entries that were acknowledged but not yet synced.
#[test]
fn ack_before_sync_is_found_by_linearizability() {
    let scenario = Scenario {
        raft: Raft { invariants: false, ..Raft::default() }.with_bug(RaftBug::AckBeforeSync),
        servers: 3,
        kinds: vec![NemesisKind::Crash],
        crash_max: 3,
        ..Scenario::default()
    };
    assert_bug_found(&scenario, 20, &["linearizability"]);
}

/// `stale-read`, found by **linearizability**: a split leaves the old leader
/// in the minority, still reachable by clients, answering reads from a
/// state the majority has moved past.
#[test]
fn stale_read_is_found_by_linearizability() {
    let scenario = Scenario {
        raft: Raft::default().with_bug(RaftBug::StaleRead),
        kinds: vec![NemesisKind::Split],
        mix: RegisterMix { read: 6, write: 2, cas: 0 },
        ..Scenario::default()
    };
    assert_bug_found(&scenario, 40, &["linearizability"]);
}

#[test]
#[ignore]
fn probe_bugs() {
    let crash = vec![NemesisKind::Crash];
    let variants: Vec<(&str, Scenario)> = vec![
        (
            "vote 5 crash",
            Scenario {
                raft: Raft::default().with_bug(RaftBug::VoteWithoutPersist),
                kinds: crash.clone(),
                crash_max: 5,
                ..Scenario::default()
            },
        ),
        (
            "vote 3 crash",
            Scenario {
                raft: Raft::default().with_bug(RaftBug::VoteWithoutPersist),
                servers: 3,
                kinds: crash.clone(),
                crash_max: 3,
                ..Scenario::default()
            },
        ),
        (
            "vote 5 crash short",
            Scenario {
                raft: Raft {
                    election_timeout_min: Duration::from_millis(20),
                    election_timeout_max: Duration::from_millis(40),
                    heartbeat: Duration::from_millis(10),
                    ..Raft::default()
                }
                .with_bug(RaftBug::VoteWithoutPersist),
                kinds: crash.clone(),
                crash_max: 5,
                interval: Duration::from_millis(50),
                duration: Duration::from_millis(50),
                ..Scenario::default()
            },
        ),
        (
            "ack 5 crash",
            Scenario {
                raft: Raft::default().with_bug(RaftBug::AckBeforeSync),
                kinds: crash.clone(),
                crash_max: 5,
                ..Scenario::default()
            },
        ),
        (
            "ack 3 crash",
            Scenario {
                raft: Raft::default().with_bug(RaftBug::AckBeforeSync),
                kinds: crash.clone(),
                servers: 3,
                crash_max: 3,
                ..Scenario::default()
            },
        ),
        (
            "stale split",
            Scenario {
                raft: Raft::default().with_bug(RaftBug::StaleRead),
                kinds: vec![NemesisKind::Split],
                ..Scenario::default()
            },
        ),
        (
            "stale split readheavy",
            Scenario {
                raft: Raft::default().with_bug(RaftBug::StaleRead),
                kinds: vec![NemesisKind::Split],
                mix: RegisterMix { read: 6, write: 2, cas: 0 },
                ..Scenario::default()
            },
        ),
        (
            "fig8 log all",
            Scenario {
                raft: Raft { read_mode: ReadMode::Log, ..Raft::default() }.with_bug(RaftBug::Figure8),
                ..Scenario::default()
            },
        ),
        (
            "fig8 log crash split 3",
            Scenario {
                raft: Raft { read_mode: ReadMode::Log, ..Raft::default() }.with_bug(RaftBug::Figure8),
                servers: 3,
                kinds: vec![NemesisKind::Crash, NemesisKind::Split, NemesisKind::Pause],
                crash_max: 2,
                ..Scenario::default()
            },
        ),
        (
            "fig8 log crash 5",
            Scenario {
                raft: Raft { read_mode: ReadMode::Log, ..Raft::default() }.with_bug(RaftBug::Figure8),
                kinds: crash.clone(),
                crash_max: 4,
                ..Scenario::default()
            },
        ),
    ];
    let only = std::env::var("PROBE").unwrap_or_default();
    for (name, scenario) in variants.iter().filter(|(n, _)| n.contains(only.as_str())) {
        let mut found = Vec::new();
        for seed in 0..400 {
            if let Some(what) = failure(&run(scenario, seed)) {
                found.push((seed, what));
                if found.len() == 4 {
                    break;
                }
            }
        }
        println!("{name}: {found:?}");
    }
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
