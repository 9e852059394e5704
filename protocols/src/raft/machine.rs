//! The replicated state machine: registers plus a session table that makes
//! each client request apply at most once.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sim_core::NodeId;

use super::message::Cmd;
use crate::register::Command;

/// The result of a command, as the client hears it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Answer {
    /// A read's value (`None`: never written).
    Read(Option<i64>),
    /// A write took effect.
    Written,
    /// A cas found the expected value and set the new one.
    Swapped,
    /// A cas found another value and did nothing.
    Mismatch,
}

impl Answer {
    /// The answer's kind, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Answer::Read(_) => "read",
            Answer::Written => "written",
            Answer::Swapped => "swapped",
            Answer::Mismatch => "mismatch",
        }
    }
}

/// Registers and the last request applied per client.
#[derive(Clone, Debug, Default)]
pub struct Machine {
    registers: BTreeMap<i64, i64>,
    /// By client index: looked up for every request and applied entry.
    sessions: Vec<Option<(u64, Answer)>>,
}

impl Machine {
    /// The value of register `key`.
    pub fn value(&self, key: i64) -> Option<i64> {
        self.registers.get(&key).copied()
    }

    /// The answer to `client`'s request `seq` if it is the last one applied.
    pub fn cached(&self, client: NodeId, seq: u64) -> Option<Answer> {
        match self.session(client) {
            Some((last, answer)) if last == seq => Some(answer),
            _ => None,
        }
    }

    /// Applies one committed command; returns who to tell what, if anyone.
    /// A request already applied (a retry) answers from the session table
    /// without applying again; an older one is ignored.
    pub fn apply(&mut self, cmd: &Cmd) -> Option<(NodeId, u64, Answer)> {
        let Cmd::Client { client, seq, key, command } = cmd else { return None };
        if let Some((last, answer)) = self.session(*client)
            && *seq <= last
        {
            return (*seq == last).then_some((*client, *seq, answer));
        }
        let answer = self.execute(*key, command);
        if self.sessions.len() <= client.index() {
            self.sessions.resize(client.index() + 1, None);
        }
        self.sessions[client.index()] = Some((*seq, answer));
        Some((*client, *seq, answer))
    }

    /// The last request applied for `client` and its answer.
    fn session(&self, client: NodeId) -> Option<(u64, Answer)> {
        self.sessions.get(client.index()).copied().flatten()
    }

    fn execute(&mut self, key: i64, command: &Command) -> Answer {
        let current = self.value(key);
        match *command {
            Command::Read => Answer::Read(current),
            Command::Write(v) => {
                self.registers.insert(key, v);
                Answer::Written
            }
            Command::Cas(from, to) if current == Some(from) => {
                self.registers.insert(key, to);
                Answer::Swapped
            }
            Command::Cas(..) => Answer::Mismatch,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(seq: u64, command: Command) -> Cmd {
        Cmd::Client { client: NodeId(9), seq, key: 1, command }
    }

    #[test]
    fn retried_request_applies_once() {
        let mut m = Machine::default();
        m.apply(&cmd(1, Command::Write(3)));
        assert_eq!(m.apply(&cmd(2, Command::Cas(3, 4))), Some((NodeId(9), 2, Answer::Swapped)));
        // The retry of request 2 answers the same without swapping again.
        assert_eq!(m.apply(&cmd(2, Command::Cas(3, 4))), Some((NodeId(9), 2, Answer::Swapped)));
        assert_eq!(m.value(1), Some(4));
        // A late copy of request 1 is ignored.
        assert_eq!(m.apply(&cmd(1, Command::Write(3))), None);
        assert_eq!(m.value(1), Some(4));
    }
}
