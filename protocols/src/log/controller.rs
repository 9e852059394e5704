//! The controller: durable partition leadership and in-sync sets, and the
//! consumer group's coordinator (membership, assignment, committed offsets).

use std::collections::{BTreeMap, BTreeSet};

use sim_core::{Context, NodeId, Time};

use super::message::{Msg, PartitionState};
use super::{Log, LogBug, probe};

/// The group's durable part: its generation and each partition's committed offset.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Group {
    /// Bumped at every membership change and every controller start.
    pub generation: u64,
    /// Next offset to consume, by partition.
    pub committed: Vec<u64>,
}

/// The controller (server 0). Everything it decides is synced before anyone hears of it.
#[derive(Debug)]
pub struct Controller {
    config: Log,
    /// Durable: each partition's leader, epoch and in-sync set.
    pub partitions: Vec<PartitionState>,
    /// Durable: generation and committed offsets.
    pub group: Group,
    /// Durable: each broker's incarnation as last heard, in server order
    /// from server 1.
    incarnations: Vec<u64>,
    /// Brokers heard from within a session, and when last.
    alive: BTreeMap<NodeId, Time>,
    /// Group members, their client node and when last heard from.
    members: BTreeMap<u64, (NodeId, Time)>,
}

impl Controller {
    /// A controller to be rebuilt from storage in [`Controller::start`].
    pub fn new(config: Log) -> Controller {
        Controller {
            config,
            partitions: Vec::new(),
            group: Group::default(),
            incarnations: Vec::new(),
            alive: BTreeMap::new(),
            members: BTreeMap::new(),
        }
    }

    /// How often the controller looks for silent brokers and members.
    pub fn tick_every(&self) -> sim_core::Duration {
        self.config.tick
    }

    fn brokers<'a>(&self, ctx: &'a Context<'_, Log>) -> &'a [NodeId] {
        &ctx.servers()[1..]
    }

    /// Loads (or creates) the durable state; every broker gets a fresh session
    /// and the group a new generation, since members are volatile.
    pub fn start(&mut self, ctx: &mut Context<'_, Log>) {
        let brokers: Vec<NodeId> = self.brokers(ctx).to_vec();
        let stored = ctx.storage().get::<Vec<PartitionState>>("ctl/partitions").ok().flatten();
        self.partitions = stored.unwrap_or_else(|| {
            (0..self.config.partitions as usize)
                .map(|p| PartitionState {
                    epoch: 1,
                    version: 1,
                    leader: Some(brokers[p % brokers.len()]),
                    isr: brokers.clone(),
                })
                .collect()
        });
        let mut group = ctx.storage().get::<Group>("ctl/group").ok().flatten().unwrap_or_default();
        group.committed.resize(self.config.partitions as usize, 0);
        group.generation += 1;
        self.group = group;
        // Every broker's first start is incarnation 1, which lost nothing.
        let incarnations = ctx.storage().get::<Vec<u64>>("ctl/incarnations").ok().flatten();
        self.incarnations = incarnations.unwrap_or_default();
        self.incarnations.resize(brokers.len(), 1);
        self.persist(ctx);
        let now = ctx.clock();
        self.alive = brokers.iter().map(|&b| (b, now)).collect();
    }

    fn persist(&self, ctx: &mut Context<'_, Log>) {
        ctx.storage().put("ctl/partitions", &self.partitions);
        ctx.storage().put("ctl/group", &self.group);
        ctx.storage().put("ctl/incarnations", &self.incarnations);
        ctx.storage().sync();
    }

    /// Expires silent brokers and members; re-elects leaders that are gone.
    pub fn tick(&mut self, ctx: &mut Context<'_, Log>) {
        let now = ctx.clock();
        let session = self.config.session;
        let dead: Vec<NodeId> =
            self.alive.iter().filter(|(_, at)| now.since(**at) > session).map(|(b, _)| *b).collect();
        for broker in &dead {
            self.alive.remove(broker);
        }
        let expired: Vec<u64> = self
            .members
            .iter()
            .filter(|(_, (_, at))| now.since(*at) > self.config.member_session)
            .map(|(m, _)| *m)
            .collect();
        for member in &expired {
            self.members.remove(member);
        }
        if !expired.is_empty() {
            self.group.generation += 1;
        }
        let changed = self.elect_probed(ctx, None);
        if changed || !expired.is_empty() {
            self.persist(ctx);
        }
        if changed {
            self.broadcast(ctx);
        }
    }

