//! What `acks = "all"` costs against `acks = "leader"`: send throughput and
//! latency on one seed, same workload, no faults.
//!
//! A controller (n0) and three brokers (n1..n3) hold two partitions. Eight
//! closed-loop producers with no think time each send 400 messages; one
//! consumer drains. `"leader"` answers after the leader's own sync; `"all"`
//! once every in-sync replica has fetched the message (one more round trip
//! and the followers' syncs), which is what keeps acknowledged messages
//! through a failover.
//!
//! ```text
//! cargo run --release -p protocols --example log_acks [-- --seed N]
//! ```

use protocols::Catalogued;
use protocols::log::{Acks, Log, LogWorkload};
use sim_core::check::availability::{Thresholds, availability};
use sim_core::{Duration, Latency, NetConfig, Pacing, RecordType, Seed, Sim};

/// One row of the comparison.
struct Row {
    acks: Acks,
    sent: usize,
    throughput: f64,
    p50: Duration,
    p99: Duration,
    delivery: String,
}

fn run(acks: Acks, seed: u64) -> Row {
    let protocol = Log { acks, ..Log::default() };
    let mut workload = LogWorkload::default();
    (workload.producers, workload.partitions, workload.messages) = (8, 2, 400);
    let pacing = Pacing {
        think: Latency::constant(Duration::ZERO),
        duration: Duration::from_secs(10),
        timeout: Some(Duration::from_secs(1)),
    };
    let net = NetConfig {
        latency: Latency::Uniform { min: Duration::from_micros(500), max: Duration::from_millis(4) },
        ..NetConfig::default()
    };
    let mut sim = Sim::builder(protocol.clone(), Seed(seed))
        .servers(4)
        .clients(9, workload)
        .pacing(pacing)
        .network(net)
        .build()
        .expect("the comparison builds");
    let report = sim.run();
    let delivery = protocol.judge(&report, &sim.view()).remove(0);
    let ops = report.history.operations().expect("a well-formed history");
    let sends: Vec<_> = ops.into_iter().filter(|op| op.f == "send").collect();
    let ok: Vec<_> = sends.iter().filter(|op| op.kind == RecordType::Ok).collect();
    let last = ok.iter().filter_map(|op| op.completed_at).max().expect("some send completed");
    let first = sends.iter().map(|op| op.invoked_at).min().expect("some send");
    let latency = availability(&sends, &[], &Thresholds::default()).latency.expect("sends succeeded");
    Row {
        acks,
        sent: ok.len(),
        throughput: ok.len() as f64 / last.since(first).as_secs_f64(),
        p50: latency.p50,
        p99: latency.p99,
        delivery: format!("{}: {}", delivery.name, delivery.detail),
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut seed = 1;
    while let Some(arg) = args.next() {
        if arg == "--seed" {
            seed = args.next().and_then(|s| s.parse().ok()).expect("--seed takes a number");
        }
    }
    println!("seed {seed}: 8 producers x 400 messages, 2 partitions, 3 brokers, latency 0.5-4ms");
    println!("{:<8} {:>6} {:>12} {:>10} {:>10}", "acks", "ok", "sends/s", "p50", "p99");
    for acks in [Acks::Leader, Acks::All] {
        let row = run(acks, seed);
        let name = if row.acks == Acks::Leader { "leader" } else { "all" };
        println!(
            "{name:<8} {:>6} {:>12.0} {:>10} {:>10}",
            row.sent,
            row.throughput,
            row.p50.to_string(),
            row.p99.to_string()
        );
        println!("         {}", row.delivery);
    }
}
