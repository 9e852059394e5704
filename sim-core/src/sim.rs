//! The simulation: an event queue ordered by (time, insertion sequence) and
//! the loop that applies network decisions, faults and handler effects.

use std::panic::{AssertUnwindSafe, catch_unwind};

use serde::Serialize;

use crate::build::{BuildError, Footprint};
use crate::election::OnElection;
use crate::fault::{Fault, FaultSchedule, Nemesis};
use crate::handler::HandlerScope;
use crate::history::{History, Op, Outcome, Record, RecordType, Value};
use crate::invariant::{ClusterView, Invariant};
use crate::net::{DropReason, NetConfig, Network, Routing, Topology};
use crate::node::{Client, Cluster, Context, Effects, Node, NodeId, OpId, Protocol, TimerId};
use crate::probe::Probes;
use crate::queue::Queue;
use crate::rng::{Probability, Seed, SimRng, Stream};
use crate::storage::Storage;
use crate::time::{Duration, Time};
use crate::timers::Pending;
use crate::trace::{TraceEvent, TraceSink, Tracer};
use crate::workload::{Pacing, Workload};

/// Bounds on a run; reaching one ends the run with [`RunEnd::Limit`] or [`RunEnd::TimeLimit`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Limits {
    /// Most events handled (as [`RunReport::events`] counts them).
    pub events_max: u64,
    /// Latest virtual time; by default the workload's duration plus a minute.
    pub time_max: Option<Time>,
    /// Most events waiting in the queue (messages in flight, timers, faults).
    pub queued_max: usize,
    /// Most timers pending on one node.
    pub timers_per_node_max: usize,
    /// Most messages one handler call may send.
    pub sends_per_call_max: usize,
    /// Most bytes the builder's estimate of the run may reach (nodes, and
    /// per-link state that grows with the square of the node count);
    /// `build()` refuses beyond it. 2 GiB by default.
    pub memory_max: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            events_max: 50_000_000,
            time_max: None,
            queued_max: 1_000_000,
            timers_per_node_max: 10_000,
            sends_per_call_max: 100_000,
            memory_max: 2 << 30,
        }
    }
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "end", rename_all = "kebab-case")]
pub enum RunEnd {
    /// The workload finished and every operation was resolved.
    Finished,
    /// Virtual time reached the limit.
    TimeLimit,
    /// Nothing was left to happen.
    Quiescent,
    /// A bound was exceeded (events, queue, timers, sends per call).
    Limit {
        /// Which bound.
        limit: String,
        /// The node responsible, if one is.
        node: Option<NodeId>,
    },
    /// A handler panicked.
    Panic {
        /// The node whose handler panicked.
        node: NodeId,
        /// The event it was handling.
        event: String,
        /// The panic message.
        message: String,
    },
    /// A protocol invariant broke.
    Invariant {
        /// The invariant's name.
        name: String,
        /// The node whose step broke it, if known.
        node: Option<NodeId>,
        /// The invariant's explanation.
        message: String,
    },
}

impl RunEnd {
    /// Whether the run ended normally (finished, quiescent or out of time).
    pub fn is_normal(&self) -> bool {
        matches!(self, RunEnd::Finished | RunEnd::TimeLimit | RunEnd::Quiescent)
    }
}

impl std::fmt::Display for RunEnd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunEnd::Finished => write!(f, "finished"),
            RunEnd::TimeLimit => write!(f, "time limit reached"),
            RunEnd::Quiescent => write!(f, "quiescent (nothing left to happen)"),
            RunEnd::Limit { limit, node: Some(node) } => write!(f, "limit exceeded: {limit} (by {node})"),
            RunEnd::Limit { limit, node: None } => write!(f, "limit exceeded: {limit}"),
            RunEnd::Panic { node, event, message } => {
                write!(f, "{node} panicked handling {event}: {message}")
            }
            RunEnd::Invariant { name, node: Some(node), message } => {
                write!(f, "invariant {name} violated after a step of {node}: {message}")
            }
            RunEnd::Invariant { name, node: None, message } => {
                write!(f, "invariant {name} violated: {message}")
            }
        }
    }
}

/// Message counts for a run.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NetStats {
    /// Messages sent.
    pub sent: u64,
    /// Messages delivered (duplicates included).
    pub delivered: u64,
    /// Dropped by a partition.
    pub dropped_partition: u64,
    /// Lost at random.
    pub dropped_loss: u64,
    /// Arrived at a crashed node.
    pub dropped_down: u64,
    /// Extra copies the network made.
    pub duplicated: u64,
}

/// What a run did: how it ended, its counts, history, schedule and trace hash.
#[derive(Debug, Serialize)]
pub struct RunReport {
    /// The seed it ran with.
    pub seed: Seed,
    /// How it ended.
    pub end: RunEnd,
    /// Virtual time at the end.
    pub time: Time,
    /// Events the engine handled: deliveries and drops at a crashed node,
    /// timers fired, faults, invocations and operation timeouts, and
    /// events deferred at a paused node (again when they come back). A
    /// cancelled timer (or one of a node that crashed since it was set) is
    /// not an event: it is dropped when it comes due, unhandled and
    /// uncounted, and does not move the clock.
    pub events: u64,
    /// Hash of the whole trace.
    pub trace_hash: u64,
    /// Message counts.
    pub net: NetStats,
    /// The run's faults as they ran: first the `faults_applied` that
    /// applied, in order, each leader-aimed one as the server it hit (one
    /// still aimed at the leader found none and did nothing) and those the
    /// election trigger started among them; then the planned ones the run
    /// ended before. The applied part, as a plain schedule, gives the same run
    /// (unless a triggered fault shares its nanosecond with another event).
    pub schedule: FaultSchedule,
    /// How many of `schedule`'s first entries applied before the run ended.
    pub faults_applied: usize,
    /// The coverage probes protocol code reached ([`Context::probe`]).
    pub probes: Probes,
    /// The client history.
    #[serde(skip)]
    pub history: History,
    /// The trace as JSON lines, if it was kept in memory.
    #[serde(skip)]
    pub trace: Option<Vec<u8>>,
}

