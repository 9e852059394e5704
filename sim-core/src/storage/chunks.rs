//! A sorted map kept as a list of short sorted runs ("chunks").
//!
//! Storage keys mostly arrive in order (a log appends `log/<index>` one
//! after another), where a `BTreeMap` walks from the root and compares
//! against most keys of every node on the way down, a few dozen comparisons
//! per insert. Here a lookup is two binary searches, one over the chunks'
//! last keys and one inside a chunk, and an insert shifts at most a chunk;
//! a chunk that grows past [`CHUNK`] entries is split in two (where the new
//! key went, if that was at its end, so keys in order fill whole chunks).

use super::bytes::Bytes;

/// The most entries in one chunk.
const CHUNK: usize = 64;

/// One sorted run of entries.
type Chunk<V> = Vec<(Bytes, V)>;

/// Keys in order with their values. Invariants: no chunk is empty, each is
/// sorted, and every key of a chunk is below every key of the next.
#[derive(Clone, Debug)]
pub(super) struct ChunkMap<V> {
    chunks: Vec<Chunk<V>>,
}

impl<V> Default for ChunkMap<V> {
    fn default() -> ChunkMap<V> {
        ChunkMap { chunks: Vec::new() }
    }
}

impl<V> ChunkMap<V> {
    /// The chunk that holds `key` or would hold it: the first whose last key
    /// is at or after it, else the last chunk (`None` if there are none).
    /// Keys arriving in order belong in the last chunk: that is tried first.
    fn chunk_for(&self, key: &Bytes) -> Option<usize> {
        let last = self.chunks.len().checked_sub(1)?;
        if last == 0 || last_key(&self.chunks[last - 1]) < key {
            return Some(last);
        }
        Some(self.chunks.partition_point(|chunk| last_key(chunk) < key).min(last))
    }

    /// Where `key` is (`Ok`) or would go (`Err`) in chunk `chunk`. Keys
    /// arriving in order go at the end or just before the last key (such as
    /// `meta` after `log/…`): those two places are tried first.
    fn position(&self, chunk: usize, key: &Bytes) -> Result<usize, usize> {
        let entries = self.chunks[chunk].as_slice();
        match entries {
            [.., (last, _)] if last < key => return Err(entries.len()),
            [.., (before, _), (last, _)] if before < key && key < last => return Err(entries.len() - 1),
            _ => {}
        }
        entries.binary_search_by(|(k, _)| k.cmp(key))
    }

    /// The value under `key`.
    pub fn get(&self, key: &Bytes) -> Option<&V> {
        let chunk = self.chunk_for(key)?;
        let at = self.position(chunk, key).ok()?;
        Some(&self.chunks[chunk][at].1)
    }

    /// Puts `value` under `key`, returning the value it replaced.
    pub fn insert(&mut self, key: Bytes, value: V) -> Option<V> {
        let Some(chunk) = self.chunk_for(&key) else {
            self.chunks.push(new_chunk());
            self.chunks[0].push((key, value));
            return None;
        };
        match self.position(chunk, &key) {
            Ok(at) => Some(std::mem::replace(&mut self.chunks[chunk][at].1, value)),
            Err(at) => {
                let entries = &mut self.chunks[chunk];
                entries.insert(at, (key, value));
                if entries.len() > CHUNK {
                    // Keys arriving in order land at the end (or just before
                    // a last key such as `meta`): keep the full chunk whole.
                    let cut = if at + 2 >= entries.len() { at } else { entries.len() / 2 };
                    let mut upper = new_chunk();
                    upper.extend(entries.drain(cut..));
                    self.chunks.insert(chunk + 1, upper);
                }
                None
            }
        }
    }

    /// Removes `key`, returning it and its value.
    pub fn remove_entry(&mut self, key: &Bytes) -> Option<(Bytes, V)> {
        let chunk = self.chunk_for(key)?;
        let at = self.position(chunk, key).ok()?;
        let entry = self.chunks[chunk].remove(at);
        if self.chunks[chunk].is_empty() {
            self.chunks.remove(chunk);
        }
        Some(entry)
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, key: &Bytes) -> Option<V> {
        self.remove_entry(key).map(|(_, value)| value)
    }

    /// Every entry from the first key at or after `from`, in key order.
    pub fn range_from<'a>(&'a self, from: &Bytes) -> impl Iterator<Item = (&'a Bytes, &'a V)> + use<'a, V> {
        let chunk = self.chunks.partition_point(|chunk| last_key(chunk) < from);
        let (first, rest): (&[(Bytes, V)], &[Chunk<V>]) = match self.chunks.get(chunk) {
            Some(entries) => {
                (&entries[entries.partition_point(|(k, _)| k < from)..], &self.chunks[chunk + 1..])
            }
            None => (&[], &[]),
        };
        first.iter().chain(rest.iter().flatten()).map(|(k, v)| (k, v))
    }

    /// Every entry, in key order.
    #[cfg(test)]
    pub fn iter(&self) -> impl Iterator<Item = (&Bytes, &V)> {
        self.chunks.iter().flatten().map(|(k, v)| (k, v))
    }
}

/// An empty chunk with room for one entry past [`CHUNK`], so it never reallocates.
fn new_chunk<V>() -> Chunk<V> {
    Vec::with_capacity(CHUNK + 1)
}

fn last_key<V>(chunk: &[(Bytes, V)]) -> &Bytes {
    &chunk.last().expect("no chunk is empty").0
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn key(n: u16) -> Bytes {
        // Some keys are too long to be kept inline, and many share a prefix.
        let text =
            if n.is_multiple_of(5) { format!("k/{n:04}/{}", "x".repeat(30)) } else { format!("k/{n:04}") };
        Bytes::new(text.as_bytes())
    }

    proptest::proptest! {
        #[test]
        fn matches_a_btree_map(ops in proptest::collection::vec((0u8..4, 0u16..300), 0..600)) {
            let mut map = ChunkMap::default();
            let mut model = BTreeMap::new();
            for (i, (op, n)) in ops.into_iter().enumerate() {
                match op {
                    0 | 1 => proptest::prop_assert_eq!(map.insert(key(n), i), model.insert(key(n), i)),
                    2 => proptest::prop_assert_eq!(map.remove_entry(&key(n)), model.remove_entry(&key(n))),
                    _ => {
                        let from = key(n);
                        let got: Vec<_> = map.range_from(&from).collect();
                        let want: Vec<_> = model.range(from..).collect();
                        proptest::prop_assert_eq!(got, want);
                    }
                }
                proptest::prop_assert_eq!(map.get(&key(n)), model.get(&key(n)));
                proptest::prop_assert!(map.chunks.iter().all(|c| !c.is_empty() && c.len() <= CHUNK && c.is_sorted_by(|a, b| a.0 < b.0)));
                let all: Vec<_> = map.iter().collect();
                proptest::prop_assert_eq!(all, model.iter().collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn appends_in_order_split_chunks() {
        let mut map = ChunkMap::default();
        for n in 0..1000 {
            map.insert(key(n), n);
        }
        assert_eq!(map.chunks.len(), 1000 / CHUNK + 1, "keys in order fill whole chunks");
        assert_eq!(map.range_from(&key(998)).map(|(_, v)| *v).collect::<Vec<_>>(), [998, 999]);
        assert_eq!(map.range_from(&Bytes::new(b"l")).count(), 0);
    }
}
