//! Scenario files: one TOML file says everything about a run.
//!
//! Parsing is strict (unknown keys are errors, with a suggestion) and every
//! error names the file, line, column and field.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::{Expect, ModelKind};

use serde::Deserialize;
use serde::de::{self, DeserializeOwned, Deserializer, MapAccess, Visitor};
use sim_core::{
    Cut, Duration, ElectionKind, Fault, FaultSchedule, Latency, Nemesis, NemesisKind, NetConfig, NodeId,
    OnElection, Pacing, Probability, SwarmBounds, Time, Topology,
};

/// A parsed, validated scenario.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name, used in reports.
    pub name: String,
    /// One line saying what the scenario shows.
    #[serde(default)]
    pub description: String,
    /// The verdict the scenario expects.
    pub expect: Expect,
    /// The seed `orrery run` uses when none is given.
    #[serde(default)]
    pub seed: u64,
    /// The seeds `orrery sweep` runs when none are given, e.g. "0..200"; a
    /// scenario demonstrating a rare bug says how far to look.
    pub seeds: Option<String>,
    /// The protocol and its parameters.
    pub protocol: ProtocolSpec,
    /// Servers and where they sit.
    #[serde(default)]
    pub cluster: ClusterSpec,
    /// Latency, loss, duplication.
    #[serde(default)]
    pub network: NetworkSpec,
    /// Clients and what they do.
    #[serde(default)]
    pub workload: WorkloadSpec,
    /// Explicit, timed faults.
    #[serde(default)]
    pub faults: Vec<FaultSpec>,
    /// A random nemesis.
    pub nemesis: Option<NemesisSpec>,
    /// Crash effects on storage.
    #[serde(default)]
    pub storage: StorageSpec,
    /// Run limits.
    #[serde(default)]
    pub limits: LimitsSpec,
    /// Which checks to apply.
    #[serde(default)]
    pub checks: ChecksSpec,
    /// Where the file came from (set after parsing).
    #[serde(skip)]
    pub path: PathBuf,
}

/// Most servers a scenario may have: per-link state grows with the square of the node count.
pub const SERVERS_MAX: usize = 1000;
/// Most clients a scenario may have.
pub const CLIENTS_MAX: usize = 10_000;
pub use sim_core::HORIZON_MAX;

/// `[protocol]`: a name, and parameters the protocol itself validates.
#[derive(Clone, Debug, Deserialize)]
pub struct ProtocolSpec {
    /// The protocol's name, e.g. "raft".
    pub name: String,
    /// Everything else in the table.
    #[serde(flatten)]
    pub params: toml::Table,
}

/// `[cluster]`: how many servers, and optionally zones and links.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSpec {
    /// Number of servers.
    #[serde(default = "default_servers")]
    pub servers: usize,
    /// Latency between nodes in the same rack (when zones are given).
    #[serde(default = "default_rack_latency")]
    pub rack_latency: LatencySpec,
    /// Zones; servers are placed round-robin over them, clients in the first.
    #[serde(default)]
    pub zones: Vec<ZoneSpec>,
    /// Links between zones.
    #[serde(default)]
    pub links: Vec<LinkSpec>,
}

fn default_servers() -> usize {
    3
}

fn default_rack_latency() -> LatencySpec {
    LatencySpec(Latency::constant(Duration::from_micros(200)))
}

impl Default for ClusterSpec {
    fn default() -> ClusterSpec {
        ClusterSpec { servers: 3, rack_latency: default_rack_latency(), zones: Vec::new(), links: Vec::new() }
    }
}

/// One zone.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneSpec {
    /// Its name.
    pub name: String,
    /// Latency between racks inside it.
    pub latency: LatencySpec,
    /// Racks servers are spread over inside it.
    #[serde(default = "one")]
    pub racks: u32,
}

fn one() -> u32 {
    1
}

/// A link between two zones.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    /// The two zones.
    pub between: [String; 2],
    /// The link's latency.
    pub latency: LatencySpec,
}

/// A latency: `"5ms"` for a constant, or a table such as
/// `{ distribution = "uniform", min = "1ms", max = "5ms" }`.
#[derive(Clone, Debug, PartialEq)]
pub struct LatencySpec(pub Latency);

impl<'de> Deserialize<'de> for LatencySpec {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<LatencySpec, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LatencySpec;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a duration like \"5ms\" or a table like { distribution = \"uniform\", min = \"1ms\", max = \"5ms\" }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<LatencySpec, E> {
                v.parse().map(|d| LatencySpec(Latency::constant(d))).map_err(E::custom)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<LatencySpec, A::Error> {
                let latency = Latency::deserialize(de::value::MapAccessDeserializer::new(map))?;
                latency.validate().map_err(de::Error::custom)?;
                Ok(LatencySpec(latency))
            }
        }
        d.deserialize_any(V)
    }
}

/// `[network]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NetworkSpec {
    /// Delay between nodes (when there are no zones).
    #[serde(default = "default_latency")]
    pub latency: LatencySpec,
    /// Chance a message is lost: 0.01 or "1%".
    #[serde(default)]
    pub loss: Probability,
    /// Chance a message is delivered twice.
    #[serde(default)]
    pub duplicate: Probability,
    /// Keep each link in order, like TCP.
    #[serde(default)]
    pub fifo: bool,
}

fn default_latency() -> LatencySpec {
    LatencySpec(Latency::Uniform { min: Duration::from_micros(500), max: Duration::from_millis(2) })
}

impl Default for NetworkSpec {
    fn default() -> NetworkSpec {
        NetworkSpec {
            latency: default_latency(),
            loss: Probability::NEVER,
            duplicate: Probability::NEVER,
            fifo: false,
        }
    }
}

/// A rate such as "200/s" or "5/ms".
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    /// Mean time between events.
    pub period: Duration,
}

impl<'de> Deserialize<'de> for Rate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Rate, D::Error> {
        let text = String::deserialize(d)?;
        parse_rate(&text).map_err(de::Error::custom)
    }
}

fn parse_rate(text: &str) -> Result<Rate, String> {
    let bad = || format!("invalid rate {text:?}: expected a count per unit, like \"200/s\"");
    let (count, unit) = text.split_once('/').ok_or_else(bad)?;
    let count: f64 = count.trim().parse().map_err(|_| bad())?;
    let unit: Duration = format!("1{}", unit.trim()).parse().map_err(|_| bad())?;
    if !(count.is_finite() && count > 0.0) {
        return Err(bad());
    }
    Ok(Rate { period: Duration::from_nanos((unit.as_nanos() as f64 / count) as u64) })
}