enum Event<P: Protocol> {
    Deliver { mid: u64, from: NodeId, to: NodeId, msg: P::Msg },
    Timer { node: NodeId, id: TimerId, timer: P::Timer },
    Fault(usize),
    Invoke { client: usize },
    Timeout { client: usize, op: OpId },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Up,
    Down,
    Paused,
}

enum Call<P: Protocol> {
    Start,
    Message { mid: u64, from: NodeId, msg: P::Msg },
    Timer(TimerId, P::Timer),
    Invoke(OpId, Op),
    Timeout(OpId),
}

/// What a handler call was about, kept cheaply in case it panics.
#[derive(Clone, Copy)]
enum CallSummary {
    Start,
    Message { mid: u64, from: NodeId },
    Timer(TimerId),
    Invoke(OpId),
    Timeout(OpId),
}

/// The node a handler call runs on.
enum Handler<'a, P: Protocol> {
    Server(&'a mut P::Server),
    Client(&'a mut P::Client),
}

impl<P: Protocol> Call<P> {
    /// Calls the handler method this call names; inlined, so a caller that
    /// builds a known call compiles to that one method.
    #[inline(always)]
    fn make(self, handler: Handler<'_, P>, ctx: &mut Context<'_, P>) {
        match handler {
            Handler::Server(server) => match self {
                Call::Start => server.on_start(ctx),
                Call::Message { from, msg, .. } => server.on_message(ctx, from, msg),
                Call::Timer(id, timer) => server.on_timer(ctx, id, timer),
                Call::Invoke(..) | Call::Timeout(_) => unreachable!("servers get no operations"),
            },
            Handler::Client(client) => match self {
                Call::Start => client.on_start(ctx),
                Call::Message { from, msg, .. } => client.on_message(ctx, from, msg),
                Call::Timer(id, timer) => client.on_timer(ctx, id, timer),
                Call::Invoke(id, op) => client.on_invoke(ctx, id, op),
                Call::Timeout(id) => client.on_timeout(ctx, id),
            },
        }
    }

    fn summary(&self) -> CallSummary {
        match self {
            Call::Start => CallSummary::Start,
            Call::Message { mid, from, .. } => CallSummary::Message { mid: *mid, from: *from },
            Call::Timer(id, _) => CallSummary::Timer(*id),
            Call::Invoke(id, _) => CallSummary::Invoke(*id),
            Call::Timeout(id) => CallSummary::Timeout(*id),
        }
    }
}

impl std::fmt::Display for CallSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallSummary::Start => write!(f, "start"),
            CallSummary::Message { mid, from } => write!(f, "message mid={mid} from {from}"),
            CallSummary::Timer(id) => write!(f, "timer {}", id.0),
            CallSummary::Invoke(id) => write!(f, "invoke of op {}", id.0),
            CallSummary::Timeout(id) => write!(f, "timeout of op {}", id.0),
        }
    }
}

struct ClientState {
    process: u64,
    current: Option<(OpId, Op)>,
    retired: bool,
}

/// What sending a message touches, borrowed apart from the effects being
/// applied, so the sends are drained in place.
struct Outbox<'a, P: Protocol> {
    now: Time,
    nodes: usize,
    tracer: &'a mut Tracer,
    net: &'a mut Network,
    rng: &'a mut SimRng,
    queue: &'a mut Queue<Event<P>>,
    stats: &'a mut NetStats,
    next_mid: &'a mut u64,
}

impl<P: Protocol> Outbox<'_, P> {
    /// Sends `msg` now: a trace event, the network's decision, and the
    /// delivery (and any duplicate) queued.
    #[inline]
    fn send(&mut self, from: NodeId, to: NodeId, msg: P::Msg) {
        let mid = *self.next_mid;
        *self.next_mid += 1;
        self.stats.sent += 1;
        let t = self.now;
        self.tracer.record::<P::Msg, P::Timer>(TraceEvent::Send { t, mid, from, to, msg: &msg });
        if to.index() >= self.nodes {
            let reason = DropReason::Down;
            self.tracer.record::<P::Msg, P::Timer>(TraceEvent::Drop { t, mid, from, to, reason });
            return;
        }
        match self.net.route(from, to, t, self.rng) {
            Routing::Dropped(reason) => {
                match reason {
                    DropReason::Partition => self.stats.dropped_partition += 1,
                    _ => self.stats.dropped_loss += 1,
                }
                self.tracer.record::<P::Msg, P::Timer>(TraceEvent::Drop { t, mid, from, to, reason });
            }
            Routing::Deliver { at, duplicate } => {
                if let Some(again) = duplicate {
                    self.stats.duplicated += 1;
                    self.tracer.record::<P::Msg, P::Timer>(TraceEvent::Duplicate { t, mid });
                    self.queue.push(again, Event::Deliver { mid, from, to, msg: msg.clone() });
                }
                self.queue.push(at, Event::Deliver { mid, from, to, msg });
            }
        }
    }
}

