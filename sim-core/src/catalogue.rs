//! What the harness needs to know about a protocol besides how to run it.
//!
//! A [`Protocol`] says how servers and clients behave; [`Catalogued`] adds
//! the rest a scenario file, a sweep and the command line need: the name a
//! scenario uses, its planted bugs (an enum, so the list cannot drift from
//! the code), its typed workload, the model its histories are checked
//! against, the fault kinds that mean something to it, the coverage probes
//! its code marks, and any checks of its own. Everything but the name and
//! the summary has a default.
//!
//! The trait lives in the engine crate, not the harness, so a protocol crate
//! depends only on `sim-core` and the harness (`orrery`) can list the
//! built-in protocols without a dependency cycle.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::fault::NemesisKind;
use crate::invariant::ClusterView;
use crate::node::Protocol;
use crate::sim::RunReport;
use crate::time::{Duration, Time};
use crate::workload::{RegisterWorkload, Workload};

/// A protocol the harness can run from a scenario file.
///
/// ```
/// # use sim_core::*;
/// # use serde::{Deserialize, Serialize};
/// # #[derive(Clone, Default, Serialize, Deserialize)] struct MyKv { bugs: Vec<MyBug> }
/// # impl Protocol for MyKv { type Msg = (); type Timer = (); type Server = S; type Client = C;
/// #   fn server(&self, _: NodeId, _: &Cluster) -> S { S } fn client(&self, _: NodeId, _: &Cluster) -> C { C } }
/// # struct S; impl Node<MyKv> for S { fn on_message(&mut self, _: &mut Context<'_, MyKv>, _: NodeId, _: ()) {} }
/// # struct C; impl sim_core::Client<MyKv> for C { fn on_invoke(&mut self, _: &mut Context<'_, MyKv>, _: OpId, _: Op) {} }
/// planted_bugs! {
///     /// What can be planted in MyKv.
///     pub enum MyBug {
///         /// Acknowledges before replicating.
///         EarlyAck = "early-ack": "acknowledges writes before a backup holds them",
///     }
/// }
/// impl Catalogued for MyKv {
///     const NAME: &'static str = "my-kv";
///     const SUMMARY: &'static str = "a replicated key-value store";
///     type Bug = MyBug;
///     type Workload = RegisterWorkload;
/// }
/// assert_eq!(MyBug::ALL[0].name(), "early-ack");
/// ```
pub trait Catalogued: Protocol + Serialize + DeserializeOwned + Default + Clone + Send + Sync {
    /// The name scenario files use in `[protocol] name`, e.g. "raft".
    const NAME: &'static str;
    /// One line for `orrery list`.
    const SUMMARY: &'static str;
    /// The planted bugs, declared with [`planted_bugs!`](crate::planted_bugs); [`NoBugs`] if none.
    type Bug: PlantedBug;
    /// What the clients are asked to do, read from the scenario's `[workload]`
    /// table (less the pacing keys the harness owns: clients, think, rate,
    /// duration, timeout): for register-like protocols.
    type Workload: WorkloadSpec;
    /// The model client histories are checked against for linearizability;
    /// `None` when linearizability does not apply (the protocol's own judges decide).
    const MODEL: Option<ModelKind> = Some(ModelKind::CasRegister);
    /// The nemesis kinds that mean something for this protocol; a scenario
    /// asking for another is an error. By default those that need no leader;
    /// a protocol whose servers report [`Node::leadership`](crate::Node::leadership)
    /// declares [`NemesisKind::ALL`], and may then aim faults at `"leader"`.
    const FAULTS: &'static [NemesisKind] = NemesisKind::ANY_SERVER;
    /// The coverage probes its code marks with
    /// [`Context::probe`](crate::Context::probe): `(name, what reaching it
    /// means)`, e.g. `("leader-steps-down", "a leader saw a higher term and
    /// became a follower")`. A sweep reports how many seeds reached each and
    /// lists those none did; a probe hit but not declared here fails the
    /// scenario tests. None by default.
    const PROBES: &'static [(&'static str, &'static str)] = &[];

    /// Rejects settings that mean nothing for this protocol (too few servers,
    /// a minimum above its maximum), naming the field at fault.
    fn validate(&self, _setup: &Setup) -> Result<(), Invalid> {
        Ok(())
    }

    /// Checks of a finished run beyond linearizability (that money is
    /// conserved, that a dead backend was ejected in time), given the run's
    /// report and the servers still up at the end. None by default.
    fn judge(&self, _report: &RunReport, _servers: &ClusterView<'_, Self>) -> Vec<Judgement> {
        Vec::new()
    }
}

