//! Faults as data: what can go wrong, when, and the random nemesis that
//! turns rates into an explicit schedule.
//!
//! Every run has an explicit [`FaultSchedule`], whether a person wrote it or
//! the [`Nemesis`] drew it from the seed's fault stream, so any run's faults
//! can be printed, edited and replayed.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::node::NodeId;
use crate::rng::SimRng;
use crate::time::{Duration, Time};

/// One thing that goes wrong (or is put right) at an instant.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "fault", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Fault {
    /// The node stops; its volatile state, timers and unsynced writes are lost.
    Crash {
        /// The server to crash.
        node: NodeId,
    },
    /// A crashed node starts again from its durable storage.
    Restart {
        /// The server to restart.
        node: NodeId,
    },
    /// The node freezes: messages and timers wait until it resumes.
    Pause {
        /// The node to pause.
        node: NodeId,
    },
    /// A paused node runs again, handling everything that waited.
    Resume {
        /// The node to resume.
        node: NodeId,
    },
    /// Links are cut (in addition to any existing cuts).
    Partition {
        /// Which links.
        cut: Cut,
    },
    /// Every cut and every slow link is removed.
    Heal,
    /// The links of one earlier partition are restored: the end of that
    /// partition alone. A link another partition still cuts stays cut, so
    /// overlapping episodes each end only themselves.
    Mend {
        /// The partition to undo, as it was given.
        cut: Cut,
    },
    /// Every link to and from a node becomes `factor` times slower (gray
    /// failure); a factor of 1 restores its normal speed.
    Slow {
        /// The slow node.
        node: NodeId,
        /// The slowdown factor.
        factor: u64,
    },
    /// The node's clock jumps to `offset` nanoseconds from true time.
    ClockJump {
        /// The node whose clock moves.
        node: NodeId,
        /// New offset from true time, in nanoseconds (negative is behind).
        offset: i64,
    },
}

/// Which links a partition cuts.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Cut {
    /// The node can neither send to nor receive from anyone.
    Isolate {
        /// The isolated node.
        node: NodeId,
    },
    /// Nodes in different groups cannot talk; unlisted nodes talk to everyone.
    Split {
        /// The groups (for majority/minority, two of them).
        groups: Vec<Vec<NodeId>>,
    },
    /// Jepsen's bridge: two sides that cannot talk, and one node that talks to both.
    Bridge {
        /// One side.
        left: Vec<NodeId>,
        /// The node in the middle, connected to both sides.
        bridge: NodeId,
        /// The other side.
        right: Vec<NodeId>,
    },
    /// Messages from `from` to `to` are lost; the reverse direction works.
    OneWay {
        /// Senders whose messages are lost.
        from: Vec<NodeId>,
        /// Receivers that do not hear them.
        to: Vec<NodeId>,
    },
}

impl Cut {
    /// The directed (from, to) pairs this cut blocks, among `nodes`.
    pub fn directed_pairs(&self, nodes: &[NodeId]) -> Vec<(NodeId, NodeId)> {
        let both = |a: &[NodeId], b: &[NodeId]| -> Vec<(NodeId, NodeId)> {
            let mut pairs = Vec::new();
            for &x in a {
                for &y in b {
                    pairs.push((x, y));
                    pairs.push((y, x));
                }
            }
            pairs
        };
        match self {
            Cut::Isolate { node } => both(&[*node], nodes),
            Cut::Split { groups } => {
                let mut pairs = Vec::new();
                for (i, a) in groups.iter().enumerate() {
                    for b in &groups[i + 1..] {
                        pairs.extend(both(a, b));
                    }
                }
                pairs
            }
            Cut::Bridge { left, right, .. } => both(left, right),
            Cut::OneWay { from, to } => from.iter().flat_map(|&f| to.iter().map(move |&t| (f, t))).collect(),
        }
    }

    /// The partition of this cut and the mend that ends it: an episode
    /// that, however others overlap it, ends only itself.
    pub fn episode(self) -> (Fault, Fault) {
        (Fault::Partition { cut: self.clone() }, Fault::Mend { cut: self })
    }

    /// A short name for reports: isolate, split, bridge, one-way.
    pub fn kind(&self) -> &'static str {
        match self {
            Cut::Isolate { .. } => "isolate",
            Cut::Split { .. } => "split",
            Cut::Bridge { .. } => "bridge",
            Cut::OneWay { .. } => "one-way",
        }
    }
}

impl Fault {
    /// A short name for reports, e.g. "crash" or "partition-bridge".
    pub fn kind(&self) -> String {
        match self {
            Fault::Crash { .. } => "crash".into(),
            Fault::Restart { .. } => "restart".into(),
            Fault::Pause { .. } => "pause".into(),
            Fault::Resume { .. } => "resume".into(),
            Fault::Partition { cut } => format!("partition-{}", cut.kind()),
            Fault::Heal => "heal".into(),
            Fault::Mend { cut } => format!("mend-{}", cut.kind()),
            Fault::Slow { factor: 1, .. } => "unslow".into(),
            Fault::Slow { .. } => "slow".into(),
            Fault::ClockJump { .. } => "clock-jump".into(),
        }
    }

