//! Registers: `register` (read, write) and `cas-register` (also compare-and-set).
//!
//! Semantics follow Porcupine's etcd model: a read of nil means the register
//! was never written; a `fail`ed CAS is an observation that the register did
//! not hold the expected value (it had no effect). Records with a `key` are
//! split into one independent register per key.

use crate::check::model::{Interner, Model, ModelError, Prepared};
use crate::history::{Operation, RecordType, Value};

/// A read/write register, optionally with compare-and-set.
#[derive(Clone, Debug, Default)]
pub struct Register {
    init: Value,
    cas: bool,
}

/// A prepared register operation; values are interned ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RegisterOp {
    /// A read that returned this value.
    Read(u32),
    /// A write (completed or not: its effect is the same).
    Write(u32),
    /// A CAS that succeeded.
    Cas(u32, u32),
    /// A CAS that failed: the register did not hold the first value.
    CasFail(u32),
    /// A CAS with unknown outcome: sets the second value if the first matched.
    CasMaybe(u32, u32),
}

impl Register {
    /// A read/write register with this initial value.
    pub fn new(init: Value) -> Register {
        Register { init, cas: false }
    }

    /// A read/write/CAS register with this initial value.
    pub fn with_cas(init: Value) -> Register {
        Register { init, cas: true }
    }

    fn prepare_cas(&self, op: &Operation, values: &mut Interner) -> Result<Prepared<RegisterOp>, ModelError> {
        let Some([from, to]) = op.argument.as_list().and_then(|l| <&[Value; 2]>::try_from(l).ok()) else {
            return Err(ModelError::new(self.name(), op, &op.argument, "a list [expected new]"));
        };
        let (from, to) = (values.id(from), values.id(to));
        Ok(Prepared::Op(match op.kind {
            RecordType::Ok => RegisterOp::Cas(from, to),
            RecordType::Fail => RegisterOp::CasFail(from),
            _ => RegisterOp::CasMaybe(from, to),
        }))
    }
}

impl Model for Register {
    type State = u32;
    type Op = RegisterOp;

    fn name(&self) -> &str {
        if self.cas { "cas-register" } else { "register" }
    }

    fn init(&self, values: &mut Interner) -> u32 {
        values.id(&self.init)
    }

    fn prepare(&self, op: &Operation, values: &mut Interner) -> Result<Prepared<RegisterOp>, ModelError> {
        match (op.f.as_str(), op.kind) {
            ("read", RecordType::Ok) => Ok(Prepared::Op(RegisterOp::Read(values.id(&op.result)))),
            ("read", _) | ("write", RecordType::Fail) => Ok(Prepared::Skip),
            ("write", _) => Ok(Prepared::Op(RegisterOp::Write(values.id(&op.argument)))),
            ("cas", _) if self.cas => self.prepare_cas(op, values),
            _ => {
                let expected = if self.cas { "f read, write or cas" } else { "f read or write" };
                Err(ModelError::new(self.name(), op, &op.argument, expected))
            }
        }
    }

    fn step(&self, state: &u32, op: &RegisterOp) -> Option<u32> {
        let s = *state;
        match *op {
            RegisterOp::Read(v) => (s == v).then_some(s),
            RegisterOp::Write(v) => Some(v),
            RegisterOp::Cas(from, to) => (s == from).then_some(to),
            RegisterOp::CasFail(from) => (s != from).then_some(s),
            RegisterOp::CasMaybe(from, to) => Some(if s == from { to } else { s }),
        }
    }

    fn part(&self, op: &Operation) -> Option<Value> {
        op.key.clone()
    }

    fn describe(&self, state: &u32, values: &Interner) -> String {
        values.value(*state).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::models::test_op;

    #[test]
    fn cas_semantics() {
        let model = Register::with_cas(Value::Nil);
        let mut values = Interner::new();
        let s0 = model.init(&mut values);
        let prep = |op, values: &mut Interner| match model.prepare(&op, values).unwrap() {
            Prepared::Op(o) => o,
            Prepared::Skip => panic!("skipped"),
        };
        let cas = prep(test_op("cas", RecordType::Ok, vec![1, 2].into(), Value::Nil), &mut values);
        let fail = prep(test_op("cas", RecordType::Fail, vec![1, 2].into(), Value::Nil), &mut values);
        let write1 = prep(test_op("write", RecordType::Ok, 1.into(), Value::Nil), &mut values);
        let read_nil = prep(test_op("read", RecordType::Ok, Value::Nil, Value::Nil), &mut values);
        assert_eq!(model.step(&s0, &cas), None);
        assert_eq!(model.step(&s0, &fail), Some(s0));
        assert_eq!(model.step(&s0, &read_nil), Some(s0));
        let s1 = model.step(&s0, &write1).unwrap();
        assert_eq!(model.step(&s1, &fail), None);
        assert_eq!(model.describe(&model.step(&s1, &cas).unwrap(), &values), "2");
    }

    #[test]
    fn plain_register_rejects_cas() {
        let model = Register::new(Value::Int(0));
        let op = test_op("cas", RecordType::Ok, vec![1, 2].into(), Value::Nil);
        let err = model.prepare(&op, &mut Interner::new()).unwrap_err();
        assert!(err.to_string().contains("read or write"), "{err}");
    }
}