/// `[workload]`: closed-loop clients. The pacing keys are the engine's; the
/// rest (e.g. `keys`, `values`, `mix` for register operations) belong to the
/// protocol's workload.
#[derive(Clone, Debug, Deserialize)]
pub struct WorkloadSpec {
    /// Number of clients.
    #[serde(default = "default_clients")]
    pub clients: usize,
    /// Pause between a client's operations (mutually exclusive with `rate`).
    pub think: Option<LatencySpec>,
    /// Each client's mean operation rate, e.g. "50/s" (exponential think time).
    pub rate: Option<Rate>,
    /// How long clients keep issuing operations.
    #[serde(default = "default_duration")]
    pub duration: Duration,
    /// An operation unanswered this long is recorded as `info`.
    #[serde(default = "default_timeout")]
    pub timeout: Duration,
    /// The protocol workload's own parameters.
    #[serde(flatten)]
    pub params: toml::Table,
}

fn default_clients() -> usize {
    3
}
fn default_duration() -> Duration {
    Pacing::default().duration
}
fn default_timeout() -> Duration {
    Pacing::default().timeout.expect("a default timeout")
}

impl Default for WorkloadSpec {
    fn default() -> WorkloadSpec {
        WorkloadSpec {
            clients: default_clients(),
            think: None,
            rate: None,
            duration: default_duration(),
            timeout: default_timeout(),
            params: toml::Table::new(),
        }
    }
}

impl WorkloadSpec {
    /// The think-time distribution the clients use.
    pub fn think_latency(&self) -> Latency {
        match (&self.think, self.rate) {
            (Some(think), _) => think.0.clone(),
            (None, Some(rate)) => Latency::Exponential { mean: rate.period, min: Duration::ZERO },
            (None, None) => Pacing::default().think,
        }
    }
}

/// A node named in a scenario: `"n2"` or `2`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeRef(pub NodeId);

impl<'de> Deserialize<'de> for NodeRef {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<NodeRef, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = NodeRef;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a node such as \"n2\" or 2, or \"leader\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<NodeRef, E> {
                u32::try_from(v).map(|n| NodeRef(NodeId(n))).map_err(|_| E::custom(format!("no node {v}")))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<NodeRef, E> {
                if v == "leader" {
                    return Ok(NodeRef(NodeId::LEADER));
                }
                v.strip_prefix('n').and_then(|n| n.parse().ok()).map(|n| NodeRef(NodeId(n))).ok_or_else(
                    || E::custom(format!("invalid node {v:?}: expected a name like \"n2\", or \"leader\"")),
                )
            }
        }
        d.deserialize_any(V)
    }
}

/// A bridge partition's shape.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BridgeSpec {
    /// One side.
    pub left: Vec<NodeRef>,
    /// The node talking to both sides.
    pub bridge: NodeRef,
    /// The other side.
    pub right: Vec<NodeRef>,
}

/// A one-way cut's shape.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OneWaySpec {
    /// Senders whose messages are lost.
    pub from: Vec<NodeRef>,
    /// Receivers that do not hear them.
    pub to: Vec<NodeRef>,
}

/// The partition a `mend` undoes, written as the partition was.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct MendSpec {
    /// An isolation of this node.
    pub isolate: Option<NodeRef>,
    /// A split between these groups.
    pub split: Option<Vec<Vec<NodeRef>>>,
    /// A bridge partition.
    pub bridge: Option<BridgeSpec>,
    /// A one-way cut.
    pub one_way: Option<OneWaySpec>,
}

/// One entry of `faults = [...]`: a time and exactly one action.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct FaultSpec {
    /// When, from the start of the run.
    pub at: Duration,
    /// Crash this server.
    pub crash: Option<NodeRef>,
    /// Restart this server.
    pub restart: Option<NodeRef>,
    /// Pause this node.
    pub pause: Option<NodeRef>,
    /// Resume this node.
    pub resume: Option<NodeRef>,
    /// Cut this node off from everyone.
    pub isolate: Option<NodeRef>,
    /// Cut between these groups of nodes.
    pub split: Option<Vec<Vec<NodeRef>>>,
    /// Jepsen's bridge partition.
    pub bridge: Option<BridgeSpec>,
    /// A one-way cut.
    pub one_way: Option<OneWaySpec>,
    /// Remove every cut and slow link.
    pub heal: Option<bool>,
    /// Undo one earlier partition, leaving any other in place.
    pub mend: Option<MendSpec>,
    /// Slow this node's links down.
    pub slow: Option<NodeRef>,
    /// How much slower (with `slow`; default 10).
    pub factor: Option<u64>,
    /// Jump this node's clock.
    pub clock_jump: Option<NodeRef>,
    /// The clock's new offset from true time, e.g. "+2s" or "-500ms" (with `clock-jump`).
    pub offset: Option<String>,
}

