//! Availability from a history: how many operations succeeded, how fast, the
//! longest stretch with no success, and how long service took to come back
//! after each fault healed. Thresholds turn the numbers into pass or fail.

use serde::Serialize;

use crate::history::{Operation, RecordType};
use crate::time::{Duration, Time};

/// Limits a history must meet to pass; `None` means not checked.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Thresholds {
    /// Lowest acceptable fraction of operations that succeeded (ok / all).
    pub success_ratio_min: Option<f64>,
    /// Highest acceptable 99th percentile latency of successful operations.
    pub latency_p99_max: Option<Duration>,
    /// Longest acceptable window with no successful operation.
    pub unavailable_max: Option<Duration>,
    /// Longest acceptable time from a heal to the first success after it.
    pub recovery_max: Option<Duration>,
}

/// Latency percentiles of successful operations (nearest rank).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Latency {
    /// Median.
    pub p50: Duration,
    /// 90th percentile.
    pub p90: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// Slowest.
    pub max: Duration,
}

/// Service coming back after one heal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Recovery {
    /// When the fault healed.
    pub healed_at: Time,
    /// The first success completed at or after it, if any.
    pub recovered_at: Option<Time>,
    /// The time between the two, if it recovered.
    pub after: Option<Duration>,
}

/// A window of virtual time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Window {
    /// Start.
    pub from: Time,
    /// End.
    pub to: Time,
}

/// The availability of one history, and whether it met the thresholds.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AvailabilityReport {
    /// Operations invoked.
    pub operations: usize,
    /// Operations completed `ok`.
    pub succeeded: usize,
    /// Operations completed `fail`.
    pub failed: usize,
    /// Operations completed `info` or never completed.
    pub indeterminate: usize,
    /// `succeeded / operations` (1 for an empty history).
    pub success_ratio: f64,
    /// Latency of successful operations, if any succeeded.
    pub latency: Option<Latency>,
    /// The longest window (within the history's span) with no success.
    pub unavailable_longest: Window,
    /// Recovery after each heal, in the order given.
    pub recoveries: Vec<Recovery>,
    /// The longest recovery; `None` if there were no heals or one never recovered.
    pub recovery_longest: Option<Duration>,
    /// Whether every threshold was met.
    pub pass: bool,
    /// One sentence per threshold missed.
    pub reasons: Vec<String>,
}

/// Measures availability of `ops`, given the instants faults healed.
pub fn availability(ops: &[Operation], heals: &[Time], thresholds: &Thresholds) -> AvailabilityReport {
    let count = |kind| ops.iter().filter(|op| op.kind == kind).count();
    let successes = success_times(ops);
    let succeeded = successes.len();
    let recoveries: Vec<Recovery> = heals.iter().map(|&h| recovery(&successes, h)).collect();
    let recovery_longest =
        recoveries.iter().map(|r| r.after).collect::<Option<Vec<_>>>().and_then(|a| a.into_iter().max());
    let mut report = AvailabilityReport {
        operations: ops.len(),
        succeeded,
        failed: count(RecordType::Fail),
        indeterminate: count(RecordType::Info),
        success_ratio: if ops.is_empty() { 1.0 } else { succeeded as f64 / ops.len() as f64 },
        latency: latency(ops),
        unavailable_longest: longest_gap(ops, &successes),
        recoveries,
        recovery_longest,
        pass: true,
        reasons: Vec::new(),
    };
    report.reasons = judge(&report, thresholds);
    report.pass = report.reasons.is_empty();
    report
}

fn success_times(ops: &[Operation]) -> Vec<Time> {
    let mut times: Vec<Time> =
        ops.iter().filter(|op| op.kind == RecordType::Ok).filter_map(|op| op.completed_at).collect();
    times.sort_unstable();
    times
}

fn latency(ops: &[Operation]) -> Option<Latency> {
    let mut spans: Vec<Duration> = ops
        .iter()
        .filter(|op| op.kind == RecordType::Ok)
        .filter_map(|op| Some(op.completed_at? - op.invoked_at))
        .collect();
    if spans.is_empty() {
        return None;
    }
    spans.sort_unstable();
    let rank = |p: usize| spans[(p * spans.len()).div_ceil(100).max(1) - 1];
    Some(Latency { p50: rank(50), p90: rank(90), p99: rank(99), max: spans[spans.len() - 1] })
}

fn longest_gap(ops: &[Operation], successes: &[Time]) -> Window {
    let start = ops.iter().map(|op| op.invoked_at).min().unwrap_or_default();
    let end =
        ops.iter().flat_map(|op| [Some(op.invoked_at), op.completed_at]).flatten().max().unwrap_or_default();
    let mut edges = vec![start];
    edges.extend_from_slice(successes);
    edges.push(end);
    let gap = edges
        .windows(2)
        .map(|w| Window { from: w[0], to: w[1] })
        .max_by_key(|w| (w.to - w.from, std::cmp::Reverse(w.from)));
    gap.unwrap_or_default()
}

