//! Swarm mode in a scenario: `[nemesis] swarm = true` (or a
//! `[nemesis.swarm]` table of bounds, or `--swarm` on the command line)
//! makes every seed draw its own fault configuration with
//! [`SwarmBounds::draw`], and this module turns that draw back into the
//! plain `[network]`, `[storage]` and `[nemesis]` settings it amounts to, so
//! a swarm seed reads — and replays — as an ordinary scenario.

use sim_core::{Latency, Nemesis, NemesisKind, NetConfig, Probability, Seed, SwarmBounds, SwarmConfig};

use crate::scenario::{NemesisSpec, Scenario, exact};

/// The faults one seed runs with: the scenario's own, or what its swarm drew.
#[derive(Clone, Debug)]
pub struct SeedFaults {
    /// The network settings.
    pub net: NetConfig,
    /// The random nemesis, if any.
    pub nemesis: Option<Nemesis>,
    /// Chance a crash tears the last unsynced write.
    pub torn_writes: Probability,
    /// In swarm mode, what the seed drew (already applied to the fields above).
    pub swarm: Option<SwarmConfig>,
}

impl Scenario {
    /// The swarm bounds, when the scenario is in swarm mode.
    pub fn swarm(&self) -> Option<&SwarmBounds> {
        self.nemesis.as_ref().and_then(|n| n.swarm.as_ref())
    }

    /// Turns swarm mode on with the default bounds (`--swarm`), adding a
    /// `[nemesis]` that allows every kind if the scenario has none.
    pub fn enable_swarm(&mut self) {
        let nemesis = self.nemesis.get_or_insert_with(NemesisSpec::default);
        nemesis.swarm.get_or_insert_with(SwarmBounds::default);
    }

    /// The kinds a swarm may choose from: the scenario's `kinds`, else every
    /// kind in `allowed` (the protocol's), less those the cluster is too
    /// small for.
    pub fn swarm_kinds(&self, allowed: &[NemesisKind]) -> Vec<NemesisKind> {
        let listed = self.nemesis.as_ref().map(|n| n.kinds.as_slice()).unwrap_or_default();
        let kinds = if listed.is_empty() { allowed } else { listed };
        kinds.iter().copied().filter(|k| k.servers_min() <= self.cluster.servers).collect()
    }

    /// The faults seed `seed` runs with; `kinds` as [`Scenario::swarm_kinds`] gives them.
    pub fn seed_faults(&self, seed: u64, kinds: &[NemesisKind]) -> SeedFaults {
        let mut faults = SeedFaults {
            net: self.net_config(),
            nemesis: self.nemesis(),
            torn_writes: self.storage.torn_writes,
            swarm: None,
        };
        if let (Some(bounds), Some(base)) = (self.swarm(), &faults.nemesis) {
            let mut drawn = bounds.draw(Seed(seed), kinds, self.cluster.servers, base);
            // An election trigger the file states is kept, not drawn.
            if base.on_election.is_some() {
                drawn.nemesis.on_election = base.on_election.clone();
            }
            faults.net = NetConfig {
                latency: drawn.latency.clone(),
                loss: drawn.loss,
                duplicate: drawn.duplicate,
                ..faults.net
            };
            faults.nemesis = Some(drawn.nemesis.clone());
            faults.torn_writes = drawn.torn_writes;
            faults.swarm = Some(drawn);
        }
        faults
    }
}