/// Builds a [`Sim`]: protocol, seed, cluster, network, faults, workload, limits.
pub struct SimBuilder<P: Protocol> {
    protocol: P,
    seed: Seed,
    servers: usize,
    clients: usize,
    net: NetConfig,
    topology: Option<Topology>,
    faults: FaultSchedule,
    nemesis: Option<Nemesis>,
    workload: Option<Box<dyn Workload>>,
    pacing: Pacing,
    limits: Limits,
    torn_writes: Probability,
    trace: TraceSink,
}

impl<P: Protocol> SimBuilder<P> {
    /// Number of servers (default 3).
    pub fn servers(mut self, count: usize) -> Self {
        self.servers = count;
        self
    }

    /// Number of clients and the workload they draw operations from.
    pub fn clients(mut self, count: usize, workload: impl Workload + 'static) -> Self {
        self.clients = count;
        self.workload = Some(Box::new(workload));
        self
    }

    /// Number of clients and an already boxed workload.
    pub fn clients_boxed(mut self, count: usize, workload: Box<dyn Workload>) -> Self {
        self.clients = count;
        self.workload = Some(workload);
        self
    }

    /// Think time, duration and timeout of client operations.
    pub fn pacing(mut self, pacing: Pacing) -> Self {
        self.pacing = pacing;
        self
    }

    /// Network latency, loss, duplication and ordering.
    pub fn network(mut self, net: NetConfig) -> Self {
        self.net = net;
        self
    }

    /// Places nodes in zones and racks.
    pub fn topology(mut self, topology: Topology) -> Self {
        self.topology = Some(topology);
        self
    }

    /// An explicit fault schedule.
    pub fn faults(mut self, faults: FaultSchedule) -> Self {
        self.faults = faults;
        self
    }

    /// A random nemesis, drawn from the seed's fault stream at build time
    /// up to the run's time limit (see [`Nemesis::draw`]).
    pub fn nemesis(mut self, nemesis: Nemesis) -> Self {
        self.nemesis = Some(nemesis);
        self
    }

    /// Chance that a crash tears the last unsynced write.
    pub fn torn_writes(mut self, p: Probability) -> Self {
        self.torn_writes = p;
        self
    }

    /// Run limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Where trace events go (by default only the hash is kept).
    pub fn trace(mut self, sink: TraceSink) -> Self {
        self.trace = sink;
        self
    }

    /// Builds the simulation. Fails, before allocating anything that grows
    /// with the cluster, if the cluster has more nodes than ids, the fault
    /// schedule names a node that does not exist or crashes a client, the
    /// latency or the nemesis is invalid (or its draw would not stop before
    /// the time limit within [`Nemesis::EPISODES_MAX`] episodes), or the
    /// run's estimated memory exceeds [`Limits::memory_max`].
    pub fn build(self) -> Result<Sim<P>, BuildError> {
        let nodes = Cluster::total(self.servers, self.clients)? as usize;
        self.footprint(nodes).check(self.limits.memory_max)?;
        let cluster = Cluster::try_new(self.servers, self.clients)?;
        let latency = |setting| move |reason| BuildError::Latency { setting, reason };
        self.net.latency.validate().map_err(latency("network latency"))?;
        self.pacing.think.validate().map_err(latency("think time"))?;
        let time_max =
            self.limits.time_max.unwrap_or(Time::ZERO + self.pacing.duration + Duration::from_secs(60));
        let mut fault_rng = SimRng::new(self.seed, Stream::Faults);
        let mut schedule = self.faults;
        if let Some(nemesis) = &self.nemesis {
            nemesis.validate().map_err(BuildError::Nemesis)?;
            let drawn = nemesis.draw(cluster.servers(), &mut fault_rng, time_max);
            if drawn.cut_short {
                return Err(BuildError::Nemesis(format!(
                    "drawing stopped after {} episodes before the time limit {time_max}: raise interval or duration, or bring stop closer",
                    drawn.episodes
                )));
            }
            schedule.merge(drawn.schedule);
        }
        validate_schedule(&schedule, &cluster)?;
        let on_election = self.nemesis.as_ref().and_then(|n| n.on_election.clone().map(|t| (t, n.stop)));
        let protocol = self.protocol;
        let servers = cluster.servers().iter().map(|&id| Some(protocol.server(id, &cluster))).collect();
        let clients = cluster.clients().iter().map(|&id| protocol.client(id, &cluster)).collect();
        let invariants = protocol.invariants();
        Ok(Sim {
            seed: self.seed,
            now: Time::ZERO,
            queue: Queue::new(),
            servers,
            clients,
            status: vec![Status::Up; nodes],
            backlog: (0..nodes).map(|_| Vec::new()).collect(),
            timers: vec![Pending::default(); nodes],
            clock_offsets: vec![0; nodes],
            rngs: (0..nodes).map(|i| SimRng::new(self.seed, Stream::Node(i as u32))).collect(),
            storages: vec![Storage::new(); nodes],
            net: Network::new(nodes, self.net, self.topology.as_ref()),
            net_rng: SimRng::new(self.seed, Stream::Network),
            fault_rng,
            workload: self.workload,
            workload_rng: SimRng::new(self.seed, Stream::Workload),
            client_state: (0..self.clients)
                .map(|i| ClientState { process: i as u64, current: None, retired: false })
                .collect(),
            clients_active: self.clients,
            pacing: self.pacing,
            limits: self.limits,
            time_max,
            torn_writes: self.torn_writes,
            schedule,
            schedule_applied: 0,
            triggered: Vec::new(),
            awaiting_successor: Vec::new(),
            ran: FaultSchedule::new(),
            aimed: Vec::new(),
            on_election,
            election_rng: SimRng::new(self.seed, Stream::Election),
            epoch_seen: None,
            history: History::new(),
            tracer: Tracer::new(self.trace),
            effects: Effects::new(),
            probes: Probes::new(),
            invariants,
            stats: NetStats::default(),
            next_mid: 0,
            next_op: 0,
            events: 0,
            end: None,
            started: false,
            cluster,
            protocol,
        })
    }
}

