//! The Wing–Gong–Lowe search for one independent part of a history.
//!
//! Calls and returns sit in one doubly linked list in real-time order. The
//! search walks it from the front: at a call it tries to linearize that
//! operation now (the model must allow it, and the resulting configuration
//! must be new); at a return it is stuck, because that operation had to take
//! effect before its response, and it backtracks. Linearizing an operation
//! lifts its call and return out of the list; backtracking puts them back.
//!
//! Optional operations (`info`, never completed) have no return entry: they
//! may take effect any time after their call, or never. The search succeeds
//! once every required operation is linearized. Optional operations that are
//! equal (same model op) are interchangeable, so they are only linearized in
//! call order.

use std::sync::atomic::{AtomicBool, Ordering};

use crate::check::memo::{Bits, Memo, hash_of};
use crate::check::model::Model;

/// One operation of a part, in the part's own numbering.
#[derive(Clone, Debug)]
pub(crate) struct PartOp<O> {
    /// The model operation.
    pub op: O,
    /// Position of the invocation in the history's records.
    pub call: usize,
    /// Position of the completion, for operations that must be linearized.
    pub ret: Option<usize>,
}

/// How far one call to [`Search::resume`] may go. Every bound is a count
/// the search keeps itself, never wall time, so where a search pauses (and
/// so the verdict under a budget) is the same on every machine.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Allowance<'a> {
    /// Pause once this many configurations were visited in total.
    pub states_until: u64,
    /// Pause once this many steps (see [`Search::steps`]) were taken in total.
    pub steps_until: u64,
    /// Pause once the search holds more than this many bytes.
    pub bytes_max: usize,
    /// Set from outside to end the search with `Unknown(Cancelled)`.
    pub cancel: Option<&'a AtomicBool>,
}

/// Which bound of an [`Allowance`] paused a search.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pause {
    States,
    Steps,
    Memory,
}

/// Why a search gave up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GaveUp {
    States,
    Steps,
    Memory,
    Cancelled,
}

impl From<Pause> for GaveUp {
    fn from(pause: Pause) -> GaveUp {
        match pause {
            Pause::States => GaveUp::States,
            Pause::Steps => GaveUp::Steps,
            Pause::Memory => GaveUp::Memory,
        }
    }
}

/// Where one call to [`Search::resume`] left the search.
#[derive(Clone, Debug)]
pub(crate) enum Progress<S> {
    Done(Outcome<S>),
    Paused(Pause),
}

/// The furthest the search got in a history that is not linearizable.
#[derive(Clone, Debug)]
pub(crate) struct Stuck<S> {
    /// Operations (part numbering) in the order they were linearized.
    pub prefix: Vec<usize>,
    /// The state after the prefix.
    pub state: S,
    /// Operations invoked but not linearized, none of which could go next.
    pub pending: Vec<usize>,
    /// The operation whose completion the search could not get past.
    pub blocked: usize,
}

/// How a search ended.
#[derive(Clone, Debug)]
pub(crate) enum Outcome<S> {
    Linearizable,
    NotLinearizable(Stuck<S>),
    Unknown(GaveUp),
}

/// The result of one search.
#[cfg(test)]
#[derive(Clone, Debug)]
pub(crate) struct Searched<S> {
    pub outcome: Outcome<S>,
    pub states: u64,
}

const HEAD: u32 = 0;
const NONE: u32 = u32::MAX;

/// The call/return list, entries `1..`, entry 0 the circular sentinel.
struct List {
    next: Vec<u32>,
    prev: Vec<u32>,
    /// For entry e: the op, with the top bit set on return entries.
    op_of: Vec<u32>,
    call_of: Vec<u32>,
    ret_of: Vec<u32>,
    /// For entry e: its position in the history's records.
    pos: Vec<usize>,
}

const RETURN: u32 = 1 << 31;

