//! What the protocol test files share: judging a run, and sweeping seeds for
//! the first one that fails.

use sim_core::RunReport;
use sim_core::check::models::Register;
use sim_core::check::{CheckOptions, Verdict, check_history};

/// The linearizability verdict of a run's history against `model`, checked on one thread.
pub fn verdict(report: &RunReport, model: &Register) -> Verdict {
    let options = CheckOptions { threads: 1, ..CheckOptions::default() };
    check_history(model, &report.history, &options).expect("history checks").verdict
}

/// Runs `seeds` through `run`; returns the first seed whose run ends abnormally
/// or whose history is not linearizable under `model`, and why.
pub fn first_failure(
    seeds: std::ops::Range<u64>,
    model: &Register,
    run: impl Fn(u64) -> RunReport,
) -> Option<(u64, String)> {
    seeds.into_iter().find_map(|seed| {
        let report = run(seed);
        if !report.end.is_normal() {
            return Some((seed, format!("run ended: {}", report.end)));
        }
        let verdict = verdict(&report, model);
        (verdict != Verdict::Linearizable).then(|| (seed, format!("history is {verdict}")))
    })
}
