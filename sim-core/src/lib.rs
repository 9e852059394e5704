//! Orrery's deterministic discrete-event engine.
//!
//! A [`Sim`] runs one [`Protocol`] — a server type, a client type and the
//! messages they exchange — under one [`Seed`]. Everything that varies comes
//! from that seed: message latency, loss and duplication ([`NetConfig`],
//! [`Topology`]), faults ([`FaultSchedule`], drawn by a [`Nemesis`] or written
//! by hand), client operations ([`Workload`]). The same seed always gives the
//! same [`RunReport`]: the same client [`History`], and the same trace hash.
//!
//! - [`Node`] and [`Client`] are what a protocol implements; their only
//!   window on the world is the [`Context`]: the clock, `send`, timers, a
//!   random stream and durable [`Storage`]; [`Context::probe`] marks a rare
//!   path reached, and the report's [`Probes`] say which were.
//! - A crash drops the node object and its unsynced writes; a restart builds
//!   a fresh one that must recover from storage alone.
//! - [`Invariant`]s are checked after every server step; a handler that
//!   panics ends the run with [`RunEnd::Panic`] naming the node and event;
//!   [`in_handler`] tells a panic hook a node's panic from an engine bug.
//! - [`SimBuilder::build`] refuses, with a [`BuildError`], a run it cannot
//!   address or whose estimated memory exceeds [`Limits::memory_max`].
//! - [`check`] judges histories: linearizability and availability.
//!
//! ```
//! use serde::Serialize;
//! use sim_core::*;
//!
//! /// Echo: the server answers every message with the same message.
//! struct Echo;
//! #[derive(Clone, Debug, Hash, Serialize)]
//! struct Say(i64);
//!
//! struct EchoServer;
//! impl Node<Echo> for EchoServer {
//!     fn on_start(&mut self, _: &mut Context<'_, Echo>) {}
//!     fn on_message(&mut self, ctx: &mut Context<'_, Echo>, from: NodeId, msg: Say) {
//!         ctx.send(from, msg);
//!     }
//!     fn on_timer(&mut self, _: &mut Context<'_, Echo>, _: TimerId, _: ()) {}
//! }
//!
//! /// The client sends each operation's value and completes on the echo.
//! #[derive(Default)]
//! struct EchoClient(Option<OpId>);
//! impl Client<Echo> for EchoClient {
//!     fn on_invoke(&mut self, ctx: &mut Context<'_, Echo>, id: OpId, op: Op) {
//!         self.0 = Some(id);
//!         ctx.send(NodeId(0), Say(op.value.as_int().unwrap_or(0)));
//!     }
//!     fn on_message(&mut self, ctx: &mut Context<'_, Echo>, _: NodeId, msg: Say) {
//!         if let Some(id) = self.0.take() {
//!             ctx.complete(id, Outcome::Ok(Value::Int(msg.0)));
//!         }
//!     }
//!     fn on_timer(&mut self, _: &mut Context<'_, Echo>, _: TimerId, _: ()) {}
//! }
//!
//! impl Protocol for Echo {
//!     type Msg = Say;
//!     type Timer = ();
//!     type Server = EchoServer;
//!     type Client = EchoClient;
//!     fn server(&self, _: NodeId, _: &Cluster) -> EchoServer { EchoServer }
//!     fn client(&self, _: NodeId, _: &Cluster) -> EchoClient { EchoClient::default() }
//! }
//!
//! let ops = vec![vec![Op::new("echo", 1), Op::new("echo", 2)]];
//! let mut sim = Sim::builder(Echo, Seed(7)).servers(1).clients(1, Script::new(ops)).build().unwrap();
//! let report = sim.run();
//! assert_eq!(report.end, RunEnd::Finished);
//! assert_eq!(report.history.operations().unwrap()[1].result, Value::Int(2));
//! // The same seed replays exactly.
//! let again = Sim::builder(Echo, Seed(7)).servers(1).clients(1, Script::new(vec![vec![Op::new("echo", 1), Op::new("echo", 2)]])).build().unwrap().run();
//! assert_eq!(report.trace_hash, again.trace_hash);
//! ```

mod build;
mod catalogue;
pub mod check;
mod election;
mod fault;
mod handler;
pub mod history;
mod invariant;
mod net;
mod node;
mod probe;
mod queue;
pub mod rng;
mod sim;
mod storage;
mod swarm;
pub mod time;
mod timers;
mod trace;
mod workload;

pub use build::{BuildError, Bytes, Footprint};
pub use catalogue::{
    Catalogued, HORIZON_MAX, Invalid, Judgement, ModelKind, NoBugs, PlantedBug, Setup, Status, WorkloadSpec,
};
pub use election::{ElectionKind, OnElection};
pub use fault::{Cut, Drawn, Fault, FaultSchedule, Nemesis, NemesisKind, TimedFault};
pub use handler::in_handler;
pub use history::{History, HistoryError, Op, Operation, Outcome, Record, RecordType, Value};
pub use invariant::{ClusterView, Invariant};
pub use net::{DropReason, LATENCY_CAP, Latency, NetConfig, Network, Routing, Topology};
pub use node::{Client, Cluster, Context, Node, NodeId, OpId, Payload, Protocol, TimerId};
pub use probe::{ProbeHit, Probes};
pub use rng::{Probability, Seed, SimRng, Stream};
pub use sim::{Limits, NetStats, RunEnd, RunReport, Sim, SimBuilder};
pub use storage::{CrashDamage, Storage, StorageError};
pub use swarm::{SwarmBounds, SwarmConfig};
pub use time::{Duration, DurationError, Time};
pub use trace::{TraceEvent, TraceHasher, TraceSink, Tracer};
pub use workload::{Pacing, RegisterMix, RegisterWorkload, Script, Workload};

#[doc(hidden)]
pub use serde as __serde;
