//! The client: a producer for `send` operations and a consumer-group member
//! for `poll` operations (one client may be either, by what the workload asks).

use std::collections::BTreeMap;

use sim_core::{Client, Context, NodeId, Op, OpId, Outcome, TimerId, Value};

use super::message::{Msg, PartitionState, Record, Timer};
use super::{Log, LogBug, probe};

/// A send in progress: retried until acknowledged, out of attempts, or timed out.
#[derive(Clone, Debug)]
struct Sending {
    op: OpId,
    /// The first attempt's request id; `req` is the latest's.
    first_req: u64,
    req: u64,
    partition: u32,
    value: i64,
    seq: u64,
    attempts: u32,
    /// Whether any attempt reached the network: if none did, failure is certain.
    sent: bool,
}

/// How many unanswered fetches a consumer remembers.
const IN_FLIGHT_MAX: usize = 8;

/// A poll in progress: a fetch from a partition's leader, then processing.
#[derive(Clone, Debug)]
struct Polling {
    op: OpId,
    req: u64,
    partition: u32,
    from: u64,
    /// The fetched batch, being processed.
    batch: Vec<i64>,
    /// The workload asked this consumer to crash while processing.
    crash: bool,
}

/// A batch that came after its poll stopped waiting, kept for the next
/// poll, as a real consumer's fetcher buffers records between polls: on a
/// network slower than the poll timeout every poll would otherwise end
/// empty and nothing would ever be delivered.
#[derive(Clone, Debug)]
struct Fetched {
    partition: u32,
    from: u64,
    values: Vec<i64>,
}

/// Group membership as this consumer knows it.
#[derive(Clone, Debug, Default)]
struct Membership {
    member: u64,
    generation: u64,
    /// Owned partitions and the next offset to deliver from each.
    positions: BTreeMap<u32, u64>,
    /// When the coordinator last answered (by this node's clock).
    heard: sim_core::Time,
    next: usize,
}

/// A producer and consumer.
#[derive(Debug)]
pub struct LogClient {
    config: Log,
    /// The newest state seen for each partition.
    metadata: Vec<PartitionState>,
    next_req: u64,
    next_seq: u64,
    incarnation: u64,
    sending: Option<Sending>,
    polling: Option<Polling>,
    /// Fetches sent and not yet answered, by request id: partition and offset
    /// (the latest few; a lost one is forgotten).
    in_flight: BTreeMap<u64, (u32, u64)>,
    fetched: Option<Fetched>,
    membership: Option<Membership>,
    heartbeat_armed: bool,
}

impl LogClient {
    /// A fresh client.
    pub fn new(config: Log) -> LogClient {
        let metadata = vec![PartitionState::default(); config.partitions as usize];
        LogClient {
            config,
            metadata,
            next_req: 0,
            next_seq: 0,
            incarnation: 0,
            sending: None,
            polling: None,
            in_flight: BTreeMap::new(),
            fetched: None,
            membership: None,
            heartbeat_armed: false,
        }
    }

    fn req(&mut self) -> u64 {
        self.next_req += 1;
        self.next_req
    }

    fn leader(&self, p: u32) -> Option<NodeId> {
        self.metadata.get(p as usize).and_then(|s| s.leader)
    }

    fn ask_metadata(&self, ctx: &mut Context<'_, Log>) {
        let servers = ctx.servers().to_vec();
        let to = *ctx.rng().pick(&servers);
        ctx.send(to, Msg::MetadataRequest);
    }

    fn on_metadata(&mut self, partitions: Vec<PartitionState>) {
        for (known, new) in self.metadata.iter_mut().zip(partitions) {
            if new.version > known.version {
                *known = new;
            }
        }
    }

    // ----- producer -----

    fn send(&mut self, ctx: &mut Context<'_, Log>, op: OpId, partition: u32, value: i64) {
        self.next_seq += 1;
        let req = self.req();
        self.sending = Some(Sending {
            op,
            first_req: req,
            req,
            partition,
            value,
            seq: self.next_seq,
            attempts: 0,
            sent: false,
        });
        self.attempt(ctx);
    }

