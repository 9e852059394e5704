//! How a log entry is stored: a few bytes, not JSON.
//!
//! Every appended entry is written once per server and every entry is read
//! again at each restart, so the encoding is a tag byte (what the command
//! is) and then varints: the term, and for a client's command the client,
//! its sequence number, the register and the command's operands (signed
//! numbers zigzag-encoded). A typical entry takes eight bytes and is kept
//! inline by storage.

use sim_core::NodeId;

use super::log::Entry;
use super::message::Cmd;
use crate::register::Command;

/// Room for the longest entry: a tag and six varints of at most ten bytes.
pub(super) const ENCODED_MAX: usize = 1 + 6 * 10;

const NOOP: u8 = 0;
const READ: u8 = 1;
const WRITE: u8 = 2;
const CAS: u8 = 3;

/// Writes `entry` into `buf`; returns how many bytes it took.
pub(super) fn encode(entry: &Entry, buf: &mut [u8; ENCODED_MAX]) -> usize {
    let mut out = Writer { buf, len: 0 };
    match &entry.cmd {
        Cmd::Noop => {
            out.byte(NOOP);
            out.varint(entry.term);
        }
        Cmd::Client { client, seq, key, command } => {
            let tag = match command {
                Command::Read => READ,
                Command::Write(_) => WRITE,
                Command::Cas(..) => CAS,
            };
            out.byte(tag);
            out.varint(entry.term);
            out.varint(u64::from(client.0));
            out.varint(*seq);
            out.signed(*key);
            match *command {
                Command::Read => {}
                Command::Write(value) => out.signed(value),
                Command::Cas(from, to) => {
                    out.signed(from);
                    out.signed(to);
                }
            }
        }
    }
    out.len
}

/// The entry `bytes` encode, or `None` if they are not one (and nothing more).
pub(super) fn decode(bytes: &[u8]) -> Option<Entry> {
    let mut input = Reader { bytes };
    let tag = input.byte()?;
    let term = input.varint()?;
    let cmd = if tag == NOOP {
        Cmd::Noop
    } else {
        let client = NodeId(u32::try_from(input.varint()?).ok()?);
        let (seq, key) = (input.varint()?, input.signed()?);
        let command = match tag {
            READ => Command::Read,
            WRITE => Command::Write(input.signed()?),
            CAS => Command::Cas(input.signed()?, input.signed()?),
            _ => return None,
        };
        Cmd::Client { client, seq, key, command }
    };
    input.bytes.is_empty().then_some(Entry { term, cmd })
}

struct Writer<'a> {
    buf: &'a mut [u8; ENCODED_MAX],
    len: usize,
}

impl Writer<'_> {
    fn byte(&mut self, byte: u8) {
        self.buf[self.len] = byte;
        self.len += 1;
    }

    /// Seven bits a byte, low first; the high bit says more follow.
    fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.byte(value as u8 | 0x80);
            value >>= 7;
        }
        self.byte(value as u8);
    }

    /// Zigzag: 0, -1, 1, -2, … as 0, 1, 2, 3, …, so small magnitudes stay short.
    fn signed(&mut self, value: i64) {
        self.varint(((value << 1) ^ (value >> 63)) as u64);
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
}

impl Reader<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&first, rest) = self.bytes.split_first()?;
        self.bytes = rest;
        Some(first)
    }

    fn varint(&mut self) -> Option<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f).checked_shl(shift)?;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }

    fn signed(&mut self) -> Option<i64> {
        let zigzag = self.varint()?;
        Some((zigzag >> 1) as i64 ^ -((zigzag & 1) as i64))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(entry: Entry) {
        let mut buf = [0; ENCODED_MAX];
        let len = encode(&entry, &mut buf);
        assert_eq!(decode(&buf[..len]), Some(entry.clone()), "{entry:?}");
        assert_eq!(decode(&buf[..len - 1]), None, "a short entry does not decode");
    }

    #[test]
    fn entries_round_trip() {
        round_trip(Entry { term: 0, cmd: Cmd::Noop });
        round_trip(Entry { term: u64::MAX, cmd: Cmd::Noop });
        for command in
            [Command::Read, Command::Write(i64::MIN), Command::Cas(-1, i64::MAX), Command::Write(0)]
        {
            for (client, seq, key) in [(0, 0, 0), (u32::MAX, u64::MAX, i64::MIN), (7, 300, -65)] {
                round_trip(Entry {
                    term: 129,
                    cmd: Cmd::Client { client: NodeId(client), seq, key, command: command.clone() },
                });
            }
        }
    }

    #[test]
    fn a_typical_entry_is_short() {
        let cmd = Cmd::Client { client: NodeId(6), seq: 41, key: 2, command: Command::Cas(3, 4) };
        assert_eq!(encode(&Entry { term: 12, cmd }, &mut [0; ENCODED_MAX]), 7);
    }

    #[test]
    fn rejects_what_is_not_an_entry() {
        assert_eq!(decode(&[]), None);
        assert_eq!(decode(&[9, 1, 1, 1, 1]), None, "unknown tag");
        assert_eq!(decode(&[NOOP, 1, 0]), None, "trailing byte");
        assert_eq!(decode(&[NOOP, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), None);
    }
}
