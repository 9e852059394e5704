//! Jepsen EDN histories, read as Knossos reads them.
//!
//! The file is one vector or list of operation maps, or a sequence of maps
//! (one per line, as in Porcupine's kv data). Knossos' preprocessing applies:
//! operations of the `:nemesis` process are ignored, an
//! operation completed by `:fail` is dropped with its invocation (it never
//! happened), and an `:ok` read of `nil` is a read of unknown value (kept as
//! `info`). Keywords become strings without the colon.
//!
//! Input is untrusted: nesting deeper than [`DEPTH_MAX`] is an error (the
//! reader recurses), and a record whose `:process`, `:type`, `:f` or `:time`
//! cannot be interpreted is an error naming its line, never skipped.

use std::collections::BTreeMap;

use crate::check::formats::etcd_log::record_type;
use crate::check::formats::{FormatError, check_rules};
use crate::history::{History, Record, RecordType, Value};
use crate::time::Time;

/// An EDN value, before conversion to a history `Value`.
#[derive(Clone, Debug, PartialEq)]
enum Edn {
    Nil,
    Int(i64),
    /// Floats, booleans, characters and symbols, kept as their text.
    Text(String),
    Str(String),
    Keyword(String),
    Seq(Vec<Edn>),
    Map(Vec<(Edn, Edn)>),
}

impl Edn {
    fn into_value(self) -> Value {
        match self {
            Edn::Nil => Value::Nil,
            Edn::Int(n) => Value::Int(n),
            Edn::Text(s) | Edn::Str(s) | Edn::Keyword(s) => Value::Str(s),
            Edn::Seq(items) => Value::List(items.into_iter().map(Edn::into_value).collect()),
            Edn::Map(entries) => {
                Value::Map(entries.into_iter().map(|(k, v)| (k.into_key(), v.into_value())).collect())
            }
        }
    }

    fn into_key(self) -> String {
        match self.into_value() {
            Value::Str(s) => s,
            other => other.to_string(),
        }
    }
}

/// A cursor over EDN text that knows its line and column.
struct Reader<'a> {
    text: &'a [u8],
    pos: usize,
    line: usize,
    line_start: usize,
    /// Column offset of the text's first line (for values embedded in a log line).
    column_base: usize,
    /// Values open around the cursor; bounded by `DEPTH_MAX`.
    depth: usize,
}

/// The deepest nesting of values read (collections, tags and discards each
/// count a level). Jepsen histories nest a handful of levels; the bound keeps
/// the recursive reader far from the end of a 2 MiB thread stack.
pub(crate) const DEPTH_MAX: usize = 128;

const DELIMITERS: &[u8] = b"()[]{}\",;";

