//! Runs one seed of a scenario and judges it: how the run ended,
//! linearizability, availability.

use std::collections::BTreeMap;

use anyhow::Context as _;
use protocols::Catalogued;
use serde::{Deserialize, Serialize};
use sim_core::check::availability::{self, Thresholds};
use sim_core::check::{self, CheckOptions, Verdict, models};
use sim_core::{History, Limits, Pacing, RecordType, RunEnd, RunReport, Seed, Sim, Time, TraceSink};

use crate::scenario::{Scenario, ScenarioError, at_field, locate_value, suggest};

/// How one check, or one whole seed, came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Everything held.
    Pass,
    /// Something broke.
    Fail,
    /// A check could not decide.
    Unknown,
}

/// One check's conclusion.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// "run", "linearizability" or "availability".
    pub name: String,
    /// Its status.
    pub status: Status,
    /// One line for people.
    pub detail: String,
    /// For a failure, the key that groups like failures in a sweep, if
    /// finer than the name (the node that panicked, the blocked function).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
}

/// What one seed of a scenario did and how it was judged.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeedOutcome {
    /// The seed.
    pub seed: u64,
    /// Pass if every check passed.
    pub status: Status,
    /// For a failure: which check failed, on what (groups failures in a sweep).
    pub signature: Option<String>,
    /// Each check.
    pub checks: Vec<CheckResult>,
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
    /// Hash of the trace.
    pub trace_hash: String,
}

/// A scenario bound to its protocol type, ready to run any seed.
pub trait Runner: Send + Sync {
    /// Runs one seed, sending the trace to `sink`.
    fn run(&self, seed: u64, sink: TraceSink) -> anyhow::Result<(SeedOutcome, RunReport)>;
}

/// A protocol's catalogue entry: name, summary, planted bugs, model.
pub struct Entry {
    /// The name scenario files use.
    pub name: &'static str,
    /// One line about it.
    pub summary: &'static str,
    /// Planted bugs and what each breaks.
    pub bugs: &'static [(&'static str, &'static str)],
    /// The model its histories are checked against.
    pub model: &'static str,
    /// Its parameters with their defaults, as TOML lines.
    pub parameters: Vec<String>,
}

fn entry<P: Catalogued>() -> Entry {
    let defaults = toml::to_string(&P::default()).unwrap_or_default();
    let parameters = defaults.lines().filter(|l| !l.trim().is_empty()).map(str::to_string).collect();
    Entry { name: P::NAME, summary: P::SUMMARY, bugs: P::BUGS, model: P::MODEL, parameters }
}

type Bind = fn(&Scenario, &str) -> anyhow::Result<Box<dyn Runner>>;

/// A protocol's catalogue entry and how to bind a scenario to it.
struct Registration {
    entry: fn() -> Entry,
    bind: Bind,
}

const fn register<P: Catalogued>() -> Registration {
    Registration { entry: entry::<P>, bind: typed::<P> }
}

/// Every protocol a scenario may name.
const PROTOCOLS: &[Registration] = &[
    register::<protocols::register::Register>(),
    register::<protocols::abd::Abd>(),
    register::<protocols::primary_backup::PrimaryBackup>(),
    register::<protocols::raft::Raft>(),
    register::<protocols::load_balancer::LoadBalancer>(),
    register::<protocols::commit::TwoPc>(),
    register::<protocols::commit::PaxosCommit>(),
    register::<protocols::log::Log>(),
];

/// The protocols a scenario may name.
pub fn catalogue() -> Vec<Entry> {
    PROTOCOLS.iter().map(|p| (p.entry)()).collect()
}

/// Binds a scenario to its protocol, validating the protocol's parameters.
pub fn runner(scenario: &Scenario, text: &str) -> anyhow::Result<Box<dyn Runner>> {
    let name = scenario.protocol.name.as_str();
    match PROTOCOLS.iter().find(|p| (p.entry)().name == name) {
        Some(p) => (p.bind)(scenario, text),
        None => {
            let known: Vec<&str> = catalogue().iter().map(|p| p.name).collect();
            Err(at_field(
                text,
                &scenario.path,
                "protocol.name",
                format!("unknown protocol {name:?}; known protocols are {}", known.join(", ")),
            )
            .into())
        }
    }
}

