//! The replicated log under the nemesis: every acknowledged message
//! delivered exactly once in partition order over many seeds, and each
//! planted bug found by the delivery check.

use protocols::log::{Acks, Log, LogBug, LogWorkload};
use protocols::{Catalogued, Judgement};
use sim_core::{
    Duration, Fault, FaultSchedule, Latency, Limits, Nemesis, NemesisKind, NetConfig, NodeId, Pacing,
    Probability, RunReport, Seed, Sim, Time,
};

/// One simulated run's settings besides the protocol and the seed.
#[derive(Clone)]
struct Scenario {
    servers: usize,
    clients: usize,
    workload: LogWorkload,
    kinds: Vec<NemesisKind>,
    /// Virtual milliseconds of workload.
    millis: u64,
    /// The nemesis stops this long before the end: consumers drain meanwhile.
    quiet: u64,
    crash_max: usize,
    faults: FaultSchedule,
    loss: Probability,
}

impl Default for Scenario {
    fn default() -> Scenario {
        Scenario {
            servers: 4,
            clients: 4,
            workload: LogWorkload { producers: 2, partitions: 2, messages: 150, ..LogWorkload::default() },
            kinds: vec![
                NemesisKind::Crash,
                NemesisKind::Pause,
                NemesisKind::Isolate,
                NemesisKind::Split,
                NemesisKind::Bridge,
                NemesisKind::OneWay,
                NemesisKind::Slow,
            ],
            millis: 6000,
            quiet: 2500,
            crash_max: 2,
            faults: FaultSchedule::new(),
            loss: Probability::ratio(1, 100),
        }
    }
}

fn ms(n: u64) -> Time {
    Time::from_nanos(n * 1_000_000)
}

/// Runs `scenario` under `seed`; returns the report and the protocol's judgements.
fn run(protocol: Log, scenario: &Scenario, seed: u64) -> (RunReport, Vec<Judgement>) {
    let net = NetConfig {
        latency: Latency::Uniform { min: Duration::from_micros(500), max: Duration::from_millis(4) },
        loss: scenario.loss,
        duplicate: scenario.loss,
        fifo: false,
    };
    let pacing = Pacing {
        think: Latency::Uniform { min: Duration::from_millis(1), max: Duration::from_millis(10) },
        duration: Duration::from_millis(scenario.millis),
        timeout: Some(Duration::from_millis(500)),
    };
    let mut builder = Sim::builder(protocol.clone(), Seed(seed))
        .servers(scenario.servers)
        .clients(scenario.clients, scenario.workload.start())
        .pacing(pacing)
        .network(net)
        .faults(scenario.faults.clone())
        .limits(Limits { time_max: Some(ms(scenario.millis + 2000)), ..Limits::default() });
    if !scenario.kinds.is_empty() {
        let stop = ms(scenario.millis - scenario.quiet);
        let mut nemesis = Nemesis::new(
            scenario.kinds.clone(),
            Duration::from_millis(300),
            Duration::from_millis(400),
            stop,
        );
        nemesis.crash_max = scenario.crash_max;
        builder = builder.nemesis(nemesis);
    }
    let mut sim = builder.build().expect("scenario builds");
    let report = sim.run();
    let judgements = protocol.judge(&report, &sim.view());
    (report, judgements)
}

/// What failed: an abnormal end or the name and detail of a judgement that did not pass.
fn failure(report: &RunReport, judgements: &[Judgement]) -> Option<String> {
    if !report.end.is_normal() {
        return Some(format!("abnormal end: {}", report.end));
    }
    judgements.iter().find(|j| j.pass != Some(true)).map(|j| format!("{}: {}", j.name, j.detail))
}

fn sweep(protocol: &Log, scenario: &Scenario, seeds: std::ops::Range<u64>) -> Vec<(u64, String)> {
    seeds
        .filter_map(|seed| {
            let (report, judgements) = run(protocol.clone(), scenario, seed);
            failure(&report, &judgements).map(|what| (seed, what))
        })
        .collect()
}

