//! Key-value store with get, put and append (Porcupine's kv model).
//!
//! Per key a string, initially empty: put sets it, append concatenates, get
//! must return it (nil reads as empty). A string is represented by its length
//! and two polynomial hashes, so appending is
//! O(1) and states are three words: one hash modulo the Mersenne prime
//! 2^61-1, one modulo 2^64 (cheap, and independent of the first). Two
//! different strings of equal length collide with probability about len/2^61
//! per comparison even for the first hash alone.
//! [`Kv`] checks each key alone; [`KvMap`] checks the whole map at once.

use crate::check::model::{Interner, Model, ModelError, Prepared};
use crate::history::{Operation, RecordType, Value};

const PRIME: u64 = (1 << 61) - 1;
const BASE_1: u64 = 0x0123_4567_89ab_cdef % PRIME;
const BASE_2: u64 = 0x1fed_cba9_8765_4321;

/// A string as its length and two hashes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct StrHash {
    len: u32,
    h1: u64,
    h2: u64,
}

const fn mul_mod(a: u64, b: u64) -> u64 {
    let r = (a as u128) * (b as u128);
    let s = (r as u64 & PRIME) + (r >> 61) as u64;
    if s >= PRIME { s - PRIME } else { s }
}

const fn add_mod(a: u64, b: u64) -> u64 {
    let s = a + b;
    if s >= PRIME { s - PRIME } else { s }
}

/// `DIGITS[k][c]` is `(c + 1) * B^(3 - k)` for both hashes, so four bytes
/// fold into the hash with one multiplication: `h * B^4 + sum of DIGITS`.
const DIGITS_1: [[u64; 256]; 4] = digit_table(true);
const DIGITS_2: [[u64; 256]; 4] = digit_table(false);
const BASE_1_POW4: u64 = mul_mod(mul_mod(BASE_1, BASE_1), mul_mod(BASE_1, BASE_1));
const BASE_2_POW4: u64 = BASE_2.wrapping_mul(BASE_2).wrapping_mul(BASE_2).wrapping_mul(BASE_2);

const fn digit_table(modular: bool) -> [[u64; 256]; 4] {
    let mut table = [[0; 256]; 4];
    let mut k = 0;
    while k < 4 {
        let mut c = 0;
        while c < 256 {
            let mut v = c as u64 + 1;
            let mut i = k;
            while i < 3 {
                v = if modular { mul_mod(v, BASE_1) } else { v.wrapping_mul(BASE_2) };
                i += 1;
            }
            table[k][c] = v;
            c += 1;
        }
        k += 1;
    }
    table
}

impl StrHash {
    fn of(text: &str) -> StrHash {
        let mut h = StrHash::default();
        let bytes = text.as_bytes();
        let mut chunks = bytes.chunks_exact(4);
        for chunk in &mut chunks {
            let mut sum1 = 0;
            let mut sum2: u64 = 0;
            for (k, &byte) in chunk.iter().enumerate() {
                sum1 = add_mod(sum1, DIGITS_1[k][byte as usize]);
                sum2 = sum2.wrapping_add(DIGITS_2[k][byte as usize]);
            }
            h.h1 = add_mod(mul_mod(h.h1, BASE_1_POW4), sum1);
            h.h2 = h.h2.wrapping_mul(BASE_2_POW4).wrapping_add(sum2);
        }
        for &byte in chunks.remainder() {
            h.h1 = add_mod(mul_mod(h.h1, BASE_1), u64::from(byte) + 1);
            h.h2 = h.h2.wrapping_mul(BASE_2).wrapping_add(u64::from(byte) + 1);
        }
        h.len = u32::try_from(text.len()).expect("strings shorter than 4 GiB");
        h
    }
}

/// A string to append: its hash and the bases raised to its length.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Suffix {
    hash: StrHash,
    pow1: u64,
    pow2: u64,
}

impl Suffix {
    fn of(text: &str) -> Suffix {
        let (mut pow1, mut pow2) = (1, 1);
        for _ in 0..text.len() {
            pow1 = mul_mod(pow1, BASE_1);
            pow2 = u64::wrapping_mul(pow2, BASE_2);
        }
        Suffix { hash: StrHash::of(text), pow1, pow2 }
    }

    fn append_to(&self, s: StrHash) -> StrHash {
        StrHash {
            len: s.len + self.hash.len,
            h1: add_mod(mul_mod(s.h1, self.pow1), self.hash.h1),
            h2: s.h2.wrapping_mul(self.pow2).wrapping_add(self.hash.h2),
        }
    }
}

/// A prepared key-value operation on the key with interned id `key`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KvOp {
    /// A get that returned this string.
    Get(u32, StrHash),
    /// A put of this string.
    Put(u32, StrHash),
    /// An append of this string.
    Append(u32, Suffix),
}

/// The key-value model, split per key.
#[derive(Clone, Copy, Debug, Default)]
pub struct Kv;

/// The key-value model over the whole map, not split.
#[derive(Clone, Copy, Debug, Default)]
pub struct KvMap;

fn text<'a>(name: &str, op: &Operation, value: &'a Value) -> Result<&'a str, ModelError> {
    match value {
        Value::Nil => Ok(""),
        Value::Str(s) => Ok(s),
        _ => Err(ModelError::new(name, op, value, "a string")),
    }
}

