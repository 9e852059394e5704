//! The rare paths the saga protocol marks with `ctx.probe`.

/// A saga past its deadline started compensating.
pub const COMPENSATION_STARTS: &str = "compensation-starts";
/// A shard was asked again to undo a step it had undone.
pub const COMPENSATION_RETRIED: &str = "compensation-retried";
/// An undo arrived before its step's do: the step is cancelled.
pub const UNDO_BEFORE_DO: &str = "undo-before-do";
/// A restarted orchestrator found unfinished sagas in its log.
pub const ORCHESTRATOR_RESUMES: &str = "orchestrator-resumes-saga";

/// Every probe, with what reaching it means.
pub const ALL: &[(&str, &str)] = &[
    (COMPENSATION_STARTS, "a saga past its deadline started compensating"),
    (
        COMPENSATION_RETRIED,
        "a shard was asked again to undo a step it had undone (non-idempotent-compensation refunds twice)",
    ),
    (UNDO_BEFORE_DO, "an undo arrived before its do: the step was cancelled so the late do is refused"),
    (
        ORCHESTRATOR_RESUMES,
        "a restarted orchestrator found unfinished sagas in its log (forget-progress logs none)",
    ),
];
