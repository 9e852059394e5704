//! The trace: every event of a run, with a running hash.
//!
//! The hash covers every event in order, message contents included, so two
//! runs with the same hash did the same thing. Keeping the events themselves
//! is optional: they can be dropped (hash only), kept in memory, or streamed
//! as JSON lines to a writer, so a long run's memory does not grow with it.

use std::hash::{Hash, Hasher};
use std::io::{self, Write};

use serde::Serialize;

use crate::fault::Fault;
use crate::history::{Op, RecordType, Value};
use crate::net::DropReason;
use crate::node::{NodeId, OpId, Payload, TimerId};
use crate::time::Time;

/// One event of a run, borrowed from the simulation for hashing and writing.
#[derive(Debug, Hash, Serialize)]
#[serde(tag = "ev", rename_all = "kebab-case")]
pub enum TraceEvent<'a, M, T> {
    /// A node started (at the beginning of the run).
    Start {
        /// Virtual time.
        t: Time,
        /// The node.
        node: NodeId,
    },
    /// A node sent a message.
    Send {
        /// Virtual time.
        t: Time,
        /// Message id, unique within the run.
        mid: u64,
        /// Sender.
        from: NodeId,
        /// Receiver.
        to: NodeId,
        /// The message.
        msg: &'a M,
    },
    /// A message was handed to its receiver.
    Deliver {
        /// Virtual time.
        t: Time,
        /// Message id.
        mid: u64,
        /// Sender.
        from: NodeId,
        /// Receiver.
        to: NodeId,
    },
    /// A message was dropped.
    Drop {
        /// Virtual time.
        t: Time,
        /// Message id.
        mid: u64,
        /// Sender.
        from: NodeId,
        /// Receiver.
        to: NodeId,
        /// Why.
        reason: DropReason,
    },
    /// The network will deliver a message twice.
    Duplicate {
        /// Virtual time.
        t: Time,
        /// Message id.
        mid: u64,
    },
    /// A message or timer reached a paused node and waits for it to resume.
    Defer {
        /// Virtual time.
        t: Time,
        /// The paused node.
        node: NodeId,
    },
    /// A timer fired.
    Timer {
        /// Virtual time.
        t: Time,
        /// The node.
        node: NodeId,
        /// The timer.
        id: TimerId,
        /// Its payload.
        timer: &'a T,
    },
    /// A fault was applied.
    Fault {
        /// Virtual time.
        t: Time,
        /// The fault.
        fault: &'a Fault,
    },
    /// A crash lost unsynced writes (and maybe tore one).
    StorageLoss {
        /// Virtual time.
        t: Time,
        /// The crashed node.
        node: NodeId,
        /// Writes lost.
        lost_writes: usize,
        /// The torn key, if any.
        torn_key: Option<&'a str>,
    },
    /// A client was asked to perform an operation.
    Invoke {
        /// Virtual time.
        t: Time,
        /// The client node.
        node: NodeId,
        /// The history process.
        process: u64,
        /// Operation id.
        op_id: OpId,
        /// The operation.
        op: &'a Op,
    },
    /// A client operation completed (or timed out, as `info`).
    Complete {
        /// Virtual time.
        t: Time,
        /// The client node.
        node: NodeId,
        /// The history process.
        process: u64,
        /// Operation id.
        op_id: OpId,
        /// How it ended.
        kind: RecordType,
        /// Its result.
        value: &'a Value,
    },
    /// A handler panicked, an invariant broke, or a limit was hit.
    End {
        /// Virtual time.
        t: Time,
        /// What ended the run.
        outcome: &'a str,
    },
}

