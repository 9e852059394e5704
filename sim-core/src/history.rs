//! Client histories: every operation's invocation and its one completion.
//!
//! The vocabulary is Jepsen's. A client (a *process*) invokes an operation and
//! later completes it exactly once, as `ok` (it happened, with this result),
//! `fail` (it certainly did not happen) or `info` (unknown: it may have taken
//! effect at any time after its invocation, or never). A process has at most
//! one operation outstanding. After an `info` the process is retired and its
//! client carries on under a new process number, as Jepsen does, so a
//! retired operation can never be confused with a later one.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, BufRead, Write};

use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::time::Time;

/// A dynamically typed value in a history: nil, integer, string, list or map.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Value {
    /// Nothing: an absent register, an unknown result, no argument.
    #[default]
    Nil,
    /// A signed integer.
    Int(i64),
    /// A string.
    Str(String),
    /// An ordered list, e.g. a CAS's `[expected, new]`.
    List(Vec<Value>),
    /// A map with string keys, e.g. several registers read at once.
    Map(BTreeMap<String, Value>),
}

impl Value {
    /// The integer inside, if this is an integer.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Value::Int(n) => Some(*n),
            _ => None,
        }
    }

    /// The string inside, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The elements, if this is a list.
    pub fn as_list(&self) -> Option<&[Value]> {
        match self {
            Value::List(items) => Some(items),
            _ => None,
        }
    }

    /// Whether this is `Nil`.
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Int(n)
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Str(s.to_string())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Str(s)
    }
}

impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Value {
        v.map_or(Value::Nil, Into::into)
    }
}

impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(items: Vec<T>) -> Value {
        Value::List(items.into_iter().map(Into::into).collect())
    }
}

impl fmt::Display for Value {
    /// EDN-like: `nil`, `3`, `"x"`, `[1 2]`, `{"x" 1}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Nil => f.write_str("nil"),
            Value::Int(n) => write!(f, "{n}"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::List(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_str("]")
            }
            Value::Map(map) => {
                f.write_str("{")?;
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k:?} {v}")?;
                }
                f.write_str("}")
            }
        }
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Nil => s.serialize_unit(),
            Value::Int(n) => s.serialize_i64(*n),
            Value::Str(v) => s.serialize_str(v),
            Value::List(items) => items.serialize(s),
            Value::Map(map) => map.serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        struct ValueVisitor;
        impl<'de> Visitor<'de> for ValueVisitor {
            type Value = Value;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("null, an integer, a string, a list or a map")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
                Ok(Value::Nil)
            }
            fn visit_none<E: de::Error>(self) -> Result<Value, E> {
                Ok(Value::Nil)
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Value, E> {
                Ok(Value::Int(n))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Value, E> {
                i64::try_from(n)
                    .map(Value::Int)
                    .map_err(|_| E::custom(format!("integer {n} does not fit in 64 signed bits")))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Value, E> {
                Err(E::custom(format!(
                    "{n} is not an integer; history values are integers, strings, lists or maps"
                )))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
                Ok(Value::Str(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
                Ok(Value::Str(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Value::List(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
                let mut map = BTreeMap::new();
                while let Some((k, v)) = access.next_entry::<String, Value>()? {
                    map.insert(k, v);
                }
                Ok(Value::Map(map))
            }
        }
        d.deserialize_any(ValueVisitor)
    }
}

/// An operation a workload asks a client to perform: a function name, an
/// optional key and an argument, as in Jepsen (`{:f :cas, :value [1 2]}`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Op {
    /// The function: "read", "write", "cas", "append", "transfer", ...
    pub f: String,
    /// The key the operation addresses, for keyed models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Value>,
    /// The argument (nil for a read).
    #[serde(default)]
    pub value: Value,
}

impl Op {
    /// An operation with a function name and argument, on no particular key.
    pub fn new(f: impl Into<String>, value: impl Into<Value>) -> Op {
        Op { f: f.into(), key: None, value: value.into() }
    }

    /// The same operation addressed to `key`.
    pub fn on_key(mut self, key: impl Into<Value>) -> Op {
        self.key = Some(key.into());
        self
    }
}

/// How a client reports the end of an operation.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Outcome {
    /// It happened, with this result (a read's value; an echo for writes).
    Ok(Value),
    /// It certainly did not happen; the reason is for people.
    Fail(String),
    /// Unknown whether it happened; the reason is for people.
    Info(String),
}

/// The kind of a history record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordType {
    /// The operation was invoked.
    Invoke,
    /// It completed and took effect.
    Ok,
    /// It completed and certainly did not take effect.
    Fail,
    /// It completed with an unknown effect.
    Info,
}

/// One line of a history: an invocation or a completion.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// The process (logical client) that issued the operation.
    pub process: u64,
    /// Invocation or which kind of completion.
    #[serde(rename = "type")]
    pub kind: RecordType,
    /// The function name.
    pub f: String,
    /// The key, for keyed models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Value>,
    /// The argument on an invocation; the result on an `ok`.
    #[serde(default)]
    pub value: Value,
    /// Virtual time of the record, in nanoseconds.
    #[serde(default)]
    pub time: Time,
    /// Why a `fail` or `info` happened, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A history: records in real-time order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct History {
    records: Vec<Record>,
}

/// Why a history could not be read.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    /// Reading the input failed.
    #[error("cannot read history: {0}")]
    Io(#[from] io::Error),
    /// A line is not a valid record.
    #[error("line {line}: {message}")]
    Malformed {
        /// 1-based line number.
        line: usize,
        /// What was wrong and what was expected.
        message: String,
    },
    /// A completion whose process has no operation outstanding.
    #[error("line {line}: process {process} completes an operation it never invoked")]
    CompletionWithoutInvoke {
        /// 1-based line number (or record index + 1).
        line: usize,
        /// The process.
        process: u64,
    },
    /// An invocation while the same process still has one outstanding.
    #[error(
        "line {line}: process {process} invokes an operation while its operation from line {open_line} is still outstanding"
    )]
    ConcurrentInvoke {
        /// 1-based line number of the second invocation.
        line: usize,
        /// 1-based line number of the outstanding invocation.
        open_line: usize,
        /// The process.
        process: u64,
    },
    /// A completion whose function differs from its invocation's.
    #[error("line {line}: process {process} completes {completed:?} but invoked {invoked:?}")]
    MismatchedCompletion {
        /// 1-based line number.
        line: usize,
        /// The process.
        process: u64,
        /// The invoked function.
        invoked: String,
        /// The completed function.
        completed: String,
    },
}