impl<P: Protocol> SimBuilder<P> {
    /// What a run of `nodes` nodes is estimated to hold.
    fn footprint(&self, nodes: usize) -> Footprint {
        let object = std::mem::size_of::<Option<P::Server>>().max(std::mem::size_of::<P::Client>());
        let tables = std::mem::size_of::<(Status, Vec<Event<P>>, Pending, i64, SimRng, Storage)>()
            + std::mem::size_of::<(u64, ClientState)>();
        let hops = if self.topology.is_some() { 4 } else { 1 };
        let hop = std::mem::size_of::<crate::net::Latency>() as u64;
        Footprint::new(nodes as u64, (object + tables) as u64, hops, hop, self.net.fifo)
    }
}

fn validate_schedule(schedule: &FaultSchedule, cluster: &Cluster) -> Result<(), BuildError> {
    let nodes = cluster.node_count();
    for entry in schedule.entries() {
        let error =
            |reason: String| BuildError::Fault { at: entry.at, fault: entry.fault.to_string(), reason };
        if let Some(node) = entry.fault.nodes().into_iter().find(|n| n.index() >= nodes && !n.is_leader_aim())
        {
            return Err(error(format!("names {node}, but there are only {nodes} nodes")));
        }
        if let Fault::Crash { node } | Fault::Restart { node } = &entry.fault
            && !cluster.is_server(*node)
            && !node.is_leader_aim()
        {
            return Err(error("only servers can crash and restart".into()));
        }
    }
    schedule.check_leader_aims().map_err(|(i, reason)| {
        let entry = &schedule.entries()[i];
        BuildError::Fault { at: entry.at, fault: entry.fault.to_string(), reason }
    })
}

/// A deterministic simulation of one protocol under one seed.
pub struct Sim<P: Protocol> {
    protocol: P,
    seed: Seed,
    cluster: Cluster,
    now: Time,
    queue: Queue<Event<P>>,
    servers: Vec<Option<P::Server>>,
    clients: Vec<P::Client>,
    status: Vec<Status>,
    backlog: Vec<Vec<Event<P>>>,
    timers: Vec<Pending>,
    clock_offsets: Vec<i64>,
    rngs: Vec<SimRng>,
    storages: Vec<Storage>,
    net: Network,
    net_rng: SimRng,
    fault_rng: SimRng,
    workload: Option<Box<dyn Workload>>,
    workload_rng: SimRng,
    client_state: Vec<ClientState>,
    clients_active: usize,
    pacing: Pacing,
    limits: Limits,
    time_max: Time,
    torn_writes: Probability,
    schedule: FaultSchedule,
    /// How many of `schedule`'s entries have applied (they apply in order).
    schedule_applied: usize,
    /// Faults the election trigger added during the run; `Event::Fault(i)`
    /// for `i` past the schedule's end names `triggered[i - schedule.len()]`,
    /// taken when it applies (a repair a successor brought forward does
    /// not apply again when its own time comes).
    triggered: Vec<Option<Fault>>,
    /// Triggered repairs that a successor's election brings forward: the
    /// event index of the repair, the leader its episode hit, and how long
    /// after the successor's win it applies.
    /// (never before its episode starts).
    awaiting_successor: Vec<(usize, NodeId, Duration, Time)>,
    /// Every fault applied so far, in order, as it ran: a leader-aimed one
    /// as the server it hit.
    ran: FaultSchedule,
    /// Leader-aimed faults not yet undone, oldest first: what the fault
    /// broke ([`Fault::breaks`]) and the server it hit (`None`: nobody).
    aimed: Vec<(&'static str, Option<NodeId>)>,
    /// The election trigger and the nemesis's `stop`, if the nemesis has one.
    on_election: Option<(OnElection, Time)>,
    election_rng: SimRng,
    /// The highest leadership epoch any server has claimed so far.
    epoch_seen: Option<u64>,
    history: History,
    tracer: Tracer,
    effects: Effects<P>,
    probes: Probes,
    invariants: Vec<Box<dyn Invariant<P>>>,
    stats: NetStats,
    next_mid: u64,
    next_op: u64,
    events: u64,
    end: Option<RunEnd>,
    started: bool,
}

impl<P: Protocol> Sim<P> {
    /// Starts building a simulation of `protocol` under `seed`.
    pub fn builder(protocol: P, seed: Seed) -> SimBuilder<P> {
        SimBuilder {
            protocol,
            seed,
            servers: 3,
            clients: 0,
            net: NetConfig::default(),
            topology: None,
            faults: FaultSchedule::new(),
            nemesis: None,
            workload: None,
            pacing: Pacing::default(),
            limits: Limits::default(),
            torn_writes: Probability::NEVER,
            trace: TraceSink::Hash,
        }
    }

    /// Runs to the end and reports.
    pub fn run(&mut self) -> RunReport {
        while self.step() {}
        self.report()
    }

    /// Runs every event up to and including virtual time `until`; returns
    /// false once the run has ended.
    pub fn run_until(&mut self, until: Time) -> bool {
        if !self.started {
            self.start();
        }
        while self.end.is_none() && self.peek_live().is_some_and(|time| time <= until) {
            self.step();
        }
        if self.end.is_none() && self.now < until {
            self.now = until.min(self.time_max);
        }
        self.end.is_none()
    }

