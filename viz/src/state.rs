//! Node states and partitions over time, from the run's faults.

use std::collections::BTreeMap;

use sim_core::{Cut, Fault};

use crate::run::{Band, FaultMark, Partition};

/// A fault mark with its text.
pub(crate) fn mark(
    t: u64,
    kind: &str,
    node: Option<u32>,
    text: String,
    body: serde_json::Value,
) -> FaultMark {
    FaultMark { t, kind: kind.to_string(), node, text, body }
}

/// The mark a fault event draws.
pub(crate) fn fault_mark(t: u64, fault: &Fault, body: serde_json::Value) -> FaultMark {
    let (kind, node, text) = match fault {
        Fault::Crash { node } => ("crash", Some(node.0), format!("{node} crashes")),
        Fault::Restart { node } => ("restart", Some(node.0), format!("{node} restarts from storage")),
        Fault::Pause { node } => ("pause", Some(node.0), format!("{node} pauses")),
        Fault::Resume { node } => ("resume", Some(node.0), format!("{node} resumes")),
        Fault::Partition { cut } => ("partition", None, format!("partition: {}", cut_text(cut))),
        Fault::Heal => ("heal", None, "heal: every cut and slow link removed".to_string()),
        Fault::Mend { cut } => ("heal", None, format!("mend: {}", cut_text(cut))),
        Fault::Slow { node, factor: 1 } => {
            ("slow", Some(node.0), format!("{node} links at normal speed again"))
        }
        Fault::Slow { node, factor } => ("slow", Some(node.0), format!("{node} links {factor}x slower")),
        Fault::ClockJump { node, offset } => {
            ("clock-jump", Some(node.0), format!("{node} clock jumps to {}", offset_text(*offset)))
        }
    };
    mark(t, kind, node, text, body)
}

/// Which groups a cut separates, e.g. `n0 | n1 n2`.
fn cut_text(cut: &Cut) -> String {
    let names = |ids: &[sim_core::NodeId]| ids.iter().map(|n| n.to_string()).collect::<Vec<_>>().join(" ");
    match cut {
        Cut::Isolate { node } => format!("{node} isolated from everyone"),
        Cut::Split { groups } => groups.iter().map(|g| names(g)).collect::<Vec<_>>().join(" | "),
        Cut::Bridge { left, bridge, right } => {
            format!("{} | {} (bridged by {bridge})", names(left), names(right))
        }
        Cut::OneWay { from, to } => format!("{} -> {} lost (one way)", names(from), names(to)),
    }
}

fn cut_groups(cut: &Cut, servers: &[u32]) -> Vec<Vec<u32>> {
    let ids = |ids: &[sim_core::NodeId]| ids.iter().map(|n| n.0).collect::<Vec<_>>();
    match cut {
        Cut::Isolate { node } => {
            let rest = servers.iter().copied().filter(|&s| s != node.0).collect();
            vec![vec![node.0], rest]
        }
        Cut::Split { groups } => groups.iter().map(|g| ids(g)).collect(),
        Cut::Bridge { left, right, .. } => vec![ids(left), ids(right)],
        Cut::OneWay { from, to } => vec![ids(from), ids(to)],
    }
}

fn offset_text(offset: i64) -> String {
    let ms = offset as f64 / 1e6;
    format!("{}{ms}ms", if offset >= 0 { "+" } else { "" })
}

/// An open interval: its start and label.
type Open = BTreeMap<(u32, &'static str), (u64, String)>;

/// Bands (per-node states) and partition spans, closed at `end` if never healed.
pub(crate) fn intervals(faults: &[(u64, Fault)], servers: &[u32], end: u64) -> (Vec<Band>, Vec<Partition>) {
    let mut bands = Vec::new();
    let mut open: Open = BTreeMap::new();
    let mut cuts: Vec<(u64, &Cut)> = Vec::new();
    let mut partitions = Vec::new();
    let mut close = |open: &mut Open, node: u32, state: &'static str, t: u64| {
        if let Some((from, label)) = open.remove(&(node, state)) {
            bands.push(Band { node, state: state.to_string(), from, to: t, label });
        }
    };
    for (t, fault) in faults {
        let t = *t;
        match fault {
            Fault::Crash { node } => {
                open.entry((node.0, "crashed")).or_insert((t, format!("{node} down")));
            }
            Fault::Restart { node } => close(&mut open, node.0, "crashed", t),
            Fault::Pause { node } => {
                open.entry((node.0, "paused")).or_insert((t, format!("{node} paused")));
            }
            Fault::Resume { node } => close(&mut open, node.0, "paused", t),
            Fault::Slow { node, factor } => {
                close(&mut open, node.0, "slow", t);
                if *factor > 1 {
                    open.insert((node.0, "slow"), (t, format!("slow x{factor}")));
                }
            }
            Fault::ClockJump { node, offset } => {
                close(&mut open, node.0, "clock", t);
                if *offset != 0 {
                    open.insert((node.0, "clock"), (t, format!("clock {}", offset_text(*offset))));
                }
            }
            Fault::Partition { cut } => cuts.push((t, cut)),
            // The earliest open partition of this very cut ends; others stay.
            Fault::Mend { cut } => {
                if let Some(at) = cuts.iter().position(|(_, c)| *c == cut) {
                    let (from, cut) = cuts.remove(at);
                    partitions.push(partition(from, t, cut, servers));
                }
            }
            Fault::Heal => {
                let slow: Vec<u32> = open.keys().filter(|(_, s)| *s == "slow").map(|(n, _)| *n).collect();
                slow.into_iter().for_each(|n| close(&mut open, n, "slow", t));
                partitions.extend(cuts.drain(..).map(|(from, cut)| partition(from, t, cut, servers)));
            }
        }
    }
    for (node, state) in open.keys().copied().collect::<Vec<_>>() {
        close(&mut open, node, state, end);
    }
    partitions.extend(cuts.drain(..).map(|(from, cut)| partition(from, end, cut, servers)));
    bands.sort_by_key(|b| (b.from, b.node));
    partitions.sort_by_key(|p| p.from);
    (bands, partitions)
}

fn partition(from: u64, to: u64, cut: &Cut, servers: &[u32]) -> Partition {
    Partition { from, to, text: cut_text(cut), groups: cut_groups(cut, servers) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim_core::NodeId;

    #[test]
    fn bands_and_partitions_close_at_recovery_or_end() {
        let faults = vec![
            (
                10,
                Fault::Partition {
                    cut: Cut::Split { groups: vec![vec![NodeId(0)], vec![NodeId(1), NodeId(2)]] },
                },
            ),
            (20, Fault::Slow { node: NodeId(1), factor: 10 }),
            (30, Fault::Heal),
            (40, Fault::Crash { node: NodeId(2) }),
            (50, Fault::ClockJump { node: NodeId(0), offset: -250_000_000 }),
        ];
        let (bands, parts) = intervals(&faults, &[0, 1, 2], 100);
        let got: Vec<_> =
            bands.iter().map(|b| (b.node, b.state.as_str(), b.from, b.to, b.label.as_str())).collect();
        assert_eq!(
            got,
            [
                (1, "slow", 20, 30, "slow x10"),
                (2, "crashed", 40, 100, "n2 down"),
                (0, "clock", 50, 100, "clock -250ms")
            ]
        );
        assert_eq!(parts.len(), 1);
        assert_eq!((parts[0].from, parts[0].to, parts[0].text.as_str()), (10, 30, "n0 | n1 n2"));
        assert_eq!(parts[0].groups, vec![vec![0], vec![1, 2]]);
    }
}
