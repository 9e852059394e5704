//! A balancer: admits and ejects backends by health check, picks one per
//! request by its strategy, forwards, and relays the answer.

use std::collections::{BTreeMap, VecDeque};

use sim_core::{Context, Duration, NodeId, Time};

use super::metrics::{BalancerLog, Forward, HealthChange};
use super::{Bug, Detector, DetectorKind, LoadBalancer, Msg, Picker, Timer, probe};

/// A request a client sent, as the balancer remembers it.
#[derive(Clone, Copy, Debug)]
struct Request {
    client: NodeId,
    req: u64,
    key: i64,
}

/// A request forwarded to a backend and not yet answered.
#[derive(Clone, Copy, Debug)]
struct Job {
    request: Request,
    backend: usize,
}

/// What a balancer knows of one backend.
#[derive(Clone, Debug)]
struct Health {
    admitted: bool,
    ejected_once: bool,
    detector: Detector,
    incarnation: Option<u64>,
    /// The newest ping this backend answered: an older answer arriving late
    /// (reordered, duplicated) says nothing new and is ignored.
    answered: u64,
}

/// A load balancer.
#[derive(Debug)]
pub struct Balancer {
    config: LoadBalancer,
    backends: Vec<NodeId>,
    health: Vec<Health>,
    outstanding: Vec<u32>,
    jobs: BTreeMap<u64, Job>,
    waiting: VecDeque<Request>,
    picker: Picker,
    next_job: u64,
    next_ping: u64,
    /// When the pending heartbeat is due: a heartbeat that fires later than
    /// this finds the balancer was paused, and the silence it slept through
    /// is not held against the backends.
    heartbeat_due: Time,
    log: BalancerLog,
}

impl Balancer {
    /// A balancer in front of `backends`, none of them admitted yet.
    pub fn new(config: LoadBalancer, backends: Vec<NodeId>) -> Balancer {
        let detector = match config.detector {
            DetectorKind::FixedTimeout => Detector::fixed(config.timeout),
            DetectorKind::PhiAccrual => Detector::phi(
                config.phi_threshold,
                config.phi_window,
                config.phi_min_stddev,
                config.heartbeat,
            ),
        };
        let admitted = config.has(Bug::NoHealthChecks);
        let health = vec![
            Health { admitted, ejected_once: false, detector, incarnation: None, answered: 0 };
            backends.len()
        ];
        let picker = Picker::new(config.strategy, &backends, config.vnodes, config.epsilon);
        Balancer {
            outstanding: vec![0; backends.len()],
            health,
            backends,
            jobs: BTreeMap::new(),
            waiting: VecDeque::new(),
            picker,
            next_job: 0,
            next_ping: 0,
            heartbeat_due: Time::ZERO,
            log: BalancerLog::default(),
            config,
        }
    }

    /// The backends this balancer fronts.
    pub fn backends(&self) -> &[NodeId] {
        &self.backends
    }

    /// Its record of forwards and health changes since it started.
    pub fn log(&self) -> &BalancerLog {
        &self.log
    }

    /// Whether `backend` is admitted now.
    pub fn is_admitted(&self, backend: NodeId) -> bool {
        self.index(backend).is_some_and(|i| self.health[i].admitted)
    }

    /// Requests in flight to `backend` from this balancer.
    pub fn outstanding(&self, backend: NodeId) -> u32 {
        self.index(backend).map_or(0, |i| self.outstanding[i])
    }

    fn index(&self, backend: NodeId) -> Option<usize> {
        self.backends.iter().position(|&b| b == backend)
    }

    pub(super) fn on_start(&mut self, ctx: &mut Context<'_, LoadBalancer>) {
        self.log.started = ctx.now();
        if !self.config.has(Bug::NoHealthChecks) {
            self.ping_all(ctx);
            self.set_heartbeat(ctx);
        }
    }

    fn set_heartbeat(&mut self, ctx: &mut Context<'_, LoadBalancer>) {
        self.heartbeat_due = ctx.now() + self.config.heartbeat;
        ctx.set_timer(self.config.heartbeat, Timer::Heartbeat);
    }

    pub(super) fn on_message(&mut self, ctx: &mut Context<'_, LoadBalancer>, from: NodeId, msg: Msg) {
        match msg {
            Msg::Request { req, key } => self.dispatch(ctx, Request { client: from, req, key }),
            Msg::Done { job } => self.done(ctx, from, job),
            Msg::Pong { seq, incarnation } => self.pong(ctx, from, seq, incarnation),
            _ => {}
        }
    }

