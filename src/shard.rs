//! Which shard of a sweep this process runs: `--shard I/N` as typed, or
//! `--shard auto`, read from the environment the batch engine that launched
//! the process sets.
//!
//! | engine | index | count |
//! |---|---|---|
//! | any (a GitHub Actions matrix, a script) | `ORRERY_SHARD_INDEX` | `ORRERY_SHARD_COUNT` |
//! | Kubernetes Indexed Job | `JOB_COMPLETION_INDEX` | `ORRERY_SHARD_COUNT` (the Job's `spec.completions`) |
//! | Slurm array | `(SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN) / SLURM_ARRAY_TASK_STEP` | `SLURM_ARRAY_TASK_COUNT` |
//!
//! GitHub Actions sets no variable of its own: a workflow sets
//! `ORRERY_SHARD_INDEX: ${{ strategy.job-index }}` and
//! `ORRERY_SHARD_COUNT: ${{ strategy.job-total }}`. Kubernetes puts only the
//! index in a pod's environment, so the manifest passes its `completions` as
//! `ORRERY_SHARD_COUNT`. Every engine whose variables are present is read; if
//! two of them name different shards, or `ORRERY_SHARD_COUNT` disagrees with
//! the engine's own count, that is an error naming both, never a guess.
//! [`shard_from_env`] takes the environment as a function so it can be
//! tested without touching the process's own.

use std::fmt;
use std::path::{Path, PathBuf};

/// Index variable that works under any engine; a GitHub Actions matrix sets it.
pub const ORRERY_SHARD_INDEX: &str = "ORRERY_SHARD_INDEX";
/// Shard count for engines that give only an index (Kubernetes), or with [`ORRERY_SHARD_INDEX`].
pub const ORRERY_SHARD_COUNT: &str = "ORRERY_SHARD_COUNT";
/// Set by Kubernetes in every pod of an Indexed Job: `0..spec.completions`.
pub const JOB_COMPLETION_INDEX: &str = "JOB_COMPLETION_INDEX";
/// Set by Slurm in every task of an array: the task's `--array` value, not 0-based.
pub const SLURM_ARRAY_TASK_ID: &str = "SLURM_ARRAY_TASK_ID";
/// The smallest `--array` value of the Slurm array.
pub const SLURM_ARRAY_TASK_MIN: &str = "SLURM_ARRAY_TASK_MIN";
/// The largest `--array` value of the Slurm array.
pub const SLURM_ARRAY_TASK_MAX: &str = "SLURM_ARRAY_TASK_MAX";
/// The step of a Slurm array given as `--array=A-B:STEP`.
pub const SLURM_ARRAY_TASK_STEP: &str = "SLURM_ARRAY_TASK_STEP";
/// How many tasks the Slurm array has.
pub const SLURM_ARRAY_TASK_COUNT: &str = "SLURM_ARRAY_TASK_COUNT";

/// Every variable [`shard_from_env`] reads, for tests and launchers that
/// must clear an inherited environment.
pub const VARIABLES: [&str; 8] = [
    ORRERY_SHARD_INDEX,
    ORRERY_SHARD_COUNT,
    JOB_COMPLETION_INDEX,
    SLURM_ARRAY_TASK_ID,
    SLURM_ARRAY_TASK_MIN,
    SLURM_ARRAY_TASK_MAX,
    SLURM_ARRAY_TASK_STEP,
    SLURM_ARRAY_TASK_COUNT,
];

/// Who launched the process, as far as its environment tells.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engine {
    /// `ORRERY_SHARD_INDEX` and `ORRERY_SHARD_COUNT`, set by a workflow or a script.
    Orrery,
    /// A Kubernetes Indexed Job.
    Kubernetes,
    /// A Slurm job array.
    Slurm,
}

impl fmt::Display for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Engine::Orrery => "a CI matrix or a script",
            Engine::Kubernetes => "a Kubernetes Indexed Job",
            Engine::Slurm => "a Slurm array",
        })
    }
}

/// One shard of a sweep, and where the numbers came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Shard {
    /// `0..count`.
    pub index: u64,
    /// At least 1.
    pub count: u64,
    /// The engine whose variables said so, if read from the environment.
    pub engine: Option<Engine>,
    /// The variables read, as `NAME=value`, in the order they were read.
    pub variables: Vec<String>,
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)?;
        if let Some(engine) = self.engine {
            write!(f, " from {} ({engine})", self.variables.join(", "))?;
        }
        Ok(())
    }
}

