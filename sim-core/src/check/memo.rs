//! The search's memory of visited configurations: which required operations
//! are linearized (a bitset with an incremental xor hash), which optional
//! (`info`) operations are, and the model state.
//!
//! Optional operations never have to be linearized, so a configuration with
//! the same required set and state but a subset of the optional ones can do
//! everything a superset can: the table answers "seen or dominated".

use std::hash::{Hash, Hasher};

/// FxHash (rustc's hasher): fast, deterministic, fine for small keys.
#[derive(Default)]
pub(crate) struct FxHasher {
    hash: u64,
}

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(FX_SEED);
    }
}

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
    }
    fn write_u8(&mut self, n: u8) {
        self.add(u64::from(n));
    }
    fn write_u32(&mut self, n: u32) {
        self.add(u64::from(n));
    }
    fn write_u64(&mut self, n: u64) {
        self.add(n);
    }
    fn write_usize(&mut self, n: usize) {
        self.add(n as u64);
    }
    fn finish(&self) -> u64 {
        self.hash
    }
}

/// The FxHash of a value.
pub(crate) fn hash_of<T: Hash + ?Sized>(value: &T) -> u64 {
    let mut hasher = FxHasher::default();
    value.hash(&mut hasher);
    hasher.finish()
}

/// SplitMix64: a fixed pseudo-random key per bit, the same on every run.
fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}

/// A bitset with an xor hash of its members and the count of leading ones,
/// so that its canonical form is only the words past the all-ones prefix.
pub(crate) struct Bits {
    words: Vec<u64>,
    keys: Vec<u64>,
    hash: u64,
    low: usize,
    top: usize,
    len: usize,
}

impl Bits {
    /// An empty set over `len` elements.
    pub(crate) fn new(len: usize) -> Bits {
        let keys = (0..len as u64).map(splitmix).collect();
        Bits { words: vec![0; len.div_ceil(64)], keys, hash: 0, low: 0, top: 0, len }
    }

    pub(crate) fn contains(&self, i: usize) -> bool {
        self.words[i / 64] >> (i % 64) & 1 == 1
    }

    pub(crate) fn insert(&mut self, i: usize) {
        debug_assert!(!self.contains(i), "bit={i} already set");
        self.words[i / 64] |= 1 << (i % 64);
        self.hash ^= self.keys[i];
        self.top = self.top.max(i / 64 + 1);
        if i == self.low {
            self.advance_low();
        }
    }

    pub(crate) fn remove(&mut self, i: usize) {
        debug_assert!(self.contains(i), "bit={i} not set");
        self.words[i / 64] &= !(1 << (i % 64));
        self.hash ^= self.keys[i];
        self.low = self.low.min(i);
        while self.top > 0 && self.words[self.top - 1] == 0 {
            self.top -= 1;
        }
    }

    fn advance_low(&mut self) {
        while self.low < self.len {
            let shift = self.low % 64;
            let ones = (!(self.words[self.low / 64] >> shift)).trailing_zeros() as usize;
            self.low += ones;
            if ones < 64 - shift {
                break;
            }
        }
        self.low = self.low.min(self.len);
    }

    /// The first word index of the canonical window and the window's words.
    fn window(&self) -> (usize, &[u64]) {
        let first = self.low / 64;
        (first, &self.words[first..self.top.max(first)])
    }

    /// The whole set's words.
    pub(crate) fn words(&self) -> &[u64] {
        &self.words
    }
}

struct Entry<S> {
    hash: u64,
    state: S,
    /// Where the required window's words start in the key arena.
    offset: u32,
    first: u32,
    len: u32,
    /// Head of this key's list of optional sets (`NONE` when empty).
    sets: u32,
}

/// One optional set of a key: its words in the set arena, and the next set.
struct SetNode {
    next: u32,
    offset: u32,
}

const NONE: u32 = u32::MAX;

/// Visited configurations: an open-addressing table of (required set, state)
/// keys, each with the list of optional sets it was visited with.
pub(crate) struct Memo<S> {
    slots: Vec<u32>,
    entries: Vec<Entry<S>>,
    keys: Vec<u64>,
    nodes: Vec<SetNode>,
    sets: Vec<u64>,
    optional_words: usize,
    /// Heap bytes of the stored states, as the model counts them.
    heap: usize,
    /// Words compared so far (keys and optional sets): the table's work.
    compared: u64,
}

fn is_subset(small: &[u64], big: &[u64]) -> bool {
    small.iter().zip(big).all(|(s, b)| s & !b == 0)
}

