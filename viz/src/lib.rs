//! Pictures of one Orrery run: a self-contained HTML page and a static SVG.
//!
//! A [`Run`] is one simulation flattened for drawing: a lane per node
//! (servers, then clients), every message with what became of each copy,
//! client operations from invoke to completion, faults, node-state
//! [`Band`]s, [`Partition`] spans, and the [`Failure`]s the checks found.
//! Build it from a JSON-lines trace ([`Run::from_jsonl`], what `orrery viz`
//! reads) or from a finished simulation ([`Run::from_report`], what
//! `orrery run --html` uses), mark a linearizability violation with
//! [`Run::mark_failure`], then render it with [`html`] or [`svg`].
//!
//! The page needs no network: style, script and data are inline, and the
//! data goes in through `serde_json` with `<`, `>` and `&` escaped, so a
//! message body cannot close its script element. It draws only what is in
//! view, at most a few thousand elements, and opens a long run on a window
//! around the failure. `#status` carries what was drawn as `data-*`
//! attributes, and uncaught errors are recorded in the page, for tests.
//!
//! A command draws a run in three steps: keep the trace in memory
//! (`SimBuilder::trace(TraceSink::Memory(Vec::new()))`), build the run with
//! `Run::from_report(&report, title)` (this marks an invariant, panic or
//! limit end), and mark each linearizability violation the checker found on
//! `report.history` with `Failure::from_linearizability(&check_report)` —
//! its operation indexes are the run's. Then write `html(&run)` or `svg(&run)`.
//!
//! ```
//! use orrery_viz::{Run, html, svg};
//!
//! let trace = r#"{"ev":"start","t":0,"node":0}
//! {"ev":"start","t":0,"node":1}
//! {"ev":"invoke","t":0,"node":1,"process":0,"op_id":0,"op":{"f":"read","key":0,"value":null}}
//! {"ev":"send","t":0,"mid":0,"from":1,"to":0,"msg":"Read"}
//! {"ev":"deliver","t":2000000,"mid":0,"from":1,"to":0}
//! {"ev":"send","t":2000000,"mid":1,"from":0,"to":1,"msg":{"Value":null}}
//! {"ev":"deliver","t":3000000,"mid":1,"from":0,"to":1}
//! {"ev":"complete","t":3000000,"node":1,"process":0,"op_id":0,"kind":"ok","value":null}
//! "#;
//! let run = Run::from_jsonl(trace, None).unwrap();
//! assert_eq!((run.messages.len(), run.operations.len()), (2, 1));
//! assert!(html(&run).contains("<script type=\"application/json\" id=\"orrery-data\">"));
//! assert_eq!(svg(&run), svg(&run));
//! ```

mod error;
mod failure;
mod html;
mod metrics;
mod parse;
mod run;
mod state;
mod svg;

pub use error::VizError;
pub use failure::Failure;
pub use html::html;
pub use metrics::{Metrics, NodeLoad, Window, metrics};
pub use run::{Arrival, Band, FaultMark, Lane, Message, Operation, Partition, Role, Run, TimerFiring};
pub use svg::{SVG_MESSAGES_MAX, svg};
