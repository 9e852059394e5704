//! A brute-force linearizability checker that tries every order: the
//! reference the fast search is tested against on tiny histories.

use std::collections::BTreeMap;

use crate::check::model::{Interner, Model, ModelError, Prepared};
use crate::history::{Operation, RecordType, Value};

struct Candidate<O> {
    op: O,
    call: usize,
    /// Completion position; `usize::MAX` for optional (info) operations.
    ret: usize,
}

/// Whether `ops` are linearizable under `model`, by exhaustive search.
/// Exponential: meant for histories of about ten operations.
pub fn is_linearizable<M: Model>(model: &M, ops: &[Operation]) -> Result<bool, ModelError> {
    let mut parts: BTreeMap<Option<Value>, Vec<&Operation>> = BTreeMap::new();
    for op in ops {
        parts.entry(model.part(op)).or_default().push(op);
    }
    for members in parts.values() {
        let mut values = Interner::new();
        let init = model.init(&mut values);
        let mut candidates = Vec::new();
        for op in members {
            if let Prepared::Op(prepared) = model.prepare(op, &mut values)? {
                let ret = if op.kind == RecordType::Info {
                    usize::MAX
                } else {
                    op.complete_index.unwrap_or(usize::MAX)
                };
                candidates.push(Candidate { op: prepared, call: op.invoke_index, ret });
            }
        }
        if !extend(model, &init, &candidates, &mut vec![false; candidates.len()]) {
            return Ok(false);
        }
    }
    Ok(true)
}

fn extend<M: Model>(model: &M, state: &M::State, ops: &[Candidate<M::Op>], used: &mut [bool]) -> bool {
    let required_left = (0..ops.len()).any(|i| !used[i] && ops[i].ret != usize::MAX);
    if !required_left {
        return true;
    }
    for i in 0..ops.len() {
        // `i` may go next only if no unused required op completed before `i` was invoked.
        let blocked = (0..ops.len()).any(|j| !used[j] && j != i && ops[j].ret < ops[i].call);
        if used[i] || blocked {
            continue;
        }
        let Some(next) = model.step(state, &ops[i].op) else { continue };
        used[i] = true;
        let found = extend(model, &next, ops, used);
        used[i] = false;
        if found {
            return true;
        }
    }
    false
}
