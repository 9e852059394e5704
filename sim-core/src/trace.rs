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
    error: Option<io::Error>,
}

impl Tracer {
    /// A tracer writing to `sink`.
    pub fn new(sink: TraceSink) -> Tracer {
        Tracer { hash: SEED, count: 0, sink, error: None }
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
            TraceSink::Memory(buffer) => write_line(buffer, &event, &mut self.error),
            TraceSink::Writer(writer) => write_line(writer, &event, &mut self.error),
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
            TraceSink::Writer(mut writer) => writer.flush().map(|()| None),
        }
    }
}

fn write_line<W: Write + ?Sized, E: Serialize>(out: &mut W, event: &E, error: &mut Option<io::Error>) {
    if error.is_some() {
        return;
    }
    let result =
        serde_json::to_writer(&mut *out, event).map_err(io::Error::from).and_then(|()| out.write_all(b"\n"));
    if let Err(e) = result {
        *error = Some(e);
    }
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
