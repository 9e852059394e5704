//! Orrery's deterministic discrete-event engine.

pub mod check;
mod fault;
pub mod history;
mod invariant;
mod net;
mod node;
pub mod rng;
mod sim;
mod storage;
pub mod time;
mod trace;
mod workload;

pub use fault::{Cut, Fault, FaultSchedule, Nemesis, NemesisKind, TimedFault};
pub use history::{History, HistoryError, Op, Operation, Outcome, Record, RecordType, Value};
pub use invariant::{ClusterView, Invariant};
pub use net::{DropReason, LATENCY_CAP, Latency, NetConfig, Network, Routing, Topology};
pub use node::{Client, Cluster, Context, Node, NodeId, OpId, Payload, Protocol, TimerId};
pub use rng::{Probability, Seed, SimRng, Stream};
pub use sim::{Limits, NetStats, RunEnd, RunReport, Sim, SimBuilder};
pub use storage::{CrashDamage, Storage, StorageError};
pub use time::{Duration, DurationError, Time};
pub use trace::{TraceEvent, TraceHasher, TraceSink, Tracer};
pub use workload::{Pacing, RegisterMix, RegisterWorkload, Script, Workload};
