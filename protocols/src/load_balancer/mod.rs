//! Load balancing with health checks: balancers in front of backends.
//!
//! **Layout.** Of the cluster's servers, the first `balancers` (default 2:
//! `n0` and `n1`) are load balancers; the rest are backends. Clients know
//! every balancer. A client sends each request to its current balancer
//! (initially `client index % balancers`, so clients spread over them); if no
//! reply comes within `retry`, it resends to the next balancer and stays there.
//! That is client-side failover: with one balancer crashed, the clients that
//! used it move to the other after one `retry`, and no balancer is a single
//! point of failure.
//!
//! **Balancing.** A balancer picks a backend among those it considers
//! healthy ([`Strategy`]): `random`; `round-robin`; `least-outstanding` (the
//! fewest requests in flight from this balancer, ties broken at random);
//! `power-of-two` (two random choices, the less loaded wins — Mitzenmacher);
//! `consistent-hash` (a ring with `vnodes` virtual nodes per backend, keyed by
//! the request's key, with bounded loads after Mirrokni, Thorup and
//! Zadimoghaddam: walking clockwise from the key's point, the first backend
//! with fewer than ⌈(1+ε)·m/n⌉ requests in flight takes it, where `m` counts
//! this one). It forwards the request, and relays the backend's answer, which
//! names the backend, so the history shows who served what.
//!
//! **Backends** serve `concurrency` requests at once, queueing the rest in
//! arrival order; each takes a service time drawn from `service`, times
//! `slow_factor` for the backends listed in `slow_backends` (a gray failure:
//! they answer health checks promptly, only their work is slow). Load and
//! slowness therefore show in latency: a strategy that looks at outstanding
//! counts routes around a slow backend because its requests pile up there.
//!
//! **Health checks.** Every `heartbeat` each balancer pings every backend; the
//! backend answers at once (not through its work queue). A failure detector
//! per backend ([`detector`]) turns the answers into a verdict: a fixed
//! `timeout` since the last answer, or phi-accrual (Hayashibara et al.): the
//! suspicion φ = −log₁₀ P(an answer is still to come | the inter-arrival
//! history), ejecting when φ > `phi_threshold`. A balancer starts with no
//! backend admitted and admits one at its first answer, so a restarted
//! balancer never sends to a backend that is down; requests that arrive while
//! none is admitted wait at the balancer. An ejected backend is pinged still,
//! and re-admitted at its next answer. At ejection, the requests in flight to
//! it are sent to another backend; so are those in flight to a backend whose
//! answer shows it restarted (a new incarnation) before it was ejected, and
//! the pick may then be the restarted backend itself. Only the newest answer
//! per backend counts (a late copy of an older one is ignored). A heartbeat
//! that fires late finds the balancer was paused: the silence it slept
//! through is excused, so a pause neither ejects every backend at once nor
//! hides a crash (the crashed backend stays silent after the pause).
//!
//! **Checks** ([`judge`]): success ratio, latency percentiles, per-backend load
//! and imbalance (max / mean), requests forwarded to a backend after it
//! crashed (from the balancers' [`BalancerLog`]s against the crash and restart
//! instants of the fault schedule), detection time (crash to ejection) and
//! re-admission after a restart, each against a threshold in the protocol's
//! settings; times count only while the balancer was awake and, for
//! re-admission, only while the backend was up and reachable from it.
//! Balancers keep their logs in memory, so only the balancers up at the end
//! of the run are judged.
//!
//! Planted bugs: `no-health-checks` (every backend is admitted from the start
//! and never ejected, so requests keep going to a crashed backend) and
//! `no-readmit` (an ejected backend is never taken back).

mod backend;
mod balancer;
mod client;
pub mod detector;
mod judge;
mod message;
mod metrics;
pub mod probe;
mod strategy;
mod timeline;
mod workload;

use serde::{Deserialize, Serialize};
use sim_core::{Cluster, ClusterView, Duration, Latency, NodeId, Protocol, RunReport};

pub use backend::Backend;
pub use balancer::Balancer;
pub use client::LbClient;
pub use detector::{Detector, DetectorKind};
pub use judge::{Summary, summarize};
pub use message::{Msg, Timer};
pub use metrics::{BalancerLog, Forward, HealthChange};
pub use strategy::{Picker, Strategy};
pub use workload::RequestWorkload;

