//! Engine behaviour seen from outside: each fault's effect in the trace,
//! determinism, limits, panics and client timeouts.

use serde::Serialize;
use serde_json::Value as Json;
use sim_core::{
    Client, Cluster, Context, Cut, Duration, Fault, FaultSchedule, Latency, Limits, NetConfig, Node, NodeId,
    Op, OpId, Outcome, Pacing, Probability, Protocol, RecordType, RunEnd, Script, Seed, Sim, Time, TimerId,
    TraceSink, Value,
};

/// A probe protocol: every server pings every other server every 10ms,
/// counts its boots in storage, and can be told to misbehave.
#[derive(Clone, Default)]
struct Probe {
    sync_boots: bool,
    panic_on_ping: Option<u32>,
    flood: bool,
    /// Marks coverage probes: "rebooted", "ping-received", "reply-received".
    probes: bool,
}

#[derive(Clone, Debug, Hash, Serialize)]
enum Msg {
    Ping(u64),
    Echo(u64),
    Reply(u64),
}

#[derive(Clone, Debug, Hash, Serialize)]
struct Tick;

#[derive(Default)]
struct ProbeServer {
    config: Probe,
    sent: u64,
    boots: u64,
    pings: Vec<(Time, NodeId)>,
    ticks: Vec<Time>,
}

impl Node<Probe> for ProbeServer {
    fn on_start(&mut self, ctx: &mut Context<'_, Probe>) {
        self.boots = ctx.storage().get::<u64>("boots").unwrap().unwrap_or(0) + 1;
        ctx.storage().put("boots", &self.boots);
        if self.config.probes && self.boots > 1 {
            ctx.probe("rebooted");
        }
        if self.config.sync_boots {
            ctx.storage().sync();
        }
        ctx.set_timer(Duration::from_millis(10), Tick);
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Probe>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Ping(_) => {
                if self.config.panic_on_ping == Some(ctx.id().0) {
                    panic!("probe told to panic at {}", ctx.now());
                }
                self.pings.push((ctx.now(), from));
                if self.config.probes {
                    ctx.probe("ping-received");
                }
            }
            Msg::Echo(n) => ctx.send(from, Msg::Reply(n)),
            Msg::Reply(_) => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Probe>, _id: TimerId, _tick: Tick) {
        self.ticks.push(ctx.now());
        self.sent += 1;
        ctx.broadcast(Msg::Ping(self.sent));
        if self.config.flood {
            ctx.broadcast(Msg::Ping(self.sent));
        }
        ctx.set_timer(Duration::from_millis(10), Tick);
    }
}

/// Sends each operation to server 0 as an Echo and completes on the Reply.
#[derive(Default)]
struct EchoClient {
    pending: Option<OpId>,
    probes: bool,
}

impl Client<Probe> for EchoClient {
    fn on_invoke(&mut self, ctx: &mut Context<'_, Probe>, id: OpId, op: Op) {
        self.pending = Some(id);
        ctx.send(NodeId(0), Msg::Echo(op.value.as_int().unwrap_or(0) as u64));
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Probe>, _from: NodeId, msg: Msg) {
        if let (Msg::Reply(n), Some(id)) = (msg, self.pending.take()) {
            if self.probes {
                ctx.probe("reply-received");
            }
            ctx.complete(id, Outcome::Ok(Value::Int(n as i64)));
        }
    }

    fn on_timer(&mut self, _ctx: &mut Context<'_, Probe>, _id: TimerId, _tick: Tick) {}
}

impl Protocol for Probe {
    type Msg = Msg;
    type Timer = Tick;
    type Server = ProbeServer;
    type Client = EchoClient;

    fn server(&self, _id: NodeId, _cluster: &Cluster) -> ProbeServer {
        ProbeServer { config: self.clone(), ..ProbeServer::default() }
    }