impl FaultSpec {
    /// The fault this entry describes. Every field is taken apart here, so a
    /// new action does not compile until it is read; [`schedule_toml`]
    /// matches every [`Fault`], so a new fault does not compile until it is
    /// written; the reference's test checks every action is documented.
    pub fn to_fault(&self) -> Result<Fault, String> {
        let FaultSpec {
            at: _,
            crash,
            restart,
            pause,
            resume,
            isolate,
            split,
            bridge,
            one_way,
            heal,
            mend,
            slow,
            factor,
            clock_jump,
            offset,
        } = self;
        let ids = |nodes: &[NodeRef]| nodes.iter().map(|n| n.0).collect::<Vec<_>>();
        let mut faults = Vec::new();
        faults.extend(crash.map(|n| Fault::Crash { node: n.0 }));
        faults.extend(restart.map(|n| Fault::Restart { node: n.0 }));
        faults.extend(pause.map(|n| Fault::Pause { node: n.0 }));
        faults.extend(resume.map(|n| Fault::Resume { node: n.0 }));
        faults.extend(isolate.map(|n| Fault::Partition { cut: Cut::Isolate { node: n.0 } }));
        if let Some(groups) = split {
            let leader_alone = groups.len() == 1 && groups[0].len() == 1 && groups[0][0].0.is_leader_aim();
            if (groups.len() < 2 && !leader_alone) || groups.iter().any(Vec::is_empty) {
                return Err(
                    "`split` needs at least two non-empty groups, like [[\"n0\"], [\"n1\", \"n2\"]], or [[\"leader\"]] alone".into()
                );
            }
            faults.push(Fault::Partition {
                cut: Cut::Split { groups: groups.iter().map(|g| ids(g)).collect() },
            });
        }
        if let Some(b) = bridge {
            faults.push(Fault::Partition {
                cut: Cut::Bridge { left: ids(&b.left), bridge: b.bridge.0, right: ids(&b.right) },
            });
        }
        if let Some(w) = one_way {
            faults.push(Fault::Partition { cut: Cut::OneWay { from: ids(&w.from), to: ids(&w.to) } });
        }
        match heal {
            Some(true) => faults.push(Fault::Heal),
            Some(false) => {
                return Err("`heal = false` does nothing; write `heal = true` or leave it out".into());
            }
            None => {}
        }
        if let Some(m) = mend {
            faults.push(m.to_fault()?);
        }
        match (slow, factor) {
            (Some(n), factor) => {
                let factor = factor.unwrap_or(Nemesis::SLOW_FACTOR);
                if !(1..=1_000_000).contains(&factor) {
                    return Err(format!(
                        "`factor` must be between 1 (normal speed again) and 1000000, not {factor}"
                    ));
                }
                faults.push(Fault::Slow { node: n.0, factor });
            }
            (None, Some(_)) => return Err("`factor` only goes with `slow`".into()),
            (None, None) => {}
        }
        match (clock_jump, offset) {
            (Some(n), Some(offset)) => {
                faults.push(Fault::ClockJump { node: n.0, offset: parse_offset(offset)? })
            }
            (Some(_), None) => return Err("`clock-jump` needs an `offset`, like \"+2s\"".into()),
            (None, Some(_)) => return Err("`offset` only goes with `clock-jump`".into()),
            (None, None) => {}
        }
        match faults.len() {
            1 => Ok(faults.remove(0)),
            0 => Err("a fault needs one action: crash, restart, pause, resume, isolate, split, bridge, one-way, heal, mend, slow or clock-jump".into()),
            _ => Err("a fault entry takes exactly one action; write two entries at the same time instead".into()),
        }
    }
}

impl MendSpec {
    /// The mend of the one partition this names, checked as that partition is.
    fn to_fault(&self) -> Result<Fault, String> {
        let MendSpec { isolate, split, bridge, one_way } = self.clone();
        let partition = FaultSpec {
            at: Duration::ZERO,
            crash: None,
            restart: None,
            pause: None,
            resume: None,
            isolate,
            split,
            bridge,
            one_way,
            heal: None,
            mend: None,
            slow: None,
            factor: None,
            clock_jump: None,
            offset: None,
        };
        match partition.to_fault() {
            Ok(Fault::Partition { cut }) => Ok(Fault::Mend { cut }),
            Ok(other) => unreachable!("a mend spec holds only a partition, not {other}"),
            Err(e) if e.starts_with("a fault needs one action") => {
                Err("`mend` names the partition it undoes: isolate, split, bridge or one-way, like mend = { isolate = \"n2\" }".into())
            }
            Err(e) if e.starts_with("a fault entry takes exactly one action") => {
                Err("`mend` undoes one partition: name only one of isolate, split, bridge or one-way".into())
            }
            Err(e) => Err(e),
        }
    }
}

fn parse_offset(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let (sign, rest) = match text.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text.strip_prefix('+').unwrap_or(text)),
    };
    let d: Duration = rest.parse().map_err(|e| format!("invalid offset {text:?}: {e}"))?;
    i64::try_from(d.as_nanos()).map(|n| sign * n).map_err(|_| format!("offset {text:?} is too large"))
}

/// `[nemesis]`: random faults drawn from the seed.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NemesisSpec {
    /// Kinds to choose from: crash, pause, isolate, split, bridge, one-way,
    /// slow, clock-jump. Required unless in swarm mode, where empty means
    /// every kind the protocol allows.
    #[serde(default)]
    pub kinds: Vec<NemesisKind>,
    /// Relative weight of each of `kinds`, in the same order (empty: equal).
    #[serde(default)]
    pub weights: Vec<u32>,
    /// Mean quiet time between episodes.
    #[serde(default = "default_interval")]
    pub interval: Duration,
    /// Mean length of an episode.
    #[serde(default = "default_episode")]
    pub duration: Duration,
    /// No episode before this.
    #[serde(default)]
    pub start: Duration,
    /// Everything repaired by this (default: one second before the workload ends).
    pub stop: Option<Duration>,
    /// Most servers a crash episode takes down (default: a minority).
    #[serde(default)]
    pub crash_max: usize,
    /// Slowdown of a slow episode.
    #[serde(default = "default_factor")]
    pub slow_factor: u64,
    /// Largest clock jump of a clock-jump episode, either way.
    #[serde(default = "default_clock_jump_max")]
    pub clock_jump_max: Duration,
    /// Most groups a split episode makes (2: a majority and a minority).
    #[serde(default = "default_split_groups_max")]
    pub split_groups_max: usize,
    /// Independent lanes of episodes that run at once (1: no overlap).
    #[serde(default = "default_lanes")]
    pub lanes: usize,
    /// `[nemesis.on_election]`: episodes started by elections (for a
    /// protocol with a leader).
    pub on_election: Option<OnElectionSpec>,
    /// Swarm mode: `true` (default bounds) or a `[nemesis.swarm]` table of
    /// bounds; each seed then draws every setting above but `kinds`,
    /// `start` and `stop` itself, and the network's and storage's noise.
    #[serde(default, deserialize_with = "swarm_setting")]
    pub swarm: Option<SwarmBounds>,
}

impl Default for NemesisSpec {
    /// No kinds listed (so, in swarm mode, every kind) and the documented defaults.
    fn default() -> NemesisSpec {
        NemesisSpec {
            kinds: Vec::new(),
            weights: Vec::new(),
            interval: default_interval(),
            duration: default_episode(),
            start: Duration::ZERO,
            stop: None,
            crash_max: 0,
            slow_factor: default_factor(),
            clock_jump_max: default_clock_jump_max(),
            split_groups_max: default_split_groups_max(),
            lanes: default_lanes(),
            on_election: None,
            swarm: None,
        }
    }
}

/// `[nemesis.on_election]`: what happens to a server that has just won an
/// election (see [`OnElection`]).
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnElectionSpec {
    /// What to do to the new leader: split, crash, crash-majority (default: all three).
    #[serde(default = "all_election_kinds")]
    pub kinds: Vec<ElectionKind>,
    /// The chance an election starts an episode (default 1).
    #[serde(default = "always")]
    pub chance: Probability,
    /// Longest wait between the election and the episode (default 10ms).
    #[serde(default = "default_election_delay")]
    pub delay_max: Duration,
    /// Mean length of an episode (default 300ms).
    #[serde(default = "default_election_episode")]
    pub duration: Duration,
    /// End an episode this long after another server wins an election, if
    /// that comes first (default: only `duration` ends it).
    #[serde(default)]
    pub until_successor: Option<Duration>,
}

