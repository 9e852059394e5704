//! Protocol implementations for Orrery, each with its client, model and invariants.
//!
//! Every protocol is a [`sim_core::Protocol`] whose settings deserialize from
//! a scenario file's `[protocol]` table, and a [`Catalogued`] entry that tells
//! the command line its name, its planted bugs and the model its histories
//! are checked against.

pub mod abd;
pub mod commit;
pub mod load_balancer;
pub mod log;
pub mod primary_backup;
pub mod raft;
pub mod register;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sim_core::{ClusterView, Protocol, RegisterWorkload, RunReport, Time, Workload};

/// What the command line knows about a protocol besides how to run it.
pub trait Catalogued: Protocol + Serialize + DeserializeOwned + Default + Clone + Send + Sync {
    /// The name scenario files use, e.g. "raft".
    const NAME: &'static str;
    /// One line for `orrery list`.
    const SUMMARY: &'static str;
    /// Planted bugs, by the name scenario files use, with what each breaks.
    const BUGS: &'static [(&'static str, &'static str)];
    /// The model its client histories are checked against, e.g. "cas-register",
    /// or "none" when linearizability does not apply.
    const MODEL: &'static str;

    /// Builds the workload its clients understand from the scenario's
    /// `[workload]` table, less the engine's own keys (clients, think, rate,
    /// duration, timeout). By default: register reads, writes and
    /// compare-and-sets ([`RegisterWorkload`]).
    fn workload(params: &toml::Table) -> Result<Box<dyn Workload>, String> {
        let workload: RegisterWorkload = toml::Value::Table(params.clone())
            .try_into()
            .map_err(|e: toml::de::Error| e.message().to_string())?;
        workload.validate()?;
        Ok(Box::new(workload))
    }

    /// Protocol-specific checks of a finished run, beyond linearizability
    /// (for example, that money is conserved), given the run's report and the
    /// servers still up at the end. None by default.
    fn judge(&self, _report: &RunReport, _servers: &ClusterView<'_, Self>) -> Vec<Judgement> {
        Vec::new()
    }
}

/// The conclusion of one protocol-specific check.
#[derive(Clone, Debug, PartialEq)]
pub struct Judgement {
    /// A short name, e.g. "atomicity".
    pub name: String,
    /// `Some(true)` passed, `Some(false)` failed, `None` could not decide.
    pub pass: Option<bool>,
    /// One line for people: what was measured or what broke.
    pub detail: String,
    /// When the failure first showed, if it did.
    pub at: Option<Time>,
}

impl Catalogued for register::Register {
    const NAME: &'static str = "register";
    const SUMMARY: &'static str = "a single-node register store: the smallest complete protocol";
    const BUGS: &'static [(&'static str, &'static str)] =
        &[("skip-sync", "persists without syncing: acknowledged writes vanish at a crash")];
    const MODEL: &'static str = "cas-register";
}
