//! A lock: `acquire` is legal when free, `release` when held (Knossos' mutex).

use crate::check::model::{Interner, Model, ModelError, Prepared};
use crate::history::{Operation, RecordType};

/// A mutex: one lock, initially free.
#[derive(Clone, Copy, Debug, Default)]
pub struct Mutex;

/// A prepared mutex operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MutexOp {
    /// Take the lock.
    Acquire,
    /// Give it back.
    Release,
}

impl Model for Mutex {
    /// Whether the lock is held.
    type State = bool;
    type Op = MutexOp;

    fn name(&self) -> &str {
        "mutex"
    }

    fn init(&self, _values: &mut Interner) -> bool {
        false
    }

    fn prepare(&self, op: &Operation, _values: &mut Interner) -> Result<Prepared<MutexOp>, ModelError> {
        let prepared = match op.f.as_str() {
            _ if op.kind == RecordType::Fail => Prepared::Skip,
            "acquire" => Prepared::Op(MutexOp::Acquire),
            "release" => Prepared::Op(MutexOp::Release),
            _ => return Err(ModelError::new(self.name(), op, &op.argument, "f acquire or release")),
        };
        Ok(prepared)
    }

    fn step(&self, held: &bool, op: &MutexOp) -> Option<bool> {
        match op {
            MutexOp::Acquire => (!held).then_some(true),
            MutexOp::Release => held.then_some(false),
        }
    }

    fn describe(&self, held: &bool, _values: &Interner) -> String {
        if *held { "held".into() } else { "free".into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acquire_needs_free_release_needs_held() {
        assert_eq!(Mutex.step(&false, &MutexOp::Acquire), Some(true));
        assert_eq!(Mutex.step(&true, &MutexOp::Acquire), None);
        assert_eq!(Mutex.step(&false, &MutexOp::Release), None);
        assert_eq!(Mutex.step(&true, &MutexOp::Release), Some(false));
    }
}
