//! Jepsen's console log lines, as in Porcupine's etcd test data:
//! `INFO  jepsen.util - 3<TAB>:ok<TAB>:read<TAB>nil`. Fields split on any whitespace;
//! the value is the rest of the line, read as EDN (`[1 2]` has a space).

use crate::check::formats::FormatError;
use crate::check::formats::edn;
use crate::history::{Record, RecordType};
use crate::time::Time;

const MARKER: &str = "jepsen.util - ";

/// Reads log lines; blank lines are skipped.
pub(super) fn read(text: &str) -> Result<Vec<(Record, usize)>, FormatError> {
    let mut records = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if !line.trim().is_empty() {
            records.push((read_line(line, index + 1)?, index + 1));
        }
    }
    Ok(records)
}

fn read_line(line: &str, number: usize) -> Result<Record, FormatError> {
    let error =
        |column: usize, what: &str| FormatError::syntax(number, Some(column), format!("expected {what}"));
    let Some(start) = line.find(MARKER) else {
        return Err(error(1, "a line like `INFO  jepsen.util - 3\t:ok\t:read\tnil`"));
    };
    let mut rest = &line[start + MARKER.len()..];
    let mut field = |what: &str| -> Result<(&str, usize), FormatError> {
        let trimmed = rest.trim_start();
        let column = line.len() - trimmed.len() + 1;
        let end = trimmed.find(char::is_whitespace).unwrap_or(trimmed.len());
        if end == 0 {
            return Err(error(column, what));
        }
        rest = &trimmed[end..];
        Ok((&trimmed[..end], column))
    };
    let (process, column) = field("a process number")?;
    let process = process.parse().map_err(|_| error(column, "a process number"))?;
    let (kind, column) = field("a type (:invoke, :ok, :fail or :info)")?;
    let kind = record_type(kind).ok_or_else(|| error(column, "a type (:invoke, :ok, :fail or :info)"))?;
    let (f, column) = field("a function such as :read")?;
    let f = f.strip_prefix(':').ok_or_else(|| error(column, "a function keyword such as :read"))?;
    let value_text = rest.trim();
    let column = line.len() - rest.trim_start().len() + 1;
    let value = edn::read_value(value_text, number, column)?;
    Ok(Record { process, kind, f: f.to_string(), key: None, value, time: Time::ZERO, error: None })
}

/// The record type written as a keyword, e.g. `:ok`.
pub(super) fn record_type(text: &str) -> Option<RecordType> {
    match text {
        ":invoke" => Some(RecordType::Invoke),
        ":ok" => Some(RecordType::Ok),
        ":fail" => Some(RecordType::Fail),
        ":info" => Some(RecordType::Info),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::history::Value;

    #[test]
    fn reads_tabs_and_spaces() {
        let text = "INFO  jepsen.util - 2\t:invoke\t:cas\t[1 4]\nINFO  jepsen.util - 2   :ok   :cas   [1 4]\n\nINFO  jepsen.util - 3\t:info\t:write\t:timed-out\n";
        let records = read(text).unwrap();
        assert_eq!(records.len(), 3);
        assert_eq!(records[1].0.value, Value::List(vec![1.into(), 4.into()]));
        assert_eq!(records[2].1, 4);
        assert_eq!(records[2].0.kind, RecordType::Info);
    }

    #[test]
    fn errors_name_the_field() {
        let err = read("INFO  jepsen.util - 2\t:done\t:cas\t[1 4]\n").unwrap_err();
        assert!(err.to_string().contains("line 1, column 23: expected a type"), "{err}");
        let err = read("INFO  jepsen.util - 2\t:ok\t:cas\t[1 4\n").unwrap_err();
        assert!(err.to_string().starts_with("line 1, column"), "{err}");
    }

    #[test]
    fn deeply_nested_values_are_errors() {
        let line =
            format!("INFO  jepsen.util - 2\t:ok\t:read\t{}1{}\n", "[".repeat(50_000), "]".repeat(50_000));
        let err = read(&line).unwrap_err();
        assert!(err.to_string().contains("levels of nesting"), "{err}");
        let err = read("INFO  jepsen.util - -2\t:ok\t:read\tnil\n").unwrap_err();
        assert!(err.to_string().contains("expected a process number"), "{err}");
    }
}