impl OnElectionSpec {
    /// The trigger this table describes.
    pub fn to_trigger(&self) -> OnElection {
        OnElection {
            kinds: self.kinds.clone(),
            chance: self.chance,
            delay_max: self.delay_max,
            duration: self.duration,
            until_successor: self.until_successor,
        }
    }
}

fn all_election_kinds() -> Vec<ElectionKind> {
    ElectionKind::ALL.to_vec()
}

fn always() -> Probability {
    Probability::ALWAYS
}

fn default_election_delay() -> Duration {
    Duration::from_millis(10)
}

fn default_election_episode() -> Duration {
    Duration::from_millis(300)
}

fn default_lanes() -> usize {
    1
}

fn default_split_groups_max() -> usize {
    Nemesis::SPLIT_GROUPS_MAX
}

/// `swarm = true | false`, or a table of bounds (which turns swarm mode on).
fn swarm_setting<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SwarmBounds>, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Option<SwarmBounds>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("true, false, or a table of bounds like { duration_max = \"1s\" }")
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Option<SwarmBounds>, E> {
            Ok(v.then(SwarmBounds::default))
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Option<SwarmBounds>, A::Error> {
            SwarmBounds::deserialize(de::value::MapAccessDeserializer::new(map)).map(Some)
        }
    }
    d.deserialize_any(V)
}

fn default_interval() -> Duration {
    Duration::from_secs(1)
}
fn default_episode() -> Duration {
    Duration::from_millis(800)
}
fn default_factor() -> u64 {
    Nemesis::SLOW_FACTOR
}
fn default_clock_jump_max() -> Duration {
    Nemesis::CLOCK_JUMP_MAX
}

/// `[storage]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StorageSpec {
    /// Chance a crash tears the last unsynced write.
    #[serde(default)]
    pub torn_writes: Probability,
}

/// `[limits]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsSpec {
    /// Most events in one run.
    #[serde(default = "default_events")]
    pub events: u64,
    /// Latest virtual time (default: workload duration plus a margin).
    pub time: Option<Duration>,
    /// Most memory a run may need, e.g. "512MiB" or "2GiB": a larger run is
    /// refused before it allocates, saying what to lower.
    #[serde(default = "default_memory", deserialize_with = "byte_size")]
    pub memory: u64,
}

fn default_memory() -> u64 {
    sim_core::Limits::default().memory_max
}

fn byte_size<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    let text = String::deserialize(d)?;
    let bad = || {
        de::Error::custom(format!(
            "invalid size {text:?}: expected a number and a unit, like \"512MiB\" or \"2GiB\""
        ))
    };
    let split = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number.parse().map_err(|_| bad())?;
    let scale: u64 = match unit.trim() {
        "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => return Err(bad()),
    };
    number.checked_mul(scale).filter(|&n| n > 0).ok_or_else(bad)
}

fn default_events() -> u64 {
    sim_core::Limits::default().events_max
}

impl Default for LimitsSpec {
    fn default() -> LimitsSpec {
        LimitsSpec { events: default_events(), time: None, memory: default_memory() }
    }
}

/// `[checks]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChecksSpec {
    /// Check linearizability of the history.
    #[serde(default = "yes")]
    pub linearizable: bool,
    /// The model (default: the protocol's own); "none" turns the check off.
    #[serde(default, deserialize_with = "model_choice")]
    pub model: Option<Option<ModelKind>>,
    /// Availability thresholds, if availability is checked.
    pub availability: Option<AvailabilitySpec>,
}

fn yes() -> bool {
    true
}

fn model_choice<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<ModelKind>>, D::Error> {
    let name = String::deserialize(d)?;
    if name == "none" {
        return Ok(Some(None));
    }
    name.parse().map(|m| Some(Some(m))).map_err(|e: String| de::Error::custom(format!("{e}, or none")))
}

impl Default for ChecksSpec {
    fn default() -> ChecksSpec {
        ChecksSpec { linearizable: true, model: None, availability: None }
    }
}

/// `[checks.availability]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AvailabilitySpec {
    /// Lowest fraction of operations that must succeed.
    pub success_min: Option<f64>,
    /// Highest 99th percentile latency of successful operations.
    pub p99_max: Option<Duration>,
    /// Longest window without any success.
    pub unavailable_max: Option<Duration>,
    /// Longest time from the last repair to the first success.
    pub recovery_max: Option<Duration>,
}

