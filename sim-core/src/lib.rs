//! Orrery's deterministic discrete-event engine.

pub mod check;
pub mod history;
pub mod time;

pub use history::{History, HistoryError, Op, Operation, Outcome, Record, RecordType, Value};
pub use time::{Duration, DurationError, Time};
