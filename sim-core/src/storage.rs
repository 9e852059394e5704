//! Per-node durable storage with explicit `sync`.
//!
//! A node sees its own writes at once, but only writes made durable by
//! [`Storage::sync`] survive a crash. At a crash every unsynced write is lost;
//! when the scenario enables torn writes, the last unsynced write may instead
//! land half-written, and reading that key reports [`StorageError::Corrupt`]
//! (as a checksum would). A protocol that acknowledges before it syncs loses
//! acknowledged data at the next crash, and the checkers see it.

mod bytes;
mod chunks;

use serde::Serialize;
use serde::de::DeserializeOwned;

use self::bytes::Bytes;
use self::chunks::ChunkMap;
use crate::rng::{Probability, SimRng};

/// A stored value, or the remains of a write torn by a crash.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Entry {
    Intact(Bytes),
    Torn,
}

/// An unsynced write, remembered by what it replaced so a crash can undo it.
#[derive(Clone, Debug)]
struct Undo {
    key: Bytes,
    /// The entry the write replaced (`None`: the key was absent).
    before: Option<Entry>,
    /// Whether the write was a put (a crash may tear only a put).
    put: bool,
}

/// Why a read from storage failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StorageError {
    /// The key holds a write torn by a crash.
    #[error("key {key:?} holds a torn write")]
    Corrupt {
        /// The damaged key.
        key: String,
    },
    /// The stored bytes do not decode as the requested type.
    #[error("key {key:?} does not decode: {message}")]
    Decode {
        /// The key.
        key: String,
        /// The decoder's complaint.
        message: String,
    },
}

/// What a crash did to a node's storage, for the trace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct CrashDamage {
    /// Unsynced writes that were lost.
    pub lost_writes: usize,
    /// The key whose write was torn, if any.
    pub torn_key: Option<String>,
}

/// One node's durable storage: a sorted key-value map with explicit sync.
///
/// It holds one map, the node's view, and an undo log of the writes since
/// the last sync: the durable state is the view with those writes undone,
/// so a sync only forgets the log and a crash replays it backwards. Keys
/// and values of up to 24 bytes are kept inline, so such a put allocates
/// nothing, and the map is a list of sorted chunks, so a put in key order
/// costs two short binary searches.
#[derive(Clone, Debug, Default)]
pub struct Storage {
    current: ChunkMap<Entry>,
    pending: Vec<Undo>,
}

impl Storage {
    /// Empty storage.
    pub fn new() -> Storage {
        Storage::default()
    }

    /// Stores `value` under `key` as JSON (visible now, durable after `sync`).
    pub fn put<T: Serialize + ?Sized>(&mut self, key: &str, value: &T) {
        let bytes = serde_json::to_vec(value).expect("storage values serialise to JSON");
        self.put_bytes(key, &bytes);
    }

    /// Stores `bytes` under `key` as they are, for a value with its own
    /// compact encoding (visible now, durable after `sync`); read it back
    /// with [`Storage::get_bytes`] or [`Storage::scan_bytes`].
    pub fn put_bytes(&mut self, key: &str, bytes: &[u8]) {
        let key = Bytes::new(key.as_bytes());
        let before = self.current.insert(key.clone(), Entry::Intact(Bytes::new(bytes)));
        self.pending.push(Undo { key, before, put: true });
    }

    /// Removes `key` (durable after `sync`).
    pub fn delete(&mut self, key: &str) {
        if let Some((key, before)) = self.current.remove_entry(&Bytes::new(key.as_bytes())) {
            self.pending.push(Undo { key, before: Some(before), put: false });
        }
    }

    /// Removes every key that starts with `prefix` and is at or after `from`.
    pub fn delete_from(&mut self, prefix: &str, from: &str) {
        for key in self.keys_from(prefix, from) {
            self.delete(&key);
        }
    }

    /// Reads `key` as JSON: `Ok(None)` if absent, an error if torn or undecodable.
    pub fn get<T: DeserializeOwned>(&self, key: &str) -> Result<Option<T>, StorageError> {
        self.get_bytes(key)?.map(|bytes| decode(key, bytes)).transpose()
    }

