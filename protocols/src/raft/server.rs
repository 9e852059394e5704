//! The Raft server: election, replication, commit, apply, and client requests.

use sim_core::{Cluster, Context, Duration, Node, NodeId, Time, TimerId};

use super::log::{Entry, Log, Meta};
use super::machine::{Answer, Machine};
use super::message::{Cmd, Msg, Timer};
use super::{Raft, RaftBug, ReadMode, probe};
use crate::register::Command;

type Ctx<'a, 'b> = &'a mut Context<'b, Raft>;

/// A server's role in its current term.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Follows whoever leads the term.
    Follower,
    /// Asks for votes.
    Candidate,
    /// Leads the term.
    Leader,
}

/// A read waiting for its read index and leadership confirmation.
#[derive(Clone, Debug)]
struct PendingRead {
    client: NodeId,
    seq: u64,
    key: i64,
    /// The commit index to read at, once the term's no-op is committed.
    index: Option<u64>,
    /// The heartbeat round that must be acknowledged by a majority.
    round: u64,
}

/// What only a leader keeps, reset at each election won. The per-follower
/// values are vectors in the order of `Server::peers`.
#[derive(Clone, Debug, Default)]
struct LeaderState {
    next_index: Vec<u64>,
    match_index: Vec<u64>,
    /// Highest heartbeat round each follower has answered in this term.
    acked_round: Vec<u64>,
    /// Index of this term's first entry: reads wait until it is committed.
    term_start: u64,
    round: u64,
    reads: Vec<PendingRead>,
}

/// A Raft server.
#[derive(Debug)]
pub struct Server {
    config: Raft,
    id: NodeId,
    peers: Vec<NodeId>,
    majority: usize,
    boot: Time,
    /// The term read from storage at a restart (not at the first start).
    restart_term: Option<u64>,
    term: u64,
    voted_for: Option<NodeId>,
    log: Log,
    role: Role,
    leader: Option<NodeId>,
    commit_index: u64,
    last_applied: u64,
    machine: Machine,
    votes: Vec<NodeId>,
    election_timer: Option<TimerId>,
    leading: LeaderState,
    flush_pending: bool,
    /// A buffer reused to find majority values, so replies allocate nothing.
    scratch: Vec<u64>,
}

impl Server {
    /// A fresh server; its state is read from storage in `on_start`.
    pub fn new(config: Raft, id: NodeId, cluster: &Cluster) -> Server {
        Server {
            config,
            id,
            peers: cluster.servers().iter().copied().filter(|&s| s != id).collect(),
            majority: cluster.majority(),
            boot: Time::ZERO,
            restart_term: None,
            term: 0,
            voted_for: None,
            log: Log::default(),
            role: Role::Follower,
            leader: None,
            commit_index: 0,
            last_applied: 0,
            machine: Machine::default(),
            votes: Vec::new(),
            election_timer: None,
            leading: LeaderState::default(),
            flush_pending: false,
            scratch: Vec::new(),
        }
    }

    /// The current term.
    pub fn term(&self) -> u64 {
        self.term
    }

    /// The role in the current term.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The log.
    pub fn log(&self) -> &Log {
        &self.log
    }

    /// Highest index known committed.
    pub fn commit_index(&self) -> u64 {
        self.commit_index
    }

    /// Highest index applied to the state machine.
    pub fn last_applied(&self) -> u64 {
        self.last_applied
    }

    /// The state machine.
    pub fn machine(&self) -> &Machine {
        &self.machine
    }

    /// When this incarnation started: a restart is a new incarnation.
    pub fn boot(&self) -> Time {
        self.boot
    }

    // ----- durability -----

    fn persist_meta(&mut self, ctx: Ctx) {
        Meta { term: self.term, voted_for: self.voted_for }.save(ctx.storage());
        ctx.storage().sync();
    }

    /// Makes appended entries durable before they are acknowledged; the
    /// planted bug defers the sync to a timer instead.
    fn sync_log(&mut self, ctx: Ctx) {
        if !self.config.has(RaftBug::AckBeforeSync) {
            ctx.storage().sync();
        } else if !self.flush_pending {
            self.flush_pending = true;
            ctx.set_timer(self.config.heartbeat, Timer::Flush);
        }
    }

