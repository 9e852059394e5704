//! The virtual network: latency, loss, duplication, topology and partitions.
//!
//! Every message gets its own latency draw, so reordering follows from the
//! distribution (unless `fifo` is set, which keeps each directed link in
//! order like a TCP connection). Where nodes sit in a [`Topology`] decides
//! which distribution applies: a cross-zone message pays for every link on its
//! path. Partitions are cuts of directed node pairs, so one-way cuts are as
//! easy as symmetric ones; `heal` removes every cut and every slow link.

use petgraph::algo::floyd_warshall;
use petgraph::graph::{NodeIndex, UnGraph};
use serde::{Deserialize, Serialize};

use crate::fault::Cut;
use crate::node::NodeId;
use crate::rng::{Probability, SimRng};
use crate::time::{Duration, Time};

/// A distribution of one-way message delays.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "distribution", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Latency {
    /// Always the same delay.
    Constant {
        /// The delay.
        delay: Duration,
    },
    /// Uniform between `min` and `max` inclusive.
    Uniform {
        /// Shortest delay.
        min: Duration,
        /// Longest delay.
        max: Duration,
    },
    /// Normal, truncated at zero.
    Normal {
        /// Mean delay.
        mean: Duration,
        /// Standard deviation.
        stddev: Duration,
    },
    /// Exponential with the given mean, shifted by `min`.
    Exponential {
        /// Mean of the exponential part.
        mean: Duration,
        /// Fixed delay added to every draw.
        #[serde(default)]
        min: Duration,
    },
    /// Log-normal: most messages near `median`, a heavy tail of slow ones.
    LogNormal {
        /// The median delay.
        median: Duration,
        /// Spread of the underlying normal (0.5 is moderate, 1.5 is wild).
        sigma: f64,
    },
    /// Pareto: at least `scale`, with a power-law tail; smaller `shape` is heavier.
    Pareto {
        /// The minimum delay.
        scale: Duration,
        /// Tail index (must be positive; below 2 the variance is infinite).
        shape: f64,
    },
}

/// Longest delay any distribution may produce, so a wild tail cannot stall a run.
pub const LATENCY_CAP: Duration = Duration::from_secs(60);

impl Latency {
    /// A constant delay.
    pub fn constant(delay: Duration) -> Latency {
        Latency::Constant { delay }
    }

    /// Draws one delay.
    #[inline]
    pub fn sample(&self, rng: &mut SimRng) -> Duration {
        match *self {
            Latency::Constant { delay } => delay,
            Latency::Uniform { min, max } => {
                Duration::from_nanos(rng.between(min.as_nanos(), max.as_nanos().max(min.as_nanos())))
            }
            _ => self.sample_real(rng),
        }
    }

    /// Draws one delay from a distribution that needs floating point.
    #[inline(never)]
    fn sample_real(&self, rng: &mut SimRng) -> Duration {
        let nanos = match *self {
            Latency::Constant { .. } | Latency::Uniform { .. } => return self.sample(rng),
            Latency::Normal { mean, stddev } => {
                mean.as_nanos() as f64 + stddev.as_nanos() as f64 * rng.standard_normal()
            }
            Latency::Exponential { mean, min } => {
                min.as_nanos() as f64 + mean.as_nanos() as f64 * rng.standard_exponential()
            }
            Latency::LogNormal { median, sigma } => {
                median.as_nanos() as f64 * crate::rng::exp(sigma * rng.standard_normal())
            }
            Latency::Pareto { scale, shape } => {
                // Inverse CDF: scale / U^(1/shape) = scale * e^(-ln U / shape).
                scale.as_nanos() as f64 * crate::rng::exp(rng.standard_exponential() / shape)
            }
        };
        let capped = nanos.clamp(0.0, LATENCY_CAP.as_nanos() as f64);
        Duration::from_nanos(capped as u64)
    }

    /// The mean delay (capped), used to route across the topology.
    pub fn mean(&self) -> Duration {
        let nanos = match *self {
            Latency::Constant { delay } => delay.as_nanos() as f64,
            Latency::Uniform { min, max } => (min.as_nanos() as f64 + max.as_nanos() as f64) / 2.0,
            Latency::Normal { mean, .. } => mean.as_nanos() as f64,
            Latency::Exponential { mean, min } => mean.as_nanos().saturating_add(min.as_nanos()) as f64,
            Latency::LogNormal { median, sigma } => {
                median.as_nanos() as f64 * crate::rng::exp(sigma * sigma / 2.0)
            }
            Latency::Pareto { scale, shape } if shape > 1.0 => {
                scale.as_nanos() as f64 * shape / (shape - 1.0)
            }
            Latency::Pareto { .. } => LATENCY_CAP.as_nanos() as f64,
        };
        Duration::from_nanos(nanos.min(LATENCY_CAP.as_nanos() as f64) as u64)
    }

