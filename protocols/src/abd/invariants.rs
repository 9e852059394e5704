//! ABD's invariants over the servers' stored values, checked as the run goes.

use std::collections::BTreeMap;

use sim_core::{ClusterView, Invariant, NodeId};

use super::Abd;
use super::message::{Stamped, Timestamp};
use crate::register::show_value;

/// A server's timestamp for a key never goes down, even across a crash.
#[derive(Debug, Default)]
pub struct MonotoneTimestamps {
    seen: BTreeMap<(NodeId, i64), Timestamp>,
}

impl Invariant<Abd> for MonotoneTimestamps {
    fn name(&self) -> &str {
        "monotone-timestamps"
    }

    fn check(&mut self, view: &ClusterView<'_, Abd>) -> Result<(), String> {
        let Some((id, server)) = view.changed().and_then(|id| Some((id, view.server(id)?))) else {
            return Ok(());
        };
        for (key, stamped) in server.registers() {
            let last = self.seen.entry((id, key)).or_default();
            if stamped.ts < *last {
                return Err(format!("server={id} key={key} went back from ts={last} to ts={}", stamped.ts));
            }
            *last = stamped.ts;
        }
        Ok(())
    }
}

/// No two servers ever hold one timestamp with different values.
#[derive(Debug, Default)]
pub struct UniqueTimestamps {
    values: BTreeMap<(i64, Timestamp), (NodeId, Option<i64>)>,
}

impl Invariant<Abd> for UniqueTimestamps {
    fn name(&self) -> &str {
        "unique-timestamps"
    }

    fn check(&mut self, view: &ClusterView<'_, Abd>) -> Result<(), String> {
        let Some((id, server)) = view.changed().and_then(|id| Some((id, view.server(id)?))) else {
            return Ok(());
        };
        for (key, Stamped { ts, value }) in server.registers() {
            let (first, known) = *self.values.entry((key, ts)).or_insert((id, value));
            if known != value {
                return Err(format!(
                    "key={key} ts={ts} holds {} at server={first} but {} at server={id}",
                    show_value(known),
                    show_value(value)
                ));
            }
        }
        Ok(())
    }
}