/// The drawn configuration as `[network]`, `[storage]` and `[nemesis]`
/// tables (the network's `fifo` is the scenario's, passed in).
pub fn plain_tables(config: &SwarmConfig, fifo: bool) -> toml::Table {
    let duration = |d: sim_core::Duration| toml::Value::String(exact(d.as_nanos()));
    let probability = |p: Probability| toml::Value::Float(short(p));
    let mut network = toml::Table::new();
    network.insert("latency".into(), latency_value(&config.latency));
    network.insert("loss".into(), probability(config.loss));
    network.insert("duplicate".into(), probability(config.duplicate));
    network.insert("fifo".into(), toml::Value::Boolean(fifo));
    let mut storage = toml::Table::new();
    storage.insert("torn_writes".into(), probability(config.torn_writes));
    let n = &config.nemesis;
    let mut nemesis = toml::Table::new();
    let kinds = n.kinds.iter().map(|k| toml::Value::String(k.name().into())).collect();
    nemesis.insert("kinds".into(), toml::Value::Array(kinds));
    nemesis.insert(
        "weights".into(),
        toml::Value::Array(n.weights.iter().map(|&w| toml::Value::Integer(w.into())).collect()),
    );
    nemesis.insert("interval".into(), duration(n.interval));
    nemesis.insert("duration".into(), duration(n.duration));
    nemesis.insert("start".into(), duration(n.start.since(sim_core::Time::ZERO)));
    nemesis.insert("stop".into(), duration(n.stop.since(sim_core::Time::ZERO)));
    nemesis.insert("crash_max".into(), integer(n.crash_max as u64));
    nemesis.insert("split_groups_max".into(), integer(n.split_groups_max as u64));
    nemesis.insert("slow_factor".into(), integer(n.slow_factor));
    nemesis.insert("clock_jump_max".into(), duration(n.clock_jump_max));
    nemesis.insert("lanes".into(), integer(n.lanes as u64));
    if let Some(trigger) = &n.on_election {
        let mut table = toml::Table::new();
        let kinds = trigger.kinds.iter().map(|k| toml::Value::String(k.name().into())).collect();
        table.insert("kinds".into(), toml::Value::Array(kinds));
        table.insert("chance".into(), probability(trigger.chance));
        table.insert("delay_max".into(), duration(trigger.delay_max));
        table.insert("duration".into(), duration(trigger.duration));
        if let Some(after) = trigger.until_successor {
            table.insert("until_successor".into(), duration(after));
        }
        nemesis.insert("on_election".into(), toml::Value::Table(table));
    }
    let mut tables = toml::Table::new();
    tables.insert("network".into(), toml::Value::Table(network));
    tables.insert("storage".into(), toml::Value::Table(storage));
    tables.insert("nemesis".into(), toml::Value::Table(nemesis));
    tables
}

/// `p` as the shortest decimal that parses back to exactly `p`, when four
/// places do ("0.0123" rather than "0.012299999967217445").
fn short(p: Probability) -> f64 {
    let rounded = (p.as_f64() * 10_000.0).round() / 10_000.0;
    if Probability::from_f64(rounded) == p { rounded } else { p.as_f64() }
}

fn integer(n: u64) -> toml::Value {
    toml::Value::Integer(i64::try_from(n).unwrap_or(i64::MAX))
}

/// A drawn latency as the scenario's inline table (a swarm draws uniform ones).
fn latency_value(latency: &Latency) -> toml::Value {
    let mut table = toml::Table::new();
    match latency {
        Latency::Uniform { min, max } => {
            table.insert("distribution".into(), toml::Value::String("uniform".into()));
            table.insert("min".into(), toml::Value::String(exact(min.as_nanos())));
            table.insert("max".into(), toml::Value::String(exact(max.as_nanos())));
        }
        Latency::Constant { delay } => return toml::Value::String(exact(delay.as_nanos())),
        other => return toml::Value::try_from(other).expect("a latency is a table"),
    }
    toml::Value::Table(table)
}

/// The drawn configuration as scenario text to paste in place of `[nemesis]`.
pub fn plain_toml(config: &SwarmConfig, fifo: bool) -> String {
    toml::to_string(&plain_tables(config, fifo)).expect("plain tables serialise")
}

/// Scenario text with swarm mode replaced by what seed's swarm drew: the
/// same run, as a plain scenario. Other keys of `[network]` and `[storage]`
/// are kept.
pub fn plain_text(text: &str, config: &SwarmConfig) -> Result<String, String> {
    let mut table: toml::Table = toml::from_str(text).map_err(|e| e.message().to_string())?;
    let fifo =
        table.get("network").and_then(|n| n.get("fifo")).and_then(toml::Value::as_bool).unwrap_or(false);
    for (name, plain) in plain_tables(config, fifo) {
        let toml::Value::Table(plain) = plain else { unreachable!("plain_tables holds tables") };
        match (name.as_str(), table.get_mut(&name)) {
            ("nemesis", _) | (_, None) => {
                table.insert(name, toml::Value::Table(plain));
            }
            (_, Some(toml::Value::Table(existing))) => existing.extend(plain),
            (_, Some(other)) => *other = toml::Value::Table(plain),
        }
    }
    toml::to_string(&table).map_err(|e| e.to_string())
}

