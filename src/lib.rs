//! Orrery as a library: scenario files, sweeps, replay and the command line
//! for any protocol, built in or defined in your own crate.
//!
//! The engine ([`sim_core`], re-exported as [`sim`]) runs one seed of one
//! protocol. This crate is the harness around it, and the `orrery` binary is
//! a thin `main` over it (as ripgrep keeps its `main`): everything the
//! command line does, a test or another crate can do too.
//!
//! - [`Scenario`]: one TOML file says everything about a run; parsing is
//!   strict and every error names the file, line and field
//!   ([`ScenarioError`]).
//! - [`Registry`]: the protocols a scenario may name. [`Registry::builtin`]
//!   holds Orrery's own; `.with::<MyProtocol>()` adds yours. A protocol is
//!   registered by implementing [`Catalogued`] (name, planted bugs as an
//!   enum, typed workload, model, own checks) — the compiler checks it.
//! - [`Runner`]: a scenario bound to its protocol; runs one seed and judges
//!   it ([`SeedOutcome`], one [`Judgement`] per check).
//! - [`sweep`]: many seeds on all cores, shards, merging, and the failure
//!   table; [`Expect`] says what a scenario must show; [`coverage`] says
//!   which of the protocol's declared probes its seeds reached.
//! - [`shard`]: which shard of a sweep this process runs, typed or read
//!   from a batch engine's environment (Kubernetes, Slurm, a CI matrix).
//! - [`swarm`]: swarm mode, where each seed draws its own fault
//!   configuration, and that draw written back as plain settings.
//! - [`shrink`]: a failing seed down to the smallest scenario file that
//!   fails the same way.
//! - [`picture`]: a seed replayed and drawn as one offline HTML page.
//! - [`testing`] and [`strategy`]: one-line scenario tests and proptest
//!   strategies for fault schedules, for `cargo test` in your crate.
//! - [`cli::main`]: the whole command line for a registry.
//!
//! A protocol crate's `main.rs` is then three lines:
//!
//! ```no_run
//! # use std::process::ExitCode;
//! fn main() -> ExitCode {
//!     orrery::cli::main(orrery::Registry::builtin() /* .with::<MyKv>() */)
//! }
//! ```
//!
//! and its scenario test one:
//!
//! ```no_run
//! orrery::testing::assert_scenarios(&orrery::Registry::builtin(), "scenarios");
//! ```

pub mod cli;
pub mod coverage;
mod expect;
pub mod picture;
pub mod reference;
mod registry;
mod runner;
pub mod scenario;
pub mod shard;
pub mod shrink;
pub mod strategy;
pub mod swarm;
pub mod sweep;
pub mod testing;

pub use expect::{Conclusion, Expect, went_wrong};
pub use registry::{Entry, Registry};
pub use runner::{RunError, Runner, SeedOutcome, linearizability_report};
pub use scenario::{Scenario, ScenarioError};
pub use sim_core as sim;
pub use sim_core::{
    Catalogued, Invalid, Judgement, ModelKind, NoBugs, PlantedBug, Setup, Status, WorkloadSpec,
};

static PROGRAM: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The command that replays a seed, as printed in failure reports: the
/// running binary's name when [`cli::main`] runs (a protocol crate's own
/// binary), `orrery` otherwise.
pub fn program() -> &'static str {
    PROGRAM.get().map_or("orrery", String::as_str)
}

fn set_program(name: String) {
    let _ = PROGRAM.set(name);
}