impl List {
    /// The list of the ops for which `select` holds.
    fn new<O>(ops: &[PartOp<O>], select: impl Fn(&PartOp<O>) -> bool) -> List {
        let mut events: Vec<(usize, u32)> = Vec::with_capacity(ops.len() * 2);
        for (i, op) in ops.iter().enumerate().filter(|(_, op)| select(op)) {
            events.push((op.call, i as u32));
            if let Some(ret) = op.ret {
                assert!(ret > op.call, "op={i} returns before its call");
                events.push((ret, i as u32 | RETURN));
            }
        }
        events.sort_unstable();
        let count = events.len() + 1;
        let mut list = List {
            next: (1..=count as u32).map(|e| e % count as u32).collect(),
            prev: (0..count as u32).map(|e| (e + count as u32 - 1) % count as u32).collect(),
            op_of: vec![NONE; count],
            call_of: vec![NONE; ops.len()],
            ret_of: vec![NONE; ops.len()],
            pos: vec![usize::MAX; count],
        };
        for (e, &(pos, tagged)) in events.iter().enumerate() {
            let e = e as u32 + 1;
            list.op_of[e as usize] = tagged;
            list.pos[e as usize] = pos;
            let op = (tagged & !RETURN) as usize;
            if tagged & RETURN == 0 { list.call_of[op] = e } else { list.ret_of[op] = e }
        }
        list
    }

    fn unlink(&mut self, e: u32) {
        let (p, n) = (self.prev[e as usize], self.next[e as usize]);
        self.next[p as usize] = n;
        self.prev[n as usize] = p;
    }

    fn relink(&mut self, e: u32) {
        let (p, n) = (self.prev[e as usize], self.next[e as usize]);
        self.next[p as usize] = e;
        self.prev[n as usize] = e;
    }

    fn lift(&mut self, op: usize) {
        self.unlink(self.call_of[op]);
        if self.ret_of[op] != NONE {
            self.unlink(self.ret_of[op]);
        }
    }

    fn unlift(&mut self, op: usize) {
        if self.ret_of[op] != NONE {
            self.relink(self.ret_of[op]);
        }
        self.relink(self.call_of[op]);
    }

    /// The ops whose calls are in the list before position `end`.
    fn calls_before(&self, end: usize) -> Vec<usize> {
        let mut ops = Vec::new();
        let mut e = self.next[HEAD as usize];
        while e != HEAD && self.pos[e as usize] < end {
            let tagged = self.op_of[e as usize];
            if tagged & RETURN == 0 {
                ops.push(tagged as usize);
            }
            e = self.next[e as usize];
        }
        ops
    }
}

/// Per op: its index among required or optional ops, and for optional ops
/// the previous equal optional op (which must be linearized first).
struct Numbering {
    slot: Vec<usize>,
    required: Vec<bool>,
    twin_before: Vec<u32>,
    required_count: usize,
    optional_count: usize,
}

impl Numbering {
    fn new<O: Eq + std::hash::Hash>(ops: &[PartOp<O>]) -> Numbering {
        let mut order: Vec<usize> = (0..ops.len()).collect();
        order.sort_by_key(|&i| ops[i].call);
        let mut n = Numbering {
            slot: vec![0; ops.len()],
            required: ops.iter().map(|o| o.ret.is_some()).collect(),
            twin_before: vec![NONE; ops.len()],
            required_count: 0,
            optional_count: 0,
        };
        for &i in &order {
            let count = if n.required[i] { &mut n.required_count } else { &mut n.optional_count };
            n.slot[i] = *count;
            *count += 1;
        }
        let mut optional: Vec<(u64, usize, usize)> = order
            .iter()
            .filter(|&&i| !n.required[i])
            .map(|&i| (hash_of(&ops[i].op), ops[i].call, i))
            .collect();
        optional.sort_unstable();
        for pair in optional.windows(2) {
            let ((h0, _, a), (h1, _, b)) = (pair[0], pair[1]);
            if h0 == h1 && ops[a].op == ops[b].op {
                n.twin_before[b] = a as u32;
            }
        }
        n
    }
}

/// Searches for a linearization of `ops` from `init`.
#[cfg(test)]
pub(crate) fn search<M: Model>(
    model: &M,
    init: M::State,
    ops: &[PartOp<M::Op>],
    allowance: Allowance<'_>,
) -> Searched<M::State> {
    let mut search = Search::new(model, init, ops);
    let outcome = match search.resume(allowance) {
        Progress::Done(outcome) => outcome,
        Progress::Paused(pause) => Outcome::Unknown(pause.into()),
    };
    Searched { outcome, states: search.states() }
}

