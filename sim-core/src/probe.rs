//! Coverage probes: which rare paths of protocol code a run reached.
//!
//! A protocol marks a path it wants to know was exercised with
//! [`Context::probe`](crate::Context::probe) ("leader-steps-down",
//! "vote-granted-after-restart"); the run counts each probe's hits and
//! remembers its first, and the [`RunReport`](crate::RunReport) carries them
//! as [`Probes`]. A sweep then says which paths no seed reached: a
//! fault mix that never makes a leader step down cannot find a bug behind
//! that path, however many seeds it runs (FoundationDB's code probes).
//!
//! Probes observe and never act: they draw no randomness, schedule nothing
//! and stay out of the trace, so a run with probes is byte for byte the run
//! without them. Names are `&'static str`, so a hit in a hot loop is a short
//! scan and an increment; only a name's first hit in a run allocates.

use serde::Serialize;

use crate::node::NodeId;
use crate::time::Time;

/// One probe's record in a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProbeHit {
    /// The probe's name, as the protocol code passed it.
    pub name: &'static str,
    /// How many times it was reached.
    pub count: u64,
    /// Virtual time of the first hit.
    pub first: Time,
    /// The node whose handler first reached it.
    pub node: NodeId,
}

/// The probes one run reached, in the order each was first reached.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Probes {
    hits: Vec<ProbeHit>,
}

impl Probes {
    /// No probe reached yet.
    pub fn new() -> Probes {
        Probes::default()
    }

    /// Counts a hit of `name` by `node` at `now`.
    pub fn hit(&mut self, name: &'static str, now: Time, node: NodeId) {
        // Call sites pass literals, so the pointer usually matches; a name
        // spelled at two sites may live at two addresses, hence the fallback.
        let same = |hit: &&mut ProbeHit| std::ptr::eq(hit.name, name) || hit.name == name;
        match self.hits.iter_mut().find(same) {
            Some(hit) => hit.count += 1,
            None => self.hits.push(ProbeHit { name, count: 1, first: now, node }),
        }
    }

    /// Every probe reached, in order of first hit.
    pub fn hits(&self) -> &[ProbeHit] {
        &self.hits
    }

    /// The record of probe `name`, if it was reached.
    pub fn get(&self, name: &str) -> Option<&ProbeHit> {
        self.hits.iter().find(|hit| hit.name == name)
    }

    /// Whether no probe was reached.
    pub fn is_empty(&self) -> bool {
        self.hits.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_hits_and_keeps_the_first() {
        let mut probes = Probes::new();
        let later = Time::ZERO + crate::Duration::from_millis(5);
        probes.hit("b", Time::ZERO, NodeId(1));
        probes.hit("a", later, NodeId(2));
        probes.hit("b", later, NodeId(3));
        // The same text at another address is the same probe.
        let owned: &'static str = Box::leak(String::from("b").into_boxed_str());
        probes.hit(owned, later, NodeId(4));
        let names: Vec<&str> = probes.hits().iter().map(|h| h.name).collect();
        assert_eq!(names, ["b", "a"]);
        assert_eq!(
            probes.get("b"),
            Some(&ProbeHit { name: "b", count: 3, first: Time::ZERO, node: NodeId(1) })
        );
        assert_eq!(probes.get("a").map(|h| (h.count, h.first, h.node)), Some((1, later, NodeId(2))));
        assert_eq!(probes.get("c"), None);
    }
}
