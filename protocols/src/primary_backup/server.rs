//! The primary-backup server: a backup, a candidate for an epoch, or the primary.

use std::collections::BTreeMap;

use sim_core::{Context, Duration, Node, NodeId, Time, TimerId};

use super::message::{Answer, Command, Msg, Snapshot, Timer, Version};
use super::{Bug, PrimaryBackup, probe};

const PROMISED: &str = "pb/promised";
const ACCEPTED: &str = "pb/accepted";
/// How often a server looks at its clocks (heartbeats, timeouts).
const TICK: Duration = Duration::from_millis(10);

/// A reply held back until its state is on a majority.
#[derive(Debug)]
struct Waiter {
    seq: u64,
    client: NodeId,
    req: u64,
    answer: Answer,
    write: bool,
}

/// What a primary keeps for its epoch.
#[derive(Debug)]
struct Leading {
    epoch: u64,
    since: Time,
    /// Per backup: the highest sequence number it holds in this epoch.
    acked: BTreeMap<NodeId, u64>,
    /// Per backup: when it last acknowledged.
    heard: BTreeMap<NodeId, Time>,
    waiting: Vec<Waiter>,
    heartbeat_at: Time,
}

/// A server's role.
#[derive(Debug)]
enum Role {
    Backup { primary: Option<NodeId> },
    Candidate { epoch: u64, votes: BTreeMap<NodeId, (Version, Snapshot)> },
    Primary(Leading),
}

/// A primary-backup replica.
#[derive(Debug)]
pub struct Server {
    config: PrimaryBackup,
    id: NodeId,
    majority: usize,
    /// Durable: the highest epoch this server has voted for (or led).
    promised: u64,
    /// Durable: the latest state this server holds, and its version.
    version: Version,
    snapshot: Snapshot,
    role: Role,
    /// When a backup or candidate gives up waiting and starts an election.
    deadline: Time,
    last_write_ack: Option<Time>,
}

impl Server {
    /// A fresh replica; its durable state is read in `on_start`.
    pub fn new(config: PrimaryBackup, id: NodeId, majority: usize) -> Server {
        Server {
            config,
            id,
            majority,
            promised: 0,
            version: Version::default(),
            snapshot: Snapshot::default(),
            role: Role::Backup { primary: None },
            deadline: Time::ZERO,
            last_write_ack: None,
        }
    }

    /// The epoch this server leads, if it believes it is primary.
    pub fn primary_epoch(&self) -> Option<u64> {
        match &self.role {
            Role::Primary(leading) => Some(leading.epoch),
            _ => None,
        }
    }

    /// Since when this server has believed it is primary.
    pub fn primary_since(&self) -> Option<Time> {
        match &self.role {
            Role::Primary(leading) => Some(leading.since),
            _ => None,
        }
    }

    /// When this server last acknowledged a write to a client (as primary).
    pub fn last_write_ack(&self) -> Option<Time> {
        self.last_write_ack
    }

    /// The version of the state this server holds.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The highest epoch this server has promised.
    pub fn promised(&self) -> u64 {
        self.promised
    }

    fn fenced(&self) -> bool {
        !self.config.has(Bug::NoFencing)
    }

    fn promise(&mut self, ctx: &mut Context<'_, PrimaryBackup>, epoch: u64) {
        self.promised = epoch;
        ctx.storage().put(PROMISED, &epoch);
        // A vote forgotten in a crash could be cast twice, electing two primaries.
        ctx.storage().sync();
    }

    fn persist(&mut self, ctx: &mut Context<'_, PrimaryBackup>) {
        ctx.storage().put(ACCEPTED, &(self.version, &self.snapshot));
        // Acknowledging state before it is durable would let a crash take it back.
        ctx.storage().sync();
    }

    fn reset_deadline(&mut self, ctx: &mut Context<'_, PrimaryBackup>) {
        let (min, max) = (self.config.election_min.as_nanos(), self.config.election_max.as_nanos());
        self.deadline = ctx.now() + Duration::from_nanos(ctx.rng().between(min, max));
    }