/// The first seed in `0..seeds_max` whose run fails, and what failed.
fn first_failure(protocol: Log, scenario: &Scenario, seeds_max: u64) -> Option<(u64, String)> {
    (0..seeds_max).find_map(|seed| {
        let (report, judgements) = run(protocol.clone(), scenario, seed);
        failure(&report, &judgements).map(|what| (seed, what))
    })
}

fn with_bug(bug: LogBug) -> Log {
    Log { bugs: vec![bug], ..Log::default() }
}

#[test]
fn a_quiet_run_delivers_every_message_once() {
    let scenario = Scenario { kinds: Vec::new(), loss: Probability::NEVER, ..Scenario::default() };
    let (report, judgements) = run(Log::default(), &scenario, 1);
    assert_eq!(failure(&report, &judgements), None);
    println!("{judgements:?}");
    let detail = &judgements[0].detail;
    assert!(detail.starts_with("300 sent ok, 300 delivered"), "{detail}");
}

#[test]
fn correct_log_passes_1000_seeds_under_the_nemesis() {
    let scenario = Scenario { workload: with_consumer_crashes(3), ..Scenario::default() };
    let failures = sweep(&Log::default(), &scenario, 0..1000);
    assert!(failures.is_empty(), "failing seeds: {failures:?}");
}

/// `cargo test -p protocols --test log --release -- --ignored`
#[test]
#[ignore = "10,000 seeds: minutes"]
fn correct_log_passes_10000_seeds_under_the_nemesis() {
    let scenario = Scenario { workload: with_consumer_crashes(3), ..Scenario::default() };
    let failures = sweep(&Log::default(), &scenario, 0..10_000);
    assert!(failures.is_empty(), "failing seeds: {failures:?}");
}

fn with_consumer_crashes(percent: u64) -> LogWorkload {
    LogWorkload { consumer_crash: Probability::ratio(percent, 100), ..Scenario::default().workload }
}

/// Without idempotence the guarantee is at-least-once, and the nemesis's
/// retries put some messages in the log twice: allowed, and counted.
#[test]
fn without_idempotence_duplicates_are_allowed_at_least_once() {
    let protocol = Log { idempotent: false, ..Log::default() };
    let scenario = retry_storm();
    let failures = sweep(&protocol, &scenario, 0..20);
    assert!(failures.is_empty(), "failing seeds: {failures:?}");
    let (_, judgements) = run(protocol, &scenario, 4);
    assert_eq!(judgements[0].name, "delivery (at-least-once)");
    assert!(!judgements[0].detail.contains(" 0 allowed duplicates"), "{}", judgements[0].detail);
}

/// Both followers pause at 300ms, so the ISR shrinks to the leader n1; n1
/// crashes at 900ms, the followers resume at 1000ms, n1 restarts at 1600ms.
fn last_replica_down() -> Scenario {
    let mut faults = FaultSchedule::new();
    faults.push(ms(300), Fault::Pause { node: NodeId(2) });
    faults.push(ms(300), Fault::Pause { node: NodeId(3) });
    faults.push(ms(900), Fault::Crash { node: NodeId(1) });
    faults.push(ms(1000), Fault::Resume { node: NodeId(2) });
    faults.push(ms(1000), Fault::Resume { node: NodeId(3) });
    faults.push(ms(1600), Fault::Restart { node: NodeId(1) });
    Scenario { kinds: Vec::new(), faults, loss: Probability::NEVER, ..Scenario::default() }
}

/// No faults but a network losing one message in ten: many retries.
fn retry_storm() -> Scenario {
    let workload = LogWorkload { messages: 80, ..Scenario::default().workload };
    Scenario { kinds: Vec::new(), loss: Probability::ratio(1, 10), workload, ..Scenario::default() }
}

/// No faults; one poll in twenty crashes its consumer mid-batch.
fn consumer_crashes() -> Scenario {
    let workload = LogWorkload { messages: 100, ..with_consumer_crashes(5) };
    Scenario { kinds: Vec::new(), loss: Probability::NEVER, workload, ..Scenario::default() }
}

