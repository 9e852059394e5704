//! Two-phase commit, Paxos Commit and sagas on the same seed, workload and
//! coordinator outage, side by side: the transactions chapter's table.
//!
//! The setup is `scenarios/compare-{2pc,paxos-commit,saga}.toml`, built here
//! directly (keep the two in step): six servers, n0-n2 coordinating (or
//! orchestrating) and n3-n5 holding 8 accounts of 100; 8 clients transfer
//! 1..=5 or read every balance (20%) for 6s with 2ms of think time and a
//! 500ms timeout; n0 is down from 1s to 4s.
//!
//! ```text
//! cargo run --release -p protocols --example txn_compare [-- --seed N | --seeds A..B]
//! ```
//!
//! Columns: `outage ok` is the share of operations invoked while n0 was down
//! that completed `ok` (`outage ops` how many there were); `p99` the 99th percentile latency of every `ok`
//! operation; `atomicity` how many runs broke all-or-nothing or money (the
//! atomicity and conservation checks, or saga-outcome and conservation);
//! `half-done reads` how many `ok` read-alls did not sum to the bank's total.

use std::ops::Range;

use protocols::Catalogued;
use protocols::commit::{BankWorkload, PaxosCommit, TwoPc};
use protocols::saga::{Saga, checks::half_done_reads};
use sim_core::{
    Duration, Fault, FaultSchedule, Latency, Limits, NetConfig, NodeId, Pacing, RecordType, Seed, Sim, Time,
};

const OUTAGE: (u64, u64) = (1000, 4000);

fn at(millis: u64) -> Time {
    Time::ZERO + Duration::from_millis(millis)
}

/// What the runs of one protocol added up to.
#[derive(Debug, Default)]
struct Tally {
    outage_ok: usize,
    outage_ops: usize,
    latencies: Vec<Duration>,
    broken: usize,
    half_done: usize,
    reads: usize,
    runs: usize,
}

impl Tally {
    fn p99(&mut self) -> Option<Duration> {
        self.latencies.sort_unstable();
        let n = self.latencies.len();
        (n > 0).then(|| self.latencies[(n * 99).div_ceil(100) - 1])
    }
}

/// Runs `protocol` once under `seed` and adds the run to `tally`.
fn run<P: Catalogued>(protocol: P, seed: u64, tally: &mut Tally) {
    let pacing = Pacing {
        think: Latency::Constant { delay: Duration::from_millis(2) },
        duration: Duration::from_secs(6),
        timeout: Some(Duration::from_millis(500)),
    };
    let net = NetConfig {
        latency: Latency::Uniform { min: Duration::from_millis(1), max: Duration::from_millis(5) },
        ..NetConfig::default()
    };
    let faults = FaultSchedule::new()
        .at(at(OUTAGE.0), Fault::Crash { node: NodeId(0) })
        .at(at(OUTAGE.1), Fault::Restart { node: NodeId(0) });
    let mut sim = Sim::builder(protocol.clone(), Seed(seed))
        .servers(6)
        .clients(8, BankWorkload::default())
        .pacing(pacing)
        .network(net)
        .faults(faults)
        .limits(Limits { time_max: Some(at(12_000)), ..Limits::default() })
        .build()
        .expect("a valid simulation");
    let report = sim.run();
    assert!(report.end.is_normal(), "protocol={} seed={seed} end={}", P::NAME, report.end);
    let judgements = protocol.judge(&report, &sim.view());
    let operations = report.history.operations().expect("a well-formed history");
    for op in &operations {
        let during = (at(OUTAGE.0)..at(OUTAGE.1)).contains(&op.invoked_at);
        tally.outage_ops += usize::from(during);
        if op.kind == RecordType::Ok {
            tally.outage_ok += usize::from(during);
            if let Some(done) = op.completed_at {
                tally.latencies.push(done.since(op.invoked_at));
            }
        }
    }
    let checked = ["atomicity", "saga-outcome", "conservation"];
    let broken =
        judgements.iter().any(|j| checked.contains(&j.name.as_str()) && j.status == sim_core::Status::Fail);
    tally.broken += usize::from(broken);
    let (off, reads) = half_done_reads(&report);
    tally.half_done += off;
    tally.reads += reads;
    tally.runs += 1;
}

fn seeds(args: &[String]) -> Range<u64> {
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1));
    if let Some(range) = value("--seeds") {
        let (a, b) = range.split_once("..").expect("--seeds takes A..B");
        return a.parse().expect("--seeds A..B: A is a number")
            ..b.parse().expect("--seeds A..B: B is a number");
    }
    let seed: u64 = value("--seed").map_or(0, |s| s.parse().expect("--seed takes a number"));
    seed..seed + 1
}

fn percent(part: usize, whole: usize) -> String {
    if whole == 0 { "-".into() } else { format!("{:.1}%", part as f64 * 100.0 / whole as f64) }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seeds = seeds(&args);
    assert!(!seeds.is_empty(), "no seeds in {seeds:?}");
    let mut tallies = [
        (TwoPc::NAME, Tally::default()),
        (PaxosCommit::NAME, Tally::default()),
        (Saga::NAME, Tally::default()),
    ];
    for seed in seeds.clone() {
        run(TwoPc::default(), seed, &mut tallies[0].1);
        run(PaxosCommit::default(), seed, &mut tallies[1].1);
        run(Saga::default(), seed, &mut tallies[2].1);
    }
    let n = seeds.end - seeds.start;
    let which = if n == 1 {
        format!("seed {}", seeds.start)
    } else {
        format!("seeds {}..{}", seeds.start, seeds.end)
    };
    println!("{which}: n0 down 1s..4s, 8 clients, 8 accounts, 20% read-alls, 6s");
    println!(
        "{:<13} {:>10} {:>10} {:>10} {:>10} {:>22}",
        "protocol", "outage ok", "outage ops", "p99", "atomicity", "half-done reads"
    );
    for (name, tally) in &mut tallies {
        let p99 = tally.p99().map_or("-".into(), |d| d.to_string());
        let half =
            format!("{} / {} ({})", tally.half_done, tally.reads, percent(tally.half_done, tally.reads));
        println!(
            "{:<13} {:>10} {:>10} {:>10} {:>10} {:>22}",
            name,
            percent(tally.outage_ok, tally.outage_ops),
            tally.outage_ops,
            p99,
            format!("{}/{}", tally.broken, tally.runs),
            half
        );
    }
}
