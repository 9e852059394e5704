//! Every third-party history in tests/conformance/manifest.json gets the
//! verdict its source asserts.

use std::path::{Path, PathBuf};

use serde_json::Value as Json;
use sim_core::Value;
use sim_core::check::formats::{self, Format, Parsed};
use sim_core::check::models::{Kv, KvMap, Register};
use sim_core::check::{CheckOptions, Model, Report, Verdict, check_history};

fn conformance_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance")
}

fn manifest() -> Vec<Json> {
    let text = std::fs::read_to_string(conformance_dir().join("manifest.json")).expect("manifest readable");
    let Json::Array(entries) = serde_json::from_str(&text).expect("manifest is JSON") else {
        panic!("manifest is a list")
    };
    entries
}

fn parse(entry: &Json) -> Parsed {
    let path = entry["path"].as_str().expect("path");
    let format = match entry["format"].as_str() {
        Some("jepsen-etcd-log") => Format::EtcdLog,
        Some("porcupine-kv-edn-lines") => Format::Edn,
        other => panic!("unknown format {other:?}"),
    };
    let text = std::fs::read_to_string(conformance_dir().join(path)).expect("history readable");
    let parsed = formats::read(&text, format).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(formats::detect(&text), if text.is_empty() { Format::Jsonl } else { format }, "{path}");
    parsed
}

fn run(model: &impl Model, parsed: &Parsed) -> Report {
    check_history(model, &parsed.history, &CheckOptions::default()).expect("checkable")
}

fn expected(entry: &Json) -> Option<Verdict> {
    match entry["expected"].as_str() {
        Some("linearizable") => Some(Verdict::Linearizable),
        Some("not-linearizable") => Some(Verdict::NotLinearizable),
        _ => None,
    }
}

#[test]
fn every_history_gets_its_expected_verdict() {
    let mut wrong = Vec::new();
    let entries = manifest();
    assert_eq!(entries.len(), 109);
    for entry in &entries {
        let path = entry["path"].as_str().expect("path");
        let parsed = parse(entry);
        let invocations =
            parsed.history.records().iter().filter(|r| r.kind == sim_core::RecordType::Invoke).count();
        assert_eq!(invocations as u64, entry["ops"].as_u64().expect("ops"), "{path}");
        let report = match entry["model"].as_str() {
            Some("cas-register") => run(&Register::with_cas(Value::Nil), &parsed),
            Some("kv") => run(&Kv, &parsed),
            other => panic!("unknown model {other:?}"),
        };
        if let Some(expected) = expected(entry)
            && report.verdict != expected
        {
            wrong.push(format!("{path}: expected {expected}, got {}", report.verdict));
        }
        if report.verdict == Verdict::NotLinearizable {
            assert!(report.violations().all(|p| p.violation.is_some()), "{path}: a violation is explained");
        }
    }
    assert!(wrong.is_empty(), "wrong verdicts:\n{}", wrong.join("\n"));
}

#[test]
fn small_kv_histories_unsplit() {
    for entry in manifest()
        .iter()
        .filter(|e| e["path"].as_str().is_some_and(|p| p.contains("/c01-") || p.contains("/c10-")))
    {
        let report = run(&KvMap, &parse(entry));
        assert_eq!(Some(report.verdict), expected(entry), "{}", entry["path"]);
        assert_eq!(report.parts.len(), 1);
    }
}
