//! proptest strategies for seeds, network settings and fault schedules.
//!
//! A schedule is a list of episodes — a fault and, after a while, its
//! repair — over every fault kind the nemesis knows (crash, pause, isolate,
//! split, bridge, one-way, slow, clock jump). proptest shrinks the list by
//! dropping episodes and each episode by moving it earlier and shortening
//! it, so a failure comes back as a small schedule. Pair with
//! [`crate::testing::run_schedule`], which prints the replay command.

use proptest::prelude::*;
use sim_core::{
    Cut, Duration, Fault, FaultSchedule, Latency, NemesisKind, NetConfig, NodeId, Probability, Time,
};

/// Any seed a scenario file can hold (TOML integers are signed 64-bit).
pub fn seed() -> impl Strategy<Value = u64> {
    0..i64::MAX as u64
}

/// Network settings: latency from a constant up to heavy tails, loss and
/// duplication up to 5%, FIFO or not.
pub fn network() -> impl Strategy<Value = NetConfig> {
    let latency = prop_oneof![
        (100u64..5_000).prop_map(|us| Latency::constant(Duration::from_micros(us))),
        (100u64..2_000, 1u64..10).prop_map(|(min, spread)| Latency::Uniform {
            min: Duration::from_micros(min),
            max: Duration::from_micros(min * (spread + 1)),
        }),
        (500u64..5_000)
            .prop_map(|us| Latency::Exponential { mean: Duration::from_micros(us), min: Duration::ZERO }),
    ];
    (latency, 0u32..50, 0u32..50, any::<bool>()).prop_map(|(latency, loss, duplicate, fifo)| NetConfig {
        latency,
        loss: Probability::ratio(loss.into(), 1000),
        duplicate: Probability::ratio(duplicate.into(), 1000),
        fifo,
    })
}

/// One episode: a fault of `kind` at `start` after time zero, repaired
/// `length` later, aimed at server `target` (modulo the cluster size).
#[derive(Clone, Debug)]
struct Episode {
    kind: NemesisKind,
    start: Duration,
    length: Duration,
    target: usize,
    size: u64,
}

fn episode(kinds: Vec<NemesisKind>, horizon: Duration) -> impl Strategy<Value = Episode> {
    let horizon_ms = (horizon.as_nanos() / 1_000_000).max(2);
    (proptest::sample::select(kinds), 0..horizon_ms, 1..horizon_ms / 2 + 1, 0usize..64, 1u64..20).prop_map(
        |(kind, start, length, target, size)| Episode {
            kind,
            start: Duration::from_millis(start),
            length: Duration::from_millis(length),
            target,
            size,
        },
    )
}

/// Schedules over `servers` servers with faults in the first four seconds.
pub fn schedule(servers: usize) -> impl Strategy<Value = FaultSchedule> {
    schedule_within(servers, Duration::from_secs(4), 8)
}

/// Schedules over `servers` servers of up to `episodes_max` episodes, each
/// starting before `horizon`.
pub fn schedule_within(
    servers: usize,
    horizon: Duration,
    episodes_max: usize,
) -> impl Strategy<Value = FaultSchedule> {
    schedule_of(NemesisKind::ANY_SERVER, servers, horizon, episodes_max)
}

/// Schedules of only the fault kinds `kinds` — a protocol's
/// [`Catalogued::FAULTS`](crate::Catalogued::FAULTS), say.
pub fn schedule_of(
    kinds: &[NemesisKind],
    servers: usize,
    horizon: Duration,
    episodes_max: usize,
) -> impl Strategy<Value = FaultSchedule> + use<> {
    assert!(servers > 0, "servers={servers}");
    assert!(!kinds.is_empty(), "no fault kinds");
    proptest::collection::vec(episode(kinds.to_vec(), horizon), 0..=episodes_max)
        .prop_map(move |episodes| build(servers, &episodes))
}

