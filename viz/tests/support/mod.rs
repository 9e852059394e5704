//! A small protocol run through the real engine, to give the tests traces
//! with every kind of event: client requests, server-to-server replication,
//! drops, duplicates, and every fault kind.
#![allow(dead_code)]

use orrery_viz::{Failure, Run};
use serde::Serialize;
use sim_core::check::{CheckOptions, check_history, models::Register};
use sim_core::*;

/// Relay: a server acknowledges each write and copies it to the other servers.
pub struct Relay {
    pub servers: u32,
}

/// Relay's messages.
#[derive(Clone, Debug, Hash, Serialize)]
pub enum RelayMsg {
    Write { key: i64, value: i64 },
    Copy { key: i64, value: i64 },
    Ack { value: i64 },
}

pub struct RelayServer {
    id: NodeId,
    servers: u32,
}

impl Node<Relay> for RelayServer {
    fn on_start(&mut self, _: &mut Context<'_, Relay>) {}
    fn on_message(&mut self, ctx: &mut Context<'_, Relay>, from: NodeId, msg: RelayMsg) {
        if let RelayMsg::Write { key, value } = msg {
            for peer in (0..self.servers).map(NodeId).filter(|&p| p != self.id) {
                ctx.send(peer, RelayMsg::Copy { key, value });
            }
            ctx.send(from, RelayMsg::Ack { value });
        }
    }
    fn on_timer(&mut self, _: &mut Context<'_, Relay>, _: TimerId, _: ()) {}
}

pub struct RelayClient {
    servers: u32,
    next: u32,
    current: Option<OpId>,
}

impl Client<Relay> for RelayClient {
    fn on_invoke(&mut self, ctx: &mut Context<'_, Relay>, id: OpId, op: Op) {
        self.current = Some(id);
        self.next = (self.next + 1) % self.servers;
        let key = op.key.as_ref().and_then(Value::as_int).unwrap_or(0);
        ctx.send(NodeId(self.next), RelayMsg::Write { key, value: op.value.as_int().unwrap_or(0) });
    }
    fn on_message(&mut self, ctx: &mut Context<'_, Relay>, _: NodeId, msg: RelayMsg) {
        if let (RelayMsg::Ack { value }, Some(id)) = (msg, self.current) {
            self.current = None;
            ctx.complete(id, Outcome::Ok(Value::Int(value)));
        }
    }
    fn on_timer(&mut self, _: &mut Context<'_, Relay>, _: TimerId, _: ()) {}
    fn on_timeout(&mut self, _: &mut Context<'_, Relay>, _: OpId) {
        self.current = None;
    }
}

impl Protocol for Relay {
    type Msg = RelayMsg;
    type Timer = ();
    type Server = RelayServer;
    type Client = RelayClient;
    fn server(&self, id: NodeId, _: &Cluster) -> RelayServer {
        RelayServer { id, servers: self.servers }
    }
    fn client(&self, id: NodeId, _: &Cluster) -> RelayClient {
        RelayClient { servers: self.servers, next: id.0, current: None }
    }
}

/// One of every fault kind, within the first 400ms.
pub fn every_fault() -> FaultSchedule {
    let ms = |n: u64| Time::from_nanos(n * 1_000_000);
    let split = Cut::Split { groups: vec![vec![NodeId(0)], vec![NodeId(1), NodeId(2)]] };
    FaultSchedule::new()
        .at(ms(40), Fault::Partition { cut: split })
        .at(ms(90), Fault::Heal)
        .at(ms(120), Fault::Crash { node: NodeId(1) })
        .at(ms(180), Fault::Restart { node: NodeId(1) })
        .at(ms(200), Fault::Pause { node: NodeId(2) })
        .at(ms(240), Fault::Resume { node: NodeId(2) })
        .at(ms(260), Fault::Slow { node: NodeId(0), factor: 8 })
        .at(ms(300), Fault::Heal)
        .at(ms(320), Fault::ClockJump { node: NodeId(2), offset: 25_000_000 })
}

/// A Relay run with `ops_per_client` writes per client (keys 0..3), the
/// trace kept in memory.
pub fn relay_run(seed: u64, clients: usize, ops_per_client: usize, faults: FaultSchedule) -> RunReport {
    let ops = (0..clients)
        .map(|c| {
            (0..ops_per_client)
                .map(|i| Op::new("write", (c * 1000 + i) as i64).on_key((i % 3) as i64))
                .collect()
        })
        .collect();
    let net = NetConfig {
        latency: Latency::Uniform { min: Duration::from_micros(500), max: Duration::from_millis(4) },
        loss: Probability::ratio(1, 50),
        duplicate: Probability::ratio(1, 50),
        fifo: false,
    };
    let pacing = Pacing {
        think: Latency::constant(Duration::from_millis(2)),
        duration: Duration::from_secs(3600),
        timeout: Some(Duration::from_millis(50)),
    };
    Sim::builder(Relay { servers: 3 }, Seed(seed))
        .servers(3)
        .clients(clients, Script::new(ops))
        .network(net)
        .pacing(pacing)
        .faults(faults)
        .limits(Limits { events_max: 10_000_000, ..Limits::default() })
        .trace(TraceSink::Memory(Vec::new()))
        .build()
        .expect("the relay cluster builds")
        .run()
}

/// How many trace lines have `"ev":"<kind>"`: counted from the text, not by the crate under test.
pub fn count_events(trace: &str, kind: &str) -> usize {
    let needle = format!("{{\"ev\":\"{kind}\",");
    trace.lines().filter(|l| l.starts_with(&needle)).count()
}

/// A two-node trace whose message body, operation value and key carry `evil`.
pub fn injection_trace(evil: &str) -> String {
    let s = serde_json::to_string(evil).unwrap();
    format!(
        r#"{{"ev":"start","t":0,"node":0}}
{{"ev":"start","t":0,"node":1}}
{{"ev":"invoke","t":0,"node":1,"process":0,"op_id":0,"op":{{"f":"write","key":{s},"value":{s}}}}}
{{"ev":"send","t":0,"mid":0,"from":1,"to":0,"msg":{{"Write":{s}}}}}
{{"ev":"deliver","t":1000000,"mid":0,"from":1,"to":0}}
{{"ev":"send","t":1000000,"mid":1,"from":0,"to":1,"msg":{{"Ack":{s}}}}}
{{"ev":"deliver","t":2000000,"mid":1,"from":0,"to":1}}
{{"ev":"complete","t":2000000,"node":1,"process":0,"op_id":0,"kind":"ok","value":{s}}}
{{"ev":"end","t":2000000,"outcome":{s}}}
"#
    )
}

/// Writes 1 and 2 complete, then a read returns 1: not linearizable.
pub fn stale_read_run() -> Run {
    let op = |t: u64, node: u32, p: u64, kind: &str, f: &str, v: &str| {
        if kind == "invoke" {
            format!(
                r#"{{"ev":"invoke","t":{t},"node":{node},"process":{p},"op_id":{p},"op":{{"f":"{f}","key":0,"value":{v}}}}}"#
            )
        } else {
            format!(
                r#"{{"ev":"complete","t":{t},"node":{node},"process":{p},"op_id":{p},"kind":"{kind}","value":{v}}}"#
            )
        }
    };
    let lines = [
        r#"{"ev":"start","t":0,"node":0}"#.to_string(),
        op(0, 1, 0, "invoke", "write", "1"),
        op(10, 1, 0, "ok", "write", "1"),
        op(20, 2, 1, "invoke", "write", "2"),
        op(30, 2, 1, "ok", "write", "2"),
        op(40, 3, 2, "invoke", "read", "null"),
        op(50, 3, 2, "ok", "read", "1"),
    ];
    let mut run = Run::from_jsonl(&lines.join("\n"), None).unwrap();
    let history = history_of(&run);
    let report = check_history(&Register::new(Value::Nil), &history, &CheckOptions::default()).unwrap();
    Failure::from_linearizability(&report).into_iter().for_each(|f| run.mark_failure(f));
    run
}

fn history_of(run: &Run) -> History {
    let mut h = History::new();
    for op in &run.operations {
        let rec = |kind, value: &Value, t: u64| Record {
            process: op.process,
            kind,
            f: op.f.clone(),
            key: op.key.clone(),
            value: value.clone(),
            time: Time::from_nanos(t),
            error: None,
        };
        h.push(rec(RecordType::Invoke, &op.argument, op.invoked));
        h.push(rec(op.kind, &op.result, op.completed.unwrap()));
    }
    h
}