impl<'a> Reader<'a> {
    fn new(text: &'a str, line: usize, column: usize) -> Reader<'a> {
        Reader {
            text: text.as_bytes(),
            pos: 0,
            line,
            line_start: 0,
            column_base: column.saturating_sub(1),
            depth: 0,
        }
    }

    fn column(&self) -> usize {
        self.pos - self.line_start + 1 + self.column_base
    }

    fn error(&self, message: impl Into<String>) -> FormatError {
        FormatError::syntax(self.line, Some(self.column()), message)
    }

    fn peek(&self) -> Option<u8> {
        self.text.get(self.pos).copied()
    }

    fn bump(&mut self) -> Option<u8> {
        let byte = self.peek()?;
        self.pos += 1;
        if byte == b'\n' {
            self.line += 1;
            self.line_start = self.pos;
            self.column_base = 0;
        }
        Some(byte)
    }

    /// Skips whitespace, commas and `;` comments.
    fn skip_blank(&mut self) {
        while let Some(byte) = self.peek() {
            match byte {
                b';' => {
                    while self.peek().is_some_and(|b| b != b'\n') {
                        self.bump();
                    }
                }
                b',' => {
                    self.bump();
                }
                _ if byte.is_ascii_whitespace() => {
                    self.bump();
                }
                _ => return,
            }
        }
    }

    fn value(&mut self) -> Result<Edn, FormatError> {
        if self.depth == DEPTH_MAX {
            return Err(self.error(format!("expected at most {DEPTH_MAX} levels of nesting")));
        }
        self.depth += 1;
        let value = self.value_inner();
        self.depth -= 1;
        value
    }

    fn value_inner(&mut self) -> Result<Edn, FormatError> {
        self.skip_blank();
        let Some(byte) = self.peek() else {
            return Err(self.error("expected a value, found the end of the input"));
        };
        match byte {
            b'(' => self.seq(b')'),
            b'[' => self.seq(b']'),
            b'{' => self.map(),
            b'"' => self.string(),
            b'#' => self.dispatch(),
            b')' | b']' | b'}' => Err(self.error(format!("unexpected `{}`: expected a value", byte as char))),
            _ => self.atom(),
        }
    }

    fn seq(&mut self, close: u8) -> Result<Edn, FormatError> {
        self.bump();
        let mut items = Vec::new();
        loop {
            self.skip_blank();
            match self.peek() {
                Some(b) if b == close => {
                    self.bump();
                    return Ok(Edn::Seq(items));
                }
                None => {
                    return Err(
                        self.error(format!("expected `{}` before the end of the input", close as char))
                    );
                }
                _ => items.push(self.value()?),
            }
        }
    }

    fn map(&mut self) -> Result<Edn, FormatError> {
        let (line, column) = (self.line, self.column());
        let Edn::Seq(items) = self.seq(b'}')? else { unreachable!("seq returns Seq") };
        if items.len() % 2 == 1 {
            return Err(FormatError::syntax(
                line,
                Some(column),
                "expected a map with an even number of forms (key value pairs)",
            ));
        }
        let mut entries = Vec::with_capacity(items.len() / 2);
        let mut items = items.into_iter();
        while let (Some(k), Some(v)) = (items.next(), items.next()) {
            entries.push((k, v));
        }
        Ok(Edn::Map(entries))
    }

    fn dispatch(&mut self) -> Result<Edn, FormatError> {
        self.bump();
        match self.peek() {
            Some(b'{') => self.seq(b'}'),
            Some(b'_') => {
                self.bump();
                self.value()?;
                self.value()
            }
            // A tagged literal such as #inst "...": keep the value, drop the tag.
            Some(b) if b.is_ascii_alphabetic() => {
                self.atom()?;
                self.value()
            }
            _ => Err(self.error("expected a set `#{`, a discard `#_` or a tagged literal after `#`")),
        }
    }

    fn string(&mut self) -> Result<Edn, FormatError> {
        let (line, column) = (self.line, self.column());
        self.bump();
        let mut bytes = Vec::new();
        loop {
            match self.bump() {
                None => {
                    return Err(FormatError::syntax(
                        line,
                        Some(column),
                        "expected a closing `\"` for this string",
                    ));
                }
                Some(b'"') => break,
                Some(b'\\') => {
                    let escaped = match self.bump() {
                        Some(b'n') => b'\n',
                        Some(b't') => b'\t',
                        Some(b'r') => b'\r',
                        Some(other) => other,
                        None => continue,
                    };
                    bytes.push(escaped);
                }
                Some(byte) => bytes.push(byte),
            }
        }
        String::from_utf8(bytes)
            .map(Edn::Str)
            .map_err(|_| FormatError::syntax(line, Some(column), "expected UTF-8 text in this string"))
    }

    fn atom(&mut self) -> Result<Edn, FormatError> {
        let start = self.pos;
        let column = self.column();
        while self.peek().is_some_and(|b| !b.is_ascii_whitespace() && !DELIMITERS.contains(&b)) {
            self.bump();
        }
        let token = std::str::from_utf8(&self.text[start..self.pos]).expect("split at ASCII delimiters");
        if token.is_empty() {
            return Err(FormatError::syntax(self.line, Some(column), "expected a value"));
        }
        Ok(atom(token))
    }
}

fn atom(token: &str) -> Edn {
    if token == "nil" {
        return Edn::Nil;
    }
    if let Some(name) = token.strip_prefix(':') {
        return Edn::Keyword(name.to_string());
    }
    let digits = token.strip_suffix('N').unwrap_or(token);
    match digits.parse::<i64>() {
        Ok(n) => Edn::Int(n),
        Err(_) => Edn::Text(token.to_string()),
    }
}

/// Reads one EDN value that starts at `line`, `column` of the input.
pub(super) fn read_value(text: &str, line: usize, column: usize) -> Result<Value, FormatError> {
    let mut reader = Reader::new(text, line, column);
    let value = reader.value()?;
    reader.skip_blank();
    if reader.peek().is_some() {
        return Err(reader.error("expected the end of the value"));
    }
    Ok(value.into_value())
}

/// Reads an EDN history and applies Knossos' preprocessing.
pub(super) fn read(text: &str) -> Result<Vec<(Record, usize)>, FormatError> {
    let mut reader = Reader::new(text, 1, 1);
    let mut maps = Vec::new();
    reader.skip_blank();
    if matches!(reader.peek(), Some(b'[' | b'(')) {
        let close = if reader.bump() == Some(b'[') { b']' } else { b')' };
        loop {
            reader.skip_blank();
            match reader.peek() {
                Some(b) if b == close => break,
                None => {
                    return Err(reader.error(format!("expected `{}` to close the history", close as char)));
                }
                _ => maps.push(located(&mut reader)?),
            }
        }
        reader.bump();
        reader.skip_blank();
        if reader.peek().is_some() {
            return Err(reader.error("expected the end of the input after the history's collection"));
        }
    } else {
        while reader.peek().is_some() {
            maps.push(located(&mut reader)?);
            reader.skip_blank();
        }
    }
    let mut records = Vec::with_capacity(maps.len());
    for (edn, line, column) in maps {
        if let Some(record) = record(edn, line, column)? {
            records.push((record, line));
        }
    }
    let history: History = records.iter().map(|(r, _)| r.clone()).collect();
    let lines: Vec<usize> = records.iter().map(|&(_, l)| l).collect();
    check_rules(&history, &lines)?;
    Ok(knossos(records))
}

fn located(reader: &mut Reader<'_>) -> Result<(Edn, usize, usize), FormatError> {
    reader.skip_blank();
    let (line, column) = (reader.line, reader.column());
    Ok((reader.value()?, line, column))
}

/// A record from an operation map; `None` for the nemesis' operations.
fn record(edn: Edn, line: usize, column: usize) -> Result<Option<Record>, FormatError> {
    let error = |message: String| FormatError::syntax(line, Some(column), message);
    let Edn::Map(entries) = edn else {
        return Err(error(
            "expected an operation map like {:process 0, :type :invoke, :f :read, :value nil}".into(),
        ));
    };
    let mut fields: BTreeMap<String, Edn> = BTreeMap::new();
    for (k, v) in entries {
        let key = k.into_key();
        let known = ["process", "type", "f", "value", "key", "time", "error"].contains(&key.as_str());
        if fields.insert(key.clone(), v).is_some() && known {
            return Err(error(format!("expected one :{key} in the operation map, found two")));
        }
    }
    let process = match fields.remove("process") {
        Some(Edn::Int(n)) if n >= 0 => n as u64,
        Some(Edn::Keyword(k)) if k == "nemesis" => return Ok(None),
        Some(other) => {
            let found = other.into_value();
            return Err(error(format!(
                "expected :process to be a non-negative integer or :nemesis, found {found}"
            )));
        }
        None => return Err(error("expected a :process key".into())),
    };
    let kind = match fields.remove("type") {
        Some(Edn::Keyword(k)) => record_type(&format!(":{k}")),
        _ => None,
    };
    let kind = kind.ok_or_else(|| error("expected :type to be :invoke, :ok, :fail or :info".into()))?;
    let f = match fields.remove("f") {
        Some(Edn::Keyword(f) | Edn::Str(f) | Edn::Text(f)) => f,
        _ => return Err(error("expected :f to be a keyword such as :read".into())),
    };
    let time = match fields.remove("time") {
        None => Time::ZERO,
        Some(Edn::Int(n)) if n >= 0 => Time::from_nanos(n as u64),
        Some(other) => {
            let found = other.into_value();
            return Err(error(format!(
                "expected :time to be non-negative integer nanoseconds, found {found}"
            )));
        }
    };
    let value = fields.remove("value").map_or(Value::Nil, Edn::into_value);
    let key = fields.remove("key").map(Edn::into_value);
    let error_text = fields.remove("error").map(|e| e.into_value().to_string());
    Ok(Some(Record { process, kind, f, key, value, time, error: error_text }))
}

/// Knossos' rules: failed operations never happened; an ok read of nil read
/// an unknown value.
fn knossos(records: Vec<(Record, usize)>) -> Vec<(Record, usize)> {
    let mut dropped = vec![false; records.len()];
    let mut open: BTreeMap<u64, usize> = BTreeMap::new();
    for (i, (record, _)) in records.iter().enumerate() {
        if record.kind == RecordType::Invoke {
            open.insert(record.process, i);
        } else if let Some(invoke) = open.remove(&record.process)
            && record.kind == RecordType::Fail
        {
            dropped[i] = true;
            dropped[invoke] = true;
        }
    }
    let kept = records.into_iter().zip(dropped).filter(|(_, d)| !d).map(|(r, _)| r);
    kept.map(|(mut record, line)| {
        if record.kind == RecordType::Ok && record.f == "read" && record.value.is_nil() {
            record.kind = RecordType::Info;
        }
        (record, line)
    })
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"; p2's write of 5 crashed
[{:process 0, :type :invoke, :f :cas, :value [0 1]}
 {:process 2, :type :invoke, :f :write, :value 5}
 {:process 0, :type :ok, :f :cas, :value [0 1]}
 {:process 2, :type :info, :f :write, :value 5, :error [:temporarily-unavailable nil]}
 {:process :nemesis, :type :info, :f :start, :value nil}
 {:process 1, :type :invoke, :f :cas, :value [1 2]}
 {:process 1, :type :fail, :f :cas, :value [1 2]}
 {:process 1,
  :type :invoke, :f :read :value nil, :time 12}
 {:process 1 :type :ok :f :read :value 5 :note "a [bracket] {and} \"quote\""}]"#;

    #[test]
    fn reads_knossos_history() {
        let records = read(EXAMPLE).unwrap();
        let summary: Vec<(u64, RecordType, usize)> =
            records.iter().map(|(r, line)| (r.process, r.kind, *line)).collect();
        assert_eq!(
            summary,
            vec![
                (0, RecordType::Invoke, 2),
                (2, RecordType::Invoke, 3),
                (0, RecordType::Ok, 4),
                (2, RecordType::Info, 5),
                (1, RecordType::Invoke, 9),
                (1, RecordType::Ok, 11),
            ]
        );
        assert_eq!(records[0].0.value, Value::List(vec![0.into(), 1.into()]));
        assert_eq!(records[4].0.time, Time::from_nanos(12));
    }

    #[test]
    fn reads_maps_one_per_line_and_lists() {
        let text = "{:process 0, :type :invoke, :f :get, :key \"3\", :value nil}\n{:process 0, :type :ok, :f :get, :key \"3\", :value \"\"}\n";
        let records = read(text).unwrap();
        assert_eq!(records[1].0.key, Some("3".into()));
        assert_eq!(records[1].0.value, Value::Str(String::new()));
        let list = "(#_ {:ignored 1} {:process 0 :type :invoke :f :acquire})";
        assert_eq!(read(list).unwrap().len(), 1);
    }

    #[test]
    fn ok_read_of_nil_is_unknown() {
        let text = "[{:process 0 :type :invoke :f :read} {:process 0 :type :ok :f :read :value nil}]";
        assert_eq!(read(text).unwrap()[1].0.kind, RecordType::Info);
    }

    #[test]
    fn errors_name_line_and_column() {
        let err = read("[{:process 0 :type :invoke :f :read}\n {:process 0 :type :ok :f :read :value [1 2}]")
            .unwrap_err();
        assert!(err.to_string().starts_with("line 2, column"), "{err}");
        let err = read("[{:process 0 :type :begin :f :read}]").unwrap_err();
        assert_eq!(err.to_string(), "line 1, column 2: expected :type to be :invoke, :ok, :fail or :info");
        let err =
            read("[{:process 0 :type :invoke :f :read}\n{:process 0 :type :invoke :f :read}]").unwrap_err();
        assert!(matches!(err, FormatError::Rules(_)), "{err}");
        assert!(err.to_string().contains("line 2"), "{err}");
        assert!(read("{:process 0 :type}").is_err());
        assert!(read("[{:process 0 :type :invoke :f :read :value \"open}]").is_err());
    }

    #[test]
    fn value_columns_are_offset() {
        let err = read_value("[1 2", 7, 30).unwrap_err();
        assert_eq!(err.to_string(), "line 7, column 34: expected `]` before the end of the input");
    }

    #[test]
    fn deep_nesting_is_an_error_not_an_overflow() {
        for (open, close) in [("[", "]"), ("{:a ", "}"), ("#_ ", ""), ("#tag ", "")] {
            let text = format!(
                "[{{:process 0 :type :invoke :f :read :value\n{}1{}}}]",
                open.repeat(50_000),
                close.repeat(50_000)
            );
            let err = read(&text).unwrap_err();
            assert!(err.to_string().contains("levels of nesting"), "{open}: {err}");
            assert!(err.to_string().starts_with("line 2, column"), "{open}: {err}");
        }
        let deep_enough = format!("{}1{}", "[".repeat(DEPTH_MAX - 1), "]".repeat(DEPTH_MAX - 1));
        assert!(read_value(&deep_enough, 1, 1).is_ok());
    }

    #[test]
    fn uninterpretable_fields_are_errors_with_their_line() {
        for (field, message) in [
            (":process \"0\"", "expected :process to be a non-negative integer or :nemesis, found \"0\""),
            (":process 0.5", "found \"0.5\""),
            (":process :n1", "found \"n1\""),
            (":process nil", "found nil"),
            (":process -1", "found -1"),
            (":process 99999999999999999999", "found \"99999999999999999999\""),
        ] {
            let text =
                format!("[{{:process 0 :type :invoke :f :read}}\n {{{field} :type :ok :f :read :value 1}}]");
            let err = read(&text).unwrap_err();
            assert!(err.to_string().starts_with("line 2, column 2: "), "{field}: {err}");
            assert!(err.to_string().contains(message), "{field}: {err}");
        }
        let err = read("[{:process 0 :type :invoke :f :read :time \"soon\"}]").unwrap_err();
        assert!(err.to_string().contains("expected :time"), "{err}");
        let twice = read("[{:process 0 :type :invoke :f :read :process 1}]").unwrap_err();
        assert!(twice.to_string().contains("expected one :process"), "{twice}");
        let nemesis = "[{:process :nemesis :type :info :f :start}]";
        assert_eq!(read(nemesis).unwrap().len(), 0, "the nemesis' operations are not the clients'");
    }
}