use sim_core::{Catalogued, Invalid, Judgement, ModelKind, Setup, WorkloadSpec};

sim_core::planted_bugs! {
    /// A planted bug, off unless a scenario names it.
    pub enum Bug {
        /// No health checks: every backend is admitted from the start and never ejected.
        NoHealthChecks = "no-health-checks": "balancers never eject a backend: requests keep going to a crashed one",
        /// An ejected backend is never re-admitted.
        NoReadmit = "no-readmit": "an ejected backend is never re-admitted, even once it answers again",
    }
}

/// The load balancer's settings (the scenario's `[protocol]` table).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoadBalancer {
    /// How many of the servers (the first ones) are balancers; the rest are backends.
    pub balancers: usize,
    /// How a balancer picks a backend.
    pub strategy: Strategy,
    /// How a balancer decides a backend is down.
    pub detector: DetectorKind,
    /// How often a balancer pings each backend.
    pub heartbeat: Duration,
    /// Fixed-timeout detector: eject after this long without an answer.
    pub timeout: Duration,
    /// Phi-accrual detector: eject when φ exceeds this.
    pub phi_threshold: f64,
    /// Phi-accrual detector: how many inter-arrival times it remembers.
    pub phi_window: usize,
    /// Phi-accrual detector: floor on the inter-arrival standard deviation.
    pub phi_min_stddev: Duration,
    /// A backend's service time per request.
    pub service: Latency,
    /// Requests a backend serves at once; the rest wait in its queue.
    pub concurrency: usize,
    /// Backends (by node number) whose service time is multiplied by `slow_factor`.
    pub slow_backends: Vec<u32>,
    /// The slow backends' service-time multiplier.
    pub slow_factor: u64,
    /// Consistent hashing: virtual nodes per backend on the ring.
    pub vnodes: usize,
    /// Consistent hashing with bounded loads: the ε in ⌈(1+ε)·average⌉.
    pub epsilon: f64,
    /// How long a client waits for an answer before resending to the next balancer.
    pub retry: Duration,
    /// Check: lowest acceptable fraction of successful requests.
    pub success_min: Option<f64>,
    /// Check: highest acceptable 99th-percentile latency.
    pub p99_max: Option<Duration>,
    /// Check: highest acceptable ratio of the busiest backend's load to the mean.
    pub imbalance_max: Option<f64>,
    /// Check: longest acceptable time from a backend's crash to its ejection,
    /// and to the last request a balancer sends it.
    pub detection_max: Option<Duration>,
    /// Check: longest acceptable time from a backend's restart to its re-admission.
    pub readmit_max: Option<Duration>,
    /// Planted bugs.
    pub bugs: Vec<Bug>,
}

impl Default for LoadBalancer {
    fn default() -> LoadBalancer {
        LoadBalancer {
            balancers: 2,
            strategy: Strategy::PowerOfTwo,
            detector: DetectorKind::FixedTimeout,
            heartbeat: Duration::from_millis(20),
            timeout: Duration::from_millis(100),
            phi_threshold: 8.0,
            phi_window: 100,
            phi_min_stddev: Duration::from_millis(5),
            service: Latency::Exponential { mean: Duration::from_millis(5), min: Duration::from_millis(1) },
            concurrency: 2,
            slow_backends: Vec::new(),
            slow_factor: 10,
            vnodes: 64,
            epsilon: 0.25,
            retry: Duration::from_millis(250),
            success_min: None,
            p99_max: None,
            imbalance_max: None,
            detection_max: None,
            readmit_max: None,
            bugs: Vec::new(),
        }
    }
}

impl LoadBalancer {
    /// The default settings with `strategy`.
    pub fn with_strategy(strategy: Strategy) -> LoadBalancer {
        LoadBalancer { strategy, ..LoadBalancer::default() }
    }

    /// Whether `bug` is planted.
    pub fn has(&self, bug: Bug) -> bool {
        self.bugs.contains(&bug)
    }

    /// The balancers of `cluster`: its first `balancers` servers.
    pub fn balancer_ids(&self, cluster: &Cluster) -> Vec<NodeId> {
        cluster.servers().iter().copied().take(self.balancers).collect()
    }

    /// The backends of `cluster`: every server after the balancers.
    pub fn backend_ids(&self, cluster: &Cluster) -> Vec<NodeId> {
        cluster.servers().iter().copied().skip(self.balancers).collect()
    }
}

