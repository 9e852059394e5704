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

/// Each server's mark, by node index: looked up after every step, so a
/// vector rather than a map.
#[derive(Debug, Default)]
struct Marks(Vec<Option<Mark>>);

impl Marks {
    fn get(&self, id: &NodeId) -> Option<&Mark> {
        self.0.get(id.index()).and_then(Option::as_ref)
    }

    fn insert(&mut self, id: NodeId, mark: Mark) {
        if self.0.len() <= id.index() {
            self.0.resize(id.index() + 1, None);
        }
        self.0[id.index()] = Some(mark);
    }
}

/// The stepping server, and how far it was examined before (0 if it restarted).
fn stepped<'a>(view: &ClusterView<'a, Raft>, marks: &Marks) -> Option<(NodeId, &'a Server, u64)> {
    let id = view.changed()?;
    let server = view.server(id)?;
    let seen = marks.get(&id).filter(|m| m.boot == server.boot()).map_or(0, |m| m.seen);
    Some((id, server, seen))
}

/// A mark for `server` having been examined up to `seen`.
fn mark(server: &Server, seen: u64) -> Mark {
    Mark { boot: server.boot(), seen, truncations: server.log().truncations().0 }
}

/// At most one leader per term, over the whole run.
#[derive(Debug, Default)]
pub struct ElectionSafety {
    leaders: BTreeMap<u64, NodeId>,
}

impl Invariant<Raft> for ElectionSafety {
    fn name(&self) -> &str {
        "election-safety"
    }

    fn check(&mut self, view: &ClusterView<'_, Raft>) -> Result<(), String> {
        let Some(id) = view.changed() else { return Ok(()) };
        let Some(server) = view.server(id).filter(|s| s.role() == Role::Leader) else { return Ok(()) };
        let term = server.term();
        match self.leaders.insert(term, id) {
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
    entries: BTreeMap<(u64, u64), (u64, Entry)>,
    marks: Marks,
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
        let truncated =
            self.marks.get(&id).is_some_and(|m| m.boot == server.boot() && m.truncations != truncations);
        let from = if truncated { seen.min(at - 1) } else { seen }.min(log.last_index());
        for index in from + 1..=log.last_index() {
            let entry = log.get(index).expect("index within the log");
            let prev_term = log.term_at(index - 1).expect("previous entry exists");
            let recorded =
                self.entries.entry((index, entry.term)).or_insert_with(|| (prev_term, entry.clone()));
            if recorded.0 != prev_term || recorded.1 != *entry {
                return Err(format!(
                    "{id} has index={index} term={} as {} after term {prev_term}, \
                     but another log had {} after term {}",
                    entry.term, entry.cmd, recorded.1.cmd, recorded.0
                ));
            }
        }
        self.marks.insert(id, mark(server, log.last_index()));
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
    committed: BTreeMap<u64, (u64, u64)>,
    marks: Marks,
    checked: BTreeMap<u64, NodeId>,
}

impl LeaderCompleteness {
    fn record_commits(&mut self, id: NodeId, server: &Server, seen: u64) -> Result<(), String> {
        let upto = server.commit_index().min(server.log().last_index());
        for index in seen + 1..=upto {
            let term = server.log().term_at(index).expect("committed entry exists");
            match self.committed.get(&index) {
                Some(&(before, _)) if before != term => {
                    return Err(format!(
                        "{id} committed index={index} term={term}, but term={before} was committed there"
                    ));
                }
                Some(_) => {}
                None => {
                    self.committed.insert(index, (term, server.term()));
                }
            }
        }
        self.marks.insert(id, mark(server, upto.max(seen)));
        Ok(())
    }

    /// Checked once per (term, leader): a new leader must hold all that was committed.
    fn check_leader(&mut self, id: NodeId, server: &Server) -> Result<(), String> {
        if server.role() != Role::Leader || self.checked.get(&server.term()) == Some(&id) {
            return Ok(());
        }
        self.checked.insert(server.term(), id);
        let earlier = self.committed.iter().filter(|(_, (_, committed_in))| *committed_in < server.term());
        for (&index, &(term, _)) in earlier {
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
    applied: BTreeMap<u64, Entry>,
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
        for index in seen + 1..=applied {
            let Some(entry) = server.log().get(index) else { break };
            let recorded = self.applied.entry(index).or_insert_with(|| entry.clone());
            if recorded != entry {
                return Err(format!(
                    "{id} applied {} (term={}) at index={index}, another server applied {} (term={})",
                    entry.cmd, entry.term, recorded.cmd, recorded.term
                ));
            }
        }
        self.marks.insert(id, mark(server, applied.max(seen)));
        Ok(())
    }
}
