//! The rare paths the log marks with `ctx.probe`.

/// An idempotent leader found a retried send already in its log.
pub const DUPLICATE_SUPPRESSED: &str = "duplicate-suppressed";
/// A producer's send went unanswered and it sent again.
pub const PRODUCER_RETRIED: &str = "producer-retried";
/// A consumer crashed or lost its session mid-batch and dropped the batch.
pub const BATCH_DROPPED: &str = "consumer-drops-batch";
/// A follower's log diverged from its leader's and lost a suffix.
pub const FOLLOWER_TRUNCATED: &str = "follower-log-truncated";
/// A partition's leader moved to another broker.
pub const PARTITION_FAILOVER: &str = "partition-failover";
/// Every in-sync replica of a partition was down while other brokers were alive.
pub const ISR_ALL_DOWN: &str = "isr-all-down";

/// A restarted broker ignored the controller's word sent before the controller heard of the restart.
pub const STALE_METADATA_IGNORED: &str = "stale-metadata-ignored";

/// A fetched batch came after its poll stopped waiting and was kept for the next poll.
pub const LATE_BATCH_KEPT: &str = "late-batch-kept";

/// Every probe, with what reaching it means.
pub const ALL: &[(&str, &str)] = &[
    (
        DUPLICATE_SUPPRESSED,
        "an idempotent leader found a retried send in its log (retry-duplicates appends it again)",
    ),
    (PRODUCER_RETRIED, "a producer's send went unanswered and it sent again"),
    (
        BATCH_DROPPED,
        "a consumer dropped a batch mid-process: it is redelivered (commit-before-process loses it)",
    ),
    (FOLLOWER_TRUNCATED, "a follower's log diverged from its leader's and lost a suffix"),
    (
        PARTITION_FAILOVER,
        "a partition's leader moved to another broker (acks-leader-only loses records here)",
    ),
    (ISR_ALL_DOWN, "no in-sync replica was alive but others were (unclean-election elects one of them)"),
    (
        LATE_BATCH_KEPT,
        "a batch came after its poll stopped waiting and was kept for the next poll (else a network slower than the poll timeout delivers nothing)",
    ),
    (
        STALE_METADATA_IGNORED,
        "a restarted broker ignored metadata sent before the controller knew of the restart (taking it, it would lead a dead term)",
    ),
];
