//! The load balancer's checks: one [`Summary`] of a finished run, measured
//! from the history, the fault schedule and the logs of the balancers still
//! up, then held against the thresholds in the protocol's settings.
//!
//! Times are counted only while the balancer could act ([`Timeline`]): a
//! balancer paused while a backend crashed is not late to eject it, and a
//! backend that restarted into a partition is not late to be re-admitted.

use sim_core::check::availability::{self, Thresholds};
use sim_core::{ClusterView, Duration, Fault, NodeId, RecordType, RunReport, Time, Value};

use super::timeline::{Span, Timeline};
use super::{Balancer, BalancerLog, LoadBalancer};
use sim_core::Judgement;

/// How long a crashed backend may stay unejected when no `detection_max` is set.
const DETECTION_DEFAULT: Duration = Duration::from_secs(1);

/// How long a restarted, reachable backend may stay out when no `readmit_max` is set.
const READMISSION_DEFAULT: Duration = Duration::from_secs(1);

/// A backend down between two instants (`to` is `None` if it never came back).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Outage {
    backend: NodeId,
    from: Time,
    to: Option<Time>,
}

impl Outage {
    fn contains(&self, at: Time) -> bool {
        self.from <= at && self.to.is_none_or(|to| at < to)
    }
}

/// What one run measured.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    /// Requests invoked.
    pub operations: usize,
    /// Fraction of requests that succeeded.
    pub success_ratio: f64,
    /// Median latency of successful requests.
    pub p50: Option<Duration>,
    /// 99th-percentile latency of successful requests.
    pub p99: Option<Duration>,
    /// Requests served per backend, in backend order.
    pub load: Vec<(NodeId, u64)>,
    /// The busiest backend's load over the mean (1 is perfectly even).
    pub imbalance: Option<f64>,
    /// Requests forwarded to a backend while it was crashed.
    pub dead_sends: usize,
    /// The latest such forward, counted from the crash in the balancer's awake time.
    pub dead_send_latest: Option<Duration>,
    /// When a forward first came later than `detection_max` after its crash.
    pub dead_send_late_at: Option<Time>,
    /// Crash-to-ejection time (awake time of the balancer), per crash and balancer that saw it.
    pub detections: Vec<Duration>,
    /// Crashes a balancer never ejected: (balancer, backend, crash time).
    pub undetected: Vec<(NodeId, NodeId, Time)>,
    /// Time to re-admission, counted from when the restarted backend was
    /// up and reachable, per restart and balancer that had ejected it.
    pub readmissions: Vec<Duration>,
    /// Backends up and reachable for longer than the bound and not
    /// re-admitted: (balancer, backend, when it became reachable).
    pub not_readmitted: Vec<(NodeId, NodeId, Time)>,
}

impl Summary {
    /// The longest detection time, if any crash was detected.
    pub fn detection_max(&self) -> Option<Duration> {
        self.detections.iter().copied().max()
    }

    /// The longest re-admission time, if any.
    pub fn readmission_max(&self) -> Option<Duration> {
        self.readmissions.iter().copied().max()
    }
}

/// Measures a finished run of `config`, given the servers still up.
pub fn summarize(
    config: &LoadBalancer,
    report: &RunReport,
    servers: &ClusterView<'_, LoadBalancer>,
) -> Summary {
    let balancers: Vec<(NodeId, &Balancer)> =
        servers.servers().filter_map(|(id, s)| s.as_balancer().map(|b| (id, b))).collect();
    let mut summary = Summary::default();
    measure_history(report, &balancers, &mut summary);
    let outages = outages(config, report, &[Fault::Crash { node: NodeId(0) }]);
    let detection_bound = config.detection_max.unwrap_or(DETECTION_DEFAULT);
    let timeline = Timeline::new(applied(report), report.time);
    for (id, balancer) in &balancers {
        let seen = Seen { balancer: *id, log: balancer.log(), timeline: &timeline };
        dead_sends(&seen, &outages, config.detection_max, &mut summary);
        detections(&seen, &outages, report.time, detection_bound, &mut summary);
        readmissions(&seen, config, report, &mut summary);
    }
    summary
}

/// One balancer's log and what it could observe.
struct Seen<'a> {
    balancer: NodeId,
    log: &'a BalancerLog,
    timeline: &'a Timeline<'a>,
}

impl Seen<'_> {
    /// How long the balancer was awake between `from` and `to`.
    fn awake(&self, from: Time, to: Time) -> Duration {
        self.timeline.awake(self.balancer, Span { from, to })
    }
}

