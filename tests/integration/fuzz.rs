//! Bad input never panics: mutated copies of the shipped scenario files go
//! through the library (parse, bind, and for small ones a run with a bounded
//! event count), and each either binds or fails with an error that names a
//! line or a field. Mutations are drawn from a fixed seed: byte edits, wrong
//! types, extreme numbers, truncation, duplicated tables, deep nesting.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;

use orrery::{Registry, Scenario};
use sim_core::TraceSink;

/// A small deterministic generator (xorshift64*), enough to pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const EXTREMES: &[&str] = &[
    "0",
    "-1",
    "18446744073709551615",
    "9223372036854775807",
    "1e308",
    "nan",
    "\"0s\"",
    "\"999999999h\"",
    "\"-5ms\"",
    "[]",
    "{}",
    "\"\"",
    "true",
    "\"n999999\"",
    "0.5",
    "\"100%\"",
];

fn mutate(text: &str, rng: &mut Rng) -> String {
    let lines: Vec<&str> = text.lines().collect();
    match rng.below(8) {
        // A byte changed, removed or inserted.
        0 => {
            let mut bytes = text.as_bytes().to_vec();
            let at = rng.below(bytes.len());
            match rng.below(3) {
                0 => bytes[at] = b"=[]{}\"'#.,0-9aZ\n \x00\xff"[rng.below(19)],
                1 => {
                    bytes.remove(at);
                }
                _ => bytes.insert(at, b"[]{}=\"\n,"[rng.below(8)]),
            }
            String::from_utf8_lossy(&bytes).into_owned()
        }
        // A value replaced by an extreme or a wrong type.
        1..=3 => {
            let candidates: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].contains(" = ")).collect();
            if candidates.is_empty() {
                return text.to_string();
            }
            let i = candidates[rng.below(candidates.len())];
            let key = lines[i].split(" = ").next().unwrap_or("");
            let mut out: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
            out[i] = format!("{key} = {}", EXTREMES[rng.below(EXTREMES.len())]);
            out.join("\n")
        }
        // Truncated.
        4 => text[..text.floor_char_boundary(rng.below(text.len()))].to_string(),
        // A table duplicated.
        5 => {
            let headers: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].starts_with('[')).collect();
            if headers.is_empty() {
                return text.to_string();
            }
            let i = headers[rng.below(headers.len())];
            format!("{text}\n{}\nx = 1\n", lines[i])
        }
        // Deep nesting.
        6 => {
            let depth = 1 + rng.below(20_000);
            format!("{text}\n[limits]\ntime = {}{}\n", "[".repeat(depth), "]".repeat(depth))
        }
        // Two mutations.
        _ => {
            let once = mutate(text, rng);
            mutate(&once, rng)
        }
    }
}

#[derive(Debug, Default)]
struct Tally {
    bound: usize,
    ran: usize,
    located: usize,
    unlocated: Vec<String>,
    panics: Vec<String>,
}

fn fuzz(cases: usize, seed: u64) -> Tally {
    let registry = Registry::builtin();
    let files = orrery::testing::scenario_files(crate::support::root().join("scenarios"));
    let texts: Vec<(String, String)> = files
        .iter()
        .map(|f| (f.display().to_string(), std::fs::read_to_string(f).expect("readable")))
        .collect();
    let mut rng = Rng(seed | 1);
    let mut tally = Tally::default();
    for case in 0..cases {
        let (name, original) = &texts[rng.below(texts.len())];
        let text = mutate(original, &mut rng);
        let outcome = catch_unwind(AssertUnwindSafe(|| judge(&registry, &text, &mut tally)));
        if outcome.is_err() {
            tally.panics.push(format!("case {case} from {name}:\n{text}"));
        }
    }
    tally
}

fn judge(registry: &Registry, text: &str, tally: &mut Tally) {
    let path = Path::new("fuzz.toml");
    match registry.parse(text, path) {
        Ok((scenario, _)) => {
            tally.bound += 1;
            run_small(registry, scenario, text, tally);
        }
        Err(e) if e.line.is_some() || e.field.is_some() => tally.located += 1,
        Err(e) => tally.unlocated.push(format!("{e}\n{text}")),
    }
}

/// Runs one seed of a small scenario with its event count bounded, so every
/// case answers quickly.
fn run_small(registry: &Registry, mut scenario: Scenario, text: &str, tally: &mut Tally) {
    let small = scenario.cluster.servers <= 16 && scenario.workload.clients <= 32;
    if !small {
        return;
    }
    scenario.limits.events = scenario.limits.events.min(20_000);
    if let Ok(runner) = registry.bind(&scenario, text) {
        let _ = runner.run(0, TraceSink::Hash);
        tally.ran += 1;
    }
}

fn report(tally: &Tally) {
    let mut classes = BTreeMap::new();
    classes.insert("bound", tally.bound);
    classes.insert("ran", tally.ran);
    classes.insert("located errors", tally.located);
    classes.insert("unlocated errors", tally.unlocated.len());
    classes.insert("panics", tally.panics.len());
    eprintln!("scenario fuzz: {classes:?}");
    assert!(tally.panics.is_empty(), "{} panics; first:\n{}", tally.panics.len(), tally.panics[0]);
    assert!(
        tally.unlocated.is_empty(),
        "{} errors name no line or field; first:\n{}",
        tally.unlocated.len(),
        tally.unlocated[0]
    );
}

#[test]
fn mutated_scenarios_never_panic_and_errors_are_located() {
    let tally = fuzz(10_000, 0x5eed);
    assert!(tally.bound > 300 && tally.located > 5_000, "{tally:?}");
    report(&tally);
}

/// `cargo test --release --test integration -- --ignored long_scenario_fuzz --nocapture`
#[test]
#[ignore = "long: 100,000 mutated scenarios"]
fn long_scenario_fuzz() {
    report(&fuzz(100_000, 0xfeed));
}
