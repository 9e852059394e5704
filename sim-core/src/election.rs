//! The election trigger: episodes the nemesis starts when a server wins an
//! election, rather than when the clock says.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::fault::{Cut, Fault, sorted};
use crate::node::NodeId;
use crate::rng::{Probability, SimRng};
use crate::time::{Duration, Time};

/// What the nemesis does to a server that has just won an election.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ElectionKind {
    /// Cut the new leader off from the other servers; clients still reach
    /// it, so it takes writes it cannot replicate.
    Split,
    /// Crash the new leader before it has replicated anything of its term.
    Crash,
    /// Crash the new leader and enough other servers to make a majority,
    /// so servers that have just voted restart from storage.
    CrashMajority,
}

impl ElectionKind {
    /// Every kind, in a fixed order.
    pub const ALL: [ElectionKind; 3] =
        [ElectionKind::Split, ElectionKind::Crash, ElectionKind::CrashMajority];

    /// The name scenario files use in `[nemesis.on_election] kinds`.
    pub fn name(self) -> &'static str {
        match self {
            ElectionKind::Split => "split",
            ElectionKind::Crash => "crash",
            ElectionKind::CrashMajority => "crash-majority",
        }
    }
}

impl fmt::Display for ElectionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Episodes the nemesis starts when a server wins an election, for bugs
/// that live in the few milliseconds after one: a leader that has not yet
/// replicated an entry of its own term, voters whose votes are fresh. A
/// clock-driven nemesis lands there only by luck; this one aims there.
///
/// When a server first claims leadership in an epoch no server claimed
/// before ([`Node::leadership`](crate::Node::leadership)), then with
/// `chance`, after a delay drawn up to `delay_max`, an episode of one of
/// `kinds` hits it and lasts about `duration` (half to one and a half
/// times). Every draw comes from the seed's own [`Stream::Election`], one
/// fixed set of draws per election, so a run replays exactly. Only elections
/// whose episode would end before the nemesis's `stop` start one.
///
/// With `until_successor`, an episode ends sooner if another server wins an
/// election first: that long after the successor's win. A leader cut off
/// stays away just until the cluster has failed over, then comes back to
/// find the successor cut off in its turn; its entries meet the
/// successor's, which is where bugs about terms live.
///
/// [`Stream::Election`]: crate::Stream::Election
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnElection {
    /// What to do to the new leader, one drawn per election.
    pub kinds: Vec<ElectionKind>,
    /// The chance an election starts an episode.
    pub chance: Probability,
    /// Longest wait between the election and the episode.
    pub delay_max: Duration,
    /// Mean length of an episode.
    pub duration: Duration,
    /// If set, an episode also ends this long after another server wins
    /// an election, when that comes before its `duration` is up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_successor: Option<Duration>,
}

impl OnElection {
    /// Checks there is a kind to draw and the numbers are in range.
    pub fn validate(&self) -> Result<(), String> {
        if self.kinds.is_empty() {
            return Err("on_election needs at least one kind: split, crash or crash-majority".into());
        }
        if self.duration == Duration::ZERO {
            return Err("on_election's duration is 0s: an episode needs a length".into());
        }
        let longest = self.delay_max.max(self.duration).max(self.until_successor.unwrap_or(Duration::ZERO));
        if longest > crate::HORIZON_MAX {
            return Err(format!(
                "on_election's delay_max, duration and until_successor are at most {}",
                crate::HORIZON_MAX
            ));
        }
        Ok(())
    }