    /// What this fault breaks, as the name its undoing names: "crash",
    /// "pause", the cut's kind ("isolate", "split", "bridge", "one-way"),
    /// "slow" or "clock-jump"; `None` for a repair.
    pub fn breaks(&self) -> Option<&'static str> {
        match self {
            Fault::Crash { .. } => Some("crash"),
            Fault::Pause { .. } => Some("pause"),
            Fault::Partition { cut } => Some(cut.kind()),
            Fault::Slow { factor, .. } if *factor > 1 => Some("slow"),
            Fault::ClockJump { offset, .. } if *offset != 0 => Some("clock-jump"),
            Fault::Restart { .. }
            | Fault::Resume { .. }
            | Fault::Heal
            | Fault::Mend { .. }
            | Fault::Slow { .. }
            | Fault::ClockJump { .. } => None,
        }
    }

    /// What this fault undoes, as [`Fault::breaks`] names it: a restart
    /// undoes a crash, a resume a pause, a mend a partition, a factor-1 slow
    /// a slow, a zero clock jump a jump; `None` for a fault that breaks
    /// something, or (a heal) repairs everything at once.
    pub fn undoes(&self) -> Option<&'static str> {
        match self {
            Fault::Restart { .. } => Some("crash"),
            Fault::Resume { .. } => Some("pause"),
            Fault::Mend { cut } => Some(cut.kind()),
            Fault::Slow { factor: 1, .. } => Some("slow"),
            Fault::ClockJump { offset: 0, .. } => Some("clock-jump"),
            Fault::Crash { .. }
            | Fault::Pause { .. }
            | Fault::Partition { .. }
            | Fault::Heal
            | Fault::Slow { .. }
            | Fault::ClockJump { .. } => None,
        }
    }

    /// Whether this fault repairs something rather than breaking it.
    pub fn is_repair(&self) -> bool {
        self.undoes().is_some() || *self == Fault::Heal
    }
}

fn list(nodes: &[NodeId]) -> String {
    nodes.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Crash { node } => write!(f, "crash {node}"),
            Fault::Restart { node } => write!(f, "restart {node}"),
            Fault::Pause { node } => write!(f, "pause {node}"),
            Fault::Resume { node } => write!(f, "resume {node}"),
            Fault::Heal => write!(f, "heal"),
            Fault::Mend { cut } => {
                let partition = Fault::Partition { cut: cut.clone() }.to_string();
                write!(f, "mend {}", partition.trim_start_matches("partition "))
            }
            Fault::Slow { node, factor: 1 } => write!(f, "unslow {node}"),
            Fault::Slow { node, factor } => write!(f, "slow {node} x{factor}"),
            Fault::ClockJump { node, offset } => write!(f, "clock-jump {node} {offset:+}ns"),
            Fault::Partition { cut } => match cut {
                Cut::Isolate { node } => write!(f, "partition isolate {node}"),
                Cut::Split { groups } => {
                    let groups: Vec<String> = groups.iter().map(|g| format!("[{}]", list(g))).collect();
                    write!(f, "partition split {}", groups.join(" | "))
                }
                Cut::Bridge { left, bridge, right } => {
                    write!(f, "partition bridge [{}] <{bridge}> [{}]", list(left), list(right))
                }
                Cut::OneWay { from, to } => {
                    write!(f, "partition one-way [{}] -/-> [{}]", list(from), list(to))
                }
            },
        }
    }
}

/// A fault at an instant.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TimedFault {
    /// When it happens.
    pub at: Time,
    /// What happens.
    #[serde(flatten)]
    pub fault: Fault,
}

/// An explicit, time-ordered list of faults.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct FaultSchedule {
    entries: Vec<TimedFault>,
}

impl FaultSchedule {
    /// No faults.
    pub fn new() -> FaultSchedule {
        FaultSchedule::default()
    }

    /// Adds a fault, keeping time order (faults at the same instant keep insertion order).
    pub fn at(mut self, at: Time, fault: Fault) -> FaultSchedule {
        self.push(at, fault);
        self
    }

    /// Adds a fault, keeping time order.
    pub fn push(&mut self, at: Time, fault: Fault) {
        let position = self.entries.partition_point(|e| e.at <= at);
        self.entries.insert(position, TimedFault { at, fault });
    }

    /// Adds every fault of `other`.
    pub fn merge(&mut self, other: FaultSchedule) {
        for entry in other.entries {
            self.push(entry.at, entry.fault);
        }
    }

    /// The faults in time order.
    pub fn entries(&self) -> &[TimedFault] {
        &self.entries
    }

    /// Number of faults.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no faults.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Checks every leader-aimed entry: only single-server faults aim, and
    /// each restart, resume, mend, unslow or clock reset aimed at the leader
    /// follows a leader-aimed crash, pause, partition, slow or clock jump it
    /// can undo ([`Fault::undoes`]). On error, the entry's index and why.
    pub fn check_leader_aims(&self) -> Result<(), (usize, String)> {
        let mut open: Vec<&str> = Vec::new();
        for (i, entry) in self.entries.iter().enumerate() {
            if !entry.fault.aims_at_leader() {
                continue;
            }
            entry.fault.check_leader_aim().map_err(|e| (i, e))?;
            match entry.fault.undoes() {
                Some(pair) => {
                    let Some(at) = open.iter().position(|&k| k == pair) else {
                        return Err((
                            i,
                            format!(
                                "`{}` undoes a leader-aimed {pair}, but none comes before it",
                                entry.fault
                            ),
                        ));
                    };
                    open.remove(at);
                }
                None => open.extend(entry.fault.breaks()),
            }
        }
        Ok(())
    }

