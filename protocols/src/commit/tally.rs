//! Counting phase-2b reports: which instances of a transaction chose what.

use std::collections::{BTreeMap, BTreeSet};

use sim_core::NodeId;

use super::message::{Decision, Vote};

/// `Accepted` reports for one ballot, per participant's instance.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    ballot: u64,
    instances: BTreeMap<NodeId, (Vote, BTreeSet<NodeId>)>,
}

impl Tally {
    /// An empty tally for `ballot`.
    pub fn new(ballot: u64) -> Tally {
        Tally { ballot, instances: BTreeMap::new() }
    }

    /// Records that `acceptor` accepted `value` for `rm` at `ballot`.
    pub fn add(&mut self, rm: NodeId, acceptor: NodeId, ballot: u64, value: Vote) {
        if ballot != self.ballot {
            return;
        }
        let (v, acceptors) = self.instances.entry(rm).or_insert_with(|| (value, BTreeSet::new()));
        // One ballot has one proposer, which proposes one value.
        if *v == value {
            acceptors.insert(acceptor);
        }
    }

    /// The value chosen for `rm`'s instance, if a majority accepted it.
    pub fn chosen(&self, rm: NodeId, majority: usize) -> Option<Vote> {
        self.instances.get(&rm).filter(|(_, acceptors)| acceptors.len() >= majority).map(|(v, _)| *v)
    }

    /// The outcome once it is settled: abort as soon as one instance chose
    /// `Aborted`, commit once every instance chose `Prepared`.
    pub fn outcome(&self, participants: &[NodeId], majority: usize) -> Option<Decision> {
        let chosen: Vec<Option<Vote>> = participants.iter().map(|&rm| self.chosen(rm, majority)).collect();
        if chosen.contains(&Some(Vote::Aborted)) {
            Some(Decision::Abort)
        } else if chosen.iter().all(|c| *c == Some(Vote::Prepared)) {
            Some(Decision::Commit)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_when_every_instance_chose_prepared() {
        let rms = [NodeId(3), NodeId(4)];
        let mut tally = Tally::new(0);
        tally.add(rms[0], NodeId(0), 0, Vote::Prepared);
        tally.add(rms[0], NodeId(1), 0, Vote::Prepared);
        tally.add(rms[1], NodeId(0), 0, Vote::Prepared);
        tally.add(rms[1], NodeId(2), 7, Vote::Prepared);
        assert_eq!(tally.outcome(&rms, 2), None, "another ballot does not count");
        tally.add(rms[1], NodeId(2), 0, Vote::Prepared);
        assert_eq!(tally.outcome(&rms, 2), Some(Decision::Commit));
    }

    #[test]
    fn aborts_once_one_instance_chose_aborted() {
        let rms = [NodeId(3), NodeId(4)];
        let mut tally = Tally::new(5);
        tally.add(rms[1], NodeId(0), 5, Vote::Aborted);
        tally.add(rms[1], NodeId(1), 5, Vote::Aborted);
        assert_eq!(tally.outcome(&rms, 2), Some(Decision::Abort));
    }
}
