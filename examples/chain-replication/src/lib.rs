//! Chain replication (van Renesse and Schneider, OSDI 2004) on Orrery,
//! written against Orrery's public API only, as a protocol in your own crate
//! would be.
//!
//! # The algorithm
//!
//! Servers `n0 .. n(k-1)` form a fixed chain: `n0` is the head, `n(k-1)` the
//! tail, and each server forwards to the next one (its successor).
//!
//! 1. A client sends a write to the head. The head drops it if it already
//!    took a request at least as new from that client (a retry, or a stale
//!    duplicate); otherwise it gives the write the next sequence number.
//! 2. Every server, head included, applies updates strictly in sequence
//!    order, and for each one first appends it to its log in storage and
//!    syncs, then applies it to its registers, then forwards it.
//! 3. A server acknowledges to its predecessor the highest sequence it has
//!    applied, on every forward it receives, new or duplicate.
//! 4. On a timer each server resends, from its log, the updates its
//!    successor has not acknowledged: messages are lost and duplicated, and
//!    servers crash, so sending once is not enough.
//! 5. The tail, on applying an update, replies to the client that wrote it.
//! 6. Reads go to the tail, which answers from its registers.
//! 7. A client retries the same request id on a timer, writes to the head and
//!    to the tail (the tail answers a retry of a write it has applied, in
//!    case its first reply was lost), reads to the tail.
//!
//! A crash drops the server object; a restart rebuilds the log, the
//! registers and the table of each client's newest request from storage
//! alone. There is no reconfiguration: while a server is down the chain
//! stalls and operations time out (they are recorded as `info`), which costs
//! availability and never safety.
//!
//! # Invariants
//!
//! - **Prefix**: each server's log is a prefix of its predecessor's. A server
//!   only ever learns updates from its predecessor, which logged and synced
//!   them first, and nobody forgets a synced entry. Checked as the run goes
//!   (invariant `chain-prefix`).
//! - **Monotone**: a server's applied sequence never goes back, across
//!   crashes too, because it is the length of its synced log.
//! - **Once**: an update is applied once per server: servers apply only the
//!   next sequence number, and the head assigns a number to a
//!   (client, request) at most once, since it rebuilds its table of each
//!   client's newest request from its log.
//!
//! Why reads at the tail are linearizable: the tail's log is one total
//! order of writes, and by the prefix invariant every write any client has
//! been told about is in it (the tail itself sent the reply). Put each write
//! at the instant the tail applies it — after the client sent it, before the
//! client hears back — and each read at the instant the tail answers it. The
//! tail's state only grows along that order, so a read returns the newest
//! write placed before it, which is what a register does.
//!
//! # The planted bug
//!
//! `read-at-head`: clients send every other read to the head, which answers
//! from its own registers. The head applies a write before the tail does, so
//! a read at the head can return a write that a later read at the tail does
//! not show yet: the register goes back in time, and the linearizability
//! check fails. (Reads served *only* by the head would be linearizable: the
//! head is a serialisation point too. It is the mix that breaks.)
//!
//! # Coverage probes
//!
//! The rare paths (a retried write answered by the tail, updates resent, a
//! log replayed at restart, a client retry) are marked with `ctx.probe` and
//! declared in [`probe::ALL`]; `sweep` says how many seeds reached each.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sim_core::NemesisKind::{Bridge, Crash, Isolate, OneWay, Pause, Slow, Split};
use sim_core::{
    Catalogued, Client, Cluster, ClusterView, Context, Duration, Invalid, Invariant, ModelKind, NemesisKind,
    Node, NodeId, Op, OpId, Outcome, Protocol, RegisterMix, RegisterWorkload, Setup, SimRng, TimerId, Value,
    Workload, WorkloadSpec,
};

/// The protocol's settings: the `[protocol]` table of a scenario.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Chain {
    /// How often a server resends what its successor has not acknowledged.
    pub retransmit: Duration,
    /// How long a client waits for an answer before it resends its request.
    pub retry: Duration,
    /// Planted bugs, off by default.
    pub bugs: Vec<ChainBug>,
}

