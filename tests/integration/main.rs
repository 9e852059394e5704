//! Orrery's integration tests: one binary, one module per concern.

mod check_cli;
mod cli;
mod conformance;
mod fuzz;
mod shard;
mod support;
