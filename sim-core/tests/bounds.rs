//! What the builder refuses before it allocates (cluster size, memory, a
//! nemesis that would never stop drawing) and how a panic is attributed:
//! to a simulated node (inside a handler or an invariant) or to the engine.

use std::sync::atomic::{AtomicU8, Ordering};

use serde::Serialize;
use sim_core::{
    BuildError, Client, Cluster, ClusterView, Context, Duration, Invariant, Limits, Nemesis, NemesisKind,
    Node, NodeId, Op, OpId, Protocol, RunEnd, Seed, Sim, Time, TimerId, in_handler,
};

/// A protocol whose nodes do nothing but can be told to panic, and whose
/// invariant can be told to panic too.
#[derive(Clone, Copy, Default)]
struct Quiet {
    panic_on_start: bool,
    panic_in_invariant: bool,
}

#[derive(Clone, Debug, Hash, Serialize)]
struct Nothing;

struct QuietServer {
    panic_on_start: bool,
    saw_handler: bool,
}

impl Node<Quiet> for QuietServer {
    fn on_start(&mut self, ctx: &mut Context<'_, Quiet>) {
        self.saw_handler = in_handler();
        assert!(!self.panic_on_start, "marker-4f1c: node {} told to panic", ctx.id());
        ctx.set_timer(Duration::from_millis(1), Nothing);
    }
    fn on_message(&mut self, _: &mut Context<'_, Quiet>, _: NodeId, _: Nothing) {}
    fn on_timer(&mut self, _: &mut Context<'_, Quiet>, _: TimerId, _: Nothing) {}
}

struct QuietClient;

impl Client<Quiet> for QuietClient {
    fn on_invoke(&mut self, _: &mut Context<'_, Quiet>, _: OpId, _: Op) {}
    fn on_message(&mut self, _: &mut Context<'_, Quiet>, _: NodeId, _: Nothing) {}
    fn on_timer(&mut self, _: &mut Context<'_, Quiet>, _: TimerId, _: Nothing) {}
}

struct Panicky;

impl Invariant<Quiet> for Panicky {
    fn name(&self) -> &str {
        "panicky"
    }
    fn check(&mut self, _: &ClusterView<'_, Quiet>) -> Result<(), String> {
        panic!("marker-4f1c: invariant told to panic");
    }
}

impl Protocol for Quiet {
    type Msg = Nothing;
    type Timer = Nothing;
    type Server = QuietServer;
    type Client = QuietClient;
    fn server(&self, _: NodeId, _: &Cluster) -> QuietServer {
        QuietServer { panic_on_start: self.panic_on_start, saw_handler: false }
    }
    fn client(&self, _: NodeId, _: &Cluster) -> QuietClient {
        QuietClient
    }
    fn invariants(&self) -> Vec<Box<dyn Invariant<Self>>> {
        if self.panic_in_invariant { vec![Box::new(Panicky)] } else { Vec::new() }
    }
}

fn build(servers: usize) -> Result<Sim<Quiet>, BuildError> {
    Sim::builder(Quiet::default(), Seed(1)).servers(servers).build()
}

fn nemesis(interval: Duration, duration: Duration, stop: Time) -> Nemesis {
    Nemesis::new(NemesisKind::ANY_SERVER.to_vec(), interval, duration, stop)
}

fn build_with(nemesis: Nemesis) -> Result<Sim<Quiet>, BuildError> {
    let limits = Limits { time_max: Some(Time::from_nanos(10_000_000_000)), ..Limits::default() };
    Sim::builder(Quiet::default(), Seed(1)).servers(5).nemesis(nemesis).limits(limits).build()
}

#[test]
fn a_cluster_beyond_the_ids_is_an_error() {
    let Err(err) = Sim::builder(Quiet::default(), Seed(1))
        .servers(1 << 32)
        .clients(0, sim_core::Script::new(vec![]))
        .build()
    else {
        panic!("built")
    };
    assert!(matches!(err, BuildError::TooManyNodes { servers: 4294967296, clients: 0, .. }), "{err}");
    let err = Cluster::try_new(usize::MAX, 1).unwrap_err();
    assert!(err.to_string().contains("too many nodes"), "{err}");
}

#[test]
fn a_cluster_beyond_the_memory_limit_is_refused_before_allocating() {
    let err = build(100_000).err().expect("refused");
    let BuildError::Memory { nodes, estimate, limit, advice } = &err else { panic!("{err}") };
    assert_eq!((*nodes, limit.0), (100_000, 2 << 30));
    assert!(estimate.0 > 100 << 30, "{err}");
    assert!(advice.contains("square of the node count"), "{err}");
    let many_clients = Sim::builder(Quiet::default(), Seed(1))
        .servers(3)
        .clients(10_000, sim_core::Script::new(vec![]))
        .build();
    assert!(matches!(many_clients, Err(BuildError::Memory { .. })));
    let raised = Limits { memory_max: 64 << 30, ..Limits::default() };
    let estimate_only = Sim::builder(Quiet::default(), Seed(1))
        .servers(100_000)
        .limits(raised)
        .build()
        .err()
        .expect("refused");
    assert!(matches!(estimate_only, BuildError::Memory { .. }), "the estimate exceeds 64 GiB too");
    assert!(build(64).is_ok(), "a normal cluster builds");
}

#[test]
fn an_invalid_think_time_is_refused() {
    let think = sim_core::Latency::Uniform { min: Duration::from_millis(5), max: Duration::from_millis(1) };
    let pacing = sim_core::Pacing { think, ..sim_core::Pacing::default() };
    let err =
        Sim::builder(Quiet::default(), Seed(1)).servers(1).pacing(pacing).build().err().expect("refused");
    assert!(matches!(err, BuildError::Latency { setting: "think time", .. }), "{err}");
}

#[test]
fn a_nemesis_that_never_moves_on_is_refused() {
    let err = build_with(nemesis(Duration::ZERO, Duration::ZERO, Time::MAX)).err().expect("refused");
    assert!(matches!(&err, BuildError::Nemesis(m) if m.contains("both 0s")), "{err}");
    // A 1ns episode with no quiet time: 100,000 episodes before the limit.
    let err = build_with(nemesis(Duration::ZERO, Duration::from_nanos(1), Time::MAX)).err().expect("refused");
    assert!(matches!(&err, BuildError::Nemesis(m) if m.contains("100000 episodes")), "{err}");
}

#[test]
fn a_nemesis_is_drawn_only_up_to_the_time_limit() {
    // A stop far past the time limit: episodes are drawn to the limit only.
    let sim = build_with(nemesis(Duration::from_millis(100), Duration::from_millis(100), Time::MAX)).unwrap();
    let schedule = sim.schedule();
    assert!(schedule.len() > 20, "faults={}", schedule.len());
    let starts = schedule.entries().iter().filter(|e| !e.fault.is_repair());
    assert!(starts.clone().all(|e| e.at < Time::from_nanos(10_000_000_000)));
    // Huge durations saturate instead of overflowing into a reversed range.
    let sim = build_with(nemesis(Duration::MAX, Duration::MAX, Time::MAX)).unwrap();
    assert!(sim.schedule().len() <= 2 * 5);
    let mut clock = nemesis(Duration::from_millis(1), Duration::from_millis(1), Time::MAX);
    clock.kinds = vec![NemesisKind::ClockJump];
    clock.clock_jump_max = Duration::MAX;
    assert!(build_with(clock).is_ok());
}

/// What the panic hook saw for panics carrying the marker: 1 outside a
/// handler, 2 inside one.
static SEEN: AtomicU8 = AtomicU8::new(0);

#[test]
fn a_panic_hook_tells_a_node_panic_from_an_engine_panic() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let text = info.payload().downcast_ref::<String>().cloned().unwrap_or_default();
        let text = info.payload().downcast_ref::<&str>().map_or(text, |s| s.to_string());
        if text.contains("marker-4f1c") {
            SEEN.store(if in_handler() { 2 } else { 1 }, Ordering::SeqCst);
        } else {
            previous(info);
        }
    }));
    let node = Quiet { panic_on_start: true, ..Quiet::default() };
    let report = Sim::builder(node, Seed(1)).servers(1).build().unwrap().run();
    assert!(matches!(report.end, RunEnd::Panic { node: NodeId(0), .. }), "{}", report.end);
    assert_eq!(SEEN.swap(0, Ordering::SeqCst), 2, "a handler's panic is a node's");

    let invariant = Quiet { panic_in_invariant: true, ..Quiet::default() };
    let report = Sim::builder(invariant, Seed(1)).servers(1).build().unwrap().run();
    let RunEnd::Invariant { name, message, .. } = &report.end else { panic!("{}", report.end) };
    assert_eq!(name, "panicky");
    assert!(message.starts_with("the invariant panicked: marker-4f1c"), "{message}");
    assert_eq!(SEEN.swap(0, Ordering::SeqCst), 2, "an invariant's panic is the protocol's");

    let outside = std::panic::catch_unwind(|| panic!("marker-4f1c: engine bug"));
    assert!(outside.is_err());
    assert_eq!(SEEN.swap(0, Ordering::SeqCst), 1, "elsewhere it is not a node's");
    assert!(!in_handler());
    let _ = std::panic::take_hook();
}

#[test]
fn handlers_run_inside_the_handler_scope() {
    let mut sim = build(2).unwrap();
    sim.run_until(Time::from_nanos(1));
    assert!(sim.server(NodeId(0)).unwrap().saw_handler);
    assert!(!in_handler());
}