    fn client(&self, _id: NodeId, _cluster: &Cluster) -> EchoClient {
        EchoClient { pending: None, probes: self.probes }
    }
}

fn ms(n: u64) -> Time {
    Time::from_nanos(n * 1_000_000)
}

fn limits(until: Time) -> Limits {
    Limits { time_max: Some(until), ..Limits::default() }
}

/// Runs the probe until `until` with a kept trace; returns the sim and the trace events.
fn run_probe(probe: Probe, servers: usize, faults: FaultSchedule, until: Time) -> (Sim<Probe>, Vec<Json>) {
    let mut sim = Sim::builder(probe, Seed(1))
        .servers(servers)
        .faults(faults)
        .limits(limits(until))
        .trace(TraceSink::Memory(Vec::new()))
        .build()
        .unwrap();
    sim.run_until(until);
    let report = sim.report();
    let text = String::from_utf8(report.trace.unwrap()).unwrap();
    let events = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    (sim, events)
}

fn of_kind<'a>(events: &'a [Json], kind: &str) -> impl Iterator<Item = &'a Json> {
    let kind = kind.to_string();
    events.iter().filter(move |e| e["ev"] == kind.as_str())
}

fn node(e: &Json, field: &str) -> u32 {
    e[field].as_u64().unwrap() as u32
}

fn t(e: &Json) -> Time {
    Time::from_nanos(e["t"].as_u64().unwrap())
}

#[test]
fn crash_loses_unsynced_writes_and_restart_reads_durable_state() {
    let faults = FaultSchedule::new()
        .at(ms(50), Fault::Crash { node: NodeId(1) })
        .at(ms(80), Fault::Restart { node: NodeId(1) })
        .at(ms(120), Fault::Crash { node: NodeId(1) })
        .at(ms(150), Fault::Restart { node: NodeId(1) });

    // Without sync, each boot's write is lost, so the node always thinks it is booting for the first time.
    let (sim, events) = run_probe(Probe::default(), 2, faults.clone(), ms(200));
    assert_eq!(sim.server(NodeId(1)).unwrap().boots, 1);
    let losses: Vec<&Json> = of_kind(&events, "storage-loss").collect();
    assert_eq!(losses.len(), 2);
    assert!(losses.iter().all(|e| node(e, "node") == 1 && e["lost_writes"] == 1));

    // With sync, boots accumulate across crashes.
    let probe = Probe { sync_boots: true, ..Probe::default() };
    let (sim, events) = run_probe(probe, 2, faults, ms(200));
    assert_eq!(sim.server(NodeId(1)).unwrap().boots, 3);
    assert_eq!(of_kind(&events, "storage-loss").count(), 0);
}

#[test]
fn crashed_node_loses_timers_and_incoming_messages() {
    let faults = FaultSchedule::new()
        .at(ms(35), Fault::Crash { node: NodeId(1) })
        .at(ms(105), Fault::Restart { node: NodeId(1) });
    let (sim, events) = run_probe(Probe::default(), 2, faults, ms(200));
    let down_drops: Vec<Time> = of_kind(&events, "drop").filter(|e| e["reason"] == "down").map(t).collect();
    assert!(!down_drops.is_empty());
    assert!(down_drops.iter().all(|&at| at > ms(35) && at < ms(105)), "{down_drops:?}");
    let ticks_while_down =
        of_kind(&events, "timer").filter(|e| node(e, "node") == 1 && t(e) > ms(35) && t(e) < ms(105)).count();
    assert_eq!(ticks_while_down, 0);
    // The restarted node is a fresh object: its tick log starts after the restart.
    assert!(sim.server(NodeId(1)).unwrap().ticks.iter().all(|&at| at > ms(105)));
}

#[test]
fn split_drops_cross_group_messages_and_only_those() {
    let cut = Cut::Split { groups: vec![vec![NodeId(0), NodeId(1)], vec![NodeId(2)]] };
    let faults = FaultSchedule::new().at(ms(100), Fault::Partition { cut }).at(ms(200), Fault::Heal);
    let (_, events) = run_probe(Probe::default(), 3, faults, ms(300));
    let crosses = |e: &&Json| (node(e, "from") == 2) != (node(e, "to") == 2);
    let partition_drops: Vec<&Json> =
        of_kind(&events, "drop").filter(|e| e["reason"] == "partition").collect();
    assert!(!partition_drops.is_empty());
    assert!(partition_drops.iter().all(crosses), "only cross-group messages are dropped");
    assert!(partition_drops.iter().all(|e| t(e) >= ms(100) && t(e) < ms(200)));
    // Inside the majority, traffic flows throughout the partition.
    let inside =
        of_kind(&events, "deliver").filter(|e| !crosses(e) && t(e) > ms(110) && t(e) < ms(190)).count();
    assert!(inside > 0);
    // After the heal, cross-group messages arrive again.
    assert!(of_kind(&events, "deliver").any(|e| crosses(&e) && t(e) > ms(200)));
}