    /// The instants at which the network was healed, nodes restarted or resumed.
    pub fn repair_times(&self) -> Vec<Time> {
        self.entries.iter().filter(|e| e.fault.is_repair()).map(|e| e.at).collect()
    }
}

impl fmt::Display for FaultSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for entry in &self.entries {
            writeln!(f, "{:>10}  {}", entry.at.to_string(), entry.fault)?;
        }
        Ok(())
    }
}

/// A kind of trouble the nemesis can cause.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NemesisKind {
    /// Crash some servers, restart them later.
    Crash,
    /// Pause a server, resume it later.
    Pause,
    /// Isolate one server.
    Isolate,
    /// Split the servers into a majority and a minority.
    Split,
    /// Jepsen's bridge partition.
    Bridge,
    /// Cut one direction between a server and the others.
    OneWay,
    /// Make one server's links slow.
    Slow,
    /// Jump one server's clock.
    ClockJump,
    /// Crash whichever server leads when the episode starts; restart it at the end.
    LeaderCrash,
    /// Cut the leader off from the other servers; clients still reach it,
    /// so a deposed leader that has not noticed keeps taking writes.
    LeaderSplit,
    /// Pause the leader (it wakes believing it still leads).
    LeaderPause,
}

impl NemesisKind {
    /// The name scenario files use in `[nemesis] kinds`.
    pub fn name(self) -> &'static str {
        match self {
            NemesisKind::Crash => "crash",
            NemesisKind::Pause => "pause",
            NemesisKind::Isolate => "isolate",
            NemesisKind::Split => "split",
            NemesisKind::Bridge => "bridge",
            NemesisKind::OneWay => "one-way",
            NemesisKind::Slow => "slow",
            NemesisKind::ClockJump => "clock-jump",
            NemesisKind::LeaderCrash => "leader-crash",
            NemesisKind::LeaderSplit => "leader-split",
            NemesisKind::LeaderPause => "leader-pause",
        }
    }

    /// Whether episodes of this kind aim at the leader, which only a
    /// protocol reporting [`Node::leadership`](crate::Node::leadership) has.
    pub fn aims_at_leader(self) -> bool {
        matches!(self, NemesisKind::LeaderCrash | NemesisKind::LeaderSplit | NemesisKind::LeaderPause)
    }

    /// The fewest servers an episode of this kind needs: a split or a
    /// one-way cut needs two sides, a bridge two sides and a middle.
    pub fn servers_min(self) -> usize {
        match self {
            NemesisKind::Split | NemesisKind::OneWay => 2,
            NemesisKind::Bridge => 3,
            NemesisKind::Crash
            | NemesisKind::Pause
            | NemesisKind::Isolate
            | NemesisKind::Slow
            | NemesisKind::ClockJump
            | NemesisKind::LeaderCrash
            | NemesisKind::LeaderSplit
            | NemesisKind::LeaderPause => 1,
        }
    }

    /// Every kind, in a fixed order: those of [`NemesisKind::ANY_SERVER`],
    /// then those aimed at the leader.
    pub const ALL: [NemesisKind; 11] = [
        NemesisKind::Crash,
        NemesisKind::Pause,
        NemesisKind::Isolate,
        NemesisKind::Split,
        NemesisKind::Bridge,
        NemesisKind::OneWay,
        NemesisKind::Slow,
        NemesisKind::ClockJump,
        NemesisKind::LeaderCrash,
        NemesisKind::LeaderSplit,
        NemesisKind::LeaderPause,
    ];

    /// The kinds any cluster can suffer, leader or not: what a protocol
    /// without [`Node::leadership`](crate::Node::leadership) allows. They
    /// open [`NemesisKind::ALL`].
    pub const ANY_SERVER: &'static [NemesisKind] = NemesisKind::ALL.split_at(8).0;
}