impl<M: Serialize, T: Serialize> TraceEvent<'_, M, T> {
    /// Appends the event as one JSON line: the same text `serde_json` makes of
    /// it, written by hand because the trace is on the hot path.
    pub fn write_json(&self, out: &mut Vec<u8>) {
        let mut line = Line(out);
        match self {
            TraceEvent::Start { t, node } => {
                line.open(b"{\"ev\":\"start\",\"t\":", *t);
                line.number(b",\"node\":", node.0.into());
            }
            TraceEvent::Send { t, mid, from, to, msg } => {
                line.open(b"{\"ev\":\"send\",\"t\":", *t);
                line.number(b",\"mid\":", *mid);
                line.number(b",\"from\":", from.0.into());
                line.number(b",\"to\":", to.0.into());
                line.value(b",\"msg\":", msg);
            }
            TraceEvent::Deliver { t, mid, from, to } => {
                line.open(b"{\"ev\":\"deliver\",\"t\":", *t);
                line.number(b",\"mid\":", *mid);
                line.number(b",\"from\":", from.0.into());
                line.number(b",\"to\":", to.0.into());
            }
            TraceEvent::Drop { t, mid, from, to, reason } => {
                line.open(b"{\"ev\":\"drop\",\"t\":", *t);
                line.number(b",\"mid\":", *mid);
                line.number(b",\"from\":", from.0.into());
                line.number(b",\"to\":", to.0.into());
                line.value(b",\"reason\":", reason);
            }
            TraceEvent::Duplicate { t, mid } => {
                line.open(b"{\"ev\":\"duplicate\",\"t\":", *t);
                line.number(b",\"mid\":", *mid);
            }
            TraceEvent::Defer { t, node } => {
                line.open(b"{\"ev\":\"defer\",\"t\":", *t);
                line.number(b",\"node\":", node.0.into());
            }
            TraceEvent::Timer { t, node, id, timer } => {
                line.open(b"{\"ev\":\"timer\",\"t\":", *t);
                line.number(b",\"node\":", node.0.into());
                line.number(b",\"id\":", id.0);
                line.value(b",\"timer\":", timer);
            }
            TraceEvent::Fault { t, fault } => {
                line.open(b"{\"ev\":\"fault\",\"t\":", *t);
                line.value(b",\"fault\":", fault);
            }
            TraceEvent::StorageLoss { t, node, lost_writes, torn_key } => {
                line.open(b"{\"ev\":\"storage-loss\",\"t\":", *t);
                line.number(b",\"node\":", node.0.into());
                line.number(b",\"lost_writes\":", *lost_writes as u64);
                line.value(b",\"torn_key\":", torn_key);
            }
            TraceEvent::Invoke { t, node, process, op_id, op } => {
                line.open(b"{\"ev\":\"invoke\",\"t\":", *t);
                line.number(b",\"node\":", node.0.into());
                line.number(b",\"process\":", *process);
                line.number(b",\"op_id\":", op_id.0);
                line.value(b",\"op\":", op);
            }
            TraceEvent::Complete { t, node, process, op_id, kind, value } => {
                line.open(b"{\"ev\":\"complete\",\"t\":", *t);
                line.number(b",\"node\":", node.0.into());
                line.number(b",\"process\":", *process);
                line.number(b",\"op_id\":", op_id.0);
                line.value(b",\"kind\":", kind);
                line.value(b",\"value\":", value);
            }
            TraceEvent::End { t, outcome } => {
                line.open(b"{\"ev\":\"end\",\"t\":", *t);
                line.value(b",\"outcome\":", outcome);
            }
        }
        line.0.extend_from_slice(b"}\n");
    }
}

/// Writes the fields of one JSON object.
struct Line<'a>(&'a mut Vec<u8>);

