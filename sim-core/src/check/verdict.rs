//! What a linearizability check concluded, for people (`Display`) and tools (serde).

use std::fmt;

use serde::Serialize;

use crate::history::{Operation, RecordType, Value};

/// The conclusion about a history or one part of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Some order of the operations explains every result.
    Linearizable,
    /// No order does.
    NotLinearizable,
    /// The search ran out of budget before deciding.
    Unknown,
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verdict::Linearizable => "linearizable",
            Verdict::NotLinearizable => "not linearizable",
            Verdict::Unknown => "unknown",
        })
    }
}

/// One operation, named for a report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct OpRef {
    /// Index in the history's operations.
    pub index: usize,
    /// 1-based line of its invocation in the input (record index + 1 until mapped).
    pub line: usize,
    /// The process that issued it.
    pub process: u64,
    /// The function.
    pub f: String,
    /// The key, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<Value>,
    /// The invocation's argument.
    pub value: Value,
    /// How it completed: ok, fail or info (also never completed).
    #[serde(rename = "type")]
    pub kind: RecordType,
    /// The `ok` result.
    pub result: Value,
}

impl OpRef {
    /// Names operation `index` of `ops`.
    pub fn new(ops: &[Operation], index: usize) -> OpRef {
        let op = &ops[index];
        OpRef {
            index,
            line: op.invoke_index + 1,
            process: op.process,
            f: op.f.clone(),
            key: op.key.clone(),
            value: op.argument.clone(),
            kind: op.kind,
            result: op.result.clone(),
        }
    }
}

impl fmt::Display for OpRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: process {} {}", self.line, self.process, self.f)?;
        if let Some(key) = &self.key {
            write!(f, " {key}")?;
        }
        write!(f, " {}", self.value)?;
        match self.kind {
            RecordType::Ok if !self.result.is_nil() && self.result != self.value => {
                write!(f, " -> ok {}", self.result)
            }
            RecordType::Ok => write!(f, " -> ok"),
            RecordType::Fail => write!(f, " -> fail"),
            _ => write!(f, " -> info (may or may not have happened)"),
        }
    }
}

/// Why a part is not linearizable: the smallest window the search found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The longest linearizable prefix found, in linearization order.
    pub prefix: Vec<OpRef>,
    /// The model state after that prefix.
    pub state: String,
    /// The other operations that cannot be ordered: invoked, not in the
    /// prefix, and none of them can come next and let `blocked` complete.
    pub pending: Vec<OpRef>,
    /// The operation whose completion no order could reach.
    pub blocked: OpRef,
}

/// The conclusion about one independent part (one key, or the whole history).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PartReport {
    /// The part's key, if the model splits by key.
    pub key: Option<Value>,
    /// The part's verdict.
    pub verdict: Verdict,
    /// Operations checked in this part.
    pub operations: usize,
    /// Configurations the search visited.
    pub states: u64,
    /// Why it is not linearizable, if it is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub violation: Option<Violation>,
    /// Which budget ran out, if the verdict is unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gave_up: Option<String>,
}

/// The conclusion about a whole history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The model's name.
    pub model: String,
    /// Not linearizable if any part is not; unknown if any part is unknown.
    pub verdict: Verdict,
    /// Operations in the history.
    pub operations: usize,
    /// Operations left out because they neither change nor observe the state.
    pub skipped: usize,
    /// Configurations visited over all parts.
    pub states: u64,
    /// Every part, in key order.
    pub parts: Vec<PartReport>,
}

impl Report {
    /// Replaces record-based line numbers with the input's own lines.
    pub fn map_lines(&mut self, lines: &[usize]) {
        let map = |op: &mut OpRef| op.line = lines.get(op.line - 1).copied().unwrap_or(op.line);
        for violation in self.parts.iter_mut().filter_map(|p| p.violation.as_mut()) {
            violation.prefix.iter_mut().for_each(map);
            violation.pending.iter_mut().for_each(map);
            map(&mut violation.blocked);
        }
    }

    /// The parts that are not linearizable.
    pub fn violations(&self) -> impl Iterator<Item = &PartReport> {
        self.parts.iter().filter(|p| p.verdict == Verdict::NotLinearizable)
    }
}

const PREFIX_SHOWN: usize = 8;

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}: {} ({} model)", self.verdict, verdict_reason(self), self.model)?;
        writeln!(
            f,
            "{} operations ({} skipped), {} parts, {} states explored",
            self.operations,
            self.skipped,
            self.parts.len(),
            self.states
        )?;
        for part in self.parts.iter().filter(|p| p.verdict != Verdict::Linearizable) {
            write_part(f, part)?;
        }
        Ok(())
    }
}

fn verdict_reason(report: &Report) -> String {
    let count = |v| report.parts.iter().filter(|p| p.verdict == v).count();
    match report.verdict {
        Verdict::Linearizable => "every part has a valid order".into(),
        Verdict::NotLinearizable => {
            format!("{} of {} parts cannot be ordered", count(Verdict::NotLinearizable), report.parts.len())
        }
        Verdict::Unknown => {
            format!("{} of {} parts ran out of budget", count(Verdict::Unknown), report.parts.len())
        }
    }
}

fn write_part(f: &mut fmt::Formatter<'_>, part: &PartReport) -> fmt::Result {
    let key = part.key.as_ref().map_or("the history".to_string(), |k| format!("key {k}"));
    writeln!(f, "\n{key}: {} ({} operations)", part.verdict, part.operations)?;
    if let Some(gave_up) = &part.gave_up {
        writeln!(f, "  gave up: {gave_up}")?;
    }
    let Some(v) = &part.violation else { return Ok(()) };
    let skipped = v.prefix.len().saturating_sub(PREFIX_SHOWN);
    writeln!(
        f,
        "  longest linearizable prefix: {} operations{}",
        v.prefix.len(),
        if skipped > 0 { ", ending" } else { "" }
    )?;
    for op in &v.prefix[skipped..] {
        writeln!(f, "    {op}")?;
    }
    writeln!(f, "  state after it: {}", v.state)?;
    writeln!(f, "  this operation must take effect before it completes, but cannot from there:")?;
    writeln!(f, "    {}", v.blocked)?;
    if !v.pending.is_empty() {
        writeln!(f, "  nor can any of these concurrent operations take effect first and help:")?;
        for op in &v.pending {
            writeln!(f, "    {op}")?;
        }
    }
    Ok(())
}
