//! Verdict marks: what a check found, in the terms the page highlights.

use serde::Serialize;
use sim_core::check::{Report, Verdict};
use sim_core::{RunEnd, Time};

/// One failed check, as the page marks it: an instant and node for an
/// invariant or panic; the operations involved and the longest
/// linearizable prefix for a linearizability violation.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Failure {
    /// The check that failed, e.g. `invariant one-primary-per-epoch` or `linearizability`.
    pub check: String,
    /// Its explanation, for people.
    pub detail: String,
    /// The instant to mark, nanoseconds (filled from `blocked` if `None`).
    pub at: Option<u64>,
    /// The node to mark, if the check names one.
    pub node: Option<u32>,
    /// The key of the violating part, as text.
    pub key: Option<String>,
    /// The operation (index) whose completion no linearization reaches.
    pub blocked: Option<usize>,
    /// Concurrent operations (indexes) that cannot be ordered either.
    pub pending: Vec<usize>,
    /// The longest linearizable prefix, operation indexes in linearization order.
    pub prefix: Vec<usize>,
    /// The model's state after the prefix.
    pub state: Option<String>,
}

impl Failure {
    /// The failure an abnormal run end stands for (invariant, panic,
    /// limit), at `at`; `None` for a run that ended normally.
    pub fn from_run_end(end: &RunEnd, at: Time) -> Option<Failure> {
        let at = Some(at.as_nanos());
        let detail = end.to_string();
        match end {
            RunEnd::Finished | RunEnd::TimeLimit | RunEnd::Quiescent => None,
            RunEnd::Invariant { name, node, .. } => Some(Failure {
                check: format!("invariant {name}"),
                detail,
                at,
                node: node.map(|n| n.0),
                ..Failure::default()
            }),
            RunEnd::Panic { node, .. } => {
                Some(Failure { check: "panic".into(), detail, at, node: Some(node.0), ..Failure::default() })
            }
            RunEnd::Limit { node, .. } => Some(Failure {
                check: "limit".into(),
                detail,
                at,
                node: node.map(|n| n.0),
                ..Failure::default()
            }),
        }
    }

    /// One failure per part of a linearizability report that is not
    /// linearizable, naming its blocked and pending operations and prefix.
    pub fn from_linearizability(report: &Report) -> Vec<Failure> {
        let parts = report.parts.iter().filter(|p| p.verdict == Verdict::NotLinearizable);
        parts
            .filter_map(|part| {
                let v = part.violation.as_ref()?;
                let key = part.key.as_ref().map(|k| k.to_string());
                let on = key.as_ref().map_or(String::new(), |k| format!(" on key {k}"));
                Some(Failure {
                    check: "linearizability".into(),
                    detail: format!(
                        "no order explains {}{on}: the longest linearizable prefix has {} operations",
                        v.blocked,
                        v.prefix.len()
                    ),
                    at: None,
                    node: None,
                    key,
                    blocked: Some(v.blocked.index),
                    pending: v.pending.iter().map(|o| o.index).collect(),
                    prefix: v.prefix.iter().map(|o| o.index).collect(),
                    state: Some(v.state.clone()),
                })
            })
            .collect()
    }

    /// The failure a bare trace's `end` event describes. Only the text is
    /// recorded, so the check name and node are read back from the wording
    /// `RunEnd`'s `Display` uses; `from_run_end` is exact and preferred.
    pub fn from_end_text(outcome: &str, at: u64) -> Failure {
        let check = match outcome.strip_prefix("invariant ") {
            Some(rest) => format!("invariant {}", rest.split(' ').next().unwrap_or("")),
            None if outcome.contains(" panicked ") => "panic".into(),
            None if outcome.starts_with("limit ") => "limit".into(),
            None => "run".into(),
        };
        // A limit names its node last, "(by nN)"; the others before the first colon.
        let named = if check == "limit" { outcome } else { outcome.split(": ").next().unwrap_or(outcome) };
        let node = node_in(named);
        Failure { check, detail: outcome.to_string(), at: Some(at), node, ..Failure::default() }
    }
}

/// The id of the last `nN` word in `text`.
fn node_in(text: &str) -> Option<u32> {
    text.split([' ', ')', '(']).filter_map(|w| w.strip_prefix('n')?.parse().ok()).next_back()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn end_text_names_check_and_node() {
        let f = Failure::from_end_text(
            "invariant one-primary-per-epoch violated after a step of n2: epoch=1 has two primaries: n0 and n2",
            160,
        );
        assert_eq!(f.check, "invariant one-primary-per-epoch");
        assert_eq!(f.node, Some(2));
        assert_eq!(f.at, Some(160));
        let p = Failure::from_end_text("n1 panicked handling timer: boom n7", 5);
        assert_eq!((p.check.as_str(), p.node), ("panic", Some(1)));
        let l = Failure::from_end_text("limit exceeded: events", 5);
        assert_eq!((l.check.as_str(), l.node), ("limit", None));
        let b = Failure::from_end_text("limit exceeded: timers per node (by n3)", 5);
        assert_eq!(b.node, Some(3));
    }
}