impl Shard {
    /// Shard `index` of `count`, as typed with `--shard I/N`.
    pub fn typed(index: u64, count: u64) -> Shard {
        assert!(count > 0 && index < count, "shard index={index} count={count}");
        Shard { index, count, engine: None, variables: Vec::new() }
    }

    /// Where a shard writes its JSON lines when `--output` names a directory,
    /// or is not given with `--shard auto`: `sweep-shard-<i>-of-<n>.jsonl`.
    pub fn file_name(&self) -> PathBuf {
        PathBuf::from(format!("sweep-shard-{}-of-{}.jsonl", self.index, self.count))
    }

    /// The output file of this shard: `output` itself, or [`Shard::file_name`]
    /// inside it when it is a directory, or in the current directory when it
    /// is absent.
    pub fn output(&self, output: Option<&Path>) -> PathBuf {
        match output {
            Some(path) if path.is_dir() => path.join(self.file_name()),
            Some(path) => path.to_path_buf(),
            None => self.file_name(),
        }
    }
}

/// Why the shard could not be determined.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    /// `--shard` text that is neither `I/N` nor `auto`.
    #[error("--shard {0:?}: expected I/N with 0 <= I < N, like 0/4, or auto")]
    Text(String),
    /// No engine's variables are set.
    #[error(
        "--shard auto: no shard in the environment: expected {ORRERY_SHARD_INDEX} with {ORRERY_SHARD_COUNT} \
         (a GitHub Actions matrix or a script), {JOB_COMPLETION_INDEX} with {ORRERY_SHARD_COUNT} \
         (a Kubernetes Indexed Job), or {SLURM_ARRAY_TASK_ID} (a Slurm array){hint}"
    )]
    Missing {
        /// What to do on the engine we seem to be on, if we can tell.
        hint: &'static str,
    },
    /// A variable that is set but is not a number, or out of its range.
    #[error("--shard auto: {variable}={value:?}: expected {expected}")]
    Invalid {
        /// The variable.
        variable: &'static str,
        /// Its value.
        value: String,
        /// What it should be.
        expected: &'static str,
    },
    /// A variable that must accompany one that is set.
    #[error("--shard auto: {present} is set ({engine}) but {variable} is not: {fix}")]
    Needs {
        /// The variable that is set, as `NAME=value`.
        present: String,
        /// The engine it belongs to.
        engine: Engine,
        /// The variable that is missing.
        variable: &'static str,
        /// How to set it.
        fix: &'static str,
    },
    /// Variables of one engine that do not fit together.
    #[error("--shard auto: {variables} ({engine}): {problem}")]
    Inconsistent {
        /// The variables, as `NAME=value, ...`.
        variables: String,
        /// Their engine.
        engine: Engine,
        /// What does not fit.
        problem: String,
    },
    /// Two engines' variables naming different shards.
    #[error("--shard auto: the environment names two different shards: {first} and {second}")]
    Contradiction {
        /// One shard, with its variables.
        first: String,
        /// The other.
        second: String,
    },
}

/// Parses `--shard`'s `I/N`.
pub fn parse(text: &str) -> Result<(u64, u64), ShardError> {
    let parsed =
        text.split_once('/').and_then(|(i, n)| Some((i.trim().parse().ok()?, n.trim().parse().ok()?)));
    match parsed {
        Some((i, n)) if n > 0 && i < n => Ok((i, n)),
        _ => Err(ShardError::Text(text.to_string())),
    }
}

