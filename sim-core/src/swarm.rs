//! Swarm testing: each seed draws its whole fault configuration.
//!
//! A fixed nemesis tests one mix of faults however many seeds run; a bug
//! that needs short crash cycles of a majority, or flickering three-way
//! splits, may never meet that mix. Swarm testing (Groce et al., 2012;
//! TigerBeetle's VOPR) lets every seed choose its own: which fault kinds are
//! on, their weights, how often episodes come and how long they last (from
//! millisecond flickers to outages of seconds), how many servers a crash
//! takes, how many groups a split makes, how many lanes of episodes overlap, how slow a slow link is, how far a
//! clock jumps, and how noisy the network is. Many seeds then cover many
//! mixes, and some mix is harsh in the way a given bug needs.
//!
//! The draw comes from the seed's own [`Stream::Swarm`], so it moves no
//! other stream: the drawn [`SwarmConfig`] is a plain [`Nemesis`] and plain
//! network settings, and a scenario that states them gives the same run.
//! Every value is drawn on every seed, in a fixed order, whether or not it
//! is used, so narrowing one bound does not reshuffle the others.

use serde::{Deserialize, Serialize};

use crate::election::{ElectionKind, OnElection};
use crate::fault::{Nemesis, NemesisKind};
use crate::net::Latency;
use crate::rng::{Probability, Seed, SimRng, Stream, exp, ln};
use crate::time::Duration;

/// The ranges a swarm draws from; a scenario may narrow any of them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SwarmBounds {
    /// Shortest mean quiet time between episodes.
    pub interval_min: Duration,
    /// Longest mean quiet time between episodes.
    pub interval_max: Duration,
    /// Shortest mean episode length (a flicker).
    pub duration_min: Duration,
    /// Longest mean episode length (an outage).
    pub duration_max: Duration,
    /// Most servers one crash episode may take down; 0 means all of them.
    pub crash_max: usize,
    /// Most groups a split may make; 0 means one per server.
    pub split_groups_max: usize,
    /// Largest slowdown of a slow episode (at least 2).
    pub slow_factor_max: u64,
    /// Largest clock jump.
    pub clock_jump_max: Duration,
    /// Highest message loss.
    pub loss_max: Probability,
    /// Highest message duplication.
    pub duplicate_max: Probability,
    /// Lowest one-way latency.
    pub latency_min: Duration,
    /// Highest one-way latency.
    pub latency_max: Duration,
    /// Highest chance a crash tears the last unsynced write.
    pub torn_writes_max: Probability,
    /// Most lanes of overlapping episodes a seed may draw (from 1).
    pub lanes_max: usize,
    /// Whether seeds may turn on the election trigger ([`OnElection`]), for
    /// a protocol with a leader; three in four do.
    pub on_election: bool,
}

impl Default for SwarmBounds {
    fn default() -> SwarmBounds {
        SwarmBounds {
            interval_min: Duration::from_millis(10),
            interval_max: Duration::from_secs(2),
            duration_min: Duration::from_millis(5),
            duration_max: Duration::from_secs(2),
            crash_max: 0,
            split_groups_max: 0,
            slow_factor_max: 100,
            clock_jump_max: Duration::from_secs(2),
            loss_max: Probability::from_f64(0.05),
            duplicate_max: Probability::from_f64(0.05),
            latency_min: Duration::from_micros(100),
            latency_max: Duration::from_millis(20),
            torn_writes_max: Probability::from_f64(0.5),
            lanes_max: 3,
            on_election: true,
        }
    }
}

/// What one seed drew: a nemesis and the network's noise, each a value a
/// scenario file can state.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SwarmConfig {
    /// The nemesis, with its kinds, weights and rhythm.
    pub nemesis: Nemesis,
    /// One-way latency (uniform between the two drawn values).
    pub latency: Latency,
    /// Message loss.
    pub loss: Probability,
    /// Message duplication.
    pub duplicate: Probability,
    /// Chance a crash tears the last unsynced write.
    pub torn_writes: Probability,
}

/// Highest weight a kind may draw: one kind is at most this many times as
/// frequent as another.
pub const WEIGHT_MAX: u32 = 8;

