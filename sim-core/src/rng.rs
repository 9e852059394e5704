//! Seeded randomness: one seed, independent named streams.
//!
//! Every random draw in a run comes from a [`SimRng`] derived from the run's
//! [`Seed`]. Each consumer (the network, the fault nemesis, the workload, each
//! node) gets its own ChaCha8 *stream* of the same key: adding a draw in one
//! consumer never shifts what another sees, so a protocol change does not
//! reshuffle the network's decisions for the same seed.
//!
//! Draws use integers only, apart from the latency distributions that need
//! logarithms; those use [`ln`] and [`exp`] below, written with basic IEEE
//! arithmetic so the results do not depend on the platform's libm.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// The one number a run is reproduced from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Seed(pub u64);

impl std::fmt::Display for Seed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The consumer a random stream belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stream {
    /// Latency, loss and duplication decisions.
    Network,
    /// The random nemesis and crash-time storage effects.
    Faults,
    /// Operations, keys, values and think times.
    Workload,
    /// Swarm mode's draw of the run's whole fault configuration (which
    /// kinds, their weights and rhythm, the network's noise).
    Swarm,
    /// The nemesis's draws at each election ([`OnElection`](crate::OnElection)).
    Election,
    /// The node with this index (servers first, then clients).
    Node(u32),
}

impl Stream {
    /// The ChaCha stream number; fixed forever so seeds stay reproducible.
    fn number(self) -> u64 {
        match self {
            Stream::Network => 1,
            Stream::Faults => 2,
            Stream::Workload => 3,
            Stream::Swarm => 4,
            Stream::Election => 5,
            Stream::Node(index) => 1_000 + u64::from(index),
        }
    }
}

/// A probability held as an exact integer ratio over 2^32, so draws never use floats.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Probability(u64);

impl Probability {
    /// Never.
    pub const NEVER: Probability = Probability(0);
    /// Always.
    pub const ALWAYS: Probability = Probability(1 << 32);

    /// The probability `numerator / denominator`, clamped to [0, 1].
    pub fn ratio(numerator: u64, denominator: u64) -> Probability {
        assert!(denominator > 0, "denominator=0");
        let scaled = (u128::from(numerator.min(denominator)) << 32) / u128::from(denominator);
        Probability(scaled as u64)
    }

    /// The probability nearest to `p` (clamped to [0, 1]); for parsing only.
    pub fn from_f64(p: f64) -> Probability {
        let clamped = if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) };
        Probability((clamped * (1u64 << 32) as f64).round() as u64)
    }

    /// The probability as a float, for reports.
    pub fn as_f64(self) -> f64 {
        self.0 as f64 / (1u64 << 32) as f64
    }

    /// Whether this is exactly zero.
    pub fn is_never(self) -> bool {
        self.0 == 0
    }
}

impl Serialize for Probability {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.as_f64())
    }
}

impl<'de> Deserialize<'de> for Probability {
    /// Accepts a number in [0, 1] or a percentage string such as "1.5%".
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Probability, D::Error> {
        use serde::de::Error;
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Number(f64),
            Text(String),
        }
        let p = match Raw::deserialize(d)? {
            Raw::Number(p) => p,
            Raw::Text(text) => {
                let number = text.trim().strip_suffix('%').ok_or_else(|| {
                    D::Error::custom(format!("invalid probability {text:?}: expected a number in [0, 1] or a percentage like \"1%\""))
                })?;
                number
                    .trim()
                    .parse::<f64>()
                    .map_err(|_| D::Error::custom(format!("invalid percentage {text:?}")))?
                    / 100.0
            }
        };
        if !(0.0..=1.0).contains(&p) {
            return Err(D::Error::custom(format!("probability {p} is outside [0, 1]")));
        }
        Ok(Probability::from_f64(p))
    }
}

/// A deterministic random stream.
#[derive(Clone, Debug)]
pub struct SimRng {
    inner: ChaCha8Rng,
}

impl SimRng {
    /// The stream `stream` of `seed`.
    pub fn new(seed: Seed, stream: Stream) -> SimRng {
        let mut inner = ChaCha8Rng::seed_from_u64(seed.0);
        inner.set_stream(stream.number());
        SimRng { inner }
    }

    /// A uniformly random 64-bit word.
    pub fn next_u64(&mut self) -> u64 {
        self.inner.next_u64()
    }