#[test]
fn correct_log_survives_each_bugs_scenario() {
    for scenario in [last_replica_down(), retry_storm(), consumer_crashes()] {
        let failures = sweep(&Log::default(), &scenario, 0..50);
        assert!(failures.is_empty(), "failing seeds: {failures:?}");
    }
}

/// Asserts `bug` is found in `scenario` within `seeds_max` seeds by the
/// exactly-once delivery check, reporting `anomaly`.
fn assert_found(bug: LogBug, scenario: &Scenario, seeds_max: u64, anomaly: &str) {
    let found = first_failure(with_bug(bug), scenario, seeds_max);
    let (seed, what) = found.unwrap_or_else(|| panic!("{bug:?} not found within {seeds_max} seeds"));
    println!("{bug:?}: seed {seed}: {what}");
    assert!(what.starts_with("delivery (exactly-once): "), "seed={seed} what={what}");
    assert!(what.contains(anomaly), "seed={seed} what={what}");
}

/// K = 20: acks-leader-only is found within twenty seeds of the nemesis (first: seed 0), as lost messages.
#[test]
fn acks_leader_only_loses_acknowledged_messages() {
    assert_found(LogBug::AcksLeaderOnly, &Scenario::default(), 20, " lost (first: ");
}

/// K = 1: unclean-election loses what the last in-sync replica acknowledged, on seed 0.
#[test]
fn unclean_election_loses_acknowledged_messages() {
    assert_found(LogBug::UncleanElection, &last_replica_down(), 1, " lost (first: ");
}

/// K = 3: commit-before-process loses a crashed consumer's batch within three seeds.
#[test]
fn commit_before_process_loses_a_crashed_consumers_batch() {
    assert_found(LogBug::CommitBeforeProcess, &consumer_crashes(), 3, " lost (first: ");
}

/// K = 1: retry-duplicates puts retried messages in the log twice, on seed 0.
#[test]
fn retry_duplicates_duplicates_retried_messages() {
    assert_found(LogBug::RetryDuplicates, &retry_storm(), 1, " duplicated (first: ");
}

/// acks = "leader" answers after one sync, "all" after a replication round:
/// the cheaper one is faster and, on a quiet run, as complete.
#[test]
fn acks_leader_is_faster_than_acks_all_on_a_quiet_run() {
    let scenario = Scenario { kinds: Vec::new(), loss: Probability::NEVER, ..Scenario::default() };
    let p99 = |acks| {
        let (report, judgements) = run(Log { acks, ..Log::default() }, &scenario, 1);
        assert_eq!(failure(&report, &judgements), None);
        let ops = report.history.operations().unwrap();
        let latencies = sim_core::check::availability::availability(
            &ops.into_iter().filter(|op| op.f == "send").collect::<Vec<_>>(),
            &[],
            &Default::default(),
        );
        latencies.latency.expect("sends succeeded").p99
    };
    let (leader, all) = (p99(Acks::Leader), p99(Acks::All));
    assert!(leader < all, "p99 leader={leader} all={all}");
}

/// What `orrery list` prints parses back: every catalogued bug name is a
/// `bugs` value, and the defaults round-trip through TOML.
#[test]
fn catalogue_entry_parses_back() {
    for (bug, _) in Log::BUGS {
        let parsed: Result<Log, _> = toml::from_str(&format!("bugs = [{bug:?}]"));
        assert!(parsed.is_ok(), "bug {bug:?} does not parse: {:?}", parsed.err());
    }
    let defaults = toml::to_string(&Log::default()).unwrap();
    let back: Log = toml::from_str(&defaults).unwrap();
    assert_eq!(back, Log::default());
    let workload: toml::Table = toml::from_str("producers = 1\npartitions = 3\nmessages = 5").unwrap();
    assert!(Log::workload(&workload).is_ok());
    let bad: toml::Table = toml::from_str("partitions = 0").unwrap();
    assert_eq!(Log::workload(&bad).err(), Some("`partitions` must be at least 1".to_string()));
}
