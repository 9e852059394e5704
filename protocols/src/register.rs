//! A single-node register store: the smallest complete protocol.
//!
//! One server holds a map of integer registers; clients send it reads, writes
//! and compare-and-sets and wait for the reply. There is no replication, so
//! there is nothing to disagree about: every history it produces is
//! linearizable, as long as the server is up. It is the example in the
//! crate docs, the workhorse of the engine's tests, and the baseline against
//! which the replicated protocols are compared.
//!
//! With `durable = true` the server writes each change to storage and syncs
//! before replying, so acknowledged writes survive a crash. With the planted
//! bug `skip-sync` it forgets to sync: acknowledged writes vanish at
//! the next crash, which the linearizability checker then catches.
//!
//! The network may deliver a request twice, and a copy may arrive long after
//! the original. The server therefore keeps one session per client: the
//! sequence number of the client's latest request and the reply it got.
//! A copy of that request gets the same reply again (so a duplicate
//! compare-and-set cannot overtake the real answer with a different one),
//! and a copy of an older request is dropped (so a late write cannot land
//! over a newer one). Clients send one request at a time with rising
//! sequence numbers, so one session per client is enough. With `durable`,
//! a session is saved and synced together with the change it records, so a
//! duplicate that arrives after a restart is still recognised.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sim_core::{Client, Cluster, Context, Node, NodeId, Op, OpId, Outcome, Protocol, TimerId, Value};

/// The register protocol's settings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Register {
    /// Persist every change before replying.
    #[serde(default)]
    pub durable: bool,
    /// Planted bugs, off by default.
    #[serde(default)]
    pub bugs: Vec<RegisterBug>,
}

sim_core::planted_bugs! {
    /// The register's planted bugs.
    pub enum RegisterBug {
        /// Persist without syncing: acknowledged writes vanish at a crash.
        SkipSync = "skip-sync": "persists without syncing: acknowledged writes vanish at a crash",
    }
}

/// The rare paths the register marks with `ctx.probe`.
pub mod probe {
    /// A request the server already ran came again and got its remembered reply.
    pub const DEDUP_HIT: &str = "dedup-cache-hit";
    /// A request older than the client's latest came late and was dropped.
    pub const STALE_REQUEST: &str = "stale-request-ignored";
    /// A restarted server found registers in its storage.
    pub const RECOVERED: &str = "restart-recovered-registers";

    /// Every probe, with what reaching it means.
    pub const ALL: &[(&str, &str)] = &[
        (DEDUP_HIT, "a request ran before came again (a duplicate) and got its remembered reply"),
        (STALE_REQUEST, "a request older than the client's latest arrived late and was dropped"),
        (RECOVERED, "a restarted server read registers back from storage (skip-sync loses them here)"),
    ];
}

/// A register command.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Command {
    /// Read the register.
    Read,
    /// Overwrite the register.
    Write(i64),
    /// Set to `.1` if it holds `.0`.
    Cas(i64, i64),
}

impl std::fmt::Display for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Read => write!(f, "read"),
            Command::Write(v) => write!(f, "write {v}"),
            Command::Cas(from, to) => write!(f, "cas {from}->{to}"),
        }
    }
}

/// A register's value for people: the number, or "nil" if never written.
pub fn show_value(value: Option<i64>) -> String {
    value.map_or("nil".into(), |v| v.to_string())
}

impl Command {
    /// The command for a workload operation, if it is one this protocol understands.
    pub fn from_op(op: &Op) -> Option<Command> {
        match (op.f.as_str(), &op.value) {
            ("read", _) => Some(Command::Read),
            ("write", Value::Int(v)) => Some(Command::Write(*v)),
            ("cas", Value::List(pair)) => match pair.as_slice() {
                [Value::Int(from), Value::Int(to)] => Some(Command::Cas(*from, *to)),
                _ => None,
            },
            _ => None,
        }
    }
}

/// Messages between clients and the server.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Msg {
    /// A client asks for `command` on register `key`.
    Request {
        /// Client-chosen request id, echoed in the reply.
        req: u64,
        /// The register.
        key: i64,
        /// What to do.
        command: Command,
    },
    /// The server's answer.
    Reply {
        /// The request it answers.
        req: u64,
        /// The register's value after a read, `None` if never written.
        value: Option<i64>,
        /// Whether the command took effect (false only for a failed cas).
        applied: bool,
    },
}

/// What the server last did for one client: the request's sequence number
/// and the reply it sent, to send again if the request comes back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct Session {
    req: u64,
    value: Option<i64>,
    applied: bool,
}

/// The register server.
#[derive(Debug, Default)]
pub struct Server {
    config: Register,
    registers: BTreeMap<i64, i64>,
    sessions: BTreeMap<NodeId, Session>,
}

impl Server {
    /// The current value of register `key`.
    pub fn value(&self, key: i64) -> Option<i64> {
        self.registers.get(&key).copied()
    }