    /// A uniform integer in `0..bound` (unbiased). Total: a `bound` of 0
    /// (an empty range, reachable from a bad configuration) gives 0 without
    /// drawing, so a bad setting is a wrong answer to validate, never a panic.
    pub fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 {
            return 0;
        }
        // Lemire's multiply-and-reject: exact and usually one draw.
        let threshold = bound.wrapping_neg() % bound;
        loop {
            let product = u128::from(self.next_u64()) * u128::from(bound);
            if (product as u64) >= threshold {
                return (product >> 64) as u64;
            }
        }
    }

    /// A uniform integer in `low..=high`. Total: bounds given the wrong way
    /// round are swapped (the draws for `low <= high` are unchanged).
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        let (low, high) = (low.min(high), low.max(high));
        match (high - low).checked_add(1) {
            Some(span) => low + self.below(span),
            None => self.next_u64(),
        }
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: Probability) -> bool {
        match p {
            Probability::NEVER => false,
            Probability::ALWAYS => true,
            Probability(threshold) => (self.next_u64() >> 32) < threshold,
        }
    }

    /// A uniform index into a non-empty slice, and the element.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    /// Shuffles `items` in place (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }

    /// A uniform float in (0, 1), never exactly 0 so its logarithm is finite.
    pub fn unit_open(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    }

    /// A standard normal draw (Marsaglia's polar method: only ln and sqrt).
    pub fn standard_normal(&mut self) -> f64 {
        loop {
            let u = 2.0 * self.unit_open() - 1.0;
            let v = 2.0 * self.unit_open() - 1.0;
            let s = u * u + v * v;
            if s > 0.0 && s < 1.0 {
                return u * (-2.0 * ln(s) / s).sqrt();
            }
        }
    }

    /// An exponential draw with mean 1.
    pub fn standard_exponential(&mut self) -> f64 {
        -ln(self.unit_open())
    }
}

const LN_2: f64 = std::f64::consts::LN_2;

/// Natural logarithm of a positive finite `x`, from basic IEEE operations only.
pub fn ln(x: f64) -> f64 {
    assert!(x > 0.0 && x.is_finite(), "x={x}");
    // x = m * 2^k with m in [1, 2); ln m = 2 atanh((m - 1) / (m + 1)).
    let bits = x.to_bits();
    let mut exponent = ((bits >> 52) & 0x7ff) as i64;
    let mut mantissa_bits = bits & ((1u64 << 52) - 1);
    if exponent == 0 {
        // Subnormal: normalise by scaling up.
        let scaled = x * (1u64 << 54) as f64;
        let sb = scaled.to_bits();
        exponent = ((sb >> 52) & 0x7ff) as i64 - 54;
        mantissa_bits = sb & ((1u64 << 52) - 1);
    }
    let mut m = f64::from_bits(mantissa_bits | (1023u64 << 52));
    let mut k = exponent - 1023;
    if m > std::f64::consts::SQRT_2 {
        m /= 2.0;
        k += 1;
    }
    let t = (m - 1.0) / (m + 1.0);
    let t2 = t * t;
    let mut term: f64 = t;
    let mut sum: f64 = 0.0;
    let mut n = 1.0;
    while term.abs() > 1e-18 {
        sum += term / n;
        term *= t2;
        n += 2.0;
    }
    2.0 * sum + k as f64 * LN_2
}

/// e^x from basic IEEE operations only; saturates to infinity / zero.
pub fn exp(x: f64) -> f64 {
    if x > 709.0 {
        return f64::INFINITY;
    }
    if x < -745.0 {
        return 0.0;
    }
    // x = k ln 2 + r with |r| <= ln2 / 2; e^r by Taylor series.
    let k = (x / LN_2).round();
    let r = x - k * LN_2;
    let mut term: f64 = 1.0;
    let mut sum: f64 = 1.0;
    let mut n = 1.0;
    while term.abs() > 1e-18 {
        term *= r / n;
        sum += term;
        n += 1.0;
    }
    let k = k as i32;
    // Scale by 2^k in two steps so intermediate powers stay normal.
    let half = k / 2;
    sum * pow2(half) * pow2(k - half)
}

