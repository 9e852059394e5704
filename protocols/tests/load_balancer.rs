//! Load balancing with health checks: strategies under a slow backend,
//! crash detection and re-admission with both failure detectors, balancer
//! failover, the planted bugs, determinism.

use protocols::Catalogued;
use protocols::load_balancer::{
    Bug, DetectorKind, LoadBalancer, RequestWorkload, Strategy, Summary, summarize,
};
use sim_core::{
    Duration, Fault, FaultSchedule, Latency, NetConfig, NodeId, Pacing, RunReport, Seed, Sim, Time,
};

const BALANCERS: usize = 2;
const BACKENDS: usize = 4;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn at(n: u64) -> Time {
    Time::ZERO + ms(n)
}

/// The last backend.
fn slow_one() -> NodeId {
    NodeId((BALANCERS + BACKENDS - 1) as u32)
}

/// Runs `config` under `seed` and `faults`: 2 balancers, 4 backends, 8 clients for 3s.
fn run(
    config: &LoadBalancer,
    seed: u64,
    faults: FaultSchedule,
) -> (RunReport, Summary, Vec<protocols::Judgement>) {
    let pacing = Pacing {
        think: Latency::Uniform { min: Duration::ZERO, max: ms(10) },
        duration: Duration::from_secs(3),
        timeout: Some(Duration::from_secs(1)),
    };
    let net = NetConfig {
        latency: Latency::Uniform { min: Duration::from_micros(500), max: ms(2) },
        ..NetConfig::default()
    };
    let mut sim = Sim::builder(config.clone(), Seed(seed))
        .servers(BALANCERS + BACKENDS)
        .clients(8, RequestWorkload { keys: 1000 })
        .pacing(pacing)
        .network(net)
        .faults(faults)
        .build()
        .expect("a valid simulation");
    let report = sim.run();
    assert!(report.end.is_normal(), "seed={seed} end={}", report.end);
    let summary = summarize(config, &report, &sim.view());
    let judgements = config.judge(&report, &sim.view());
    (report, summary, judgements)
}

fn slow_config(strategy: Strategy) -> LoadBalancer {
    LoadBalancer {
        slow_backends: vec![slow_one().0],
        slow_factor: 10,
        ..LoadBalancer::with_strategy(strategy)
    }
}

fn p99(config: &LoadBalancer, seed: u64) -> Duration {
    run(config, seed, FaultSchedule::new()).1.p99.expect("some request succeeded")
}

fn failed(judgements: &[protocols::Judgement]) -> Vec<String> {
    judgements.iter().filter(|j| j.pass != Some(true)).map(|j| format!("{}: {}", j.name, j.detail)).collect()
}

/// A backend crashes at 1s and restarts at 2s.
fn crash_and_restart(backend: NodeId) -> FaultSchedule {
    FaultSchedule::new()
        .at(at(1000), Fault::Crash { node: backend })
        .at(at(2000), Fault::Restart { node: backend })
}

#[test]
fn outstanding_aware_strategies_route_around_a_slow_backend() {
    for seed in 0..4 {
        let p99s: Vec<Duration> = Strategy::ALL[..4].iter().map(|&s| p99(&slow_config(s), seed)).collect();
        let [random, round_robin, least, two] = p99s[..] else { unreachable!() };
        let blind = random.min(round_robin);
        assert!(
            least < blind,
            "seed={seed} least-outstanding p99={least} vs random={random} round-robin={round_robin}"
        );
        assert!(
            two < blind,
            "seed={seed} power-of-two p99={two} vs random={random} round-robin={round_robin}"
        );
    }
}

