//! The invariant the brokers keep at every step, and the end-of-run judge.

use sim_core::check::delivery::{self, Guarantee};
use sim_core::{ClusterView, Invariant, RecordType, RunReport};

use super::Log;
use super::broker::Broker;
use super::server::Server;
use crate::Judgement;

/// **Committed prefix**: every live in-sync replica of a partition holds the
/// records its leader counts as committed (below the high watermark). It
/// compares the record just below the watermark, which by log matching (a
/// record's offset and epoch fix everything before it) stands for the prefix.
pub struct CommittedPrefix;

fn brokers<'a>(view: &ClusterView<'a, Log>) -> impl Iterator<Item = (sim_core::NodeId, &'a Broker)> + 'a {
    view.servers().filter_map(|(id, s)| match s {
        Server::Broker(b) => Some((id, b)),
        Server::Controller(_) => None,
    })
}

impl Invariant<Log> for CommittedPrefix {
    fn name(&self) -> &str {
        "committed-prefix"
    }

    fn check(&mut self, view: &ClusterView<'_, Log>) -> Result<(), String> {
        for (leader, broker) in brokers(view) {
            for (p, replica) in broker.replicas.iter().enumerate() {
                if replica.state.leader != Some(leader) || replica.hw == 0 {
                    continue;
                }
                let last = &replica.log[replica.hw as usize - 1];
                for &follower in replica.state.isr.iter().filter(|&&f| f != leader) {
                    let Some(Server::Broker(f)) = view.server(follower) else { continue };
                    if f.replicas[p].log.get(replica.hw as usize - 1) != Some(last) {
                        return Err(format!(
                            "partition={p} leader={leader} hw={} follower={follower} lacks the committed record {last:?}",
                            replica.hw
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}

/// For each partition, the high watermark of its live leader of the newest epoch.
fn high_watermarks(config: &Log, view: &ClusterView<'_, Log>) -> Vec<Option<u64>> {
    (0..config.partitions as usize)
        .map(|p| {
            brokers(view)
                .filter(|(id, b)| b.replicas[p].state.leader == Some(*id))
                .max_by_key(|(_, b)| b.replicas[p].state.epoch)
                .map(|(_, b)| b.replicas[p].hw)
        })
        .collect()
}

/// For each partition, how far the group got: one past the highest offset
/// any poll delivered, or the committed offset if that is further (a
/// consumer that commits what it never delivered moved the group past it).
fn delivered_ends(config: &Log, report: &RunReport, view: &ClusterView<'_, Log>) -> Vec<u64> {
    let committed = view.servers().find_map(|(_, s)| match s {
        Server::Controller(c) => Some(c.group.committed.clone()),
        Server::Broker(_) => None,
    });
    let mut ends = committed.unwrap_or_default();
    ends.resize(config.partitions as usize, 0);
    let records = report.history.records();
    for r in records.iter().filter(|r| r.kind == RecordType::Ok && r.f == "poll") {
        for item in r.value.as_list().unwrap_or_default() {
            let triple = item.as_list().and_then(|l| <&[_; 3]>::try_from(l).ok());
            if let Some([p, o, _]) = triple
                && let (Some(p), Some(o)) = (p.as_int(), o.as_int())
                && let Some(end) = ends.get_mut(p as usize)
            {
                *end = (*end).max(o as u64 + 1);
            }
        }
    }
    ends
}

/// The delivery check of a finished run, under the guarantee the settings
/// promise. Lost messages count only if the consumers drained the log
/// (delivered up to every partition's high watermark); otherwise they make
/// the verdict unknown, never a pass.
pub fn judge(config: &Log, report: &RunReport, view: &ClusterView<'_, Log>) -> Vec<Judgement> {
    let guarantee = config.guarantee();
    let at = None;
    let operations = match report.history.operations() {
        Ok(ops) => ops,
        Err(e) => {
            return vec![Judgement::fail("delivery", e.to_string(), at)];
        }
    };
    let checked = match delivery::check(&operations, guarantee) {
        Ok(checked) => checked,
        Err(e) => {
            return vec![Judgement::fail("delivery", e.to_string(), at)];
        }
    };
    let hws = high_watermarks(config, view);
    let ends = delivered_ends(config, report, view);
    let undrained: Vec<String> = hws
        .iter()
        .zip(&ends)
        .enumerate()
        .filter(|(_, (hw, end))| hw.is_none_or(|hw| **end < hw))
        .map(|(p, (hw, end))| match hw {
            Some(hw) => format!("partition {p} delivered to {end} of {hw}"),
            None => format!("partition {p} has no leader"),
        })
        .collect();
    let only_lost =
        checked.duplicates.is_empty() && checked.reorders.is_empty() && checked.unexpected.is_empty();
    let name = match guarantee {
        Guarantee::AtLeastOnce => "delivery (at-least-once)",
        Guarantee::ExactlyOnce => "delivery (exactly-once)",
    };
    // Every acknowledged message delivered passes even if some unacknowledged
    // tail was not; a lost message is only proven lost once the log drained.
    let pass = match (checked.is_valid(), only_lost, undrained.is_empty()) {
        (true, _, _) => Some(true),
        (false, true, false) => None,
        (false, _, _) => Some(false),
    };
    let mut detail = checked.summary();
    if !undrained.is_empty() {
        detail.push_str(&format!("; not drained: {}", undrained.join(", ")));
    }
    let at = first_failure_time(&checked, &operations);
    vec![match pass {
        Some(true) => Judgement::pass(name, detail),
        Some(false) => Judgement::fail(name, detail, at),
        None => Judgement::unknown(name, detail),
    }]
}

/// When the first anomaly's operation was invoked.
fn first_failure_time(report: &delivery::Report, ops: &[sim_core::Operation]) -> Option<sim_core::Time> {
    let mut involved: Vec<usize> = report.lost.iter().map(|l| l.send).collect();
    involved.extend(report.duplicates.iter().flat_map(|d| d.polls.iter().copied()));
    involved.extend(report.unexpected.iter().map(|u| u.poll));
    involved.extend(report.reorders.iter().map(|r| match r {
        delivery::Reorder::Divergent { polls, .. } => polls.first().copied().unwrap_or(0),
        delivery::Reorder::WithinPoll { poll, .. } => *poll,
        delivery::Reorder::ProducerOrder { later, .. } => *later,
    }));
    involved.into_iter().filter_map(|i| ops.get(i)).map(|op| op.invoked_at).min()
}
