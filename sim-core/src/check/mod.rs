//! Checkers: judge a history against a model (linearizability) and against
//! service-level expectations (availability). Usable without the simulator.
//!
//! * [`Model`] is a sequential specification; [`models`] has the built-in ones.
//! * [`check`] / [`check_history`] search for a linearization (Wing–Gong–Lowe
//!   with memoisation, split per key, parts on all cores) and return a
//!   [`Report`] whose [`Verdict`] is explained by a [`Violation`].
//! * [`formats`] reads Orrery's JSON lines, Jepsen EDN and Jepsen/etcd logs.
//! * [`availability`] measures success ratio, latency and recovery.
//!
//! ```
//! use sim_core::check::{check_history, models::Register, CheckOptions, Verdict};
//! use sim_core::check::formats::{read, Format};
//!
//! let text = r#"{"process":0,"type":"invoke","f":"write","value":1}
//! {"process":1,"type":"invoke","f":"read"}
//! {"process":0,"type":"ok","f":"write","value":1}
//! {"process":1,"type":"ok","f":"read","value":1}
//! "#;
//! let parsed = read(text, Format::Auto).unwrap();
//! let report = check_history(&Register::new(0.into()), &parsed.history, &CheckOptions::default()).unwrap();
//! assert_eq!(report.verdict, Verdict::Linearizable);
//! ```

pub mod availability;
pub mod brute;
pub mod delivery;
pub mod formats;
mod linear;
mod memo;
mod model;
pub mod models;
mod partition;
mod verdict;

pub use model::{Interner, Model, ModelError, Prepared};
pub use partition::{Budget, CheckError, CheckOptions, check, check_history};
pub use verdict::{OpRef, PartReport, Report, Verdict, Violation};