    // ----- roles and timers -----

    fn reset_election_timer(&mut self, ctx: Ctx) {
        if let Some(id) = self.election_timer.take() {
            ctx.cancel_timer(id);
        }
        let (min, max) = (self.config.election_timeout_min, self.config.election_timeout_max);
        let after =
            Duration::from_nanos(ctx.rng().between(min.as_nanos(), max.as_nanos().max(min.as_nanos())));
        self.election_timer = Some(ctx.set_timer(after, Timer::Election));
    }

    /// Adopts a newer term seen in any message, stepping down to follower.
    fn observe_term(&mut self, ctx: Ctx, term: u64) {
        if term <= self.term {
            return;
        }
        self.term = term;
        self.voted_for = None;
        self.persist_meta(ctx);
        self.leader = None;
        if self.role == Role::Leader {
            ctx.probe(probe::LEADER_STEPS_DOWN);
        }
        if self.role != Role::Follower {
            self.become_follower(ctx);
        }
    }

    fn become_follower(&mut self, ctx: Ctx) {
        if !self.leading.reads.is_empty() {
            ctx.probe(probe::READS_ABANDONED);
        }
        self.role = Role::Follower;
        self.votes.clear();
        self.leading = LeaderState::default();
        self.reset_election_timer(ctx);
    }

    fn start_election(&mut self, ctx: Ctx) {
        self.term += 1;
        self.voted_for = Some(self.id);
        self.persist_meta(ctx);
        self.role = Role::Candidate;
        self.leader = None;
        self.votes = vec![self.id];
        self.reset_election_timer(ctx);
        let (last_index, last_term) = (self.log.last_index(), self.log.last_term());
        ctx.broadcast(Msg::RequestVote { term: self.term, last_index, last_term });
        self.maybe_win(ctx);
    }

    fn maybe_win(&mut self, ctx: Ctx) {
        if self.role == Role::Candidate && self.votes.len() >= self.majority {
            self.become_leader(ctx);
        }
    }

    fn become_leader(&mut self, ctx: Ctx) {
        self.role = Role::Leader;
        self.leader = Some(self.id);
        if let Some(id) = self.election_timer.take() {
            ctx.cancel_timer(id);
        }
        let next = self.log.last_index() + 1;
        self.leading = LeaderState {
            next_index: vec![next; self.peers.len()],
            match_index: vec![0; self.peers.len()],
            acked_round: vec![0; self.peers.len()],
            term_start: next,
            ..LeaderState::default()
        };
        // Read-index needs a committed entry of this term to know its commit index.
        if self.config.read_mode == ReadMode::ReadIndex {
            self.log.append(ctx.storage(), Entry { term: self.term, cmd: Cmd::Noop });
            self.sync_log(ctx);
        }
        self.broadcast_append(ctx);
        ctx.set_timer(self.config.heartbeat, Timer::Heartbeat { term: self.term });
        self.advance_commit(ctx);
    }

    // ----- elections -----

    fn on_request_vote(&mut self, ctx: Ctx, from: NodeId, term: u64, last_index: u64, last_term: u64) {
        self.observe_term(ctx, term);
        let up_to_date = (last_term, last_index) >= (self.log.last_term(), self.log.last_index());
        let free = self.voted_for.is_none_or(|v| v == from);
        let granted = term == self.term && free && up_to_date;
        if granted {
            if self.restart_term == Some(term) {
                ctx.probe(probe::VOTE_AFTER_RESTART);
            }
            self.voted_for = Some(from);
            // The planted bug forgets the vote at the next crash.
            if !self.config.has(RaftBug::VoteWithoutPersist) {
                self.persist_meta(ctx);
            }
            self.reset_election_timer(ctx);
        }
        ctx.send(from, Msg::Vote { term: self.term, granted });
    }

    fn on_vote(&mut self, ctx: Ctx, from: NodeId, term: u64, granted: bool) {
        self.observe_term(ctx, term);
        if granted && term == self.term && self.role == Role::Candidate && !self.votes.contains(&from) {
            self.votes.push(from);
            self.maybe_win(ctx);
        }
    }

    // ----- replication: follower side -----