impl fmt::Display for NemesisKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A random nemesis: episodes of trouble at random times, each undone after a while.
///
/// Each lane runs its episodes one after another: each ends by undoing just
/// what it broke (a restart, resume, mend, unslow or clock reset), then the
/// lane waits (exponentially, mean `interval`) before the next. With one
/// lane episodes never overlap; with several they do, and each still ends
/// only itself.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Nemesis {
    /// Which kinds of trouble to choose from.
    pub kinds: Vec<NemesisKind>,
    /// The relative weight of each of `kinds`, in the same order; empty
    /// means uniform (and draws exactly as a nemesis without weights did).
    #[serde(default)]
    pub weights: Vec<u32>,
    /// Mean quiet time between episodes.
    pub interval: Duration,
    /// Mean length of an episode (drawn uniformly from half to one and a half times it).
    pub duration: Duration,
    /// No episode starts before this.
    #[serde(default)]
    pub start: Time,
    /// Everything is repaired by this instant, leaving time to recover.
    pub stop: Time,
    /// The most servers a crash episode takes down at once (0: a minority).
    #[serde(default)]
    pub crash_max: usize,
    /// Slowdown factor of a slow episode.
    #[serde(default = "default_slow_factor")]
    pub slow_factor: u64,
    /// Largest clock jump, either way.
    #[serde(default = "default_clock_jump")]
    pub clock_jump_max: Duration,
    /// Most groups a split episode cuts the servers into; 2 (or less) is
    /// always a majority and a minority, more draws 2 to this many groups
    /// per episode (all servers as singletons, say: nobody has a quorum).
    #[serde(default = "default_split_groups")]
    pub split_groups_max: usize,
    /// Independent sequences of episodes drawn one after another and run at
    /// once, so that episodes of different lanes may overlap (a node down
    /// while others crash and restart). 1: episodes never overlap.
    #[serde(default = "default_lanes")]
    pub lanes: usize,
    /// Episodes started by elections rather than by the clock: see
    /// [`OnElection`](crate::OnElection). None by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_election: Option<crate::election::OnElection>,
}

fn default_lanes() -> usize {
    1
}

fn default_split_groups() -> usize {
    Nemesis::SPLIT_GROUPS_MAX
}

fn default_slow_factor() -> u64 {
    Nemesis::SLOW_FACTOR
}

fn default_clock_jump() -> Duration {
    Nemesis::CLOCK_JUMP_MAX
}

impl Nemesis {
    /// The slowdown of a slow episode unless a scenario says otherwise.
    pub const SLOW_FACTOR: u64 = 10;
    /// The largest clock jump unless a scenario says otherwise.
    pub const CLOCK_JUMP_MAX: Duration = Duration::from_secs(1);
    /// Groups of a split episode unless a scenario says otherwise: majority and minority.
    pub const SPLIT_GROUPS_MAX: usize = 2;
}

impl Nemesis {
    /// A nemesis choosing among `kinds` until `stop`, with the given rhythm.
    pub fn new(kinds: Vec<NemesisKind>, interval: Duration, duration: Duration, stop: Time) -> Nemesis {
        Nemesis {
            kinds,
            weights: Vec::new(),
            interval,
            duration,
            start: Time::ZERO,
            stop,
            crash_max: 0,
            slow_factor: default_slow_factor(),
            clock_jump_max: default_clock_jump(),
            split_groups_max: default_split_groups(),
            lanes: default_lanes(),
            on_election: None,
        }
    }

    /// Checks what drawing needs: an episode and the quiet time after it
    /// cannot both be zero, or the nemesis would never move on.
    pub fn validate(&self) -> Result<(), String> {
        if self.interval == Duration::ZERO && self.duration == Duration::ZERO && !self.kinds.is_empty() {
            return Err("interval and duration are both 0s: give either a positive length".into());
        }
        if !self.weights.is_empty() && self.weights.len() != self.kinds.len() {
            return Err(format!(
                "{} weights for {} kinds: give one weight per kind, or none",
                self.weights.len(),
                self.kinds.len()
            ));
        }
        if self.weights.contains(&0) {
            return Err("a weight is 0: leave the kind out instead".into());
        }
        if let Some(trigger) = &self.on_election {
            trigger.validate()?;
        }
        Ok(())
    }

    /// Draws an explicit schedule over `servers` from the fault stream, of at
    /// most [`Nemesis::EPISODES_MAX`] episodes and [`Nemesis::WEIGHT_MAX`]
    /// node references (see [`Nemesis::draw`] to learn whether it was cut).
    pub fn schedule(&self, servers: &[NodeId], rng: &mut SimRng) -> FaultSchedule {
        self.draw(servers, rng, Time::MAX).schedule
    }

    /// Most episodes one draw makes.
    pub const EPISODES_MAX: usize = 100_000;
    /// Most faults plus node ids named by them (a split names every server)
    /// in one draw: the schedule's memory stays within tens of megabytes.
    pub const WEIGHT_MAX: usize = 4_000_000;

    /// Draws the schedule of episodes that start before `horizon` (a run's
    /// time limit: later ones would never happen) and end before `stop`.
    /// The draw is bounded: it stops after [`Nemesis::EPISODES_MAX`]
    /// episodes or [`Nemesis::WEIGHT_MAX`] weight, and says so.
    pub fn draw(&self, servers: &[NodeId], rng: &mut SimRng, horizon: Time) -> Drawn {
        let mut drawn = Drawn { schedule: FaultSchedule::new(), episodes: 0, cut_short: false };
        if self.kinds.is_empty() || servers.is_empty() {
            return drawn;
        }
        let mut weight = 0;
        for _lane in 0..self.lanes.max(1) {
            self.draw_lane(servers, rng, horizon, &mut drawn, &mut weight);
            if drawn.cut_short {
                break;
            }
        }
        drawn
    }

