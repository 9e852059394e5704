//! Orrery's own history format: one JSON record per line.

use crate::check::formats::FormatError;
use crate::history::Record;

const EXAMPLE: &str = r#"{"process":0,"type":"invoke","f":"write","value":3,"time":0}"#;

/// Reads JSON lines; blank lines are skipped.
pub(super) fn read(text: &str) -> Result<Vec<(Record, usize)>, FormatError> {
    let mut records = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let record: Record = serde_json::from_str(line).map_err(|e| {
            FormatError::syntax(index + 1, Some(e.column()), format!("{e}; expected a record like {EXAMPLE}"))
        })?;
        records.push((record, index + 1));
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_line_and_column() {
        let text = "{\"process\":0,\"type\":\"invoke\",\"f\":\"read\"}\n{\"process\":0,\"type\":\"okay\",\"f\":\"read\"}\n";
        let err = read(text).unwrap_err();
        let FormatError::Syntax { line, column, message } = &err else { panic!("{err}") };
        assert_eq!(*line, 2);
        assert!(column.is_some());
        assert!(message.contains("okay"), "{message}");
    }

    #[test]
    fn deep_nesting_and_bad_fields_are_errors_with_their_line() {
        let deep = format!(
            "{{\"process\":0,\"type\":\"invoke\",\"f\":\"read\"}}\n{{\"process\":0,\"type\":\"ok\",\"f\":\"read\",\"value\":{}1{}}}\n",
            "[".repeat(50_000),
            "]".repeat(50_000)
        );
        let err = read(&deep).unwrap_err();
        assert!(err.to_string().starts_with("line 2"), "{err}");
        for bad in [
            r#""process":"0""#,
            r#""process":-1"#,
            r#""process":0.5"#,
            r#""time":-3"#,
            r#""process":0,"process":1"#,
        ] {
            let text = format!("{{{bad},\"type\":\"invoke\",\"f\":\"read\"}}\n");
            let text = if bad.starts_with(r#""time""#) { text.replace('{', "{\"process\":0,") } else { text };
            let err = read(&text).unwrap_err();
            assert!(err.to_string().starts_with("line 1"), "{bad}: {err}");
        }
    }
}