    fn attempt(&mut self, ctx: &mut Context<'_, Log>) {
        let Some(s) = self.sending.clone() else { return };
        let producer = ctx.id().0;
        if let Some(leader) = self.leader(s.partition) {
            let record = Record { epoch: 0, producer, seq: s.seq, value: s.value };
            let idempotent = self.config.idempotent;
            let msg = Msg::Produce {
                req: s.req,
                partition: s.partition,
                record,
                idempotent,
                acks: self.config.acks,
            };
            ctx.send(leader, msg);
            self.sending.as_mut().expect("sending").sent = true;
        } else {
            self.ask_metadata(ctx);
        }
        ctx.set_timer(self.config.retry_after, Timer::Retry(s.req));
    }

    fn on_retry(&mut self, ctx: &mut Context<'_, Log>, req: u64) {
        let retries = self.config.retries;
        let Some(s) = self.sending.as_mut().filter(|s| s.req == req) else { return };
        s.attempts += 1;
        if s.attempts > retries {
            let s = self.sending.take().expect("sending");
            let outcome = if s.sent {
                Outcome::Info("retries exhausted".into())
            } else {
                Outcome::Fail("no leader known: never sent".into())
            };
            ctx.complete(s.op, outcome);
            return;
        }
        ctx.probe(probe::PRODUCER_RETRIED);
        self.next_req += 1;
        s.req = self.next_req;
        // The planted bug: a retry is a new message to the leader, so it cannot recognise it.
        if self.config.bugs.contains(&LogBug::RetryDuplicates) {
            self.next_seq += 1;
            s.seq = self.next_seq;
        }
        self.ask_metadata(ctx);
        self.attempt(ctx);
    }

    fn on_produce_reply(&mut self, ctx: &mut Context<'_, Log>, req: u64, offset: Option<u64>) {
        // Any attempt of the current send may answer: each carries its message.
        if !self.sending.as_ref().is_some_and(|s| (s.first_req..=s.req).contains(&req)) {
            return;
        }
        let Some(offset) = offset else {
            self.ask_metadata(ctx);
            return;
        };
        let s = self.sending.take().expect("sending");
        ctx.complete(s.op, Outcome::Ok(Value::Int(offset as i64)));
    }

    // ----- consumer -----

    /// A poll waits up to `poll_timeout` for a batch, as a real consumer's
    /// poll blocks: with nothing to fetch from (no membership, no partition,
    /// no known leader) it completes empty when the wait is over.
    fn poll(&mut self, ctx: &mut Context<'_, Log>, op: OpId, crash: bool) {
        let req = self.req();
        ctx.set_timer(self.config.poll_timeout, Timer::PollDeadline(req));
        let mut target = None;
        match self.membership.as_mut() {
            None => self.join(ctx),
            Some(m) if !m.positions.is_empty() => {
                let owned: Vec<(u32, u64)> = m.positions.iter().map(|(&p, &o)| (p, o)).collect();
                target = Some(owned[m.next % owned.len()]);
                m.next += 1;
            }
            Some(_) => {}
        }
        let (partition, from) = target.unwrap_or((u32::MAX, 0));
        self.polling = Some(Polling { op, req, partition, from, batch: Vec::new(), crash });
        let Some((partition, from)) = target else { return };
        if let Some(f) = self.fetched.take_if(|f| (f.partition, f.from) == (partition, from)) {
            self.process(ctx, f.values);
            return;
        }
        match self.leader(partition) {
            Some(leader) => {
                self.in_flight.insert(req, (partition, from));
                while self.in_flight.len() > IN_FLIGHT_MAX {
                    self.in_flight.pop_first();
                }
                ctx.send(leader, Msg::Consume { req, partition, offset: from });
            }
            None => self.ask_metadata(ctx),
        }
    }