    pub(super) fn on_timer(&mut self, ctx: &mut Context<'_, LoadBalancer>, timer: Timer) {
        if timer != Timer::Heartbeat {
            return;
        }
        let overslept = ctx.now().since(self.heartbeat_due);
        if overslept > Duration::ZERO {
            for health in &mut self.health {
                health.detector.excuse(overslept, ctx.now());
            }
        }
        for i in 0..self.backends.len() {
            if self.health[i].admitted && self.health[i].detector.suspect(ctx.now()) {
                self.eject(ctx, i);
            }
        }
        self.ping_all(ctx);
        self.set_heartbeat(ctx);
    }

    fn ping_all(&mut self, ctx: &mut Context<'_, LoadBalancer>) {
        self.next_ping += 1;
        for &backend in &self.backends {
            ctx.send(backend, Msg::Ping { seq: self.next_ping });
        }
    }

    /// An answer to ping `seq`. Only the newest answer counts: a late copy
    /// of an older one could carry the incarnation before a restart and
    /// make the balancer think the backend restarted again.
    fn pong(&mut self, ctx: &mut Context<'_, LoadBalancer>, from: NodeId, seq: u64, incarnation: u64) {
        let Some(i) = self.index(from) else { return };
        if seq <= self.health[i].answered {
            return;
        }
        self.health[i].answered = seq;
        let restarted = self.health[i].incarnation.is_some_and(|known| known != incarnation);
        self.health[i].incarnation = Some(incarnation);
        if restarted {
            ctx.probe(probe::RESTART_SEEN);
            // Its jobs died with the old incarnation: send them elsewhere.
            self.redispatch(ctx, i);
        }
        if !self.health[i].admitted {
            if self.health[i].ejected_once && self.config.has(Bug::NoReadmit) {
                return;
            }
            self.admit(ctx, i);
        }
        self.health[i].detector.heard(ctx.now());
    }

    fn admit(&mut self, ctx: &mut Context<'_, LoadBalancer>, i: usize) {
        if self.health[i].ejected_once {
            ctx.probe(probe::READMITTED);
        }
        self.health[i].admitted = true;
        self.health[i].detector.reset();
        self.log.health.push(HealthChange { at: ctx.now(), backend: self.backends[i], admitted: true });
        for request in std::mem::take(&mut self.waiting) {
            self.dispatch(ctx, request);
        }
    }

    fn eject(&mut self, ctx: &mut Context<'_, LoadBalancer>, i: usize) {
        ctx.probe(probe::EJECTS);
        self.health[i].admitted = false;
        self.health[i].ejected_once = true;
        self.log.health.push(HealthChange { at: ctx.now(), backend: self.backends[i], admitted: false });
        self.redispatch(ctx, i);
    }

    /// Takes back every job in flight to backend `i` and dispatches it
    /// again. All are taken back before any is dispatched, since the pick
    /// may be `i` itself (a restarted backend is up and admitted).
    fn redispatch(&mut self, ctx: &mut Context<'_, LoadBalancer>, i: usize) {
        let stranded: Vec<u64> =
            self.jobs.iter().filter(|(_, j)| j.backend == i).map(|(&id, _)| id).collect();
        let requests: Vec<Request> =
            stranded.iter().map(|id| self.jobs.remove(id).expect("listed just now").request).collect();
        self.outstanding[i] -= u32::try_from(requests.len()).expect("jobs per backend fit in u32");
        assert!(
            self.outstanding[i] == 0,
            "backend={} outstanding={} after taking back its jobs",
            self.backends[i],
            self.outstanding[i]
        );
        if !requests.is_empty() {
            ctx.probe(probe::REDISPATCHED);
        }
        for request in requests {
            self.dispatch(ctx, request);
        }
    }

    fn dispatch(&mut self, ctx: &mut Context<'_, LoadBalancer>, request: Request) {
        let admitted: Vec<bool> = self.health.iter().map(|h| h.admitted).collect();
        let Some(i) = self.picker.pick(&admitted, &self.outstanding, request.key, ctx.rng()) else {
            self.waiting.push_back(request);
            return;
        };
        self.next_job += 1;
        let job = self.next_job;
        self.jobs.insert(job, Job { request, backend: i });
        self.outstanding[i] += 1;
        self.log.forwards.push(Forward { at: ctx.now(), backend: self.backends[i] });
        ctx.send(self.backends[i], Msg::Work { job, key: request.key });
    }

    fn done(&mut self, ctx: &mut Context<'_, LoadBalancer>, from: NodeId, job: u64) {
        let Some(i) = self.index(from) else { return };
        // A job redispatched away from `from` is no longer its to answer.
        if self.jobs.get(&job).is_none_or(|j| j.backend != i) {
            return;
        }
        let Job { request, .. } = self.jobs.remove(&job).expect("checked above");
        self.outstanding[i] -= 1;
        ctx.send(request.client, Msg::Reply { req: request.req, backend: from });
    }

    /// When this balancer (last) started.
    pub fn started(&self) -> Time {
        self.log.started
    }
}
