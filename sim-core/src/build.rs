//! What [`SimBuilder::build`](crate::SimBuilder::build) refuses, and the
//! memory estimate it makes before allocating anything.
//!
//! A run's engine tables grow with the node count, and the network's
//! per-link tables with its square: a cluster size that is legitimate
//! input can still ask for more memory than the machine has. The builder
//! estimates the bytes first and refuses beyond
//! [`Limits::memory_max`](crate::Limits::memory_max), saying what to lower.

use std::fmt;

use crate::time::Time;

/// Why a simulation could not be built. Each variant names the setting.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BuildError {
    /// Node ids are `u32`: servers plus clients must fit.
    #[error("{servers} servers and {clients} clients are too many nodes: at most {max} in all")]
    TooManyNodes {
        /// Servers asked for.
        servers: usize,
        /// Clients asked for.
        clients: usize,
        /// The most nodes a cluster can have.
        max: u64,
    },
    /// A fault of the schedule cannot happen in this cluster.
    #[error("fault at {at} ({fault}): {reason}")]
    Fault {
        /// When the fault is scheduled.
        at: Time,
        /// The fault, as text.
        fault: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A latency distribution (the network's, or the clients' think time) is invalid.
    #[error("{setting}: {reason}")]
    Latency {
        /// Which distribution: `network latency` or `think time`.
        setting: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The nemesis cannot be drawn.
    #[error("nemesis: {0}")]
    Nemesis(String),
    /// The run would need more memory than the limit allows.
    #[error(
        "a run of {nodes} nodes needs about {estimate} of memory, more than limits.memory_max = {limit}: {advice}"
    )]
    Memory {
        /// Nodes in the cluster.
        nodes: usize,
        /// The estimate.
        estimate: Bytes,
        /// The limit.
        limit: Bytes,
        /// What to lower.
        advice: String,
    },
}

/// A byte count, shown in binary units (`2.0 GiB`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Bytes(pub u64);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
        let mut value = self.0 as f64;
        let mut unit = 0;
        while value >= 1024.0 && unit + 1 < UNITS.len() {
            value /= 1024.0;
            unit += 1;
        }
        if unit == 0 { write!(f, "{} B", self.0) } else { write!(f, "{value:.1} {}", UNITS[unit]) }
    }
}

/// The sizes a run's memory estimate is made from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Footprint {
    /// Servers plus clients.
    pub nodes: u64,
    /// Bytes of engine state per node (tables, random stream, storage,
    /// the node object) plus an allowance for what it allocates.
    pub per_node: u64,
    /// Bytes per directed pair of nodes (latency path, cut flag, FIFO clock).
    pub per_link: u64,
}

/// Heap a node's own state may reach before it is counted, per node: the
/// protocol objects are opaque to the engine, so this is a floor, not a cap.
const NODE_HEAP_ALLOWANCE: u64 = 4 << 10;

impl Footprint {
    /// The footprint of `nodes` nodes, each holding `node_bytes` of
    /// protocol object and engine tables, with `hops` latency
    /// distributions of `hop_bytes` on each path and `fifo` clocks.
    pub fn new(nodes: u64, node_bytes: u64, hops: u64, hop_bytes: u64, fifo: bool) -> Footprint {
        let path = hops.saturating_mul(hop_bytes).saturating_add(std::mem::size_of::<Vec<u8>>() as u64 + 16);
        let per_link = path.saturating_add(if fifo { 9 } else { 1 });
        Footprint { nodes, per_node: node_bytes.saturating_add(NODE_HEAP_ALLOWANCE), per_link }
    }

    /// Estimated bytes, saturating.
    pub fn bytes(&self) -> u64 {
        let links = self.nodes.saturating_mul(self.nodes).saturating_mul(self.per_link);
        self.nodes.saturating_mul(self.per_node).saturating_add(links)
    }

    /// Refuses a footprint beyond `limit`, saying which term dominates.
    pub fn check(&self, limit: u64) -> Result<(), BuildError> {
        let estimate = self.bytes();
        if estimate <= limit {
            return Ok(());
        }
        let links = self.nodes.saturating_mul(self.nodes).saturating_mul(self.per_link);
        let advice = if links >= estimate / 2 {
            format!(
                "per-link state grows with the square of the node count ({} links): lower servers or clients",
                self.nodes.saturating_mul(self.nodes)
            )
        } else {
            "lower servers or clients".to_string()
        };
        Err(BuildError::Memory {
            nodes: self.nodes as usize,
            estimate: Bytes(estimate),
            limit: Bytes(limit),
            advice: format!("{advice}, or raise the memory limit"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_grow_with_the_square_and_are_refused_with_advice() {
        let small = Footprint::new(8, 2048, 1, 32, true);
        assert!(small.bytes() < 1 << 20, "bytes={}", small.bytes());
        assert!(small.check(2 << 30).is_ok());
        let huge = Footprint::new(100_000, 2048, 1, 32, false);
        let err = huge.check(2 << 30).unwrap_err();
        assert!(err.to_string().contains("square of the node count"), "{err}");
        assert!(err.to_string().contains("limits.memory_max = 2.0 GiB"), "{err}");
        let saturated = Footprint::new(u64::MAX, u64::MAX, 1, 32, true);
        assert_eq!(saturated.bytes(), u64::MAX);
    }

    #[test]
    fn bytes_read_in_binary_units() {
        assert_eq!(Bytes(512).to_string(), "512 B");
        assert_eq!(Bytes(3 << 29).to_string(), "1.5 GiB");
    }
}
