//! Failure detectors: from the arrival times of a backend's health-check
//! answers, is it still alive?
//!
//! * **Fixed timeout**: suspect once no answer has come for `timeout`.
//! * **Phi-accrual** (Hayashibara, Défago, Yared, Katayama, 2004): keep a
//!   window of inter-arrival times, model them as a normal distribution with
//!   their mean μ and standard deviation σ (at least `min_stddev`), and
//!   express how late the next answer is as φ(Δ) = −log₁₀ P(X > Δ), where Δ is
//!   the time since the last answer. φ = 1 means a 10% chance that an answer
//!   this late is still normal; φ = 8 means one in 10⁸. The tail probability
//!   uses the logistic approximation of the normal CDF (as Akka and Cassandra
//!   do), computed with `sim_core::rng::{exp, ln}` so that runs are the same on
//!   every platform. The window starts from two samples of the expected
//!   interval (`heartbeat ± heartbeat/4`), and starts over at re-admission so
//!   the outage's long gap does not slow the next detection.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};
use sim_core::rng::{exp, ln};
use sim_core::{Duration, Time};

/// Which failure detector a balancer runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DetectorKind {
    /// Suspect after a fixed time without an answer.
    FixedTimeout,
    /// Suspect when the suspicion level φ exceeds a threshold.
    PhiAccrual,
}

/// One backend's failure detector, as one balancer runs it.
#[derive(Clone, Debug)]
pub enum Detector {
    /// Suspect after `timeout` without an answer.
    Fixed {
        /// The timeout.
        timeout: Duration,
        /// The last answer.
        last: Option<Time>,
    },
    /// Suspect when φ exceeds `threshold`.
    Phi {
        /// The threshold.
        threshold: f64,
        /// Inter-arrival times remembered.
        window: usize,
        /// Floor on σ, in nanoseconds.
        min_stddev: f64,
        /// The expected interval, in nanoseconds, to start the window from.
        expected: f64,
        /// Recent inter-arrival times, in nanoseconds.
        intervals: VecDeque<f64>,
        /// The last answer.
        last: Option<Time>,
    },
}

impl Detector {
    /// A fixed-timeout detector.
    pub fn fixed(timeout: Duration) -> Detector {
        Detector::Fixed { timeout, last: None }
    }

    /// A phi-accrual detector for answers expected every `expected`.
    pub fn phi(threshold: f64, window: usize, min_stddev: Duration, expected: Duration) -> Detector {
        let mut detector = Detector::Phi {
            threshold,
            window: window.max(2),
            min_stddev: min_stddev.as_nanos() as f64,
            expected: expected.as_nanos() as f64,
            intervals: VecDeque::new(),
            last: None,
        };
        detector.reset();
        detector
    }

    /// Forgets the arrival history (at re-admission).
    pub fn reset(&mut self) {
        match self {
            Detector::Fixed { last, .. } => *last = None,
            Detector::Phi { expected, intervals, last, .. } => {
                intervals.clear();
                intervals.extend([*expected * 0.75, *expected * 1.25]);
                *last = None;
            }
        }
    }

    /// An answer arrived at `now`.
    pub fn heard(&mut self, now: Time) {
        match self {
            Detector::Fixed { last, .. } => *last = Some(now),
            Detector::Phi { window, intervals, last, .. } => {
                if let Some(previous) = *last {
                    intervals.push_back(now.since(previous).as_nanos() as f64);
                    if intervals.len() > *window {
                        intervals.pop_front();
                    }
                }
                *last = Some(now);
            }
        }
    }

    /// Moves the last answer `by` later, but not past `now`: the balancer
    /// was paused that long, and silence it did not listen to is no evidence.
    /// (An answer handled on waking may already have moved it to `now`.)
    pub fn excuse(&mut self, by: Duration, now: Time) {
        let (Detector::Fixed { last, .. } | Detector::Phi { last, .. }) = self;
        *last = last.map(|l| (l + by).min(now));
    }

