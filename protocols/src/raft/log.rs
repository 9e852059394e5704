//! The durable state: term and vote under `meta`, the log under `log/<index>`.
//!
//! The in-memory [`Log`] mirrors storage exactly; every change writes storage
//! first-hand, and the server decides when to sync.

use serde::{Deserialize, Serialize};
use sim_core::{NodeId, Storage};

use super::codec::{self, ENCODED_MAX};
use super::message::Cmd;

const META: &str = "meta";
const LOG_PREFIX: &str = "log/";

/// One log entry: the term it was created in and its command.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Entry {
    /// The leader's term when it appended the entry.
    pub term: u64,
    /// The command.
    pub cmd: Cmd,
}

/// Term and vote, written together so they are never torn apart.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Meta {
    pub term: u64,
    pub voted_for: Option<NodeId>,
}

impl Meta {
    /// Reads term and vote. Every meta write is synced in the step that makes
    /// it, so a crash cannot tear it; should it happen anyway, the safest
    /// reading is "voted for myself" in the newest term the log proves.
    pub fn load(storage: &Storage, me: NodeId, log: &Log) -> Meta {
        match storage.get::<Meta>(META) {
            Ok(meta) => meta.unwrap_or_default(),
            Err(_) => Meta { term: log.last_term(), voted_for: Some(me) },
        }
    }

    /// Writes term and vote (durable after the caller syncs).
    pub fn save(&self, storage: &mut Storage) {
        storage.put(META, self);
    }
}

const KEY_LEN: usize = LOG_PREFIX.len() + 20;

/// `log/` and the index in 20 digits, so key order is index order. Written
/// by hand into a buffer: it runs for every entry appended and loaded, and
/// `format!`'s padding goes through the formatter one character at a time.
struct Key([u8; KEY_LEN]);

impl Key {
    fn new(index: u64) -> Key {
        let mut key = [b'0'; KEY_LEN];
        key[..LOG_PREFIX.len()].copy_from_slice(LOG_PREFIX.as_bytes());
        let mut rest = index;
        for digit in key[LOG_PREFIX.len()..].iter_mut().rev() {
            *digit = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        Key(key)
    }

    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("ASCII digits")
    }
}

/// The log, indexed from 1; index 0 is the empty prefix with term 0.
#[derive(Clone, Debug, Default)]
pub struct Log {
    entries: Vec<Entry>,
    /// How many truncations this log has had, and the index of the latest,
    /// so checkers can tell which entries may have been replaced.
    truncations: (u64, u64),
}

impl Log {
    /// Rebuilds the log from storage, truncating at the first torn or missing
    /// entry (a torn entry was never synced, so never acknowledged).
    /// Returns the log and whether storage had to be repaired.
    pub(crate) fn load(storage: &mut Storage) -> (Log, bool) {
        let mut log = Log::default();
        let mut damaged = None;
        for (name, bytes) in storage.scan_bytes(LOG_PREFIX) {
            let expected = name == Key::new(log.last_index() + 1).as_str();
            match bytes.ok().filter(|_| expected).and_then(codec::decode) {
                Some(entry) => log.entries.push(entry),
                None => {
                    damaged = Some(name.to_string());
                    break;
                }
            }
        }
        let Some(name) = damaged else { return (log, false) };
        storage.delete_from(LOG_PREFIX, &name);
        (log, true)
    }

    /// Index of the last entry (0 if empty).
    pub fn last_index(&self) -> u64 {
        self.entries.len() as u64
    }

    /// Term of the last entry (0 if empty).
    pub fn last_term(&self) -> u64 {
        self.entries.last().map_or(0, |e| e.term)
    }

    /// Term of the entry at `index`; `Some(0)` for index 0, `None` past the end.
    pub fn term_at(&self, index: u64) -> Option<u64> {
        if index == 0 { Some(0) } else { self.get(index).map(|e| e.term) }
    }

    /// The entry at `index`, if there is one.
    pub fn get(&self, index: u64) -> Option<&Entry> {
        let position = usize::try_from(index.checked_sub(1)?).ok()?;
        self.entries.get(position)
    }

    /// Every entry, index 1 first.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Up to `count` entries starting at index `from`.
    pub fn slice(&self, from: u64, count: usize) -> Vec<Entry> {
        let start = (from.max(1) - 1) as usize;
        self.entries.iter().skip(start).take(count).cloned().collect()
    }

    /// The first index of the run of entries with the term of entry `index`.
    pub fn term_start(&self, index: u64) -> u64 {
        let Some(term) = self.term_at(index) else { return self.last_index() + 1 };
        let mut first = index;
        while first > 1 && self.term_at(first - 1) == Some(term) {
            first -= 1;
        }
        first
    }

    /// Appends `entry` in memory and in storage.
    pub(crate) fn append(&mut self, storage: &mut Storage, entry: Entry) {
        let mut bytes = [0; ENCODED_MAX];
        let len = codec::encode(&entry, &mut bytes);
        storage.put_bytes(Key::new(self.last_index() + 1).as_str(), &bytes[..len]);
        self.entries.push(entry);
    }

    /// Drops every entry from `index` on, in memory and in storage.
    pub(crate) fn truncate_from(&mut self, storage: &mut Storage, index: u64) {
        assert!(index >= 1, "index={index} the empty prefix cannot be truncated");
        storage.delete_from(LOG_PREFIX, Key::new(index).as_str());
        self.entries.truncate((index - 1) as usize);
        self.truncations = (self.truncations.0 + 1, index);
    }

    /// The number of truncations so far and the index of the latest.
    pub fn truncations(&self) -> (u64, u64) {
        self.truncations
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::register::Command;

    #[test]
    fn entries_survive_storage() {
        let entries = [
            Entry { term: 3, cmd: Cmd::Noop },
            Entry {
                term: 4,
                cmd: Cmd::Client { client: NodeId(7), seq: 2, key: -1, command: Command::Cas(1, 2) },
            },
            Entry { term: 4, cmd: Cmd::Client { client: NodeId(8), seq: 9, key: 0, command: Command::Read } },
        ];
        let mut storage = Storage::new();
        let mut log = Log::default();
        for entry in entries.clone() {
            log.append(&mut storage, entry);
        }
        assert_eq!(storage.get_bytes(Key::new(1).as_str()).unwrap().unwrap(), [0, 3], "a no-op of term 3");
        let (loaded, repaired) = Log::load(&mut storage);
        assert!(!repaired);
        assert_eq!(loaded.entries(), entries);
    }

    #[test]
    fn keys_are_zero_padded_indexes() {
        for index in [0, 1, 9, 10, 12_345, u64::MAX] {
            assert_eq!(Key::new(index).as_str(), format!("{LOG_PREFIX}{index:020}"));
        }
    }
}
