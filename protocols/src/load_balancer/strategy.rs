//! Balancing strategies: which admitted backend takes the next request.
//!
//! A [`Picker`] sees, per backend (by index into the balancer's backend
//! list), whether it is admitted and how many requests this balancer has in
//! flight to it. Randomness comes from the balancer's own stream.

use serde::{Deserialize, Serialize};
use sim_core::{NodeId, SimRng};

/// How a balancer picks a backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Uniformly at random.
    Random,
    /// Each admitted backend in turn.
    RoundRobin,
    /// The fewest requests in flight from this balancer (ties at random).
    LeastOutstanding,
    /// Two distinct random backends; the one with fewer in flight.
    PowerOfTwo,
    /// A hash ring keyed by request key, with bounded loads.
    ConsistentHash,
}

impl Strategy {
    /// Every strategy, in the order the comparison prints them.
    pub const ALL: [Strategy; 5] = [
        Strategy::Random,
        Strategy::RoundRobin,
        Strategy::LeastOutstanding,
        Strategy::PowerOfTwo,
        Strategy::ConsistentHash,
    ];

    /// The name scenario files use.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Random => "random",
            Strategy::RoundRobin => "round-robin",
            Strategy::LeastOutstanding => "least-outstanding",
            Strategy::PowerOfTwo => "power-of-two",
            Strategy::ConsistentHash => "consistent-hash",
        }
    }
}

/// A strategy with the state it needs: the round-robin cursor, the hash ring.
#[derive(Clone, Debug)]
pub struct Picker {
    strategy: Strategy,
    cursor: usize,
    /// (point on the ring, backend index), sorted by point.
    ring: Vec<(u64, usize)>,
    epsilon: f64,
}

/// SplitMix64's finaliser: a fixed, well-mixed hash of a word.
pub fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

impl Picker {
    /// A picker over `backends`, with `vnodes` ring points each and load bound `epsilon`.
    pub fn new(strategy: Strategy, backends: &[NodeId], vnodes: usize, epsilon: f64) -> Picker {
        let mut ring = Vec::new();
        if strategy == Strategy::ConsistentHash {
            for (index, backend) in backends.iter().enumerate() {
                for v in 0..vnodes.max(1) as u64 {
                    ring.push((mix((u64::from(backend.0) << 32) | v), index));
                }
            }
            ring.sort_unstable();
        }
        Picker { strategy, cursor: 0, ring, epsilon: epsilon.max(0.0) }
    }

    /// The backend index for a request on `key`, or `None` if none is admitted.
    pub fn pick(
        &mut self,
        admitted: &[bool],
        outstanding: &[u32],
        key: i64,
        rng: &mut SimRng,
    ) -> Option<usize> {
        assert!(
            admitted.len() == outstanding.len(),
            "admitted={} outstanding={}: one count per backend",
            admitted.len(),
            outstanding.len()
        );
        let healthy: Vec<usize> = (0..admitted.len()).filter(|&i| admitted[i]).collect();
        if healthy.is_empty() {
            return None;
        }
        let pick = match self.strategy {
            Strategy::Random => *rng.pick(&healthy),
            Strategy::RoundRobin => self.round_robin(admitted),
            Strategy::LeastOutstanding => least_outstanding(&healthy, outstanding, rng),
            Strategy::PowerOfTwo => power_of_two(&healthy, outstanding, rng),
            Strategy::ConsistentHash => self.bounded_hash(admitted, outstanding, &healthy, key),
        };
        assert!(admitted[pick], "picked backend index={pick} is not admitted");
        Some(pick)
    }

    fn round_robin(&mut self, admitted: &[bool]) -> usize {
        let n = admitted.len();
        let pick =
            (0..n).map(|step| (self.cursor + step) % n).find(|&i| admitted[i]).expect("one is admitted");
        self.cursor = (pick + 1) % n;
        pick
    }