    fn join(&mut self, ctx: &mut Context<'_, Log>) {
        self.incarnation += 1;
        let member = u64::from(ctx.id().0) * 1_000_000 + self.incarnation;
        let heard = ctx.clock();
        self.membership = Some(Membership { member, heard, ..Membership::default() });
        let controller = ctx.servers()[0];
        ctx.send(controller, Msg::Join { member });
        if !self.heartbeat_armed {
            self.heartbeat_armed = true;
            ctx.set_timer(self.config.heartbeat, Timer::Heartbeat);
        }
    }

    /// Nothing was delivered: the poll completes empty (a certain outcome).
    fn poll_empty(&mut self, ctx: &mut Context<'_, Log>) {
        if let Some(p) = self.polling.take() {
            ctx.complete(p.op, Outcome::Ok(Value::List(Vec::new())));
        }
    }

    fn on_consume_reply(
        &mut self,
        ctx: &mut Context<'_, Log>,
        req: u64,
        ok: bool,
        from: u64,
        values: Vec<i64>,
    ) {
        // Refused, however late: the leader moved, so learn where to.
        if !ok {
            self.ask_metadata(ctx);
        }
        let Some((partition, asked)) = self.in_flight.remove(&req) else { return };
        let batch = ok && !values.is_empty() && from == asked;
        let waiting =
            self.polling.as_ref().filter(|p| p.batch.is_empty()).map(|p| (p.req, p.partition, p.from));
        match waiting {
            Some((own, _, _)) if own == req => {
                if batch {
                    self.process(ctx, values);
                } else {
                    self.poll_empty(ctx);
                }
            }
            // An earlier poll's fetch of what this poll wants is as good as its own.
            Some((_, p, f)) if batch && (p, f) == (partition, asked) => {
                ctx.probe(probe::LATE_BATCH_KEPT);
                self.process(ctx, values);
            }
            // The poll that asked has ended: keep the batch for the next one.
            _ if batch => {
                ctx.probe(probe::LATE_BATCH_KEPT);
                self.fetched = Some(Fetched { partition, from, values });
            }
            _ => {}
        }
    }

    /// The current poll has its batch: process it (deliver when done).
    fn process(&mut self, ctx: &mut Context<'_, Log>, values: Vec<i64>) {
        let Some(p) = self.polling.as_mut() else { return };
        let req = p.req;
        p.batch = values;
        let (partition, end) = (p.partition, p.from + p.batch.len() as u64);
        if self.config.bugs.contains(&LogBug::CommitBeforeProcess) {
            self.commit(ctx, partition, end);
        }
        ctx.set_timer(self.config.process_time, Timer::Processed(req));
    }

    /// The batch is processed: deliver it, unless the consumer crashed or its
    /// session lapsed meanwhile (then it drops the batch and rejoins).
    fn on_processed(&mut self, ctx: &mut Context<'_, Log>, req: u64) {
        let Some(p) = self.polling.take_if(|p| p.req == req) else { return };
        let now = ctx.clock();
        let lapsed = self.membership.as_ref().is_none_or(|m| now.since(m.heard) > self.config.member_session);
        if p.crash || lapsed {
            ctx.probe(probe::BATCH_DROPPED);
            self.membership = None;
            let why = if p.crash { "consumer crashed while processing" } else { "consumer session lapsed" };
            ctx.complete(p.op, Outcome::Fail(why.into()));
            return;
        }
        let end = p.from + p.batch.len() as u64;
        let delivered = p
            .batch
            .iter()
            .enumerate()
            .map(|(i, &v)| Value::from(vec![i64::from(p.partition), (p.from + i as u64) as i64, v]))
            .collect();
        if let Some(position) = self.membership.as_mut().and_then(|m| m.positions.get_mut(&p.partition)) {
            *position = (*position).max(end);
        }
        ctx.complete(p.op, Outcome::Ok(Value::List(delivered)));
        if !self.config.bugs.contains(&LogBug::CommitBeforeProcess) {
            self.commit(ctx, p.partition, end);
        }
    }

