//! Reading a JSON-lines trace (the schema `sim_core::TraceEvent` writes)
//! into a [`Run`].

use std::collections::BTreeMap;

use serde::Deserialize;
use sim_core::{Fault, History, Record, RecordType, Value};

use crate::error::VizError;
use crate::failure::Failure;
use crate::run::{Lane, Message, Operation, Role, Run, TimerFiring};
use crate::state;

/// One trace line, as `sim_core::TraceEvent` serializes it.
#[derive(Deserialize)]
#[serde(tag = "ev", rename_all = "kebab-case")]
enum Line {
    Start { t: u64, node: u32 },
    Send { t: u64, mid: u64, from: u32, to: u32, msg: serde_json::Value },
    Deliver { t: u64, mid: u64 },
    Drop { t: u64, mid: u64, reason: String },
    Duplicate { t: u64, mid: u64 },
    Defer { t: u64, node: u32 },
    Timer { t: u64, node: u32, timer: serde_json::Value },
    Fault { t: u64, fault: serde_json::Value },
    StorageLoss { t: u64, node: u32, lost_writes: u64, torn_key: Option<String> },
    Invoke { t: u64, node: u32, process: u64, op: InvokedOp },
    Complete { t: u64, node: u32, process: u64, kind: RecordType, value: Value },
    End { t: u64, outcome: String },
}

impl Line {
    fn t(&self) -> u64 {
        match self {
            Line::Start { t, .. }
            | Line::Send { t, .. }
            | Line::Deliver { t, .. }
            | Line::Drop { t, .. }
            | Line::Duplicate { t, .. }
            | Line::Defer { t, .. }
            | Line::Timer { t, .. }
            | Line::Fault { t, .. }
            | Line::StorageLoss { t, .. }
            | Line::Invoke { t, .. }
            | Line::Complete { t, .. }
            | Line::End { t, .. } => *t,
        }
    }
}

#[derive(Deserialize)]
struct InvokedOp {
    f: String,
    #[serde(default)]
    key: Option<Value>,
    #[serde(default)]
    value: Value,
}

/// What the trace says, accumulated line by line.
#[derive(Default)]
struct Reader {
    run: Run,
    node_ids: Vec<u32>,
    client_min: Option<u32>,
    by_mid: BTreeMap<u64, usize>,
    history: History,
    open: BTreeMap<u64, (String, Option<Value>)>,
    process_node: BTreeMap<u64, u32>,
    faults: Vec<(u64, Fault)>,
    deferred: BTreeMap<u32, usize>,
}

/// Reads `trace`; operations come from `history` if given, else from the trace.
pub(crate) fn run(trace: &str, history: Option<&History>) -> Result<Run, VizError> {
    let mut reader = Reader::default();
    for (index, text) in trace.lines().enumerate() {
        if text.trim().is_empty() {
            continue;
        }
        let line = index + 1;
        let event: Line =
            serde_json::from_str(text).map_err(|e| VizError::Trace { line, message: e.to_string() })?;
        reader.read(line, event)?;
    }
    reader.finish(history)
}

