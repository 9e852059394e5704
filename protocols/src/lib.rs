//! Protocol implementations for Orrery, each with its client, model and invariants.

pub mod register;
