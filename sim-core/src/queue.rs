//! The event queue: events popped in (time, insertion sequence) order.
//!
//! The heap orders small keys (time, sequence, slot) and the events wait in
//! a slab beside it, so sifting moves 24 bytes per level whatever the size
//! of a protocol's messages. Ties in time break by insertion order, and
//! freed slots are reused last-freed first, so the queue is deterministic.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::time::Time;

/// Where an event waits, and when it is due.
#[derive(Clone, Copy, Debug)]
struct Key {
    time: Time,
    seq: u64,
    slot: u32,
}

impl Key {
    /// (time, seq) as one number, so a comparison is one 128-bit compare.
    #[inline(always)]
    fn order(&self) -> u128 {
        (u128::from(self.time.as_nanos()) << 64) | u128::from(self.seq)
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.order() == other.order()
    }
}

impl Eq for Key {}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    /// Reversed, so the max-heap pops the earliest (time, seq) first; `seq`
    /// is unique, so the slot never decides.
    #[inline(always)]
    fn cmp(&self, other: &Self) -> Ordering {
        other.order().cmp(&self.order())
    }
}

/// A priority queue of events keyed by virtual time, first in first out among equals.
pub(crate) struct Queue<E> {
    heap: BinaryHeap<Key>,
    slots: Vec<Option<E>>,
    free: Vec<u32>,
    seq: u64,
}

impl<E> Queue<E> {
    /// An empty queue.
    pub fn new() -> Queue<E> {
        Queue { heap: BinaryHeap::new(), slots: Vec::new(), free: Vec::new(), seq: 0 }
    }

    /// Adds `event`, due at `time`, after every event already due then.
    #[inline]
    pub fn push(&mut self, time: Time, event: E) {
        self.seq += 1;
        let slot = match self.free.pop() {
            Some(slot) => {
                debug_assert!(self.slots[slot as usize].is_none(), "slot={slot} is free");
                self.slots[slot as usize] = Some(event);
                slot
            }
            None => {
                let slot = u32::try_from(self.slots.len()).expect("fewer than 2^32 queued events");
                self.slots.push(Some(event));
                slot
            }
        };
        self.heap.push(Key { time, seq: self.seq, slot });
    }

    /// Removes and returns the earliest event and its time.
    #[inline]
    pub fn pop(&mut self) -> Option<(Time, E)> {
        let Key { time, slot, .. } = self.heap.pop()?;
        let event = self.slots[slot as usize].take().expect("a queued key has its event");
        self.free.push(slot);
        Some((time, event))
    }

    /// The earliest event and when it is due.
    pub fn peek(&self) -> Option<(Time, &E)> {
        let key = self.heap.peek()?;
        let event = self.slots[key.slot as usize].as_ref().expect("a queued key has its event");
        Some((key.time, event))
    }

    /// Events waiting.
    pub fn len(&self) -> usize {
        self.heap.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_by_time_then_insertion() {
        let mut queue = Queue::new();
        let at = Time::from_nanos;
        for (t, name) in [(5, "a"), (1, "b"), (5, "c"), (0, "d"), (1, "e")] {
            queue.push(at(t), name);
        }
        assert_eq!(queue.len(), 5);
        assert_eq!(queue.peek(), Some((at(0), &"d")));
        let order: Vec<_> = std::iter::from_fn(|| queue.pop()).collect();
        assert_eq!(order, [(at(0), "d"), (at(1), "b"), (at(1), "e"), (at(5), "a"), (at(5), "c")]);
        assert_eq!(queue.len(), 0);
    }

    proptest::proptest! {
        /// Interleaved pushes and pops give the order a sorted list by
        /// (time, insertion) gives, with slots reused along the way.
        #[test]
        fn matches_a_sorted_list(steps in proptest::collection::vec(proptest::option::of(0u64..20), 0..200)) {
            let mut queue = Queue::new();
            let mut model: Vec<(u64, usize)> = Vec::new();
            for (i, step) in steps.into_iter().enumerate() {
                match step {
                    Some(t) => {
                        queue.push(Time::from_nanos(t), i);
                        model.push((t, i));
                        model.sort();
                    }
                    None => {
                        let expected = (!model.is_empty()).then(|| model.remove(0));
                        let got = queue.pop().map(|(t, i)| (t.as_nanos(), i));
                        proptest::prop_assert_eq!(got, expected);
                    }
                }
                proptest::prop_assert_eq!(queue.len(), model.len());
                proptest::prop_assert!(queue.slots.len() <= queue.len() + queue.free.len());
            }
        }
    }
}