/// Longest virtual time any setting may name, a day: scenario durations and
/// protocol timers alike.
pub const HORIZON_MAX: Duration = Duration::from_secs(86_400);

/// The shape of a run, for [`Catalogued::validate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Setup {
    /// Number of servers.
    pub servers: usize,
    /// Number of clients.
    pub clients: usize,
}

/// A setting that cannot be used, and where it is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    /// The dotted field from the scenario's root, e.g. "cluster.servers" or
    /// "protocol.election_min".
    pub field: String,
    /// What is wrong and what to do, for people.
    pub message: String,
}

impl Invalid {
    /// An error about `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Invalid {
        Invalid { field: field.into(), message: message.into() }
    }

    /// Every `(field, period)` at least a microsecond and at most a day: a
    /// zero period is a timer that fires forever at one instant.
    pub fn periods(periods: &[(&str, Duration)]) -> Result<(), Invalid> {
        for &(field, period) in periods {
            if period < Duration::from_micros(1) || period > HORIZON_MAX {
                return Err(Invalid::new(
                    format!("protocol.{field}"),
                    format!("`{field}` must be between 1us and 1 day, not {period}"),
                ));
            }
        }
        Ok(())
    }

    /// `min` no longer than `max`.
    pub fn ordered(min: (&str, Duration), max: (&str, Duration)) -> Result<(), Invalid> {
        if min.1 > max.1 {
            return Err(Invalid::new(
                format!("protocol.{}", max.0),
                format!("`{}` ({}) is below `{}` ({})", max.0, max.1, min.0, min.1),
            ));
        }
        Ok(())
    }

    /// An error about the field its message quotes first in backticks, as in
    /// "`keys` must be at least 1".
    pub fn quoting(message: String) -> Invalid {
        let field = message.split('`').nth(1).unwrap_or_default().to_string();
        Invalid { field, message }
    }
}

/// A workload read from a scenario's `[workload]` table.
pub trait WorkloadSpec:
    Workload + Serialize + DeserializeOwned + Default + Clone + Send + Sync + 'static
{
    /// Rejects settings that make no sense (no keys, an empty mix); the
    /// field is relative to `[workload]`.
    fn validate(&self) -> Result<(), Invalid> {
        Ok(())
    }
}

impl WorkloadSpec for RegisterWorkload {
    fn validate(&self) -> Result<(), Invalid> {
        RegisterWorkload::validate(self).map_err(Invalid::quoting)
    }
}

/// A protocol's planted bugs: an enum whose every variant is one bug.
///
/// Declare it with [`planted_bugs!`](crate::planted_bugs), which derives the
/// list, the names scenario files use and the descriptions `orrery list`
/// prints from the variants themselves.
pub trait PlantedBug:
    Copy + Eq + Ord + fmt::Debug + Serialize + DeserializeOwned + Send + Sync + 'static
{
    /// Every bug, in declaration order.
    const ALL: &'static [Self];
    /// The name scenario files use in `bugs = [...]`, e.g. "skip-sync".
    fn name(self) -> &'static str;
    /// What the bug breaks, for people.
    fn describe(self) -> &'static str;
}

/// Declares a protocol's planted-bug enum: each variant with the name
/// scenario files use and what it breaks.
///
/// ```
/// sim_core::planted_bugs! {
///     /// Bugs of a register.
///     pub enum Bug {
///         /// Persists without syncing.
///         SkipSync = "skip-sync": "acknowledged writes vanish at a crash",
///     }
/// }
/// use sim_core::PlantedBug;
/// assert_eq!(Bug::ALL, &[Bug::SkipSync]);
/// assert_eq!(serde_json::to_string(&Bug::SkipSync).unwrap(), "\"skip-sync\"");
/// ```
#[macro_export]
macro_rules! planted_bugs {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $( $(#[$vmeta:meta])* $variant:ident = $text:literal : $what:literal ),* $(,)?
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, $crate::__serde::Serialize, $crate::__serde::Deserialize)]
        #[serde(crate = "::sim_core::__serde")]
        $vis enum $name {
            $( $(#[$vmeta])* #[serde(rename = $text)] $variant ),*
        }
        impl $crate::PlantedBug for $name {
            const ALL: &'static [$name] = &[$($name::$variant),*];
            fn name(self) -> &'static str {
                match self { $($name::$variant => $text),* }
            }
            fn describe(self) -> &'static str {
                match self { $($name::$variant => $what),* }
            }
        }
    };
}

/// The bug enum of a protocol with no planted bugs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum NoBugs {}

impl PlantedBug for NoBugs {
    const ALL: &'static [NoBugs] = &[];
    fn name(self) -> &'static str {
        match self {}
    }
    fn describe(self) -> &'static str {
        match self {}
    }
}