    /// One lane: episodes one after another from `start`, added to `drawn`.
    fn draw_lane(
        &self,
        servers: &[NodeId],
        rng: &mut SimRng,
        horizon: Time,
        drawn: &mut Drawn,
        weight: &mut usize,
    ) {
        let mut now = self.start;
        let half = self.duration.as_nanos() / 2;
        loop {
            now += gap(self.interval, rng);
            let length =
                Duration::from_nanos(rng.between(half, self.duration.as_nanos().saturating_add(half)));
            let end = now + length;
            if end >= self.stop || now >= horizon {
                return;
            }
            if drawn.episodes == Nemesis::EPISODES_MAX || *weight > Nemesis::WEIGHT_MAX {
                drawn.cut_short = true;
                return;
            }
            let kind = self.pick_kind(rng);
            for (at, fault) in self.episode(kind, servers, now, end, rng) {
                *weight += 1 + fault.nodes().len();
                drawn.schedule.push(at, fault);
            }
            drawn.episodes += 1;
            now = end;
        }
    }

    /// One of `kinds`, by weight (uniformly, with the same draw as
    /// [`SimRng::pick`], when there are no weights).
    fn pick_kind(&self, rng: &mut SimRng) -> NemesisKind {
        if self.weights.is_empty() {
            return *rng.pick(&self.kinds);
        }
        let total: u64 = self.weights.iter().map(|&w| u64::from(w)).sum();
        let mut ticket = rng.below(total);
        for (&kind, &weight) in self.kinds.iter().zip(&self.weights) {
            if ticket < u64::from(weight) {
                return kind;
            }
            ticket -= u64::from(weight);
        }
        unreachable!("ticket={ticket} is below the total weight={total}")
    }

    fn episode(
        &self,
        kind: NemesisKind,
        servers: &[NodeId],
        start: Time,
        end: Time,
        rng: &mut SimRng,
    ) -> Vec<(Time, Fault)> {
        let node = *rng.pick(servers);
        let minority = (servers.len() - 1) / 2;
        let partition = |cut: Cut| {
            let (cut, mend) = cut.episode();
            vec![(start, cut), (end, mend)]
        };
        match kind {
            NemesisKind::Crash => {
                let most =
                    if self.crash_max == 0 { minority.max(1) } else { self.crash_max.min(servers.len()) };
                let count = rng.between(1, most as u64) as usize;
                let victims = sample(servers, count, rng);
                let mut faults: Vec<(Time, Fault)> =
                    victims.iter().map(|&n| (start, Fault::Crash { node: n })).collect();
                faults.extend(victims.iter().map(|&n| (end, Fault::Restart { node: n })));
                faults
            }
            NemesisKind::Pause => vec![(start, Fault::Pause { node }), (end, Fault::Resume { node })],
            NemesisKind::Isolate => partition(Cut::Isolate { node }),
            NemesisKind::Split => {
                let mut shuffled = servers.to_vec();
                rng.shuffle(&mut shuffled);
                let most = self.split_groups_max.min(servers.len());
                let groups = if most > 2 {
                    deal(&shuffled, rng.between(2, most as u64) as usize)
                } else {
                    let (minor, major) = shuffled.split_at(minority.max(1).min(shuffled.len()));
                    vec![sorted(major), sorted(minor)]
                };
                partition(Cut::Split { groups })
            }
            NemesisKind::Bridge => {
                let mut shuffled = servers.to_vec();
                rng.shuffle(&mut shuffled);
                let bridge = shuffled[0];
                let rest = &shuffled[1..];
                let (left, right) = rest.split_at(rest.len() / 2);
                partition(Cut::Bridge { left: sorted(left), bridge, right: sorted(right) })
            }
            NemesisKind::OneWay => {
                let others: Vec<NodeId> = servers.iter().copied().filter(|&n| n != node).collect();
                partition(if rng.chance(crate::rng::Probability::ratio(1, 2)) {
                    Cut::OneWay { from: vec![node], to: others }
                } else {
                    Cut::OneWay { from: others, to: vec![node] }
                })
            }
            NemesisKind::Slow => {
                vec![
                    (start, Fault::Slow { node, factor: self.slow_factor }),
                    (end, Fault::Slow { node, factor: 1 }),
                ]
            }
            NemesisKind::ClockJump => {
                let most = self.clock_jump_max.as_nanos().min(i64::MAX as u64);
                let magnitude = rng.between(most / 10, most) as i64;
                let offset =
                    if rng.chance(crate::rng::Probability::ratio(1, 2)) { magnitude } else { -magnitude };
                vec![(start, Fault::ClockJump { node, offset }), (end, Fault::ClockJump { node, offset: 0 })]
            }
            NemesisKind::LeaderCrash => {
                let node = NodeId::LEADER;
                vec![(start, Fault::Crash { node }), (end, Fault::Restart { node })]
            }
            NemesisKind::LeaderSplit => partition(Cut::Split { groups: vec![vec![NodeId::LEADER]] }),
            NemesisKind::LeaderPause => {
                let node = NodeId::LEADER;
                vec![(start, Fault::Pause { node }), (end, Fault::Resume { node })]
            }
        }
    }
}

