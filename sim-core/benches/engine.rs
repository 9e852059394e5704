//! Engine throughput: `cargo bench -p sim-core --bench engine [-- NAME]` (a
//! workload's name runs it alone; other text runs the workloads containing it).
//!
//! Prints one line per workload:
//! `bench <name> msgs_per_s=<n> virt_per_wall=<x> peak_rss_mb=<m>`
//!
//! - `pingpong`: two nodes, one message in flight, fixed latency, trace hash on, no trace kept.
//! - `pingpong-trace`: the same, streaming the JSON trace to a file.
//! - `gossip5`: five nodes all-to-all with 1% loss and uniform random latency.
//! - `pingpong-bare`: `pingpong`'s shape as a bare binary-heap loop with no
//!   engine (see `bare.rs`), run alternately with `pingpong` in the same
//!   process; `bench pingpong ratio_to_bare=<x>` is engine speed over bare speed.
//!
//! `ENGINE_BENCH_PROFILE=1` runs each workload once for a hundredth of its
//! virtual time, short enough for `valgrind --tool=callgrind`.
//!
//! Each figure is the median of several runs. A final `memory` line shows the
//! peak RSS after a run ten times longer, to show it does not grow with virtual time.

#[path = "engine/bare.rs"]
mod bare;

use std::io::BufWriter;

use serde::Serialize;
use sim_core::{
    Client, Cluster, Context, Duration, Latency, Limits, NetConfig, Node, NodeId, Op, OpId, Probability,
    Protocol, RunReport, Seed, Sim, Time, TimerId, TraceSink,
};

#[derive(Clone, Copy)]
enum Shape {
    PingPong,
    Gossip { period: Duration },
}

#[derive(Clone, Debug, Hash, Serialize)]
struct Ball(u64);

struct Player {
    shape: Shape,
    hits: u64,
}

