//! The rare paths the commit protocols mark with `ctx.probe`. Both share
//! the participant's; each has its own coordinator-side paths.

/// A restarted coordinator found logged commits not yet ended and resends them (2PC).
pub const COORDINATOR_RECOVERS_COMMIT: &str = "coordinator-recovers-commit";
/// A coordinator with no record of a transaction presumed it aborted (2PC).
pub const PRESUMED_ABORT: &str = "presumed-abort";
/// A coordinator aborted a transaction whose votes did not come in time (2PC).
pub const VOTE_TIMEOUT_ABORT: &str = "vote-timeout-abort";
/// A coordinator node ran a recovery ballot for a silent coordinator's transaction (Paxos Commit).
pub const RECOVERY_BALLOT: &str = "recovery-ballot";
/// A restarted participant found prepared transactions in doubt, their accounts locked.
pub const PARTICIPANT_RECOVERS_PREPARED: &str = "participant-recovers-prepared";
/// A participant prepared for long asked about the outcome: it is blocked in doubt.
pub const PARTICIPANT_IN_DOUBT: &str = "participant-in-doubt-asks";
/// A participant refused a prepare that came after it had learnt the abort.
pub const LATE_PREPARE_REFUSED: &str = "late-prepare-refused";

const SHARED: [(&str, &str); 3] = [
    (
        PARTICIPANT_RECOVERS_PREPARED,
        "a restarted participant found prepared transactions in doubt (forget-prepare has forgotten them)",
    ),
    (PARTICIPANT_IN_DOUBT, "a participant prepared for long asked about the outcome: blocked in doubt"),
    (LATE_PREPARE_REFUSED, "a prepare came after the participant had learnt the transaction's outcome"),
];

/// Two-phase commit's probes, with what reaching each means.
pub const TWO_PC: &[(&str, &str)] = &[
    (
        COORDINATOR_RECOVERS_COMMIT,
        "a restarted coordinator found logged commits not yet ended (decide-before-log has not logged them)",
    ),
    (PRESUMED_ABORT, "a coordinator with no record of a transaction presumed it aborted"),
    (VOTE_TIMEOUT_ABORT, "a coordinator aborted a transaction whose votes did not come in time"),
    SHARED[0],
    SHARED[1],
    SHARED[2],
];

/// Paxos Commit's probes, with what reaching each means.
pub const PAXOS_COMMIT: &[(&str, &str)] = &[
    (RECOVERY_BALLOT, "a coordinator node ran a recovery ballot for a silent coordinator's transaction"),
    SHARED[0],
    SHARED[1],
    SHARED[2],
];
