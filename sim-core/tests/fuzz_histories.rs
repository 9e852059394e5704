//! A bounded fuzz test of the history readers and checkers: mutations of
//! the conformance histories (`tests/conformance/`), in their own formats
//! and rendered as EDN vectors and JSON lines, go through
//! `formats::read`, the linearizability check (under a small budget) and
//! the availability measure. Every case must end in an answer: a read
//! error, a check error, or a verdict (linearizable, not, unknown); a panic
//! fails the test with the case number that replays it.
//!
//! The default run is a fixed number of cases (about a minute on a laptop
//! core). The long run is ignored by default:
//!
//! ```text
//! cargo test --release -p sim-core --test fuzz_histories -- --ignored --nocapture
//! ```
//!
//! `FUZZ_HISTORIES_CASES=N` changes the long run's case count and
//! `FUZZ_HISTORIES_FIRST=K` its first case; one case replays with
//! `FUZZ_HISTORIES_FIRST=K FUZZ_HISTORIES_CASES=1`.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use serde_json::Value as Json;
use sim_core::check::availability::{Thresholds, availability};
use sim_core::check::formats::{self, Format, FormatError};
use sim_core::check::models::{Kv, Register};
use sim_core::check::{Budget, CheckError, CheckOptions, Model, Verdict, check};
use sim_core::{Duration, History, Record, RecordType, Seed, SimRng, Stream, Time, Value};

/// One conformance history: its text, the model it is checked with, and
/// the same records rendered in the other formats.
struct Base {
    path: String,
    kv: bool,
    texts: Vec<String>,
}

fn bases() -> Vec<Base> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/conformance");
    let manifest = std::fs::read_to_string(dir.join("manifest.json")).expect("manifest");
    let entries: Vec<Json> = serde_json::from_str(&manifest).expect("manifest is JSON");
    entries
        .iter()
        .map(|entry| {
            let path = entry["path"].as_str().expect("path").to_string();
            let text = std::fs::read_to_string(dir.join(&path)).expect("history");
            let parsed = formats::read(&text, Format::Auto).expect("a conformance history reads");
            let texts = vec![text, edn_vector(&parsed.history), json_lines(&parsed.history)];
            Base { path, kv: entry["model"] == "kv", texts }
        })
        .collect()
}

fn edn_vector(history: &History) -> String {
    let mut text = String::from("[");
    for r in history.records() {
        let kind = format!("{:?}", r.kind).to_lowercase();
        let key = r.key.as_ref().map(|k| format!(" :key {k}")).unwrap_or_default();
        let time = r.time.as_nanos();
        text += &format!(
            "{{:process {}, :type :{kind}, :f :{}{key}, :value {}, :time {time}}}\n",
            r.process, r.f, r.value
        );
    }
    text + "]"
}

fn json_lines(history: &History) -> String {
    history.records().iter().map(|r| serde_json::to_string(r).expect("serialisable") + "\n").collect()
}

/// How one case ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Answer {
    SyntaxError,
    RuleError,
    CheckError,
    Linearizable,
    NotLinearizable,
    Unknown,
}

/// The mutation classes.
const MUTATIONS: [&str; 9] = [
    "byte-edit",
    "wrong-type",
    "extreme-number",
    "truncate",
    "deep-nesting",
    "duplicate",
    "swap-lines",
    "keyword",
    "splice",
];

const TOKENS: [&str; 14] = [
    "nil", ":ok", ":invoke", ":info", ":fail", "\"s\"", "1.5", "[1 2]", "{}", "#_", "#{", "-", ":nemesis",
    "é",
];

const NUMBERS: [&str; 8] = [
    "0",
    "-1",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551615",
    "99999999999999999999999",
    "1e308",
    "4294967296",
];