    #[allow(clippy::too_many_arguments)]
    fn on_append(
        &mut self,
        ctx: Ctx,
        from: NodeId,
        term: u64,
        prev: (u64, u64),
        entries: Vec<Entry>,
        commit: u64,
        round: u64,
    ) {
        self.observe_term(ctx, term);
        let reply =
            |success, match_index, hint, term| Msg::AppendReply { term, success, match_index, hint, round };
        if term < self.term {
            ctx.send(from, reply(false, 0, 0, self.term));
            return;
        }
        if self.role != Role::Follower {
            self.become_follower(ctx);
        } else {
            self.reset_election_timer(ctx);
        }
        self.leader = Some(from);
        let (prev_index, prev_term) = prev;
        match self.log.term_at(prev_index) {
            None => ctx.send(from, reply(false, 0, self.log.last_index() + 1, self.term)),
            Some(t) if t != prev_term => {
                let hint = self.log.term_start(prev_index).max(self.commit_index + 1).min(prev_index);
                ctx.send(from, reply(false, 0, hint, self.term));
            }
            Some(_) => {
                let match_index = self.accept(ctx, prev_index, entries);
                self.commit_to(ctx, commit.min(match_index));
                ctx.send(from, reply(true, match_index, 0, self.term));
            }
        }
    }

    /// Appends `entries` after `prev_index`, dropping a conflicting suffix but
    /// never a matching one (a stale or duplicated message must not shorten
    /// the log); syncs; returns the index the log now matches the leader to.
    fn accept(&mut self, ctx: Ctx, prev_index: u64, entries: Vec<Entry>) -> u64 {
        let mut index = prev_index;
        let mut changed = false;
        for entry in entries {
            index += 1;
            match self.log.term_at(index) {
                Some(t) if t == entry.term => continue,
                Some(_) => {
                    ctx.probe(probe::LOG_TRUNCATED);
                    self.log.truncate_from(ctx.storage(), index);
                }
                None => {}
            }
            self.log.append(ctx.storage(), entry);
            changed = true;
        }
        if changed {
            self.sync_log(ctx);
        }
        index
    }

    // ----- replication: leader side -----

    fn broadcast_append(&mut self, ctx: Ctx) {
        for peer in 0..self.peers.len() {
            self.send_append(ctx, peer);
        }
    }

    /// The position of server `id` in `peers`.
    fn peer(&self, id: NodeId) -> usize {
        self.peers.iter().position(|&p| p == id).expect("only peers answer appends")
    }

    /// Sends peer number `peer` what follows its next index, and optimistically
    /// assumes it arrives (a loss shows up as a rejected heartbeat, which rewinds).
    fn send_append(&mut self, ctx: Ctx, peer: usize) {
        let next = self.leading.next_index[peer];
        let prev_index = next - 1;
        let prev_term = self.log.term_at(prev_index).expect("next index is within the leader's log");
        let entries = self.log.slice(next, self.config.batch_max);
        self.leading.next_index[peer] = next + entries.len() as u64;
        let (term, commit, round) = (self.term, self.commit_index, self.leading.round);
        ctx.send(self.peers[peer], Msg::Append { term, prev_index, prev_term, entries, commit, round });
    }

    #[allow(clippy::too_many_arguments)]
    fn on_append_reply(
        &mut self,
        ctx: Ctx,
        from: NodeId,
        term: u64,
        success: bool,
        match_index: u64,
        hint: u64,
        round: u64,
    ) {
        self.observe_term(ctx, term);
        if self.role != Role::Leader || term != self.term {
            return;
        }
        let peer = self.peer(from);
        let leading = &mut self.leading;
        leading.acked_round[peer] = leading.acked_round[peer].max(round);
        let matched = leading.match_index[peer];
        if success {
            leading.match_index[peer] = matched.max(match_index);
            leading.next_index[peer] = leading.next_index[peer].max(matched.max(match_index) + 1);
            // Every change to what the majority holds (a follower's match
            // index, the leader's own log) is followed by this call, so an
            // unchanged match index cannot commit anything new.
            if match_index > matched {
                self.advance_commit(ctx);
            }
        } else {
            leading.next_index[peer] = leading.next_index[peer].min(hint).max(matched + 1);
            self.send_append(ctx, peer);
        }
        self.serve_reads(ctx);
    }

