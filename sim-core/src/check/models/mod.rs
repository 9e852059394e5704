//! The built-in models.

mod kv;
mod multi_register;
mod mutex;
mod queue;
mod register;
mod set;

pub use kv::{Kv, KvMap, KvOp, StrHash, Suffix};
pub use multi_register::{MultiRegister, MultiRegisterOp};
pub use mutex::{Mutex, MutexOp};
pub use queue::{Queue, QueueOp};
pub use register::{Register, RegisterOp};
pub use set::{Set, SetOp};

/// An operation for model unit tests.
#[cfg(test)]
pub(crate) fn test_op(
    f: &str,
    kind: crate::history::RecordType,
    argument: crate::history::Value,
    result: crate::history::Value,
) -> crate::history::Operation {
    crate::history::Operation {
        invoke_index: 0,
        complete_index: None,
        process: 0,
        f: f.to_string(),
        key: None,
        argument,
        kind,
        result,
        invoked_at: crate::time::Time::ZERO,
        completed_at: None,
    }
}