    /// The faults of the episode an election of `leader` starts at `now`,
    /// drawn from `rng` (always the same draws, whether or not the episode
    /// happens), or none; `stop` as in [`Nemesis::stop`](crate::Nemesis::stop).
    pub fn episode(
        &self,
        leader: NodeId,
        servers: &[NodeId],
        now: Time,
        stop: Time,
        rng: &mut SimRng,
    ) -> Vec<(Time, Fault)> {
        let fires = rng.chance(self.chance);
        // At least a nanosecond later, so the episode never lands in the
        // very event that elected the leader.
        let delay = rng.between(1, self.delay_max.as_nanos().max(1));
        let half = self.duration.as_nanos() / 2;
        let length = rng.between(half, self.duration.as_nanos().saturating_add(half));
        let kind = *rng.pick(&self.kinds);
        let mut others: Vec<NodeId> = servers.iter().copied().filter(|&n| n != leader).collect();
        rng.shuffle(&mut others);
        let start = now + Duration::from_nanos(delay);
        let end = start + Duration::from_nanos(length);
        if !fires || end >= stop {
            return Vec::new();
        }
        let crash = |victims: &[NodeId]| -> Vec<(Time, Fault)> {
            let mut faults: Vec<(Time, Fault)> =
                victims.iter().map(|&n| (start, Fault::Crash { node: n })).collect();
            faults.extend(victims.iter().map(|&n| (end, Fault::Restart { node: n })));
            faults
        };
        match kind {
            ElectionKind::Split => {
                let (cut, mend) = Cut::Split { groups: vec![vec![leader], sorted(&others)] }.episode();
                vec![(start, cut), (end, mend)]
            }
            ElectionKind::Crash => crash(&[leader]),
            ElectionKind::CrashMajority => {
                let majority = servers.len() / 2 + 1;
                let mut victims = vec![leader];
                victims.extend(others.iter().take(majority.saturating_sub(1)));
                crash(&sorted(&victims))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{Seed, Stream};

    fn servers(n: u32) -> Vec<NodeId> {
        (0..n).map(NodeId).collect()
    }

    #[test]
    fn an_election_episode_aims_at_the_new_leader() {
        let trigger = |kinds: Vec<ElectionKind>, chance| OnElection {
            kinds,
            chance,
            delay_max: Duration::from_millis(10),
            duration: Duration::from_millis(100),
            until_successor: None,
        };
        let now = Time::from_nanos(1_000_000_000);
        let stop = Time::from_nanos(5_000_000_000);
        let mut rng = SimRng::new(Seed(7), Stream::Election);
        let split = trigger(vec![ElectionKind::Split], Probability::ALWAYS).episode(
            NodeId(2),
            &servers(3),
            now,
            stop,
            &mut rng,
        );
        let [(start, cut), (end, heal)] = &split[..] else { panic!("{split:?}") };
        let groups = vec![vec![NodeId(2)], vec![NodeId(0), NodeId(1)]];
        let mend = Fault::Mend { cut: Cut::Split { groups: groups.clone() } };
        assert_eq!((cut, heal), (&Fault::Partition { cut: Cut::Split { groups } }, &mend));
        assert!(now < *start && *start <= now + Duration::from_millis(10), "{start}");
        assert!(*end - *start >= Duration::from_millis(50) && *end - *start <= Duration::from_millis(150));
        let majority = trigger(vec![ElectionKind::CrashMajority], Probability::ALWAYS).episode(
            NodeId(3),
            &servers(5),
            now,
            stop,
            &mut rng,
        );
        let crashed: Vec<NodeId> = majority
            .iter()
            .filter_map(|(_, f)| if let Fault::Crash { node } = f { Some(*node) } else { None })
            .collect();
        assert_eq!(crashed.len(), 3, "a majority of five: {majority:?}");
        assert!(crashed.contains(&NodeId(3)), "the leader among them");
        assert_eq!(majority.iter().filter(|(_, f)| matches!(f, Fault::Restart { .. })).count(), 3);
        let never = trigger(vec![ElectionKind::Crash], Probability::NEVER);
        assert!(never.episode(NodeId(0), &servers(3), now, stop, &mut rng).is_empty());
        let late = trigger(vec![ElectionKind::Crash], Probability::ALWAYS);
        assert!(late.episode(NodeId(0), &servers(3), now, now, &mut rng).is_empty(), "past stop");
    }

    #[test]
    fn an_election_draws_the_same_whether_or_not_its_episode_happens() {
        let trigger = OnElection {
            kinds: ElectionKind::ALL.to_vec(),
            chance: Probability::ALWAYS,
            delay_max: Duration::from_millis(10),
            duration: Duration::from_millis(100),
            until_successor: None,
        };
        let never = OnElection { chance: Probability::NEVER, ..trigger.clone() };
        let now = Time::from_nanos(1_000);
        let stop = Time::from_nanos(5_000_000_000);
        let mut a = SimRng::new(Seed(3), Stream::Election);
        let mut b = SimRng::new(Seed(3), Stream::Election);
        trigger.episode(NodeId(0), &servers(3), now, stop, &mut a);
        never.episode(NodeId(0), &servers(3), now, stop, &mut b);
        assert_eq!(a.below(1 << 40), b.below(1 << 40), "the next election sees the same stream");
    }
}
