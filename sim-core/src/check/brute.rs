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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::check::models::{Mutex, Queue, Register, Set};
    use crate::check::{CheckOptions, Verdict, check_history};
    use crate::history::{History, Record};
    use crate::time::Time;

    /// One step of a random history: which process acts, and random choices.
    type Event = (u8, u8, u8, u8, u8);

    /// Which operations the generated history uses.
    #[derive(Clone, Copy, Debug)]
    enum Flavour {
        Register,
        CasRegister,
        Set,
        Queue,
        Mutex,
    }

    fn small(n: u8) -> Value {
        match n % 4 {
            0 => Value::Nil,
            k => Value::Int(i64::from(k)),
        }
    }

    fn invocation(flavour: Flavour, choice: u8, a: u8, b: u8) -> (&'static str, Value) {
        let arg = Value::Int(i64::from(a % 3 + 1));
        match (flavour, choice % 3) {
            (Flavour::Register | Flavour::CasRegister, 0) => ("read", Value::Nil),
            (Flavour::CasRegister, 2) => {
                ("cas", Value::List(vec![small(a), Value::Int(i64::from(b % 3 + 1))]))
            }
            (Flavour::Register | Flavour::CasRegister, _) => ("write", arg),
            (Flavour::Set, 0) => ("read", Value::Nil),
            (Flavour::Set, _) => ("add", arg),
            (Flavour::Queue, 0) => ("dequeue", Value::Nil),
            (Flavour::Queue, _) => ("enqueue", arg),
            (Flavour::Mutex, 0) => ("release", Value::Nil),
            (Flavour::Mutex, _) => ("acquire", Value::Nil),
        }
    }

    fn result(flavour: Flavour, f: &str, arg: &Value, a: u8) -> Value {
        match (flavour, f) {
            (Flavour::Set, "read") => {
                Value::List((1..=3).filter(|k| a >> k & 1 == 1).map(Value::Int).collect())
            }
            (_, "read" | "dequeue") => small(a),
            _ => arg.clone(),
        }
    }

    fn build(flavour: Flavour, processes: u8, events: &[Event]) -> History {
        let mut history = History::new();
        let mut open: Vec<Option<(&'static str, Value)>> = vec![None; processes as usize];
        let mut invoked = 0;
        for (time, &(p, choice, a, b, kind)) in events.iter().enumerate() {
            let p = (p % processes) as usize;
            let record = |kind, f: &str, value| Record {
                process: p as u64,
                kind,
                f: f.to_string(),
                key: None,
                value,
                time: Time::from_nanos(time as u64),
                error: None,
            };
            match open[p].take() {
                None if invoked < 8 => {
                    let (f, arg) = invocation(flavour, choice, a, b);
                    history.push(record(RecordType::Invoke, f, arg.clone()));
                    open[p] = Some((f, arg));
                    invoked += 1;
                }
                None => {}
                Some((f, arg)) => {
                    let kind = match kind % 10 {
                        0..=6 => RecordType::Ok,
                        7 => RecordType::Fail,
                        _ => RecordType::Info,
                    };
                    history.push(record(kind, f, result(flavour, f, &arg, a)));
                }
            }
        }
        history
    }

    fn agree(model: &impl Model, history: &History) -> Result<(), TestCaseError> {
        let report =
            check_history(model, history, &CheckOptions { threads: 1, ..CheckOptions::default() }).unwrap();
        let brute = is_linearizable(model, &history.operations().unwrap()).unwrap();
        let mut text = Vec::new();
        history.write_jsonl(&mut text).unwrap();
        prop_assert_eq!(
            report.verdict == Verdict::Linearizable,
            brute,
            "fast={} brute={}\n{}",
            report.verdict,
            brute,
            String::from_utf8_lossy(&text)
        );
        Ok(())
    }

    fn events() -> impl Strategy<Value = (u8, Vec<Event>)> {
        (1u8..=4, prop::collection::vec(any::<Event>(), 0..24))
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn register_agrees_with_brute_force((processes, events) in events()) {
            agree(&Register::new(Value::Nil), &build(Flavour::Register, processes, &events))?;
        }

        #[test]
        fn cas_register_agrees_with_brute_force((processes, events) in events()) {
            agree(&Register::with_cas(Value::Nil), &build(Flavour::CasRegister, processes, &events))?;
        }

        #[test]
        fn set_agrees_with_brute_force((processes, events) in events()) {
            agree(&Set, &build(Flavour::Set, processes, &events))?;
        }

        #[test]
        fn queue_agrees_with_brute_force((processes, events) in events()) {
            agree(&Queue, &build(Flavour::Queue, processes, &events))?;
        }

        #[test]
        fn mutex_agrees_with_brute_force((processes, events) in events()) {
            agree(&Mutex, &build(Flavour::Mutex, processes, &events))?;
        }
    }

    #[test]
    fn generated_histories_have_both_verdicts() {
        let mut seen = [false; 2];
        for seed in 0u8..200 {
            let events: Vec<Event> = (0..16u8)
                .map(|i| {
                    (seed.wrapping_mul(7).wrapping_add(i), i ^ seed, seed.wrapping_add(i * 3), i, seed % 10)
                })
                .collect();
            let history = build(Flavour::CasRegister, 3, &events);
            let ops = history.operations().unwrap();
            seen[usize::from(is_linearizable(&Register::with_cas(Value::Nil), &ops).unwrap())] = true;
        }
        assert_eq!(seen, [true, true]);
    }
}