impl SwarmBounds {
    /// Checks each minimum is at most its maximum and each value in range;
    /// on error, the offending field and why.
    pub fn validate(&self) -> Result<(), (&'static str, String)> {
        let pairs = [
            ("interval_min", self.interval_min, self.interval_max),
            ("duration_min", self.duration_min, self.duration_max),
            ("latency_min", self.latency_min, self.latency_max),
        ];
        for (field, min, max) in pairs {
            if min > max {
                return Err((field, format!("`{field}` ({min}) is above its maximum ({max})")));
            }
        }
        if self.duration_min < Duration::from_millis(1) {
            return Err(("duration_min", "an episode lasts at least 1ms".into()));
        }
        if self.interval_max > crate::HORIZON_MAX || self.duration_max > crate::HORIZON_MAX {
            return Err((
                "duration_max",
                format!("intervals and durations are at most {}", crate::HORIZON_MAX),
            ));
        }
        if !(2..=1_000_000).contains(&self.slow_factor_max) {
            return Err((
                "slow_factor_max",
                format!("must be between 2 and 1000000, not {}", self.slow_factor_max),
            ));
        }
        if !(1..=16).contains(&self.lanes_max) {
            return Err(("lanes_max", format!("must be between 1 and 16, not {}", self.lanes_max)));
        }
        if self.clock_jump_max < Duration::from_millis(1) || self.clock_jump_max > crate::HORIZON_MAX {
            return Err(("clock_jump_max", format!("must be between 1ms and {}", crate::HORIZON_MAX)));
        }
        Ok(())
    }

    /// Draws seed `seed`'s configuration: a non-empty subset of `kinds`
    /// (those the protocol and cluster allow), over `servers` servers,
    /// keeping `base`'s start and stop.
    pub fn draw(&self, seed: Seed, kinds: &[NemesisKind], servers: usize, base: &Nemesis) -> SwarmConfig {
        assert!(!kinds.is_empty(), "kinds=0: a swarm needs a kind to choose from");
        let rng = &mut SimRng::new(seed, Stream::Swarm);
        let chosen = subset(kinds, rng);
        let weights: Vec<u32> = chosen.iter().map(|_| rng.between(1, u64::from(WEIGHT_MAX)) as u32).collect();
        let interval = log_uniform(self.interval_min, self.interval_max, rng);
        let duration = log_uniform(self.duration_min, self.duration_max, rng);
        let most = |bound: usize| if bound == 0 { servers } else { bound.min(servers) }.max(1);
        let crash_max = rng.between(1, most(self.crash_max) as u64) as usize;
        let split_groups_max = rng.between(2, most(self.split_groups_max).max(2) as u64) as usize;
        let slow_factor = log_uniform_int(2, self.slow_factor_max, rng);
        let clock_jump_max = log_uniform(Duration::from_millis(1), self.clock_jump_max, rng);
        let loss = noise(self.loss_max, rng);
        let duplicate = noise(self.duplicate_max, rng);
        let torn_writes = noise(self.torn_writes_max, rng);
        let a = log_uniform(self.latency_min, self.latency_max, rng);
        let b = log_uniform(self.latency_min, self.latency_max, rng);
        let lanes = rng.between(1, self.lanes_max.max(1) as u64) as usize;
        let trigger = election_trigger(rng);
        let leads = kinds.iter().any(|k| k.aims_at_leader());
        let nemesis = Nemesis {
            kinds: chosen,
            weights,
            interval,
            duration,
            start: base.start,
            stop: base.stop,
            crash_max,
            slow_factor,
            clock_jump_max,
            split_groups_max,
            lanes,
            on_election: trigger.filter(|_| leads && self.on_election),
        };
        SwarmConfig {
            nemesis,
            latency: Latency::Uniform { min: a.min(b), max: a.max(b) },
            loss,
            duplicate,
            torn_writes,
        }
    }
}