fn typed<P: Catalogued>(scenario: &Scenario, text: &str) -> anyhow::Result<Box<dyn Runner>> {
    let params = toml::Value::Table(scenario.protocol.params.clone());
    let protocol = P::deserialize(params).map_err(|e| protocol_error(scenario, text, e.message().trim()))?;
    P::workload(&scenario.workload.params).map_err(|message| workload_error(scenario, text, &message))?;
    let model = scenario.checks.model.clone().unwrap_or_else(|| P::MODEL.to_string());
    if scenario.checks.linearizable && model != "none" && model_for(&model).is_none() {
        let message = format!("unknown model {model:?}; use register, cas-register or none");
        return Err(at_field(text, &scenario.path, "checks.model", message).into());
    }
    Ok(Box::new(Typed { protocol, scenario: scenario.clone(), model }))
}

/// Places an error from the protocol's workload parameters.
fn workload_error(scenario: &Scenario, text: &str, message: &str) -> ScenarioError {
    place(scenario, text, "workload", message)
}

/// Places an error from a protocol's own parsing of table `table`: by the
/// field it names, or by the value it quotes; suggests a near-miss key.
fn place(scenario: &Scenario, text: &str, table: &str, message: &str) -> ScenarioError {
    let token = message.split('`').nth(1).unwrap_or("");
    let mut message = message.to_string();
    if let Some(suggestion) = suggest(&message) {
        message.push_str(&format!("; did you mean `{suggestion}`?"));
    }
    if message.contains("field `") {
        return at_field(text, &scenario.path, &format!("{table}.{token}"), message);
    }
    match locate_value(text, table, token).filter(|_| !token.is_empty()) {
        Some((line, column, field)) => ScenarioError {
            path: scenario.path.clone(),
            line: Some(line),
            column: Some(column),
            field: Some(field),
            message,
        },
        None => at_field(text, &scenario.path, table, message),
    }
}

/// Places an error from the protocol's own parameter parsing.
fn protocol_error(scenario: &Scenario, text: &str, message: &str) -> ScenarioError {
    place(scenario, text, "protocol", message)
}

struct Typed<P> {
    protocol: P,
    scenario: Scenario,
    model: String,
}

impl<P: Catalogued> Runner for Typed<P> {
    fn run(&self, seed: u64, sink: TraceSink) -> anyhow::Result<(SeedOutcome, RunReport)> {
        let s = &self.scenario;
        let workload = P::workload(&s.workload.params).map_err(anyhow::Error::msg)?;
        let pacing = Pacing {
            think: s.workload.think_latency(),
            duration: s.workload.duration,
            timeout: Some(s.workload.timeout),
        };
        let mut builder = Sim::builder(self.protocol.clone(), Seed(seed))
            .servers(s.cluster.servers)
            .clients_boxed(s.workload.clients, workload)
            .pacing(pacing)
            .network(s.net_config())
            .faults(s.schedule())
            .torn_writes(s.storage.torn_writes)
            .limits(Limits { events_max: s.limits.events, time_max: Some(s.time_max()), ..Limits::default() })
            .trace(sink);
        if let Some(topology) = s.topology() {
            builder = builder.topology(topology);
        }
        if let Some(nemesis) = s.nemesis() {
            builder = builder.nemesis(nemesis);
        }
        let mut sim = builder.build().map_err(anyhow::Error::msg).context("cannot build the simulation")?;
        let report = sim.run();
        let extra = self.protocol.judge(&report, &sim.view());
        let outcome = judge(s, &self.model, seed, &report, extra)?;
        Ok((outcome, report))
    }
}

