//! Why a run could not be read into a picture.

use std::fmt;

use sim_core::HistoryError;

/// Malformed input: a trace or history that does not describe a run.
#[derive(Debug)]
pub enum VizError {
    /// A trace line is not a valid event, or contradicts an earlier one.
    Trace {
        /// 1-based line of the trace (0 when the whole trace is unreadable).
        line: usize,
        /// What was wrong.
        message: String,
    },
    /// The history is malformed (its error names the line).
    History(HistoryError),
    /// History and trace describe different runs.
    Mismatch {
        /// How they differ.
        message: String,
    },
    /// `Run::from_report` needs the trace kept in memory (`Tracer` to memory).
    NoTrace,
}

impl fmt::Display for VizError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VizError::Trace { line, message } => write!(f, "trace line {line}: {message}"),
            VizError::History(e) => write!(f, "history: {e}"),
            VizError::Mismatch { message } => write!(f, "history does not match the trace: {message}"),
            VizError::NoTrace => {
                f.write_str("the run report holds no trace: keep the trace in memory to draw it")
            }
        }
    }
}

impl std::error::Error for VizError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            VizError::History(e) => Some(e),
            _ => None,
        }
    }
}