/// One operation, its invocation paired with its completion.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Operation {
    /// Position of the invocation record in the history.
    pub invoke_index: usize,
    /// Position of the completion record, if the operation completed.
    pub complete_index: Option<usize>,
    /// The process that issued it.
    pub process: u64,
    /// The function name.
    pub f: String,
    /// The key, for keyed models.
    pub key: Option<Value>,
    /// The invocation's argument.
    pub argument: Value,
    /// How it ended: `Ok`, `Fail`, or `Info` (also for never completed).
    pub kind: RecordType,
    /// The result of an `ok` completion; otherwise nil.
    pub result: Value,
    /// Virtual time of the invocation.
    pub invoked_at: Time,
    /// Virtual time of the completion, if any.
    pub completed_at: Option<Time>,
}

impl History {
    /// An empty history.
    pub fn new() -> History {
        History::default()
    }

    /// Appends a record.
    pub fn push(&mut self, record: Record) {
        self.records.push(record);
    }

    /// The records, in order.
    pub fn records(&self) -> &[Record] {
        &self.records
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether there are no records.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Pairs invocations with completions, checking the history's rules:
    /// every completion has an outstanding invocation on its process, and a
    /// process never has two operations outstanding. Operations that never
    /// completed come back as `Info`.
    pub fn operations(&self) -> Result<Vec<Operation>, HistoryError> {
        let mut operations: Vec<Operation> = Vec::new();
        let mut open: BTreeMap<u64, usize> = BTreeMap::new();
        for (index, record) in self.records.iter().enumerate() {
            let line = index + 1;
            if record.kind == RecordType::Invoke {
                if let Some(&op) = open.get(&record.process) {
                    return Err(HistoryError::ConcurrentInvoke {
                        line,
                        open_line: operations[op].invoke_index + 1,
                        process: record.process,
                    });
                }
                open.insert(record.process, operations.len());
                operations.push(Operation {
                    invoke_index: index,
                    complete_index: None,
                    process: record.process,
                    f: record.f.clone(),
                    key: record.key.clone(),
                    argument: record.value.clone(),
                    kind: RecordType::Info,
                    result: Value::Nil,
                    invoked_at: record.time,
                    completed_at: None,
                });
                continue;
            }
            let Some(op) = open.remove(&record.process) else {
                return Err(HistoryError::CompletionWithoutInvoke { line, process: record.process });
            };
            let operation = &mut operations[op];
            if operation.f != record.f {
                return Err(HistoryError::MismatchedCompletion {
                    line,
                    process: record.process,
                    invoked: operation.f.clone(),
                    completed: record.f.clone(),
                });
            }
            operation.complete_index = Some(index);
            operation.kind = record.kind;
            operation.completed_at = Some(record.time);
            if record.kind == RecordType::Ok {
                operation.result = record.value.clone();
            }
        }
        Ok(operations)
    }

    /// Writes the history as JSON lines, one record per line.
    pub fn write_jsonl(&self, mut out: impl Write) -> io::Result<()> {
        for record in &self.records {
            serde_json::to_writer(&mut out, record)?;
            out.write_all(b"\n")?;
        }
        Ok(())
    }

    /// Reads a history written as JSON lines; blank lines are skipped.
    /// Errors name the line and what was expected.
    pub fn read_jsonl(input: impl BufRead) -> Result<History, HistoryError> {
        let mut records = Vec::new();
        for (index, line) in input.lines().enumerate() {
            let line = line?;
            if line.trim().is_empty() {
                continue;
            }
            let record = serde_json::from_str(&line).map_err(|e| HistoryError::Malformed {
                line: index + 1,
                message: format!("{e}; expected a record like {EXAMPLE_RECORD}"),
            })?;
            records.push(record);
        }
        Ok(History { records })
    }
}

const EXAMPLE_RECORD: &str = r#"{"process":0,"type":"invoke","f":"write","value":3,"time":0}"#;

impl FromIterator<Record> for History {
    fn from_iter<I: IntoIterator<Item = Record>>(iter: I) -> History {
        History { records: iter.into_iter().collect() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(process: u64, kind: RecordType, f: &str, value: Value) -> Record {
        Record { process, kind, f: f.into(), key: None, value, time: Time::ZERO, error: None }
    }

    #[test]
    fn value_json_round_trips() {
        let v = Value::List(vec![
            Value::Nil,
            Value::Int(-3),
            "x".into(),
            Value::Map(BTreeMap::from([("k".to_string(), Value::Int(1))])),
        ]);
        let json = serde_json::to_string(&v).unwrap();
        assert_eq!(json, r#"[null,-3,"x",{"k":1}]"#);
        assert_eq!(serde_json::from_str::<Value>(&json).unwrap(), v);
        assert_eq!(v.to_string(), r#"[nil -3 "x" {"k" 1}]"#);
    }

    #[test]
    fn jsonl_round_trips() {
        let mut history = History::new();
        history.push(record(0, RecordType::Invoke, "cas", vec![1, 2].into()));
        history.push(record(0, RecordType::Ok, "cas", vec![1, 2].into()));
        let mut bytes = Vec::new();
        history.write_jsonl(&mut bytes).unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(
            text.lines().next().unwrap(),
            r#"{"process":0,"type":"invoke","f":"cas","value":[1,2],"time":0}"#
        );
        assert_eq!(History::read_jsonl(text.as_bytes()).unwrap(), history);
    }

    #[test]
    fn malformed_line_is_named() {
        let text = "{\"process\":0,\"type\":\"invoke\",\"f\":\"read\"}\n\n{\"process\":0,\"type\":\"okay\",\"f\":\"read\"}\n";
        let err = History::read_jsonl(text.as_bytes()).unwrap_err();
        assert!(matches!(err, HistoryError::Malformed { line: 3, .. }), "{err}");
        assert!(err.to_string().contains("okay"), "{err}");
    }

    #[test]
    fn pairs_operations_and_enforces_rules() {
        let history: History = [
            record(0, RecordType::Invoke, "write", 1.into()),
            record(1, RecordType::Invoke, "read", Value::Nil),
            record(0, RecordType::Ok, "write", 1.into()),
            record(1, RecordType::Ok, "read", 1.into()),
            record(0, RecordType::Invoke, "write", 2.into()),
        ]
        .into_iter()
        .collect();
        let ops = history.operations().unwrap();
        assert_eq!(ops.len(), 3);
        assert_eq!(ops[1].result, Value::Int(1));
        assert_eq!(ops[2].kind, RecordType::Info, "never completed counts as info");

        let orphan: History = [record(4, RecordType::Ok, "read", Value::Nil)].into_iter().collect();
        assert!(matches!(
            orphan.operations(),
            Err(HistoryError::CompletionWithoutInvoke { line: 1, process: 4 })
        ));

        let twice: History = [
            record(2, RecordType::Invoke, "read", Value::Nil),
            record(2, RecordType::Invoke, "read", Value::Nil),
        ]
        .into_iter()
        .collect();
        assert!(matches!(
            twice.operations(),
            Err(HistoryError::ConcurrentInvoke { line: 2, open_line: 1, process: 2 })
        ));
    }
}