impl Line<'_> {
    /// Starts the object: `prefix` is `{"ev":"<kind>","t":`.
    #[inline(always)]
    fn open(&mut self, prefix: &'static [u8], t: Time) {
        self.0.extend_from_slice(prefix);
        self.digits(t.as_nanos());
    }

    /// A numeric field: `key` is `,"<name>":`.
    #[inline(always)]
    fn number(&mut self, key: &'static [u8], n: u64) {
        self.0.extend_from_slice(key);
        self.digits(n);
    }

    /// Decimal digits of `n`, written in place: reserve 20 bytes with one
    /// fixed-size store, fill the digits two at a time, trim the rest.
    #[inline(always)]
    fn digits(&mut self, mut n: u64) {
        const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
            2021222324252627282930313233343536373839\
            4041424344454647484950515253545556575859\
            6061626364656667686970717273747576777879\
            8081828384858687888990919293949596979899";
        let count = n.checked_ilog10().map_or(1, |l| l as usize + 1);
        let start = self.0.len();
        self.0.extend_from_slice(&[b'0'; 20]);
        let out = &mut self.0[start..start + count];
        let mut end = count;
        while n >= 100 {
            let pair = (n % 100) as usize * 2;
            n /= 100;
            end -= 2;
            out[end] = PAIRS[pair];
            out[end + 1] = PAIRS[pair + 1];
        }
        if n >= 10 {
            let pair = n as usize * 2;
            out[end - 2] = PAIRS[pair];
            out[end - 1] = PAIRS[pair + 1];
        } else {
            out[end - 1] = b'0' + n as u8;
        }
        self.0.truncate(start + count);
    }

    /// Any serialisable field: `key` is `,"<name>":`.
    fn value<V: Serialize + ?Sized>(&mut self, key: &'static [u8], value: &V) {
        self.0.extend_from_slice(key);
        serde_json::to_writer(&mut *self.0, value).expect("trace values serialise to JSON");
    }
}

/// A fixed, platform-independent 64-bit hash (FxHash's mixing step).
#[derive(Clone, Copy, Debug)]
pub struct TraceHasher {
    hash: u64,
}

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl TraceHasher {
    /// A hasher continuing from `hash`.
    pub fn new(hash: u64) -> TraceHasher {
        TraceHasher { hash }
    }

    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for TraceHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }

    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            self.add(u64::from_le_bytes(chunk.try_into().expect("chunk of 8")));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    #[inline]
    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }
    #[inline]
    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }
    #[inline]
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }
    #[inline]
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
    #[inline]
    fn write_isize(&mut self, n: isize) {
        self.add(n as u64);
    }
    #[inline]
    fn write_i64(&mut self, n: i64) {
        self.add(n as u64);
    }
}

/// Where trace events go besides the hash.
pub enum TraceSink {
    /// Nowhere: keep only the hash.
    Hash,
    /// Into memory, as JSON lines.
    Memory(Vec<u8>),
    /// To a writer, as JSON lines.
    Writer(Box<dyn Write + Send>),
}

/// Records trace events: updates the running hash and writes them to the sink.
pub struct Tracer {
    hash: u64,
    count: u64,
    sink: TraceSink,
    /// Lines waiting to go to a `Writer` sink: one big write instead of many small ones.
    buffer: Vec<u8>,
    error: Option<io::Error>,
}

const FLUSH_AT: usize = 1 << 16;

impl Tracer {
    /// A tracer writing to `sink`.
    pub fn new(sink: TraceSink) -> Tracer {
        Tracer { hash: SEED, count: 0, sink, buffer: Vec::new(), error: None }
    }

    /// Records one event.
    #[inline]
    pub fn record<M: Payload, T: Payload>(&mut self, event: TraceEvent<'_, M, T>) {
        let mut hasher = TraceHasher::new(self.hash);
        event.hash(&mut hasher);
        self.hash = hasher.finish();
        self.count += 1;
        match &mut self.sink {
            TraceSink::Hash => {}
            TraceSink::Memory(buffer) => event.write_json(buffer),
            TraceSink::Writer(writer) => {
                event.write_json(&mut self.buffer);
                if self.buffer.len() >= FLUSH_AT {
                    flush(writer, &mut self.buffer, &mut self.error);
                }
            }
        }
    }

    /// The hash of every event so far.
    pub fn hash(&self) -> u64 {
        self.hash
    }

    /// Events recorded so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Flushes the sink and returns the JSON lines kept in memory (if any), or the first write error.
    pub fn finish(&mut self) -> io::Result<Option<Vec<u8>>> {
        if let Some(error) = self.error.take() {
            return Err(error);
        }
        match std::mem::replace(&mut self.sink, TraceSink::Hash) {
            TraceSink::Hash => Ok(None),
            TraceSink::Memory(buffer) => Ok(Some(buffer)),
            TraceSink::Writer(mut writer) => {
                flush(&mut writer, &mut self.buffer, &mut self.error);
                match self.error.take() {
                    Some(error) => Err(error),
                    None => writer.flush().map(|()| None),
                }
            }
        }
    }
}