/// The shard the batch engine that launched this process assigned it; `get`
/// reads one environment variable (`None` when unset).
pub fn shard_from_env(get: impl Fn(&str) -> Option<String>) -> Result<Shard, ShardError> {
    let env = Env(&get);
    let found: Vec<Shard> = [orrery(&env)?, kubernetes(&env)?, slurm(&env)?].into_iter().flatten().collect();
    let Some(first) = found.first() else {
        if let Some((name, count)) = env.number(ORRERY_SHARD_COUNT)? {
            return Err(ShardError::Needs {
                present: format!("{name}={count}"),
                engine: Engine::Orrery,
                variable: ORRERY_SHARD_INDEX,
                fix: "set it to this process's index, 0-based",
            });
        }
        return Err(ShardError::Missing { hint: env.hint() });
    };
    for other in &found[1..] {
        if (other.index, other.count) != (first.index, first.count) {
            return Err(ShardError::Contradiction { first: first.to_string(), second: other.to_string() });
        }
    }
    if let Some((_, count)) = env.number(ORRERY_SHARD_COUNT)?
        && count != first.count
    {
        return Err(ShardError::Contradiction {
            first: first.to_string(),
            second: format!("a count of {count} from {ORRERY_SHARD_COUNT}={count}"),
        });
    }
    Ok(first.clone())
}

/// The environment, read through the caller's function, with numbers parsed
/// and named in errors.
struct Env<'a>(&'a dyn Fn(&str) -> Option<String>);

impl Env<'_> {
    /// A variable's value as a number, `None` when unset.
    fn number(&self, name: &'static str) -> Result<Option<(&'static str, u64)>, ShardError> {
        let Some(value) = (self.0)(name) else { return Ok(None) };
        let trimmed = value.trim();
        match trimmed.parse::<u64>() {
            Ok(n) if trimmed.bytes().all(|b| b.is_ascii_digit()) => Ok(Some((name, n))),
            _ => Err(ShardError::Invalid { variable: name, value, expected: "a whole number, like 3" }),
        }
    }

    /// A variable that must be set because `present` is.
    fn needed(
        &self,
        name: &'static str,
        present: (&'static str, u64),
        engine: Engine,
        fix: &'static str,
    ) -> Result<u64, ShardError> {
        let needs = || ShardError::Needs {
            present: format!("{}={}", present.0, present.1),
            engine,
            variable: name,
            fix,
        };
        self.number(name)?.map(|(_, n)| n).ok_or_else(needs)
    }

    /// What to do when nothing is set, on an engine recognised by its other variables.
    fn hint(&self) -> &'static str {
        if (self.0)("GITHUB_ACTIONS").is_some() {
            "; on GitHub Actions, set ORRERY_SHARD_INDEX: ${{ strategy.job-index }} and \
             ORRERY_SHARD_COUNT: ${{ strategy.job-total }} in the job's env"
        } else if (self.0)("KUBERNETES_SERVICE_HOST").is_some() {
            "; in Kubernetes, run it in a Job with completionMode: Indexed and \
             set ORRERY_SHARD_COUNT to the Job's completions"
        } else if (self.0)("SLURM_JOB_ID").is_some() {
            "; under Slurm, submit it as an array: sbatch --array=0-N"
        } else {
            ""
        }
    }
}