#[test]
fn no_strategy_sends_to_a_crashed_backend_past_the_detection_bound() {
    let detectors = [(DetectorKind::FixedTimeout, ms(150)), (DetectorKind::PhiAccrual, ms(100))];
    for (detector, bound) in detectors {
        for (seed, strategy) in Strategy::ALL.into_iter().enumerate() {
            let config = LoadBalancer {
                detector,
                detection_max: Some(bound),
                readmit_max: Some(ms(100)),
                ..LoadBalancer::with_strategy(strategy)
            };
            let (_, s, judgements) = run(&config, seed as u64, crash_and_restart(NodeId(3)));
            let what = format!("{detector:?} {} seed={seed}", strategy.name());
            assert_eq!(failed(&judgements), Vec::<String>::new(), "{what}");
            assert_eq!(s.detections.len(), BALANCERS, "{what}: each balancer ejects the crashed backend");
            assert!(
                s.detection_max().is_some_and(|d| d <= bound),
                "{what}: detection {:?}",
                s.detection_max()
            );
            assert!(s.dead_send_latest.is_none_or(|d| d <= bound), "{what}: {:?}", s.dead_send_latest);
            assert_eq!(s.readmissions.len(), BALANCERS, "{what}: each balancer re-admits it");
            assert!(s.success_ratio > 0.99, "{what}: success {}", s.success_ratio);
        }
    }
}

#[test]
fn phi_accrual_detects_faster_than_a_generous_fixed_timeout() {
    let detection = |detector| {
        let config = LoadBalancer { detector, ..LoadBalancer::default() };
        run(&config, 3, crash_and_restart(NodeId(4))).1.detection_max().expect("detected")
    };
    let (fixed, phi) = (detection(DetectorKind::FixedTimeout), detection(DetectorKind::PhiAccrual));
    assert!(phi < fixed, "phi={phi} fixed={fixed}");
}

#[test]
fn a_paused_backend_is_ejected_and_readmitted_on_resume() {
    let faults = FaultSchedule::new()
        .at(at(1000), Fault::Pause { node: NodeId(2) })
        .at(at(1500), Fault::Resume { node: NodeId(2) });
    let config = LoadBalancer { readmit_max: Some(ms(100)), ..LoadBalancer::default() };
    let (_, s, judgements) = run(&config, 5, faults);
    assert_eq!(failed(&judgements), Vec::<String>::new());
    assert_eq!(s.readmissions.len(), BALANCERS);
    assert!(s.success_ratio > 0.99, "success {}", s.success_ratio);
}

#[test]
fn clients_fail_over_to_the_other_balancer() {
    for seed in 0..3 {
        let faults = FaultSchedule::new().at(at(1000), Fault::Crash { node: NodeId(0) });
        let config = LoadBalancer { success_min: Some(0.99), ..LoadBalancer::default() };
        let (report, s, judgements) = run(&config, seed, faults);
        assert_eq!(failed(&judgements), Vec::<String>::new(), "seed={seed}");
        assert!(s.success_ratio >= 0.99, "seed={seed} success {}", s.success_ratio);
        let ops = report.history.operations().unwrap();
        let late = ops.iter().filter(|op| op.invoked_at > at(1500)).count();
        assert!(late > 500, "seed={seed}: clients kept going after the crash ({late} requests)");
    }
}

#[test]
fn without_health_checks_requests_go_to_a_dead_backend() {
    let config = LoadBalancer {
        strategy: Strategy::Random,
        detection_max: Some(ms(150)),
        bugs: vec![Bug::NoHealthChecks],
        ..LoadBalancer::default()
    };
    let (_, s, judgements) = run(&config, 1, crash_and_restart(NodeId(3)));
    assert!(failed(&judgements).iter().any(|f| f.starts_with("dead-backend-sends")), "{judgements:?}");
    assert!(s.dead_sends > 10, "dead sends {}", s.dead_sends);
}

#[test]
fn without_readmission_a_restarted_backend_stays_out() {
    let config = LoadBalancer { bugs: vec![Bug::NoReadmit], ..LoadBalancer::default() };
    let (_, s, judgements) = run(&config, 2, crash_and_restart(NodeId(3)));
    assert!(failed(&judgements).iter().any(|f| f.starts_with("readmission")), "{judgements:?}");
    assert_eq!(s.not_readmitted.len(), BALANCERS);
}

#[test]
fn the_same_seed_gives_the_same_trace() {
    let config = LoadBalancer { detector: DetectorKind::PhiAccrual, ..slow_config(Strategy::ConsistentHash) };
    let first = run(&config, 9, crash_and_restart(NodeId(2))).0.trace_hash;
    let second = run(&config, 9, crash_and_restart(NodeId(2))).0.trace_hash;
    assert_eq!(first, second);
    assert_ne!(first, run(&config, 10, crash_and_restart(NodeId(2))).0.trace_hash);
}