    /// Processes one event; returns false once the run has ended.
    pub fn step(&mut self) -> bool {
        if !self.started {
            self.start();
        }
        if self.end.is_some() {
            return false;
        }
        let Some((time, event)) = self.pop_live() else {
            let end = if self.clients_active == 0 && !self.client_state.is_empty() {
                RunEnd::Finished
            } else {
                RunEnd::Quiescent
            };
            self.finish(end);
            return false;
        };
        if time > self.time_max {
            self.now = self.time_max;
            self.finish(RunEnd::TimeLimit);
            return false;
        }
        if self.events == self.limits.events_max {
            self.finish(RunEnd::Limit {
                limit: format!("events_max={}", self.limits.events_max),
                node: None,
            });
            return false;
        }
        self.now = time;
        self.events += 1;
        self.handle(event);
        if self.end.is_none() && self.clients_active == 0 && !self.client_state.is_empty() {
            self.finish(RunEnd::Finished);
        }
        self.end.is_none()
    }

    /// Pops the earliest event that still stands. A cancelled timer (or
    /// one of a node that crashed since it was set) is dropped unseen: it
    /// is not handled, not counted in [`RunReport::events`], and does not
    /// move the clock.
    #[inline]
    fn pop_live(&mut self) -> Option<(Time, Event<P>)> {
        loop {
            let (time, event) = self.queue.pop()?;
            if !is_dead(&self.timers, &event) {
                return Some((time, event));
            }
        }
    }

    /// When the earliest event that still stands is due; drops the
    /// cancelled timers ahead of it.
    fn peek_live(&mut self) -> Option<Time> {
        loop {
            let (time, event) = self.queue.peek()?;
            if !is_dead(&self.timers, event) {
                return Some(time);
            }
            self.queue.pop();
        }
    }

    fn start(&mut self) {
        self.started = true;
        for i in 0..self.schedule.len() {
            let at = self.schedule.entries()[i].at;
            self.push(at, Event::Fault(i));
        }
        for i in 0..self.cluster.node_count() {
            let node = NodeId(i as u32);
            self.tracer.record::<P::Msg, P::Timer>(TraceEvent::Start { t: self.now, node });
            self.dispatch(node, Call::Start);
        }
        for client in 0..self.client_state.len() {
            self.push(Time::ZERO, Event::Invoke { client });
        }
    }

    #[inline]
    fn push(&mut self, time: Time, event: Event<P>) {
        self.queue.push(time, event);
    }

    fn handle(&mut self, event: Event<P>) {
        match event {
            Event::Deliver { mid, from, to, msg } => self.deliver(mid, from, to, msg),
            Event::Timer { node, id, timer } => self.fire(node, id, timer),
            Event::Fault(index) => self.apply_fault(index),
            Event::Invoke { client } => self.invoke(client),
            Event::Timeout { client, op } => self.timeout(client, op),
        }
    }

    /// Defers `event` if `node` is paused; returns whether it did.
    fn defer_if_paused(&mut self, node: NodeId, event: Event<P>) -> Option<Event<P>> {
        if self.status[node.index()] == Status::Paused {
            self.tracer.record::<P::Msg, P::Timer>(TraceEvent::Defer { t: self.now, node });
            self.backlog[node.index()].push(event);
            None
        } else {
            Some(event)
        }
    }

    fn deliver(&mut self, mid: u64, from: NodeId, to: NodeId, msg: P::Msg) {
        match self.status[to.index()] {
            Status::Down => {
                self.stats.dropped_down += 1;
                let reason = DropReason::Down;
                self.tracer.record::<P::Msg, P::Timer>(TraceEvent::Drop {
                    t: self.now,
                    mid,
                    from,
                    to,
                    reason,
                });
            }
            Status::Paused => {
                let _ = self.defer_if_paused(to, Event::Deliver { mid, from, to, msg });
            }
            Status::Up => {
                self.stats.delivered += 1;
                self.tracer.record::<P::Msg, P::Timer>(TraceEvent::Deliver { t: self.now, mid, from, to });
                let summary = CallSummary::Message { mid, from };
                let call = Call::Message { mid, from, msg };
                self.call_handler(to, summary, |handler, ctx| call.make(handler, ctx));
            }
        }
    }

    /// Fires a pending timer (`pop_live` has dropped cancelled ones).
    fn fire(&mut self, node: NodeId, id: TimerId, timer: P::Timer) {
        let Some(Event::Timer { node, id, timer }) =
            self.defer_if_paused(node, Event::Timer { node, id, timer })
        else {
            return;
        };
        self.timers[node.index()].remove(id);
        self.tracer.record::<P::Msg, P::Timer>(TraceEvent::Timer { t: self.now, node, id, timer: &timer });
        let call = Call::Timer(id, timer);
        self.call_handler(node, CallSummary::Timer(id), |handler, ctx| call.make(handler, ctx));
    }

    fn client_node(&self, client: usize) -> NodeId {
        self.cluster.clients()[client]
    }

    fn invoke(&mut self, client: usize) {
        let node = self.client_node(client);
        let Some(Event::Invoke { client }) = self.defer_if_paused(node, Event::Invoke { client }) else {
            return;
        };
        let deadline = Time::ZERO + self.pacing.duration;
        let op = match self.workload.as_mut() {
            Some(workload) if self.now < deadline => workload.next_op(client, &mut self.workload_rng),
            _ => None,
        };
        let Some(op) = op else {
            self.client_state[client].retired = true;
            self.clients_active -= 1;
            return;
        };
        let id = OpId(self.next_op);
        self.next_op += 1;
        let process = self.client_state[client].process;
        self.tracer.record::<P::Msg, P::Timer>(TraceEvent::Invoke {
            t: self.now,
            node,
            process,
            op_id: id,
            op: &op,
        });
        self.history.push(Record {
            process,
            kind: RecordType::Invoke,
            f: op.f.clone(),
            key: op.key.clone(),
            value: op.value.clone(),
            time: self.now,
            error: None,
        });
        self.client_state[client].current = Some((id, op.clone()));
        if let Some(timeout) = self.pacing.timeout {
            self.push(self.now + timeout, Event::Timeout { client, op: id });
        }
        self.dispatch(node, Call::Invoke(id, op));
    }