impl Default for Chain {
    fn default() -> Chain {
        Chain { retransmit: Duration::from_millis(20), retry: Duration::from_millis(50), bugs: Vec::new() }
    }
}

sim_core::planted_bugs! {
    /// The chain's planted bugs.
    pub enum ChainBug {
        /// Every other read goes to the head, which answers from its own state.
        ReadAtHead = "read-at-head": "the head answers reads with writes the tail has not applied yet",
    }
}

/// Most updates one forward carries, so a restarted successor catches up in
/// bounded steps.
const FORWARD_MAX: usize = 64;

/// Reads and writes over a few registers: Jepsen's register workload
/// without compare-and-set, which a chain could do at the head but this one does
/// not. A `cas` weight in `mix` is an unknown field, rejected at load time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChainWorkload {
    /// How many registers (keys `0..keys`).
    pub keys: u64,
    /// Values are drawn from `0..values`.
    pub values: u64,
    /// Relative weights of reads and writes.
    pub mix: ReadWrite,
}

/// Relative weights of reads and writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadWrite {
    /// Weight of reads.
    pub read: u32,
    /// Weight of writes.
    pub write: u32,
}

impl Default for ChainWorkload {
    fn default() -> ChainWorkload {
        ChainWorkload { keys: 3, values: 5, mix: ReadWrite { read: 1, write: 1 } }
    }
}

impl ChainWorkload {
    fn register(&self) -> RegisterWorkload {
        let ReadWrite { read, write } = self.mix;
        RegisterWorkload { keys: self.keys, values: self.values, mix: RegisterMix { read, write, cas: 0 } }
    }
}

impl Workload for ChainWorkload {
    fn next_op(&mut self, client: usize, rng: &mut SimRng) -> Option<Op> {
        self.register().next_op(client, rng)
    }
}

impl WorkloadSpec for ChainWorkload {
    fn validate(&self) -> Result<(), Invalid> {
        WorkloadSpec::validate(&self.register())
    }
}

/// One write, as the head numbered it and every log holds it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Update {
    /// The client that wrote it, to reply to and to deduplicate by.
    pub client: NodeId,
    /// The client's request id.
    pub req: u64,
    /// The register.
    pub key: i64,
    /// The value written.
    pub value: i64,
}

/// Messages between clients and servers, and along the chain.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Msg {
    /// Client to head (and to tail on a retry): write `value` to `key`.
    Write { req: u64, key: i64, value: i64 },
    /// Client to tail: read `key`.
    Read { req: u64, key: i64 },
    /// Server to successor: updates with sequence numbers `first..`.
    Forward { first: u64, updates: Vec<Update> },
    /// Server to predecessor: every update up to `applied` is applied here.
    Ack { applied: u64 },
    /// Tail to client: write `req` is applied at the tail.
    Written { req: u64 },
    /// Tail to client: the answer to read `req`.
    Value { req: u64, value: Option<i64> },
}

/// What a timer brings back.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Timer {
    /// A server resends what its successor has not acknowledged.
    Retransmit,
    /// A client resends request `req` if it is still waiting for it.
    Retry { req: u64 },
}

/// A chain server. Everything but `acked` is a function of its storage.
#[derive(Debug)]
pub struct Server {
    config: Chain,
    id: NodeId,
    servers: usize,
    /// `log[s - 1]` is update `s`; everything in it is synced and applied.
    log: Vec<Update>,
    registers: BTreeMap<i64, i64>,
    /// Each client's newest applied write request.
    newest: BTreeMap<NodeId, u64>,
    /// The highest sequence the successor acknowledged, as far as we know.
    acked: u64,
}

fn log_key(seq: u64) -> String {
    format!("log/{seq:020}")
}

impl Server {
    /// The updates this server has applied, in sequence order.
    pub fn log(&self) -> &[Update] {
        &self.log
    }