    /// Checks the parameters; the message says which one is wrong.
    pub fn validate(&self) -> Result<(), String> {
        match *self {
            Latency::Uniform { min, max } if min > max => Err(format!("min {min} is greater than max {max}")),
            Latency::LogNormal { sigma, .. } if !(sigma.is_finite() && sigma >= 0.0) => {
                Err(format!("sigma must be a non-negative number, got {sigma}"))
            }
            Latency::Pareto { shape, .. } if !(shape.is_finite() && shape > 0.0) => {
                Err(format!("shape must be a positive number, got {shape}"))
            }
            _ => Ok(()),
        }
    }
}

/// Where nodes sit: zones joined by links, racks inside zones.
///
/// A message between two nodes in the same rack takes `rack` latency; in the
/// same zone but different racks, that zone's latency; across zones, the sum
/// of draws along the cheapest path of links (by mean latency).
#[derive(Clone, Debug)]
pub struct Topology {
    graph: UnGraph<Zone, Latency>,
    rack: Latency,
    placement: Vec<(NodeIndex, u32)>,
}

#[derive(Clone, Debug)]
struct Zone {
    name: String,
    latency: Latency,
}

impl Topology {
    /// A topology whose same-rack latency is `rack`, with no zones yet.
    pub fn new(rack: Latency) -> Topology {
        Topology { graph: UnGraph::default(), rack, placement: Vec::new() }
    }

    /// Adds a zone whose cross-rack latency is `latency`.
    pub fn zone(mut self, name: &str, latency: Latency) -> Topology {
        self.graph.add_node(Zone { name: name.to_string(), latency });
        self
    }

    /// Links two zones with a latency; panics if either zone is unknown.
    pub fn link(mut self, a: &str, b: &str, latency: Latency) -> Topology {
        let (a, b) = (self.zone_index(a), self.zone_index(b));
        self.graph.add_edge(a, b, latency);
        self
    }

    /// Places the next node (in id order) in `zone`, rack `rack`.
    pub fn place(mut self, zone: &str, rack: u32) -> Topology {
        let zone = self.zone_index(zone);
        self.placement.push((zone, rack));
        self
    }

    /// The nodes placed in zone `name`.
    pub fn nodes_in(&self, name: &str) -> Vec<NodeId> {
        let Some(zone) = self.graph.node_indices().find(|&i| self.graph[i].name == name) else {
            return Vec::new();
        };
        self.placement
            .iter()
            .enumerate()
            .filter(|(_, p)| p.0 == zone)
            .map(|(i, _)| NodeId(i as u32))
            .collect()
    }

    fn zone_index(&self, name: &str) -> NodeIndex {
        self.graph
            .node_indices()
            .find(|&i| self.graph[i].name == name)
            .unwrap_or_else(|| panic!("zone={name} is not in the topology"))
    }

    /// The link distributions a message from `a` to `b` passes through.
    fn path(&self, a: usize, b: usize, next_hop: &[Vec<Option<NodeIndex>>]) -> Vec<Latency> {
        let (Some(&(za, ra)), Some(&(zb, rb))) = (self.placement.get(a), self.placement.get(b)) else {
            return vec![self.rack.clone()];
        };
        if za == zb {
            return vec![if ra == rb { self.rack.clone() } else { self.graph[za].latency.clone() }];
        }
        let mut hops = Vec::new();
        let mut at = za;
        while at != zb {
            let Some(next) = next_hop[at.index()][zb.index()] else {
                // Unconnected zones: treat as an extremely slow link rather than a cut.
                return vec![Latency::constant(LATENCY_CAP)];
            };
            let edge = self.graph.find_edge(at, next).expect("next hop is a neighbour");
            hops.push(self.graph[edge].clone());
            at = next;
        }
        hops
    }

