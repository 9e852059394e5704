//! Time to check every conformance history (parsing excluded): the median of
//! several runs per file, per-file lines, totals per set and peak memory.
//! `CHECKER_BENCH_FILTER=etcd_002` limits the files; `CHECKER_BENCH_RUNS=N`
//! sets the minimum runs per file (default 7; sub-millisecond files run more,
//! after one warm-up run).

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde_json::Value as Json;
use sim_core::Value;
use sim_core::check::formats::{self, Format, Parsed};
use sim_core::check::models::{Kv, KvMap, Register};
use sim_core::check::{CheckOptions, Model, Verdict, check};

fn conformance_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/conformance")
}

/// The median wall-clock milliseconds of `runs` checks, and the verdict.
#[allow(clippy::disallowed_methods)] // a benchmark measures wall-clock time
fn time_check(model: &impl Model, parsed: &Parsed, runs: usize) -> (f64, Verdict) {
    let options = CheckOptions::default();
    // Pairing invocations with completions is part of reading a history (as
    // Porcupine's parsers produce paired operations), so it is not timed.
    let ops = parsed.history.operations().expect("well-formed");
    let mut times = Vec::with_capacity(runs);
    let mut verdict = Verdict::Unknown;
    // One untimed run warms caches and the allocator; then at least `runs`
    // timed runs, and more for sub-millisecond files (up to ~50 ms or 1,001
    // runs) so their median measures the checker, not a cold cache.
    check(model, &ops, &options).expect("checkable");
    let mut spent = 0.0;
    let mut run = 0;
    while run < runs || (spent < 50.0 && run < 1_001) {
        run += 1;
        let start = Instant::now();
        let report = check(model, &ops, &options).expect("checkable");
        let elapsed = start.elapsed().as_secs_f64() * 1e3;
        spent += elapsed;
        times.push(elapsed);
        verdict = report.verdict;
        if std::env::var_os("CHECKER_BENCH_PARTS").is_some() {
            for part in &report.parts {
                println!(
                    "  part {:?} ops={} states={} verdict={}",
                    part.key, part.operations, part.states, part.verdict
                );
            }
        }
    }
    times.sort_by(f64::total_cmp);
    (times[times.len() / 2], verdict)
}

fn peak_memory_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() {
    let filter = std::env::var("CHECKER_BENCH_FILTER").unwrap_or_default();
    let runs: usize = std::env::var("CHECKER_BENCH_RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(7);
    let text = std::fs::read_to_string(conformance_dir().join("manifest.json")).expect("manifest");
    let entries: Vec<Json> = serde_json::from_str(&text).expect("manifest is JSON");
    let (mut etcd_ms, mut kv_ms) = (0.0, 0.0);
    for entry in &entries {
        let path = entry["path"].as_str().expect("path");
        if !path.contains(&filter) {
            continue;
        }
        let format = if entry["format"] == "jepsen-etcd-log" { Format::EtcdLog } else { Format::Edn };
        let source = std::fs::read_to_string(conformance_dir().join(path)).expect("history");
        let parsed = formats::read(&source, format).expect("parsable");
        if entry["model"] == "kv" {
            let (ms, verdict) = time_check(&Kv, &parsed, runs);
            kv_ms += ms;
            println!(
                "file {path} model=kv-partitioned median_ms={ms:.3} verdict={verdict} expected={}",
                entry["expected"]
            );
            if (path.contains("/c01-") || path.contains("/c10-"))
                && std::env::var_os("CHECKER_BENCH_SPLIT_ONLY").is_none()
            {
                let (ms, verdict) = time_check(&KvMap, &parsed, runs.min(3));
                println!(
                    "file {path} model=kv-no-partition median_ms={ms:.3} verdict={verdict} (not in totals)"
                );
            }
        } else {
            let (ms, verdict) = time_check(&Register::with_cas(Value::Nil), &parsed, runs);
            etcd_ms += ms;
            println!(
                "file {path} model=cas-register median_ms={ms:.3} verdict={verdict} expected={}",
                entry["expected"]
            );
        }
    }
    println!("peak_memory_kib={}", peak_memory_kib().map_or("unknown".into(), |k| k.to_string()));
    println!("bench conformance-etcd total_ms={etcd_ms:.3}");
    println!("bench conformance-kv total_ms={kv_ms:.3}");
}
