//! A broker: the replicas of every partition, leading some and following the rest.

use std::collections::BTreeMap;

use sim_core::{Context, NodeId, Time};

use super::message::{Acks, Msg, PartitionState, Record};
use super::{Log, LogBug, probe};

/// A send waiting for the high watermark to pass its offset.
#[derive(Clone, Debug)]
struct Waiting {
    offset: u64,
    client: NodeId,
    req: u64,
}

/// One partition's replica on this broker.
#[derive(Clone, Debug, Default)]
pub struct Replica {
    /// The newest controller state applied (version 0: none since start).
    pub state: PartitionState,
    /// The log, durable up to its end.
    pub log: Vec<Record>,
    /// Records below it are on every in-sync replica.
    pub hw: u64,
    /// (Leader) each follower's log end as its last matching fetch showed.
    follower_end: BTreeMap<NodeId, u64>,
    /// (Leader) when each follower last fetched at the leader's log end.
    caught_up_at: BTreeMap<NodeId, Time>,
    /// (Leader) an in-sync set proposed to the controller, not yet confirmed.
    pending_isr: Option<Vec<NodeId>>,
    /// (Leader) sends with `acks = "all"` awaiting the high watermark.
    waiting: Vec<Waiting>,
    /// (Leader) followers whose fetch found nothing new, answered at the next append.
    parked: Vec<NodeId>,
    /// (Follower) a fetch is outstanding, sent at this time.
    fetching: Option<Time>,
}

impl Replica {
    fn last_epoch(&self) -> u64 {
        self.log.last().map_or(0, |r| r.epoch)
    }

    fn end(&self) -> u64 {
        self.log.len() as u64
    }

    /// The in-sync set, widened by a pending expansion: a follower being
    /// added may be elected before the leader hears it was, so the high
    /// watermark must already wait for it.
    fn isr_maximal(&self) -> Vec<NodeId> {
        let mut isr = self.state.isr.clone();
        for id in self.pending_isr.iter().flatten() {
            if !isr.contains(id) {
                isr.push(*id);
            }
        }
        isr
    }

    /// Where `(producer, seq)` already sits, if it does.
    fn find(&self, producer: u32, seq: u64) -> Option<u64> {
        self.log.iter().rposition(|r| r.producer == producer && r.seq == seq).map(|i| i as u64)
    }
}

/// A broker's volatile state; only its logs are durable.
#[derive(Debug)]
pub struct Broker {
    config: Log,
    /// Every partition's replica, by index.
    pub replicas: Vec<Replica>,
    /// Durable: how many times this broker has started.
    incarnation: u64,
}

fn log_key(partition: usize, offset: u64) -> String {
    format!("log/{partition}/{offset:010}")
}

impl Broker {
    /// A broker to be rebuilt from storage in [`Broker::start`].
    pub fn new(config: Log) -> Broker {
        let replicas = vec![Replica::default(); config.partitions as usize];
        Broker { config, replicas, incarnation: 0 }
    }

    /// How often the broker heartbeats and fetches.
    pub fn tick_every(&self) -> sim_core::Duration {
        self.config.tick
    }

    /// Reloads every log; a torn or missing record ends it (it was never synced,
    /// so never acknowledged nor counted by a leader). Counts one more
    /// incarnation, synced before the first heartbeat announces it.
    pub fn start(&mut self, ctx: &mut Context<'_, Log>) {
        let before = ctx.storage().get::<u64>("incarnation").ok().flatten().unwrap_or(0);
        self.incarnation = before + 1;
        ctx.storage().put("incarnation", &self.incarnation);
        ctx.storage().sync();
        for (p, replica) in self.replicas.iter_mut().enumerate() {
            let keys = ctx.storage().keys(&format!("log/{p}/"));
            for (i, key) in keys.iter().enumerate() {
                match ctx.storage().get::<Record>(key) {
                    Ok(Some(record)) if *key == log_key(p, i as u64) => replica.log.push(record),
                    _ => break,
                }
            }
        }
        self.heartbeat(ctx);
    }