fn build(servers: usize, episodes: &[Episode]) -> FaultSchedule {
    let mut timed: Vec<(Time, usize, Fault)> = Vec::new();
    for (i, e) in episodes.iter().enumerate() {
        let Some((fault, repair)) = faults(servers, e) else { continue };
        let start = Time::ZERO + e.start;
        timed.push((start, 2 * i, fault));
        timed.push((start + e.length, 2 * i + 1, repair));
    }
    timed.sort_by_key(|(at, order, _)| (*at, *order));
    let mut schedule = FaultSchedule::new();
    for (at, _, fault) in timed {
        schedule.push(at, fault);
    }
    schedule
}

/// The fault an episode starts with and the one that repairs it; `None` for
/// a kind the cluster is too small for. Every kind is handled here: a new
/// one does not compile until it is.
fn faults(servers: usize, e: &Episode) -> Option<(Fault, Fault)> {
    let ids: Vec<NodeId> = (0..servers as u32).map(NodeId).collect();
    let node = ids[e.target % servers];
    let others: Vec<NodeId> = ids.iter().copied().filter(|&n| n != node).collect();
    // Each episode ends only itself, as the nemesis's do.
    let mend = Cut::episode;
    Some(match e.kind {
        NemesisKind::Crash => (Fault::Crash { node }, Fault::Restart { node }),
        NemesisKind::Pause => (Fault::Pause { node }, Fault::Resume { node }),
        NemesisKind::Isolate => mend(Cut::Isolate { node }),
        NemesisKind::Split if servers >= 2 => {
            let minority = (e.target % (servers / 2).max(1)) + 1;
            let ring = rotate(&ids, e.target);
            let (left, right) = ring.split_at(minority.min(servers - 1));
            mend(Cut::Split { groups: vec![left.to_vec(), right.to_vec()] })
        }
        NemesisKind::Bridge if servers >= 3 => {
            let ring = rotate(&ids, e.target);
            let half = (servers - 1) / 2;
            let (left, rest) = ring[1..].split_at(half);
            mend(Cut::Bridge { left: left.to_vec(), bridge: ring[0], right: rest.to_vec() })
        }
        NemesisKind::OneWay if servers >= 2 => mend(Cut::OneWay { from: vec![node], to: others }),
        NemesisKind::Split | NemesisKind::Bridge | NemesisKind::OneWay => return None,
        NemesisKind::Slow => (Fault::Slow { node, factor: e.size.max(2) }, Fault::Slow { node, factor: 1 }),
        NemesisKind::ClockJump => {
            let steps = if e.size <= 10 { -(e.size as i64) } else { e.size as i64 - 10 };
            let offset = steps * 100_000_000;
            (Fault::ClockJump { node, offset }, Fault::ClockJump { node, offset: 0 })
        }
        NemesisKind::LeaderCrash => {
            let node = NodeId::LEADER;
            (Fault::Crash { node }, Fault::Restart { node })
        }
        NemesisKind::LeaderSplit => mend(Cut::Split { groups: vec![vec![NodeId::LEADER]] }),
        NemesisKind::LeaderPause => {
            let node = NodeId::LEADER;
            (Fault::Pause { node }, Fault::Resume { node })
        }
    })
}

fn rotate(ids: &[NodeId], by: usize) -> Vec<NodeId> {
    let mut ring = ids.to_vec();
    ring.rotate_left(by % ids.len());
    ring
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    #[test]
    fn schedules_cover_every_kind_and_repair_what_they_break() {
        let mut runner = TestRunner::deterministic();
        let mut kinds = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let schedule = schedule(5).new_tree(&mut runner).unwrap().current();
            let entries = schedule.entries();
            assert!(entries.windows(2).all(|w| w[0].at <= w[1].at), "sorted");
            let breaks = entries.iter().filter(|e| !e.fault.is_repair()).count();
            let repairs = entries.iter().filter(|e| e.fault.is_repair()).count();
            assert_eq!(breaks, repairs, "{schedule:?}");
            kinds.extend(entries.iter().map(|e| e.fault.kind()));
        }
        for kind in [
            "crash",
            "pause",
            "partition-isolate",
            "partition-split",
            "partition-bridge",
            "partition-one-way",
            "slow",
            "clock-jump",
        ] {
            assert!(kinds.contains(kind), "kind={kind} never drawn: {kinds:?}");
        }
    }
}