    fn timeout(&mut self, client: usize, op: OpId) {
        // The timeout is the client's own timer: a paused client notices it only when it resumes.
        let node = self.client_node(client);
        let Some(Event::Timeout { client, op }) = self.defer_if_paused(node, Event::Timeout { client, op })
        else {
            return;
        };
        let is_current = matches!(self.client_state[client].current, Some((id, _)) if id == op);
        if !is_current {
            return;
        }
        self.resolve(client, op, RecordType::Info, None, Some("timeout".into()));
        // Jepsen retires a process whose operation is indeterminate.
        self.client_state[client].process += self.client_state.len() as u64;
        self.dispatch(node, Call::Timeout(op));
    }

    fn complete(&mut self, node: NodeId, op: OpId, outcome: Outcome) {
        let client = node.index() - self.cluster.servers().len();
        let is_current = matches!(self.client_state[client].current, Some((id, _)) if id == op);
        if !is_current {
            return;
        }
        match outcome {
            Outcome::Ok(value) => self.resolve(client, op, RecordType::Ok, Some(value), None),
            Outcome::Fail(reason) => self.resolve(client, op, RecordType::Fail, None, Some(reason)),
            Outcome::Info(reason) => {
                self.resolve(client, op, RecordType::Info, None, Some(reason));
                self.client_state[client].process += self.client_state.len() as u64;
            }
        }
    }

    /// Records the completion of the client's current operation and schedules its next one.
    fn resolve(
        &mut self,
        client: usize,
        op: OpId,
        kind: RecordType,
        value: Option<Value>,
        error: Option<String>,
    ) {
        let state = &mut self.client_state[client];
        let (_, invoked) = state.current.take().expect("resolving the current operation");
        let value = value.unwrap_or(invoked.value);
        let node = self.cluster.clients()[client];
        let process = state.process;
        self.tracer.record::<P::Msg, P::Timer>(TraceEvent::Complete {
            t: self.now,
            node,
            process,
            op_id: op,
            kind,
            value: &value,
        });
        self.history.push(Record {
            process,
            kind,
            f: invoked.f,
            key: invoked.key,
            value,
            time: self.now,
            error,
        });
        let think = self.pacing.think.sample(&mut self.workload_rng);
        self.push(self.now + think, Event::Invoke { client });
    }

    fn apply_fault(&mut self, index: usize) {
        let mut fault = match index.checked_sub(self.schedule.len()) {
            Some(triggered) => match self.triggered[triggered].take() {
                Some(fault) => fault,
                None => return,
            },
            None => {
                self.schedule_applied += 1;
                self.schedule.entries()[index].fault.clone()
            }
        };
        if fault.aims_at_leader() {
            let Some(node) = self.aim(&fault) else {
                tracing::debug!(t = %self.now, %fault, "no leader to aim at");
                self.ran.push(self.now, fault);
                return;
            };
            fault = fault.aimed_at(node, self.cluster.servers());
        }
        self.ran.push(self.now, fault.clone());
        self.tracer.record::<P::Msg, P::Timer>(TraceEvent::Fault { t: self.now, fault: &fault });
        match fault {
            Fault::Crash { node } => self.crash(node),
            Fault::Restart { node } => {
                if self.status[node.index()] == Status::Down {
                    self.status[node.index()] = Status::Up;
                    self.servers[node.index()] = Some(self.protocol.server(node, &self.cluster));
                    self.dispatch(node, Call::Start);
                }
            }
            Fault::Pause { node } => {
                if self.status[node.index()] == Status::Up {
                    self.status[node.index()] = Status::Paused;
                }
            }
            Fault::Resume { node } => self.resume(node),
            Fault::Partition { cut } => self.net.partition(&cut),
            Fault::Heal => self.net.heal(),
            Fault::Mend { cut } => self.net.mend(&cut),
            Fault::Slow { node, factor } => self.net.slow(node, factor),
            Fault::ClockJump { node, offset } => self.clock_offsets[node.index()] = offset,
        }
    }

    /// The server a leader-aimed fault hits: for one that breaks something
    /// the current leader (remembered, so the matching restart, resume,
    /// mend, unslow or reset undoes it), for one that undoes the earliest
    /// remembered server it can undo; `None` when there is nobody to hit.
    fn aim(&mut self, fault: &Fault) -> Option<NodeId> {
        if let Some(pair) = fault.undoes() {
            let at = self.aimed.iter().position(|&(kind, _)| kind == pair)?;
            return self.aimed.remove(at).1;
        }
        let leader = self.leader();
        if let Some(kind) = fault.breaks() {
            self.aimed.push((kind, leader));
        }
        leader
    }

