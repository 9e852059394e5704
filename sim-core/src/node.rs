//! Nodes, clients and the [`Context`] that is their only window on the world.
//!
//! A protocol is a bundle ([`Protocol`]): a server type, a client type, the
//! message enum they exchange and the timer payloads they set. Handlers never
//! act directly: they call methods on the `Context`, which records effects
//! (sends, timers, completions) that the simulation applies when the handler
//! returns.

use std::fmt;
use std::hash::Hash;

use serde::{Deserialize, Serialize};

use crate::build::BuildError;
use crate::history::{Op, Outcome};
use crate::invariant::Invariant;
use crate::probe::Probes;
use crate::rng::SimRng;
use crate::storage::Storage;
use crate::time::{Duration, Time};

/// A node's address on the virtual network: servers first, then clients.
///
/// One value is not an address: [`NodeId::LEADER`], which a fault may name
/// to mean whichever server leads when the fault applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NodeId(pub u32);

impl NodeId {
    /// Not a node but an aim: a crash, pause, isolation, slowdown or clock
    /// jump naming it hits the server that leads when it applies (the live
    /// server whose [`Node::leadership`] claims the highest epoch), and a
    /// restart, resume or clock reset naming it undoes the earliest such
    /// fault not yet undone. Scenario files and reports spell it `"leader"`.
    pub const LEADER: NodeId = NodeId(u32::MAX);

    /// The id as an index into per-node tables.
    pub fn index(self) -> usize {
        self.0 as usize
    }

    /// Whether this is [`NodeId::LEADER`], an aim rather than an address.
    pub fn is_leader_aim(self) -> bool {
        self == NodeId::LEADER
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_leader_aim() { f.write_str("leader") } else { write!(f, "n{}", self.0) }
    }
}

impl Serialize for NodeId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.is_leader_aim() { s.serialize_str("leader") } else { s.serialize_u32(self.0) }
    }
}

impl<'de> Deserialize<'de> for NodeId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<NodeId, D::Error> {
        struct Id;
        impl serde::de::Visitor<'_> for Id {
            type Value = NodeId;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a node number or \"leader\"")
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<NodeId, E> {
                u32::try_from(v)
                    .ok()
                    .filter(|&n| n != u32::MAX)
                    .map(NodeId)
                    .ok_or_else(|| E::custom(format!("no node {v}")))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<NodeId, E> {
                u64::try_from(v)
                    .map_err(|_| E::custom(format!("no node {v}")))
                    .and_then(|v| self.visit_u64(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<NodeId, E> {
                if v == "leader" { Ok(NodeId::LEADER) } else { Err(E::custom(format!("no node {v:?}"))) }
            }
        }
        d.deserialize_any(Id)
    }
}

/// A handle on a pending timer, unique within a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TimerId(pub u64);

/// A handle on one client operation, unique within a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct OpId(pub u64);

/// What messages and timer payloads must be: cheap to copy, printable,
/// hashable into the trace hash, serialisable into the trace.
pub trait Payload: Clone + fmt::Debug + Hash + Serialize + 'static {}

impl<T: Clone + fmt::Debug + Hash + Serialize + 'static> Payload for T {}

/// Who is in the cluster: the server ids and the client ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cluster {
    servers: Vec<NodeId>,
    clients: Vec<NodeId>,
}

impl Cluster {
    /// The most nodes (servers plus clients) a cluster can have: ids are `u32`.
    pub const NODES_MAX: u64 = u32::MAX as u64;

    /// A cluster of `servers` servers and `clients` clients.
    ///
    /// # Panics
    ///
    /// If there are more than [`Cluster::NODES_MAX`] nodes; input from outside
    /// goes through [`Cluster::try_new`] (as the builder does).
    pub fn new(servers: usize, clients: usize) -> Cluster {
        Cluster::try_new(servers, clients).unwrap_or_else(|e| panic!("{e}"))
    }

