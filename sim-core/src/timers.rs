//! The timers a node has pending: set, not yet fired, not cancelled.
//!
//! Timer ids come from one counter per run and a node's timers are added in
//! the order they were set, so the ids of a node's pending timers are kept
//! as a sorted vector: adding one is a push, a lookup a binary search, and a
//! node rarely has more than a handful (Raft has two), so removing one moves
//! a few words. A `BTreeSet` did the same with an allocation per node per
//! change and a pointer chase per lookup.

use crate::node::TimerId;

/// A node's pending timers, in the order they were set.
#[derive(Clone, Debug, Default)]
pub(crate) struct Pending {
    ids: Vec<TimerId>,
}

impl Pending {
    /// Adds `id`, which must be newer than every id already pending.
    #[inline]
    pub fn insert(&mut self, id: TimerId) {
        debug_assert!(self.ids.last().is_none_or(|&last| last < id), "timer={} is newer than the rest", id.0);
        self.ids.push(id);
    }

    /// Removes `id`; returns whether it was pending.
    #[inline]
    pub fn remove(&mut self, id: TimerId) -> bool {
        match self.ids.binary_search(&id) {
            Ok(at) => {
                self.ids.remove(at);
                true
            }
            Err(_) => false,
        }
    }

    /// Whether `id` is pending.
    #[inline]
    pub fn contains(&self, id: TimerId) -> bool {
        self.ids.binary_search(&id).is_ok()
    }

    /// How many are pending.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Forgets every pending timer (the node crashed).
    pub fn clear(&mut self) {
        self.ids.clear();
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    proptest::proptest! {
        /// Any sequence of sets (fresh ids, in order), cancels and fires
        /// leaves the same timers pending as a `BTreeSet` would.
        #[test]
        fn matches_a_set(steps in proptest::collection::vec((0u8..3, 0u64..40), 0..200)) {
            let (mut pending, mut model) = (Pending::default(), BTreeSet::new());
            let mut next = 0;
            for (action, pick) in steps {
                if action == 0 {
                    pending.insert(TimerId(next));
                    model.insert(next);
                    next += 1;
                } else {
                    let id = pick % (next + 1);
                    proptest::prop_assert_eq!(pending.remove(TimerId(id)), model.remove(&id));
                }
                proptest::prop_assert_eq!(pending.len(), model.len());
                for id in 0..=next {
                    proptest::prop_assert_eq!(pending.contains(TimerId(id)), model.contains(&id));
                }
            }
        }
    }
}