    /// The periodic work: heartbeat, fetch, keep the in-sync set honest.
    pub fn tick(&mut self, ctx: &mut Context<'_, Log>) {
        self.heartbeat(ctx);
        for p in 0..self.replicas.len() {
            match self.replicas[p].state.leader {
                Some(leader) if leader == ctx.id() => self.maintain_isr(ctx, p),
                Some(_) => self.fetch_if_idle(ctx, p),
                None => {}
            }
        }
    }

    fn heartbeat(&self, ctx: &mut Context<'_, Log>) {
        let controller = ctx.servers()[0];
        ctx.send(controller, Msg::BrokerHeartbeat { incarnation: self.incarnation });
    }

    /// Applies the controller's newer word on each partition, if the
    /// controller sent it knowing this incarnation: a word sent before it
    /// heard of a restart may name this broker leader of a term whose
    /// volatile state died in the crash.
    pub fn on_metadata(
        &mut self,
        ctx: &mut Context<'_, Log>,
        from: NodeId,
        partitions: Vec<PartitionState>,
        incarnations: &[u64],
    ) {
        if from != ctx.servers()[0] {
            return;
        }
        let mine = ctx.id().index().wrapping_sub(1);
        if incarnations.get(mine) != Some(&self.incarnation) {
            ctx.probe(probe::STALE_METADATA_IGNORED);
            return;
        }
        for (p, state) in partitions.into_iter().enumerate().take(self.replicas.len()) {
            if state.version > self.replicas[p].state.version {
                self.apply(ctx, p, state);
            }
        }
    }

    fn apply(&mut self, ctx: &mut Context<'_, Log>, p: usize, state: PartitionState) {
        let me = ctx.id();
        let now = ctx.clock();
        let replica = &mut self.replicas[p];
        let new_epoch = state.epoch != replica.state.epoch;
        let leads = state.leader == Some(me);
        replica.state = state;
        replica.pending_isr = None;
        if new_epoch || !leads {
            // Unanswered sends of an old epoch get no reply: their producers retry.
            replica.waiting.clear();
            replica.follower_end.clear();
            replica.parked.clear();
            replica.caught_up_at = replica.state.isr.iter().map(|&id| (id, now)).collect();
            replica.fetching = None;
        }
        if leads {
            self.advance_hw(ctx, p);
        } else {
            self.fetch_if_idle(ctx, p);
        }
    }

    fn fetch_if_idle(&mut self, ctx: &mut Context<'_, Log>, p: usize) {
        let now = ctx.clock();
        let replica = &mut self.replicas[p];
        let Some(leader) = replica.state.leader.filter(|&l| l != ctx.id()) else { return };
        if replica.fetching.is_some_and(|at| now.since(at) < self.config.fetch_timeout) {
            return;
        }
        replica.fetching = Some(now);
        let fetch = Msg::Fetch {
            partition: p as u32,
            epoch: replica.state.epoch,
            offset: replica.end(),
            last_epoch: replica.last_epoch(),
        };
        ctx.send(leader, fetch);
    }

    /// (Leader) a follower's fetch: check its log matches, note its end, send what follows.
    pub fn on_fetch(
        &mut self,
        ctx: &mut Context<'_, Log>,
        from: NodeId,
        p: usize,
        epoch: u64,
        offset: u64,
        last_epoch: u64,
    ) {
        let now = ctx.clock();
        let fetch_max = self.config.fetch_max;
        let Some(replica) = self.replicas.get_mut(p) else { return };
        if replica.state.leader != Some(ctx.id()) || replica.state.epoch != epoch {
            return;
        }
        let matches =
            offset <= replica.end() && (offset == 0 || replica.log[offset as usize - 1].epoch == last_epoch);
        if !matches {
            let to = offset.saturating_sub(1).min(replica.end());
            ctx.send(from, Msg::Diverged { partition: p as u32, epoch, at: offset, last_epoch, to });
            return;
        }
        replica.follower_end.insert(from, offset);
        if offset == replica.end() {
            replica.caught_up_at.insert(from, now);
        }
        self.advance_hw(ctx, p);
        let replica = &mut self.replicas[p];
        if offset == replica.end() {
            // Long poll: nothing new, so answer when there is (or let the follower ask again).
            if !replica.parked.contains(&from) {
                replica.parked.push(from);
            }
        } else {
            self.send_records(ctx, p, from, fetch_max);
        }
        if self.replicas[p].pending_isr.is_none() {
            self.maintain_isr(ctx, p);
        }
    }

