//! The bank's checks of a finished run: atomicity (with "no participant stays
//! prepared forever") and conservation of money.

use std::collections::BTreeMap;

use sim_core::{ClusterView, Duration, NodeId, RecordType, RunReport, Time, Value};

use super::Variant;
use super::message::{Decision, TxnId};
use super::participant::Participant;
use super::server::Server;
use sim_core::Judgement;

/// How long after the last repair every prepared participant must have
/// learned its outcome.
pub const SETTLE: Duration = Duration::from_millis(1000);

/// Atomicity and conservation.
pub fn judge<V: Variant<Server = Server<V>>>(
    report: &RunReport,
    view: &ClusterView<'_, V>,
) -> Vec<Judgement> {
    vec![atomicity(report, view), conservation(report, view)]
}

fn shards<'a, V: Variant<Server = Server<V>>>(view: &ClusterView<'a, V>) -> Vec<(NodeId, &'a Participant)> {
    view.servers().filter_map(|(id, s)| s.participant().map(|p| (id, p))).collect()
}

fn fail(name: &str, detail: String, at: Option<Time>) -> Judgement {
    Judgement::fail(name, detail, at)
}

/// Every transaction applied at all its participants or at none; nobody
/// still prepared long after the faults were repaired.
pub fn atomicity<V: Variant<Server = Server<V>>>(report: &RunReport, view: &ClusterView<'_, V>) -> Judgement {
    let shards = shards(view);
    let by_id: BTreeMap<NodeId, &Participant> = shards.iter().copied().collect();
    let (mut committed, mut aborted) = (0, 0);
    for &(id, p) in &shards {
        for (txn, applied) in p.outcomes().iter().filter(|(_, a)| !a.read_only) {
            if applied.decision == Decision::Abort {
                aborted += 1;
                continue;
            }
            committed += 1;
            for &other in applied.participants.iter().filter(|&&o| o != id) {
                let Some(q) = by_id.get(&other) else { continue };
                let theirs = q.outcomes().get(txn).map(|a| a.decision);
                if theirs == Some(Decision::Abort) || (theirs.is_none() && !q.prepared().contains_key(txn)) {
                    let what = if theirs.is_some() { "aborted it" } else { "never applied it" };
                    let detail = format!("{txn} committed at {id} but {other} {what}");
                    return fail("atomicity", detail, Some(applied.at));
                }
            }
        }
    }
    if let Some(broken) = coordinator_disagrees(view, &shards) {
        return broken;
    }
    if let Some(stuck) = stuck(report, view, &shards) {
        return stuck;
    }
    let prepared: usize = shards.iter().map(|(_, p)| p.prepared().len()).sum();
    Judgement::pass(
        "atomicity",
        format!(
            "{committed} commits and {aborted} aborts applied all-or-nothing; {prepared} prepared at the end"
        ),
    )
}

/// A participant committed what a coordinator says it aborted, or the reverse.
fn coordinator_disagrees<V: Variant<Server = Server<V>>>(
    view: &ClusterView<'_, V>,
    shards: &[(NodeId, &Participant)],
) -> Option<Judgement> {
    for (cid, server) in view.servers() {
        let decisions = server.decisions();
        for &(id, p) in shards {
            for (txn, applied) in p.outcomes().iter().filter(|(_, a)| !a.read_only) {
                let Some(&decided) = decisions.get(txn) else { continue };
                let applied_commit = applied.decision == Decision::Commit;
                if applied_commit != (decided == Decision::Commit)
                    && (applied_commit || !applied.participants.is_empty())
                {
                    let detail = format!(
                        "{txn}: {id} applied {} but coordinator {cid} decided {decided}",
                        applied.decision
                    );
                    return Some(fail("atomicity", detail, Some(applied.at)));
                }
            }
        }
    }
    None
}

/// A participant still prepared well after the last repair, with the
/// coordinator (2PC) or a majority of coordinator nodes (Paxos) up.
fn stuck<V: Variant<Server = Server<V>>>(
    report: &RunReport,
    view: &ClusterView<'_, V>,
    shards: &[(NodeId, &Participant)],
) -> Option<Judgement> {
    let applied = &report.schedule.entries()[..report.faults_applied];
    let settled = match applied.last() {
        Some(last) if !last.fault.is_repair() => return None,
        Some(last) => last.at,
        None => Time::ZERO,
    };
    let deadline = report.time.since(settled);
    if deadline < SETTLE {
        return None;
    }
    let layout = view.servers().next()?.1.layout().clone();
    let up = |n: NodeId| view.server(n).is_some();
    let quorum = layout.coordinators.iter().filter(|&&c| up(c)).count() >= layout.majority();
    for &(id, p) in shards {
        for (txn, prepared) in p.prepared() {
            let back = if V::PAXOS { quorum } else { up(prepared.coordinator) };
            if back && report.time.since(prepared.since) >= SETTLE {
                let detail = format!(
                    "{txn} still prepared at {id} at the end ({} after the last repair), its coordinator {} up",
                    deadline, prepared.coordinator
                );
                return Some(fail("atomicity", detail, Some(prepared.since + SETTLE)));
            }
        }
    }
    None
}

/// Every `ok` read-all sums to the initial total, and so do the final balances.
pub fn conservation<V: Variant<Server = Server<V>>>(
    report: &RunReport,
    view: &ClusterView<'_, V>,
) -> Judgement {
    let Ok(operations) = report.history.operations() else {
        return Judgement::unknown("conservation", "malformed history");
    };
    let mut reads = 0;
    let mut total = None;
    for op in operations.iter().filter(|op| op.f == "read-all" && op.kind == RecordType::Ok) {
        let list =
            |v: &Value| -> Vec<i64> { v.as_list().unwrap_or(&[]).iter().filter_map(Value::as_int).collect() };
        let argument = list(&op.argument);
        let expected = argument.first().copied().unwrap_or(0) * argument.get(1).copied().unwrap_or(0);
        let sum: i64 = list(&op.result).iter().sum();
        total = Some(expected);
        reads += 1;
        if sum != expected {
            let detail = format!("a read-all at {} summed to {sum}, not {expected}", op.invoked_at);
            return fail("conservation", detail, op.completed_at);
        }
    }
    let shards = shards(view);
    let layout = view.servers().next().map(|(_, s)| s.layout().clone());
    let complete = layout.is_some_and(|l| l.shards.len() == shards.len());
    let mut detail =
        format!("{reads} read-alls summed to {}", total.map_or("the total".into(), |t| t.to_string()));
    if complete {
        let drift = drift(&shards);
        if drift != 0 {
            return fail("conservation", format!("the final balances are off by {drift}"), Some(report.time));
        }
        detail.push_str("; final balances conserve money");
    }
    Judgement::pass("conservation", detail)
}

/// The sum of every balance change, counting prepared shares of transactions
/// committed elsewhere (their decision is on its way).
fn drift(shards: &[(NodeId, &Participant)]) -> i64 {
    let committed = |txn: &TxnId| {
        shards.iter().any(|(_, p)| p.outcomes().get(txn).is_some_and(|a| a.decision == Decision::Commit))
    };
    let mut sum: i64 = shards.iter().flat_map(|(_, p)| p.balances().values()).sum();
    for (_, p) in shards {
        for (txn, prepared) in p.prepared() {
            if committed(txn) {
                sum += prepared.work.deltas.iter().map(|(_, d)| d).sum::<i64>();
            }
        }
    }
    sum
}
