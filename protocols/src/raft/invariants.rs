//! Raft's safety properties, checked after every server step.
//!
//! Each checker remembers what it has seen across the run (servers crash, so
//! the past is not in their current state) and looks only at what the step
//! could have changed: the stepping server's role, and the log entries,
//! commits and applications it has gained since the last look. A restart is
//! a new incarnation (a new boot time), whose state is examined afresh. The
//! cost is therefore proportional to the entries each incarnation gains.

use std::collections::BTreeMap;

use sim_core::{ClusterView, Invariant, NodeId, Time};

use super::Raft;
use super::log::Entry;
use super::server::{Role, Server};

/// Every Raft invariant, in the order they are checked.
pub fn all() -> Vec<Box<dyn Invariant<Raft>>> {
    vec![
        Box::new(ElectionSafety::default()),
        Box::new(LogMatching::default()),
        Box::new(LeaderCompleteness::default()),
        Box::new(StateMachineSafety::default()),
    ]
}

/// How far one incarnation of a server has been examined.
#[derive(Clone, Copy, Debug, Default)]
struct Mark {
    boot: Time,
    seen: u64,
    truncations: u64,
}

/// Values by a small dense number (a node index, a log index, a term),
/// looked up after every step: a vector rather than a map.
#[derive(Debug)]
struct Slots<T>(Vec<Option<T>>);

impl<T> Default for Slots<T> {
    fn default() -> Slots<T> {
        Slots(Vec::new())
    }
}

impl<T> Slots<T> {
    fn get(&self, at: usize) -> Option<&T> {
        self.0.get(at).and_then(Option::as_ref)
    }

    /// Puts `value` at `at`, returning what was there.
    fn insert(&mut self, at: usize, value: T) -> Option<T> {
        if self.0.len() <= at {
            self.0.resize_with(at + 1, || None);
        }
        self.0[at].replace(value)
    }

    /// The values present, by number.
    fn iter(&self) -> impl Iterator<Item = (usize, &T)> {
        self.0.iter().enumerate().filter_map(|(at, value)| Some((at, value.as_ref()?)))
    }
}

/// A log index or term as a slot number.
fn slot(number: u64) -> usize {
    usize::try_from(number).expect("log indexes and terms fit in memory")
}

/// Each server's mark, by node index.
type Marks = Slots<Mark>;

/// The stepping server, and how far it was examined before (0 if it restarted).
fn stepped<'a>(view: &ClusterView<'a, Raft>, marks: &Marks) -> Option<(NodeId, &'a Server, u64)> {
    let id = view.changed()?;
    let server = view.server(id)?;
    let seen = marks.get(id.index()).filter(|m| m.boot == server.boot()).map_or(0, |m| m.seen);
    Some((id, server, seen))
}

/// A mark for `server` having been examined up to `seen`.
fn mark(server: &Server, seen: u64) -> Mark {
    Mark { boot: server.boot(), seen, truncations: server.log().truncations().0 }
}

/// At most one leader per term, over the whole run.
#[derive(Debug, Default)]
pub struct ElectionSafety {
    /// The leader of each term, by term.
    leaders: Slots<NodeId>,
}

impl Invariant<Raft> for ElectionSafety {
    fn name(&self) -> &str {
        "election-safety"
    }

    fn check(&mut self, view: &ClusterView<'_, Raft>) -> Result<(), String> {
        let Some(id) = view.changed() else { return Ok(()) };
        let Some(server) = view.server(id).filter(|s| s.role() == Role::Leader) else { return Ok(()) };
        let term = server.term();
        match self.leaders.insert(slot(term), id) {
            Some(other) if other != id => Err(format!("term={term} has two leaders: {other} and {id}")),
            _ => Ok(()),
        }
    }
}

/// Same index and term means the same entry after the same prefix: every
/// (index, term) ever seen maps to one command and one previous term, which
/// by induction makes the logs identical up to it.
#[derive(Debug, Default)]
pub struct LogMatching {
    /// For each index, the first term seen there, with that entry's previous
    /// term and the entry.
    first: Slots<(u64, (u64, Entry))>,
    /// The same for every other (index, term): a replaced suffix, rare.
    others: BTreeMap<(u64, u64), (u64, Entry)>,
    marks: Marks,
}

impl LogMatching {
    /// What was recorded for `entry` at `index` (its previous term and the
    /// entry), recording `prev_term` and `entry` if nothing was.
    fn recorded(&mut self, index: u64, prev_term: u64, entry: &Entry) -> &(u64, Entry) {
        let at = slot(index);
        let first_term = match self.first.get(at) {
            Some((term, _)) => *term,
            None => {
                self.first.insert(at, (entry.term, (prev_term, entry.clone())));
                entry.term
            }
        };
        if first_term == entry.term {
            &self.first.get(at).expect("recorded above").1
        } else {
            self.others.entry((index, entry.term)).or_insert_with(|| (prev_term, entry.clone()))
        }
    }
}

impl Invariant<Raft> for LogMatching {
    fn name(&self) -> &str {
        "log-matching"
    }

