//! Run-and-judge: one seed of a scenario, and one [`Judgement`] per check —
//! how the run ended, linearizability, availability, the protocol's own.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sim_core::check::availability::{self, Thresholds};
use sim_core::check::{self, CheckOptions, Verdict, models};
use sim_core::{
    History, HistoryError, Limits, Pacing, RecordType, RunEnd, RunReport, Seed, Setup, Sim, Time, TraceSink,
};

use crate::scenario::{Scenario, ScenarioError};
use crate::{Catalogued, Judgement, ModelKind, Status, WorkloadSpec};

/// What one seed of a scenario did and how it was judged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeedOutcome {
    /// The seed.
    pub seed: u64,
    /// The worst of the checks: fail, else unknown, else pass.
    pub status: Status,
    /// For a failure, what groups it with like failures in a sweep: the
    /// first failing check's signature or name.
    pub signature: Option<String>,
    /// Each check, the run's own ending first.
    pub checks: Vec<Judgement>,
    /// Virtual time simulated.
    pub time: Time,
    /// Virtual time at which the first failure showed, if any.
    pub failed_at: Option<Time>,
    /// Events processed.
    pub events: u64,
    /// Operations that completed ok, fail, info.
    pub ops: [usize; 3],
    /// Faults applied, by kind.
    pub faults: BTreeMap<String, u64>,
    /// Coverage probes reached, with how many times each.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub probes: BTreeMap<String, u64>,
    /// Hash of the trace, 16 hex digits.
    pub trace_hash: String,
    /// In swarm mode, the fault configuration this seed drew.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swarm: Option<sim_core::SwarmConfig>,
}

impl SeedOutcome {
    /// The first failing check, if any.
    pub fn failure(&self) -> Option<&Judgement> {
        self.checks.iter().find(|c| c.status == Status::Fail)
    }

    /// An outcome for a seed that could not be run at all.
    pub fn errored(seed: u64, error: &dyn std::error::Error) -> SeedOutcome {
        let mut detail = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            detail.push_str(&format!(": {cause}"));
            source = cause.source();
        }
        SeedOutcome {
            seed,
            status: Status::Fail,
            signature: Some("error".into()),
            checks: vec![Judgement::fail("error", detail, Some(Time::ZERO))],
            time: Time::ZERO,
            failed_at: Some(Time::ZERO),
            events: 0,
            ops: [0; 3],
            faults: BTreeMap::new(),
            probes: BTreeMap::new(),
            trace_hash: String::new(),
            swarm: None,
        }
    }
}

