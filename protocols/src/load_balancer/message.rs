//! The load balancer's messages and timers.

use serde::{Deserialize, Serialize};
use sim_core::NodeId;

/// Messages between clients, balancers and backends.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Msg {
    /// Client to balancer: serve request `req` on `key`.
    Request {
        /// The client's request number, echoed in the reply.
        req: u64,
        /// The request's key (consistent hashing routes by it).
        key: i64,
    },
    /// Balancer to client: request `req` was served by `backend`.
    Reply {
        /// The request answered.
        req: u64,
        /// The backend that served it.
        backend: NodeId,
    },
    /// Balancer to backend: do job `job`.
    Work {
        /// The balancer's job number, echoed in `Done`.
        job: u64,
        /// The request's key.
        key: i64,
    },
    /// Backend to balancer: job `job` is done.
    Done {
        /// The job finished.
        job: u64,
    },
    /// Balancer to backend: a health check.
    Ping {
        /// The balancer's ping number.
        seq: u64,
    },
    /// Backend to balancer: the answer to a health check.
    Pong {
        /// The ping answered.
        seq: u64,
        /// Drawn at each start: a new one means the backend restarted.
        incarnation: u64,
    },
}

/// Timers of balancers, backends and clients.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Timer {
    /// Balancer: judge every backend's health, then ping them all.
    Heartbeat,
    /// Backend: a job's service time is over.
    Finish {
        /// The balancer that sent it.
        balancer: NodeId,
        /// Its job number.
        job: u64,
    },
    /// Client: no answer to `req` yet; resend it to the next balancer.
    Retry {
        /// The request.
        req: u64,
    },
}