impl Node<Bench> for Player {
    fn on_start(&mut self, ctx: &mut Context<'_, Bench>) {
        match self.shape {
            Shape::PingPong if ctx.id() == NodeId(0) => ctx.send(NodeId(1), Ball(0)),
            Shape::PingPong => {}
            Shape::Gossip { period } => {
                ctx.set_timer(period, ());
            }
        }
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Bench>, from: NodeId, ball: Ball) {
        self.hits += 1;
        if let Shape::PingPong = self.shape {
            ctx.send(from, Ball(ball.0 + 1));
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Bench>, _id: TimerId, _: ()) {
        if let Shape::Gossip { period } = self.shape {
            ctx.broadcast(Ball(self.hits));
            ctx.set_timer(period, ());
        }
    }
}

struct Idle;

impl Client<Bench> for Idle {
    fn on_invoke(&mut self, _: &mut Context<'_, Bench>, _: OpId, _: Op) {}
    fn on_message(&mut self, _: &mut Context<'_, Bench>, _: NodeId, _: Ball) {}
    fn on_timer(&mut self, _: &mut Context<'_, Bench>, _: TimerId, _: ()) {}
}

struct Bench(Shape);

impl Protocol for Bench {
    type Msg = Ball;
    type Timer = ();
    type Server = Player;
    type Client = Idle;

    fn server(&self, _: NodeId, _: &Cluster) -> Player {
        Player { shape: self.0, hits: 0 }
    }

    fn client(&self, _: NodeId, _: &Cluster) -> Idle {
        Idle
    }
}

struct Case {
    name: &'static str,
    shape: Shape,
    servers: usize,
    net: NetConfig,
    virtual_time: Time,
    trace_to_file: bool,
}

fn trace_path() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("orrery-bench-{}.jsonl", std::process::id()))
}

fn run(case: &Case, virtual_time: Time) -> (RunReport, f64) {
    let sink = if case.trace_to_file {
        let file = std::fs::File::create(trace_path()).expect("create trace file");
        TraceSink::Writer(Box::new(BufWriter::with_capacity(1 << 16, file)))
    } else {
        TraceSink::Hash
    };
    let mut sim = Sim::builder(Bench(case.shape), Seed(1))
        .servers(case.servers)
        .network(case.net.clone())
        .limits(Limits { time_max: Some(virtual_time), events_max: u64::MAX, ..Limits::default() })
        .trace(sink)
        .build()
        .expect("valid bench setup");
    #[allow(clippy::disallowed_methods)] // benchmarks measure wall time on purpose
    let started = std::time::Instant::now();
    let report = sim.run();
    let wall = started.elapsed().as_secs_f64();
    (report, wall)
}

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The bare loop's run of `case`: messages delivered and wall seconds.
fn run_bare(case: &Case) -> (u64, f64) {
    #[allow(clippy::disallowed_methods)] // benchmarks measure wall time on purpose
    let started = std::time::Instant::now();
    let (delivered, end) = bare::pingpong(&case.net, Seed(1), case.virtual_time);
    let wall = started.elapsed().as_secs_f64();
    assert_eq!(end, case.virtual_time, "the bare loop runs to the time limit");
    (delivered, wall)
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    let filter = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    let fixed = NetConfig { latency: Latency::constant(Duration::from_micros(50)), ..NetConfig::default() };
    let gossip_net = NetConfig {
        latency: Latency::Uniform { min: Duration::from_micros(500), max: Duration::from_millis(5) },
        loss: Probability::ratio(1, 100),
        ..NetConfig::default()
    };
    let profile = std::env::var_os("ENGINE_BENCH_PROFILE").is_some();
    let scale = if profile { 10_000_000 } else { 1_000_000_000 };
    let seconds = |s: u64| Time::from_nanos(s * scale);
    let cases = [
        Case {
            name: "pingpong",
            shape: Shape::PingPong,
            servers: 2,
            net: fixed.clone(),
            virtual_time: seconds(1_000),
            trace_to_file: false,
        },
        Case {
            name: "pingpong-trace",
            shape: Shape::PingPong,
            servers: 2,
            net: fixed,
            virtual_time: seconds(100),
            trace_to_file: true,
        },
        Case {
            name: "gossip5",
            shape: Shape::Gossip { period: Duration::from_millis(1) },
            servers: 5,
            net: gossip_net,
            virtual_time: seconds(200),
            trace_to_file: false,
        },
    ];
    let runs = if profile { 1 } else { 5 };
    // A name picks that workload alone; any other text, every workload containing it.
    let exact = filter.as_deref().is_some_and(|f| cases.iter().any(|c| c.name == f));
    let chosen = |c: &&Case| match filter.as_deref() {
        None => true,
        Some(f) if exact => c.name == f,
        Some(f) => c.name.contains(f),
    };
    for case in cases.iter().filter(chosen) {
        let with_bare = case.name == "pingpong";
        let mut rates = Vec::new();
        let mut speeds = Vec::new();
        let mut bare_rates = Vec::new();
        let mut bare_speeds = Vec::new();
        for _ in 0..runs {
            let (report, wall) = run(case, case.virtual_time);
            rates.push(report.net.delivered as f64 / wall);
            speeds.push(report.time.as_nanos() as f64 / 1e9 / wall);
            if with_bare {
                let (delivered, bare_wall) = run_bare(case);
                assert_eq!(delivered, report.net.delivered, "the bare loop delivers as many messages");
                bare_rates.push(delivered as f64 / bare_wall);
                bare_speeds.push(case.virtual_time.as_nanos() as f64 / 1e9 / bare_wall);
            }
        }
        let rate = median(rates);
        println!(
            "bench {} msgs_per_s={:.0} virt_per_wall={:.1} peak_rss_mb={:.1}",
            case.name,
            rate,
            median(speeds),
            peak_rss_mb()
        );
        if with_bare {
            let bare_rate = median(bare_rates);
            let bare_speed = median(bare_speeds);
            println!("bench pingpong-bare msgs_per_s={bare_rate:.0} virt_per_wall={bare_speed:.1}");
            println!("bench pingpong ratio_to_bare={:.2}", rate / bare_rate);
        }
    }
    let _ = std::fs::remove_file(trace_path());
    if filter.is_some() {
        return;
    }
    let before = peak_rss_mb();
    let long = Time::from_nanos(cases[0].virtual_time.as_nanos() * 10);
    let (report, _) = run(&cases[0], long);
    println!(
        "memory pingpong virtual_s={} delivered={} peak_rss_mb_before={before:.1} peak_rss_mb_after={:.1}",
        report.time.as_nanos() / 1_000_000_000,
        report.net.delivered,
        peak_rss_mb()
    );
}