    fn is_head(&self) -> bool {
        self.id.index() == 0
    }

    fn is_tail(&self) -> bool {
        self.id.index() + 1 == self.servers
    }

    fn predecessor(&self) -> Option<NodeId> {
        self.id.index().checked_sub(1).map(|i| NodeId(i as u32))
    }

    fn successor(&self) -> Option<NodeId> {
        (!self.is_tail()).then(|| NodeId(self.id.0 + 1))
    }

    fn applied(&self) -> u64 {
        self.log.len() as u64
    }

    /// Logs and syncs `update` as the next sequence number, then applies it.
    fn append(&mut self, ctx: &mut Context<'_, Chain>, update: Update) {
        ctx.storage().put(&log_key(self.applied() + 1), &update);
        ctx.storage().sync();
        self.apply(update);
    }

    fn apply(&mut self, update: Update) {
        self.registers.insert(update.key, update.value);
        self.newest.insert(update.client, update.req);
        self.log.push(update);
    }

    /// After applying updates `first..`: the tail replies to their clients,
    /// any other server forwards them.
    fn pass_on(&self, ctx: &mut Context<'_, Chain>, first: u64) {
        let fresh = &self.log[(first - 1) as usize..];
        match self.successor() {
            None => fresh.iter().for_each(|u| ctx.send(u.client, Msg::Written { req: u.req })),
            Some(next) if !fresh.is_empty() => {
                ctx.send(next, Msg::Forward { first, updates: fresh.to_vec() })
            }
            Some(_) => {}
        }
    }

    fn on_write(&mut self, ctx: &mut Context<'_, Chain>, client: NodeId, update: Update) {
        let newest = self.newest.get(&client).copied().unwrap_or(0);
        if self.is_tail() && update.req == newest {
            // A retry of a write already applied here: the first reply was lost.
            ctx.probe(probe::TAIL_ANSWERS_RETRY);
            ctx.send(client, Msg::Written { req: update.req });
        } else if self.is_head() && update.req > newest {
            let first = self.applied() + 1;
            self.append(ctx, update);
            self.pass_on(ctx, first);
        }
    }

    fn on_forward(&mut self, ctx: &mut Context<'_, Chain>, from: NodeId, first: u64, updates: Vec<Update>) {
        let start = self.applied() + 1;
        for (seq, update) in (first..).zip(updates) {
            if seq == self.applied() + 1 {
                self.append(ctx, update);
            }
        }
        self.pass_on(ctx, start);
        ctx.send(from, Msg::Ack { applied: self.applied() });
    }
}

impl Node<Chain> for Server {
    fn on_start(&mut self, ctx: &mut Context<'_, Chain>) {
        // The log is contiguous from 1 and every entry was synced before it
        // was used, so the first missing (or unreadable) entry ends it.
        while let Ok(Some(update)) = ctx.storage().get::<Update>(&log_key(self.applied() + 1)) {
            self.apply(update);
        }
        if self.applied() > 0 {
            ctx.probe(probe::LOG_REPLAYED);
        }
        ctx.set_timer(self.config.retransmit, Timer::Retransmit);
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Chain>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Write { req, key, value } => {
                self.on_write(ctx, from, Update { client: from, req, key, value })
            }
            Msg::Read { req, key } => {
                let answers =
                    self.is_tail() || (self.is_head() && self.config.bugs.contains(&ChainBug::ReadAtHead));
                if answers {
                    ctx.send(from, Msg::Value { req, value: self.registers.get(&key).copied() });
                }
            }
            Msg::Forward { first, updates } if Some(from) == self.predecessor() => {
                self.on_forward(ctx, from, first, updates);
            }
            Msg::Ack { applied } if Some(from) == self.successor() => self.acked = self.acked.max(applied),
            Msg::Forward { .. } | Msg::Ack { .. } | Msg::Written { .. } | Msg::Value { .. } => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Chain>, _id: TimerId, timer: Timer) {
        if let (Timer::Retransmit, Some(next)) = (&timer, self.successor())
            && self.acked < self.applied()
        {
            ctx.probe(probe::RETRANSMITTED);
            let from = self.acked as usize;
            let updates = self.log[from..self.log.len().min(from + FORWARD_MAX)].to_vec();
            ctx.send(next, Msg::Forward { first: self.acked + 1, updates });
        }
        ctx.set_timer(self.config.retransmit, Timer::Retransmit);
    }
}

