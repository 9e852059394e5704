//! Protocol implementations for Orrery, each with its client, model and invariants.
//!
//! Every protocol is a [`sim_core::Protocol`] whose settings deserialize from
//! a scenario file's `[protocol]` table, and a [`Catalogued`] entry that tells
//! the command line its name, its planted bugs and the model its histories
//! are checked against.

pub mod abd;
pub mod primary_backup;
pub mod raft;
pub mod register;

use serde::de::DeserializeOwned;
use sim_core::Protocol;

/// What the command line knows about a protocol besides how to run it.
pub trait Catalogued: Protocol + DeserializeOwned + Default + Clone + Send + Sync {
    /// The name scenario files use, e.g. "raft".
    const NAME: &'static str;
    /// One line for `orrery list`.
    const SUMMARY: &'static str;
    /// Planted bugs, by the name scenario files use, with what each breaks.
    const BUGS: &'static [(&'static str, &'static str)];
    /// The model its client histories are checked against, e.g. "cas-register".
    const MODEL: &'static str;
}

impl Catalogued for register::Register {
    const NAME: &'static str = "register";
    const SUMMARY: &'static str = "a single-node register store: the smallest complete protocol";
    const BUGS: &'static [(&'static str, &'static str)] =
        &[("skip-sync", "persists without syncing: acknowledged writes vanish at a crash")];
    const MODEL: &'static str = "cas-register";
}