fn judge(
    s: &Scenario,
    model: &str,
    seed: u64,
    report: &RunReport,
    extra: Vec<protocols::Judgement>,
) -> anyhow::Result<SeedOutcome> {
    let mut checks = vec![run_check(&report.end)];
    let mut failed_at = (!report.end.is_normal()).then_some(report.time);
    let operations = report.history.operations().context("the recorded history breaks the history rules")?;
    if s.checks.linearizable && model != "none" {
        let (result, at) = linearizability(model, &report.history)?;
        failed_at = failed_at.or(at);
        checks.push(result);
    }
    if let Some(spec) = &s.checks.availability {
        let thresholds = Thresholds {
            success_ratio_min: spec.success_min,
            latency_p99_max: spec.p99_max,
            unavailable_max: spec.unavailable_max,
            recovery_max: spec.recovery_max,
        };
        let heals: Vec<Time> = report.schedule.repair_times().last().copied().into_iter().collect();
        let a = availability::availability(&operations, &heals, &thresholds);
        let p99 = a.latency.map_or("-".to_string(), |l| l.p99.to_string());
        let recovery = a.recovery_longest.map_or("-".to_string(), |d| d.to_string());
        let detail = format!(
            "success {:.1}%, p99 {p99}, longest outage {}, recovery {recovery}{}",
            a.success_ratio * 100.0,
            a.unavailable_longest.to.since(a.unavailable_longest.from),
            if a.reasons.is_empty() { String::new() } else { format!(": {}", a.reasons.join("; ")) }
        );
        checks.push(CheckResult {
            name: "availability".into(),
            status: if a.pass { Status::Pass } else { Status::Fail },
            detail,
            signature: None,
        });
    }
    for judgement in extra {
        let status = match judgement.pass {
            Some(true) => Status::Pass,
            Some(false) => Status::Fail,
            None => Status::Unknown,
        };
        if status == Status::Fail {
            failed_at = failed_at.or(judgement.at);
        }
        checks.push(CheckResult { name: judgement.name, status, detail: judgement.detail, signature: None });
    }
    let status = checks.iter().map(|c| c.status).max_by_key(|s| match s {
        Status::Pass => 0,
        Status::Unknown => 1,
        Status::Fail => 2,
    });
    let status = status.unwrap_or(Status::Pass);
    let signature = checks
        .iter()
        .find(|c| c.status == Status::Fail)
        .map(|c| c.signature.clone().unwrap_or_else(|| c.name.clone()));
    let count = |kind| report.history.records().iter().filter(|r| r.kind == kind).count();
    let mut faults = BTreeMap::new();
    for entry in &report.schedule.entries()[..report.faults_applied] {
        *faults.entry(entry.fault.kind()).or_insert(0) += 1;
    }
    Ok(SeedOutcome {
        seed,
        status,
        signature,
        checks,
        time: report.time,
        failed_at: if status == Status::Fail { failed_at.or(Some(report.time)) } else { None },
        events: report.events,
        ops: [count(RecordType::Ok), count(RecordType::Fail), count(RecordType::Info)],
        faults,
        trace_hash: format!("{:016x}", report.trace_hash),
    })
}

fn run_check(end: &RunEnd) -> CheckResult {
    let status = if end.is_normal() { Status::Pass } else { Status::Fail };
    let (name, signature) = match end {
        RunEnd::Invariant { name, .. } => (format!("invariant {name}"), None),
        RunEnd::Panic { node, .. } => ("panic".into(), Some(format!("panic: {node}"))),
        RunEnd::Limit { limit, .. } => {
            ("limit".into(), Some(format!("limit: {}", limit.split('=').next().unwrap_or(limit))))
        }
        _ => ("run".into(), None),
    };
    CheckResult { name, status, detail: end.to_string(), signature }
}

fn model_for(name: &str) -> Option<models::Register> {
    match name {
        "register" => Some(models::Register::new(sim_core::Value::Nil)),
        "cas-register" => Some(models::Register::with_cas(sim_core::Value::Nil)),
        _ => None,
    }
}

fn linearizability(model: &str, history: &History) -> anyhow::Result<(CheckResult, Option<Time>)> {
    let model = model_for(model).expect("validated model");
    let options = CheckOptions { threads: 1, ..CheckOptions::default() };
    let report = check::check_history(&model, history, &options).context("cannot check the history")?;
    let records = history.records();
    let (status, detail, at, signature) = match report.verdict {
        Verdict::Linearizable => {
            (Status::Pass, format!("{} operations, linearizable", report.operations), None, None)
        }
        Verdict::Unknown => (Status::Unknown, "search budget exhausted".to_string(), None, None),
        Verdict::NotLinearizable => {
            let part = report.violations().next().expect("a violating part");
            let blocked = part.violation.as_ref().map(|v| &v.blocked);
            let what = blocked.map_or(String::new(), describe_op);
            let key = part.key.as_ref().map_or(String::new(), |k| format!(" on key {k}"));
            let at = blocked.and_then(|b| records.get(b.line.saturating_sub(1))).map(|r| r.time);
            let when = at.map_or(String::new(), |t| format!(" invoked at {t}"));
            let f = blocked.map_or("", |b| b.f.as_str());
            (
                Status::Fail,
                format!(
                    "{f}{key} — no order explains {what} by process {}{when}",
                    blocked.map_or(0, |b| b.process)
                ),
                at,
                Some(format!("linearizability: {f}{key}")),
            )
        }
    };
    Ok((CheckResult { name: "linearizability".into(), status, detail, signature }, at))
}

/// "read -> 3", "write 4", "cas [1 2]": an operation as the checker saw it.
fn describe_op(op: &check::OpRef) -> String {
    match (&op.value, &op.result) {
        (sim_core::Value::Nil, result) => format!("{} -> {result}", op.f),
        (value, result) if result.is_nil() || result == value => format!("{} {value}", op.f),
        (value, result) => format!("{} {value} -> {result}", op.f),
    }
}