    fn step_down(&mut self, ctx: &mut Context<'_, PrimaryBackup>, primary: Option<NodeId>) {
        // Held replies are dropped, not failed: their requests may still take effect,
        // and clients retry them safely thanks to the session table.
        if let Role::Primary(leading) = &self.role {
            ctx.probe(probe::PRIMARY_STEPS_DOWN);
            if !leading.waiting.is_empty() {
                ctx.probe(probe::HELD_REPLIES_DROPPED);
            }
        }
        self.role = Role::Backup { primary };
        self.reset_deadline(ctx);
    }

    fn on_tick(&mut self, ctx: &mut Context<'_, PrimaryBackup>) {
        let now = ctx.now();
        if let Role::Primary(leading) = &self.role {
            if now >= leading.heartbeat_at {
                self.replicate(ctx);
            }
            if self.fenced() && self.quorum_lost(now) {
                self.step_down(ctx, None);
            } else {
                // Without fencing, a backup silent for too long is written off.
                self.release(ctx);
            }
        } else if now >= self.deadline {
            if self.fenced() { self.start_election(ctx) } else { self.promote(ctx) }
        }
        ctx.set_timer(TICK, Timer::Tick);
    }

    /// Whether a primary has not heard from a majority (itself included) for too long.
    fn quorum_lost(&self, now: Time) -> bool {
        let Role::Primary(leading) = &self.role else { return false };
        let window = self.config.step_down_after;
        let recent = |t: Time| now.since(t) <= window;
        let heard = 1 + leading.heard.values().filter(|&&t| recent(t)).count();
        heard < self.majority && !recent(leading.since)
    }

    fn start_election(&mut self, ctx: &mut Context<'_, PrimaryBackup>) {
        let epoch = self.promised + 1;
        self.promise(ctx, epoch);
        let votes = BTreeMap::from([(self.id, (self.version, self.snapshot.clone()))]);
        self.role = Role::Candidate { epoch, votes };
        self.reset_deadline(ctx);
        ctx.broadcast(Msg::Prepare { epoch });
        self.maybe_win(ctx);
    }

    /// Planted bug `no-fencing`: take over at once, asking nobody.
    fn promote(&mut self, ctx: &mut Context<'_, PrimaryBackup>) {
        let epoch = self.promised + 1;
        self.promise(ctx, epoch);
        let snapshot = self.snapshot.clone();
        self.become_primary(ctx, epoch, snapshot);
    }

    fn maybe_win(&mut self, ctx: &mut Context<'_, PrimaryBackup>) {
        let Role::Candidate { epoch, votes } = &self.role else { return };
        if votes.len() < self.majority {
            return;
        }
        // The newest state among a majority includes every state a majority ever
        // acknowledged, because any two majorities share a server.
        let (_, snapshot) = votes.values().max_by_key(|(version, _)| *version).expect("votes").clone();
        let epoch = *epoch;
        self.become_primary(ctx, epoch, snapshot);
    }

    fn become_primary(&mut self, ctx: &mut Context<'_, PrimaryBackup>, epoch: u64, snapshot: Snapshot) {
        if epoch > 1 {
            ctx.probe(probe::FAILOVER);
        }
        self.version = Version { epoch, seq: 1 };
        self.snapshot = snapshot;
        self.persist(ctx);
        let now = ctx.now();
        self.role = Role::Primary(Leading {
            epoch,
            since: now,
            acked: BTreeMap::new(),
            heard: BTreeMap::new(),
            waiting: Vec::new(),
            heartbeat_at: now,
        });
        self.replicate(ctx);
    }

    /// Sends the current state to every backup (the heartbeat, too).
    fn replicate(&mut self, ctx: &mut Context<'_, PrimaryBackup>) {
        let Role::Primary(leading) = &mut self.role else { return };
        leading.heartbeat_at = ctx.now() + self.config.heartbeat;
        let msg =
            Msg::Replicate { epoch: leading.epoch, version: self.version, snapshot: self.snapshot.clone() };
        ctx.broadcast(msg);
    }

