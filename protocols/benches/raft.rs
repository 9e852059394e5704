//! Raft throughput: virtual seconds simulated per wall-clock second, for five
//! servers and five clients under a mild nemesis and a lossy network.
//!
//! `cargo bench -p protocols --bench raft` prints `bench raft5 virt_per_wall=<x>`.

use protocols::raft::Raft;
use sim_core::{
    Duration, Latency, Nemesis, NemesisKind, NetConfig, Pacing, Probability, RegisterWorkload, Seed, Sim,
    Time,
};

const SEEDS: u64 = 20;
const VIRTUAL_SECS: u64 = 10;

fn run(seed: u64) -> Time {
    let net = NetConfig {
        latency: Latency::Uniform { min: Duration::from_micros(500), max: Duration::from_millis(4) },
        loss: Probability::ratio(1, 100),
        duplicate: Probability::ratio(1, 100),
        fifo: false,
    };
    let nemesis = Nemesis::new(
        NemesisKind::ANY_SERVER.to_vec(),
        Duration::from_millis(500),
        Duration::from_millis(300),
        Time::from_nanos((VIRTUAL_SECS - 1) * 1_000_000_000),
    );
    let pacing = Pacing {
        think: Latency::constant(Duration::from_millis(5)),
        duration: Duration::from_secs(VIRTUAL_SECS),
        timeout: Some(Duration::from_secs(1)),
    };
    let mut sim = Sim::builder(Raft::default(), Seed(seed))
        .servers(5)
        .clients(5, RegisterWorkload::default())
        .pacing(pacing)
        .network(net)
        .nemesis(nemesis)
        .build()
        .expect("bench scenario builds");
    let report = sim.run();
    assert!(report.end.is_normal(), "seed={seed} end={}", report.end);
    report.time
}

fn main() {
    #[allow(clippy::disallowed_methods)] // benchmarks measure wall time on purpose
    let started = std::time::Instant::now();
    let virtual_nanos: u64 = (0..SEEDS).map(|seed| run(seed).as_nanos()).sum();
    let wall = started.elapsed().as_secs_f64();
    let ratio = virtual_nanos as f64 / 1e9 / wall;
    println!("bench raft5 virt_per_wall={ratio:.1}");
}
