//! The replicated log under the nemesis: every acknowledged message
//! delivered exactly once in partition order over many seeds, and each
//! planted bug found by the delivery check.

use protocols::log::{Acks, Log, LogBug, LogWorkload};
use protocols::{Catalogued, Judgement};
use sim_core::{
    Duration, Fault, FaultSchedule, Latency, Limits, Nemesis, NemesisKind, NetConfig, NodeId, Pacing, Probability,
    RunReport, Seed, Sim, Time,
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
                NemesisKind::OneWay,
            ],
            millis: 6000,
            quiet: 2500,
            crash_max: 1,
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
fn correct_log_passes_200_seeds_under_the_nemesis() {
    let failures = sweep(&Log::default(), &Scenario::default(), 0..200);
    assert!(failures.is_empty(), "failing seeds: {failures:?}");
}