/// Prepares a kv operation; `whole_map` numbers its key (a split part needs no key).
fn prepare_kv(
    name: &str,
    op: &Operation,
    values: &mut Interner,
    whole_map: bool,
) -> Result<Prepared<KvOp>, ModelError> {
    let key = if whole_map { values.id(op.key.as_ref().unwrap_or(&Value::Nil)) } else { 0 };
    if op.kind == RecordType::Fail {
        return Ok(Prepared::Skip);
    }
    let kv_op = match op.f.as_str() {
        "get" | "read" if op.kind == RecordType::Ok => {
            KvOp::Get(key, StrHash::of(text(name, op, &op.result)?))
        }
        "get" | "read" => return Ok(Prepared::Skip),
        "put" | "write" => {
            let s = text(name, op, &op.argument)?;
            values.id(&Value::Str(s.to_string()));
            KvOp::Put(key, StrHash::of(s))
        }
        "append" => KvOp::Append(key, Suffix::of(text(name, op, &op.argument)?)),
        _ => return Err(ModelError::new(name, op, &op.argument, "f get, put or append")),
    };
    Ok(Prepared::Op(kv_op))
}

fn step_string(s: StrHash, op: &KvOp) -> Option<StrHash> {
    match op {
        KvOp::Get(_, v) => (s == *v).then_some(s),
        KvOp::Put(_, v) => Some(*v),
        KvOp::Append(_, suffix) => Some(suffix.append_to(s)),
    }
}

fn describe_string(s: StrHash, values: &Interner) -> String {
    let known = (0..values.len() as u32)
        .map(|id| values.value(id))
        .find(|v| v.as_str().is_some_and(|t| StrHash::of(t) == s));
    match known {
        Some(v) => v.to_string(),
        None => format!("<a string of {} bytes>", s.len),
    }
}

impl Model for Kv {
    type State = StrHash;
    type Op = KvOp;

    fn name(&self) -> &str {
        "kv"
    }

    fn init(&self, _values: &mut Interner) -> StrHash {
        StrHash::default()
    }

    fn prepare(&self, op: &Operation, values: &mut Interner) -> Result<Prepared<KvOp>, ModelError> {
        prepare_kv(self.name(), op, values, false)
    }

    fn step(&self, state: &StrHash, op: &KvOp) -> Option<StrHash> {
        step_string(*state, op)
    }

    fn part(&self, op: &Operation) -> Option<Value> {
        op.key.clone()
    }

    fn describe(&self, state: &StrHash, values: &Interner) -> String {
        describe_string(*state, values)
    }
}

impl Model for KvMap {
    /// One string per interned key id; trailing empty strings are trimmed so
    /// equal maps have equal states.
    type State = Vec<StrHash>;
    type Op = KvOp;

    fn name(&self) -> &str {
        "kv-map"
    }

    fn init(&self, _values: &mut Interner) -> Vec<StrHash> {
        Vec::new()
    }

    fn prepare(&self, op: &Operation, values: &mut Interner) -> Result<Prepared<KvOp>, ModelError> {
        prepare_kv(self.name(), op, values, true)
    }

    fn step(&self, state: &Vec<StrHash>, op: &KvOp) -> Option<Vec<StrHash>> {
        let (KvOp::Get(key, _) | KvOp::Put(key, _) | KvOp::Append(key, _)) = *op;
        let key = key as usize;
        let current = state.get(key).copied().unwrap_or_default();
        let next = step_string(current, op)?;
        if next == current {
            return Some(state.clone());
        }
        let mut state = state.clone();
        if state.len() <= key {
            state.resize(key + 1, StrHash::default());
        }
        state[key] = next;
        while state.last() == Some(&StrHash::default()) {
            state.pop();
        }
        Some(state)
    }

    fn state_bytes(&self, state: &Vec<StrHash>) -> usize {
        state.capacity() * std::mem::size_of::<StrHash>()
    }

    fn describe(&self, state: &Vec<StrHash>, values: &Interner) -> String {
        let entries: Vec<String> = (0..state.len())
            .filter(|&k| state[k] != StrHash::default())
            .map(|k| format!("{} {}", values.value(k as u32), describe_string(state[k], values)))
            .collect();
        format!("{{{}}}", entries.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::models::test_op;

    #[test]
    fn chunked_hash_equals_byte_by_byte() {
        let text = "x 12 345 yx 0 0 y\u{e9}";
        let (mut h1, mut h2) = (0, 0u64);
        for &byte in text.as_bytes() {
            h1 = add_mod(mul_mod(h1, BASE_1), u64::from(byte) + 1);
            h2 = h2.wrapping_mul(BASE_2).wrapping_add(u64::from(byte) + 1);
        }
        assert_eq!(StrHash::of(text), StrHash { len: text.len() as u32, h1, h2 });
    }

    #[test]
    fn append_hash_equals_hash_of_concatenation() {
        let s = Suffix::of(" world").append_to(StrHash::of("hello"));
        assert_eq!(s, StrHash::of("hello world"));
        assert_ne!(s, StrHash::of("hello worle"));
        assert_eq!(Suffix::of("").append_to(s), s);
    }

    #[test]
    fn map_state_is_canonical() {
        let mut values = Interner::new();
        let mut op = test_op("put", RecordType::Ok, "v".into(), Value::Nil);
        op.key = Some("k".into());
        let Prepared::Op(put) = KvMap.prepare(&op, &mut values).unwrap() else { panic!() };
        op.argument = "".into();
        let Prepared::Op(clear) = KvMap.prepare(&op, &mut values).unwrap() else { panic!() };
        let s = KvMap.step(&Vec::new(), &put).unwrap();
        assert_eq!(KvMap.describe(&s, &values), r#"{"k" "v"}"#);
        assert_eq!(KvMap.step(&s, &clear).unwrap(), Vec::new());
    }
}
