//! What the fault schedule says one balancer could see: when it was awake
//! (not paused), and when it and a given backend could reach each other.
//!
//! The checks use these spans so that they never blame a balancer for what
//! it could not have observed: it cannot eject a crashed backend while it is
//! paused itself, nor re-admit a backend its pings cannot reach.

use sim_core::{Duration, Fault, NodeId, Time, TimedFault};

/// A half-open span of virtual time, `[from, to)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Span {
    pub from: Time,
    pub to: Time,
}

/// The state of one balancer–backend pair as the schedule moves it.
#[derive(Clone, Copy, Debug, Default)]
struct Pair {
    balancer_paused: bool,
    /// How many live partitions cut balancer to backend, and back.
    there_cut: u32,
    back_cut: u32,
}

impl Pair {
    fn apply(&mut self, balancer: NodeId, backend: NodeId, fault: &Fault) {
        match fault {
            Fault::Pause { node } if *node == balancer => self.balancer_paused = true,
            Fault::Resume { node } | Fault::Crash { node } | Fault::Restart { node } if *node == balancer => {
                self.balancer_paused = false;
            }
            Fault::Partition { cut } => {
                let pairs = cut.directed_pairs(&[balancer, backend]);
                self.there_cut += u32::from(pairs.contains(&(balancer, backend)));
                self.back_cut += u32::from(pairs.contains(&(backend, balancer)));
            }
            Fault::Mend { cut } => {
                let pairs = cut.directed_pairs(&[balancer, backend]);
                self.there_cut -= u32::from(pairs.contains(&(balancer, backend)) && self.there_cut > 0);
                self.back_cut -= u32::from(pairs.contains(&(backend, balancer)) && self.back_cut > 0);
            }
            Fault::Heal => {
                self.there_cut = 0;
                self.back_cut = 0;
            }
            // Named, not a wildcard: a new fault kind must decide here whether it cuts the pair.
            Fault::Pause { .. }
            | Fault::Resume { .. }
            | Fault::Crash { .. }
            | Fault::Restart { .. }
            | Fault::Slow { .. }
            | Fault::ClockJump { .. } => {}
        }
    }
}

/// The applied faults of one run, up to its end.
pub(super) struct Timeline<'a> {
    applied: &'a [TimedFault],
    end: Time,
}

impl<'a> Timeline<'a> {
    /// The faults applied in a run that ended at `end`, in time order.
    pub fn new(applied: &'a [TimedFault], end: Time) -> Timeline<'a> {
        Timeline { applied, end }
    }

    /// The spans, within `[from, to)`, in which `good` holds for the pair.
    fn spans(
        &self,
        balancer: NodeId,
        backend: NodeId,
        within: Span,
        good: impl Fn(&Pair) -> bool,
    ) -> Vec<Span> {
        let mut spans = Vec::new();
        let mut pair = Pair::default();
        let mut since = Some(Time::ZERO);
        for entry in self.applied.iter().take_while(|e| e.at < within.to.min(self.end)) {
            pair.apply(balancer, backend, &entry.fault);
            match (good(&pair), since) {
                (true, None) => since = Some(entry.at),
                (false, Some(start)) => {
                    push_clipped(&mut spans, Span { from: start, to: entry.at }, within);
                    since = None;
                }
                _ => {}
            }
        }
        if let Some(start) = since {
            push_clipped(&mut spans, Span { from: start, to: within.to.min(self.end) }, within);
        }
        spans
    }

    /// How long `balancer` was awake (not paused) within `within`.
    pub fn awake(&self, balancer: NodeId, within: Span) -> Duration {
        let spans = self.spans(balancer, balancer, within, |p| !p.balancer_paused);
        spans.iter().fold(Duration::ZERO, |sum, s| sum + s.to.since(s.from))
    }

    /// The spans within `within` in which `balancer` is awake and its
    /// pings reach `backend` and the answers come back.
    pub fn reachable(&self, balancer: NodeId, backend: NodeId, within: Span) -> Vec<Span> {
        self.spans(balancer, backend, within, |p| !p.balancer_paused && p.there_cut == 0 && p.back_cut == 0)
    }
}

fn push_clipped(spans: &mut Vec<Span>, span: Span, within: Span) {
    let (from, to) = (span.from.max(within.from), span.to.min(within.to));
    if from < to {
        spans.push(Span { from, to });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim_core::Cut;

    fn ms(n: u64) -> Time {
        Time::from_nanos(n * 1_000_000)
    }

    fn at(t: u64, fault: Fault) -> TimedFault {
        TimedFault { at: ms(t), fault }
    }

    #[test]
    fn a_pause_is_not_awake_time() {
        let b = NodeId(0);
        let faults = [at(100, Fault::Pause { node: b }), at(400, Fault::Resume { node: b })];
        let timeline = Timeline::new(&faults, ms(1000));
        assert_eq!(timeline.awake(b, Span { from: ms(50), to: ms(500) }), Duration::from_millis(150));
        assert_eq!(timeline.awake(NodeId(1), Span { from: ms(50), to: ms(500) }), Duration::from_millis(450));
    }

    #[test]
    fn a_cut_either_way_breaks_reachability_until_healed() {
        let (b, k) = (NodeId(0), NodeId(3));
        let faults = [
            at(100, Fault::Partition { cut: Cut::OneWay { from: vec![k], to: vec![b] } }),
            at(300, Fault::Heal),
            at(500, Fault::Partition { cut: Cut::Isolate { node: NodeId(2) } }),
        ];
        let timeline = Timeline::new(&faults, ms(1000));
        let spans = timeline.reachable(b, k, Span { from: ms(0), to: ms(800) });
        assert_eq!(spans, vec![Span { from: ms(0), to: ms(100) }, Span { from: ms(300), to: ms(800) }]);
    }
}
