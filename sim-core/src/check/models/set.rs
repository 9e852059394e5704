//! A grow-only set: `add` an element, `read` the whole set.

use crate::check::model::{Interner, Model, ModelError, Prepared};
use crate::history::{Operation, RecordType, Value};

/// A set, initially empty.
#[derive(Clone, Copy, Debug, Default)]
pub struct Set;

/// A prepared set operation; elements are interned ids.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum SetOp {
    /// Add this element.
    Add(u32),
    /// A read that returned these elements, sorted and without duplicates.
    Read(Vec<u32>),
}

impl Model for Set {
    /// The elements' ids, sorted.
    type State = Vec<u32>;
    type Op = SetOp;

    fn name(&self) -> &str {
        "set"
    }

    fn init(&self, _values: &mut Interner) -> Vec<u32> {
        Vec::new()
    }

    fn prepare(&self, op: &Operation, values: &mut Interner) -> Result<Prepared<SetOp>, ModelError> {
        let prepared = match (op.f.as_str(), op.kind) {
            (_, RecordType::Fail) | ("read", RecordType::Info) => Prepared::Skip,
            ("add", _) => Prepared::Op(SetOp::Add(values.id(&op.argument))),
            ("read", _) => {
                let items = match &op.result {
                    Value::Nil => &[][..],
                    Value::List(items) => items,
                    other => return Err(ModelError::new(self.name(), op, other, "a list of elements")),
                };
                let mut ids: Vec<u32> = items.iter().map(|v| values.id(v)).collect();
                ids.sort_unstable();
                ids.dedup();
                Prepared::Op(SetOp::Read(ids))
            }
            _ => return Err(ModelError::new(self.name(), op, &op.argument, "f add or read")),
        };
        Ok(prepared)
    }

    fn step(&self, state: &Vec<u32>, op: &SetOp) -> Option<Vec<u32>> {
        match op {
            SetOp::Read(items) => (state == items).then(|| state.clone()),
            SetOp::Add(x) => {
                let mut next = state.clone();
                if let Err(at) = next.binary_search(x) {
                    next.insert(at, *x);
                }
                Some(next)
            }
        }
    }

    fn state_bytes(&self, state: &Vec<u32>) -> usize {
        state.capacity() * std::mem::size_of::<u32>()
    }

    fn describe(&self, state: &Vec<u32>, values: &Interner) -> String {
        let items: Vec<Value> = state.iter().map(|&id| values.value(id).clone()).collect();
        format!("#{}", Value::List(items))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_sees_exactly_the_added_elements() {
        let s = Set.step(&vec![], &SetOp::Add(2)).unwrap();
        let s = Set.step(&s, &SetOp::Add(1)).unwrap();
        assert_eq!(Set.step(&s, &SetOp::Add(2)).unwrap(), vec![1, 2]);
        assert!(Set.step(&s, &SetOp::Read(vec![1, 2])).is_some());
        assert!(Set.step(&s, &SetOp::Read(vec![1])).is_none());
    }
}