fn flush(writer: &mut Box<dyn Write + Send>, buffer: &mut Vec<u8>, error: &mut Option<io::Error>) {
    if error.is_none()
        && let Err(e) = writer.write_all(buffer)
    {
        *error = Some(e);
    }
    buffer.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    type Event<'a> = TraceEvent<'a, String, ()>;

    #[test]
    fn hash_depends_on_content_and_order() {
        let msg_a = "a".to_string();
        let msg_b = "b".to_string();
        let send = |msg| Event::Send { t: Time::ZERO, mid: 0, from: NodeId(0), to: NodeId(1), msg };
        let run = |events: Vec<Event>| {
            let mut tracer = Tracer::new(TraceSink::Hash);
            events.into_iter().for_each(|e| tracer.record(e));
            tracer.hash()
        };
        let deliver = || Event::Deliver { t: Time::from_nanos(5), mid: 0, from: NodeId(0), to: NodeId(1) };
        let ab = run(vec![send(&msg_a), deliver()]);
        assert_eq!(ab, run(vec![send(&msg_a), deliver()]));
        assert_ne!(ab, run(vec![send(&msg_b), deliver()]));
        assert_ne!(ab, run(vec![deliver(), send(&msg_a)]));
    }

    #[test]
    fn hand_written_json_matches_serde() {
        use crate::fault::{Cut, Fault};
        let (msg, timer) = ("m\"sg".to_string(), 7u8);
        let fault = Fault::Partition { cut: Cut::Isolate { node: NodeId(2) } };
        let op = Op::new("cas", vec![1, 2]).on_key(3);
        let value = Value::Nil;
        let t = Time::from_nanos(12);
        let (a, b) = (NodeId(1), NodeId(4));
        let events: Vec<TraceEvent<'_, String, u8>> = vec![
            TraceEvent::Start { t, node: a },
            TraceEvent::Send { t, mid: 9, from: a, to: b, msg: &msg },
            TraceEvent::Deliver { t, mid: 9, from: a, to: b },
            TraceEvent::Drop { t, mid: 9, from: a, to: b, reason: DropReason::Loss },
            TraceEvent::Duplicate { t, mid: 9 },
            TraceEvent::Defer { t, node: b },
            TraceEvent::Timer { t, node: a, id: TimerId(5), timer: &timer },
            TraceEvent::Fault { t, fault: &fault },
            TraceEvent::StorageLoss { t, node: a, lost_writes: 2, torn_key: Some("log/1") },
            TraceEvent::StorageLoss { t, node: a, lost_writes: 2, torn_key: None },
            TraceEvent::Invoke { t, node: b, process: 3, op_id: OpId(8), op: &op },
            TraceEvent::Complete {
                t,
                node: b,
                process: 3,
                op_id: OpId(8),
                kind: RecordType::Info,
                value: &value,
            },
            TraceEvent::End { t, outcome: "n1 panicked" },
        ];
        for event in events {
            let mut fast = Vec::new();
            event.write_json(&mut fast);
            let reference = serde_json::to_string(&event).unwrap() + "\n";
            assert_eq!(String::from_utf8(fast).unwrap(), reference);
        }
    }

    #[test]
    fn digits_are_decimal() {
        for n in [0, 7, 10, 99, 100, 101, 12_345, 1_000_000_007, u64::MAX] {
            let mut out = Vec::new();
            Line(&mut out).digits(n);
            assert_eq!(String::from_utf8(out).unwrap(), n.to_string());
        }
    }

    #[test]
    fn memory_sink_writes_json_lines() {
        let mut tracer = Tracer::new(TraceSink::Memory(Vec::new()));
        let msg = "ping".to_string();
        tracer.record(Event::Send {
            t: Time::from_nanos(7),
            mid: 3,
            from: NodeId(0),
            to: NodeId(1),
            msg: &msg,
        });
        let text = String::from_utf8(tracer.finish().unwrap().unwrap()).unwrap();
        assert_eq!(text, "{\"ev\":\"send\",\"t\":7,\"mid\":3,\"from\":0,\"to\":1,\"msg\":\"ping\"}\n");
    }
}
