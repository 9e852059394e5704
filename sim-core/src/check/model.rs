//! The `Model` trait: a sequential specification the checker linearizes against.
//!
//! A model turns each history [`Operation`] into a compact operation of its own
//! (`prepare`), then says from a state whether that operation is legal and what
//! state follows (`step`). Values are interned to small integers per part, so
//! states stay a few machine words and compare and hash quickly.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::hash::Hash;

use crate::history::{Operation, Value};

/// A sequential specification of an object, for linearizability checking.
pub trait Model: Sync {
    /// The object's state: small, cheap to clone, compare and hash.
    type State: Clone + Eq + Hash + Debug + Send + Sync;
    /// One prepared operation: its argument and, if known, its observed result.
    type Op: Clone + Eq + Hash + Debug + Send + Sync;

    /// The model's name, as on the command line.
    fn name(&self) -> &str;

    /// The initial state of one part.
    fn init(&self, values: &mut Interner) -> Self::State;

    /// Turns a history operation into a model operation, or `Skip` if it can
    /// neither constrain nor change the state (a failed write, a timed-out read).
    fn prepare(&self, op: &Operation, values: &mut Interner) -> Result<Prepared<Self::Op>, ModelError>;

    /// The state after `op` from `state`, or `None` if `op` is illegal there.
    fn step(&self, state: &Self::State, op: &Self::Op) -> Option<Self::State>;

    /// The independent part of the object `op` touches (P-compositionality);
    /// operations with different parts are checked separately. `None`: one part.
    fn part(&self, op: &Operation) -> Option<Value> {
        let _ = op;
        None
    }

    /// Heap bytes `state` owns beyond `size_of::<State>()`, so the search's
    /// memory budget counts what its memo of states really holds. The
    /// default (0) is right for states of plain words.
    fn state_bytes(&self, state: &Self::State) -> usize {
        let _ = state;
        0
    }

    /// A state for people, e.g. `3` or `{"x" 1}`.
    fn describe(&self, state: &Self::State, values: &Interner) -> String {
        let _ = values;
        format!("{state:?}")
    }
}

/// What `Model::prepare` made of an operation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Prepared<O> {
    /// Check this operation.
    Op(O),
    /// Leave it out: it has no effect and no observation.
    Skip,
}

/// Why an operation does not fit a model.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{model} model cannot check {f:?} with value {value}: expected {expected}")]
pub struct ModelError {
    /// The model's name.
    pub model: String,
    /// The operation's function.
    pub f: String,
    /// The offending value.
    pub value: Value,
    /// What the model expected.
    pub expected: String,
}

impl ModelError {
    /// An error for `op` under `model`, saying what was expected.
    pub fn new(model: &str, op: &Operation, value: &Value, expected: &str) -> ModelError {
        ModelError {
            model: model.to_string(),
            f: op.f.clone(),
            value: value.clone(),
            expected: expected.to_string(),
        }
    }
}

/// Interns values to dense small integers; `Nil` is always 0.
#[derive(Clone, Debug)]
pub struct Interner {
    ids: BTreeMap<Value, u32>,
    values: Vec<Value>,
}

impl Default for Interner {
    fn default() -> Interner {
        Interner::new()
    }
}

impl Interner {
    /// The id of `Value::Nil`.
    pub const NIL: u32 = 0;

    /// An interner holding only `Nil`.
    pub fn new() -> Interner {
        Interner { ids: BTreeMap::from([(Value::Nil, 0)]), values: vec![Value::Nil] }
    }

    /// The id of `value`, assigning the next one if it is new.
    pub fn id(&mut self, value: &Value) -> u32 {
        if let Some(&id) = self.ids.get(value) {
            return id;
        }
        let id = u32::try_from(self.values.len()).expect("fewer than 2^32 distinct values");
        self.ids.insert(value.clone(), id);
        self.values.push(value.clone());
        id
    }

    /// The value with id `id`.
    pub fn value(&self, id: u32) -> &Value {
        &self.values[id as usize]
    }

    /// How many distinct values have ids.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether only `Nil` is interned.
    pub fn is_empty(&self) -> bool {
        self.values.len() == 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interner_is_dense_and_stable() {
        let mut values = Interner::new();
        assert_eq!(values.id(&Value::Nil), Interner::NIL);
        let three = values.id(&Value::Int(3));
        assert_eq!(three, 1);
        assert_eq!(values.id(&"x".into()), 2);
        assert_eq!(values.id(&Value::Int(3)), three);
        assert_eq!(values.value(three), &Value::Int(3));
        assert_eq!(values.len(), 3);
    }
}