    fn on_prepare(&mut self, ctx: &mut Context<'_, PrimaryBackup>, from: NodeId, epoch: u64) {
        if epoch <= self.promised {
            ctx.send(from, Msg::Nack { promised: self.promised });
            return;
        }
        self.promise(ctx, epoch);
        self.step_down(ctx, None);
        ctx.send(from, Msg::Promise { epoch, version: self.version, snapshot: self.snapshot.clone() });
    }

    fn on_promise(
        &mut self,
        ctx: &mut Context<'_, PrimaryBackup>,
        from: NodeId,
        vote: (u64, Version, Snapshot),
    ) {
        let (epoch, version, snapshot) = vote;
        let Role::Candidate { epoch: mine, votes } = &mut self.role else { return };
        if *mine == epoch {
            votes.insert(from, (version, snapshot));
            self.maybe_win(ctx);
        }
    }

    fn on_replicate(
        &mut self,
        ctx: &mut Context<'_, PrimaryBackup>,
        from: NodeId,
        state: (u64, Version, Snapshot),
    ) {
        let (epoch, version, snapshot) = state;
        if self.fenced() && epoch < self.promised {
            ctx.probe(probe::STALE_PRIMARY_FENCED);
            ctx.send(from, Msg::Nack { promised: self.promised });
            return;
        }
        if !self.fenced() && matches!(self.role, Role::Primary(_)) {
            return; // Planted bug `no-fencing`: a primary never hears that it was replaced.
        }
        if epoch > self.promised {
            self.promise(ctx, epoch);
        }
        self.step_down(ctx, Some(from));
        // Unfenced backups take whatever arrives last; fenced ones only newer states.
        if version > self.version || (!self.fenced() && version != self.version) {
            self.version = version;
            self.snapshot = snapshot;
            self.persist(ctx);
        }
        if self.version.epoch == epoch {
            ctx.send(from, Msg::Ack { epoch, seq: self.version.seq });
        }
    }

    fn on_ack(&mut self, ctx: &mut Context<'_, PrimaryBackup>, from: NodeId, epoch: u64, seq: u64) {
        let Role::Primary(leading) = &mut self.role else { return };
        if leading.epoch != epoch {
            return;
        }
        let held = leading.acked.entry(from).or_default();
        *held = (*held).max(seq);
        leading.heard.insert(from, ctx.now());
        self.release(ctx);
    }

    fn on_nack(&mut self, ctx: &mut Context<'_, PrimaryBackup>, promised: u64) {
        if self.fenced() && promised > self.promised {
            self.promise(ctx, promised);
            self.step_down(ctx, None);
        }
    }

    /// Sends every held reply whose state enough servers now hold: a majority,
    /// or (planted bug `no-fencing`) every backup still believed alive.
    fn release(&mut self, ctx: &mut Context<'_, PrimaryBackup>) {
        let fenced = self.fenced();
        let window = self.config.step_down_after;
        let now = ctx.now();
        let Role::Primary(leading) = &mut self.role else { return };
        let alive = |peer: &NodeId| leading.heard.get(peer).is_some_and(|&t| now.since(t) <= window);
        let mut held: Vec<u64> =
            leading.acked.iter().filter(|(peer, _)| fenced || alive(peer)).map(|(_, &seq)| seq).collect();
        held.push(self.version.seq);
        held.sort_unstable_by(|a, b| b.cmp(a));
        let needed = if fenced { self.majority } else { held.len() };
        let Some(&committed) = held.get(needed - 1) else { return };
        let (ready, waiting): (Vec<Waiter>, Vec<Waiter>) =
            std::mem::take(&mut leading.waiting).into_iter().partition(|w| w.seq <= committed);
        leading.waiting = waiting;
        for waiter in ready {
            self.answer(ctx, waiter);
        }
    }