    /// [`Controller::elect`], marking the probes its changes reach.
    fn elect_probed(&mut self, ctx: &mut Context<'_, Log>, bounced: Option<NodeId>) -> bool {
        let before = self.partitions.clone();
        let changed = self.elect(bounced);
        let alive = |id: &NodeId| self.alive.contains_key(id);
        for (old, new) in before.iter().zip(&self.partitions) {
            if old.leader.is_some() && new.leader.is_some() && old.leader != new.leader {
                ctx.probe(probe::PARTITION_FAILOVER);
            }
            if !old.isr.iter().any(alive) && !self.alive.is_empty() {
                ctx.probe(probe::ISR_ALL_DOWN);
            }
        }
        changed
    }

    /// Elects a leader for every partition whose leader is not alive (or is
    /// `bounced`: restarted, so its volatile leader state is gone). Returns
    /// whether anything changed.
    fn elect(&mut self, bounced: Option<NodeId>) -> bool {
        let unclean = self.config.bugs.contains(&LogBug::UncleanElection);
        let alive: BTreeSet<NodeId> = self.alive.keys().copied().collect();
        let mut changed = false;
        for state in &mut self.partitions {
            let healthy = state.leader.is_some_and(|l| alive.contains(&l) && Some(l) != bounced);
            if healthy {
                continue;
            }
            let live_isr: Vec<NodeId> = state.isr.iter().copied().filter(|id| alive.contains(id)).collect();
            // Prefer a replica other than the one that just restarted; it is still eligible.
            let mut candidates: Vec<NodeId> =
                live_isr.iter().copied().filter(|&id| Some(id) != bounced).collect();
            candidates.extend(live_isr.iter().copied().filter(|&id| Some(id) == bounced));
            let (leader, isr) = match candidates.first() {
                Some(&leader) => (Some(leader), live_isr),
                // Unclean: any live replica, though it may lack acknowledged records.
                None if unclean && !alive.is_empty() => {
                    let leader = *alive.iter().next().expect("a live broker");
                    (Some(leader), vec![leader])
                }
                // The last in-sync replicas stay in the set: one of them must come back.
                None => (None, state.isr.clone()),
            };
            // A restarted leader re-elected still gets a new epoch: nothing of its old term survives.
            let rebooted = bounced.is_some() && state.leader == bounced;
            if leader == state.leader && isr == state.isr && !rebooted {
                continue;
            }
            state.epoch += 1;
            state.version += 1;
            state.leader = leader;
            state.isr = isr;
            changed = true;
        }
        changed
    }

    /// The controller's word as it stands, stamped with the incarnations it knows.
    pub fn metadata(&self) -> Msg {
        Msg::Metadata { partitions: self.partitions.clone(), incarnations: self.incarnations.clone() }
    }

    fn broadcast(&self, ctx: &mut Context<'_, Log>) {
        ctx.broadcast(self.metadata());
    }

    /// A broker's heartbeat: it is alive; if it restarted (a new
    /// incarnation), its leaderships move.
    pub fn on_broker_heartbeat(&mut self, ctx: &mut Context<'_, Log>, from: NodeId, incarnation: u64) {
        self.alive.insert(from, ctx.clock());
        let index = from.index().wrapping_sub(1);
        let restarted = self.incarnations.get(index).is_some_and(|&known| incarnation > known);
        if restarted {
            self.incarnations[index] = incarnation;
        }
        // A partition left without a leader may now have one; a restarted leader is replaced.
        let changed = self.elect_probed(ctx, restarted.then_some(from));
        if changed || restarted {
            self.persist(ctx);
        }
        if changed {
            self.broadcast(ctx);
        }
        ctx.send(from, self.metadata());
    }

    /// A leader's proposed in-sync set: accepted only against the current state.
    pub fn on_alter_isr(
        &mut self,
        ctx: &mut Context<'_, Log>,
        from: NodeId,
        p: usize,
        version: u64,
        isr: Vec<NodeId>,
    ) {
        let Some(state) = self.partitions.get_mut(p) else { return };
        if state.leader == Some(from) && state.version == version && isr.contains(&from) {
            state.isr = isr;
            state.version += 1;
            self.persist(ctx);
        }
        ctx.send(from, self.metadata());
    }