/// A scenario that could not be read, with where and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    /// The file.
    pub path: PathBuf,
    /// 1-based line, if known.
    pub line: Option<usize>,
    /// 1-based column, if known.
    pub column: Option<usize>,
    /// The dotted field, if known.
    pub field: Option<String>,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        if let Some(field) = &self.field {
            write!(f, ": field `{field}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for ScenarioError {}

impl Scenario {
    /// Reads and validates a scenario file (without binding it to a protocol).
    pub fn load(path: &Path) -> Result<Scenario, ScenarioError> {
        Scenario::parse(&Scenario::read(path)?, path)
    }

    /// A scenario file's text.
    pub fn read(path: &Path) -> Result<String, ScenarioError> {
        let bytes = read_regular_file(path).map(String::into_bytes).or_else(|e| {
            if e.kind() == std::io::ErrorKind::InvalidData { std::fs::read(path) } else { Err(e) }
        });
        let bytes = bytes.map_err(|e| ScenarioError {
            path: path.to_path_buf(),
            line: None,
            column: None,
            field: None,
            message: format!("cannot read: {e}"),
        })?;
        String::from_utf8(bytes).map_err(|e| {
            let offset = e.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(&e.into_bytes()[..offset]).into_owned();
            let (line, column) = line_column(&text, offset);
            ScenarioError {
                path: path.to_path_buf(),
                line: Some(line),
                column: Some(column),
                field: field_at(&text, line),
                message: "the file is not UTF-8 text".into(),
            }
        })
    }

    /// An error about `field` (dotted from the root), placed at its line in `text`.
    pub fn error_at(&self, text: &str, field: &str, message: impl Into<String>) -> ScenarioError {
        at_field(text, &self.path, field, message.into())
    }

    /// The `[protocol]` table (less `name`) as the protocol's own settings.
    pub fn protocol_table<P: DeserializeOwned>(&self, text: &str) -> Result<P, ScenarioError> {
        let table = toml::Value::Table(self.protocol.params.clone());
        P::deserialize(table).map_err(|e| place(self, text, "protocol", e.message().trim()))
    }

    /// The `[workload]` table (less the pacing keys) as the protocol's workload.
    pub fn workload_table<W: DeserializeOwned>(&self, text: &str) -> Result<W, ScenarioError> {
        let table = toml::Value::Table(self.workload.params.clone());
        W::deserialize(table).map_err(|e| place(self, text, "workload", e.message().trim()))
    }

    /// Parses and validates scenario text; `path` is only for messages.
    pub fn parse(text: &str, path: &Path) -> Result<Scenario, ScenarioError> {
        let mut scenario: Scenario = toml::from_str(text).map_err(|e| toml_error(text, path, &e))?;
        scenario.path = path.to_path_buf();
        scenario.validate().map_err(|(field, message)| at_field(text, path, &field, message))?;
        Ok(scenario)
    }

    fn validate(&self) -> Result<(), (String, String)> {
        let err = |field: &str, message: String| Err((field.to_string(), message));
        if let Some(seeds) = &self.seeds
            && parse_seeds(seeds).is_none()
        {
            return err(
                "seeds",
                format!("invalid seed range {seeds:?}: expected A..B with A < B, like \"0..200\""),
            );
        }
        self.validate_ranges()?;
        if self.workload.think.is_some() && self.workload.rate.is_some() {
            return err("workload.rate", "give either `think` or `rate`, not both".into());
        }
        let nodes = self.cluster.servers + self.workload.clients;
        for (i, fault) in self.faults.iter().enumerate() {
            let fault = fault.to_fault().map_err(|m| (format!("faults[{i}]"), m))?;
            fault.check_leader_aim().map_err(|m| (format!("faults[{i}]"), m))?;
            for node in fault.nodes() {
                if node.index() >= nodes && !node.is_leader_aim() {
                    return err(
                        &format!("faults[{i}]"),
                        format!(
                            "{node} does not exist: there are {nodes} nodes (servers n0..n{}, then clients)",
                            self.cluster.servers - 1
                        ),
                    );
                }
            }
            if matches!(fault, Fault::Crash { node } | Fault::Restart { node }
                if node.index() >= self.cluster.servers && !node.is_leader_aim())
            {
                return err(&format!("faults[{i}]"), "only servers can crash and restart".into());
            }
        }
        if let Err((sorted, message)) = self.schedule().check_leader_aims() {
            return err(&format!("faults[{}]", self.fault_in_file(sorted)), message);
        }
        let zones: Vec<&str> = self.cluster.zones.iter().map(|z| z.name.as_str()).collect();
        for (i, link) in self.cluster.links.iter().enumerate() {
            for zone in &link.between {
                if !zones.contains(&zone.as_str()) {
                    return err(
                        &format!("cluster.links[{i}].between"),
                        format!("unknown zone {zone:?}; zones are {zones:?}"),
                    );
                }
            }
        }
        if let Some(trigger) = self.nemesis.as_ref().and_then(|n| n.on_election.as_ref()) {
            trigger.to_trigger().validate().map_err(|m| ("nemesis.on_election".to_string(), m))?;
        }
        if let Some(nemesis) = &self.nemesis
            && nemesis.kinds.is_empty()
            && nemesis.swarm.is_none()
            && nemesis.on_election.is_none()
        {
            return err("nemesis.kinds", "list at least one kind (or set `swarm = true`)".into());
        }
        Ok(())
    }

    /// Every number within its documented range, and maxima above minima.
    fn validate_ranges(&self) -> Result<(), (String, String)> {
        let check = |ok: bool, field: &str, message: String| {
            if ok { Ok(()) } else { Err((field.to_string(), message)) }
        };
        let c = &self.cluster;
        check(c.servers >= 1, "cluster.servers", "a cluster needs at least one server".into())?;
        check(
            c.servers <= SERVERS_MAX,
            "cluster.servers",
            format!("{} servers is more than the {SERVERS_MAX} a run supports", c.servers),
        )?;
        for (i, zone) in c.zones.iter().enumerate() {
            check(
                zone.racks >= 1,
                &format!("cluster.zones[{i}].racks"),
                "a zone needs at least one rack".into(),
            )?;
            check(
                c.zones[..i].iter().all(|z| z.name != zone.name),
                &format!("cluster.zones[{i}].name"),
                format!("zone {:?} is defined twice", zone.name),
            )?;
        }
        let w = &self.workload;
        check(
            w.clients <= CLIENTS_MAX,
            "workload.clients",
            format!("{} clients is more than the {CLIENTS_MAX} a run supports", w.clients),
        )?;
        check(
            w.timeout > Duration::ZERO,
            "workload.timeout",
            "`timeout` must be positive, e.g. \"1s\"".into(),
        )?;
        check(
            w.duration <= HORIZON_MAX,
            "workload.duration",
            format!("`duration` is at most {HORIZON_MAX}"),
        )?;
        check(w.timeout <= HORIZON_MAX, "workload.timeout", format!("`timeout` is at most {HORIZON_MAX}"))?;
        if let Some(time) = self.limits.time {
            check(time > Duration::ZERO, "limits.time", "`time` must be positive".into())?;
            check(time <= HORIZON_MAX, "limits.time", format!("`time` is at most {HORIZON_MAX}"))?;
        }
        check(self.limits.events >= 1, "limits.events", "`events` must be at least 1".into())?;
        if let Some(n) = &self.nemesis {
            check(
                n.duration >= Duration::from_millis(1),
                "nemesis.duration",
                "an episode lasts at least 1ms; a zero-length episode breaks nothing".into(),
            )?;
            check(
                n.duration <= HORIZON_MAX,
                "nemesis.duration",
                format!("`duration` is at most {HORIZON_MAX}"),
            )?;
            check(
                n.interval <= HORIZON_MAX,
                "nemesis.interval",
                format!("`interval` is at most {HORIZON_MAX}"),
            )?;
            check(n.start <= HORIZON_MAX, "nemesis.start", format!("`start` is at most {HORIZON_MAX}"))?;
            if let Some(stop) = n.stop {
                check(stop > n.start, "nemesis.stop", "`stop` must come after `start`".into())?;
                check(stop <= HORIZON_MAX, "nemesis.stop", format!("`stop` is at most {HORIZON_MAX}"))?;
            }
            check(
                (2..=1_000_000).contains(&n.slow_factor),
                "nemesis.slow_factor",
                format!("`slow_factor` must be between 2 and 1000000, not {}", n.slow_factor),
            )?;
            check(
                n.crash_max <= c.servers,
                "nemesis.crash_max",
                format!("`crash_max` is {} but there are only {} servers", n.crash_max, c.servers),
            )?;
            check(
                n.clock_jump_max <= HORIZON_MAX,
                "nemesis.clock_jump_max",
                "`clock_jump_max` is at most one day".into(),
            )?;
            if let Some(kind) = n.kinds.iter().find(|&&k| c.servers < k.servers_min()) {
                return Err((
                    "nemesis.kinds".into(),
                    format!(
                        "{kind} needs at least {} servers; the cluster has {}",
                        kind.servers_min(),
                        c.servers
                    ),
                ));
            }
            check(
                n.weights.is_empty() || n.weights.len() == n.kinds.len(),
                "nemesis.weights",
                format!(
                    "{} weights for {} kinds: give one per kind, in order, or none",
                    n.weights.len(),
                    n.kinds.len()
                ),
            )?;
            check(
                !n.weights.contains(&0),
                "nemesis.weights",
                "a weight is 0: leave the kind out instead".into(),
            )?;
            check(
                (1..=SERVERS_MAX).contains(&n.split_groups_max),
                "nemesis.split_groups_max",
                format!("`split_groups_max` must be between 1 and {SERVERS_MAX}, not {}", n.split_groups_max),
            )?;
            check(
                (1..=16).contains(&n.lanes),
                "nemesis.lanes",
                format!("`lanes` must be between 1 and 16, not {}", n.lanes),
            )?;
            if let Some(bounds) = &n.swarm {
                bounds.validate().map_err(|(field, message)| (format!("nemesis.swarm.{field}"), message))?;
            }
        }
        if let Some(a) = &self.checks.availability
            && let Some(min) = a.success_min
        {
            check(
                (0.0..=1.0).contains(&min),
                "checks.availability.success_min",
                format!("`success_min` is a fraction between 0 and 1, not {min}"),
            )?;
        }
        Ok(())
    }

    /// The `[[faults]]` entry (its index in the file) that is entry
    /// `sorted` of [`Scenario::schedule`], which orders them by time.
    pub fn fault_in_file(&self, sorted: usize) -> usize {
        let mut order: Vec<usize> = (0..self.faults.len()).collect();
        order.sort_by_key(|&i| self.faults[i].at);
        order[sorted]
    }

    /// The explicit fault schedule.
    pub fn schedule(&self) -> FaultSchedule {
        let mut schedule = FaultSchedule::new();
        for spec in &self.faults {
            schedule.push(Time::ZERO + spec.at, spec.to_fault().expect("validated"));
        }
        schedule
    }

    /// The random nemesis, if any.
    pub fn nemesis(&self) -> Option<Nemesis> {
        self.nemesis.as_ref().map(|n| {
            let end = self.workload.duration.as_nanos();
            let stop = n.stop.unwrap_or(Duration::from_nanos(end.saturating_sub(1_000_000_000).max(end / 2)));
            let stop = stop.min(self.time_max().since(Time::ZERO));
            let mut nemesis = Nemesis::new(n.kinds.clone(), n.interval, n.duration, Time::ZERO + stop);
            nemesis.start = Time::ZERO + n.start;
            nemesis.crash_max = n.crash_max;
            nemesis.slow_factor = n.slow_factor;
            nemesis.clock_jump_max = n.clock_jump_max;
            nemesis.weights = n.weights.clone();
            nemesis.split_groups_max = n.split_groups_max;
            nemesis.lanes = n.lanes;
            nemesis.on_election = n.on_election.as_ref().map(OnElectionSpec::to_trigger);
            nemesis
        })
    }

    /// The network settings.
    pub fn net_config(&self) -> NetConfig {
        NetConfig {
            latency: self.network.latency.0.clone(),
            loss: self.network.loss,
            duplicate: self.network.duplicate,
            fifo: self.network.fifo,
        }
    }

    /// The topology, if zones are given.
    pub fn topology(&self) -> Option<Topology> {
        let cluster = &self.cluster;
        let first = cluster.zones.first()?;
        let mut topology = Topology::new(cluster.rack_latency.0.clone());
        for zone in &cluster.zones {
            topology = topology.zone(&zone.name, zone.latency.0.clone());
        }
        for link in &cluster.links {
            topology = topology.link(&link.between[0], &link.between[1], link.latency.0.clone());
        }
        for i in 0..cluster.servers {
            let zone = &cluster.zones[i % cluster.zones.len()];
            topology = topology.place(&zone.name, (i / cluster.zones.len()) as u32 % zone.racks);
        }
        for _ in 0..self.workload.clients {
            topology = topology.place(&first.name, 0);
        }
        Some(topology)
    }

    /// The latest virtual time a run may reach.
    pub fn time_max(&self) -> Time {
        let margin = self.workload.timeout.saturating_mul(2) + Duration::from_secs(5);
        Time::ZERO + self.limits.time.unwrap_or(self.workload.duration + margin)
    }
}

impl Scenario {
    /// The seeds the file says to sweep, if it says.
    pub fn seed_range(&self) -> Option<std::ops::Range<u64>> {
        self.seeds.as_deref().and_then(parse_seeds)
    }
}

/// Scenario text with its faults replaced by `schedule` (and no nemesis)
/// and its seed set to `seed`: a self-contained reproduction of one run.
pub fn with_schedule(text: &str, schedule: &FaultSchedule, seed: u64) -> Result<String, String> {
    let mut table: toml::Table = toml::from_str(text).map_err(|e| e.message().to_string())?;
    table.remove("faults");
    table.remove("nemesis");
    table.insert(
        "seed".into(),
        toml::Value::Integer(
            i64::try_from(seed).map_err(|_| format!("seed {seed} does not fit a TOML integer"))?,
        ),
    );
    let mut out = toml::to_string(&table).map_err(|e| e.to_string())?;
    out.push('\n');
    out.push_str(&schedule_toml(schedule));
    Ok(out)
}

/// Scenario text with planted bug `bug` switched on (and no other): the same
/// scenario, for measuring how a fault mix finds that bug.
pub fn with_bug(text: &str, bug: &str) -> Result<String, String> {
    let mut table: toml::Table = toml::from_str(text).map_err(|e| e.message().to_string())?;
    let protocol = table
        .get_mut("protocol")
        .and_then(toml::Value::as_table_mut)
        .ok_or("the scenario has no [protocol] table")?;
    protocol.insert("bugs".into(), toml::Value::Array(vec![toml::Value::String(bug.into())]));
    toml::to_string(&table).map_err(|e| e.to_string())
}

/// Reads a regular file as UTF-8 text; a FIFO, a device or a directory is an
/// error instead of a read that blocks forever or never ends.
pub fn read_regular_file(path: &Path) -> std::io::Result<String> {
    let kind = std::fs::metadata(path)?.file_type();
    if !kind.is_file() {
        let what = if kind.is_dir() { "a directory" } else { "not a regular file" };
        return Err(std::io::Error::other(format!("{} is {what}", path.display())));
    }
    std::fs::read_to_string(path)
}

/// A half-open seed range "A..B" with A < B.
pub fn parse_seeds(text: &str) -> Option<std::ops::Range<u64>> {
    let (a, b) = text.split_once("..")?;
    let (start, end) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
    (start < end).then_some(start..end)
}

/// A schedule as `[[faults]]` entries that a scenario file accepts, so any
/// run's faults — scripted or drawn by the nemesis — can be replayed by hand.
pub fn schedule_toml(schedule: &FaultSchedule) -> String {
    let mut out = String::new();
    for entry in schedule.entries() {
        let action = match &entry.fault {
            Fault::Crash { node } => format!("crash = \"{node}\""),
            Fault::Restart { node } => format!("restart = \"{node}\""),
            Fault::Pause { node } => format!("pause = \"{node}\""),
            Fault::Resume { node } => format!("resume = \"{node}\""),
            Fault::Heal => "heal = true".to_string(),
            Fault::Mend { cut } => format!("mend = {{ {} }}", cut_toml(cut)),
            Fault::Slow { node, factor } => format!("slow = \"{node}\"\nfactor = {factor}"),
            Fault::ClockJump { node, offset } => {
                let sign = if *offset < 0 { "-" } else { "+" };
                format!("clock-jump = \"{node}\"\noffset = \"{sign}{}\"", exact(offset.unsigned_abs()))
            }
            Fault::Partition { cut } => cut_toml(cut),
        };
        out.push_str(&format!("[[faults]]\nat = \"{}\"\n{action}\n\n", exact(entry.at.as_nanos())));
    }
    out
}

/// A cut as the one key-value pair that writes it: `isolate = "n2"`, `split = [...]`, ...
fn cut_toml(cut: &Cut) -> String {
    let list = |nodes: &[NodeId]| nodes.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ");
    match cut {
        Cut::Isolate { node } => format!("isolate = \"{node}\""),
        Cut::Split { groups } => {
            let groups: Vec<String> = groups.iter().map(|g| format!("[{}]", list(g))).collect();
            format!("split = [{}]", groups.join(", "))
        }
        Cut::Bridge { left, bridge, right } => {
            format!(
                "bridge = {{ left = [{}], bridge = \"{bridge}\", right = [{}] }}",
                list(left),
                list(right)
            )
        }
        Cut::OneWay { from, to } => format!("one-way = {{ from = [{}], to = [{}] }}", list(from), list(to)),
    }
}

/// Nanoseconds as exact decimal seconds: "1.5s", "0.061062314s".
pub(crate) fn exact(nanos: u64) -> String {
    let fraction = format!("{:09}", nanos % 1_000_000_000);
    let fraction = fraction.trim_end_matches('0');
    if fraction.is_empty() {
        format!("{}s", nanos / 1_000_000_000)
    } else {
        format!("{}.{fraction}s", nanos / 1_000_000_000)
    }
}

/// Places an error from a protocol's own parsing of table `table`: by the
/// field it names, or by the value it quotes; suggests a near-miss key.
fn place(scenario: &Scenario, text: &str, table: &str, message: &str) -> ScenarioError {
    let token = message.split('`').nth(1).unwrap_or("");
    let mut message = message.to_string();
    if let Some(suggestion) = suggest(&message) {
        message.push_str(&format!("; did you mean `{suggestion}`?"));
    }
    if message.contains("field `") {
        return at_field(text, &scenario.path, &format!("{table}.{token}"), message);
    }
    match locate_value(text, table, token).filter(|_| !token.is_empty()) {
        Some((line, column, field)) => ScenarioError {
            path: scenario.path.clone(),
            line: Some(line),
            column: Some(column),
            field: Some(field),
            message,
        },
        None => at_field(text, &scenario.path, table, message),
    }
}

/// Turns a toml error into one naming the line, column and field, with a suggestion for unknown keys.
fn toml_error(text: &str, path: &Path, error: &toml::de::Error) -> ScenarioError {
    let (line, column) = error.span().map(|s| line_column(text, s.start)).unzip();
    let mut field = line.and_then(|l| field_at(text, l));
    let mut message = error.message().trim().to_string();
    if let Some(missing) = message.strip_prefix("missing field `").and_then(|m| m.split('`').next()) {
        // The span of a missing field is its whole table: name the field, not the table's first key.
        let table = field.as_deref().and_then(|f| f.rsplit_once('.')).map(|(t, _)| t.to_string());
        field = Some(table.map_or(missing.to_string(), |t| format!("{t}.{missing}")));
    }
    if let Some(suggestion) = suggest(&message) {
        message.push_str(&format!("; did you mean `{suggestion}`?"));
    }
    ScenarioError { path: path.to_path_buf(), line, column, field, message }
}

/// An error about `field` (dotted, maybe with `[i]`), placed at the key's line if it can be found.
pub fn at_field(text: &str, path: &Path, field: &str, message: String) -> ScenarioError {
    let location = locate(text, field);
    ScenarioError {
        path: path.to_path_buf(),
        line: location.map(|l| l.0),
        column: location.map(|l| l.1),
        field: Some(field.to_string()),
        message,
    }
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// The dotted field at a line: the enclosing `[table]` plus the key on the line.
fn field_at(text: &str, line: usize) -> Option<String> {
    let lines: Vec<&str> = text.lines().collect();
    let current = lines.get(line - 1)?.trim();
    let key = current
        .split('=')
        .next()
        .filter(|_| current.contains('='))
        .map(|k| k.trim().trim_matches('"').to_string());
    let table = lines[..line - 1].iter().rev().chain(std::iter::once(&current)).find_map(|l| {
        let l = l.trim();
        l.starts_with('[').then(|| l.trim_matches(|c| c == '[' || c == ']').trim().to_string())
    });
    match (table, key) {
        (Some(t), Some(k)) => Some(format!("{t}.{k}")),
        (None, Some(k)) => Some(k),
        (Some(t), None) => Some(t),
        (None, None) => None,
    }
}

/// Locates a bad value `token` (as it appears in a serde message) inside table `table`:
/// the line, column and dotted field of its first appearance there.
pub fn locate_value(text: &str, table: &str, token: &str) -> Option<(usize, usize, String)> {
    let mut in_table = false;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            in_table = trimmed.trim_matches(|c| c == '[' || c == ']').trim() == table;
            continue;
        }
        if !in_table {
            continue;
        }
        let quoted = format!("\"{token}\"");
        if let Some(column) = line.find(&quoted).or_else(|| line.find(token)) {
            let key = trimmed.split('=').next().unwrap_or("").trim();
            return Some((i + 1, column + 1, format!("{table}.{key}")));
        }
    }
    None
}

/// Finds the line and column of the last component of a dotted field.
fn locate(text: &str, field: &str) -> Option<(usize, usize)> {
    let mut parts: Vec<&str> = field.split('.').collect();
    let last = parts.pop()?;
    let last = last.split('[').next()?;
    let table = parts.join(".");
    let mut in_table = table.is_empty();
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            let name = trimmed.trim_end().trim_matches(|c| c == '[' || c == ']').trim();
            in_table = name == table || (table.is_empty() && name == last);
            if table.is_empty() && name == last {
                return Some((i + 1, line.len() - trimmed.len() + 1));
            }
            continue;
        }
        if in_table && (trimmed.starts_with(&format!("{last} ")) || trimmed.starts_with(&format!("{last}=")))
        {
            return Some((i + 1, line.len() - trimmed.len() + 1));
        }
    }
    None
}