/// The election trigger, on for three seeds in four. Each seed's trigger
/// does one thing (splits, crashes or majority crashes) at every election:
/// the bugs it is for need the same reaction leader after leader, and a mix
/// halves the odds at each. It fires at every election on three seeds in
/// four and at half of them otherwise, 5ms to 50ms after the win (time for
/// a new leader to act on its term before it is hit), for episodes of
/// 200ms to 1s (long enough for the others to elect a successor, or not),
/// each ending 1ms to 100ms after a successor wins if one does first.
fn election_trigger(rng: &mut SimRng) -> Option<OnElection> {
    let on = rng.chance(Probability::ratio(3, 4));
    let kinds = vec![*rng.pick(&ElectionKind::ALL)];
    let chance =
        if rng.chance(Probability::ratio(3, 4)) { Probability::ALWAYS } else { Probability::ratio(1, 2) };
    let delay_max = log_uniform(Duration::from_millis(5), Duration::from_millis(50), rng);
    let duration = log_uniform(Duration::from_millis(200), Duration::from_secs(1), rng);
    let until_successor = Some(log_uniform(Duration::from_millis(1), Duration::from_millis(100), rng));
    on.then_some(OnElection { kinds, chance, delay_max, duration, until_successor })
}

/// A uniformly random non-empty subset of `items`, in their order.
fn subset<T: Copy>(items: &[T], rng: &mut SimRng) -> Vec<T> {
    let count = items.len().min(63);
    let mask = rng.between(1, (1u64 << count) - 1);
    items[..count].iter().enumerate().filter(|(i, _)| mask & (1 << i) != 0).map(|(_, &k)| k).collect()
}

/// A value between `low` and `high` whose logarithm is uniform: as many
/// draws between 1ms and 10ms as between 100ms and 1s. Whole microseconds
/// (or nanoseconds below one), so a printed scenario reads easily.
fn log_uniform(low: Duration, high: Duration, rng: &mut SimRng) -> Duration {
    let nanos = log_uniform_int(low.as_nanos().max(1), high.as_nanos().max(1), rng);
    let rounded = if nanos >= 1_000 { nanos / 1_000 * 1_000 } else { nanos };
    Duration::from_nanos(rounded.clamp(low.as_nanos(), high.as_nanos()))
}

fn log_uniform_int(low: u64, high: u64, rng: &mut SimRng) -> u64 {
    let unit = rng.unit_open();
    if low >= high {
        return low;
    }
    let (a, b) = (ln(low as f64), ln(high as f64));
    (exp(a + unit * (b - a)).round() as u64).clamp(low, high)
}