    /// A member joins or renews; a new member starts a new generation.
    pub fn on_join(&mut self, ctx: &mut Context<'_, Log>, from: NodeId, member: u64) {
        if self.members.insert(member, (from, ctx.clock())).is_none() {
            self.group.generation += 1;
            self.persist(ctx);
        }
        self.assign(ctx, from, member);
    }

    /// A member's heartbeat: renew it and tell it its partitions.
    pub fn on_heartbeat(&mut self, ctx: &mut Context<'_, Log>, from: NodeId, member: u64) {
        match self.members.get_mut(&member) {
            Some(entry) => {
                entry.1 = ctx.clock();
                self.assign(ctx, from, member);
            }
            None => ctx.send(from, Msg::NotMember { member }),
        }
    }

    /// Partition `p` belongs to member number `p mod members`, in member order.
    fn owner(&self, p: usize) -> Option<u64> {
        let members: Vec<u64> = self.members.keys().copied().collect();
        (!members.is_empty()).then(|| members[p % members.len()])
    }

    fn assign(&self, ctx: &mut Context<'_, Log>, to: NodeId, member: u64) {
        let partitions = (0..self.partitions.len())
            .filter(|&p| self.owner(p) == Some(member))
            .map(|p| (p as u32, self.group.committed[p]))
            .collect();
        ctx.send(to, Msg::Assignment { member, generation: self.group.generation, partitions });
    }

    /// A commit: accepted from the partition's owner in the current generation, never backwards.
    pub fn on_commit(
        &mut self,
        ctx: &mut Context<'_, Log>,
        member: u64,
        generation: u64,
        p: usize,
        offset: u64,
    ) {
        let current = generation == self.group.generation && self.owner(p) == Some(member);
        if current && self.group.committed.get(p).is_some_and(|&c| offset > c) {
            self.group.committed[p] = offset;
            self.persist(ctx);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn controller(bugs: Vec<LogBug>, isr: &[u32], alive: &[u32]) -> Controller {
        let mut c = Controller::new(Log { partitions: 1, bugs, ..Log::default() });
        let isr: Vec<NodeId> = isr.iter().map(|&i| NodeId(i)).collect();
        c.partitions = vec![PartitionState { epoch: 1, version: 1, leader: Some(isr[0]), isr }];
        c.alive = alive.iter().map(|&i| (NodeId(i), Time::ZERO)).collect();
        c
    }

    #[test]
    fn a_dead_leader_is_replaced_from_the_live_isr() {
        let mut c = controller(Vec::new(), &[1, 2], &[2, 3]);
        assert!(c.elect(None));
        let state = &c.partitions[0];
        assert_eq!((state.epoch, state.version, state.leader), (2, 2, Some(NodeId(2))));
        assert_eq!(state.isr, vec![NodeId(2)]);
    }

    #[test]
    fn with_no_live_isr_the_partition_waits_for_its_last_replica() {
        let mut c = controller(Vec::new(), &[1], &[2, 3]);
        assert!(c.elect(None));
        assert_eq!(c.partitions[0].leader, None);
        assert_eq!(c.partitions[0].isr, vec![NodeId(1)]);
        assert!(!c.elect(None), "nothing changes until n1 is back");
        c.alive.insert(NodeId(1), Time::ZERO);
        assert!(c.elect(None));
        assert_eq!(c.partitions[0].leader, Some(NodeId(1)));
    }

    #[test]
    fn unclean_election_takes_any_live_replica() {
        let mut c = controller(vec![LogBug::UncleanElection], &[1], &[2, 3]);
        assert!(c.elect(None));
        assert_eq!(c.partitions[0].leader, Some(NodeId(2)));
        assert_eq!(c.partitions[0].isr, vec![NodeId(2)]);
    }

    #[test]
    fn a_restarted_leader_is_replaced_but_stays_eligible() {
        let mut c = controller(Vec::new(), &[1, 2], &[1, 2]);
        assert!(c.elect(Some(NodeId(1))));
        assert_eq!(c.partitions[0].leader, Some(NodeId(2)));
        assert_eq!(c.partitions[0].isr, vec![NodeId(1), NodeId(2)]);
        let mut alone = controller(Vec::new(), &[1], &[1, 2]);
        assert!(alone.elect(Some(NodeId(1))));
        assert_eq!((alone.partitions[0].leader, alone.partitions[0].epoch), (Some(NodeId(1)), 2));
    }
}