#[test]
fn one_way_cut_is_one_way() {
    let cut = Cut::OneWay { from: vec![NodeId(0)], to: vec![NodeId(1)] };
    let faults = FaultSchedule::new().at(ms(0), Fault::Partition { cut });
    let (sim, _) = run_probe(Probe::default(), 2, faults, ms(100));
    assert!(sim.server(NodeId(1)).unwrap().pings.is_empty(), "0 -> 1 is cut");
    assert!(!sim.server(NodeId(0)).unwrap().pings.is_empty(), "1 -> 0 still works");
}

#[test]
fn pause_defers_then_delivers_everything() {
    let faults = FaultSchedule::new()
        .at(ms(45), Fault::Pause { node: NodeId(1) })
        .at(ms(145), Fault::Resume { node: NodeId(1) });
    let (sim, events) = run_probe(Probe::default(), 2, faults, ms(200));
    let server = sim.server(NodeId(1)).unwrap();
    // Nothing is handled while paused...
    assert!(!server.pings.iter().any(|&(at, _)| at > ms(45) && at < ms(145)));
    assert!(!server.ticks.iter().any(|&at| at > ms(45) && at < ms(145)));
    // ...and everything that waited is handled at the resume, not dropped.
    let at_resume = server.pings.iter().filter(|&&(at, _)| at == ms(145)).count();
    assert!(at_resume >= 9, "pings delivered at resume: {at_resume}");
    assert!(server.ticks.contains(&ms(145)), "the deferred timer fires at resume");
    assert!(of_kind(&events, "defer").count() >= 10);
    assert_eq!(of_kind(&events, "drop").count(), 0);
}

#[test]
fn slow_node_delays_its_links_until_heal() {
    let faults =
        FaultSchedule::new().at(ms(0), Fault::Slow { node: NodeId(1), factor: 10 }).at(ms(100), Fault::Heal);
    let (sim, _) = run_probe(Probe::default(), 3, faults, ms(200));
    let from0 =
        |at: Time| sim.server(NodeId(1)).unwrap().pings.iter().any(|&(p, from)| p == at && from == NodeId(0));
    // Default latency is 1ms; slowed, the ping sent at 10ms arrives at 20ms.
    assert!(from0(ms(20)) && !from0(ms(11)));
    // After the heal, a ping sent at 110ms arrives at 111ms.
    assert!(from0(ms(111)));
}