    /// For every zone pair, the first hop of a cheapest path.
    fn next_hops(&self) -> Vec<Vec<Option<NodeIndex>>> {
        let zones = self.graph.node_count();
        let distances =
            floyd_warshall(&self.graph, |e| e.weight().mean().as_nanos()).expect("no negative latencies");
        let mut next = vec![vec![None; zones]; zones];
        for from in self.graph.node_indices() {
            for to in self.graph.node_indices() {
                if from == to {
                    continue;
                }
                let Some(&total) = distances.get(&(from, to)) else { continue };
                if total == u64::MAX {
                    continue;
                }
                next[from.index()][to.index()] = self
                    .graph
                    .edges(from)
                    .map(|e| {
                        let via = if e.source() == from { e.target() } else { e.source() };
                        let rest = if via == to {
                            0
                        } else {
                            distances.get(&(via, to)).copied().unwrap_or(u64::MAX)
                        };
                        (e.weight().mean().as_nanos().saturating_add(rest), via)
                    })
                    .filter(|&(cost, _)| cost == total)
                    .map(|(_, via)| via)
                    .min();
            }
        }
        next
    }
}

use petgraph::visit::EdgeRef;

/// Network settings shared by every link.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetConfig {
    /// Delay between nodes when there is no topology.
    pub latency: Latency,
    /// Chance that a message is lost.
    pub loss: Probability,
    /// Chance that a message is delivered twice (each copy with its own delay).
    pub duplicate: Probability,
    /// Keep every directed link in send order, like a TCP connection.
    pub fifo: bool,
}

impl Default for NetConfig {
    fn default() -> NetConfig {
        NetConfig {
            latency: Latency::constant(Duration::from_millis(1)),
            loss: Probability::NEVER,
            duplicate: Probability::NEVER,
            fifo: false,
        }
    }
}

/// Why the network did not deliver a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DropReason {
    /// The link is cut by a partition.
    Partition,
    /// The message was lost at random.
    Loss,
    /// The receiver was down when the message arrived.
    Down,
    /// Too many messages in flight.
    Overload,
}

/// What the network decided for one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Routing {
    /// Dropped at send time.
    Dropped(DropReason),
    /// Delivered at `at`, and a duplicate at `duplicate` if any.
    Deliver {
        /// Arrival of the message.
        at: Time,
        /// Arrival of a duplicate copy.
        duplicate: Option<Time>,
    },
}

/// The network's state during a run: per-pair paths, cuts and slow nodes.
#[derive(Clone, Debug)]
pub struct Network {
    nodes: usize,
    config: NetConfig,
    /// Per directed pair (from * nodes + to): the links a message crosses;
    /// empty when the network is flat.
    paths: Vec<Vec<Latency>>,
    /// Whether every pair has the one link `config.latency` (no topology).
    flat: bool,
    /// Per directed pair: how many live partitions cut it.
    cut: Vec<u16>,
    cut_count: usize,
    slow: Vec<u64>,
    /// Whether any node is slow now.
    slowed: bool,
    last_arrival: Vec<Time>,
}

impl Network {
    /// A network of `nodes` nodes, with a topology or a flat latency.
    pub fn new(nodes: usize, config: NetConfig, topology: Option<&Topology>) -> Network {
        let pairs = nodes * nodes;
        let paths = match topology {
            None => Vec::new(),
            Some(topology) => {
                let next = topology.next_hops();
                (0..pairs).map(|p| topology.path(p / nodes, p % nodes, &next)).collect()
            }
        };
        let last_arrival = if config.fifo { vec![Time::ZERO; pairs] } else { Vec::new() };
        Network {
            nodes,
            config,
            paths,
            flat: topology.is_none(),
            cut: vec![0; pairs],
            cut_count: 0,
            slow: vec![1; nodes],
            slowed: false,
            last_arrival,
        }
    }

    /// Decides the fate of a message sent now from `from` to `to`.
    #[inline]
    pub fn route(&mut self, from: NodeId, to: NodeId, now: Time, rng: &mut SimRng) -> Routing {
        let pair = from.index() * self.nodes + to.index();
        if from == to {
            return Routing::Deliver { at: now, duplicate: None };
        }
        if self.cut_count > 0 && self.cut[pair] > 0 {
            return Routing::Dropped(DropReason::Partition);
        }
        // `chance` of never draws nothing: testing first skips the call.
        if !self.config.loss.is_never() && rng.chance(self.config.loss) {
            return Routing::Dropped(DropReason::Loss);
        }
        let at = self.arrival(pair, from, to, now, rng);
        let duplicate = if !self.config.duplicate.is_never() && rng.chance(self.config.duplicate) {
            Some(self.arrival(pair, from, to, now, rng))
        } else {
            None
        };
        Routing::Deliver { at, duplicate }
    }

