//! Primary-backup's invariants, checked as the run goes.

use std::collections::BTreeMap;

use sim_core::{ClusterView, Invariant, NodeId};

use super::PrimaryBackup;
use super::server::Server;

/// At most one server is ever primary of a given epoch.
#[derive(Debug, Default)]
pub struct OnePrimaryPerEpoch {
    primaries: BTreeMap<u64, NodeId>,
}

impl Invariant<PrimaryBackup> for OnePrimaryPerEpoch {
    fn name(&self) -> &str {
        "one-primary-per-epoch"
    }

    fn check(&mut self, view: &ClusterView<'_, PrimaryBackup>) -> Result<(), String> {
        let Some(id) = view.changed() else { return Ok(()) };
        let Some(epoch) = view.server(id).and_then(Server::primary_epoch) else { return Ok(()) };
        let first = *self.primaries.entry(epoch).or_insert(id);
        if first != id {
            return Err(format!("epoch={epoch} has two primaries: {first} and {id}"));
        }
        Ok(())
    }
}

/// Split brain: two servers both believe they are primary and both have
/// acknowledged a write since the later of them took over.
///
/// Not installed by default (linearizability is the headline check); a
/// scenario turns it on with `check_split_brain = true`.
#[derive(Debug, Default)]
pub struct SplitBrain;

impl Invariant<PrimaryBackup> for SplitBrain {
    fn name(&self) -> &str {
        "split-brain"
    }

    fn check(&mut self, view: &ClusterView<'_, PrimaryBackup>) -> Result<(), String> {
        let serving: Vec<(NodeId, &Server)> =
            view.servers().filter(|(_, s)| s.primary_since().is_some()).collect();
        for (i, &(a, sa)) in serving.iter().enumerate() {
            for &(b, sb) in &serving[i + 1..] {
                let overlap = sa.primary_since().max(sb.primary_since());
                if sa.last_write_ack() >= overlap && sb.last_write_ack() >= overlap {
                    return Err(format!(
                        "{a} (epoch {}) and {b} (epoch {}) are both primary and both acknowledged writes since {}",
                        sa.primary_epoch().expect("serving as primary"),
                        sb.primary_epoch().expect("serving as primary"),
                        overlap.expect("both primary"),
                    ));
                }
            }
        }
        Ok(())
    }
}