fn pow2(k: i32) -> f64 {
    f64::from_bits(((k + 1023) as u64) << 52)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_total() {
        let mut a = SimRng::new(Seed(3), Stream::Faults);
        let mut b = a.clone();
        assert_eq!(a.below(0), 0, "an empty range gives 0");
        for _ in 0..100 {
            assert_eq!(a.between(9, 2), b.between(2, 9), "reversed bounds are swapped, same draws");
        }
        assert_eq!(a.between(u64::MAX, 0), b.between(0, u64::MAX));
        assert_eq!(a.between(5, 5), 5);
    }

    /// Golden values: if these change, every recorded seed in the world
    /// replays differently. Change them only on purpose.
    #[test]
    fn streams_are_pinned_for_a_fixed_seed() {
        let seed = Seed(42);
        let first = |stream| {
            let mut rng = SimRng::new(seed, stream);
            [rng.next_u64(), rng.next_u64(), rng.next_u64()]
        };
        let golden = [
            (Stream::Network, first(Stream::Network)),
            (Stream::Faults, first(Stream::Faults)),
            (Stream::Workload, first(Stream::Workload)),
            (Stream::Node(0), first(Stream::Node(0))),
            (Stream::Node(7), first(Stream::Node(7))),
            (Stream::Swarm, first(Stream::Swarm)),
            (Stream::Election, first(Stream::Election)),
        ];
        insta::assert_debug_snapshot!(golden);
    }

    #[test]
    fn streams_are_independent() {
        let seed = Seed(7);
        let mut a = SimRng::new(seed, Stream::Network);
        let mut b = SimRng::new(seed, Stream::Workload);
        let untouched: Vec<u64> = (0..16).map(|_| b.next_u64()).collect();
        // Drawing more from one stream does not move another.
        let mut b2 = SimRng::new(seed, Stream::Workload);
        for _ in 0..1000 {
            a.next_u64();
        }
        let after: Vec<u64> = (0..16).map(|_| b2.next_u64()).collect();
        assert_eq!(untouched, after);
        assert_ne!(untouched[0], SimRng::new(seed, Stream::Network).next_u64());
    }

    #[test]
    fn probability_ratios_are_exact() {
        assert_eq!(Probability::ratio(1, 2), Probability(1 << 31));
        assert_eq!(Probability::ratio(5, 1), Probability::ALWAYS);
        assert_eq!(Probability::from_f64(0.5), Probability::ratio(1, 2));
        let mut rng = SimRng::new(Seed(1), Stream::Network);
        let hits = (0..100_000).filter(|_| rng.chance(Probability::ratio(1, 10))).count();
        assert!((9_000..11_000).contains(&hits), "hits={hits}");
        assert!(!rng.chance(Probability::NEVER));
        assert!(rng.chance(Probability::ALWAYS));
    }

    #[test]
    fn below_is_in_range_and_covers_it() {
        let mut rng = SimRng::new(Seed(3), Stream::Faults);
        let mut seen = [false; 7];
        for _ in 0..1000 {
            let v = rng.below(7);
            seen[v as usize] = true;
        }
        assert!(seen.iter().all(|&s| s));
        assert_eq!(rng.between(5, 5), 5);
    }

    #[test]
    fn portable_ln_and_exp_match_libm() {
        for &x in &[1e-300, 1e-10, 0.001, 0.5, 1.0, 1.5, 2.0, 10.0, 12345.678, 1e300, 5e-324] {
            let (ours, std) = (ln(x), x.ln());
            assert!((ours - std).abs() <= 1e-12 * std.abs().max(1.0), "x={x} ours={ours} std={std}");
        }
        for &x in &[-700.0, -10.0, -1.0, 0.0, 0.3, 1.0, 5.5, 100.0, 700.0] {
            let (ours, std) = (exp(x), x.exp());
            assert!((ours - std).abs() <= 1e-12 * std.abs(), "x={x} ours={ours} std={std}");
        }
    }

    #[test]
    fn normal_draws_have_the_right_moments() {
        let mut rng = SimRng::new(Seed(11), Stream::Node(0));
        let n = 50_000;
        let draws: Vec<f64> = (0..n).map(|_| rng.standard_normal()).collect();
        let mean = draws.iter().sum::<f64>() / n as f64;
        let var = draws.iter().map(|d| (d - mean) * (d - mean)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.02, "mean={mean}");
        assert!((var - 1.0).abs() < 0.03, "var={var}");
    }
}