    /// Starts the election trigger's episode if `node` has just claimed
    /// leadership in an epoch nobody claimed before.
    fn watch_election(&mut self, node: NodeId) {
        let Some(epoch) = self.servers[node.index()].as_ref().and_then(Node::leadership) else { return };
        if self.epoch_seen.is_some_and(|seen| epoch <= seen) {
            return;
        }
        self.epoch_seen = Some(epoch);
        let Some((trigger, stop)) = &self.on_election else { return };
        let until_successor = trigger.until_successor;
        let episode = trigger.episode(node, self.cluster.servers(), self.now, *stop, &mut self.election_rng);
        let mut awaiting = std::mem::take(&mut self.awaiting_successor);
        awaiting.retain(|&(index, hit, after, start)| {
            if hit == node {
                return true;
            }
            self.push((self.now + after).max(start), Event::Fault(index));
            false
        });
        let start = episode.first().map(|&(at, _)| at);
        for (at, fault) in episode {
            let index = self.schedule.len() + self.triggered.len();
            if let (Some(after), Some(start), true) = (until_successor, start, fault.undoes().is_some()) {
                awaiting.push((index, node, after, start));
            }
            self.triggered.push(Some(fault));
            self.push(at, Event::Fault(index));
        }
        self.awaiting_successor = awaiting;
    }

    /// The live server claiming leadership in the highest epoch (the lowest
    /// id among equals), if any does.
    fn leader(&self) -> Option<NodeId> {
        let claims = self.cluster.servers().iter().filter_map(|&node| {
            let server = self.servers[node.index()].as_ref()?;
            server.leadership().map(|epoch| (epoch, std::cmp::Reverse(node)))
        });
        claims.max().map(|(_, std::cmp::Reverse(node))| node)
    }

    fn crash(&mut self, node: NodeId) {
        let i = node.index();
        if self.status[i] == Status::Down {
            return;
        }
        self.status[i] = Status::Down;
        self.servers[i] = None;
        self.timers[i].clear();
        self.backlog[i].clear();
        let damage = self.storages[i].crash(self.torn_writes, &mut self.fault_rng);
        if damage.lost_writes > 0 || damage.torn_key.is_some() {
            self.tracer.record::<P::Msg, P::Timer>(TraceEvent::StorageLoss {
                t: self.now,
                node,
                lost_writes: damage.lost_writes,
                torn_key: damage.torn_key.as_deref(),
            });
        }
    }

    fn resume(&mut self, node: NodeId) {
        if self.status[node.index()] != Status::Paused {
            return;
        }
        self.status[node.index()] = Status::Up;
        let waiting = std::mem::take(&mut self.backlog[node.index()]);
        for event in waiting {
            self.push(self.now, event);
        }
    }

    fn dispatch(&mut self, node: NodeId, call: Call<P>) {
        let summary = call.summary();
        self.call_handler(node, summary, |handler, ctx| call.make(handler, ctx));
    }