    #[inline(always)]
    fn arrival(&mut self, pair: usize, from: NodeId, to: NodeId, now: Time, rng: &mut SimRng) -> Time {
        let mut delay = if self.flat {
            self.config.latency.sample(rng)
        } else {
            match self.paths[pair].as_slice() {
                [hop] => hop.sample(rng),
                path => path.iter().fold(Duration::ZERO, |sum, hop| sum + hop.sample(rng)),
            }
        };
        if self.slowed {
            let factor = self.slow[from.index()].max(self.slow[to.index()]);
            if factor > 1 {
                delay = delay.saturating_mul(factor);
            }
        }
        let mut at = now + delay;
        if self.config.fifo {
            at = at.max(self.last_arrival[pair]);
            self.last_arrival[pair] = at;
        }
        at
    }

    /// Whether messages from `from` to `to` are currently cut.
    pub fn is_cut(&self, from: NodeId, to: NodeId) -> bool {
        self.cut[from.index() * self.nodes + to.index()] > 0
    }

    /// Adds the cuts of a partition to the current ones. Each directed pair
    /// counts the partitions cutting it, so mending one leaves the others.
    pub fn partition(&mut self, cut: &Cut) {
        for pair in self.pairs(cut) {
            if self.cut[pair] == 0 {
                self.cut_count += 1;
            }
            self.cut[pair] = self.cut[pair].saturating_add(1);
        }
    }

    /// The distinct directed pairs `cut` blocks, as indices into `cut`.
    fn pairs(&self, cut: &Cut) -> Vec<usize> {
        let nodes: Vec<NodeId> = (0..self.nodes as u32).map(NodeId).collect();
        let mut pairs: Vec<usize> = cut
            .directed_pairs(&nodes)
            .into_iter()
            .filter(|(from, to)| from != to)
            .map(|(from, to)| from.index() * self.nodes + to.index())
            .collect();
        pairs.sort_unstable();
        pairs.dedup();
        pairs
    }

    /// Removes the cuts of one earlier partition of `cut`; a pair another
    /// partition still cuts stays cut, and mending what was never cut does
    /// nothing.
    pub fn mend(&mut self, cut: &Cut) {
        for pair in self.pairs(cut) {
            if self.cut[pair] == 1 {
                self.cut_count -= 1;
            }
            self.cut[pair] = self.cut[pair].saturating_sub(1);
        }
    }

    /// Makes every link to and from `node` `factor` times slower.
    pub fn slow(&mut self, node: NodeId, factor: u64) {
        self.slow[node.index()] = factor.max(1);
        self.slowed = self.slow.iter().any(|&f| f > 1);
    }

    /// Removes every cut and every slow link.
    pub fn heal(&mut self) {
        self.cut.iter_mut().for_each(|c| *c = 0);
        self.cut_count = 0;
        self.slow.iter_mut().for_each(|s| *s = 1);
        self.slowed = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Seed, Stream};

    fn rng() -> SimRng {
        SimRng::new(Seed(5), Stream::Network)
    }

    fn mean_of(latency: &Latency, n: u64) -> f64 {
        let mut rng = rng();
        (0..n).map(|_| latency.sample(&mut rng).as_nanos() as f64).sum::<f64>() / n as f64
    }

    #[test]
    fn distributions_have_their_means() {
        let ms = Duration::from_millis;
        let cases = [
            Latency::constant(ms(3)),
            Latency::Uniform { min: ms(1), max: ms(5) },
            Latency::Normal { mean: ms(10), stddev: ms(2) },
            Latency::Exponential { mean: ms(4), min: ms(1) },
            Latency::LogNormal { median: ms(2), sigma: 0.5 },
            Latency::Pareto { scale: ms(1), shape: 3.0 },
        ];
        for latency in cases {
            let expected = latency.mean().as_nanos() as f64;
            let got = mean_of(&latency, 40_000);
            assert!(
                (got - expected).abs() < 0.03 * expected,
                "latency={latency:?} got={got} expected={expected}"
            );
        }
    }

    #[test]
    fn heavy_tail_is_heavy() {
        let pareto = Latency::Pareto { scale: Duration::from_millis(1), shape: 1.2 };
        let mut rng = rng();
        let slow = (0..10_000).filter(|_| pareto.sample(&mut rng) > Duration::from_millis(20)).count();
        // P(X > 20 scale) = 20^-1.2, about 2.7%.
        assert!((150..400).contains(&slow), "slow={slow}");
    }