    /// Walks the ring clockwise from the key's point to the first admitted
    /// backend below the load bound ⌈(1+ε)·m/n⌉, `m` counting this request.
    /// One always exists: the admitted backends hold `m - 1` requests, fewer
    /// than `n` times the bound.
    fn bounded_hash(&self, admitted: &[bool], outstanding: &[u32], healthy: &[usize], key: i64) -> usize {
        let total: u64 = healthy.iter().map(|&i| u64::from(outstanding[i])).sum::<u64>() + 1;
        let bound = ((1.0 + self.epsilon) * total as f64 / healthy.len() as f64).ceil() as u64;
        let start = self.ring.partition_point(|&(point, _)| point < mix(key as u64));
        (0..self.ring.len())
            .map(|step| self.ring[(start + step) % self.ring.len()].1)
            .find(|&i| admitted[i] && u64::from(outstanding[i]) < bound)
            .expect("some admitted backend is below the load bound")
    }
}

fn least_outstanding(healthy: &[usize], outstanding: &[u32], rng: &mut SimRng) -> usize {
    let least = healthy.iter().map(|&i| outstanding[i]).min().expect("non-empty");
    let ties: Vec<usize> = healthy.iter().copied().filter(|&i| outstanding[i] == least).collect();
    *rng.pick(&ties)
}

fn power_of_two(healthy: &[usize], outstanding: &[u32], rng: &mut SimRng) -> usize {
    if healthy.len() == 1 {
        return healthy[0];
    }
    let a = rng.below(healthy.len() as u64) as usize;
    let b = (a + 1 + rng.below(healthy.len() as u64 - 1) as usize) % healthy.len();
    let (a, b) = (healthy[a], healthy[b]);
    if outstanding[b] < outstanding[a] { b } else { a }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim_core::{Seed, Stream};

    fn backends(n: u32) -> Vec<NodeId> {
        (2..2 + n).map(NodeId).collect()
    }

    #[test]
    fn round_robin_skips_ejected_backends() {
        let mut picker = Picker::new(Strategy::RoundRobin, &backends(3), 1, 0.0);
        let mut rng = SimRng::new(Seed(1), Stream::Workload);
        let admitted = [true, false, true];
        let picks: Vec<usize> =
            (0..4).map(|_| picker.pick(&admitted, &[0, 0, 0], 0, &mut rng).unwrap()).collect();
        assert_eq!(picks, vec![0, 2, 0, 2]);
    }

    #[test]
    fn least_outstanding_and_power_of_two_avoid_the_loaded() {
        let mut rng = SimRng::new(Seed(2), Stream::Workload);
        let mut lo = Picker::new(Strategy::LeastOutstanding, &backends(3), 1, 0.0);
        assert_eq!(lo.pick(&[true; 3], &[5, 1, 3], 0, &mut rng), Some(1));
        let mut p2 = Picker::new(Strategy::PowerOfTwo, &backends(2), 1, 0.0);
        for _ in 0..20 {
            assert_eq!(p2.pick(&[true; 2], &[9, 0], 0, &mut rng), Some(1));
        }
        assert_eq!(p2.pick(&[false, false], &[0, 0], 0, &mut rng), None);
    }

    #[test]
    fn consistent_hash_is_sticky_and_bounded() {
        let mut rng = SimRng::new(Seed(3), Stream::Workload);
        let mut picker = Picker::new(Strategy::ConsistentHash, &backends(4), 32, 0.25);
        let first = picker.pick(&[true; 4], &[0; 4], 42, &mut rng).unwrap();
        assert_eq!(picker.pick(&[true; 4], &[0; 4], 42, &mut rng), Some(first));
        // With the key's home backend at the bound, the request moves on.
        let mut loaded = [1; 4];
        loaded[first] = 3; // total 6+1 = 7, bound ceil(1.25 * 7 / 4) = 3
        let moved = picker.pick(&[true; 4], &loaded, 42, &mut rng).unwrap();
        assert_ne!(moved, first);
    }
}