/// A search that can pause after a number of states and resume later, so
/// that parts can be searched in rounds and stop once one fails.
pub(crate) struct Search<'a, M: Model> {
    model: &'a M,
    ops: &'a [PartOp<M::Op>],
    /// Calls and returns of required operations.
    list: List,
    /// Calls of optional operations, tried only when the required ones are stuck.
    optional_list: List,
    numbering: Numbering,
    required: Bits,
    optional: Bits,
    memo: Memo<M::State>,
    /// Linearized ops, the state before each, and the return entry that
    /// was blocking when an optional op was linearized.
    stack: Vec<(usize, M::State, u32)>,
    state: M::State,
    states: u64,
    /// Candidates tried plus memo words compared: the search's work.
    steps: u64,
    /// Extra heap bytes of the states on the stack.
    stack_heap: usize,
    best: Option<(u32, usize, Stuck<M::State>)>,
    entry: u32,
    /// While trying optional ops: the next one to try (`NONE`: trying required ones).
    optional_entry: u32,
    /// The return entry the required ops are stuck at.
    blocking: u32,
    done: usize,
}

impl<'a, M: Model> Search<'a, M> {
    /// A search of `ops` from `init`, not started.
    pub(crate) fn new(model: &'a M, init: M::State, ops: &'a [PartOp<M::Op>]) -> Self {
        let numbering = Numbering::new(ops);
        let list = List::new(ops, |op| op.ret.is_some());
        Search {
            entry: list.next[HEAD as usize],
            optional_entry: NONE,
            blocking: NONE,
            optional_list: List::new(ops, |op| op.ret.is_none()),
            done: 0,
            model,
            ops,
            list,
            required: Bits::new(numbering.required_count),
            optional: Bits::new(numbering.optional_count),
            memo: Memo::new(numbering.optional_count),
            numbering,
            stack: Vec::new(),
            state: init,
            states: 0,
            steps: 0,
            stack_heap: 0,
            best: None,
        }
    }

    /// Configurations visited so far.
    pub(crate) fn states(&self) -> u64 {
        self.states
    }

    /// Work done so far: one step per candidate tried, plus one per memo
    /// word compared (a candidate costs more where sets of `info`
    /// operations are long and many share a key).
    pub(crate) fn steps(&self) -> u64 {
        self.steps + self.memo.compared()
    }

    /// Approximate bytes the search holds beyond its fixed per-op tables:
    /// the memo (with its states' heap) and the stack of earlier states.
    pub(crate) fn bytes(&self) -> usize {
        let frame = std::mem::size_of::<(usize, M::State, u32)>();
        self.memo.bytes() + self.stack.capacity() * frame + self.stack_heap
    }

    /// Frees what an ended search holds; its counts stay.
    pub(crate) fn release(&mut self) {
        self.steps = self.steps();
        self.memo = Memo::new(0);
        self.stack = Vec::new();
        self.stack_heap = 0;
        self.best = None;
    }

    /// Searches on until it ends, or until a bound of `allowance` is
    /// reached; then it can be resumed with a larger allowance.
    ///
    /// Required operations are tried first, in call order; only when they
    /// are stuck at a return are the optional operations invoked before that
    /// return tried. Every candidate is still tried, so the search is
    /// complete, but linearizable histories are found greedily.
    pub(crate) fn resume(&mut self, allowance: Allowance<'_>) -> Progress<M::State> {
        loop {
            if self.done == self.numbering.required_count {
                return Progress::Done(Outcome::Linearizable);
            }
            // Steps are counted exactly but compared every 64 candidates,
            // off the hot path; the pause point stays deterministic.
            if self.steps.is_multiple_of(64) && self.steps() >= allowance.steps_until {
                return Progress::Paused(Pause::Steps);
            }
            let Some(op) = self.next_candidate() else {
                if let Some(outcome) = self.backtrack() {
                    return Progress::Done(outcome);
                }
                continue;
            };
            if !self.try_linearize(op) {
                self.skip_candidate();
                continue;
            }
            self.done += usize::from(self.numbering.required[op]);
            self.entry = self.list.next[HEAD as usize];
            self.optional_entry = NONE;
            if self.states >= allowance.states_until && self.done < self.numbering.required_count {
                return Progress::Paused(Pause::States);
            }
            if self.states.is_multiple_of(16) && self.bytes() > allowance.bytes_max {
                return Progress::Paused(Pause::Memory);
            }
            if self.states.is_multiple_of(1024) && allowance.cancel.is_some_and(|c| c.load(Ordering::Relaxed))
            {
                return Progress::Done(Outcome::Unknown(GaveUp::Cancelled));
            }
        }
    }