/// Why a seed could not be run or judged (as opposed to a protocol doing
/// wrong, which is a failed [`Judgement`]).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The simulation could not be built from the scenario.
    #[error("cannot build the simulation: {0}")]
    Build(String),
    /// The recorded history breaks the history rules (an engine bug).
    #[error("the recorded history breaks the history rules: {0}")]
    History(#[from] HistoryError),
    /// The checker rejected the history.
    #[error("cannot check the history: {0}")]
    Check(#[from] check::CheckError),
}

/// A scenario bound to its protocol type, ready to run any seed.
pub trait Runner: Send + Sync {
    /// The scenario it runs.
    fn scenario(&self) -> &Scenario;
    /// The model its histories are checked against, if linearizability is checked.
    fn model(&self) -> Option<ModelKind>;
    /// The coverage probes its protocol declares: `(name, meaning)`.
    fn probes(&self) -> &'static [(&'static str, &'static str)];
    /// Runs one seed, sending the trace to `sink`, and judges it.
    fn run(&self, seed: u64, sink: TraceSink) -> Result<(SeedOutcome, RunReport), RunError>;
}

/// Binds a scenario to protocol `P`: its parameters, workload, checks and
/// fault kinds are validated here, before any seed runs.
pub(crate) fn bind<P: Catalogued>(scenario: &Scenario, text: &str) -> Result<Box<dyn Runner>, ScenarioError> {
    let protocol: P = scenario.protocol_table(text)?;
    let workload: P::Workload = scenario.workload_table(text)?;
    WorkloadSpec::validate(&workload)
        .map_err(|e| scenario.error_at(text, &format!("workload.{}", e.field), e.message))?;
    let setup = Setup { servers: scenario.cluster.servers, clients: scenario.workload.clients };
    protocol.validate(&setup).map_err(|e| scenario.error_at(text, &e.field, e.message))?;
    if let Some(nemesis) = &scenario.nemesis
        && let Some(kind) = nemesis.kinds.iter().find(|k| !P::FAULTS.contains(k))
    {
        let applies: Vec<String> = P::FAULTS.iter().map(|k| k.to_string()).collect();
        return Err(scenario.error_at(
            text,
            "nemesis.kinds",
            format!("{kind} means nothing to {}; the kinds that apply are {}", P::NAME, applies.join(", ")),
        ));
    }
    let leads = P::FAULTS.contains(&sim_core::NemesisKind::LeaderCrash);
    if !leads && scenario.nemesis.as_ref().is_some_and(|n| n.on_election.is_some()) {
        return Err(scenario.error_at(
            text,
            "nemesis.on_election",
            format!("{} has no leader, so no election starts an episode", P::NAME),
        ));
    }
    if !leads
        && let Some(sorted) = scenario.schedule().entries().iter().position(|e| e.fault.aims_at_leader())
    {
        return Err(scenario.error_at(
            text,
            &format!("faults[{}]", scenario.fault_in_file(sorted)),
            format!("{} has no leader to aim at: name a server instead of \"leader\"", P::NAME),
        ));
    }
    let model = match &scenario.checks.model {
        Some(model) => *model,
        None => P::MODEL,
    };
    if scenario.checks.linearizable
        && let Some(model) = model
        && model_for(model).is_none()
    {
        return Err(scenario.error_at(
            text,
            "checks.model",
            format!(
                "model {model} cannot judge scenario runs: their clients issue register operations; use register, cas-register or \"none\""
            ),
        ));
    }
    let model = model.filter(|_| scenario.checks.linearizable);
    let swarm_kinds = scenario.swarm_kinds(P::FAULTS);
    if scenario.swarm().is_some() && swarm_kinds.is_empty() {
        return Err(scenario.error_at(
            text,
            "nemesis.kinds",
            format!(
                "no kind of {} fits {} servers: swarm mode has nothing to draw",
                P::NAME,
                scenario.cluster.servers
            ),
        ));
    }
    Ok(Box::new(Typed { protocol, workload, scenario: scenario.clone(), model, swarm_kinds }))
}

struct Typed<P: Catalogued> {
    protocol: P,
    workload: P::Workload,
    scenario: Scenario,
    model: Option<ModelKind>,
    /// The kinds a swarm seed may draw from.
    swarm_kinds: Vec<sim_core::NemesisKind>,
}

impl<P: Catalogued> Runner for Typed<P> {
    fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    fn model(&self) -> Option<ModelKind> {
        self.model
    }

    fn probes(&self) -> &'static [(&'static str, &'static str)] {
        P::PROBES
    }

    fn run(&self, seed: u64, sink: TraceSink) -> Result<(SeedOutcome, RunReport), RunError> {
        let s = &self.scenario;
        let pacing = Pacing {
            think: s.workload.think_latency(),
            duration: s.workload.duration,
            timeout: Some(s.workload.timeout),
        };
        let faults = s.seed_faults(seed, &self.swarm_kinds);
        let mut builder = Sim::builder(self.protocol.clone(), Seed(seed))
            .servers(s.cluster.servers)
            .clients_boxed(s.workload.clients, Box::new(self.workload.clone()))
            .pacing(pacing)
            .network(faults.net)
            .faults(s.schedule())
            .torn_writes(faults.torn_writes)
            .limits(Limits {
                events_max: s.limits.events,
                time_max: Some(s.time_max()),
                memory_max: s.limits.memory,
                ..Limits::default()
            })
            .trace(sink);
        if let Some(topology) = s.topology() {
            builder = builder.topology(topology);
        }
        if let Some(nemesis) = faults.nemesis {
            builder = builder.nemesis(nemesis);
        }
        let mut sim = builder.build().map_err(|e| RunError::Build(e.to_string()))?;
        let report = sim.run();
        let extra = self.protocol.judge(&report, &sim.view());
        let mut outcome = judge(s, self.model, seed, &report, extra)?;
        outcome.swarm = faults.swarm;
        Ok((outcome, report))
    }
}

fn judge(
    s: &Scenario,
    model: Option<ModelKind>,
    seed: u64,
    report: &RunReport,
    extra: Vec<Judgement>,
) -> Result<SeedOutcome, RunError> {
    let mut checks = vec![run_check(&report.end, report.time)];
    let operations = report.history.operations()?;
    if let Some(model) = model {
        checks.push(linearizability(model, &report.history, s.cluster.servers, s.workload.clients)?);
    }
    if let Some(spec) = &s.checks.availability {
        checks.push(availability_check(spec, report, &operations));
    }
    checks.extend(extra);
    let status = checks.iter().map(|c| c.status).max().unwrap_or(Status::Pass);
    let failure = checks.iter().find(|c| c.status == Status::Fail);
    let signature = failure.map(|c| c.group().to_string());
    let failed_at = failure.map(|c| c.at.unwrap_or(report.time));
    let count = |kind| report.history.records().iter().filter(|r| r.kind == kind).count();
    let mut faults = BTreeMap::new();
    // A fault still aimed at the leader after it applied found none and did nothing.
    for entry in
        report.schedule.entries()[..report.faults_applied].iter().filter(|e| !e.fault.aims_at_leader())
    {
        *faults.entry(entry.fault.kind()).or_insert(0) += 1;
    }
    Ok(SeedOutcome {
        seed,
        status,
        signature,
        checks,
        time: report.time,
        failed_at,
        events: report.events,
        ops: [count(RecordType::Ok), count(RecordType::Fail), count(RecordType::Info)],
        faults,
        probes: report.probes.hits().iter().map(|hit| (hit.name.to_string(), hit.count)).collect(),
        trace_hash: format!("{:016x}", report.trace_hash),
        swarm: None,
    })
}