    /// Commits the highest index a majority holds, if it is from this term
    /// (the planted `figure-8` bug drops that condition).
    fn advance_commit(&mut self, ctx: Ctx) {
        let mut held = std::mem::take(&mut self.scratch);
        held.extend(self.leading.match_index.iter().copied().chain([self.log.last_index()]));
        let majority_holds = majority_value(&mut held, self.majority);
        self.scratch = held;
        let current = self.log.term_at(majority_holds) == Some(self.term);
        if majority_holds > self.commit_index && (current || self.config.has(RaftBug::Figure8)) {
            self.commit_to(ctx, majority_holds);
        }
    }

    fn commit_to(&mut self, ctx: Ctx, index: u64) {
        if index <= self.commit_index {
            return;
        }
        let earlier = self.log.term_at(self.commit_index + 1).is_some_and(|t| t < self.term);
        if self.role == Role::Leader && earlier {
            ctx.probe(probe::EARLIER_TERM_COMMITTED);
        }
        self.commit_index = index;
        self.apply(ctx);
        if self.role == Role::Leader {
            self.assign_read_indexes(ctx);
            self.serve_reads(ctx);
        }
    }

    fn apply(&mut self, ctx: Ctx) {
        let last = self.commit_index.min(self.log.last_index());
        while self.last_applied < last {
            self.last_applied += 1;
            let cmd = &self.log.get(self.last_applied).expect("applied entries exist").cmd;
            let answer = self.machine.apply(cmd);
            if let (Some((client, seq, answer)), Role::Leader) = (answer, self.role) {
                ctx.send(client, Msg::Reply { seq, answer });
            }
        }
    }

    // ----- clients -----

    fn on_request(&mut self, ctx: Ctx, client: NodeId, seq: u64, key: i64, command: Command) {
        if let Some(answer) = self.machine.cached(client, seq) {
            ctx.send(client, Msg::Reply { seq, answer });
            return;
        }
        if self.role != Role::Leader {
            ctx.send(client, Msg::NotLeader { seq, hint: self.leader });
            return;
        }
        if command == Command::Read {
            if self.config.has(RaftBug::StaleRead) {
                ctx.send(client, Msg::Reply { seq, answer: Answer::Read(self.machine.value(key)) });
                return;
            }
            if self.config.read_mode == ReadMode::ReadIndex {
                self.start_read(ctx, client, seq, key);
                return;
            }
        }
        let entry = Entry { term: self.term, cmd: Cmd::Client { client, seq, key, command } };
        self.log.append(ctx.storage(), entry);
        self.sync_log(ctx);
        self.broadcast_append(ctx);
        self.advance_commit(ctx);
    }

    fn start_read(&mut self, ctx: Ctx, client: NodeId, seq: u64, key: i64) {
        self.leading.reads.push(PendingRead { client, seq, key, index: None, round: 0 });
        self.assign_read_indexes(ctx);
    }

    /// Once this term's no-op is committed, the commit index covers every
    /// write acknowledged before; waiting reads take it as their read index
    /// and a fresh heartbeat round, sent now, must confirm leadership after it.
    fn assign_read_indexes(&mut self, ctx: Ctx) {
        let waiting = self.leading.reads.iter().any(|r| r.index.is_none());
        if !waiting || self.commit_index < self.leading.term_start {
            return;
        }
        self.leading.round += 1;
        let (index, round) = (self.commit_index, self.leading.round);
        for read in self.leading.reads.iter_mut().filter(|r| r.index.is_none()) {
            read.index = Some(index);
            read.round = round;
        }
        self.broadcast_append(ctx);
        self.serve_reads(ctx);
    }

    fn confirmed_round(&mut self) -> u64 {
        let mut rounds = std::mem::take(&mut self.scratch);
        rounds.extend(self.leading.acked_round.iter().copied().chain([self.leading.round]));
        let confirmed = majority_value(&mut rounds, self.majority);
        self.scratch = rounds;
        confirmed
    }