    /// The op at the walk's position, moving to the optional ops at a
    /// return; `None` when every candidate was tried.
    fn next_candidate(&mut self) -> Option<usize> {
        if self.optional_entry == NONE {
            let entry = self.entry;
            assert!(entry != HEAD, "walked past every entry with required ops left: done={}", self.done);
            let tagged = self.list.op_of[entry as usize];
            if tagged & RETURN == 0 {
                return Some(tagged as usize);
            }
            self.blocking = entry;
            self.optional_entry = self.optional_list.next[HEAD as usize];
        }
        let e = self.optional_entry;
        let before_blocking = self.optional_list.pos[e as usize] < self.list.pos[self.blocking as usize];
        (e != HEAD && before_blocking).then(|| self.optional_list.op_of[e as usize] as usize)
    }

    fn skip_candidate(&mut self) {
        if self.optional_entry == NONE {
            self.entry = self.list.next[self.entry as usize];
        } else {
            self.optional_entry = self.optional_list.next[self.optional_entry as usize];
        }
    }

    /// Undoes the last linearization and moves past it; the outcome if
    /// there is nothing left to undo.
    fn backtrack(&mut self) -> Option<Outcome<M::State>> {
        let blocked = (self.list.op_of[self.blocking as usize] & !RETURN) as usize;
        self.note_stuck(self.blocking, blocked);
        let Some((op, state, blocking)) = self.stack.pop() else {
            let (_, _, stuck) = self.best.take().expect("stuck at least once");
            return Some(Outcome::NotLinearizable(stuck));
        };
        self.stack_heap -= self.model.state_bytes(&state);
        self.state = state;
        self.mark(op, false);
        if self.numbering.required[op] {
            self.list.unlift(op);
            self.done -= 1;
            self.entry = self.list.next[self.list.call_of[op] as usize];
            self.optional_entry = NONE;
        } else {
            self.optional_list.unlift(op);
            self.blocking = blocking;
            self.optional_entry = self.optional_list.next[self.optional_list.call_of[op] as usize];
        }
        None
    }

    /// Linearizes `op` now if the model allows it and the configuration is new.
    fn try_linearize(&mut self, op: usize) -> bool {
        self.steps += 1;
        let twin = self.numbering.twin_before[op];
        if twin != NONE && !self.optional.contains(self.numbering.slot[twin as usize]) {
            return false;
        }
        let Some(next) = self.model.step(&self.state, &self.ops[op].op) else {
            return false;
        };
        // An optional op that leaves the state alone only uses up an option:
        // the current configuration dominates the one it would lead to.
        if !self.numbering.required[op] && next == self.state {
            return false;
        }
        self.mark(op, true);
        let heap = self.model.state_bytes(&next);
        if !self.memo.visit(&self.required, &self.optional, next.clone(), hash_of(&next), heap) {
            self.mark(op, false);
            return false;
        }
        self.states += 1;
        self.stack_heap += self.model.state_bytes(&self.state);
        let previous = std::mem::replace(&mut self.state, next);
        self.stack.push((op, previous, self.blocking));
        if self.numbering.required[op] {
            self.list.lift(op)
        } else {
            self.optional_list.lift(op)
        }
        true
    }

    fn mark(&mut self, op: usize, on: bool) {
        let slot = self.numbering.slot[op];
        let bits = if self.numbering.required[op] { &mut self.required } else { &mut self.optional };
        if on { bits.insert(slot) } else { bits.remove(slot) }
    }

