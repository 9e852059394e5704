//! Short byte strings kept inline: storage's keys and values.
//!
//! Nearly every key and value the protocols store fits in [`INLINE`] bytes
//! (`log/` and a 20-digit index is 24), so a put allocates nothing for
//! either, and two inline keys compare as three words and a length instead
//! of through a `memcmp` call: a map insert makes a few dozen comparisons.

use std::cmp::Ordering;
use std::fmt;

/// The longest byte string kept inline.
const INLINE: usize = 24;

/// A byte string, inline up to [`INLINE`] bytes, on the heap beyond;
/// equal and ordered exactly as its bytes are.
#[derive(Clone)]
pub(super) enum Bytes {
    Inline { len: u8, buf: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl Bytes {
    /// A copy of `bytes`.
    pub fn new(bytes: &[u8]) -> Bytes {
        if bytes.len() <= INLINE {
            let mut buf = [0; INLINE];
            buf[..bytes.len()].copy_from_slice(bytes);
            Bytes::Inline { len: bytes.len() as u8, buf }
        } else {
            Bytes::Heap(bytes.into())
        }
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        match self {
            Bytes::Inline { len, buf } => &buf[..usize::from(*len)],
            Bytes::Heap(bytes) => bytes,
        }
    }

    /// The bytes as the string they were made from (keys are `&str`).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_slice()).expect("storage keys are made from strings")
    }
}

impl PartialEq for Bytes {
    fn eq(&self, other: &Bytes) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for Bytes {}

impl PartialOrd for Bytes {
    #[inline]
    fn partial_cmp(&self, other: &Bytes) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Bytes {
    #[inline]
    fn cmp(&self, other: &Bytes) -> Ordering {
        match (self, other) {
            (Bytes::Inline { len: a, buf: x }, Bytes::Inline { len: b, buf: y }) => {
                compare_inline((x, *a), (y, *b))
            }
            _ => self.as_slice().cmp(other.as_slice()),
        }
    }
}

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match std::str::from_utf8(self.as_slice()) {
            Ok(text) => write!(f, "{text:?}"),
            Err(_) => write!(f, "{:?}", self.as_slice()),
        }
    }
}

/// Lexicographic order of two inline byte strings, each zero-padded to
/// [`INLINE`] bytes. Big-endian words order as their bytes do, so the
/// padded strings compare as three words; where those are equal, one
/// string is the other with zeros appended, and the shorter comes first.
#[inline]
fn compare_inline((x, a): (&[u8; INLINE], u8), (y, b): (&[u8; INLINE], u8)) -> Ordering {
    let word =
        |buf: &[u8; INLINE], at: usize| u64::from_be_bytes(buf[at..at + 8].try_into().expect("eight bytes"));
    word(x, 0)
        .cmp(&word(y, 0))
        .then_with(|| word(x, 8).cmp(&word(y, 8)))
        .then_with(|| word(x, 16).cmp(&word(y, 16)))
        .then(a.cmp(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #[test]
        fn orders_as_slices(a in proptest::collection::vec(0u8..3, 0..30), b in proptest::collection::vec(0u8..3, 0..30)) {
            let (x, y) = (Bytes::new(&a), Bytes::new(&b));
            proptest::prop_assert_eq!(x.cmp(&y), a.cmp(&b));
            proptest::prop_assert_eq!(x == y, a == b);
            proptest::prop_assert_eq!(x.as_slice(), &a[..]);
        }
    }

    #[test]
    fn long_prefixes_and_lengths() {
        let keys =
            ["log/00000000000000000009", "log/00000000000000000010", "log/", "log", "logz", "meta", ""];
        for a in keys {
            for b in keys {
                assert_eq!(Bytes::new(a.as_bytes()).cmp(&Bytes::new(b.as_bytes())), a.cmp(b), "{a} {b}");
            }
        }
        assert_eq!(Bytes::new(&[7; 25]).as_slice(), &[7; 25], "past the inline length");
        assert_eq!(Bytes::new(&[0, 0]).cmp(&Bytes::new(&[0])), Ordering::Greater, "zeros are not padding");
    }
}
