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
    Cut, Duration, Fault, FaultSchedule, Latency, Limits, Nemesis, NemesisKind, NetConfig, NodeId, Pacing,
    Probability, RegisterMix, RegisterWorkload, RunEnd, RunReport, Seed, Sim, SimRng, Stream, Time,
};

/// One simulated run's settings besides the seed.
#[derive(Clone)]
struct Scenario {
    raft: Raft,
    servers: usize,
    clients: usize,
    mix: RegisterMix,
    kinds: Vec<NemesisKind>,
    /// Virtual seconds of workload.
    secs: u64,
    /// Quiet time at the end of the workload: the nemesis has repaired everything by then.
    quiet: Duration,
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
            quiet: Duration::from_millis(500),
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
    let stop = Time::from_nanos(ms(scenario.secs * 1000).as_nanos() - scenario.quiet.as_nanos());
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
    assert!(
        failures.is_empty(),
        "failing seeds: {failures:?}; replay one with \
         SEED=N cargo test -p protocols --test raft -- --ignored --nocapture replay"
    );
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

/// With every fault repaired (the nemesis never leaves a majority down or
/// cut off for good), the first operation succeeds within [`RECOVERY_MAX`]
/// of the last repair: an election (timeouts of 150-300 ms, perhaps a split
/// vote or a disruptive rejoin) plus a client retry or two.
const RECOVERY_MAX: Duration = Duration::from_secs(2);

#[test]
fn service_recovers_within_two_seconds_of_the_last_heal() {
    let scenario = Scenario { secs: 4, quiet: Duration::from_secs(2), ..Scenario::default() };
    let thresholds = Thresholds { recovery_max: Some(RECOVERY_MAX), ..Thresholds::default() };
    let mut slowest = Duration::ZERO;
    for seed in 0..100 {
        let report = run(&scenario, seed);
        let Some(&last) = report.schedule.repair_times().last() else { continue };
        let ops = report.history.operations().expect("history is well formed");
        let measured = availability(&ops, &[last], &thresholds);
        assert!(measured.pass, "seed={seed} last repair at {last}: {:?}", measured.reasons);
        slowest = slowest.max(measured.recovery_longest.expect("recovered"));
    }
    println!("slowest recovery after the last heal: {slowest}");
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

/// Servers cut apart from each other (clients still reach them all) for a
/// while, then healed briefly, over and over: leaders come and go, each
/// leaving entries of its own term that nobody else has.
fn flicker(seed: u64, servers: u32, until: Time, cut: (u64, u64), heal: (u64, u64)) -> FaultSchedule {
    let mut rng = SimRng::new(Seed(seed), Stream::Node(9_999));
    let mut schedule = FaultSchedule::new();
    let groups: Vec<Vec<NodeId>> = (0..servers).map(|i| vec![NodeId(i)]).collect();
    let mut now = ms(rng.between(300, 600));
    while now < until {
        schedule.push(now, Fault::Partition { cut: Cut::Split { groups: groups.clone() } });
        now += Duration::from_millis(rng.between(cut.0, cut.1));
        schedule.push(now, Fault::Heal);
        now += Duration::from_millis(rng.between(heal.0, heal.1));
    }
    schedule
}

fn flicker_scenario(raft: Raft, seed: u64) -> Scenario {
    Scenario {
        raft: Raft { read_mode: ReadMode::Log, ..raft },
        servers: 3,
        kinds: Vec::new(),
        faults: flicker(seed, 3, ms(2500), (100, 400), (5, 200)),
        ..Scenario::default()
    }
}

/// `figure-8`, found by **leader completeness** (an entry counted as
/// committed is missing from a later leader's log; were the run to go on,
/// state-machine safety and linearizability would break next). Reads go
/// through the log, so a new leader opens its term with no entry of its own:
/// 1. a leader cut off from the other servers (clients still reach it)
///    appends entries of its term t1 that nobody else has;
/// 2. another server leads a term t2 > t1 and is cut off the same way,
///    appending different entries at the same indexes;
/// 3. after a heal the first leader wins term t3, copies its t1 entries to
///    a follower and, counting two of three, commits them: the bug;
/// 4. the servers are cut apart before any t3 entry follows, and the t2
///    leader, whose last term beats the follower's, wins and overwrites them.
///
/// The flicker schedule repeats this dance; some seed in 0..K lines it up.
#[test]
fn figure_8_is_found_by_leader_completeness() {
    const K: u64 = 100;
    let (seed, what) = (0..K)
        .find_map(|seed| {
            failure(&run(&flicker_scenario(Raft::default().with_bug(RaftBug::Figure8), seed), seed))
                .map(|w| (seed, w))
        })
        .unwrap_or_else(|| panic!("no seed in 0..{K} found the bug"));
    let expected = ["leader-completeness", "state-machine-safety", "linearizability"];
    assert!(expected.contains(&what.as_str()), "seed={seed} failed {what}");
    println!("found by {what} at seed {seed}");
}

/// The flicker schedule does not trouble correct Raft.
#[test]
fn correct_raft_passes_the_flicker_schedule() {
    for seed in 0..100 {
        let report = run(&flicker_scenario(Raft::default(), seed), seed);
        assert_eq!(failure(&report), None, "seed={seed}");
    }
}

/// Replays one seed of the default scenario and prints how it ended and its
/// fault schedule: `SEED=N cargo test -p protocols --test raft -- --ignored --nocapture replay`.
#[test]
#[ignore]
fn replay() {
    let seed: u64 = std::env::var("SEED").expect("SEED is set").parse().expect("SEED is a number");
    let report = run(&Scenario::default(), seed);
    println!(
        "seed={seed} end: {}\nlinearizability etc.: {:?}\n{}",
        report.end,
        failure(&report),
        report.schedule
    );
}
