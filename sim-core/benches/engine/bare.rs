//! The yardstick for the engine: ping-pong as a bare binary-heap event loop.
//!
//! It has the engine's shape and nothing else: two endpoints, one message in
//! flight, a `BinaryHeap` of (time, sequence, event) popped earliest first,
//! the same event payload (message id, sender, receiver, the bench's `Ball`),
//! and the network's random decisions drawn exactly as [`Network::route`]
//! draws them (loss, latency, duplicate, from the seed's network stream).
//! What it leaves out is what the engine adds: the trace hash, handler
//! isolation, effects, limits and statistics.
//!
//! [`Network::route`]: sim_core::Network::route

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use sim_core::{NetConfig, NodeId, Seed, SimRng, Stream, Time};

use super::Ball;

/// What the heap holds besides its ordering key: the engine's deliver event.
struct Deliver {
    mid: u64,
    from: NodeId,
    to: NodeId,
    ball: Ball,
}

/// Heap entry; orders by (time, sequence) only, as the engine does.
struct Scheduled {
    key: Reverse<(Time, u64)>,
    event: Deliver,
}

impl PartialEq for Scheduled {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl Eq for Scheduled {}
impl PartialOrd for Scheduled {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Scheduled {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.key.cmp(&other.key)
    }
}

/// The loop's state: the queue, the clock, the network stream, the counts.
struct Loop {
    queue: BinaryHeap<Scheduled>,
    seq: u64,
    next_mid: u64,
    now: Time,
    rng: SimRng,
    net: NetConfig,
    hits: [u64; 2],
    delivered: u64,
}

impl Loop {
    /// Sends `ball` with the network's draws, in `Network::route`'s order.
    fn send(&mut self, from: NodeId, to: NodeId, ball: Ball) {
        let mid = self.next_mid;
        self.next_mid += 1;
        if self.rng.chance(self.net.loss) {
            return;
        }
        let at = self.now + self.net.latency.sample(&mut self.rng);
        if self.rng.chance(self.net.duplicate) {
            let again = self.now + self.net.latency.sample(&mut self.rng);
            self.push(again, Deliver { mid, from, to, ball: ball.clone() });
        }
        self.push(at, Deliver { mid, from, to, ball });
    }

    fn push(&mut self, time: Time, event: Deliver) {
        self.seq += 1;
        self.queue.push(Scheduled { key: Reverse((time, self.seq)), event });
    }
}

/// Runs ping-pong until the next event is after `time_max`; returns the
/// messages delivered and the virtual time reached.
pub fn pingpong(net: &NetConfig, seed: Seed, time_max: Time) -> (u64, Time) {
    let mut state = Loop {
        queue: BinaryHeap::new(),
        seq: 0,
        next_mid: 0,
        now: Time::ZERO,
        rng: SimRng::new(seed, Stream::Network),
        net: net.clone(),
        hits: [0; 2],
        delivered: 0,
    };
    state.send(NodeId(0), NodeId(1), Ball(0));
    while let Some(Scheduled { key: Reverse((time, _)), event }) = state.queue.pop() {
        if time > time_max {
            state.now = time_max;
            break;
        }
        state.now = time;
        state.delivered += 1;
        let Deliver { mid, from, to, ball } = event;
        std::hint::black_box(mid);
        state.hits[to.index()] += 1;
        state.send(to, from, Ball(ball.0 + 1));
    }
    std::hint::black_box(state.hits);
    (state.delivered, state.now)
}