fn same_words(a: &[u64], b: &[u64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

impl<S: Eq> Memo<S> {
    /// An empty table for optional sets of `optional_len` elements.
    pub(crate) fn new(optional_len: usize) -> Memo<S> {
        Memo {
            slots: vec![0; 64],
            entries: Vec::new(),
            keys: Vec::new(),
            nodes: Vec::new(),
            sets: Vec::new(),
            optional_words: optional_len.div_ceil(64),
            heap: 0,
            compared: 0,
        }
    }

    /// Approximate bytes held.
    pub(crate) fn bytes(&self) -> usize {
        self.slots.len() * 4
            + self.entries.capacity() * std::mem::size_of::<Entry<S>>()
            + (self.keys.capacity() + self.sets.capacity()) * 8
            + self.nodes.capacity() * 8
            + self.heap
    }

    /// Words compared by every visit so far.
    pub(crate) fn compared(&self) -> u64 {
        self.compared
    }

    /// Records the configuration; false if it or one that dominates it was
    /// seen. `heap` is the state's heap bytes, counted while it is stored.
    pub(crate) fn visit(
        &mut self,
        required: &Bits,
        optional: &Bits,
        state: S,
        state_hash: u64,
        heap: usize,
    ) -> bool {
        let (first, window) = required.window();
        let hash = required.hash ^ state_hash.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(32);
        if self.entries.len() * 2 >= self.slots.len() {
            self.grow();
        }
        let mask = self.slots.len() - 1;
        let mut i = Self::slot_of(hash, mask);
        self.compared += 1;
        loop {
            let slot = self.slots[i] as usize;
            if slot == 0 {
                break;
            }
            let e = &self.entries[slot - 1];
            if e.hash == hash
                && e.first as usize == first
                && same_words(&self.keys[e.offset as usize..(e.offset + e.len) as usize], window)
                && e.state == state
            {
                return self.visit_sets(slot - 1, optional.words());
            }
            i = (i + 1) & mask;
        }
        let offset = u32::try_from(self.keys.len()).expect("memo key arena under 2^32 words");
        self.compared += window.len() as u64;
        self.heap += heap;
        self.keys.extend_from_slice(window);
        let entry = Entry { hash, state, offset, first: first as u32, len: window.len() as u32, sets: NONE };
        self.entries.push(entry);
        self.slots[i] = u32::try_from(self.entries.len()).expect("fewer than 2^32 memo entries");
        self.visit_sets(self.entries.len() - 1, optional.words())
    }

    /// Adds `optional` to the entry's sets unless a subset of it is there.
    fn visit_sets(&mut self, entry: usize, optional: &[u64]) -> bool {
        let words = self.optional_words;
        let mut superset = NONE;
        let mut node = self.entries[entry].sets;
        while node != NONE {
            let n = &self.nodes[node as usize];
            self.compared += words as u64;
            let seen = &self.sets[n.offset as usize..n.offset as usize + words];
            if is_subset(seen, optional) {
                return false;
            }
            if superset == NONE && is_subset(optional, seen) {
                superset = node;
            }
            node = n.next;
        }
        if superset != NONE {
            let offset = self.nodes[superset as usize].offset as usize;
            self.sets[offset..offset + words].copy_from_slice(optional);
            return true;
        }
        let offset = u32::try_from(self.sets.len()).expect("memo set arena under 2^32 words");
        self.sets.extend_from_slice(optional);
        self.nodes.push(SetNode { next: self.entries[entry].sets, offset });
        self.entries[entry].sets = (self.nodes.len() - 1) as u32;
        true
    }

    fn slot_of(hash: u64, mask: usize) -> usize {
        (hash.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) as usize & mask
    }

    fn grow(&mut self) {
        self.slots = vec![0; self.slots.len() * 2];
        let mask = self.slots.len() - 1;
        for (index, entry) in self.entries.iter().enumerate() {
            let mut i = Self::slot_of(entry.hash, mask);
            while self.slots[i] != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = index as u32 + 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_track_low_water_and_hash() {
        let mut bits = Bits::new(200);
        for i in [0, 1, 2, 70, 3] {
            bits.insert(i);
        }
        assert_eq!(bits.low, 4);
        assert_eq!(bits.window().0, 0);
        let hash = bits.hash;
        bits.remove(1);
        assert_eq!(bits.low, 1);
        bits.insert(1);
        assert_eq!(bits.hash, hash);
        for i in 4..70 {
            bits.insert(i);
        }
        assert_eq!(bits.low, 71);
        assert_eq!(bits.window(), (1, &[u64::MAX >> 57][..]));
        bits.remove(70);
        assert_eq!(bits.top, 2);
    }

    #[test]
    fn memo_finds_seen_and_dominated() {
        let mut memo: Memo<u32> = Memo::new(3);
        let mut required = Bits::new(100);
        let mut optional = Bits::new(3);
        required.insert(5);
        assert!(memo.visit(&required, &optional, 7, hash_of(&7u32), 0));
        assert!(!memo.visit(&required, &optional, 7, hash_of(&7u32), 0));
        assert!(memo.visit(&required, &optional, 8, hash_of(&8u32), 0));
        optional.insert(1);
        assert!(
            !memo.visit(&required, &optional, 7, hash_of(&7u32), 0),
            "a superset of optional ops is dominated"
        );
        required.insert(6);
        assert!(memo.visit(&required, &optional, 7, hash_of(&7u32), 0));
        optional.remove(1);
        assert!(memo.visit(&required, &optional, 7, hash_of(&7u32), 0), "a subset replaces the entry");
        optional.insert(2);
        assert!(!memo.visit(&required, &optional, 7, hash_of(&7u32), 0));
        for i in 0..5000u32 {
            assert!(memo.visit(&required, &optional, 100 + i, hash_of(&(100 + i)), 0));
        }
    }
}
