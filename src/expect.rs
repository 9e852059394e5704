//! What a scenario expects, and whether a seed or a sweep showed it.
//!
//! A passing scenario expects every check of every seed to pass. A
//! violation scenario names the check that must fire
//! (`expect = { violation = "linearizability" }`); a seed that ends in a
//! panic, a run limit or an error is never that violation, and `unknown` is
//! never a pass.

use std::fmt;
use std::process::ExitCode;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use crate::runner::SeedOutcome;
use crate::{Judgement, Status};

/// Checks whose failure means the run itself went wrong, not the protocol's
/// guarantees: they can never be what a violation scenario expects.
pub const RUN_FAILURES: &[&str] = &["panic", "limit", "error", "run"];

/// What a scenario expects its checks to conclude.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Expect {
    /// Every check passes on every seed.
    Pass,
    /// Some seed fails this check: a check's name ("linearizability",
    /// "atomicity", "invariant election-safety") or a failure signature
    /// ("linearizability: read on key 0").
    Violation(String),
}

impl Expect {
    /// Whether this failed judgement is the expected violation.
    pub fn matches(&self, judgement: &Judgement) -> bool {
        let Expect::Violation(check) = self else { return false };
        judgement.status == Status::Fail
            && (judgement.name == *check
                || judgement.name.starts_with(&format!("{check} "))
                || judgement.group() == check
                || judgement.group().starts_with(&format!("{check}:")))
    }

    /// Whether a seed showed what is expected.
    pub fn seed_shows(&self, outcome: &SeedOutcome) -> bool {
        match self {
            Expect::Pass => outcome.status == Status::Pass,
            Expect::Violation(_) => !went_wrong(outcome) && outcome.checks.iter().any(|j| self.matches(j)),
        }
    }

    /// What one seed concludes about the scenario.
    pub fn judge_seed(&self, outcome: &SeedOutcome) -> Conclusion {
        self.judge_seeds(std::slice::from_ref(outcome), None)
    }

    /// What a set of seeds concludes; `cut_short` says why some seeds did not run.
    pub fn judge_seeds(&self, outcomes: &[SeedOutcome], cut_short: Option<&str>) -> Conclusion {
        let failed = outcomes.iter().filter(|o| o.status == Status::Fail).count();
        let unknown = outcomes.iter().filter(|o| o.status == Status::Unknown).count();
        let wrong: Vec<u64> = outcomes.iter().filter(|o| went_wrong(o)).map(|o| o.seed).collect();
        match self {
            Expect::Pass if failed > 0 => Conclusion::NotAsExpected(format!(
                "{failed} seeds failed; the scenario expects every seed to pass"
            )),
            Expect::Pass if unknown > 0 => {
                Conclusion::Undecided(format!("{unknown} seeds could not be decided; unknown is not a pass"))
            }
            Expect::Pass => match cut_short {
                Some(why) => {
                    Conclusion::Undecided(format!("{why}: the seeds that ran passed, the rest did not run"))
                }
                None => Conclusion::AsExpected("every seed passed, as expected".into()),
            },
            Expect::Violation(check) => {
                let shown = outcomes.iter().filter(|o| self.seed_shows(o)).count();
                if !wrong.is_empty() {
                    let seeds: Vec<String> = wrong.iter().take(5).map(u64::to_string).collect();
                    Conclusion::NotAsExpected(format!(
                        "{} seeds ended in a panic, a run limit or an error (seeds {}), which is not the expected violation",
                        wrong.len(),
                        seeds.join(", ")
                    ))
                } else if shown > 0 {
                    Conclusion::AsExpected(format!("{check} violated on {shown} seeds, as expected"))
                } else if unknown > 0 {
                    Conclusion::Undecided(format!(
                        "no seed showed {} {check} violation and {unknown} could not be decided",
                        article(check)
                    ))
                } else if failed > 0 {
                    Conclusion::NotAsExpected(format!(
                        "{failed} seeds failed, but none by {check}, the check the scenario expects"
                    ))
                } else {
                    Conclusion::NotAsExpected(format!(
                        "the scenario expects {} {check} violation and no seed showed one",
                        article(check)
                    ))
                }
            }
        }
    }
}