impl Reader {
    fn read(&mut self, line: usize, event: Line) -> Result<(), VizError> {
        let t = event.t();
        if t < self.run.end {
            return Err(VizError::Trace {
                line,
                message: format!("time goes back: t={t} after t={}", self.run.end),
            });
        }
        self.run.end = t;
        self.run.events += 1;
        match event {
            Line::Start { node, .. } => self.node(node),
            Line::Send { mid, from, to, msg, .. } => {
                self.node(from);
                self.node(to);
                self.by_mid.insert(mid, self.run.messages.len());
                let arrivals = Vec::new();
                self.run.messages.push(Message {
                    mid,
                    from,
                    to,
                    sent: t,
                    arrivals,
                    duplicated: false,
                    body: msg,
                });
            }
            Line::Deliver { mid, .. } => self.message(line, mid)?.arrivals.push(arrival(t, None)),
            Line::Drop { mid, reason, .. } => {
                self.message(line, mid)?.arrivals.push(arrival(t, Some(reason)))
            }
            Line::Duplicate { mid, .. } => self.message(line, mid)?.duplicated = true,
            Line::Defer { node, .. } => *self.deferred.entry(node).or_default() += 1,
            Line::Timer { node, timer, .. } => self.run.timers.push(TimerFiring { t, node, body: timer }),
            Line::Fault { fault, .. } => self.fault(line, t, fault)?,
            Line::StorageLoss { node, lost_writes, torn_key, .. } => {
                let torn = torn_key.map_or(String::new(), |k| format!(", tore key {k}"));
                let text = format!("n{node} lost {lost_writes} unsynced writes{torn}");
                let body = serde_json::json!({ "node": node, "lost_writes": lost_writes });
                self.run.faults.push(state::mark(t, "storage-loss", Some(node), text, body));
            }
            Line::Invoke { node, process, op, .. } => self.invoke(t, node, process, op),
            Line::Complete { node, process, kind, value, .. } => {
                self.complete(line, t, node, process, kind, value)?
            }
            Line::End { outcome, .. } => self.run.failures.push(Failure::from_end_text(&outcome, t)),
        }
        Ok(())
    }

    fn node(&mut self, id: u32) {
        if let Err(at) = self.node_ids.binary_search(&id) {
            self.node_ids.insert(at, id);
        }
    }

    fn message(&mut self, line: usize, mid: u64) -> Result<&mut Message, VizError> {
        let index = *self
            .by_mid
            .get(&mid)
            .ok_or(VizError::Trace { line, message: format!("message mid={mid} was never sent") })?;
        Ok(&mut self.run.messages[index])
    }

    fn fault(&mut self, line: usize, t: u64, body: serde_json::Value) -> Result<(), VizError> {
        let fault: Fault = serde_json::from_value(body.clone())
            .map_err(|e| VizError::Trace { line, message: format!("fault: {e}") })?;
        self.run.faults.push(state::fault_mark(t, &fault, body));
        self.faults.push((t, fault));
        Ok(())
    }

    fn invoke(&mut self, t: u64, node: u32, process: u64, op: InvokedOp) {
        self.node(node);
        self.client_min = Some(self.client_min.map_or(node, |m| m.min(node)));
        self.process_node.insert(process, node);
        self.open.insert(process, (op.f.clone(), op.key.clone()));
        self.history.push(record(process, RecordType::Invoke, op.f, op.key, op.value, t));
    }

    fn complete(
        &mut self,
        line: usize,
        t: u64,
        node: u32,
        process: u64,
        kind: RecordType,
        value: Value,
    ) -> Result<(), VizError> {
        let (f, key) = self.open.remove(&process).ok_or(VizError::Trace {
            line,
            message: format!("process {process} completes an operation it never invoked"),
        })?;
        self.node(node);
        self.history.push(record(process, kind, f, key, value, t));
        Ok(())
    }

    fn finish(mut self, history: Option<&History>) -> Result<Run, VizError> {
        let history = history.unwrap_or(&self.history);
        let ops = history.operations().map_err(VizError::History)?;
        for (index, op) in ops.into_iter().enumerate() {
            let node = *self.process_node.get(&op.process).ok_or(VizError::Mismatch {
                message: format!("history process {} never invokes in the trace", op.process),
            })?;
            self.run.operations.push(Operation {
                index,
                node,
                process: op.process,
                key_text: op.key.as_ref().map(|k| k.to_string()),
                f: op.f,
                key: op.key,
                argument: op.argument,
                kind: op.kind,
                result: op.result,
                invoked: op.invoked_at.as_nanos(),
                completed: op.completed_at.map(|t| t.as_nanos()),
            });
        }
        let client_min = self.client_min.unwrap_or(u32::MAX);
        let role = |id: u32| if id >= client_min { Role::Client } else { Role::Server };
        self.run.nodes =
            self.node_ids.iter().map(|&id| Lane { id, name: format!("n{id}"), role: role(id) }).collect();
        let servers: Vec<u32> =
            self.run.nodes.iter().filter(|l| l.role == Role::Server).map(|l| l.id).collect();
        let (bands, partitions) = state::intervals(&self.faults, &servers, self.run.end);
        self.run.bands = bands;
        self.run.partitions = partitions;
        self.run.deferred = self.deferred.into_iter().collect();
        Ok(self.run)
    }
}