    #[test]
    fn a_mend_ends_its_own_partition_and_leaves_the_others() {
        let mut net = Network::new(3, NetConfig::default(), None);
        let (n0, n1, n2) = (NodeId(0), NodeId(1), NodeId(2));
        let isolate = Cut::Isolate { node: n0 };
        let split = Cut::Split { groups: vec![vec![n0, n1], vec![n2]] };
        net.partition(&isolate);
        net.partition(&split);
        assert!(net.is_cut(n0, n1) && net.is_cut(n0, n2) && net.is_cut(n1, n2));
        net.mend(&isolate);
        assert!(!net.is_cut(n0, n1) && !net.is_cut(n1, n0), "only the isolation cut n0 from n1");
        assert!(net.is_cut(n0, n2) && net.is_cut(n2, n0), "the split still cuts n0 from n2");
        net.mend(&split);
        net.mend(&split);
        assert!(!net.is_cut(n0, n2) && !net.is_cut(n1, n2), "mending twice cuts nothing back");
        net.partition(&split);
        assert!(net.is_cut(n1, n2), "a mend never left a debt behind");
        net.partition(&split);
        net.heal();
        assert!(!net.is_cut(n1, n2) && !net.is_cut(n2, n0), "a heal removes every cut at once");
    }

    #[test]
    fn cross_zone_messages_are_slower() {
        let ms = |n| Latency::constant(Duration::from_millis(n));
        let topology = Topology::new(ms(1))
            .zone("a", ms(2))
            .zone("b", ms(2))
            .zone("c", ms(2))
            .link("a", "b", ms(30))
            .link("b", "c", ms(40))
            .place("a", 0)
            .place("a", 0)
            .place("a", 1)
            .place("c", 0);
        let mut net = Network::new(4, NetConfig::default(), Some(&topology));
        let arrive = |net: &mut Network, a, b| match net.route(NodeId(a), NodeId(b), Time::ZERO, &mut rng()) {
            Routing::Deliver { at, .. } => at.as_nanos() / 1_000_000,
            other => panic!("{other:?}"),
        };
        assert_eq!(arrive(&mut net, 0, 1), 1, "same rack");
        assert_eq!(arrive(&mut net, 0, 2), 2, "same zone, other rack");
        assert_eq!(arrive(&mut net, 0, 3), 70, "a -> b -> c");
        assert_eq!(topology.nodes_in("a"), vec![NodeId(0), NodeId(1), NodeId(2)]);
    }

    #[test]
    fn one_way_cut_is_one_way_and_heal_restores() {
        let mut net = Network::new(3, NetConfig::default(), None);
        net.partition(&Cut::OneWay { from: vec![NodeId(0)], to: vec![NodeId(1)] });
        assert!(net.is_cut(NodeId(0), NodeId(1)));
        assert!(!net.is_cut(NodeId(1), NodeId(0)));
        assert!(!net.is_cut(NodeId(0), NodeId(2)));
        assert_eq!(
            net.route(NodeId(0), NodeId(1), Time::ZERO, &mut rng()),
            Routing::Dropped(DropReason::Partition)
        );
        net.heal();
        assert!(!net.is_cut(NodeId(0), NodeId(1)));
    }

    #[test]
    fn fifo_keeps_link_order() {
        let config = NetConfig {
            latency: Latency::Uniform { min: Duration::from_millis(1), max: Duration::from_millis(50) },
            fifo: true,
            ..NetConfig::default()
        };
        let mut net = Network::new(2, config, None);
        let mut rng = rng();
        let mut last = Time::ZERO;
        for i in 0..200 {
            let Routing::Deliver { at, .. } =
                net.route(NodeId(0), NodeId(1), Time::from_nanos(i * 1000), &mut rng)
            else {
                panic!()
            };
            assert!(at >= last);
            last = at;
        }
    }

    #[test]
    fn slow_node_multiplies_latency() {
        let mut net = Network::new(2, NetConfig::default(), None);
        net.slow(NodeId(1), 10);
        let Routing::Deliver { at, .. } = net.route(NodeId(0), NodeId(1), Time::ZERO, &mut rng()) else {
            panic!()
        };
        assert_eq!(at, Time::from_nanos(10_000_000));
        net.heal();
        let Routing::Deliver { at, .. } = net.route(NodeId(0), NodeId(1), Time::ZERO, &mut rng()) else {
            panic!()
        };
        assert_eq!(at, Time::from_nanos(1_000_000));
    }
}