fn mutate(text: &str, class: usize, rng: &mut SimRng) -> String {
    let mut bytes = text.as_bytes().to_vec();
    let at = |rng: &mut SimRng, len: usize| rng.below(len as u64 + 1) as usize;
    let edits = 1 + rng.below(4);
    match MUTATIONS[class] {
        "byte-edit" => {
            for _ in 0..edits {
                let i = at(rng, bytes.len());
                let byte = *rng.pick(b"0123456789[]{}()\":;,#\\ \n\t-+.e");
                match rng.below(3) {
                    0 if i < bytes.len() => bytes[i] = byte,
                    1 if i < bytes.len() => {
                        bytes.remove(i);
                    }
                    _ => bytes.insert(i, byte),
                }
            }
        }
        "wrong-type" | "extreme-number" | "keyword" => {
            for _ in 0..edits {
                let spans = number_spans(&bytes, MUTATIONS[class] == "keyword");
                if spans.is_empty() {
                    break;
                }
                let (start, end) = *rng.pick(&spans);
                let with = match MUTATIONS[class] {
                    "wrong-type" | "keyword" => *rng.pick(&TOKENS),
                    _ => *rng.pick(&NUMBERS),
                };
                bytes.splice(start..end, with.bytes());
            }
        }
        "truncate" => {
            bytes.truncate(at(rng, bytes.len()));
            if rng.below(2) == 0 {
                // At a line's end, as a crashed writer leaves a file.
                let end = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
                bytes.truncate(end);
            }
        }
        "deep-nesting" => {
            let depth = [100, 127, 128, 129, 1_000, 50_000, 200_000][rng.below(7) as usize];
            let (open, close) =
                *rng.pick(&[("[", "]"), ("(", ")"), ("{:k ", "}"), ("#_ 1 ", ""), ("#t ", ""), ("[", "")]);
            let i = value_position(&bytes, rng);
            let nested = format!("{}1{}", open.repeat(depth), close.repeat(depth));
            bytes.splice(i..i, nested.bytes());
        }
        "duplicate" => {
            let lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
            let i = rng.below(lines.len() as u64) as usize;
            let times = 1 + rng.below(3) as usize;
            let mut out: Vec<&[u8]> = lines[..=i].to_vec();
            out.extend(std::iter::repeat_n(lines[i], times));
            out.extend(&lines[i + 1..]);
            bytes = out.join(&b'\n');
        }
        "swap-lines" => {
            let mut lines: Vec<Vec<u8>> = bytes.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
            for _ in 0..edits {
                let n = lines.len() as u64;
                lines.swap(rng.below(n) as usize, rng.below(n) as usize);
            }
            bytes = lines.join(&b'\n');
        }
        _ => {
            // Splice: a random slice of the text moved elsewhere.
            let (a, b) = (at(rng, bytes.len()), at(rng, bytes.len()));
            let piece = bytes[a.min(b)..a.max(b)].to_vec();
            let i = at(rng, bytes.len());
            bytes.splice(i..i, piece);
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Spans of digits (or of `:keywords`), to replace with other tokens.
fn number_spans(bytes: &[u8], keywords: bool) -> Vec<(usize, usize)> {
    let inside = |b: u8| if keywords { b.is_ascii_alphanumeric() || b == b'-' } else { b.is_ascii_digit() };
    let mut spans = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let starts = if keywords { bytes[i] == b':' } else { inside(bytes[i]) };
        if !starts {
            i += 1;
            continue;
        }
        let start = i;
        i += 1;
        while i < bytes.len() && inside(bytes[i]) {
            i += 1;
        }
        spans.push((start, i));
    }
    spans
}

/// Just after a space, so the nesting lands where a value may be.
fn value_position(bytes: &[u8], rng: &mut SimRng) -> usize {
    let spaces: Vec<usize> =
        bytes.iter().enumerate().filter(|(_, b)| **b == b' ').map(|(i, _)| i + 1).collect();
    if spaces.is_empty() { 0 } else { *rng.pick(&spaces) }
}

fn options() -> CheckOptions {
    let budget = Budget { states_max: 100_000, steps_max: 20_000_000, memory_max: 64 << 20, cancel: None };
    CheckOptions { budget, threads: 1 }
}

fn judge(model: &impl Model, parsed: &formats::Parsed) -> Answer {
    let ops = match parsed.history.operations() {
        Ok(ops) => ops,
        Err(_) => return Answer::RuleError,
    };
    let thresholds = Thresholds {
        success_ratio_min: Some(0.5),
        latency_p99_max: Some(Duration::from_millis(1)),
        unavailable_max: Some(Duration::from_millis(1)),
        recovery_max: Some(Duration::from_millis(1)),
    };
    let heals = [Time::ZERO, Time::from_nanos(u64::MAX)];
    let report = availability(&ops, &heals, &thresholds);
    assert_eq!(report.operations, ops.len());
    match check(model, &ops, &options()) {
        Err(CheckError::Model { .. } | CheckError::History(_)) => Answer::CheckError,
        Ok(report) => match report.verdict {
            Verdict::Linearizable => Answer::Linearizable,
            Verdict::NotLinearizable => {
                assert!(report.violations().all(|p| p.violation.is_some()), "a violation is explained");
                Answer::NotLinearizable
            }
            Verdict::Unknown => {
                assert!(report.parts.iter().any(|p| p.gave_up.is_some()), "unknown says why");
                Answer::Unknown
            }
        },
    }
}

/// Runs case `case`: its own stream picks the base, the rendering, the
/// mutation and the format asked for.
fn run_case(bases: &[Base], case: u64) -> (usize, Answer) {
    let mut rng = SimRng::new(Seed(case), Stream::Workload);
    let base = rng.pick(bases);
    let text = rng.pick(&base.texts);
    let class = rng.below(MUTATIONS.len() as u64) as usize;
    let mut mutated = mutate(text, class, &mut rng);
    if rng.below(4) == 0 {
        mutated = mutate(&mutated, rng.below(MUTATIONS.len() as u64) as usize, &mut rng);
    }
    // Mostly detected; sometimes forced, right or wrong.
    let format = *rng.pick(&[
        Format::Auto,
        Format::Auto,
        Format::Auto,
        Format::Auto,
        Format::Auto,
        Format::Jsonl,
        Format::Edn,
        Format::EtcdLog,
    ]);
    let _ = formats::read_value(&mutated.chars().take(200).collect::<String>());
    let answer = match formats::read(&mutated, format) {
        Err(FormatError::Syntax { line, .. }) => {
            assert!(line >= 1 && line <= mutated.lines().count().max(1) + 1, "line={line}");
            Answer::SyntaxError
        }
        Err(FormatError::Rules(_)) => Answer::RuleError,
        Ok(parsed) => {
            assert_eq!(parsed.lines.len(), parsed.history.len());
            if base.kv { judge(&Kv, &parsed) } else { judge(&Register::with_cas(Value::Nil), &parsed) }
        }
    };
    let _ = &base.path;
    (class, answer)
}

/// Runs `count` cases from `first`; panics list the failing cases.
fn campaign(first: u64, count: u64) -> BTreeMap<(&'static str, Answer), u64> {
    let bases = bases();
    let mut outcomes = BTreeMap::new();
    let mut panics = Vec::new();
    for case in first..first + count {
        match catch_unwind(AssertUnwindSafe(|| run_case(&bases, case))) {
            Ok((class, answer)) => *outcomes.entry((MUTATIONS[class], answer)).or_insert(0) += 1,
            Err(_) => panics.push(case),
        }
    }
    let mut by_answer: BTreeMap<Answer, u64> = BTreeMap::new();
    for ((_, answer), n) in &outcomes {
        *by_answer.entry(*answer).or_insert(0) += n;
    }
    println!("fuzz_histories cases={count} first={first} panics={} by_answer={by_answer:?}", panics.len());
    for ((class, answer), n) in &outcomes {
        println!("  {class:>14} {answer:?}: {n}");
    }
    assert!(
        panics.is_empty(),
        "cases that panicked (replay with FUZZ_HISTORIES_FIRST=K FUZZ_HISTORIES_CASES=1): {panics:?}"
    );
    outcomes
}

/// Cases in the default suite.
const CASES: u64 = 50_000;

#[test]
fn mutated_histories_get_an_answer() {
    let outcomes = campaign(0, CASES);
    let answers: std::collections::BTreeSet<Answer> = outcomes.keys().map(|(_, a)| *a).collect();
    // The mutations reach every kind of answer, so the test exercises the
    // readers' errors and the checker's verdicts, not one path.
    for answer in [Answer::SyntaxError, Answer::RuleError, Answer::Linearizable, Answer::NotLinearizable] {
        assert!(answers.contains(&answer), "no case ended {answer:?}: {outcomes:?}");
    }
}

#[test]
#[ignore = "long run: see the module docs"]
fn mutated_histories_get_an_answer_long() {
    let env =
        |name: &str, default: u64| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    campaign(env("FUZZ_HISTORIES_FIRST", 1_000_000), env("FUZZ_HISTORIES_CASES", 50_000));
}

fn record(process: u64, kind: RecordType, f: &str, value: i64) -> Record {
    let value = if f == "read" && kind == RecordType::Invoke { Value::Nil } else { Value::Int(value) };
    Record { process, kind, f: f.into(), key: None, value, time: Time::ZERO, error: None }
}

/// `windows` rounds of `writers` concurrent crashed writes (distinct
/// values), each round closed by a read of one of its values; then a read
/// of a value nobody wrote. Not linearizable, but only an exhaustive search
/// over which crashed writes took effect, and when, can tell.
fn windows_of_crashed_writes(windows: u64, writers: u64) -> History {
    let mut history = History::new();
    let mut process = 0;
    for window in 0..windows {
        let first = process;
        for w in 0..writers {
            history.push(record(process + w, RecordType::Invoke, "write", (window * writers + w) as i64));
        }
        for w in 0..writers {
            history.push(record(process + w, RecordType::Info, "write", (window * writers + w) as i64));
        }
        process += writers;
        history.push(record(process, RecordType::Invoke, "read", 0));
        history.push(record(process, RecordType::Ok, "read", (window * writers + first % writers) as i64));
        process += 1;
    }
    history.push(record(process, RecordType::Invoke, "read", 0));
    history.push(record(process, RecordType::Ok, "read", -5));
    history
}

#[test]
fn adversarial_histories_get_an_answer() {
    // A hundred processes whose every write crashed, then a read of a
    // value nobody wrote: the search gives up within its budget.
    for history in [windows_of_crashed_writes(1, 100), windows_of_crashed_writes(20, 6)] {
        let ops = history.operations().unwrap();
        let report = check(&Register::new(Value::Nil), &ops, &options()).unwrap();
        assert_eq!(report.verdict, Verdict::Unknown, "{report}");
        assert!(report.states <= options().budget.states_max);
    }
}

/// The issue's runaway checks under the default budget: a million open
/// writes, and a hundred windows of concurrency. Each must end `Unknown`
/// within the default budget (seconds, and half a gigabyte of search on top
/// of the history itself). Run with
/// `cargo test --release -p sim-core --test fuzz_histories runaway -- --ignored --nocapture`.
#[test]
#[ignore = "uses up to the default checker budget: half a gigabyte and seconds"]
fn runaway_checks_end_within_the_default_budget() {
    for (name, history) in [
        ("a million open writes", windows_of_crashed_writes(1, 1_000_000)),
        ("a hundred windows", windows_of_crashed_writes(100, 10)),
    ] {
        let ops = history.operations().unwrap();
        let report = check(&Register::new(Value::Nil), &ops, &CheckOptions::default()).unwrap();
        let gave_up = report.parts.iter().filter_map(|p| p.gave_up.clone()).collect::<Vec<_>>();
        println!(
            "{name}: ops={} verdict={} states={} gave_up={gave_up:?}",
            ops.len(),
            report.verdict,
            report.states
        );
        assert_eq!(report.verdict, Verdict::Unknown, "{report}");
    }
}