    /// Runs `call` on `node`'s handler, isolated so that a panic in it ends
    /// the run with [`RunEnd::Panic`], then applies its effects and checks
    /// the invariants. Each caller's closure gets its own copy, so a
    /// message's delivery calls `on_message` directly, with no `Call` to
    /// build and match.
    fn call_handler(
        &mut self,
        node: NodeId,
        summary: CallSummary,
        call: impl FnOnce(Handler<'_, P>, &mut Context<'_, P>),
    ) {
        let i = node.index();
        let is_server = self.cluster.is_server(node);
        let mut ctx = Context {
            id: node,
            now: self.now,
            clock_offset: self.clock_offsets[i],
            cluster: &self.cluster,
            rng: &mut self.rngs[i],
            storage: &mut self.storages[i],
            effects: &mut self.effects,
            probes: &mut self.probes,
        };
        let handler = if is_server {
            Handler::Server(self.servers[i].as_mut().expect("dispatch to a live server"))
        } else {
            Handler::Client(&mut self.clients[i - self.servers.len()])
        };
        // A span per call costs a few stores even with no subscriber: make
        // it only when some subscriber may want debug events.
        let span = tracing::enabled!(tracing::Level::DEBUG)
            .then(|| tracing::debug_span!("node", t = %self.now, id = %node).entered());
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let _scope = HandlerScope::enter();
            call(handler, &mut ctx);
        }));
        if let Some(span) = span {
            drop(span);
        }
        if let Err(payload) = outcome {
            let message = panic_message(payload.as_ref());
            self.clear_effects();
            self.finish(RunEnd::Panic { node, event: summary.to_string(), message });
            return;
        }
        self.apply_effects(node);
        if is_server && self.on_election.is_some() {
            self.watch_election(node);
        }
        if is_server && self.end.is_none() && !self.invariants.is_empty() {
            self.check_invariants(Some(node));
        }
    }

    fn clear_effects(&mut self) {
        self.effects.sends.clear();
        self.effects.timers.clear();
        self.effects.cancels.clear();
        self.effects.completions.clear();
    }

    fn apply_effects(&mut self, node: NodeId) {
        let i = node.index();
        if self.effects.sends.len() > self.limits.sends_per_call_max {
            self.clear_effects();
            let limit = format!("sends_per_call_max={}", self.limits.sends_per_call_max);
            self.finish(RunEnd::Limit { limit, node: Some(node) });
            return;
        }
        // Most calls send a message or two and touch nothing else: each kind
        // of effect is skipped, not drained, when there is none.
        if !(self.effects.timers.is_empty() && self.effects.cancels.is_empty()) {
            self.apply_timers(node);
            if self.timers[i].len() > self.limits.timers_per_node_max {
                self.clear_effects();
                let limit = format!("timers_per_node_max={}", self.limits.timers_per_node_max);
                self.finish(RunEnd::Limit { limit, node: Some(node) });
                return;
            }
        }
        if !self.effects.sends.is_empty() {
            let mut outbox = Outbox {
                now: self.now,
                nodes: self.cluster.node_count(),
                tracer: &mut self.tracer,
                net: &mut self.net,
                rng: &mut self.net_rng,
                queue: &mut self.queue,
                stats: &mut self.stats,
                next_mid: &mut self.next_mid,
            };
            for (to, msg) in self.effects.sends.drain(..) {
                outbox.send(node, to, msg);
            }
        }
        if !self.effects.completions.is_empty() {
            self.apply_completions(node);
        }
        if self.queue.len() > self.limits.queued_max {
            let limit = format!("queued_max={}", self.limits.queued_max);
            self.finish(RunEnd::Limit { limit, node: None });
        }
    }

    fn apply_timers(&mut self, node: NodeId) {
        let i = node.index();
        let mut timers = std::mem::take(&mut self.effects.timers);
        for (id, after, timer) in timers.drain(..) {
            self.timers[i].insert(id);
            self.push(self.now + after, Event::Timer { node, id, timer });
        }
        self.effects.timers = timers;
        for id in self.effects.cancels.drain(..) {
            self.timers[i].remove(id);
        }
    }

    #[inline(never)]
    fn apply_completions(&mut self, node: NodeId) {
        let mut completions = std::mem::take(&mut self.effects.completions);
        for (op, outcome) in completions.drain(..) {
            self.complete(node, op, outcome);
        }
        self.effects.completions = completions;
    }

    fn check_invariants(&mut self, changed: Option<NodeId>) {
        let view = ClusterView::<P> { now: self.now, changed, servers: &self.servers };
        for invariant in &mut self.invariants {
            if let Err(message) = protocol_code(|| invariant.check(&view)) {
                let end = RunEnd::Invariant { name: invariant.name().to_string(), node: changed, message };
                self.end = Some(end);
                break;
            }
        }
        if let Some(end) = self.end.take() {
            self.finish(end);
        }
    }

    fn finish(&mut self, end: RunEnd) {
        if self.end.is_some() {
            return;
        }
        if end.is_normal() {
            let view = ClusterView::<P> { now: self.now, changed: None, servers: &self.servers };
            for invariant in &mut self.invariants {
                if let Err(message) = protocol_code(|| invariant.at_end(&view)) {
                    let name = invariant.name().to_string();
                    return self.finish(RunEnd::Invariant { name, node: None, message });
                }
            }
        }
        if !end.is_normal() {
            let text = end.to_string();
            self.tracer.record::<P::Msg, P::Timer>(TraceEvent::End { t: self.now, outcome: &text });
        }
        tracing::debug!(t = %self.now, seed = self.seed.0, end = %end, "run ended");
        self.end = Some(end);
    }

    /// The report of the run so far; takes the history and trace out of the
    /// simulation (the probes, a few entries, stay).
    pub fn report(&mut self) -> RunReport {
        let trace = match self.tracer.finish() {
            Ok(trace) => trace,
            Err(error) => {
                let limit = format!("trace could not be written: {error}");
                if self.end.as_ref().is_none_or(RunEnd::is_normal) {
                    self.end = Some(RunEnd::Limit { limit, node: None });
                }
                None
            }
        };
        RunReport {
            seed: self.seed,
            end: self.end.clone().unwrap_or(RunEnd::TimeLimit),
            time: self.now,
            events: self.events,
            trace_hash: self.tracer.hash(),
            net: self.stats.clone(),
            schedule: self.schedule_as_run(),
            faults_applied: self.ran.len(),
            probes: self.probes.clone(),
            history: std::mem::take(&mut self.history),
            trace,
        }
    }

    /// The faults as they ran, then the scheduled ones that never applied.
    fn schedule_as_run(&self) -> FaultSchedule {
        let mut schedule = self.ran.clone();
        for entry in &self.schedule.entries()[self.schedule_applied..] {
            schedule.push(entry.at, entry.fault.clone());
        }
        schedule
    }

    /// The current virtual time.
    pub fn now(&self) -> Time {
        self.now
    }

    /// The cluster's membership.
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    /// Server `id`, if it is up or paused.
    pub fn server(&self, id: NodeId) -> Option<&P::Server> {
        self.servers.get(id.index()).and_then(Option::as_ref)
    }

    /// A read-only view of the servers that are up (or paused).
    pub fn view(&self) -> ClusterView<'_, P> {
        ClusterView { now: self.now, changed: None, servers: &self.servers }
    }

    /// Client number `index`.
    pub fn client(&self, index: usize) -> &P::Client {
        &self.clients[index]
    }

    /// Node `id`'s storage.
    pub fn storage(&self, id: NodeId) -> &Storage {
        &self.storages[id.index()]
    }

    /// The history recorded so far.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// The coverage probes reached so far.
    pub fn probes(&self) -> &Probes {
        &self.probes
    }

    /// The running trace hash.
    pub fn trace_hash(&self) -> u64 {
        self.tracer.hash()
    }

    /// The fault schedule this run was given, scripted and drawn; the
    /// report's [`RunReport::schedule`] is the one as it ran.
    pub fn schedule(&self) -> &FaultSchedule {
        &self.schedule
    }

    /// How the run ended, if it has.
    pub fn end(&self) -> Option<&RunEnd> {
        self.end.as_ref()
    }
}

/// Whether `event` is a timer no longer pending: cancelled, or of a node
/// that crashed since it was set.
#[inline]
fn is_dead<P: Protocol>(timers: &[Pending], event: &Event<P>) -> bool {
    matches!(event, Event::Timer { node, id, .. } if !timers[node.index()].contains(*id))
}

/// Runs an invariant (protocol code, like a handler) so that a panic in it
/// is the protocol's: it reads as the invariant failing, with the message.
fn protocol_code(check: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let _scope = HandlerScope::enter();
        check()
    }));
    outcome
        .unwrap_or_else(|payload| Err(format!("the invariant panicked: {}", panic_message(payload.as_ref()))))
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}
