//! Every balancing strategy on the same seed and workload, side by side.
//!
//! Two balancers (n0, n1) in front of four backends (n2..n5); n5 serves 10x
//! slower than the others from the start (a gray failure health checks do
//! not see), and n3 crashes at 1s and restarts at 2s. Eight closed-loop
//! clients send requests on 1000 keys for 3s.
//!
//! ```text
//! cargo run --release -p protocols --example lb_compare [-- --seed N] [--detector phi-accrual]
//! ```

use protocols::load_balancer::{DetectorKind, LoadBalancer, RequestWorkload, Strategy, Summary, summarize};
use sim_core::{Duration, Fault, FaultSchedule, Latency, NetConfig, NodeId, Pacing, Seed, Sim, Time};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// One run of `strategy` under `seed` with the comparison's faults.
fn run(strategy: Strategy, detector: DetectorKind, seed: u64) -> Summary {
    let config = LoadBalancer {
        detector,
        slow_backends: vec![5],
        slow_factor: 10,
        detection_max: Some(ms(150)),
        ..LoadBalancer::with_strategy(strategy)
    };
    let faults = FaultSchedule::new()
        .at(Time::ZERO + ms(1000), Fault::Crash { node: NodeId(3) })
        .at(Time::ZERO + ms(2000), Fault::Restart { node: NodeId(3) });
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
        .servers(6)
        .clients(8, RequestWorkload { keys: 1000 })
        .pacing(pacing)
        .network(net)
        .faults(faults)
        .build()
        .expect("a valid simulation");
    let report = sim.run();
    assert!(report.end.is_normal(), "seed={seed} strategy={} end={}", strategy.name(), report.end);
    summarize(&config, &report, &sim.view())
}

fn show(d: Option<Duration>) -> String {
    d.map_or("-".into(), |d| d.to_string())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1));
    let seed: u64 = value("--seed").map_or(1, |s| s.parse().expect("--seed takes a number"));
    let detector = match value("--detector").map(String::as_str) {
        None | Some("fixed-timeout") => DetectorKind::FixedTimeout,
        Some("phi-accrual") => DetectorKind::PhiAccrual,
        Some(other) => panic!("unknown detector {other:?}: use fixed-timeout or phi-accrual"),
    };
    println!("seed {seed}, detector {detector:?}: n5 10x slow, n3 crashed 1s..2s, 8 clients for 3s");
    println!(
        "{:<18} {:>9} {:>9} {:>8} {:>7} {:>6} {:>11} {:>9} {:>8}  served n2/n3/n4/n5",
        "strategy", "p50", "p99", "success", "ops", "imbal", "dead sends", "detect", "readmit"
    );
    for strategy in Strategy::ALL {
        let s = run(strategy, detector, seed);
        let served: Vec<String> = s.load.iter().map(|(_, n)| n.to_string()).collect();
        let dead = format!("{} ({})", s.dead_sends, show(s.dead_send_latest));
        println!(
            "{:<18} {:>9} {:>9} {:>7.1}% {:>7} {:>6} {:>11} {:>9} {:>8}  {}",
            strategy.name(),
            show(s.p50),
            show(s.p99),
            s.success_ratio * 100.0,
            s.operations,
            s.imbalance.map_or("-".into(), |i| format!("{i:.2}")),
            dead,
            show(s.detection_max()),
            show(s.readmission_max()),
            served.join("/")
        );
    }
}