/// What [`Nemesis::draw`] drew.
#[derive(Clone, Debug, PartialEq)]
pub struct Drawn {
    /// The faults, in time order.
    pub schedule: FaultSchedule,
    /// Episodes drawn.
    pub episodes: usize,
    /// Whether the draw stopped at a bound before the horizon or `stop`.
    pub cut_short: bool,
}

impl Fault {
    /// Whether the fault names [`NodeId::LEADER`] rather than a server: it
    /// is resolved when it applies, and one still naming the leader after
    /// it applied found nobody to hit and did nothing.
    pub fn aims_at_leader(&self) -> bool {
        self.nodes().iter().any(|n| n.is_leader_aim())
    }

    /// The same fault aimed at `node`, one of `servers`, instead of the
    /// leader (a split of the leader alone puts the other servers on the
    /// other side).
    pub fn aimed_at(&self, node: NodeId, servers: &[NodeId]) -> Fault {
        let aim = |n: NodeId| if n.is_leader_aim() { node } else { n };
        match self.clone() {
            Fault::Partition { cut: Cut::Split { groups } } if groups == [[NodeId::LEADER]] => {
                let others = servers.iter().copied().filter(|&n| n != node).collect();
                Fault::Partition { cut: Cut::Split { groups: vec![vec![node], others] } }
            }
            Fault::Mend { cut } => match (Fault::Partition { cut }).aimed_at(node, servers) {
                Fault::Partition { cut } => Fault::Mend { cut },
                other => other,
            },
            Fault::Crash { node } => Fault::Crash { node: aim(node) },
            Fault::Restart { node } => Fault::Restart { node: aim(node) },
            Fault::Pause { node } => Fault::Pause { node: aim(node) },
            Fault::Resume { node } => Fault::Resume { node: aim(node) },
            Fault::Slow { node, factor } => Fault::Slow { node: aim(node), factor },
            Fault::ClockJump { node, offset } => Fault::ClockJump { node: aim(node), offset },
            Fault::Partition { cut: Cut::Isolate { node } } => {
                Fault::Partition { cut: Cut::Isolate { node: aim(node) } }
            }
            other => other,
        }
    }

    /// Checks that the leader is named only where one server is: a split
    /// names it alone (`[["leader"]]`: the leader apart from the other
    /// servers), and a bridge or one-way cut must name its servers.
    pub fn check_leader_aim(&self) -> Result<(), String> {
        match self {
            Fault::Partition { cut: Cut::Split { groups } } | Fault::Mend { cut: Cut::Split { groups } }
                if self.aims_at_leader() =>
            {
                if groups == &[[NodeId::LEADER]] {
                    Ok(())
                } else {
                    Err("a split aims at the leader as `[[\"leader\"]]` alone: the leader on one side, the other servers on the other".into())
                }
            }
            Fault::Partition { cut: Cut::Bridge { .. } | Cut::OneWay { .. } }
            | Fault::Mend { cut: Cut::Bridge { .. } | Cut::OneWay { .. } }
                if self.aims_at_leader() =>
            {
                Err("only crash, restart, pause, resume, isolate, split, mend, slow and clock-jump can aim at \"leader\"; a bridge or one-way cut names its servers".into())
            }
            _ => Ok(()),
        }
    }

    /// Every node id the fault names (a cut's nodes, in its own order).
    pub fn nodes(&self) -> Vec<NodeId> {
        match self {
            Fault::Crash { node }
            | Fault::Restart { node }
            | Fault::Pause { node }
            | Fault::Resume { node }
            | Fault::Slow { node, .. }
            | Fault::ClockJump { node, .. } => vec![*node],
            Fault::Partition { cut: Cut::Isolate { node } } => vec![*node],
            Fault::Partition { cut: Cut::Split { groups } } => groups.concat(),
            Fault::Partition { cut: Cut::Bridge { left, bridge, right } } => {
                left.iter().chain([bridge]).chain(right).copied().collect()
            }
            Fault::Partition { cut: Cut::OneWay { from, to } } => from.iter().chain(to).copied().collect(),
            Fault::Heal => Vec::new(),
            Fault::Mend { cut } => Fault::Partition { cut: cut.clone() }.nodes(),
        }
    }
}

fn gap(mean: Duration, rng: &mut SimRng) -> Duration {
    let drawn = mean.as_nanos() as f64 * rng.standard_exponential();
    Duration::from_nanos(drawn.min(mean.as_nanos() as f64 * 20.0) as u64)
}

fn sample(items: &[NodeId], count: usize, rng: &mut SimRng) -> Vec<NodeId> {
    let mut shuffled = items.to_vec();
    rng.shuffle(&mut shuffled);
    shuffled.truncate(count);
    shuffled.sort();
    shuffled
}

/// `nodes` dealt round-robin into `count` non-empty groups, each sorted.
fn deal(nodes: &[NodeId], count: usize) -> Vec<Vec<NodeId>> {
    let mut groups = vec![Vec::new(); count];
    for (i, &node) in nodes.iter().enumerate() {
        groups[i % count].push(node);
    }
    groups.iter().map(|g| sorted(g)).collect()
}