    /// A cluster of `servers` servers and `clients` clients, or an error if
    /// there are more than [`Cluster::NODES_MAX`] nodes.
    pub fn try_new(servers: usize, clients: usize) -> Result<Cluster, BuildError> {
        let total = Cluster::total(servers, clients)?;
        let split = servers as u32;
        Ok(Cluster {
            servers: (0..split).map(NodeId).collect(),
            clients: (split..total).map(NodeId).collect(),
        })
    }

    /// Servers plus clients, if they fit in the ids; allocates nothing.
    pub(crate) fn total(servers: usize, clients: usize) -> Result<u32, BuildError> {
        let too_many = || BuildError::TooManyNodes { servers, clients, max: Cluster::NODES_MAX };
        let total = servers.checked_add(clients).ok_or_else(too_many)?;
        u32::try_from(total).map_err(|_| too_many())
    }

    /// The server ids, in order.
    pub fn servers(&self) -> &[NodeId] {
        &self.servers
    }

    /// The client ids, in order.
    pub fn clients(&self) -> &[NodeId] {
        &self.clients
    }

    /// Servers plus clients.
    pub fn node_count(&self) -> usize {
        self.servers.len() + self.clients.len()
    }

    /// Whether `id` is a server.
    pub fn is_server(&self, id: NodeId) -> bool {
        id.index() < self.servers.len()
    }

    /// The smallest number of servers that is a majority.
    pub fn majority(&self) -> usize {
        self.servers.len() / 2 + 1
    }
}

/// A protocol: its server and client types, their messages and timers,
/// how to build each node, and the invariants its servers must keep.
pub trait Protocol: Sized + 'static {
    /// The messages servers and clients exchange.
    type Msg: Payload;
    /// What a timer carries back to its node when it fires.
    type Timer: Payload;
    /// The server node.
    type Server: Node<Self>;
    /// The client node.
    type Client: Client<Self>;

    /// A fresh server: called at start and at every restart. It must rebuild
    /// its state from `Context::storage` in `on_start`, never from elsewhere.
    fn server(&self, id: NodeId, cluster: &Cluster) -> Self::Server;

    /// A fresh client.
    fn client(&self, id: NodeId, cluster: &Cluster) -> Self::Client;

    /// Invariants over the servers' states, checked as the run goes.
    fn invariants(&self) -> Vec<Box<dyn Invariant<Self>>> {
        Vec::new()
    }
}

