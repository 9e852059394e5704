//! Several registers read and written together in one `txn` of micro-ops
//! (Knossos' multi-register): `[[:read :x 1] [:write :y 2]]`, applied left to
//! right atomically. A micro-op read of nil is unknown and always legal.

use std::collections::BTreeMap;

use crate::check::model::{Interner, Model, ModelError, Prepared};
use crate::history::{Operation, RecordType, Value};

/// Registers keyed by name, with initial values (absent keys start nil).
#[derive(Clone, Debug, Default)]
pub struct MultiRegister {
    init: BTreeMap<String, Value>,
}

/// A prepared transaction: micro-ops `(is_write, key id, value id)` in order.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MultiRegisterOp(Vec<(bool, u32, u32)>);

impl MultiRegister {
    /// Registers with these initial values.
    pub fn new(init: BTreeMap<String, Value>) -> MultiRegister {
        MultiRegister { init }
    }

    fn micro_op(
        &self,
        op: &Operation,
        micro: &Value,
        known: bool,
        values: &mut Interner,
    ) -> Result<Option<(bool, u32, u32)>, ModelError> {
        let expected = "micro-ops [read-or-write key value]";
        let Some([f, key, value]) = micro.as_list().and_then(|l| <&[Value; 3]>::try_from(l).ok()) else {
            return Err(ModelError::new(self.name(), op, micro, expected));
        };
        let is_write = match f.as_str() {
            Some("write" | "w") => true,
            Some("read" | "r") => false,
            _ => return Err(ModelError::new(self.name(), op, micro, expected)),
        };
        if !is_write && (!known || value.is_nil()) {
            return Ok(None);
        }
        Ok(Some((is_write, values.id(key), values.id(value))))
    }
}

impl Model for MultiRegister {
    /// Value ids indexed by key id, trailing nils trimmed so equal maps are equal.
    type State = Vec<u32>;
    type Op = MultiRegisterOp;

    fn name(&self) -> &str {
        "multi-register"
    }

    fn init(&self, values: &mut Interner) -> Vec<u32> {
        let mut state = Vec::new();
        for (key, value) in &self.init {
            let (k, v) = (values.id(&Value::Str(key.clone())) as usize, values.id(value));
            state.resize(state.len().max(k + 1), Interner::NIL);
            state[k] = v;
        }
        trim(state)
    }

    fn prepare(
        &self,
        op: &Operation,
        values: &mut Interner,
    ) -> Result<Prepared<MultiRegisterOp>, ModelError> {
        if op.f != "txn" {
            return Err(ModelError::new(self.name(), op, &op.argument, "f txn"));
        }
        if op.kind == RecordType::Fail {
            return Ok(Prepared::Skip);
        }
        let known = op.kind == RecordType::Ok;
        let txn = if known && !op.result.is_nil() { &op.result } else { &op.argument };
        let Some(micros) = txn.as_list() else {
            return Err(ModelError::new(self.name(), op, txn, "a list of micro-ops"));
        };
        let mut prepared = Vec::new();
        for micro in micros {
            prepared.extend(self.micro_op(op, micro, known, values)?);
        }
        Ok(Prepared::Op(MultiRegisterOp(prepared)))
    }

    fn step(&self, state: &Vec<u32>, op: &MultiRegisterOp) -> Option<Vec<u32>> {
        let mut next = state.clone();
        for &(is_write, key, value) in &op.0 {
            let k = key as usize;
            if is_write {
                next.resize(next.len().max(k + 1), Interner::NIL);
                next[k] = value;
            } else if next.get(k).copied().unwrap_or(Interner::NIL) != value {
                return None;
            }
        }
        Some(trim(next))
    }

    fn state_bytes(&self, state: &Vec<u32>) -> usize {
        state.capacity() * std::mem::size_of::<u32>()
    }

    fn describe(&self, state: &Vec<u32>, values: &Interner) -> String {
        let entries: Vec<String> = (0..state.len())
            .filter(|&k| state[k] != Interner::NIL)
            .map(|k| format!("{} {}", values.value(k as u32), values.value(state[k])))
            .collect();
        format!("{{{}}}", entries.join(", "))
    }
}

fn trim(mut state: Vec<u32>) -> Vec<u32> {
    while state.last() == Some(&Interner::NIL) {
        state.pop();
    }
    state
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::models::test_op;

    #[test]
    fn txn_reads_see_earlier_writes() {
        let model = MultiRegister::new(BTreeMap::from([("x".into(), Value::Int(0))]));
        let mut values = Interner::new();
        let s0 = model.init(&mut values);
        let micro = |f: &str, k: &str, v: Value| Value::List(vec![f.into(), k.into(), v]);
        let txn = Value::List(vec![
            micro("write", "y", 2.into()),
            micro("read", "y", 2.into()),
            micro("read", "x", 0.into()),
        ]);
        let op = test_op("txn", RecordType::Ok, txn.clone(), txn);
        let Prepared::Op(prepared) = model.prepare(&op, &mut values).unwrap() else { panic!() };
        let s1 = model.step(&s0, &prepared).unwrap();
        assert_eq!(model.describe(&s1, &values), r#"{"x" 0, "y" 2}"#);
        let bad = Value::List(vec![micro("read", "x", 1.into())]);
        let op = test_op("txn", RecordType::Ok, bad.clone(), bad);
        let Prepared::Op(prepared) = model.prepare(&op, &mut values).unwrap() else { panic!() };
        assert!(model.step(&s1, &prepared).is_none());
    }
}
