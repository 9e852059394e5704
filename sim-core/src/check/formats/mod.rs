//! Reading histories: Orrery's JSON lines, Jepsen EDN (as Knossos reads it),
//! and the Jepsen/etcd console logs in Porcupine's test data.
//!
//! Each reader keeps the source line of every record, checks the history's
//! rules (a completion needs an invocation; one operation in flight per
//! process) and reports problems by line. Format semantics are applied here:
//! EDN drops failed operations and nemesis operations, as Knossos does.

mod edn;
mod etcd_log;
mod jsonl;

use std::fmt;

use crate::history::{History, HistoryError, Record, Value};

/// An on-disk history format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// Detect from the content.
    Auto,
    /// Orrery's JSON lines, one record per line.
    Jsonl,
    /// Jepsen EDN: one collection of operation maps, or one map per line.
    Edn,
    /// Jepsen's console log lines, as in Porcupine's etcd test data.
    EtcdLog,
}

impl Format {
    /// Every format's name, as on the command line.
    pub const NAMES: [&'static str; 4] = ["auto", "jsonl", "edn", "etcd-log"];

    /// The format called `name` on the command line.
    pub fn from_name(name: &str) -> Option<Format> {
        match name {
            "auto" => Some(Format::Auto),
            "jsonl" | "json" => Some(Format::Jsonl),
            "edn" => Some(Format::Edn),
            "etcd-log" | "etcd" => Some(Format::EtcdLog),
            _ => None,
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Format::Auto => "auto",
            Format::Jsonl => "jsonl",
            Format::Edn => "edn",
            Format::EtcdLog => "etcd-log",
        })
    }
}

/// Why a history file could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// The text is not well-formed in its format.
    #[error("line {line}{}: {message}", column.map(|c| format!(", column {c}")).unwrap_or_default())]
    Syntax {
        /// 1-based line.
        line: usize,
        /// 1-based column, where it helps.
        column: Option<usize>,
        /// What was wrong and what was expected.
        message: String,
    },
    /// Well-formed, but the records break the rules of histories.
    #[error("history rule broken: {0}")]
    Rules(HistoryError),
}

impl FormatError {
    fn syntax(line: usize, column: Option<usize>, message: impl Into<String>) -> FormatError {
        FormatError::Syntax { line, column, message: message.into() }
    }
}

/// A history read from text, with the source line of each record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parsed {
    /// The records, in real-time order, after the format's preprocessing.
    pub history: History,
    /// 1-based source line of each record.
    pub lines: Vec<usize>,
    /// The format read (never `Auto`).
    pub format: Format,
}

/// Reads a history in `format` (or the detected one) and checks its rules.
pub fn read(text: &str, format: Format) -> Result<Parsed, FormatError> {
    let format = if format == Format::Auto { detect(text) } else { format };
    let records = match format {
        Format::Jsonl => jsonl::read(text)?,
        Format::Edn => edn::read(text)?,
        Format::EtcdLog => etcd_log::read(text)?,
        Format::Auto => unreachable!("detect never answers Auto"),
    };
    let parsed = into_parsed(records, format)?;
    Ok(parsed)
}

/// Builds a `Parsed` from records with lines, checking the history's rules.
fn into_parsed(records: Vec<(Record, usize)>, format: Format) -> Result<Parsed, FormatError> {
    let (records, lines): (Vec<Record>, Vec<usize>) = records.into_iter().unzip();
    let history: History = records.into_iter().collect();
    check_rules(&history, &lines)?;
    Ok(Parsed { history, lines, format })
}

/// Checks a history's rules, naming source lines in errors.
fn check_rules(history: &History, lines: &[usize]) -> Result<(), FormatError> {
    let Err(error) = history.operations() else { return Ok(()) };
    let at = |record_line: usize| lines.get(record_line - 1).copied().unwrap_or(record_line);
    let error = match error {
        HistoryError::CompletionWithoutInvoke { line, process } => {
            HistoryError::CompletionWithoutInvoke { line: at(line), process }
        }
        HistoryError::ConcurrentInvoke { line, open_line, process } => {
            HistoryError::ConcurrentInvoke { line: at(line), open_line: at(open_line), process }
        }
        HistoryError::MismatchedCompletion { line, process, invoked, completed } => {
            HistoryError::MismatchedCompletion { line: at(line), process, invoked, completed }
        }
        other => other,
    };
    Err(FormatError::Rules(error))
}

/// Reads one value written as JSON or EDN (e.g. a model's initial value).
pub fn read_value(text: &str) -> Result<Value, FormatError> {
    serde_json::from_str(text).or_else(|_| edn::read_value(text.trim(), 1, 1))
}

/// Guesses the format from the first meaningful characters.
pub fn detect(text: &str) -> Format {
    let mut rest = text.trim_start_matches(|c: char| c.is_whitespace() || c == ',');
    while rest.starts_with(';') {
        rest = rest.split_once('\n').map_or("", |(_, after)| after);
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == ',');
    }
    if rest.starts_with("INFO") || rest.lines().next().is_some_and(|l| l.contains("jepsen.util")) {
        return Format::EtcdLog;
    }
    match rest.chars().next() {
        Some('[' | '(' | '#' | ':') => Format::Edn,
        Some('{') => match rest[1..].trim_start().chars().next() {
            Some('"' | '}') => Format::Jsonl,
            _ => Format::Edn,
        },
        _ => Format::Jsonl,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_values_as_json_or_edn() {
        assert_eq!(read_value("3").unwrap(), Value::Int(3));
        assert_eq!(read_value("{\"x\": 0}").unwrap(), read_value("{:x 0}").unwrap());
        assert_eq!(read_value("nil").unwrap(), Value::Nil);
        assert!(read_value("[1").is_err());
    }

    #[test]
    fn detects_each_format() {
        assert_eq!(detect("{\"process\":0}\n"), Format::Jsonl);
        assert_eq!(detect(""), Format::Jsonl);
        assert_eq!(detect("; comment\n[{:process 0}]"), Format::Edn);
        assert_eq!(detect("{:process 0, :type :invoke}"), Format::Edn);
        assert_eq!(detect("INFO  jepsen.util - 0\t:invoke\t:read\tnil"), Format::EtcdLog);
    }

    #[test]
    fn rule_errors_name_source_lines() {
        let text = "\n\n{\"process\":1,\"type\":\"ok\",\"f\":\"read\"}\n";
        let err = read(text, Format::Auto).unwrap_err();
        assert!(
            matches!(err, FormatError::Rules(HistoryError::CompletionWithoutInvoke { line: 3, process: 1 })),
            "{err}"
        );
    }
}