    fn check(&mut self, view: &ClusterView<'_, Raft>) -> Result<(), String> {
        let Some((id, server, seen)) = stepped(view, &self.marks) else { return Ok(()) };
        let log = server.log();
        // A truncation (at most one per step) may have replaced entries below the mark.
        let (truncations, at) = log.truncations();
        let truncated = self
            .marks
            .get(id.index())
            .is_some_and(|m| m.boot == server.boot() && m.truncations != truncations);
        if !truncated && seen == log.last_index() {
            return Ok(()); // nothing new, and the mark would stay as it is
        }
        let from = if truncated { seen.min(at - 1) } else { seen }.min(log.last_index());
        for index in from + 1..=log.last_index() {
            let entry = log.get(index).expect("index within the log");
            let prev_term = log.term_at(index - 1).expect("previous entry exists");
            let recorded = self.recorded(index, prev_term, entry);
            if recorded.0 != prev_term || recorded.1 != *entry {
                return Err(format!(
                    "{id} has index={index} term={} as {} after term {prev_term}, \
                     but another log had {} after term {}",
                    entry.term, entry.cmd, recorded.1.cmd, recorded.0
                ));
            }
        }
        self.marks.insert(id.index(), mark(server, log.last_index()));
        Ok(())
    }
}

/// A leader's log holds every entry committed in an earlier term.
///
/// An entry's commit term is the term of the first server seen counting it
/// committed: the leader that commits it steps (and is checked) before any
/// follower hears of it. A leader of an older term, say one just resumed
/// from a pause, need not hold entries committed after its term.
#[derive(Debug, Default)]
pub struct LeaderCompleteness {
    /// Index to (entry term, commit term).
    committed: Slots<(u64, u64)>,
    marks: Marks,
    /// The leader checked in each term, by term.
    checked: Slots<NodeId>,
}

impl LeaderCompleteness {
    fn record_commits(&mut self, id: NodeId, server: &Server, seen: u64) -> Result<(), String> {
        let upto = server.commit_index().min(server.log().last_index());
        if upto <= seen {
            return Ok(()); // the mark would stay as it is (its truncations are not read here)
        }
        for index in seen + 1..=upto {
            let term = server.log().term_at(index).expect("committed entry exists");
            match self.committed.get(slot(index)) {
                Some(&(before, _)) if before != term => {
                    return Err(format!(
                        "{id} committed index={index} term={term}, but term={before} was committed there"
                    ));
                }
                Some(_) => {}
                None => {
                    self.committed.insert(slot(index), (term, server.term()));
                }
            }
        }
        self.marks.insert(id.index(), mark(server, upto));
        Ok(())
    }

    /// Checked once per (term, leader): a new leader must hold all that was committed.
    fn check_leader(&mut self, id: NodeId, server: &Server) -> Result<(), String> {
        if server.role() != Role::Leader || self.checked.get(slot(server.term())) == Some(&id) {
            return Ok(());
        }
        self.checked.insert(slot(server.term()), id);
        let earlier = self.committed.iter().filter(|(_, (_, committed_in))| *committed_in < server.term());
        for (index, &(term, _)) in earlier {
            let index = index as u64;
            if server.log().term_at(index) != Some(term) {
                return Err(format!(
                    "{id} leads term={} without the entry committed at index={index} term={term} (it has {})",
                    server.term(),
                    server.log().term_at(index).map_or("no entry there".into(), |t| format!("term={t}"))
                ));
            }
        }
        Ok(())
    }
}

impl Invariant<Raft> for LeaderCompleteness {
    fn name(&self) -> &str {
        "leader-completeness"
    }

    fn check(&mut self, view: &ClusterView<'_, Raft>) -> Result<(), String> {
        let Some((id, server, seen)) = stepped(view, &self.marks) else { return Ok(()) };
        self.check_leader(id, server)?;
        self.record_commits(id, server, seen)
    }
}

/// No two servers apply different entries at the same index.
#[derive(Debug, Default)]
pub struct StateMachineSafety {
    /// The entry applied at each index, by index.
    applied: Slots<Entry>,
    marks: Marks,
}

impl Invariant<Raft> for StateMachineSafety {
    fn name(&self) -> &str {
        "state-machine-safety"
    }

    fn check(&mut self, view: &ClusterView<'_, Raft>) -> Result<(), String> {
        let Some((id, server, seen)) = stepped(view, &self.marks) else { return Ok(()) };
        // A bug may truncate applied entries; what was applied was checked when it was.
        let applied = server.last_applied().min(server.log().last_index());
        if applied <= seen {
            return Ok(()); // the mark would stay as it is (its truncations are not read here)
        }
        for index in seen + 1..=applied {
            let Some(entry) = server.log().get(index) else { break };
            if self.applied.get(slot(index)).is_none() {
                self.applied.insert(slot(index), entry.clone());
            }
            let recorded = self.applied.get(slot(index)).expect("recorded above");
            if recorded != entry {
                return Err(format!(
                    "{id} applied {} (term={}) at index={index}, another server applied {} (term={})",
                    entry.cmd, entry.term, recorded.cmd, recorded.term
                ));
            }
        }
        self.marks.insert(id.index(), mark(server, applied));
        Ok(())
    }
}