fn applied(report: &RunReport) -> &[sim_core::TimedFault] {
    &report.schedule.entries()[..report.faults_applied.min(report.schedule.len())]
}

fn measure_history(report: &RunReport, balancers: &[(NodeId, &Balancer)], summary: &mut Summary) {
    let Ok(ops) = report.history.operations() else { return };
    let a = availability::availability(&ops, &[], &Thresholds::default());
    summary.operations = a.operations;
    summary.success_ratio = a.success_ratio;
    summary.p50 = a.latency.map(|l| l.p50);
    summary.p99 = a.latency.map(|l| l.p99);
    let mut backends: Vec<NodeId> = balancers.first().map(|(_, b)| b.backends().to_vec()).unwrap_or_default();
    let served: Vec<NodeId> = ops
        .iter()
        .filter(|op| op.kind == RecordType::Ok)
        .filter_map(|op| match op.result {
            Value::Int(n) => u32::try_from(n).ok().map(NodeId),
            _ => None,
        })
        .collect();
    backends.extend(served.iter().copied());
    backends.sort_unstable();
    backends.dedup();
    summary.load = backends.iter().map(|&b| (b, served.iter().filter(|&&s| s == b).count() as u64)).collect();
    let max = summary.load.iter().map(|&(_, n)| n).max().unwrap_or(0);
    let mean = served.len() as f64 / backends.len().max(1) as f64;
    summary.imbalance = (mean > 0.0).then(|| max as f64 / mean);
}

/// The windows in which backends were down: from a fault of the kind of
/// `downs` to the next restart or resume of the same backend.
fn outages(config: &LoadBalancer, report: &RunReport, downs: &[Fault]) -> Vec<Outage> {
    let mut outages: Vec<Outage> = Vec::new();
    for entry in applied(report) {
        let (node, down) = match entry.fault {
            Fault::Crash { node } => (node, downs.iter().any(|d| matches!(d, Fault::Crash { .. }))),
            Fault::Pause { node } => (node, downs.iter().any(|d| matches!(d, Fault::Pause { .. }))),
            Fault::Restart { node } | Fault::Resume { node } => (node, false),
            Fault::Partition { .. }
            | Fault::Heal
            | Fault::Mend { .. }
            | Fault::Slow { .. }
            | Fault::ClockJump { .. } => continue,
        };
        if node.index() < config.balancers {
            continue;
        }
        let open = outages.iter_mut().find(|o| o.backend == node && o.to.is_none());
        match (down, open) {
            (true, None) => outages.push(Outage { backend: node, from: entry.at, to: None }),
            (false, Some(open)) if matches!(entry.fault, Fault::Restart { .. } | Fault::Resume { .. }) => {
                open.to = Some(entry.at);
            }
            _ => {}
        }
    }
    outages
}

fn dead_sends(seen: &Seen<'_>, outages: &[Outage], bound: Option<Duration>, summary: &mut Summary) {
    for forward in &seen.log.forwards {
        let Some(outage) = outages.iter().find(|o| o.backend == forward.backend && o.contains(forward.at))
        else {
            continue;
        };
        summary.dead_sends += 1;
        let late = seen.awake(outage.from, forward.at);
        summary.dead_send_latest = summary.dead_send_latest.max(Some(late));
        if bound.is_some_and(|b| late > b) && summary.dead_send_late_at.is_none_or(|t| forward.at < t) {
            summary.dead_send_late_at = Some(forward.at);
        }
    }
}

fn detections(seen: &Seen<'_>, outages: &[Outage], end: Time, bound: Duration, summary: &mut Summary) {
    let log = seen.log;
    for outage in outages {
        if log.started > outage.from || !log.admitted_at(outage.backend, outage.from) {
            continue;
        }
        let ejected = log.first_change(outage.backend, false, outage.from).filter(|&t| outage.contains(t));
        match ejected {
            Some(t) => summary.detections.push(seen.awake(outage.from, t)),
            None if seen.awake(outage.from, outage.to.unwrap_or(end)) > bound => {
                summary.undetected.push((seen.balancer, outage.backend, outage.from));
            }
            None => {}
        }
    }
}