/// A request a client is waiting on.
#[derive(Debug)]
struct Pending {
    op: OpId,
    req: u64,
    msg: Msg,
    retry_to: Vec<NodeId>,
    timer: TimerId,
}

/// A chain client: one operation at a time, retried until answered or timed out.
#[derive(Debug)]
pub struct ChainClient {
    config: Chain,
    head: NodeId,
    tail: NodeId,
    next_req: u64,
    reads: u64,
    pending: Option<Pending>,
}

impl ChainClient {
    /// The request for `op`, the server it goes to first and the servers a retry goes to.
    fn request(&mut self, req: u64, op: &Op) -> Option<(Msg, NodeId, Vec<NodeId>)> {
        let Some(Value::Int(key)) = op.key else { return None };
        match (op.f.as_str(), &op.value) {
            ("write", Value::Int(value)) => {
                let retry_to =
                    if self.head == self.tail { vec![self.head] } else { vec![self.head, self.tail] };
                Some((Msg::Write { req, key, value: *value }, self.head, retry_to))
            }
            ("read", _) => {
                self.reads += 1;
                let at_head =
                    self.config.bugs.contains(&ChainBug::ReadAtHead) && self.reads.is_multiple_of(2);
                let to = if at_head { self.head } else { self.tail };
                Some((Msg::Read { req, key }, to, vec![to]))
            }
            _ => None,
        }
    }
}

impl Client<Chain> for ChainClient {
    fn on_invoke(&mut self, ctx: &mut Context<'_, Chain>, op: OpId, operation: Op) {
        self.next_req += 1;
        let req = self.next_req;
        let Some((msg, to, retry_to)) = self.request(req, &operation) else {
            ctx.complete(op, Outcome::Fail(format!("chain cannot perform {:?}", operation.f)));
            return;
        };
        ctx.send(to, msg.clone());
        let timer = ctx.set_timer(self.config.retry, Timer::Retry { req });
        self.pending = Some(Pending { op, req, msg, retry_to, timer });
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Chain>, _from: NodeId, msg: Msg) {
        let Some(pending) = &self.pending else { return };
        let outcome = match (&pending.msg, msg) {
            (Msg::Write { req, value, .. }, Msg::Written { req: answered }) if *req == answered => {
                Outcome::Ok(Value::Int(*value))
            }
            (Msg::Read { req, .. }, Msg::Value { req: answered, value }) if *req == answered => {
                Outcome::Ok(value.into())
            }
            _ => return,
        };
        let pending = self.pending.take().expect("checked above");
        ctx.cancel_timer(pending.timer);
        ctx.complete(pending.op, outcome);
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Chain>, _id: TimerId, timer: Timer) {
        let Timer::Retry { req } = timer else { return };
        let Some(pending) = self.pending.as_mut().filter(|p| p.req == req) else { return };
        ctx.probe(probe::CLIENT_RETRIED);
        pending.retry_to.iter().for_each(|&server| ctx.send(server, pending.msg.clone()));
        pending.timer = ctx.set_timer(self.config.retry, Timer::Retry { req });
    }

    fn on_timeout(&mut self, ctx: &mut Context<'_, Chain>, op: OpId) {
        if let Some(pending) = self.pending.take_if(|p| p.op == op) {
            ctx.cancel_timer(pending.timer);
        }
    }
}

