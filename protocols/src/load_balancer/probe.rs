//! The rare paths the load balancer marks with `ctx.probe`.

/// A balancer's detector suspected an admitted backend and ejected it.
pub const EJECTS: &str = "balancer-ejects-backend";
/// A backend ejected before answered again and was admitted again.
pub const READMITTED: &str = "backend-readmitted";
/// A balancer took back jobs in flight to a backend and dispatched them again.
pub const REDISPATCHED: &str = "request-redispatched";
/// A backend answered a ping with a new incarnation: it restarted.
pub const RESTART_SEEN: &str = "backend-restart-seen";
/// A client's request went unanswered and it moved to the next balancer.
pub const CLIENT_FAILS_OVER: &str = "client-fails-over";

/// Every probe, with what reaching it means.
pub const ALL: &[(&str, &str)] = &[
    (EJECTS, "a balancer suspected an admitted backend and ejected it (no-health-checks never does)"),
    (READMITTED, "an ejected backend answered again and was admitted again (no-readmit never does)"),
    (REDISPATCHED, "jobs in flight to an ejected or restarted backend were dispatched again"),
    (RESTART_SEEN, "a backend answered with a new incarnation: its jobs died with the old one"),
    (CLIENT_FAILS_OVER, "a client's request went unanswered and it moved to the next balancer"),
];