/// For "unknown field `x`, expected one of `a`, `b`": the closest expected name.
pub fn suggest(message: &str) -> Option<String> {
    let unknown = message.split("unknown field `").nth(1)?.split('`').next()?;
    let expected = message.split("expected").nth(1)?;
    let candidates: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    candidates
        .into_iter()
        .map(|c| (edit_distance(unknown, c), c))
        .filter(|&(d, c)| d <= 2.max(c.len() / 3))
        .min()
        .map(|(_, c)| c.to_string())
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut previous = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = (previous + usize::from(ca != cb)).min(row[j] + 1).min(current + 1);
            previous = current;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse(text, Path::new("s.toml"))
    }

    const MINIMAL: &str = "name = \"x\"\nexpect = \"pass\"\n[protocol]\nname = \"register\"\n";

    #[test]
    fn with_bug_plants_one_bug_and_keeps_the_rest() {
        let text = format!("{MINIMAL}bugs = [\"other\"]\n[cluster]\nservers = 1\n");
        let planted = with_bug(&text, "skip-sync").unwrap();
        let table: toml::Table = toml::from_str(&planted).unwrap();
        assert_eq!(table["protocol"]["bugs"].as_array().unwrap(), &vec![toml::Value::from("skip-sync")]);
        assert_eq!(table["protocol"]["name"].as_str(), Some("register"));
        assert_eq!(table["cluster"]["servers"].as_integer(), Some(1));
        assert!(with_bug("name = \"x\"\n", "skip-sync").unwrap_err().contains("[protocol]"));
    }

    #[test]
    fn a_short_file_works() {
        let s = parse(MINIMAL).unwrap();
        assert_eq!(s.cluster.servers, 3);
        assert_eq!(s.workload.clients, 3);
        assert!(s.checks.linearizable);
    }

    #[test]
    fn unknown_key_suggests_and_locates() {
        let e = parse(&format!("{MINIMAL}[network]\nlatency = \"1ms\"\nlos = 0.1\n")).unwrap_err();
        assert_eq!((e.line, e.column), (Some(7), Some(1)), "{e}");
        assert_eq!(e.field.as_deref(), Some("network.los"));
        assert!(e.message.contains("did you mean `loss`?"), "{e}");
    }

    #[test]
    fn faults_may_name_the_leader() {
        let text = format!(
            "{MINIMAL}[[faults]]\nat = \"1s\"\ncrash = \"leader\"\n[[faults]]\nat = \"1.5s\"\nsplit = [[\"leader\"]]\n[[faults]]\nat = \"2s\"\nrestart = \"leader\"\n"
        );
        let schedule = parse(&text).unwrap().schedule();
        assert_eq!(schedule.entries()[0].fault, Fault::Crash { node: NodeId::LEADER });
        assert_eq!(schedule_toml(&schedule).matches("\"leader\"").count(), 3, "{}", schedule_toml(&schedule));
        let early = format!(
            "{MINIMAL}[[faults]]\nat = \"2s\"\ncrash = \"leader\"\n[[faults]]\nat = \"1s\"\nrestart = \"leader\"\n"
        );
        let e = parse(&early).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("faults[1]"), "the restart, second in the file: {e}");
        assert!(e.message.contains("none comes before it"), "{e}");
        let mixed =
            format!("{MINIMAL}[[faults]]\nat = \"1s\"\none-way = {{ from = [\"leader\"], to = [\"n1\"] }}\n");
        assert!(parse(&mixed).unwrap_err().message.contains("bridge or one-way cut names its servers"));
    }

    #[test]
    fn bad_fault_is_located() {
        let e = parse(&format!("{MINIMAL}[[faults]]\nat = \"1s\"\ncrash = \"n9\"\n")).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("faults[0]"));
        assert!(e.message.contains("n9 does not exist"), "{e}");
    }

    #[test]
    fn printed_schedules_parse_back_to_the_same_faults() {
        let nemesis = Nemesis::new(
            NemesisKind::ALL.to_vec(),
            Duration::from_millis(200),
            Duration::from_millis(300),
            Time::from_nanos(10_000_000_000),
        );
        let schedule = nemesis.schedule(
            &[NodeId(0), NodeId(1), NodeId(2), NodeId(3), NodeId(4)],
            &mut sim_core::SimRng::new(sim_core::Seed(4), sim_core::Stream::Faults),
        );
        assert!(schedule.len() > 20);
        let text = format!("{MINIMAL}[cluster]\nservers = 5\n\n{}", schedule_toml(&schedule));
        let parsed = parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(parsed.schedule(), schedule);
    }

    #[test]
    fn rates_and_offsets_parse() {
        assert_eq!(parse_rate("200/s").unwrap().period, Duration::from_millis(5));
        assert!(parse_rate("fast").is_err());
        assert_eq!(parse_offset("-1.5s"), Ok(-1_500_000_000));
        assert_eq!(parse_offset("+2ms"), Ok(2_000_000));
    }

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("los", "loss"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