fn recovery(successes: &[Time], healed_at: Time) -> Recovery {
    let first = successes.partition_point(|&t| t < healed_at);
    let recovered_at = successes.get(first).copied();
    Recovery { healed_at, recovered_at, after: recovered_at.map(|t| t - healed_at) }
}

fn judge(report: &AvailabilityReport, thresholds: &Thresholds) -> Vec<String> {
    let mut reasons = Vec::new();
    if let Some(min) = thresholds.success_ratio_min
        && report.success_ratio < min
    {
        reasons.push(format!("success ratio {:.4} is below {min}", report.success_ratio));
    }
    if let (Some(max), Some(latency)) = (thresholds.latency_p99_max, report.latency)
        && latency.p99 > max
    {
        reasons.push(format!("p99 latency {} exceeds {max}", latency.p99));
    }
    let gap = report.unavailable_longest;
    if let Some(max) = thresholds.unavailable_max
        && gap.to - gap.from > max
    {
        reasons.push(format!(
            "no operation succeeded for {} (from {} to {}), more than {max}",
            gap.to - gap.from,
            gap.from,
            gap.to
        ));
    }
    if let Some(max) = thresholds.recovery_max {
        for r in &report.recoveries {
            match r.after {
                None => reasons.push(format!("no operation succeeded after the heal at {}", r.healed_at)),
                Some(after) if after > max => reasons.push(format!(
                    "recovery after the heal at {} took {after}, more than {max}",
                    r.healed_at
                )),
                Some(_) => {}
            }
        }
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Value;

    fn op(kind: RecordType, invoked_ms: u64, completed_ms: Option<u64>) -> Operation {
        Operation {
            invoke_index: 0,
            complete_index: None,
            process: 0,
            f: "read".into(),
            key: None,
            argument: Value::Nil,
            kind,
            result: Value::Nil,
            invoked_at: Time::from_nanos(invoked_ms * 1_000_000),
            completed_at: completed_ms.map(|ms| Time::from_nanos(ms * 1_000_000)),
        }
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn measures_ratio_latency_gap_and_recovery() {
        let ops = [
            op(RecordType::Ok, 0, Some(10)),
            op(RecordType::Ok, 5, Some(25)),
            op(RecordType::Fail, 30, Some(40)),
            op(RecordType::Info, 30, None),
            op(RecordType::Ok, 100, Some(130)),
        ];
        let report = availability(&ops, &[Time::from_nanos(90_000_000)], &Thresholds::default());
        assert_eq!((report.succeeded, report.failed, report.indeterminate), (3, 1, 1));
        assert!((report.success_ratio - 0.6).abs() < 1e-9);
        let latency = report.latency.unwrap();
        assert_eq!((latency.p50, latency.p99, latency.max), (ms(20), ms(30), ms(30)));
        assert_eq!(report.unavailable_longest.to - report.unavailable_longest.from, ms(105));
        assert_eq!(report.recovery_longest, Some(ms(40)));
        assert!(report.pass);
    }

    #[test]
    fn thresholds_give_reasons() {
        let ops = [op(RecordType::Ok, 0, Some(10)), op(RecordType::Fail, 20, Some(500))];
        let thresholds = Thresholds {
            success_ratio_min: Some(0.9),
            latency_p99_max: Some(ms(5)),
            unavailable_max: Some(ms(100)),
            recovery_max: Some(ms(50)),
        };
        let report = availability(&ops, &[Time::from_nanos(300_000_000)], &thresholds);
        assert!(!report.pass);
        assert_eq!(report.reasons.len(), 4, "{:?}", report.reasons);
        assert!(report.reasons[3].contains("no operation succeeded after the heal"), "{:?}", report.reasons);
    }

    #[test]
    fn no_success_has_no_latency_and_fails_thresholds() {
        let ops = [op(RecordType::Fail, 0, Some(10)), op(RecordType::Info, 5, None)];
        let thresholds = Thresholds {
            success_ratio_min: Some(0.5),
            latency_p99_max: Some(ms(5)),
            ..Thresholds::default()
        };
        let report = availability(&ops, &[Time::from_nanos(1)], &thresholds);
        assert_eq!(report.latency, None);
        assert_eq!(report.succeeded, 0);
        assert_eq!(report.recovery_longest, None);
        assert!(!report.pass);
        assert_eq!(report.reasons.len(), 1, "{:?}", report.reasons);
        let empty = availability(&[], &[], &Thresholds::default());
        assert_eq!((empty.latency, empty.success_ratio), (None, 1.0));
    }
}