    fn serve_reads(&mut self, ctx: Ctx) {
        let applied = self.last_applied;
        // The ready reads are a prefix (below): if the first has not been
        // applied, none is ready, and no round needs confirming.
        let Some(first) = self.leading.reads.first() else { return };
        if first.index.is_none_or(|i| i > applied) {
            return;
        }
        let confirmed = self.confirmed_round();
        let ready = |r: &PendingRead| r.index.is_some_and(|i| i <= applied) && r.round <= confirmed;
        // Reads get their index and round in arrival order from values that
        // only grow, and unassigned ones are a suffix: the ready ones are a prefix.
        let count = self.leading.reads.iter().take_while(|r| ready(r)).count();
        debug_assert!(self.leading.reads[count..].iter().all(|r| !ready(r)), "ready reads are a prefix");
        if count == 0 {
            return;
        }
        for read in self.leading.reads.drain(..count) {
            let answer = Answer::Read(self.machine.value(read.key));
            ctx.send(read.client, Msg::Reply { seq: read.seq, answer });
        }
    }

    // ----- restart -----

    fn recover(&mut self, ctx: Ctx) {
        let (log, repaired) = Log::load(ctx.storage());
        let meta = Meta::load(ctx.storage(), self.id, &log);
        self.log = log;
        self.term = meta.term;
        self.voted_for = meta.voted_for;
        if self.boot > Time::ZERO {
            self.restart_term = Some(self.term);
        }
        if repaired {
            ctx.probe(probe::TORN_LOG_REPAIRED);
            ctx.storage().sync();
        }
    }
}

/// The `majority`-th largest of `values` (a value at least `majority` of
/// them reach); empties `values`, so the caller can reuse its buffer.
fn majority_value(values: &mut Vec<u64>, majority: usize) -> u64 {
    values.sort_unstable_by(|a, b| b.cmp(a));
    let value = values[majority - 1];
    values.clear();
    value
}

impl Node<Raft> for Server {
    fn on_start(&mut self, ctx: &mut Context<'_, Raft>) {
        self.boot = ctx.now();
        self.recover(ctx);
        self.reset_election_timer(ctx);
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Raft>, from: NodeId, msg: Msg) {
        match msg {
            Msg::RequestVote { term, last_index, last_term } => {
                self.on_request_vote(ctx, from, term, last_index, last_term)
            }
            Msg::Vote { term, granted } => self.on_vote(ctx, from, term, granted),
            Msg::Append { term, prev_index, prev_term, entries, commit, round } => {
                self.on_append(ctx, from, term, (prev_index, prev_term), entries, commit, round)
            }
            Msg::AppendReply { term, success, match_index, hint, round } => {
                self.on_append_reply(ctx, from, term, success, match_index, hint, round)
            }
            Msg::Request { seq, key, command } => self.on_request(ctx, from, seq, key, command),
            Msg::Reply { .. } | Msg::NotLeader { .. } => {}
        }
    }

    fn leadership(&self) -> Option<u64> {
        (self.role == Role::Leader).then_some(self.term)
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Raft>, id: TimerId, timer: Timer) {
        match timer {
            Timer::Election if self.election_timer == Some(id) => {
                self.election_timer = None;
                if self.role != Role::Leader {
                    self.start_election(ctx);
                }
            }
            Timer::Heartbeat { term } if term == self.term && self.role == Role::Leader => {
                self.broadcast_append(ctx);
                ctx.set_timer(self.config.heartbeat, Timer::Heartbeat { term });
            }
            Timer::Flush => {
                self.flush_pending = false;
                ctx.storage().sync();
            }
            Timer::Election | Timer::Heartbeat { .. } | Timer::Retry { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::majority_value;

    #[test]
    fn majority_value_is_the_sorted_lists_entry() {
        let lists: [&[u64]; 5] =
            [&[3, 1, 4, 1, 5], &[0, 0, 0], &[7], &[2, 9, 9, 2, 2, 9, 1], &[5, 4, 3, 2, 1]];
        for list in lists {
            let mut sorted = list.to_vec();
            sorted.sort_unstable_by(|a, b| b.cmp(a));
            for majority in 1..=list.len() {
                let mut values = list.to_vec();
                assert_eq!(majority_value(&mut values, majority), sorted[majority - 1], "list={list:?}");
                assert!(values.is_empty(), "the buffer comes back empty");
            }
        }
    }
}