    fn answer(&mut self, ctx: &mut Context<'_, PrimaryBackup>, waiter: Waiter) {
        if waiter.write && waiter.answer.applied {
            self.last_write_ack = Some(ctx.now());
        }
        ctx.send(waiter.client, Msg::Reply { req: waiter.req, answer: waiter.answer });
    }

    fn on_request(
        &mut self,
        ctx: &mut Context<'_, PrimaryBackup>,
        client: NodeId,
        req: u64,
        op: (i64, Command),
    ) {
        let Role::Primary(_) = self.role else {
            let primary = match self.role {
                Role::Backup { primary } => primary,
                _ => None,
            };
            ctx.send(client, Msg::Redirect { req, primary });
            return;
        };
        let answer = match self.snapshot.sessions.get(&client.0) {
            Some(&(last, _)) if req < last => return, // a stale duplicate
            Some(&(last, answer)) if req == last => {
                ctx.probe(probe::SESSION_REPLAYED);
                answer
            }
            _ => self.apply(client, req, &op),
        };
        // Every request, reads included, gets a new version and waits for a
        // majority to hold it: a deposed primary can then neither lose a write
        // nor serve a stale read.
        self.version.seq += 1;
        self.persist(ctx);
        let write = op.1 != Command::Read;
        let waiter = Waiter { seq: self.version.seq, client, req, answer, write };
        if self.config.has(Bug::AsyncReplication) {
            self.answer(ctx, waiter);
        } else if let Role::Primary(leading) = &mut self.role {
            leading.waiting.push(waiter);
        }
        self.replicate(ctx);
        self.release(ctx);
    }

    fn apply(&mut self, client: NodeId, req: u64, (key, command): &(i64, Command)) -> Answer {
        let registers = &mut self.snapshot.registers;
        let current = registers.get(key).copied();
        let answer = match *command {
            Command::Read => Answer { value: current, applied: true },
            Command::Write(v) => {
                registers.insert(*key, v);
                Answer { value: Some(v), applied: true }
            }
            Command::Cas(from, to) if current == Some(from) => {
                registers.insert(*key, to);
                Answer { value: Some(to), applied: true }
            }
            Command::Cas(..) => Answer { value: current, applied: false },
        };
        self.snapshot.sessions.insert(client.0, (req, answer));
        answer
    }
}

impl Node<PrimaryBackup> for Server {
    fn leadership(&self) -> Option<u64> {
        self.primary_epoch()
    }

    fn on_start(&mut self, ctx: &mut Context<'_, PrimaryBackup>) {
        // Everything here was synced before it was relied on; a missing or torn
        // entry can only be one that was never acknowledged.
        self.promised = ctx.storage().get(PROMISED).ok().flatten().unwrap_or(0);
        if let Ok(Some((version, snapshot))) = ctx.storage().get::<(Version, Snapshot)>(ACCEPTED) {
            self.version = version;
            self.snapshot = snapshot;
        }
        self.reset_deadline(ctx);
        ctx.set_timer(TICK, Timer::Tick);
    }

    fn on_message(&mut self, ctx: &mut Context<'_, PrimaryBackup>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Request { req, key, command } => self.on_request(ctx, from, req, (key, command)),
            Msg::Prepare { epoch } => self.on_prepare(ctx, from, epoch),
            Msg::Promise { epoch, version, snapshot } => {
                self.on_promise(ctx, from, (epoch, version, snapshot))
            }
            Msg::Replicate { epoch, version, snapshot } => {
                self.on_replicate(ctx, from, (epoch, version, snapshot));
            }
            Msg::Ack { epoch, seq } => self.on_ack(ctx, from, epoch, seq),
            Msg::Nack { promised } => self.on_nack(ctx, promised),
            Msg::Reply { .. } | Msg::Redirect { .. } => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, PrimaryBackup>, _id: TimerId, timer: Timer) {
        if timer == Timer::Tick {
            self.on_tick(ctx);
        }
    }
}