/// A server: reacts to its start, to messages and to its timers.
pub trait Node<P: Protocol>: 'static {
    /// The node started (or restarted): read storage, set timers. Nothing by default.
    fn on_start(&mut self, _ctx: &mut Context<'_, P>) {}
    /// A message arrived from `from`.
    fn on_message(&mut self, ctx: &mut Context<'_, P>, from: NodeId, msg: P::Msg);
    /// A timer set by this node fired. Nothing by default.
    fn on_timer(&mut self, _ctx: &mut Context<'_, P>, _id: TimerId, _timer: P::Timer) {}
    /// The epoch (term, view, generation) in which this server believes it
    /// leads, or `None` when it does not. Faults aimed at [`NodeId::LEADER`]
    /// hit the live server claiming the highest epoch, so a stale leader
    /// that has not yet heard of its successor is passed over. A protocol
    /// without a leader keeps the default, and declares no leader-aimed
    /// nemesis kinds in [`Catalogued::FAULTS`](crate::Catalogued::FAULTS).
    fn leadership(&self) -> Option<u64> {
        None
    }
}

/// A client: turns workload operations into requests and reports outcomes
/// with [`Context::complete`].
pub trait Client<P: Protocol>: 'static {
    /// The client started.
    fn on_start(&mut self, _ctx: &mut Context<'_, P>) {}
    /// The workload asks for `op`; complete it with `ctx.complete(id, ..)`.
    fn on_invoke(&mut self, ctx: &mut Context<'_, P>, id: OpId, op: Op);
    /// A message arrived from `from`. Nothing by default.
    fn on_message(&mut self, _ctx: &mut Context<'_, P>, _from: NodeId, _msg: P::Msg) {}
    /// A timer set by this client fired. Nothing by default.
    fn on_timer(&mut self, _ctx: &mut Context<'_, P>, _id: TimerId, _timer: P::Timer) {}
    /// The simulation gave up waiting on operation `id` and recorded it as
    /// `info`; later completions of it are ignored.
    fn on_timeout(&mut self, _ctx: &mut Context<'_, P>, _id: OpId) {}
}

/// Effects a handler asked for, applied by the simulation afterwards.
pub(crate) struct Effects<P: Protocol> {
    pub sends: Vec<(NodeId, P::Msg)>,
    pub timers: Vec<(TimerId, Duration, P::Timer)>,
    pub cancels: Vec<TimerId>,
    pub completions: Vec<(OpId, Outcome)>,
    pub next_timer: u64,
}

impl<P: Protocol> Effects<P> {
    pub fn new() -> Effects<P> {
        Effects {
            sends: Vec::new(),
            timers: Vec::new(),
            cancels: Vec::new(),
            completions: Vec::new(),
            next_timer: 0,
        }
    }
}

/// A node's only window on the world during one handler call.
pub struct Context<'a, P: Protocol> {
    pub(crate) id: NodeId,
    pub(crate) now: Time,
    pub(crate) clock_offset: i64,
    pub(crate) cluster: &'a Cluster,
    pub(crate) rng: &'a mut SimRng,
    pub(crate) storage: &'a mut Storage,
    pub(crate) effects: &'a mut Effects<P>,
    pub(crate) probes: &'a mut Probes,
}

impl<P: Protocol> Context<'_, P> {
    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// The true virtual time: use it for nothing a real node could not know.
    pub fn now(&self) -> Time {
        self.now
    }

    /// This node's own clock, which a clock-jump fault can move.
    pub fn clock(&self) -> Time {
        self.now.shifted(self.clock_offset)
    }

    /// The cluster's membership.
    pub fn cluster(&self) -> &Cluster {
        self.cluster
    }

    /// The server ids.
    pub fn servers(&self) -> &[NodeId] {
        self.cluster.servers()
    }

    /// Sends `msg` to `to` over the virtual network.
    pub fn send(&mut self, to: NodeId, msg: P::Msg) {
        self.effects.sends.push((to, msg));
    }

    /// Sends `msg` to every server but this node.
    pub fn broadcast(&mut self, msg: P::Msg) {
        for &to in self.cluster.servers() {
            if to != self.id {
                self.effects.sends.push((to, msg.clone()));
            }
        }
    }

    /// Arranges for `timer` to come back to this node after `after`.
    pub fn set_timer(&mut self, after: Duration, timer: P::Timer) -> TimerId {
        let id = TimerId(self.effects.next_timer);
        self.effects.next_timer += 1;
        self.effects.timers.push((id, after, timer));
        id
    }

    /// Cancels a pending timer; cancelling a fired or unknown timer does nothing.
    pub fn cancel_timer(&mut self, id: TimerId) {
        self.effects.cancels.push(id);
    }

    /// This node's random stream.
    pub fn rng(&mut self) -> &mut SimRng {
        self.rng
    }

    /// This node's durable storage.
    pub fn storage(&mut self) -> &mut Storage {
        self.storage
    }

    /// Marks that this handler reached the rare path `name` (a coverage
    /// probe, e.g. "leader-steps-down"); the run's report counts each
    /// probe's hits and its first. It changes nothing in the run. A
    /// protocol declares its probes in
    /// [`Catalogued::PROBES`](crate::Catalogued::PROBES).
    pub fn probe(&mut self, name: &'static str) {
        self.probes.hit(name, self.now, self.id);
    }

    /// Reports the outcome of client operation `id` (clients only).
    pub fn complete(&mut self, id: OpId, outcome: Outcome) {
        assert!(!self.cluster.is_server(self.id), "node={} only clients complete operations", self.id);
        self.effects.completions.push((id, outcome));
    }
}
