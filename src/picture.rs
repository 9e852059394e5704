//! Pictures of runs: one seed replayed with its trace kept, drawn by
//! [`orrery_viz`] as an offline HTML page (or a static SVG) with every
//! failed check marked — the blocked operation and longest linearizable
//! prefix of a linearizability violation, the node and instant of a broken
//! invariant, the instant a protocol's own check failed.

use std::path::Path;

use orrery_viz::{Failure, Run};
use sim_core::{RunReport, TraceSink};

use crate::runner::{self, RunError, Runner};
use crate::{SeedOutcome, Status};

/// Why a run could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum PictureError {
    /// The seed could not be run or checked.
    #[error(transparent)]
    Run(#[from] RunError),
    /// The trace could not be read back.
    #[error("cannot draw the trace: {0}")]
    Viz(#[from] orrery_viz::VizError),
}

/// Runs `seed` with its trace in memory and draws it.
pub fn draw(runner: &dyn Runner, seed: u64) -> Result<(Run, SeedOutcome), PictureError> {
    let (outcome, report) = runner.run(seed, TraceSink::Memory(Vec::new()))?;
    Ok((draw_run(runner, &outcome, &report)?, outcome))
}

/// Draws a run already made with its trace kept in memory.
pub fn draw_run(runner: &dyn Runner, outcome: &SeedOutcome, report: &RunReport) -> Result<Run, PictureError> {
    let title = format!("{} seed {}", runner.scenario().name, outcome.seed);
    let mut run = Run::from_report(report, &title)?;
    for check in outcome.checks.iter().filter(|c| c.status == Status::Fail) {
        match check.name.as_str() {
            "linearizability" => {
                let model = runner.model().expect("a linearizability check has a model");
                let lin = runner::linearizability_report(model, &report.history)?;
                for failure in Failure::from_linearizability(&lin) {
                    run.mark_failure(failure);
                }
            }
            "run" | "panic" | "limit" => {}
            name if name.starts_with("invariant ") => {}
            name => run.mark_failure(Failure {
                check: name.to_string(),
                detail: check.detail.clone(),
                at: check.at.map(|t| t.as_nanos()),
                ..Failure::default()
            }),
        }
    }
    Ok(run)
}

/// The page for a drawn run, as HTML or (for a `.svg` path) SVG.
pub fn render(run: &Run, path: &Path) -> String {
    if path.extension().is_some_and(|e| e == "svg") { orrery_viz::svg(run) } else { orrery_viz::html(run) }
}