/// A load-balancer cluster node: a balancer or a backend.
#[derive(Debug)]
pub enum Server {
    /// One of the first `balancers` servers.
    Balancer(Box<Balancer>),
    /// Every other server.
    Backend(Backend),
}

impl Server {
    /// The balancer, if this server is one.
    pub fn as_balancer(&self) -> Option<&Balancer> {
        match self {
            Server::Balancer(b) => Some(b),
            Server::Backend(_) => None,
        }
    }

    /// The backend, if this server is one.
    pub fn as_backend(&self) -> Option<&Backend> {
        match self {
            Server::Backend(b) => Some(b),
            Server::Balancer(_) => None,
        }
    }
}

impl sim_core::Node<LoadBalancer> for Server {
    fn on_start(&mut self, ctx: &mut sim_core::Context<'_, LoadBalancer>) {
        match self {
            Server::Balancer(b) => b.on_start(ctx),
            Server::Backend(b) => b.on_start(ctx),
        }
    }

    fn on_message(&mut self, ctx: &mut sim_core::Context<'_, LoadBalancer>, from: NodeId, msg: Msg) {
        match self {
            Server::Balancer(b) => b.on_message(ctx, from, msg),
            Server::Backend(b) => b.on_message(ctx, from, msg),
        }
    }

    fn on_timer(
        &mut self,
        ctx: &mut sim_core::Context<'_, LoadBalancer>,
        _id: sim_core::TimerId,
        timer: Timer,
    ) {
        match self {
            Server::Balancer(b) => b.on_timer(ctx, timer),
            Server::Backend(b) => b.on_timer(ctx, timer),
        }
    }
}

impl Protocol for LoadBalancer {
    type Msg = Msg;
    type Timer = Timer;
    type Server = Server;
    type Client = LbClient;

    fn server(&self, id: NodeId, cluster: &Cluster) -> Server {
        if id.index() < self.balancers {
            Server::Balancer(Box::new(Balancer::new(self.clone(), self.backend_ids(cluster))))
        } else {
            let factor = if self.slow_backends.contains(&id.0) { self.slow_factor } else { 1 };
            Server::Backend(Backend::new(self.service.clone(), self.concurrency, factor))
        }
    }

    fn client(&self, id: NodeId, cluster: &Cluster) -> LbClient {
        let balancers = self.balancer_ids(cluster);
        let index = id.index().saturating_sub(cluster.servers().len());
        LbClient::new(balancers, index, self.retry)
    }
}

impl Catalogued for LoadBalancer {
    const NAME: &'static str = "load-balancer";
    const SUMMARY: &'static str = "load balancers with health checks (fixed timeout, phi-accrual) and client failover in front of backends";
    type Bug = Bug;
    type Workload = RequestWorkload;
    const MODEL: Option<ModelKind> = None;
    const PROBES: &'static [(&'static str, &'static str)] = probe::ALL;

    fn validate(&self, setup: &Setup) -> Result<(), Invalid> {
        Invalid::periods(&[
            ("heartbeat", self.heartbeat),
            ("timeout", self.timeout),
            ("phi_min_stddev", self.phi_min_stddev),
            ("retry", self.retry),
        ])?;
        if self.balancers == 0 || self.balancers >= setup.servers {
            return Err(Invalid::new(
                "protocol.balancers",
                format!(
                    "{} balancers among {} servers leaves no {}; the first servers balance, the rest are backends",
                    self.balancers,
                    setup.servers,
                    if self.balancers == 0 { "balancer" } else { "backend" }
                ),
            ));
        }
        let backends = self.balancers as u32..setup.servers as u32;
        if let Some(slow) = self.slow_backends.iter().find(|b| !backends.contains(b)) {
            return Err(Invalid::new(
                "protocol.slow_backends",
                format!(
                    "server {slow} is not a backend: backends are {} to {}",
                    backends.start,
                    backends.end - 1
                ),
            ));
        }
        Ok(())
    }

    fn judge(&self, report: &RunReport, servers: &ClusterView<'_, Self>) -> Vec<Judgement> {
        judge::judge(self, report, servers)
    }
}

impl WorkloadSpec for RequestWorkload {
    fn validate(&self) -> Result<(), Invalid> {
        RequestWorkload::validate(self).map_err(Invalid::quoting)
    }
}