#[test]
fn clock_jump_moves_only_the_local_clock() {
    #[derive(Clone)]
    struct Clocky;
    #[derive(Default)]
    struct ClockNode(Vec<(Time, Time)>);
    impl Node<Clocky> for ClockNode {
        fn on_start(&mut self, ctx: &mut Context<'_, Clocky>) {
            ctx.set_timer(Duration::from_millis(10), ());
        }
        fn on_message(&mut self, _: &mut Context<'_, Clocky>, _: NodeId, _: ()) {}
        fn on_timer(&mut self, ctx: &mut Context<'_, Clocky>, _: TimerId, _: ()) {
            self.0.push((ctx.now(), ctx.clock()));
            ctx.set_timer(Duration::from_millis(10), ());
        }
    }
    impl Client<Clocky> for ClockNode {
        fn on_invoke(&mut self, _: &mut Context<'_, Clocky>, _: OpId, _: Op) {}
        fn on_message(&mut self, _: &mut Context<'_, Clocky>, _: NodeId, _: ()) {}
        fn on_timer(&mut self, _: &mut Context<'_, Clocky>, _: TimerId, _: ()) {}
    }
    impl Protocol for Clocky {
        type Msg = ();
        type Timer = ();
        type Server = ClockNode;
        type Client = ClockNode;
        fn server(&self, _: NodeId, _: &Cluster) -> ClockNode {
            ClockNode::default()
        }
        fn client(&self, _: NodeId, _: &Cluster) -> ClockNode {
            ClockNode::default()
        }
    }
    let faults = FaultSchedule::new().at(ms(25), Fault::ClockJump { node: NodeId(0), offset: 5_000_000_000 });
    let mut sim =
        Sim::builder(Clocky, Seed(0)).servers(2).faults(faults).limits(limits(ms(50))).build().unwrap();
    sim.run();
    let jumped = &sim.server(NodeId(0)).unwrap().0;
    assert_eq!(jumped[0], (ms(10), ms(10)));
    assert_eq!(jumped[2], (ms(30), ms(5030)));
    assert!(sim.server(NodeId(1)).unwrap().0.iter().all(|(now, clock)| now == clock));
}

#[test]
fn same_seed_same_hash_and_different_seeds_differ() {
    let run = |seed: u64| {
        let net = NetConfig {
            latency: Latency::Exponential { mean: Duration::from_millis(2), min: Duration::from_micros(100) },
            loss: Probability::ratio(1, 20),
            duplicate: Probability::ratio(1, 50),
            fifo: false,
        };
        let nemesis = sim_core::Nemesis::new(
            sim_core::NemesisKind::ANY_SERVER.to_vec(),
            Duration::from_millis(100),
            Duration::from_millis(100),
            ms(900),
        );
        let mut sim = Sim::builder(Probe { sync_boots: true, ..Probe::default() }, Seed(seed))
            .servers(5)
            .network(net)
            .nemesis(nemesis)
            .limits(limits(ms(1000)))
            .build()
            .unwrap();
        let report = sim.run();
        (report.trace_hash, report.events)
    };
    let hashes: Vec<(u64, u64)> = (0..6).map(run).collect();
    for (seed, first) in hashes.iter().enumerate() {
        assert_eq!(*first, run(seed as u64), "seed={seed} replays identically");
    }
    let mut distinct: Vec<u64> = hashes.iter().map(|h| h.0).collect();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), hashes.len(), "different seeds give different traces");
}

#[test]
fn probes_count_hits_with_the_first_time_and_node() {
    let mut faults = FaultSchedule::new();
    faults.push(ms(35), Fault::Crash { node: NodeId(2) });
    faults.push(ms(52), Fault::Restart { node: NodeId(2) });
    let probe = Probe { sync_boots: true, probes: true, ..Probe::default() };
    let (sim, _) = run_probe(probe, 3, faults.clone(), ms(100));
    let pings: usize = (0..3).map(|n| sim.server(NodeId(n)).unwrap().pings.len()).sum();
    let probes = sim.probes();
    let reboot = probes.get("rebooted").expect("n2 restarted");
    assert_eq!((reboot.count, reboot.first, reboot.node), (1, ms(52), NodeId(2)));
    // n2's record of the pings it had before its crash went with it; the probe's count did not.
    assert!(probes.get("ping-received").unwrap().count > pings as u64);
    assert_eq!(probes.get("reply-received"), None, "no clients, no replies");
    let names: Vec<&str> = probes.hits().iter().map(|h| h.name).collect();
    assert_eq!(names, ["ping-received", "rebooted"], "in order of first hit");
    let (plain, _) = run_probe(Probe { sync_boots: true, ..Probe::default() }, 3, faults, ms(100));
    assert_eq!(plain.trace_hash(), sim.trace_hash());
    assert!(plain.probes().is_empty());
}

#[test]
fn panicking_handler_ends_the_run_with_node_event_and_seed() {
    let probe = Probe { panic_on_ping: Some(2), ..Probe::default() };
    let mut sim = Sim::builder(probe, Seed(77)).servers(3).limits(limits(ms(100))).build().unwrap();
    let report = sim.run();
    assert_eq!(report.seed, Seed(77));
    let RunEnd::Panic { node, event, message } = &report.end else { panic!("end={:?}", report.end) };
    assert_eq!(*node, NodeId(2));
    assert!(event.starts_with("message mid="), "event={event}");
    assert!(message.contains("probe told to panic"), "message={message}");
    assert_eq!(report.time, ms(11));
}

#[test]
fn limits_end_runs_instead_of_hanging() {
    let mut sim = Sim::builder(Probe::default(), Seed(0))
        .servers(3)
        .limits(Limits { events_max: 500, time_max: Some(ms(10_000)), ..Limits::default() })
        .build()
        .unwrap();
    let report = sim.run();
    assert!(
        matches!(&report.end, RunEnd::Limit { limit, .. } if limit == "events_max=500"),
        "{:?}",
        report.end
    );
    assert_eq!(report.events, 500);

    let mut sim = Sim::builder(Probe { flood: true, ..Probe::default() }, Seed(0))
        .servers(3)
        .limits(Limits { sends_per_call_max: 3, time_max: Some(ms(100)), ..Limits::default() })
        .build()
        .unwrap();
    let report = sim.run();
    assert!(matches!(&report.end, RunEnd::Limit { node: Some(_), .. }), "{:?}", report.end);

    let mut sim = Sim::builder(Probe::default(), Seed(0)).servers(2).limits(limits(ms(55))).build().unwrap();
    let report = sim.run();
    assert_eq!(report.end, RunEnd::TimeLimit);
    assert_eq!(report.time, ms(55));
}

#[test]
fn client_timeout_records_info_and_retires_the_process() {
    // Server 0 is isolated from the start: the first operation times out.
    let faults = FaultSchedule::new()
        .at(ms(0), Fault::Partition { cut: Cut::Isolate { node: NodeId(0) } })
        .at(ms(100), Fault::Heal);
    let script = Script::new(vec![vec![Op::new("echo", 1), Op::new("echo", 2)]]);
    let pacing = Pacing {
        think: Latency::constant(Duration::from_millis(1)),
        duration: Duration::from_secs(1),
        timeout: Some(Duration::from_millis(100)),
    };
    let mut sim = Sim::builder(Probe::default(), Seed(3))
        .servers(1)
        .clients(1, script)
        .pacing(pacing)
        .faults(faults)
        .build()
        .unwrap();
    let report = sim.run();
    assert_eq!(report.end, RunEnd::Finished);
    let records = report.history.records();
    let summary: Vec<(u64, RecordType, Time)> = records.iter().map(|r| (r.process, r.kind, r.time)).collect();
    assert_eq!(
        summary,
        vec![
            (0, RecordType::Invoke, ms(0)),
            (0, RecordType::Info, ms(100)),
            (1, RecordType::Invoke, ms(101)),
            (1, RecordType::Ok, ms(103)),
        ]
    );
    assert_eq!(records[1].error.as_deref(), Some("timeout"));
    assert_eq!(records[3].value, Value::Int(2));
}

#[test]
fn a_paused_client_notices_its_timeout_only_when_it_resumes() {
    let faults = FaultSchedule::new()
        .at(ms(0), Fault::Partition { cut: Cut::Isolate { node: NodeId(0) } })
        .at(ms(10), Fault::Pause { node: NodeId(1) })
        .at(ms(300), Fault::Resume { node: NodeId(1) })
        .at(ms(300), Fault::Heal);
    let pacing = Pacing {
        think: Latency::constant(Duration::from_millis(1)),
        duration: Duration::from_millis(200),
        timeout: Some(Duration::from_millis(100)),
    };
    let mut sim = Sim::builder(Probe::default(), Seed(3))
        .servers(1)
        .clients(1, Script::new(vec![vec![Op::new("echo", 1)]]))
        .pacing(pacing)
        .faults(faults)
        .build()
        .unwrap();
    let report = sim.run();
    let records = report.history.records();
    assert_eq!(records.len(), 2);
    assert_eq!((records[1].kind, records[1].time), (RecordType::Info, ms(300)));
}

#[test]
fn bad_schedules_are_rejected_at_build() {
    let faults = FaultSchedule::new().at(ms(1), Fault::Crash { node: NodeId(9) });
    let error = Sim::builder(Probe::default(), Seed(0)).servers(3).faults(faults).build().err().unwrap();
    assert!(matches!(error, sim_core::BuildError::Fault { at, .. } if at == ms(1)), "{error}");
    let error = error.to_string();
    assert!(error.contains("n9") && error.contains("only 3 nodes"), "{error}");
    let faults = FaultSchedule::new().at(ms(1), Fault::Crash { node: NodeId(3) });
    let error = Sim::builder(Probe::default(), Seed(0))
        .servers(3)
        .clients(1, Script::default())
        .faults(faults)
        .build()
        .err()
        .unwrap()
        .to_string();
    assert!(error.contains("only servers"), "{error}");
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn node() -> impl Strategy<Value = NodeId> {
        (0u32..4).prop_map(NodeId)
    }

    fn fault() -> impl Strategy<Value = Fault> {
        prop_oneof![
            (0u32..3).prop_map(|n| Fault::Crash { node: NodeId(n) }),
            (0u32..3).prop_map(|n| Fault::Restart { node: NodeId(n) }),
            node().prop_map(|node| Fault::Pause { node }),
            node().prop_map(|node| Fault::Resume { node }),
            node().prop_map(|node| Fault::Partition { cut: Cut::Isolate { node } }),
            (node(), node())
                .prop_map(|(a, b)| Fault::Partition { cut: Cut::OneWay { from: vec![a], to: vec![b] } }),
            Just(Fault::Heal),
            (node(), 2u64..20).prop_map(|(node, factor)| Fault::Slow { node, factor }),
        ]
    }

    fn schedule() -> impl Strategy<Value = FaultSchedule> {
        proptest::collection::vec((0u64..400, fault()), 0..12).prop_map(|faults| {
            let mut schedule = FaultSchedule::new();
            for (at, fault) in faults {
                schedule.push(ms(at), fault);
            }
            // Repair everything before the end, so every client can finish.
            for n in 0..4 {
                schedule.push(ms(450), Fault::Resume { node: NodeId(n) });
            }
            for n in 0..3 {
                schedule.push(ms(450), Fault::Restart { node: NodeId(n) });
            }
            schedule.push(ms(450), Fault::Heal);
            schedule
        })
    }

    fn run(seed: u64, schedule: FaultSchedule) -> sim_core::RunReport {
        run_with(Probe { sync_boots: true, ..Probe::default() }, seed, schedule)
    }

    fn run_with(probe: Probe, seed: u64, schedule: FaultSchedule) -> sim_core::RunReport {
        let ops = (0..3).map(|c| (0..20).map(|i| Op::new("echo", c * 100 + i)).collect()).collect();
        let pacing = Pacing {
            think: Latency::Uniform { min: Duration::ZERO, max: Duration::from_millis(20) },
            duration: Duration::from_millis(500),
            timeout: Some(Duration::from_millis(50)),
        };
        let net = NetConfig {
            latency: Latency::Exponential { mean: Duration::from_millis(3), min: Duration::ZERO },
            loss: Probability::ratio(1, 20),
            duplicate: Probability::ratio(1, 20),
            fifo: false,
        };
        Sim::builder(probe, Seed(seed))
            .servers(3)
            .clients(3, Script::new(ops))
            .pacing(pacing)
            .network(net)
            .faults(schedule)
            .build()
            .unwrap()
            .run()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Any seed and any fault schedule: the run replays exactly, ends
        /// normally, and its history keeps Jepsen's rules, every operation
        /// completed exactly once.
        #[test]
        fn runs_replay_and_histories_are_well_formed(seed in any::<u64>(), schedule in schedule()) {
            let first = run(seed, schedule.clone());
            let second = run(seed, schedule);
            prop_assert_eq!(first.trace_hash, second.trace_hash);
            prop_assert_eq!(&first.history, &second.history);
            prop_assert_eq!(&first.end, &RunEnd::Finished);
            let ops = first.history.operations().unwrap();
            prop_assert!(ops.iter().all(|op| op.complete_index.is_some()), "every operation completes");
            let invokes = first.history.records().iter().filter(|r| r.kind == RecordType::Invoke).count();
            prop_assert_eq!(invokes * 2, first.history.len());
        }

        /// Coverage probes observe and never act: the same seed and schedule
        /// give the same trace with probes marked as without.
        #[test]
        fn probes_never_change_the_run(seed in any::<u64>(), schedule in schedule()) {
            let plain = run(seed, schedule.clone());
            let probed = run_with(Probe { sync_boots: true, probes: true, ..Probe::default() }, seed, schedule);
            prop_assert_eq!(plain.trace_hash, probed.trace_hash);
            prop_assert_eq!(&plain.history, &probed.history);
            prop_assert!(plain.probes.is_empty());
            // Every ok came from a reply; a reply to an operation already timed out is ignored.
            let replies = probed.probes.get("reply-received").map_or(0, |hit| hit.count);
            let kind = |k| probed.history.records().iter().filter(|r| r.kind == k).count() as u64;
            prop_assert!(replies >= kind(RecordType::Ok), "replies={replies}");
            prop_assert!(replies <= kind(RecordType::Ok) + kind(RecordType::Info), "replies={replies}");
        }
    }
}