    /// (Leader) sends `to` the records after its known log end, and the watermark.
    fn send_records(&self, ctx: &mut Context<'_, Log>, p: usize, to: NodeId, fetch_max: usize) {
        let replica = &self.replicas[p];
        let offset = replica.follower_end.get(&to).copied().unwrap_or(0) as usize;
        let upto = (offset + fetch_max).min(replica.log.len());
        let records = replica.log[offset..upto].to_vec();
        let epoch = replica.state.epoch;
        ctx.send(
            to,
            Msg::FetchReply { partition: p as u32, epoch, from: offset as u64, records, hw: replica.hw },
        );
    }

    /// (Follower) the leader's records: append and sync, then fetch on.
    pub fn on_fetch_reply(
        &mut self,
        ctx: &mut Context<'_, Log>,
        p: usize,
        epoch: u64,
        from: u64,
        records: Vec<Record>,
        hw: u64,
    ) {
        let Some(replica) = self.replicas.get_mut(p) else { return };
        if replica.state.epoch != epoch || replica.state.leader == Some(ctx.id()) || from != replica.end() {
            return;
        }
        let more = !records.is_empty();
        for record in records {
            ctx.storage().put(&log_key(p, replica.end()), &record);
            replica.log.push(record);
        }
        if more {
            ctx.storage().sync();
        }
        replica.hw = replica.hw.max(hw.min(replica.end()));
        replica.fetching = None;
        if more {
            self.fetch_if_idle(ctx, p);
        }
    }

    /// (Follower) its log diverged from the leader's: drop the suffix, sync, fetch again.
    /// (Follower) the leader refused the tail `(end, last epoch)`: drop
    /// what follows `to`, unless the tail is no longer that one. By log
    /// matching an offset and epoch name one record, so the same pair is the
    /// same tail; any other means this answers an older fetch (late, or a
    /// duplicate), and the tail was agreed since: truncating it would drop
    /// a record the leader may already count as committed.
    pub fn on_diverged(
        &mut self,
        ctx: &mut Context<'_, Log>,
        p: usize,
        epoch: u64,
        refused: (u64, u64),
        to: u64,
    ) {
        let Some(replica) = self.replicas.get_mut(p) else { return };
        if replica.state.epoch != epoch || (replica.end(), replica.last_epoch()) != refused {
            return;
        }
        replica.fetching = None;
        if to >= replica.end() {
            return;
        }
        ctx.probe(probe::FOLLOWER_TRUNCATED);
        ctx.storage().delete_from(&format!("log/{p}/"), &log_key(p, to));
        ctx.storage().sync();
        replica.log.truncate(to as usize);
        replica.hw = replica.hw.min(to);
        replica.fetching = None;
        self.fetch_if_idle(ctx, p);
    }

    /// (Leader) a send: recognise a retry, or append and sync; acknowledge per `acks`.
    pub fn on_produce(
        &mut self,
        ctx: &mut Context<'_, Log>,
        (client, req): (NodeId, u64),
        p: usize,
        mut record: Record,
        idempotent: bool,
        acks: Acks,
    ) {
        let ack_early = acks == Acks::Leader || self.config.bugs.contains(&LogBug::AcksLeaderOnly);
        let Some(replica) = self.replicas.get_mut(p).filter(|r| r.state.leader == Some(ctx.id())) else {
            ctx.send(client, Msg::ProduceReply { req, offset: None });
            return;
        };
        let known = if idempotent { replica.find(record.producer, record.seq) } else { None };
        let offset = match known {
            Some(offset) => {
                ctx.probe(probe::DUPLICATE_SUPPRESSED);
                offset
            }
            None => {
                record.epoch = replica.state.epoch;
                let offset = replica.end();
                ctx.storage().put(&log_key(p, offset), &record);
                ctx.storage().sync();
                replica.log.push(record);
                let parked = std::mem::take(&mut replica.parked);
                for follower in parked {
                    self.send_records(ctx, p, follower, self.config.fetch_max);
                }
                offset
            }
        };
        let replica = &mut self.replicas[p];
        if ack_early || offset < replica.hw {
            ctx.send(client, Msg::ProduceReply { req, offset: Some(offset) });
        } else {
            replica.waiting.push(Waiting { offset, client, req });
        }
        self.advance_hw(ctx, p);
    }