    fn commit(&self, ctx: &mut Context<'_, Log>, partition: u32, offset: u64) {
        let Some(m) = &self.membership else { return };
        let controller = ctx.servers()[0];
        ctx.send(controller, Msg::Commit { member: m.member, generation: m.generation, partition, offset });
    }

    fn on_assignment(
        &mut self,
        ctx: &mut Context<'_, Log>,
        member: u64,
        generation: u64,
        partitions: Vec<(u32, u64)>,
    ) {
        let now = ctx.clock();
        let Some(m) = self.membership.as_mut().filter(|m| m.member == member) else { return };
        m.heard = now;
        if generation < m.generation {
            return;
        }
        m.generation = generation;
        let old = std::mem::take(&mut m.positions);
        for (p, committed) in partitions {
            // A partition kept across generations keeps this consumer's own position.
            let mine = old.get(&p).copied().unwrap_or(committed);
            m.positions.insert(p, mine.max(committed));
        }
    }

    fn on_heartbeat_timer(&mut self, ctx: &mut Context<'_, Log>) {
        let Some(m) = &self.membership else {
            self.heartbeat_armed = false;
            return;
        };
        let controller = ctx.servers()[0];
        ctx.send(controller, Msg::Heartbeat { member: m.member });
        ctx.set_timer(self.config.heartbeat, Timer::Heartbeat);
    }
}

impl Client<Log> for LogClient {
    fn on_start(&mut self, ctx: &mut Context<'_, Log>) {
        self.ask_metadata(ctx);
    }

    fn on_invoke(&mut self, ctx: &mut Context<'_, Log>, id: OpId, op: Op) {
        let partition = op
            .key
            .as_ref()
            .and_then(Value::as_int)
            .filter(|&p| (0..i64::from(self.config.partitions)).contains(&p));
        match (op.f.as_str(), partition, op.value.as_int()) {
            ("send", Some(p), Some(value)) => self.send(ctx, id, p as u32, value),
            ("poll", _, _) => self.poll(ctx, id, op.value.as_str() == Some("crash")),
            _ => {
                ctx.complete(id, Outcome::Fail(format!("the log cannot perform {:?} on {:?}", op.f, op.key)))
            }
        }
    }

    fn on_message(&mut self, ctx: &mut Context<'_, Log>, _from: NodeId, msg: Msg) {
        match msg {
            Msg::Metadata { partitions, .. } => self.on_metadata(partitions),
            Msg::ProduceReply { req, offset } => self.on_produce_reply(ctx, req, offset),
            Msg::ConsumeReply { req, ok, from, values } => self.on_consume_reply(ctx, req, ok, from, values),
            Msg::Assignment { member, generation, partitions } => {
                self.on_assignment(ctx, member, generation, partitions);
            }
            Msg::NotMember { member } if self.membership.as_ref().is_some_and(|m| m.member == member) => {
                self.membership = None;
            }
            _ => {}
        }
    }

    fn on_timer(&mut self, ctx: &mut Context<'_, Log>, _id: TimerId, timer: Timer) {
        match timer {
            Timer::Retry(req) => self.on_retry(ctx, req),
            Timer::Heartbeat => self.on_heartbeat_timer(ctx),
            Timer::PollDeadline(req) => {
                if self.polling.as_ref().is_some_and(|p| p.req == req && p.batch.is_empty()) {
                    self.poll_empty(ctx);
                }
            }
            Timer::Processed(req) => self.on_processed(ctx, req),
            Timer::Tick => {}
        }
    }

    fn on_timeout(&mut self, _ctx: &mut Context<'_, Log>, id: OpId) {
        self.sending.take_if(|s| s.op == id);
        // A batch not delivered in time is dropped, not committed: it will be fetched again.
        self.polling.take_if(|p| p.op == id);
    }
}