fn arrival(t: u64, dropped: Option<String>) -> crate::run::Arrival {
    crate::run::Arrival { t, dropped }
}

fn record(process: u64, kind: RecordType, f: String, key: Option<Value>, value: Value, t: u64) -> Record {
    Record { process, kind, f, key, value, time: sim_core::Time::from_nanos(t), error: None }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = r#"{"ev":"start","t":0,"node":0}
{"ev":"start","t":0,"node":1}
{"ev":"invoke","t":0,"node":1,"process":0,"op_id":0,"op":{"f":"write","key":0,"value":5}}
{"ev":"send","t":0,"mid":0,"from":1,"to":0,"msg":{"Write":5}}
{"ev":"duplicate","t":0,"mid":0}
{"ev":"deliver","t":10,"mid":0,"from":1,"to":0}
{"ev":"deliver","t":12,"mid":0,"from":1,"to":0}
{"ev":"send","t":12,"mid":1,"from":0,"to":1,"msg":"Ack"}
{"ev":"drop","t":12,"mid":1,"from":0,"to":1,"reason":"loss"}
{"ev":"fault","t":15,"fault":{"fault":"crash","node":0}}
{"ev":"timer","t":20,"node":1,"id":0,"timer":"Timeout"}
{"ev":"complete","t":20,"node":1,"process":0,"op_id":0,"kind":"info","value":null}
"#;

    #[test]
    fn reads_messages_operations_faults_and_roles() {
        let run = Run::from_jsonl(TRACE, None).unwrap();
        assert_eq!(run.nodes.iter().map(|l| l.role).collect::<Vec<_>>(), [Role::Server, Role::Client]);
        assert_eq!(run.messages.len(), 2);
        assert!(run.messages[0].duplicated);
        assert_eq!(run.messages[0].arrivals.iter().map(|a| a.t).collect::<Vec<_>>(), [10, 12]);
        assert_eq!(run.messages[1].arrivals[0].dropped.as_deref(), Some("loss"));
        assert_eq!(run.operations.len(), 1);
        assert_eq!((run.operations[0].kind, run.operations[0].completed), (RecordType::Info, Some(20)));
        assert_eq!(run.faults.len(), 1);
        assert_eq!(run.bands.len(), 1);
        assert_eq!((run.bands[0].state.as_str(), run.bands[0].from, run.bands[0].to), ("crashed", 15, 20));
        assert_eq!((run.timers.len(), run.end, run.events), (1, 20, 12));
        assert_eq!((run.timers[0].node, run.timers[0].body.as_str()), (1, Some("Timeout")));
    }

    #[test]
    fn errors_name_the_line() {
        let bad = TRACE.replace(r#"{"ev":"drop","t":12,"mid":1"#, r#"{"ev":"drop","t":12,"mid":9"#);
        let err = Run::from_jsonl(&bad, None).unwrap_err().to_string();
        assert!(err.contains("line 9") && err.contains("mid=9"), "{err}");
        let err = Run::from_jsonl("{\"ev\":\"start\"}\n", None).unwrap_err().to_string();
        assert!(err.starts_with("trace line 1:"), "{err}");
        let back = "{\"ev\":\"start\",\"t\":5,\"node\":0}\n{\"ev\":\"start\",\"t\":4,\"node\":1}\n";
        assert!(Run::from_jsonl(back, None).unwrap_err().to_string().contains("line 2"));
    }

    #[test]
    fn history_must_match_the_trace() {
        let history = r#"{"process":7,"type":"invoke","f":"read","time":0}"#;
        let err = Run::from_jsonl(TRACE, Some(history)).unwrap_err().to_string();
        assert!(err.contains("process 7"), "{err}");
    }
}