/// Scenario text with swarm mode switched on (`--swarm`), for commands that
/// work on the text itself, such as `orrery shrink`.
pub fn swarm_text(text: &str) -> Result<String, String> {
    let mut table: toml::Table = toml::from_str(text).map_err(|e| e.message().to_string())?;
    let nemesis = table.entry("nemesis").or_insert_with(|| toml::Value::Table(toml::Table::new()));
    if let toml::Value::Table(nemesis) = nemesis
        && !nemesis.get("swarm").is_some_and(toml::Value::is_table)
    {
        nemesis.insert("swarm".into(), toml::Value::Boolean(true));
    }
    toml::to_string(&table).map_err(|e| e.to_string())
}

/// One line about a drawn configuration, for a run's summary.
pub fn describe(config: &SwarmConfig) -> String {
    let n = &config.nemesis;
    let kinds: Vec<String> = n.kinds.iter().zip(&n.weights).map(|(k, w)| format!("{k}:{w}")).collect();
    let trigger = n.on_election.as_ref().map_or(String::new(), |t| {
        let kinds: Vec<&str> = t.kinds.iter().map(|k| k.name()).collect();
        let successor =
            t.until_successor.map_or(String::new(), |after| format!(" or until {after} after a successor"));
        format!(
            "; on {:.0}% of elections {} within {} for {}{successor}",
            t.chance.as_f64() * 100.0,
            kinds.join("/"),
            t.delay_max,
            t.duration
        )
    });
    format!(
        "kinds {} (weights){trigger}; {} {}, every {} for {}, crash up to {}, split into up to {}, slow x{}, clock jumps to {}; latency {}, loss {:.2}%, duplicate {:.2}%, torn writes {:.2}%",
        kinds.join(", "),
        n.lanes,
        if n.lanes == 1 { "lane" } else { "lanes" },
        n.interval,
        n.duration,
        n.crash_max,
        n.split_groups_max,
        n.slow_factor,
        n.clock_jump_max,
        match &config.latency {
            Latency::Uniform { min, max } => format!("{min}..{max}"),
            other => format!("{other:?}"),
        },
        config.loss.as_f64() * 100.0,
        config.duplicate.as_f64() * 100.0,
        config.torn_writes.as_f64() * 100.0,
    )
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use sim_core::TraceSink;

    use super::*;
    use crate::Registry;

    const RAFT: &str = "scenarios/swarm/raft.toml";

    #[test]
    fn a_swarm_seed_replays_exactly_as_the_plain_scenario_it_prints() {
        let registry = Registry::builtin();
        let text = Scenario::read(Path::new(RAFT)).unwrap();
        let (_, runner) = registry.parse(&text, Path::new(RAFT)).unwrap();
        let mut configs = Vec::new();
        for seed in 0..6 {
            let (outcome, _) = runner.run(seed, TraceSink::Hash).unwrap();
            let config = outcome.swarm.clone().expect("a swarm seed reports its draw");
            let plain = plain_text(&text, &config).unwrap();
            let (scenario, plain_runner) = registry.parse(&plain, Path::new("plain.toml")).unwrap();
            assert!(scenario.swarm().is_none(), "seed={seed}: the plain scenario is not in swarm mode");
            let (replayed, _) = plain_runner.run(seed, TraceSink::Hash).unwrap();
            assert_eq!(replayed.trace_hash, outcome.trace_hash, "seed={seed}\n{plain}");
            assert_eq!(replayed.faults, outcome.faults, "seed={seed}");
            configs.push(config);
        }
        configs.dedup();
        assert_eq!(configs.len(), 6, "every seed drew its own configuration");
    }

    #[test]
    fn a_swarm_seed_shrinks_to_a_plain_scenario_that_fails_the_same_way() {
        let registry = Registry::builtin();
        let text = Scenario::read(Path::new(RAFT))
            .unwrap()
            .replace("read_mode = \"log\"", "read_mode = \"log\"\nbugs = [\"stale-read\"]");
        let (_, runner) = registry.parse(&text, Path::new(RAFT)).unwrap();
        let seed = (0..50).find(|&s| runner.run(s, TraceSink::Hash).unwrap().0.status == crate::Status::Fail);
        let seed = seed.expect("stale-read fails within 50 swarm seeds");
        let options = crate::shrink::Options { runs_max: 40, jobs: 1, ..crate::shrink::Options::default() };
        let shrunk = crate::shrink::shrink_text(&registry, Path::new(RAFT), &text, seed, &options).unwrap();
        let (scenario, plain) = registry.parse(&shrunk.text, Path::new("shrunk.toml")).unwrap();
        assert!(scenario.swarm().is_none() && scenario.nemesis.is_none(), "{}", shrunk.text);
        let (outcome, _) = plain.run(shrunk.seed, TraceSink::Hash).unwrap();
        assert_eq!(outcome.signature.as_deref(), Some(shrunk.signature.as_str()), "{}", shrunk.text);
        assert!(shrunk.after.faults <= shrunk.before.faults);
    }

    #[test]
    fn an_election_trigger_the_file_states_is_kept_in_swarm_mode() {
        let text = format!(
            "{}\n[nemesis.on_election]\nkinds = [\"crash\"]\nchance = 0.25\n",
            Scenario::read(Path::new(RAFT)).unwrap()
        );
        let scenario = Scenario::parse(&text, Path::new("kept.toml")).unwrap();
        let stated = scenario.nemesis().unwrap().on_election.expect("the file's trigger");
        for seed in 0..8 {
            let faults = scenario.seed_faults(seed, &NemesisKind::ALL);
            assert_eq!(faults.nemesis.unwrap().on_election.as_ref(), Some(&stated), "seed={seed}");
            assert!(faults.swarm.unwrap().nemesis.on_election.is_some_and(|t| t == stated));
        }
    }

    #[test]
    fn printed_probabilities_are_short_and_exact() {
        let p = Probability::from_f64(0.0123);
        assert_eq!(short(p), 0.0123);
        assert_eq!(Probability::from_f64(short(p)), p);
        let odd = Probability::ratio(1, 3);
        assert_eq!(Probability::from_f64(short(odd)), odd);
    }

    #[test]
    fn the_swarm_flag_turns_any_scenario_into_a_swarm() {
        let registry = Registry::builtin();
        let path = Path::new("scenarios/raft-nemesis.toml");
        let text = swarm_text(&Scenario::read(path).unwrap()).unwrap();
        let (scenario, runner) = registry.parse(&text, path).unwrap();
        assert!(scenario.swarm().is_some());
        let (outcome, _) = runner.run(1, TraceSink::Hash).unwrap();
        let kinds = &outcome.swarm.expect("drawn").nemesis.kinds;
        let listed = &scenario.nemesis.as_ref().unwrap().kinds;
        assert!(kinds.iter().all(|k| listed.contains(k)), "the file's kinds bound the draw: {kinds:?}");
        let mut bare =
            Scenario::parse("name = \"x\"\nexpect = \"pass\"\n[protocol]\nname = \"raft\"\n", path).unwrap();
        bare.enable_swarm();
        assert_eq!(
            bare.swarm_kinds(&NemesisKind::ALL),
            NemesisKind::ALL.to_vec(),
            "no [nemesis]: every kind"
        );
    }

    fn error(swarm: &str) -> crate::ScenarioError {
        let text = format!("name = \"x\"\nexpect = \"pass\"\n[protocol]\nname = \"raft\"\n\n{swarm}");
        Scenario::parse(&text, Path::new("s.toml")).unwrap_err()
    }

    #[test]
    fn a_malformed_swarm_key_is_a_located_error() {
        let e = error("[nemesis.swarm]\nduration_min = \"1ms\"\nduraton_max = \"1s\"\n");
        assert_eq!((e.line, e.field.as_deref()), (Some(8), Some("nemesis.swarm.duraton_max")), "{e}");
        assert!(e.message.contains("did you mean `duration_max`?"), "{e}");
        let e = error("[nemesis.swarm]\ninterval_min = \"3s\"\n");
        assert_eq!((e.line, e.field.as_deref()), (Some(7), Some("nemesis.swarm.interval_min")), "{e}");
        assert!(e.message.contains("above its maximum"), "{e}");
        let e = error("[nemesis]\nswarm = 3\n");
        assert_eq!((e.line, e.field.as_deref()), (Some(7), Some("nemesis.swarm")), "{e}");
        let e = error("[nemesis]\nkinds = [\"crash\", \"split\"]\nweights = [1]\n");
        assert_eq!((e.line, e.field.as_deref()), (Some(8), Some("nemesis.weights")), "{e}");
    }
}
