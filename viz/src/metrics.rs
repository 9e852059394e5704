//! What an operator's dashboard would show: throughput, latency and
//! success per time window, and how many messages each node handled.

use serde::Serialize;
use sim_core::RecordType;

use crate::run::Run;

/// About this many windows span the run.
const WINDOWS_TARGET: u64 = 60;

/// Per-window client metrics and per-node message load.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Metrics {
    /// Window length, nanoseconds (a 1-2-5 step so the axis reads well).
    pub window: u64,
    /// Consecutive windows from time zero to the run's end.
    pub windows: Vec<Window>,
    /// One entry per lane, in lane order.
    pub load: Vec<NodeLoad>,
}

/// Operations that completed within one window.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Window {
    /// Window start, nanoseconds.
    pub start: u64,
    /// Completed `ok`.
    pub ok: u32,
    /// Completed `fail`.
    pub fail: u32,
    /// Completed `info` (timed out: unknown outcome).
    pub info: u32,
    /// Median latency of the `ok` operations, nanoseconds.
    pub p50: Option<u64>,
    /// 99th-percentile latency of the `ok` operations, nanoseconds.
    pub p99: Option<u64>,
}

/// How many messages a node sent and received (for a load balancer:
/// the per-backend load).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct NodeLoad {
    /// The node.
    pub node: u32,
    /// Messages it sent.
    pub sent: u64,
    /// Copies delivered to it.
    pub received: u64,
    /// Copies addressed to it that were dropped.
    pub dropped: u64,
}

/// The metrics of `run`.
pub fn metrics(run: &Run) -> Metrics {
    let window = window_length(run.end);
    let count = (run.end / window + 1) as usize;
    let mut windows: Vec<Window> =
        (0..count).map(|i| Window { start: i as u64 * window, ..Window::default() }).collect();
    let mut latencies: Vec<Vec<u64>> = vec![Vec::new(); count];
    for op in &run.operations {
        let Some(done) = op.completed else { continue };
        let i = (done / window) as usize;
        match op.kind {
            RecordType::Ok => {
                windows[i].ok += 1;
                latencies[i].push(done - op.invoked);
            }
            RecordType::Fail => windows[i].fail += 1,
            _ => windows[i].info += 1,
        }
    }
    for (w, mut l) in windows.iter_mut().zip(latencies) {
        l.sort_unstable();
        w.p50 = percentile(&l, 50);
        w.p99 = percentile(&l, 99);
    }
    Metrics { window, windows, load: load(run) }
}

fn load(run: &Run) -> Vec<NodeLoad> {
    let mut load: Vec<NodeLoad> =
        run.nodes.iter().map(|l| NodeLoad { node: l.id, ..NodeLoad::default() }).collect();
    let at = |id: u32| run.nodes.iter().position(|l| l.id == id);
    for m in &run.messages {
        if let Some(i) = at(m.from) {
            load[i].sent += 1;
        }
        if let Some(i) = at(m.to) {
            for a in &m.arrivals {
                match a.dropped {
                    None => load[i].received += 1,
                    Some(_) => load[i].dropped += 1,
                }
            }
        }
    }
    load
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[u64], p: usize) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    Some(sorted[rank - 1])
}

/// The smallest 1-2-5 step giving at most [`WINDOWS_TARGET`] windows, at least 1µs.
fn window_length(end: u64) -> u64 {
    let mut step = 1_000;
    loop {
        for m in [1, 2, 5] {
            if end / (step * m) < WINDOWS_TARGET {
                return step * m;
            }
        }
        step *= 10;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!((percentile(&v, 50), percentile(&v, 99)), (Some(50), Some(99)));
        assert_eq!(percentile(&[7], 99), Some(7));
        assert_eq!(percentile(&[], 50), None);
    }

    #[test]
    fn windows_step_1_2_5() {
        assert_eq!(window_length(5_400_000_000), 100_000_000);
        assert_eq!(window_length(160_000_000), 5_000_000);
        assert_eq!(window_length(0), 1_000);
    }
}
