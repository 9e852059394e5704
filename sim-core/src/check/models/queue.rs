//! A FIFO queue: `enqueue` a value, `dequeue` the oldest (nil when empty).

use std::collections::VecDeque;

use crate::check::model::{Interner, Model, ModelError, Prepared};
use crate::history::{Operation, RecordType, Value};

/// A FIFO queue, initially empty.
#[derive(Clone, Copy, Debug, Default)]
pub struct Queue;

/// A prepared queue operation; values are interned ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QueueOp {
    /// Append this value.
    Enqueue(u32),
    /// Remove the oldest value, which was this one (`Interner::NIL`: the queue was empty).
    Dequeue(u32),
    /// A dequeue with unknown result: removes the oldest value if any.
    DequeueMaybe,
}

impl Model for Queue {
    /// Values' ids, oldest first.
    type State = VecDeque<u32>;
    type Op = QueueOp;

    fn name(&self) -> &str {
        "queue"
    }

    fn init(&self, _values: &mut Interner) -> VecDeque<u32> {
        VecDeque::new()
    }

    fn prepare(&self, op: &Operation, values: &mut Interner) -> Result<Prepared<QueueOp>, ModelError> {
        let prepared = match (op.f.as_str(), op.kind) {
            (_, RecordType::Fail) => Prepared::Skip,
            ("enqueue", _) if op.argument.is_nil() => {
                return Err(ModelError::new(self.name(), op, &op.argument, "a non-nil value"));
            }
            ("enqueue", _) => Prepared::Op(QueueOp::Enqueue(values.id(&op.argument))),
            ("dequeue", RecordType::Ok) => Prepared::Op(QueueOp::Dequeue(values.id(&op.result))),
            ("dequeue", _) => Prepared::Op(QueueOp::DequeueMaybe),
            _ => return Err(ModelError::new(self.name(), op, &op.argument, "f enqueue or dequeue")),
        };
        Ok(prepared)
    }

    fn step(&self, state: &VecDeque<u32>, op: &QueueOp) -> Option<VecDeque<u32>> {
        let front = state.front().copied().unwrap_or(Interner::NIL);
        match *op {
            QueueOp::Enqueue(v) => {
                let mut next = state.clone();
                next.push_back(v);
                Some(next)
            }
            QueueOp::Dequeue(v) if v != front => None,
            QueueOp::Dequeue(_) | QueueOp::DequeueMaybe => {
                let mut next = state.clone();
                next.pop_front();
                Some(next)
            }
        }
    }

    fn state_bytes(&self, state: &VecDeque<u32>) -> usize {
        state.capacity() * std::mem::size_of::<u32>()
    }

    fn describe(&self, state: &VecDeque<u32>, values: &Interner) -> String {
        let items: Vec<Value> = state.iter().map(|&id| values.value(id).clone()).collect();
        Value::List(items).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dequeue_is_fifo_and_nil_when_empty() {
        let empty = VecDeque::new();
        let s = Queue.step(&empty, &QueueOp::Enqueue(1)).unwrap();
        let s = Queue.step(&s, &QueueOp::Enqueue(2)).unwrap();
        assert!(Queue.step(&s, &QueueOp::Dequeue(2)).is_none());
        let s = Queue.step(&s, &QueueOp::Dequeue(1)).unwrap();
        assert_eq!(Queue.step(&s, &QueueOp::DequeueMaybe).unwrap(), empty);
        assert!(Queue.step(&empty, &QueueOp::Dequeue(Interner::NIL)).is_some());
    }
}