fn readmissions(seen: &Seen<'_>, config: &LoadBalancer, report: &RunReport, summary: &mut Summary) {
    let crashes_and_pauses = [Fault::Crash { node: NodeId(0) }, Fault::Pause { node: NodeId(0) }];
    let outages = outages(config, report, &crashes_and_pauses);
    let bound = config.readmit_max.unwrap_or(READMISSION_DEFAULT);
    let log = seen.log;
    for (i, outage) in outages.iter().enumerate() {
        let Some(back) = outage.to else { continue };
        if log.started > back || log.admitted_at(outage.backend, back) {
            continue;
        }
        // It only counts while the backend stays up: until its next outage or the end.
        let next_down = outages[i + 1..].iter().find(|o| o.backend == outage.backend).map(|o| o.from);
        let up_until = next_down.unwrap_or(report.time);
        let admitted = log.first_change(outage.backend, true, back).filter(|&t| t < up_until);
        // And only while the balancer is awake and the two can reach each
        // other: the clock starts over in each such span.
        let span = Span { from: back, to: up_until };
        for reachable in seen.timeline.reachable(seen.balancer, outage.backend, span) {
            match admitted {
                Some(t) if t < reachable.from => break,
                Some(t) if t < reachable.to => {
                    summary.readmissions.push(t.since(reachable.from));
                    break;
                }
                _ if reachable.to.since(reachable.from) > bound => {
                    summary.not_readmitted.push((seen.balancer, outage.backend, reachable.from));
                    break;
                }
                _ => {}
            }
        }
    }
}

fn show(d: Option<Duration>) -> String {
    d.map_or("-".into(), |d| d.to_string())
}

/// The run's judgements against `config`'s thresholds.
pub fn judge(
    config: &LoadBalancer,
    report: &RunReport,
    servers: &ClusterView<'_, LoadBalancer>,
) -> Vec<Judgement> {
    let s = summarize(config, report, servers);
    let judgement = |name: &str, pass: bool, detail: String, at: Option<Time>| {
        if pass {
            Judgement::pass(name, detail)
        } else {
            Judgement::fail(name, detail, at.or(Some(report.time)))
        }
    };
    let load: Vec<String> = s.load.iter().map(|(b, n)| format!("{b}:{n}")).collect();
    let imbalance = s.imbalance.map_or("-".into(), |i| format!("{i:.2}"));
    let detections = show(s.detection_max());
    vec![
        judgement(
            "success-ratio",
            config.success_min.is_none_or(|min| s.success_ratio >= min),
            format!("{:.1}% of {} requests succeeded", s.success_ratio * 100.0, s.operations),
            None,
        ),
        judgement(
            "latency",
            config.p99_max.is_none_or(|max| s.p99.is_some_and(|p99| p99 <= max)),
            format!("p50 {}, p99 {}{}", show(s.p50), show(s.p99), bound_text(config.p99_max)),
            None,
        ),
        judgement(
            "load-imbalance",
            config.imbalance_max.is_none_or(|max| s.imbalance.is_some_and(|i| i <= max)),
            format!("max/mean {imbalance}; served {}", load.join(" ")),
            None,
        ),
        judgement(
            "dead-backend-sends",
            s.dead_send_late_at.is_none(),
            format!(
                "{} requests sent to crashed backends, the latest {} after its crash{}",
                s.dead_sends,
                show(s.dead_send_latest),
                bound_text(config.detection_max)
            ),
            s.dead_send_late_at,
        ),
        judgement(
            "detection-time",
            s.undetected.is_empty()
                && config.detection_max.is_none_or(|max| s.detection_max().is_none_or(|d| d <= max)),
            match s.undetected.first() {
                Some((balancer, backend, at)) => {
                    format!("{balancer} never ejected {backend} crashed at {at}")
                }
                None => format!(
                    "{} crashes detected, slowest {detections}{}",
                    s.detections.len(),
                    bound_text(config.detection_max)
                ),
            },
            s.undetected.first().map(|u| u.2),
        ),
        judgement(
            "readmission",
            s.not_readmitted.is_empty()
                && config.readmit_max.is_none_or(|max| s.readmission_max().is_none_or(|d| d <= max)),
            match s.not_readmitted.first() {
                Some((balancer, backend, at)) => {
                    format!("{balancer} never re-admitted {backend}, up and reachable from {at}")
                }
                None => format!(
                    "{} re-admissions, slowest {}{}",
                    s.readmissions.len(),
                    show(s.readmission_max()),
                    bound_text(config.readmit_max)
                ),
            },
            s.not_readmitted.first().map(|u| u.2),
        ),
    ]
}

fn bound_text(bound: Option<Duration>) -> String {
    bound.map_or(String::new(), |b| format!(" (bound {b})"))
}