    /// Reads `key`'s bytes as stored: `Ok(None)` if absent, an error if torn.
    pub fn get_bytes(&self, key: &str) -> Result<Option<&[u8]>, StorageError> {
        self.current.get(&Bytes::new(key.as_bytes())).map(|entry| intact(key, entry)).transpose()
    }

    /// Every key starting with `prefix`, in key order, with its value decoded from JSON.
    pub fn scan<T: DeserializeOwned>(&self, prefix: &str) -> Result<Vec<(String, T)>, StorageError> {
        self.scan_bytes(prefix).map(|(k, bytes)| Ok((k.to_string(), decode(k, bytes?)?))).collect()
    }

    /// Every key starting with `prefix`, in key order, with its bytes as
    /// stored (an error for a torn one); nothing is decoded or copied.
    pub fn scan_bytes<'a>(
        &'a self,
        prefix: &'a str,
    ) -> impl Iterator<Item = (&'a str, Result<&'a [u8], StorageError>)> + 'a {
        self.with_prefix(prefix, prefix).map(|(k, entry)| (k, intact(k, entry)))
    }

    /// Every key starting with `prefix`, in key order.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        self.keys_from(prefix, prefix)
    }

    /// The keys starting with `prefix` that are at or after `from`.
    fn keys_from(&self, prefix: &str, from: &str) -> Vec<String> {
        self.with_prefix(prefix, from).map(|(k, _)| k.to_string()).collect()
    }

    fn with_prefix<'a>(
        &'a self,
        prefix: &'a str,
        from: &str,
    ) -> impl Iterator<Item = (&'a str, &'a Entry)> + 'a {
        self.current
            .range_from(&Bytes::new(from.as_bytes()))
            .map(|(k, entry)| (k.as_str(), entry))
            .take_while(move |(k, _)| k.starts_with(prefix))
    }

    /// Makes every write so far durable.
    pub fn sync(&mut self) {
        self.pending.clear();
    }

    /// Whether every write so far is durable.
    pub fn is_synced(&self) -> bool {
        self.pending.is_empty()
    }

    /// Applies a crash: unsynced writes are lost; with probability `torn`
    /// the last one, if a put, lands torn instead.
    pub(crate) fn crash(&mut self, torn: Probability, rng: &mut SimRng) -> CrashDamage {
        let mut damage = CrashDamage { lost_writes: self.pending.len(), torn_key: None };
        let mut torn_key = None;
        if let Some(Undo { key, put: true, .. }) = self.pending.last()
            && rng.chance(torn)
        {
            damage.torn_key = Some(key.as_str().to_string());
            damage.lost_writes -= 1;
            torn_key = Some(key.clone());
        }
        for Undo { key, before, .. } in self.pending.drain(..).rev() {
            match before {
                Some(entry) => self.current.insert(key, entry),
                None => self.current.remove(&key),
            };
        }
        if let Some(key) = torn_key {
            self.current.insert(key, Entry::Torn);
        }
        damage
    }
}

/// The bytes of an intact entry; a torn one is corrupt.
fn intact<'a>(key: &str, entry: &'a Entry) -> Result<&'a [u8], StorageError> {
    match entry {
        Entry::Torn => Err(StorageError::Corrupt { key: key.to_string() }),
        Entry::Intact(bytes) => Ok(bytes.as_slice()),
    }
}