    /// (Leader) the high watermark rises to the least log end over the
    /// (maximal) in-sync set; sends below it are acknowledged.
    fn advance_hw(&mut self, ctx: &mut Context<'_, Log>, p: usize) {
        let me = ctx.id();
        let replica = &mut self.replicas[p];
        if replica.state.leader != Some(me) {
            return;
        }
        let end_of = |id: NodeId| {
            if id == me { replica.end() } else { replica.follower_end.get(&id).copied().unwrap_or(0) }
        };
        let least = replica.isr_maximal().into_iter().map(end_of).min().unwrap_or(0);
        replica.hw = replica.hw.max(least.min(replica.end()));
        let hw = replica.hw;
        let (done, rest): (Vec<Waiting>, Vec<Waiting>) =
            replica.waiting.drain(..).partition(|w| w.offset < hw);
        replica.waiting = rest;
        for w in done {
            ctx.send(w.client, Msg::ProduceReply { req: w.req, offset: Some(w.offset) });
        }
    }

    /// (Leader) proposes dropping followers that lag and adding ones that caught up.
    fn maintain_isr(&mut self, ctx: &mut Context<'_, Log>, p: usize) {
        let me = ctx.id();
        let now = ctx.clock();
        let lag_max = self.config.lag_max;
        let replica = &mut self.replicas[p];
        let proposal = match replica.pending_isr.clone() {
            Some(pending) => Some(pending),
            None => {
                let lagging = |id: &NodeId| {
                    *id != me && replica.caught_up_at.get(id).is_none_or(|&at| now.since(at) > lag_max)
                };
                let keep: Vec<NodeId> = replica.state.isr.iter().copied().filter(|id| !lagging(id)).collect();
                let join = replica
                    .follower_end
                    .iter()
                    .filter(|&(id, &end)| !keep.contains(id) && end >= replica.hw && !lagging(id));
                let mut isr = keep.clone();
                isr.extend(join.map(|(id, _)| *id));
                if !isr.contains(&me) {
                    isr.insert(0, me);
                }
                isr.sort();
                (isr != replica.state.isr).then_some(isr)
            }
        };
        let Some(isr) = proposal else { return };
        replica.pending_isr = Some(isr.clone());
        let controller = ctx.servers()[0];
        ctx.send(controller, Msg::AlterIsr { partition: p as u32, version: replica.state.version, isr });
    }

    /// (Leader) a consumer's read: committed records only, below the high watermark.
    pub fn on_consume(
        &mut self,
        ctx: &mut Context<'_, Log>,
        client: NodeId,
        req: u64,
        p: usize,
        offset: u64,
    ) {
        let fetch_max = self.config.fetch_max as u64;
        let reply = match self.replicas.get(p).filter(|r| r.state.leader == Some(ctx.id())) {
            Some(replica) => {
                let upto = replica.hw.min(offset + fetch_max);
                let values = (offset..upto).map(|o| replica.log[o as usize].value).collect();
                Msg::ConsumeReply { req, ok: true, from: offset, values }
            }
            None => Msg::ConsumeReply { req, ok: false, from: offset, values: Vec::new() },
        };
        ctx.send(client, reply);
    }

    /// What this broker believes about every partition, for a client.
    pub fn metadata(&self) -> Vec<PartitionState> {
        self.replicas.iter().map(|r| r.state.clone()).collect()
    }
}