/// A shard whose index is checked against its count.
fn checked(
    engine: Engine,
    index: (&'static str, u64),
    count: (&'static str, u64),
    variables: Vec<String>,
) -> Result<Shard, ShardError> {
    if count.1 == 0 {
        let value = count.1.to_string();
        return Err(ShardError::Invalid { variable: count.0, value, expected: "at least 1" });
    }
    if index.1 >= count.1 {
        return Err(ShardError::Inconsistent {
            variables: variables.join(", "),
            engine,
            problem: format!("the shard index {} is not below the count {}", index.1, count.1),
        });
    }
    Ok(Shard { index: index.1, count: count.1, engine: Some(engine), variables })
}

fn orrery(env: &Env) -> Result<Option<Shard>, ShardError> {
    let Some(index) = env.number(ORRERY_SHARD_INDEX)? else { return Ok(None) };
    let fix = "set it to how many shards the sweep is split into";
    let count = env.needed(ORRERY_SHARD_COUNT, index, Engine::Orrery, fix)?;
    let variables =
        vec![format!("{ORRERY_SHARD_INDEX}={}", index.1), format!("{ORRERY_SHARD_COUNT}={count}")];
    checked(Engine::Orrery, index, (ORRERY_SHARD_COUNT, count), variables).map(Some)
}

fn kubernetes(env: &Env) -> Result<Option<Shard>, ShardError> {
    let Some(index) = env.number(JOB_COMPLETION_INDEX)? else { return Ok(None) };
    let fix = "Kubernetes does not pass the Job's completions to its pods; set it to spec.completions in the manifest";
    let count = env.needed(ORRERY_SHARD_COUNT, index, Engine::Kubernetes, fix)?;
    let variables =
        vec![format!("{JOB_COMPLETION_INDEX}={}", index.1), format!("{ORRERY_SHARD_COUNT}={count}")];
    checked(Engine::Kubernetes, index, (ORRERY_SHARD_COUNT, count), variables).map(Some)
}

/// A Slurm array's task IDs are its `--array` values (`--array=1-8` starts
/// at 1, `--array=0-30:10` steps by 10); the shard index is the task's
/// position among them, which needs the array to be evenly spaced.
fn slurm(env: &Env) -> Result<Option<Shard>, ShardError> {
    let Some(id) = env.number(SLURM_ARRAY_TASK_ID)? else { return Ok(None) };
    let fix = "Slurm sets it in every task of an array; is this an array task (sbatch --array)?";
    let min = env.needed(SLURM_ARRAY_TASK_MIN, id, Engine::Slurm, fix)?;
    let count = env.needed(SLURM_ARRAY_TASK_COUNT, id, Engine::Slurm, fix)?;
    let step = env.number(SLURM_ARRAY_TASK_STEP)?.map_or(1, |(_, s)| s);
    let max = env.number(SLURM_ARRAY_TASK_MAX)?.map(|(_, m)| m);
    let mut variables = vec![
        format!("{SLURM_ARRAY_TASK_ID}={}", id.1),
        format!("{SLURM_ARRAY_TASK_MIN}={min}"),
        format!("{SLURM_ARRAY_TASK_COUNT}={count}"),
    ];
    variables.extend(env.number(SLURM_ARRAY_TASK_STEP)?.map(|(_, s)| format!("{SLURM_ARRAY_TASK_STEP}={s}")));
    variables.extend(max.map(|m| format!("{SLURM_ARRAY_TASK_MAX}={m}")));
    let inconsistent = |problem: String| ShardError::Inconsistent {
        variables: variables.join(", "),
        engine: Engine::Slurm,
        problem,
    };
    if step == 0 {
        return Err(ShardError::Invalid {
            variable: SLURM_ARRAY_TASK_STEP,
            value: "0".into(),
            expected: "at least 1",
        });
    }
    let offset =
        id.1.checked_sub(min)
            .ok_or_else(|| inconsistent("the task ID is below the array's minimum".into()))?;
    if !offset.is_multiple_of(step) {
        return Err(inconsistent(format!("the task ID is not on the array's step of {step}")));
    }
    let last = count.checked_sub(1).and_then(|c| c.checked_mul(step)).and_then(|c| c.checked_add(min));
    if let Some(max) = max
        && last != Some(max)
    {
        return Err(inconsistent(format!(
            "not an evenly spaced array ({count} tasks from {min} by {step} do not end at {max}): \
             submit it as --array=0-{} or compute --shard I/N yourself",
            count.saturating_sub(1)
        )));
    }
    let index = (SLURM_ARRAY_TASK_ID, offset / step);
    checked(Engine::Slurm, index, (SLURM_ARRAY_TASK_COUNT, count), variables).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(vars: &[(&str, &str)]) -> Result<Shard, ShardError> {
        shard_from_env(|name| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.to_string()))
    }

    fn pair(vars: &[(&str, &str)]) -> (u64, u64) {
        let shard = from(vars).unwrap();
        (shard.index, shard.count)
    }

    #[test]
    fn typed_shards_parse() {
        assert_eq!(parse("1/4").unwrap(), (1, 4));
        assert_eq!(parse(" 0 / 1 ").unwrap(), (0, 1));
        assert_eq!(parse("4/4"), Err(ShardError::Text("4/4".into())));
        assert!(parse("0/0").is_err());
        assert!(parse("x").is_err());
        assert!(parse("-1/4").is_err());
    }

    #[test]
    fn each_engine_gives_its_shard() {
        assert_eq!(pair(&[("ORRERY_SHARD_INDEX", "2"), ("ORRERY_SHARD_COUNT", "5")]), (2, 5));
        assert_eq!(pair(&[("JOB_COMPLETION_INDEX", "0"), ("ORRERY_SHARD_COUNT", "10")]), (0, 10));
        let slurm =
            [("SLURM_ARRAY_TASK_ID", "8"), ("SLURM_ARRAY_TASK_MIN", "1"), ("SLURM_ARRAY_TASK_COUNT", "8")];
        assert_eq!(pair(&slurm), (7, 8), "--array=1-8: the last task is shard 7");
        let stepped = [
            ("SLURM_ARRAY_TASK_ID", "20"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_MAX", "30"),
            ("SLURM_ARRAY_TASK_STEP", "10"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ];
        assert_eq!(pair(&stepped), (2, 4), "--array=0-30:10");
        let shard = from(&slurm).unwrap();
        assert_eq!(shard.engine, Some(Engine::Slurm));
        assert_eq!(
            shard.to_string(),
            "7/8 from SLURM_ARRAY_TASK_ID=8, SLURM_ARRAY_TASK_MIN=1, SLURM_ARRAY_TASK_COUNT=8 (a Slurm array)"
        );
    }

    #[test]
    fn engines_that_agree_are_one_shard() {
        let both = [("JOB_COMPLETION_INDEX", "3"), ("ORRERY_SHARD_INDEX", "3"), ("ORRERY_SHARD_COUNT", "4")];
        assert_eq!(pair(&both), (3, 4));
        let slurm = [
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
            ("ORRERY_SHARD_COUNT", "4"),
        ];
        assert_eq!(pair(&slurm), (3, 4));
    }

    #[test]
    fn nothing_set_names_every_engine_and_hints_at_the_one_we_are_on() {
        let error = from(&[]).unwrap_err().to_string();
        for name in ["ORRERY_SHARD_INDEX", "JOB_COMPLETION_INDEX", "SLURM_ARRAY_TASK_ID", "Kubernetes"] {
            assert!(error.contains(name), "{error}");
        }
        let error = from(&[("GITHUB_ACTIONS", "true")]).unwrap_err().to_string();
        assert!(error.contains("strategy.job-index"), "{error}");
        let error = from(&[("ORRERY_SHARD_COUNT", "4")]).unwrap_err().to_string();
        assert!(
            error.contains("ORRERY_SHARD_COUNT=4 is set") && error.contains("ORRERY_SHARD_INDEX is not"),
            "{error}"
        );
    }

    #[test]
    fn a_missing_count_names_the_variable_and_where_it_comes_from() {
        let error = from(&[("JOB_COMPLETION_INDEX", "3")]).unwrap_err();
        assert!(matches!(
            error,
            ShardError::Needs { variable: "ORRERY_SHARD_COUNT", engine: Engine::Kubernetes, .. }
        ));
        assert!(error.to_string().contains("spec.completions"), "{error}");
        let error = from(&[("SLURM_ARRAY_TASK_ID", "3"), ("SLURM_ARRAY_TASK_MIN", "0")]).unwrap_err();
        assert!(matches!(error, ShardError::Needs { variable: "SLURM_ARRAY_TASK_COUNT", .. }), "{error}");
        let error = from(&[("ORRERY_SHARD_INDEX", "0")]).unwrap_err();
        assert!(matches!(error, ShardError::Needs { variable: "ORRERY_SHARD_COUNT", .. }), "{error}");
    }

    #[test]
    fn values_that_are_not_numbers_are_named() {
        for value in ["", "x", "-1", "1.5", "+2", "99999999999999999999999"] {
            let error = from(&[("ORRERY_SHARD_INDEX", value), ("ORRERY_SHARD_COUNT", "4")]).unwrap_err();
            assert_eq!(
                error,
                ShardError::Invalid {
                    variable: "ORRERY_SHARD_INDEX",
                    value: value.into(),
                    expected: "a whole number, like 3"
                }
            );
        }
        let error = from(&[("ORRERY_SHARD_INDEX", "0"), ("ORRERY_SHARD_COUNT", "0")]).unwrap_err();
        assert!(matches!(
            error,
            ShardError::Invalid { variable: "ORRERY_SHARD_COUNT", expected: "at least 1", .. }
        ));
    }

    #[test]
    fn an_index_past_the_count_is_refused() {
        let error =
            from(&[("JOB_COMPLETION_INDEX", "4"), ("ORRERY_SHARD_COUNT", "4")]).unwrap_err().to_string();
        assert!(error.contains("JOB_COMPLETION_INDEX=4, ORRERY_SHARD_COUNT=4"), "{error}");
        assert!(error.contains("not below the count 4"), "{error}");
    }

    #[test]
    fn contradictions_name_both_sides() {
        let two = [("JOB_COMPLETION_INDEX", "1"), ("ORRERY_SHARD_INDEX", "2"), ("ORRERY_SHARD_COUNT", "4")];
        let error = from(&two).unwrap_err().to_string();
        assert!(
            error.contains("ORRERY_SHARD_INDEX=2") && error.contains("JOB_COMPLETION_INDEX=1"),
            "{error}"
        );
        let counts = [
            ("SLURM_ARRAY_TASK_ID", "1"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
            ("ORRERY_SHARD_COUNT", "8"),
        ];
        let error = from(&counts).unwrap_err();
        assert!(matches!(error, ShardError::Contradiction { .. }), "{error}");
        assert!(error.to_string().contains("ORRERY_SHARD_COUNT=8"), "{error}");
    }

    #[test]
    fn slurm_arrays_with_gaps_are_refused() {
        let base = |id: &'static str, max: &'static str| {
            [
                ("SLURM_ARRAY_TASK_ID", id),
                ("SLURM_ARRAY_TASK_MIN", "1"),
                ("SLURM_ARRAY_TASK_MAX", max),
                ("SLURM_ARRAY_TASK_COUNT", "3"),
            ]
        };
        assert_eq!(pair(&base("3", "3")), (2, 3));
        let error = from(&base("3", "7")).unwrap_err().to_string();
        assert!(error.contains("not an evenly spaced array") && error.contains("--array=0-2"), "{error}");
        let error = from(&base("0", "3")).unwrap_err().to_string();
        assert!(error.contains("below the array's minimum"), "{error}");
        let off_step = [
            ("SLURM_ARRAY_TASK_ID", "5"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_STEP", "2"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ];
        assert!(from(&off_step).unwrap_err().to_string().contains("step of 2"));
        let zero_step = [
            ("SLURM_ARRAY_TASK_ID", "0"),
            ("SLURM_ARRAY_TASK_MIN", "0"),
            ("SLURM_ARRAY_TASK_STEP", "0"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ];
        assert!(matches!(
            from(&zero_step),
            Err(ShardError::Invalid { variable: "SLURM_ARRAY_TASK_STEP", .. })
        ));
    }

    #[test]
    fn every_shard_of_every_engine_is_found_once() {
        for count in 1..6u64 {
            let n = count.to_string();
            let max = ((count - 1) * 3 + 5).to_string();
            let mut seen = Vec::new();
            for index in 0..count {
                let i = index.to_string();
                let id = (index * 3 + 5).to_string();
                seen.push(pair(&[("ORRERY_SHARD_INDEX", &i), ("ORRERY_SHARD_COUNT", &n)]));
                seen.push(pair(&[("JOB_COMPLETION_INDEX", &i), ("ORRERY_SHARD_COUNT", &n)]));
                seen.push(pair(&[
                    ("SLURM_ARRAY_TASK_ID", &id),
                    ("SLURM_ARRAY_TASK_MIN", "5"),
                    ("SLURM_ARRAY_TASK_MAX", &max),
                    ("SLURM_ARRAY_TASK_STEP", "3"),
                    ("SLURM_ARRAY_TASK_COUNT", &n),
                ]));
            }
            seen.sort_unstable();
            let expected: Vec<(u64, u64)> = (0..count).flat_map(|i| [(i, count); 3]).collect();
            assert_eq!(seen, expected);
        }
    }

    #[test]
    fn outputs_default_to_a_name_per_shard() {
        let shard = Shard::typed(2, 8);
        assert_eq!(shard.output(None), PathBuf::from("sweep-shard-2-of-8.jsonl"));
        let dir = std::env::temp_dir();
        assert_eq!(shard.output(Some(&dir)), dir.join("sweep-shard-2-of-8.jsonl"));
        assert_eq!(shard.output(Some(Path::new("x.jsonl"))), PathBuf::from("x.jsonl"));
        assert_eq!(shard.to_string(), "2/8");
    }
}