    /// Whether the backend is suspected at `now`; never before its first answer.
    pub fn suspect(&self, now: Time) -> bool {
        match self {
            Detector::Fixed { timeout, last } => last.is_some_and(|l| now.since(l) > *timeout),
            Detector::Phi { threshold, .. } => self.phi_at(now).is_some_and(|phi| phi > *threshold),
        }
    }

    /// The suspicion level φ at `now` (phi-accrual only, after a first answer).
    pub fn phi_at(&self, now: Time) -> Option<f64> {
        let Detector::Phi { min_stddev, intervals, last, .. } = self else { return None };
        let elapsed = now.since((*last)?).as_nanos() as f64;
        let (mean, stddev) = moments(intervals, *min_stddev);
        Some(phi(elapsed, mean, stddev))
    }
}

/// The mean and standard deviation (at least `min_stddev`) of the window.
fn moments(intervals: &VecDeque<f64>, min_stddev: f64) -> (f64, f64) {
    let n = intervals.len() as f64;
    let mean = intervals.iter().sum::<f64>() / n;
    let variance = intervals.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    (mean, variance.sqrt().max(min_stddev))
}

/// φ = −log₁₀ P(X > elapsed) for X ~ Normal(mean, stddev), by the logistic
/// approximation of the normal CDF.
pub fn phi(elapsed: f64, mean: f64, stddev: f64) -> f64 {
    let y = (elapsed - mean) / stddev;
    let e = exp(-y * (1.5976 + 0.070566 * y * y));
    let tail = if elapsed > mean { e / (1.0 + e) } else { 1.0 - 1.0 / (1.0 + e) };
    // Far past the mean the tail underflows to 0: suspicion is then certain.
    if tail <= 0.0 { f64::INFINITY } else { -ln(tail) / std::f64::consts::LN_10 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Time {
        Time::from_nanos(n * 1_000_000)
    }

    #[test]
    fn phi_grows_with_silence() {
        assert!(phi(10.0, 20.0, 5.0) < 0.1);
        assert!((phi(20.0, 20.0, 5.0) - 0.301).abs() < 0.01, "phi at the mean is -log10(1/2)");
        assert!(phi(45.0, 20.0, 5.0) > 5.0);
        assert!(phi(1e9, 20.0, 5.0).is_infinite());
    }

    #[test]
    fn phi_detector_suspects_after_a_few_missed_heartbeats() {
        let mut d = Detector::phi(8.0, 100, Duration::from_millis(2), Duration::from_millis(20));
        for i in 0..50 {
            d.heard(ms(20 * i));
        }
        let last = ms(20 * 49);
        assert!(!d.suspect(last + Duration::from_millis(25)));
        assert!(d.suspect(last + Duration::from_millis(80)));
    }

    #[test]
    fn fixed_timeout_suspects_after_the_timeout_only() {
        let mut d = Detector::fixed(Duration::from_millis(100));
        assert!(!d.suspect(ms(1000)), "never before a first answer");
        d.heard(ms(0));
        assert!(!d.suspect(ms(100)));
        assert!(d.suspect(ms(101)));
    }

    #[test]
    fn excused_silence_does_not_count() {
        let mut d = Detector::fixed(Duration::from_millis(100));
        d.heard(ms(0));
        d.excuse(Duration::from_millis(500), ms(520));
        assert!(!d.suspect(ms(550)), "a 500ms pause of the balancer is not the backend's silence");
        assert!(d.suspect(ms(601)));
    }

    #[test]
    fn an_excuse_never_moves_the_last_answer_past_now() {
        let mut d = Detector::fixed(Duration::from_millis(100));
        d.heard(ms(500));
        d.excuse(Duration::from_millis(480), ms(500));
        assert!(d.suspect(ms(601)), "silence after waking counts in full");
    }
}
