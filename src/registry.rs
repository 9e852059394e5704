//! The protocols a scenario may name.
//!
//! A [`Registry`] maps `[protocol] name` to a type implementing
//! [`Catalogued`]. Registration is one generic call, so everything the
//! harness needs — parameters, bugs, workload, model, judges — comes from the
//! trait and the compiler checks it; nothing is looked up by string at run
//! time except the name itself.

use std::fmt;

use crate::runner::{self, Runner};
use crate::scenario::{Scenario, ScenarioError};
use crate::{Catalogued, ModelKind, PlantedBug};

/// What `orrery list` says about a protocol.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The name scenario files use.
    pub name: &'static str,
    /// One line about it.
    pub summary: &'static str,
    /// Planted bugs by name, with what each breaks.
    pub bugs: Vec<(&'static str, &'static str)>,
    /// Coverage probes by name, with what reaching each means.
    pub probes: &'static [(&'static str, &'static str)],
    /// The model its histories are checked against, if any.
    pub model: Option<ModelKind>,
    /// Its parameters with their defaults, as TOML lines.
    pub parameters: Vec<String>,
    /// Its workload's parameters with their defaults, as TOML lines.
    pub workload: Vec<String>,
}

type Bind = fn(&Scenario, &str) -> Result<Box<dyn Runner>, ScenarioError>;

struct Registration {
    entry: Entry,
    bind: Bind,
}

/// The protocols a scenario file may name, and how to bind a scenario to one.
#[derive(Default)]
pub struct Registry {
    protocols: Vec<Registration>,
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.protocols.iter().map(|p| p.entry.name)).finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// Orrery's own protocols: register, abd, primary-backup, raft,
    /// load-balancer, 2pc, paxos-commit, saga, log.
    pub fn builtin() -> Registry {
        Registry::new()
            .with::<protocols::register::Register>()
            .with::<protocols::abd::Abd>()
            .with::<protocols::primary_backup::PrimaryBackup>()
            .with::<protocols::raft::Raft>()
            .with::<protocols::load_balancer::LoadBalancer>()
            .with::<protocols::commit::TwoPc>()
            .with::<protocols::commit::PaxosCommit>()
            .with::<protocols::saga::Saga>()
            .with::<protocols::log::Log>()
    }

    /// The same registry with `P` added.
    ///
    /// # Panics
    /// If a protocol of the same name is already registered: two protocols
    /// answering to one name is a programming error, found at start-up.
    pub fn with<P: Catalogued>(mut self) -> Registry {
        assert!(self.get(P::NAME).is_none(), "protocol name={} is registered twice", P::NAME);
        self.protocols.push(Registration { entry: entry::<P>(), bind: runner::bind::<P> });
        self
    }

    /// Every registered protocol, in registration order.
    pub fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.protocols.iter().map(|p| &p.entry)
    }

    /// The entry of the protocol called `name`.
    pub fn get(&self, name: &str) -> Option<&Entry> {
        self.entries().find(|e| e.name == name)
    }

    /// Binds a parsed scenario to its protocol, validating the protocol's
    /// parameters, its workload and its checks. `text` is the scenario's
    /// source, for placing errors.
    pub fn bind(&self, scenario: &Scenario, text: &str) -> Result<Box<dyn Runner>, ScenarioError> {
        let name = scenario.protocol.name.as_str();
        match self.protocols.iter().find(|p| p.entry.name == name) {
            Some(p) => (p.bind)(scenario, text),
            None => {
                let known: Vec<&str> = self.entries().map(|e| e.name).collect();
                Err(scenario.error_at(
                    text,
                    "protocol.name",
                    format!("unknown protocol {name:?}; known protocols are {}", known.join(", ")),
                ))
            }
        }
    }

    /// Reads a scenario file and binds it.
    pub fn load(
        &self,
        path: impl AsRef<std::path::Path>,
    ) -> Result<(Scenario, Box<dyn Runner>), ScenarioError> {
        let path = path.as_ref();
        let text = Scenario::read(path)?;
        self.parse(&text, path)
    }

    /// Parses scenario text (`path` is only for messages) and binds it.
    pub fn parse(
        &self,
        text: &str,
        path: &std::path::Path,
    ) -> Result<(Scenario, Box<dyn Runner>), ScenarioError> {
        let scenario = Scenario::parse(text, path)?;
        let runner = self.bind(&scenario, text)?;
        Ok((scenario, runner))
    }
}

fn entry<P: Catalogued>() -> Entry {
    Entry {
        name: P::NAME,
        summary: P::SUMMARY,
        bugs: P::Bug::ALL.iter().map(|b| (b.name(), b.describe())).collect(),
        probes: P::PROBES,
        model: P::MODEL,
        parameters: toml_lines(&P::default()),
        workload: toml_lines(&P::Workload::default()),
    }
}

/// A value's fields as `key = value` lines, nested tables inline; empty if
/// it has none.
fn toml_lines<T: serde::Serialize>(value: &T) -> Vec<String> {
    let Ok(toml::Value::Table(table)) = toml::Value::try_from(value) else { return Vec::new() };
    table.iter().map(|(key, value)| format!("{key} = {value}")).collect()
}