/// Off half the time; else log-uniform from 0.01% up to `max`, in whole
/// hundredths of a percent so a printed scenario reads "0.0123".
fn noise(max: Probability, rng: &mut SimRng) -> Probability {
    let on = rng.chance(Probability::ratio(1, 2));
    let top = (max.as_f64() * 10_000.0).floor() as u64;
    let basis_points = log_uniform_int(1, top.max(1), rng);
    if !on || top == 0 {
        return Probability::NEVER;
    }
    Probability::from_f64(basis_points as f64 / 10_000.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::Time;

    fn base() -> Nemesis {
        Nemesis::new(
            NemesisKind::ALL.to_vec(),
            Duration::from_secs(1),
            Duration::from_secs(1),
            Time::from_nanos(4_000_000_000),
        )
    }

    #[test]
    fn a_seed_draws_the_same_configuration_every_time_and_seeds_differ() {
        let bounds = SwarmBounds::default();
        let draw = |seed| bounds.draw(Seed(seed), &NemesisKind::ALL, 5, &base());
        assert_eq!(draw(3), draw(3));
        let distinct: std::collections::BTreeSet<String> =
            (0..50).map(|s| format!("{:?}", draw(s))).collect();
        assert_eq!(distinct.len(), 50, "every seed draws its own configuration");
        let kind_sets: std::collections::BTreeSet<Vec<NemesisKind>> =
            (0..200).map(|s| draw(s).nemesis.kinds).collect();
        assert!(kind_sets.len() > 50, "kind subsets vary: {}", kind_sets.len());
    }

    #[test]
    fn draws_stay_within_bounds_and_span_flickers_to_outages() {
        let bounds = SwarmBounds::default();
        let configs: Vec<SwarmConfig> =
            (0..500).map(|s| bounds.draw(Seed(s), &NemesisKind::ALL, 5, &base())).collect();
        for c in &configs {
            let n = &c.nemesis;
            assert!(!n.kinds.is_empty());
            assert_eq!(n.weights.len(), n.kinds.len());
            assert!((bounds.duration_min..=bounds.duration_max).contains(&n.duration), "{n:?}");
            assert!((bounds.interval_min..=bounds.interval_max).contains(&n.interval), "{n:?}");
            assert!((1..=5).contains(&n.crash_max) && (2..=5).contains(&n.split_groups_max));
            assert!(c.loss <= bounds.loss_max && c.torn_writes <= bounds.torn_writes_max);
            assert_eq!((n.start, n.stop), (base().start, base().stop));
            n.validate().unwrap();
        }
        let short = configs.iter().filter(|c| c.nemesis.duration < Duration::from_millis(30)).count();
        let long = configs.iter().filter(|c| c.nemesis.duration > Duration::from_millis(500)).count();
        assert!(short > 50 && long > 50, "short={short} long={long}");
        let quiet = configs.iter().filter(|c| c.loss == Probability::NEVER).count();
        assert!((150..350).contains(&quiet), "loss is off about half the time: {quiet}");
    }

    proptest::proptest! {
        #[test]
        fn narrowed_bounds_narrow_every_draw(
            seed in 0u64..1_000_000,
            servers in 1usize..8,
            durations in (1u64..5_000, 1u64..5_000),
            intervals in (0u64..5_000, 0u64..5_000),
            latencies in (1u64..50_000, 1u64..50_000),
            crash_max in 0usize..8,
            loss_bp in 0u64..2_000,
            slow_factor_max in 2u64..500,
        ) {
            let ms = Duration::from_millis;
            let us = Duration::from_micros;
            let bounds = SwarmBounds {
                duration_min: ms(durations.0.min(durations.1)),
                duration_max: ms(durations.0.max(durations.1)),
                interval_min: ms(intervals.0.min(intervals.1)),
                interval_max: ms(intervals.0.max(intervals.1)),
                latency_min: us(latencies.0.min(latencies.1)),
                latency_max: us(latencies.0.max(latencies.1)),
                crash_max,
                loss_max: Probability::from_f64(loss_bp as f64 / 10_000.0),
                slow_factor_max,
                ..SwarmBounds::default()
            };
            bounds.validate().unwrap();
            let kinds = [NemesisKind::Crash, NemesisKind::Split, NemesisKind::Slow];
            let c = bounds.draw(Seed(seed), &kinds, servers, &base());
            let n = &c.nemesis;
            proptest::prop_assert!((bounds.duration_min..=bounds.duration_max).contains(&n.duration));
            proptest::prop_assert!((bounds.interval_min..=bounds.interval_max).contains(&n.interval));
            let Latency::Uniform { min, max } = c.latency else { panic!("uniform latency") };
            proptest::prop_assert!(bounds.latency_min <= min && min <= max && max <= bounds.latency_max);
            let crash_bound = if crash_max == 0 { servers } else { crash_max.min(servers) };
            proptest::prop_assert!(n.crash_max >= 1 && n.crash_max <= crash_bound.max(1));
            proptest::prop_assert!(c.loss <= bounds.loss_max);
            proptest::prop_assert!((2..=slow_factor_max).contains(&n.slow_factor));
            proptest::prop_assert!(!n.kinds.is_empty() && n.kinds.iter().all(|k| kinds.contains(k)));
        }
    }

    #[test]
    fn bad_bounds_name_their_field() {
        let bounds = SwarmBounds { duration_min: Duration::from_secs(3), ..SwarmBounds::default() };
        assert_eq!(bounds.validate().unwrap_err().0, "duration_min");
        let bounds = SwarmBounds { slow_factor_max: 1, ..SwarmBounds::default() };
        assert_eq!(bounds.validate().unwrap_err().0, "slow_factor_max");
    }
}
