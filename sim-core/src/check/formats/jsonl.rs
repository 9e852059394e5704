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
}