/// The models histories can be checked against, by the names scenario
/// files and `orrery check --model` use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// Read / write register, split per key.
    Register,
    /// Read / write / compare-and-set register; a failed cas observed a mismatch.
    CasRegister,
    /// Several registers read and written in `txn`s of micro-ops (Knossos).
    MultiRegister,
    /// Key-value store with get / put / append on strings, split per key.
    Kv,
    /// Key-value store checked as one map, not split.
    KvMap,
    /// A lock with acquire / release.
    Mutex,
    /// A set with add / read.
    Set,
    /// A FIFO queue with enqueue / dequeue.
    Queue,
}

impl ModelKind {
    /// Every model, in the order `orrery list` prints them.
    pub const ALL: [ModelKind; 8] = [
        ModelKind::Register,
        ModelKind::CasRegister,
        ModelKind::MultiRegister,
        ModelKind::Kv,
        ModelKind::KvMap,
        ModelKind::Mutex,
        ModelKind::Set,
        ModelKind::Queue,
    ];

    /// The name scenario files and `--model` use.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Register => "register",
            ModelKind::CasRegister => "cas-register",
            ModelKind::MultiRegister => "multi-register",
            ModelKind::Kv => "kv",
            ModelKind::KvMap => "kv-map",
            ModelKind::Mutex => "mutex",
            ModelKind::Set => "set",
            ModelKind::Queue => "queue",
        }
    }

    /// What the model's operations are, for people.
    pub fn summary(self) -> &'static str {
        match self {
            ModelKind::Register => "read / write, split per key",
            ModelKind::CasRegister => "read / write / compare-and-set; a failed cas is a fail",
            ModelKind::MultiRegister => "several registers read and written in one txn (Knossos)",
            ModelKind::Kv => "get / put / append on string values, split per key",
            ModelKind::KvMap => "get / put / append checked as one map",
            ModelKind::Mutex => "acquire / release",
            ModelKind::Set => "add / read",
            ModelKind::Queue => "FIFO enqueue / dequeue",
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for ModelKind {
    type Err = String;
    fn from_str(s: &str) -> Result<ModelKind, String> {
        ModelKind::ALL.into_iter().find(|m| m.name() == s).ok_or_else(|| {
            let names: Vec<&str> = ModelKind::ALL.iter().map(|m| m.name()).collect();
            format!("unknown model {s:?}; models are {}", names.join(", "))
        })
    }
}

/// How a check, a seed or a sweep came out: the one verdict type from a
/// single check up to a whole sweep. `Unknown` is never a pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Everything held.
    Pass,
    /// The check could not decide (a search budget ran out).
    Unknown,
    /// Something broke.
    Fail,
}

impl Status {
    /// "pass", "unknown" or "FAIL", as reports print it.
    pub fn label(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Unknown => "unknown",
            Status::Fail => "FAIL",
        }
    }
}

/// The conclusion of one check of one run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Judgement {
    /// The check's name, e.g. "linearizability", "atomicity",
    /// "invariant election-safety". Scenario files name it in
    /// `expect = { violation = "..." }`.
    pub name: String,
    /// How it came out.
    pub status: Status,
    /// One line for people: what was measured or what broke.
    pub detail: String,
    /// For a failure, what groups like failures in a sweep when finer than
    /// the name, e.g. "linearizability: read on key 0".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// When the failure first showed, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<Time>,
}

impl Judgement {
    /// A check that held.
    pub fn pass(name: impl Into<String>, detail: impl Into<String>) -> Judgement {
        Judgement {
            name: name.into(),
            status: Status::Pass,
            detail: detail.into(),
            signature: None,
            at: None,
        }
    }

    /// A check that broke, first seen at `at` if known.
    pub fn fail(name: impl Into<String>, detail: impl Into<String>, at: Option<Time>) -> Judgement {
        Judgement { name: name.into(), status: Status::Fail, detail: detail.into(), signature: None, at }
    }

    /// A check that could not decide.
    pub fn unknown(name: impl Into<String>, detail: impl Into<String>) -> Judgement {
        Judgement {
            name: name.into(),
            status: Status::Unknown,
            detail: detail.into(),
            signature: None,
            at: None,
        }
    }

    /// The same judgement, grouped in sweeps by `signature`.
    pub fn with_signature(mut self, signature: impl Into<String>) -> Judgement {
        self.signature = Some(signature.into());
        self
    }

    /// What groups this failure with like ones: the signature, else the name.
    pub fn group(&self) -> &str {
        self.signature.as_deref().unwrap_or(&self.name)
    }
}