    /// Runs a request once: a new one is applied and remembered, the latest
    /// one again gets its remembered reply, an older one gets nothing.
    fn execute(
        &mut self,
        ctx: &mut Context<'_, Register>,
        from: NodeId,
        req: u64,
        key: i64,
        command: &Command,
    ) {
        match self.sessions.get(&from) {
            Some(session) if session.req > req => ctx.probe(probe::STALE_REQUEST),
            Some(&session) if session.req == req => {
                ctx.probe(probe::DEDUP_HIT);
                ctx.send(from, session.reply());
            }
            _ => {
                let (value, applied) = self.apply(key, command);
                let session = Session { req, value, applied };
                self.sessions.insert(from, session);
                if self.config.durable && *command != Command::Read {
                    self.persist(ctx, from, key, session);
                }
                ctx.send(from, session.reply());
            }
        }
    }

    /// Saves the register and the client's session in one sync. Reads are
    /// not saved: running a read again after a restart changes nothing.
    /// Failed compare-and-sets are, since run again they might succeed.
    fn persist(&self, ctx: &mut Context<'_, Register>, client: NodeId, key: i64, session: Session) {
        if let Some(value) = self.value(key) {
            ctx.storage().put(&format!("reg/{key}"), &value);
        }
        ctx.storage().put(&format!("session/{}", client.0), &session);
        if !self.config.bugs.contains(&RegisterBug::SkipSync) {
            ctx.storage().sync();
        }
    }

    fn apply(&mut self, key: i64, command: &Command) -> (Option<i64>, bool) {
        let current = self.registers.get(&key).copied();
        match *command {
            Command::Read => (current, true),
            Command::Write(v) => {
                self.registers.insert(key, v);
                (Some(v), true)
            }
            Command::Cas(from, to) if current == Some(from) => {
                self.registers.insert(key, to);
                (Some(to), true)
            }
            Command::Cas(..) => (current, false),
        }
    }
}

impl Node<Register> for Server {
    fn on_start(&mut self, ctx: &mut Context<'_, Register>) {
        if self.config.durable {
            // A torn register is treated as never written: it was never acknowledged.
            for name in ctx.storage().keys("reg/") {
                if let (Ok(key), Ok(Some(value))) =
                    (name["reg/".len()..].parse(), ctx.storage().get::<i64>(&name))
                {
                    self.registers.insert(key, value);
                }
            }
            if !self.registers.is_empty() {
                ctx.probe(probe::RECOVERED);
            }
            // Likewise a torn session was never acknowledged.
            for name in ctx.storage().keys("session/") {
                if let (Ok(client), Ok(Some(session))) =
                    (name["session/".len()..].parse(), ctx.storage().get::<Session>(&name))
                {
                    self.sessions.insert(NodeId(client), session);
                }
            }
        }
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Register>, from: NodeId, msg: Msg) {
        let Msg::Request { req, key, command } = msg else { return };
        self.execute(ctx, from, req, key, &command);
    }

    fn on_timer(&mut self, _ctx: &mut Context<'_, Register>, _id: TimerId, _timer: ()) {}
}

impl Session {
    fn reply(self) -> Msg {
        Msg::Reply { req: self.req, value: self.value, applied: self.applied }
    }
}

/// The register client: one request per operation, to the only server.
#[derive(Debug, Default)]
pub struct RegisterClient {
    next_req: u64,
    pending: Option<(OpId, u64, Command)>,
}

impl Client<Register> for RegisterClient {
    fn on_invoke(&mut self, ctx: &mut Context<'_, Register>, id: OpId, op: Op) {
        let (Some(command), Some(Value::Int(key))) =
            (Command::from_op(&op), op.key.clone().or(Some(Value::Int(0))))
        else {
            ctx.complete(id, Outcome::Fail(format!("register cannot perform {}", op.f)));
            return;
        };
        self.next_req += 1;
        self.pending = Some((id, self.next_req, command.clone()));
        let server = ctx.servers()[0];
        ctx.send(server, Msg::Request { req: self.next_req, key, command });
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Register>, _from: NodeId, msg: Msg) {
        let Msg::Reply { req, value, applied } = msg else { return };
        let Some((id, expected, command)) = self.pending.take_if(|(_, r, _)| *r == req) else { return };
        debug_assert!(expected == req, "reply req={req} for pending req={expected}");
        let outcome = match command {
            Command::Read => Outcome::Ok(value.into()),
            Command::Write(v) => Outcome::Ok(v.into()),
            Command::Cas(from, to) if applied => Outcome::Ok(vec![from, to].into()),
            Command::Cas(..) => Outcome::Fail("cas mismatch".into()),
        };
        ctx.complete(id, outcome);
    }

    fn on_timer(&mut self, _ctx: &mut Context<'_, Register>, _id: TimerId, _timer: ()) {}

    fn on_timeout(&mut self, _ctx: &mut Context<'_, Register>, _id: OpId) {
        self.pending = None;
    }
}

impl Protocol for Register {
    type Msg = Msg;
    type Timer = ();
    type Server = Server;
    type Client = RegisterClient;

    fn server(&self, _id: NodeId, _cluster: &Cluster) -> Server {
        Server { config: self.clone(), registers: BTreeMap::new(), sessions: BTreeMap::new() }
    }

    fn client(&self, _id: NodeId, _cluster: &Cluster) -> RegisterClient {
        RegisterClient::default()
    }
}