/// "an" before a check whose name starts with a vowel ("an availability
/// violation"), else "a".
fn article(check: &str) -> &'static str {
    if check.starts_with(['a', 'e', 'i', 'o', 'u']) { "an" } else { "a" }
}

/// Whether a seed's run itself went wrong: a panic, a run limit, an error.
pub fn went_wrong(outcome: &SeedOutcome) -> bool {
    outcome.checks.iter().any(|j| j.status == Status::Fail && RUN_FAILURES.contains(&j.name.as_str()))
}

impl fmt::Display for Expect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expect::Pass => f.write_str("pass"),
            Expect::Violation(check) => write!(f, "{} {check} violation", article(check)),
        }
    }
}

impl Serialize for Expect {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Expect::Pass => s.serialize_str("pass"),
            Expect::Violation(check) => {
                let mut map = s.serialize_map(Some(1))?;
                map.serialize_entry("violation", check)?;
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Expect {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Expect, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Expect;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("\"pass\" or { violation = \"<check>\" }")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Expect, E> {
                match v {
                    "pass" => Ok(Expect::Pass),
                    "violation" => Err(E::custom(
                        "name the check that must fire, e.g. expect = { violation = \"linearizability\" }",
                    )),
                    other => Err(E::custom(format!(
                        "invalid expectation {other:?}: expected \"pass\" or {{ violation = \"<check>\" }}"
                    ))),
                }
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Expect, A::Error> {
                let Some(key) = map.next_key::<String>()? else {
                    return Err(de::Error::custom("expected { violation = \"<check>\" }"));
                };
                if key != "violation" {
                    return Err(de::Error::unknown_field(&key, &["violation"]));
                }
                let check: String = map.next_value()?;
                if check.trim().is_empty() {
                    return Err(de::Error::custom("name the check that must fire, e.g. \"linearizability\""));
                }
                if RUN_FAILURES.contains(&check.as_str()) {
                    return Err(de::Error::custom(format!(
                        "{check:?} is how a run goes wrong, not a check of the protocol: a panic or a limit is never the expected violation"
                    )));
                }
                if let Some(extra) = map.next_key::<String>()? {
                    return Err(de::Error::unknown_field(&extra, &["violation"]));
                }
                Ok(Expect::Violation(check))
            }
        }
        d.deserialize_any(V)
    }
}

/// How a run or a sweep came out against what its scenario expects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Conclusion {
    /// What the scenario expects happened.
    AsExpected(String),
    /// Something else happened.
    NotAsExpected(String),
    /// Nothing can be concluded: a check could not decide, or seeds did not run.
    Undecided(String),
}

/// Exit code of a run or sweep that was not as expected.
pub const EXIT_UNEXPECTED: u8 = 1;
/// Exit code for usage or input errors.
pub const EXIT_USAGE: u8 = 2;
/// Exit code of a run or sweep that could not be decided.
pub const EXIT_UNDECIDED: u8 = 3;

impl Conclusion {
    /// 0 as expected, 1 not, 3 undecided.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Conclusion::AsExpected(_) => ExitCode::SUCCESS,
            Conclusion::NotAsExpected(_) => ExitCode::from(EXIT_UNEXPECTED),
            Conclusion::Undecided(_) => ExitCode::from(EXIT_UNDECIDED),
        }
    }

    /// Whether the scenario's expectation was met.
    pub fn is_expected(&self) -> bool {
        matches!(self, Conclusion::AsExpected(_))
    }

    /// The one-line explanation.
    pub fn reason(&self) -> &str {
        match self {
            Conclusion::AsExpected(r) | Conclusion::NotAsExpected(r) | Conclusion::Undecided(r) => r,
        }
    }

    /// The reason, marked "FAIL:" or "UNDECIDED:" unless as expected.
    pub fn line(&self) -> String {
        match self {
            Conclusion::AsExpected(r) => r.clone(),
            Conclusion::NotAsExpected(r) => format!("FAIL: {r}"),
            Conclusion::Undecided(r) => format!("UNDECIDED: {r}"),
        }
    }
}