/// The rare paths chain replication marks with `ctx.probe`.
pub mod probe {
    /// The tail got a retry of a write it had applied: the first reply was lost.
    pub const TAIL_ANSWERS_RETRY: &str = "tail-answers-retry";
    /// A server resent updates its successor had not acknowledged.
    pub const RETRANSMITTED: &str = "updates-retransmitted";
    /// A restarted server rebuilt its log from storage.
    pub const LOG_REPLAYED: &str = "restart-replays-log";
    /// A client's request went unanswered and it sent it again.
    pub const CLIENT_RETRIED: &str = "client-retried";

    /// Every probe, with what reaching it means.
    pub const ALL: &[(&str, &str)] = &[
        (TAIL_ANSWERS_RETRY, "the tail got a retry of a write it had applied: the first reply was lost"),
        (RETRANSMITTED, "a server resent updates its successor had not acknowledged"),
        (LOG_REPLAYED, "a restarted server rebuilt its log from storage"),
        (CLIENT_RETRIED, "a client's request went unanswered and it sent it again"),
    ];
}

/// `chain-prefix`: each live server's log is a prefix of the log of the
/// nearest live server before it in the chain.
struct Prefix;

impl Invariant<Chain> for Prefix {
    fn name(&self) -> &str {
        "chain-prefix"
    }

    fn check(&mut self, view: &ClusterView<'_, Chain>) -> Result<(), String> {
        let live: Vec<(NodeId, &Server)> = view.servers().collect();
        for pair in live.windows(2) {
            let ((a, before), (b, after)) = (pair[0], pair[1]);
            let n = after.log.len();
            if n > before.log.len() || (n > 0 && before.log[n - 1] != after.log[n - 1]) {
                return Err(format!("{b} applied {n} updates, not a prefix of {a}'s {}", before.log.len()));
            }
        }
        Ok(())
    }
}

impl Protocol for Chain {
    type Msg = Msg;
    type Timer = Timer;
    type Server = Server;
    type Client = ChainClient;

    fn server(&self, id: NodeId, cluster: &Cluster) -> Server {
        let servers = cluster.servers().len();
        Server {
            config: self.clone(),
            id,
            servers,
            log: Vec::new(),
            registers: BTreeMap::new(),
            newest: BTreeMap::new(),
            acked: 0,
        }
    }

    fn client(&self, _id: NodeId, cluster: &Cluster) -> ChainClient {
        let (head, tail) = (cluster.servers()[0], *cluster.servers().last().expect("at least one server"));
        ChainClient { config: self.clone(), head, tail, next_req: 0, reads: 0, pending: None }
    }

    fn invariants(&self) -> Vec<Box<dyn Invariant<Self>>> {
        vec![Box::new(Prefix)]
    }
}

// Registration: everything a scenario file, a sweep and the command line
// need to know besides the protocol itself.
impl Catalogued for Chain {
    const NAME: &'static str = "chain";
    const SUMMARY: &'static str = "chain replication: writes at the head, reads and replies at the tail";
    type Bug = ChainBug;
    type Workload = ChainWorkload;
    const MODEL: Option<ModelKind> = Some(ModelKind::Register);
    /// Every kind but clock-jump: nothing here reads a clock.
    const FAULTS: &'static [NemesisKind] = &[Crash, Pause, Isolate, Split, Bridge, OneWay, Slow];
    /// The rare paths the code marks with `ctx.probe`: a sweep reports how
    /// many seeds reached each, and which none did.
    const PROBES: &'static [(&'static str, &'static str)] = probe::ALL;

    fn validate(&self, setup: &Setup) -> Result<(), Invalid> {
        let periods = [("protocol.retransmit", self.retransmit), ("protocol.retry", self.retry)];
        if setup.servers == 0 {
            Err(Invalid::new("cluster.servers", "a chain needs at least one server"))
        } else if let Some((field, _)) = periods.into_iter().find(|(_, period)| *period == Duration::ZERO) {
            Err(Invalid::new(field, format!("`{field}` must be longer than 0s: it is a timer's period")))
        } else {
            Ok(())
        }
    }
}