    /// Remembers the furthest (then deepest) point where the search was stuck.
    fn note_stuck(&mut self, entry: u32, blocked: usize) {
        let depth = self.stack.len();
        if self.best.as_ref().is_some_and(|&(e, d, _)| (e, d) >= (entry, depth)) {
            return;
        }
        let end = self.list.pos[entry as usize];
        let mut pending = self.list.calls_before(end);
        pending.extend(self.optional_list.calls_before(end));
        let stuck = Stuck {
            prefix: self.stack.iter().map(|&(op, ..)| op).collect(),
            state: self.state.clone(),
            pending,
            blocked,
        };
        self.best = Some((entry, depth, stuck));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::models::{Register, RegisterOp};
    use crate::history::Value;

    const NO_LIMITS: Allowance<'static> =
        Allowance { states_until: u64::MAX, steps_until: u64::MAX, bytes_max: usize::MAX, cancel: None };

    fn op(op: RegisterOp, call: usize, ret: Option<usize>) -> PartOp<RegisterOp> {
        PartOp { op, call, ret }
    }

    #[test]
    fn concurrent_write_and_read_linearize() {
        // write 1 [0,3] concurrent with read 1 [1,2]; value ids are raw here.
        let ops = [op(RegisterOp::Write(1), 0, Some(3)), op(RegisterOp::Read(1), 1, Some(2))];
        let result = search(&Register::new(Value::Nil), 0, &ops, NO_LIMITS);
        assert!(matches!(result.outcome, Outcome::Linearizable));
    }

    #[test]
    fn stale_read_is_caught_with_its_context() {
        let ops = [
            op(RegisterOp::Write(1), 0, Some(1)),
            op(RegisterOp::Read(0), 2, Some(3)),
            op(RegisterOp::Write(2), 4, None),
        ];
        let result = search(&Register::new(Value::Nil), 0, &ops, NO_LIMITS);
        let Outcome::NotLinearizable(stuck) = result.outcome else { panic!("{result:?}") };
        assert_eq!(stuck.prefix, vec![0]);
        assert_eq!(stuck.blocked, 1);
        assert_eq!(stuck.pending, vec![1]);
    }

    #[test]
    fn optional_write_may_take_effect_late_or_never() {
        // A crashed write of 1, then reads of 0 (nil id) and of 1.
        let ops = [
            op(RegisterOp::Write(1), 0, None),
            op(RegisterOp::Read(0), 1, Some(2)),
            op(RegisterOp::Read(1), 3, Some(4)),
        ];
        let result = search(&Register::new(Value::Nil), 0, &ops, NO_LIMITS);
        assert!(matches!(result.outcome, Outcome::Linearizable));
        let result = search(&Register::new(Value::Nil), 0, &ops[..2], NO_LIMITS);
        assert!(matches!(result.outcome, Outcome::Linearizable));
    }

    #[test]
    fn state_limit_gives_unknown() {
        let ops: Vec<_> = (0..20).map(|i| op(RegisterOp::Write(i % 3), i as usize, None)).collect();
        let mut ops = ops;
        ops.push(op(RegisterOp::Read(7), 100, Some(101)));
        let limits = Allowance { states_until: 3, ..NO_LIMITS };
        let result = search(&Register::new(Value::Nil), 0, &ops, limits);
        assert!(matches!(result.outcome, Outcome::Unknown(GaveUp::States)), "{result:?}");
        assert_eq!(result.states, 3);
    }

    /// Twenty crashed writes and a read nobody wrote: the search must try
    /// every subset, and each bound pauses it where it says.
    fn hopeless() -> Vec<PartOp<RegisterOp>> {
        let mut ops: Vec<_> = (0..20).map(|i| op(RegisterOp::Write(i % 5 + 1), i as usize, None)).collect();
        ops.push(op(RegisterOp::Read(7), 100, Some(101)));
        ops
    }

    #[test]
    fn step_and_memory_bounds_pause_and_resume_to_the_same_end() {
        let ops = hopeless();
        let model = Register::new(Value::Nil);
        let whole = search(&model, 0, &ops, NO_LIMITS);
        assert!(matches!(whole.outcome, Outcome::NotLinearizable(_)), "{whole:?}");
        let mut paused = Search::new(&model, 0, &ops);
        let mut pauses = (0, 0);
        let mut allowance = Allowance { steps_until: 10, bytes_max: 300, ..NO_LIMITS };
        let outcome = loop {
            match paused.resume(allowance) {
                Progress::Done(outcome) => break outcome,
                Progress::Paused(Pause::Steps) => {
                    assert!(paused.steps() >= allowance.steps_until);
                    pauses.0 += 1;
                    allowance.steps_until += 10;
                }
                Progress::Paused(Pause::Memory) => {
                    assert!(paused.bytes() > allowance.bytes_max);
                    pauses.1 += 1;
                    allowance.bytes_max *= 2;
                }
                Progress::Paused(Pause::States) => unreachable!("no state bound"),
            }
        };
        assert!(pauses.0 > 10 && pauses.1 > 0, "pauses={pauses:?}");
        assert!(matches!(outcome, Outcome::NotLinearizable(_)), "{outcome:?}");
        assert_eq!(paused.states(), whole.states, "pausing changes nothing");
        paused.release();
        assert!(paused.bytes() < 1024, "bytes={}", paused.bytes());
    }
}