/// How the run ended, as a check: a panic, a limit or a broken invariant fails.
fn run_check(end: &RunEnd, time: Time) -> Judgement {
    let detail = end.to_string();
    match end {
        RunEnd::Invariant { name, .. } => Judgement::fail(format!("invariant {name}"), detail, Some(time)),
        RunEnd::Panic { node, .. } => {
            Judgement::fail("panic", detail, Some(time)).with_signature(format!("panic: {node}"))
        }
        RunEnd::Limit { limit, .. } => {
            let which = limit.split('=').next().unwrap_or(limit);
            Judgement::fail("limit", detail, Some(time)).with_signature(format!("limit: {which}"))
        }
        _ => Judgement::pass("run", detail),
    }
}

fn availability_check(
    spec: &crate::scenario::AvailabilitySpec,
    report: &RunReport,
    operations: &[sim_core::Operation],
) -> Judgement {
    let thresholds = Thresholds {
        success_ratio_min: spec.success_min,
        latency_p99_max: spec.p99_max,
        unavailable_max: spec.unavailable_max,
        recovery_max: spec.recovery_max,
    };
    let heals: Vec<Time> = report.schedule.repair_times().last().copied().into_iter().collect();
    let a = availability::availability(operations, &heals, &thresholds);
    let p99 = a.latency.map_or("-".to_string(), |l| l.p99.to_string());
    let recovery = a.recovery_longest.map_or("-".to_string(), |d| d.to_string());
    let detail = format!(
        "success {:.1}%, p99 {p99}, longest outage {}, recovery {recovery}{}",
        a.success_ratio * 100.0,
        a.unavailable_longest.to.since(a.unavailable_longest.from),
        if a.reasons.is_empty() { String::new() } else { format!(": {}", a.reasons.join("; ")) }
    );
    if a.pass {
        Judgement::pass("availability", detail)
    } else {
        Judgement::fail("availability", detail, None)
    }
}

fn model_for(model: ModelKind) -> Option<models::Register> {
    match model {
        ModelKind::Register => Some(models::Register::new(sim_core::Value::Nil)),
        ModelKind::CasRegister => Some(models::Register::with_cas(sim_core::Value::Nil)),
        _ => None,
    }
}

/// The checker's full report on a history against a scenario model
/// (register or cas-register).
pub fn linearizability_report(model: ModelKind, history: &History) -> Result<check::Report, RunError> {
    let model = model_for(model)
        .ok_or_else(|| RunError::Build(format!("model {model} cannot check register histories")))?;
    let options = CheckOptions { threads: 1, ..CheckOptions::default() };
    Ok(check::check_history(&model, history, &options)?)
}

fn linearizability(
    model: ModelKind,
    history: &History,
    servers: usize,
    clients: usize,
) -> Result<Judgement, RunError> {
    let report = linearizability_report(model, history)?;
    let records = history.records();
    Ok(match report.verdict {
        Verdict::Linearizable => {
            Judgement::pass("linearizability", format!("{} operations, linearizable", report.operations))
        }
        Verdict::Unknown => Judgement::unknown("linearizability", "search budget exhausted"),
        Verdict::NotLinearizable => {
            let part = report.violations().next().expect("a violating part");
            let key = part.key.as_ref().map_or(String::new(), |k| format!(" on key {k}"));
            let Some(v) = part.violation.as_ref() else {
                return Ok(Judgement::fail("linearizability", format!("not linearizable{key}"), None)
                    .with_signature(format!("linearizability{key}")));
            };
            let client = |op: &check::OpRef| {
                let node = sim_core::NodeId((servers + (op.process as usize) % clients.max(1)) as u32);
                format!("client {node} (process {})", op.process)
            };
            let b = &v.blocked;
            let at = records.get(b.line.saturating_sub(1)).map(|r| r.time);
            let when = at.map_or(String::new(), |t| format!(" invoked at {t}"));
            let last_change = v.prefix.iter().rev().find(|op| op.f != "read" && op.kind != RecordType::Fail);
            let context = match last_change {
                Some(w) => format!(
                    "; after the longest linearizable prefix ({} operations) the state is {}, last changed by {} of {}",
                    v.prefix.len(),
                    v.state,
                    describe_op(w),
                    client(w)
                ),
                None => format!(
                    "; after the longest linearizable prefix ({} operations) the state is {}",
                    v.prefix.len(),
                    v.state
                ),
            };
            Judgement::fail(
                "linearizability",
                format!("{}{key}: no order explains {} by {}{when}{context}", b.f, describe_op(b), client(b)),
                at,
            )
            .with_signature(format!("linearizability: {}{key}", b.f))
        }
    })
}

/// "read -> 3", "write 4", "cas [1 2]": an operation as the checker saw it.
fn describe_op(op: &check::OpRef) -> String {
    match (&op.value, &op.result) {
        (sim_core::Value::Nil, result) => format!("{} -> {result}", op.f),
        (value, result) if result.is_nil() || result == value => format!("{} {value}", op.f),
        (value, result) => format!("{} {value} -> {result}", op.f),
    }
}