fn decode<T: DeserializeOwned>(key: &str, bytes: &[u8]) -> Result<T, StorageError> {
    serde_json::from_slice(bytes)
        .map_err(|e| StorageError::Decode { key: key.to_string(), message: e.to_string() })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::rng::{Seed, Stream};

    fn rng() -> SimRng {
        SimRng::new(Seed(1), Stream::Faults)
    }

    #[test]
    fn reads_see_own_writes_before_sync() {
        let mut s = Storage::new();
        s.put("term", &3u64);
        assert_eq!(s.get::<u64>("term"), Ok(Some(3)));
        assert!(!s.is_synced());
    }

    #[test]
    fn crash_loses_unsynced_writes_only() {
        let mut s = Storage::new();
        s.put("a", &1u64);
        s.sync();
        s.put("a", &2u64);
        s.put("b", &3u64);
        let damage = s.crash(Probability::NEVER, &mut rng());
        assert_eq!(damage, CrashDamage { lost_writes: 2, torn_key: None });
        assert_eq!(s.get::<u64>("a"), Ok(Some(1)));
        assert_eq!(s.get::<u64>("b"), Ok(None));
    }

    #[test]
    fn torn_write_reads_as_corrupt() {
        let mut s = Storage::new();
        s.put("log/1", &"x");
        s.put("log/2", &"y");
        let damage = s.crash(Probability::ALWAYS, &mut rng());
        assert_eq!(damage.torn_key.as_deref(), Some("log/2"));
        assert_eq!(damage.lost_writes, 1);
        assert_eq!(s.get::<String>("log/1"), Ok(None));
        assert_eq!(s.get::<String>("log/2"), Err(StorageError::Corrupt { key: "log/2".into() }));
    }

    #[test]
    fn scan_and_delete_from_respect_prefix() {
        let mut s = Storage::new();
        for i in 1..=5u64 {
            s.put(&format!("log/{i:04}"), &i);
        }
        s.put("logz", &0u64);
        s.delete_from("log/", "log/0004");
        let kept: Vec<u64> = s.scan::<u64>("log/").unwrap().into_iter().map(|(_, v)| v).collect();
        assert_eq!(kept, vec![1, 2, 3]);
        assert_eq!(s.get::<u64>("logz"), Ok(Some(0)));
        s.sync();
        s.crash(Probability::NEVER, &mut rng());
        assert_eq!(s.scan::<u64>("log/").unwrap().len(), 3, "synced deletes are durable");
    }

    /// The storage before the undo log: a durable map the sync replays
    /// writes into and a crash copies back. The undo log must match it.
    #[derive(Default)]
    struct TwoMaps {
        durable: BTreeMap<String, Entry>,
        current: BTreeMap<String, Entry>,
        pending: Vec<(String, Option<Entry>)>,
    }

    impl TwoMaps {
        fn write(&mut self, key: &str, entry: Option<Entry>) {
            match &entry {
                Some(e) => self.current.insert(key.to_string(), e.clone()),
                None => self.current.remove(key),
            };
            self.pending.push((key.to_string(), entry));
        }

        fn sync(&mut self) {
            for (key, entry) in self.pending.drain(..) {
                match entry {
                    Some(e) => self.durable.insert(key, e),
                    None => self.durable.remove(&key),
                };
            }
        }

        fn crash(&mut self, torn: bool) -> CrashDamage {
            let mut damage = CrashDamage { lost_writes: self.pending.len(), torn_key: None };
            if let Some((key, Some(_))) = self.pending.last()
                && torn
            {
                damage.torn_key = Some(key.clone());
                damage.lost_writes -= 1;
                self.durable.insert(key.clone(), Entry::Torn);
            }
            self.pending.clear();
            self.current = self.durable.clone();
            damage
        }
    }

    proptest::proptest! {
        #[test]
        fn undo_log_matches_two_maps(steps in proptest::collection::vec((0u8..5, 0u8..6, proptest::bool::ANY), 0..80)) {
            let mut storage = Storage::new();
            let mut model = TwoMaps::default();
            let mut rng = rng();
            for (i, (action, key, torn)) in steps.into_iter().enumerate() {
                // Odd keys are too long to be kept inline.
                let key = if key.is_multiple_of(2) { format!("k/{key}") } else { format!("k/{key}/{}", "x".repeat(30)) };
                match action {
                    0 | 1 => {
                        storage.put(&key, &i);
                        model.write(&key, Some(Entry::Intact(Bytes::new(i.to_string().as_bytes()))));
                    }
                    2 => {
                        if model.current.contains_key(&key) {
                            model.write(&key, None);
                        }
                        storage.delete(&key);
                    }
                    3 => {
                        storage.sync();
                        model.sync();
                    }
                    _ => {
                        let chance = if torn { Probability::ALWAYS } else { Probability::NEVER };
                        proptest::prop_assert_eq!(storage.crash(chance, &mut rng), model.crash(torn));
                    }
                }
                let current: BTreeMap<String, Entry> =
                    storage.current.iter().map(|(k, e)| (k.as_str().to_string(), e.clone())).collect();
                proptest::prop_assert_eq!(&current, &model.current);
                proptest::prop_assert_eq!(storage.is_synced(), model.pending.is_empty());
            }
        }
    }
}