pub(crate) fn sorted(nodes: &[NodeId]) -> Vec<NodeId> {
    let mut nodes = nodes.to_vec();
    nodes.sort();
    nodes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Seed, Stream};

    fn servers(n: u32) -> Vec<NodeId> {
        (0..n).map(NodeId).collect()
    }

    #[test]
    fn split_cuts_between_groups_only() {
        let cut = Cut::Split { groups: vec![vec![NodeId(0), NodeId(1)], vec![NodeId(2)]] };
        let pairs = cut.directed_pairs(&servers(4));
        assert!(pairs.contains(&(NodeId(0), NodeId(2))));
        assert!(pairs.contains(&(NodeId(2), NodeId(1))));
        assert!(!pairs.contains(&(NodeId(0), NodeId(1))));
        assert!(
            !pairs.iter().any(|&(a, b)| a == NodeId(3) || b == NodeId(3)),
            "unlisted nodes are untouched"
        );
    }

    #[test]
    fn bridge_node_talks_to_both_sides() {
        let cut = Cut::Bridge {
            left: vec![NodeId(0), NodeId(1)],
            bridge: NodeId(2),
            right: vec![NodeId(3), NodeId(4)],
        };
        let pairs = cut.directed_pairs(&servers(5));
        assert!(pairs.contains(&(NodeId(0), NodeId(3))));
        assert!(!pairs.iter().any(|&(a, b)| a == NodeId(2) || b == NodeId(2)));
    }

    #[test]
    fn schedule_keeps_time_order_and_ties_in_insertion_order() {
        let t = Time::from_nanos;
        let schedule = FaultSchedule::new()
            .at(t(5), Fault::Heal)
            .at(t(1), Fault::Crash { node: NodeId(0) })
            .at(t(5), Fault::Restart { node: NodeId(0) });
        let kinds: Vec<String> = schedule.entries().iter().map(|e| e.fault.kind()).collect();
        assert_eq!(kinds, ["crash", "heal", "restart"]);
    }

    #[test]
    fn nemesis_is_deterministic_and_repairs_everything_before_stop() {
        let nemesis = Nemesis::new(
            NemesisKind::ALL.to_vec(),
            Duration::from_millis(300),
            Duration::from_millis(500),
            Time::from_nanos(20_000_000_000),
        );
        let draw = |seed| nemesis.schedule(&servers(5), &mut SimRng::new(Seed(seed), Stream::Faults));
        let a = draw(9);
        assert_eq!(a, draw(9));
        assert_ne!(a, draw(10));
        assert!(a.len() > 10, "len={}", a.len());
        assert!(a.entries().iter().all(|e| e.at < nemesis.stop));
        let crashes = a.entries().iter().filter(|e| matches!(e.fault, Fault::Crash { .. })).count();
        let restarts = a.entries().iter().filter(|e| matches!(e.fault, Fault::Restart { .. })).count();
        assert_eq!(crashes, restarts);
        let pauses = a.entries().iter().filter(|e| matches!(e.fault, Fault::Pause { .. })).count();
        let resumes = a.entries().iter().filter(|e| matches!(e.fault, Fault::Resume { .. })).count();
        assert_eq!(pauses, resumes);
    }

    #[test]
    fn every_nemesis_episode_ends_only_itself() {
        let mut nemesis = Nemesis::new(
            NemesisKind::ALL.to_vec(),
            Duration::from_millis(50),
            Duration::from_millis(200),
            Time::from_nanos(20_000_000_000),
        );
        nemesis.lanes = 3;
        for seed in 0..20 {
            let schedule = nemesis.schedule(&servers(5), &mut SimRng::new(Seed(seed), Stream::Faults));
            let entries = schedule.entries();
            assert!(!entries.iter().any(|e| e.fault == Fault::Heal), "seed={seed}: no global heal");
            let mut open: Vec<&Fault> = Vec::new();
            for e in entries {
                let ended = match &e.fault {
                    Fault::Mend { cut } => Some(Fault::Partition { cut: cut.clone() }),
                    Fault::Slow { node, factor: 1 } => open
                        .iter()
                        .find(|f| matches!(f, Fault::Slow { node: n, .. } if n == node))
                        .map(|f| (*f).clone()),
                    _ => None,
                };
                match ended {
                    Some(started) => {
                        let at = open.iter().position(|f| **f == started);
                        let at = at.unwrap_or_else(|| panic!("seed={seed}: {} ends nothing open", e.fault));
                        open.remove(at);
                    }
                    None if matches!(e.fault, Fault::Partition { .. } | Fault::Slow { .. }) => {
                        open.push(&e.fault)
                    }
                    None => {}
                }
            }
            assert!(open.is_empty(), "seed={seed}: every partition and slowdown ends: {open:?}");
        }
    }

    #[test]
    fn breaking_and_undoing_faults_pair_up() {
        let node = NodeId(1);
        let cut = Cut::Isolate { node };
        let pairs = [
            (Fault::Crash { node }, Fault::Restart { node }),
            (Fault::Pause { node }, Fault::Resume { node }),
            cut.episode(),
            (Fault::Slow { node, factor: 5 }, Fault::Slow { node, factor: 1 }),
            (Fault::ClockJump { node, offset: -7 }, Fault::ClockJump { node, offset: 0 }),
        ];
        for (breaks, undoes) in pairs {
            assert_eq!(breaks.breaks(), undoes.undoes(), "{breaks} / {undoes}");
            assert!(breaks.breaks().is_some() && breaks.undoes().is_none() && !breaks.is_repair());
            assert!(undoes.breaks().is_none() && undoes.is_repair());
        }
        assert_eq!((Fault::Heal.breaks(), Fault::Heal.undoes()), (None, None));
        assert!(Fault::Heal.is_repair(), "a heal repairs everything, no one fault in particular");
    }

    #[test]
    fn leader_aims_are_checked_in_time_order() {
        let t = Time::from_nanos;
        let leader = NodeId::LEADER;
        let nested = FaultSchedule::new()
            .at(t(1), Fault::Crash { node: leader })
            .at(t(2), Fault::Pause { node: leader })
            .at(t(3), Fault::Crash { node: leader })
            .at(t(4), Fault::Resume { node: leader })
            .at(t(5), Fault::Restart { node: leader })
            .at(t(6), Fault::Restart { node: leader });
        assert_eq!(nested.check_leader_aims(), Ok(()));
        let early = FaultSchedule::new()
            .at(t(1), Fault::Crash { node: leader })
            .at(t(2), Fault::Resume { node: leader });
        let (index, why) = early.check_leader_aims().unwrap_err();
        assert_eq!(index, 1);
        assert!(why.contains("undoes a leader-aimed pause, but none comes before it"), "{why}");
        let bridge = Cut::Bridge { left: vec![leader], bridge: NodeId(1), right: vec![NodeId(2)] };
        let bridge = FaultSchedule::new().at(t(1), Fault::Partition { cut: bridge });
        assert!(bridge.check_leader_aims().unwrap_err().1.contains("bridge or one-way"));
        let mixed = Cut::Split { groups: vec![vec![leader], vec![NodeId(1)]] };
        let mixed = FaultSchedule::new().at(t(1), Fault::Partition { cut: mixed });
        assert!(mixed.check_leader_aims().unwrap_err().1.contains("[[\"leader\"]]"));
    }

    #[test]
    fn a_leader_aim_resolves_to_the_server_it_hits() {
        let alone = Fault::Partition { cut: Cut::Split { groups: vec![vec![NodeId::LEADER]] } };
        assert_eq!(
            alone.aimed_at(NodeId(1), &servers(3)),
            Fault::Partition {
                cut: Cut::Split { groups: vec![vec![NodeId(1)], vec![NodeId(0), NodeId(2)]] }
            }
        );
        let slow = Fault::Slow { node: NodeId::LEADER, factor: 5 };
        assert_eq!(slow.aimed_at(NodeId(2), &servers(3)), Fault::Slow { node: NodeId(2), factor: 5 });
        assert!(slow.aims_at_leader() && !Fault::Heal.aims_at_leader());
        assert_eq!(Fault::Crash { node: NodeId::LEADER }.to_string(), "crash leader");
        let json = serde_json::to_string(&Fault::Crash { node: NodeId::LEADER }).unwrap();
        assert_eq!(json, r#"{"fault":"crash","node":"leader"}"#);
        assert_eq!(serde_json::from_str::<Fault>(&json).unwrap(), Fault::Crash { node: NodeId::LEADER });
        assert!(serde_json::from_str::<NodeId>("4294967295").is_err(), "the aim is spelled, not numbered");
    }

    #[test]
    fn leader_kinds_draw_leader_aimed_episodes_only() {
        let kinds = vec![NemesisKind::LeaderCrash, NemesisKind::LeaderSplit, NemesisKind::LeaderPause];
        let nemesis = Nemesis::new(
            kinds,
            Duration::from_millis(100),
            Duration::from_millis(100),
            Time::from_nanos(5_000_000_000),
        );
        let schedule = nemesis.schedule(&servers(3), &mut SimRng::new(Seed(1), Stream::Faults));
        assert!(schedule.len() > 20);
        assert!(schedule.entries().iter().all(|e| e.fault.aims_at_leader()));
        assert_eq!(schedule.check_leader_aims(), Ok(()));
        assert!(NemesisKind::ALL.iter().filter(|k| k.aims_at_leader()).count() == 3);
        let any_server: Vec<NemesisKind> =
            NemesisKind::ALL.iter().copied().filter(|k| !k.aims_at_leader()).collect();
        assert_eq!(NemesisKind::ANY_SERVER, any_server, "every kind not aimed at the leader, in order");
    }

    #[test]
    fn schedule_round_trips_through_json() {
        let schedule = FaultSchedule::new()
            .at(
                Time::from_nanos(10),
                Fault::Partition { cut: Cut::OneWay { from: vec![NodeId(1)], to: vec![NodeId(2)] } },
            )
            .at(Time::from_nanos(20), Fault::Heal);
        let json = serde_json::to_string(&schedule).unwrap();
        assert_eq!(
            json,
            r#"[{"at":10,"fault":"partition","cut":{"kind":"one-way","from":[1],"to":[2]}},{"at":20,"fault":"heal"}]"#
        );
        assert_eq!(serde_json::from_str::<FaultSchedule>(&json).unwrap(), schedule);
    }
}
