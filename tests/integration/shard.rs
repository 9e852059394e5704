//! Sweeps past one machine: shard processes launched the way a batch engine
//! launches them (its environment variables, `--shard auto`), merged with
//! `sweep --merge`, must equal one unsharded sweep — the same table and the
//! same outcome for every seed. Then dry runs of the shipped Kubernetes
//! Job, GitHub Actions workflow and Slurm script: their own command lines,
//! with a tiny seed range and a scratch directory for the shared volume.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use yaml_rust2::{Yaml, YamlLoader};

use crate::support::{Output, root, scratch};

/// A batch engine's environment for shard `index` of `count`.
type Engine = fn(u64, u64) -> Vec<(String, String)>;

fn github_matrix(index: u64, count: u64) -> Vec<(String, String)> {
    vars(&[
        ("GITHUB_ACTIONS", "true".into()),
        ("ORRERY_SHARD_INDEX", index.to_string()),
        ("ORRERY_SHARD_COUNT", count.to_string()),
    ])
}

fn kubernetes(index: u64, count: u64) -> Vec<(String, String)> {
    vars(&[("JOB_COMPLETION_INDEX", index.to_string()), ("ORRERY_SHARD_COUNT", count.to_string())])
}

/// `sbatch --array=1-N`: task IDs start at 1.
fn slurm(index: u64, count: u64) -> Vec<(String, String)> {
    vars(&[
        ("SLURM_JOB_ID", "4242".into()),
        ("SLURM_ARRAY_TASK_ID", (index + 1).to_string()),
        ("SLURM_ARRAY_TASK_MIN", "1".into()),
        ("SLURM_ARRAY_TASK_MAX", count.to_string()),
        ("SLURM_ARRAY_TASK_COUNT", count.to_string()),
    ])
}

fn vars(pairs: &[(&str, String)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

/// `program args...` from `cwd` with the `orrery` binary first on PATH, the
/// given variables set, and none of the shard variables of the environment
/// the tests themselves run in (a CI job may well be a Slurm task).
fn command(program: &str, args: &[&str], env: &[(String, String)], cwd: &Path) -> Command {
    let bin = Path::new(env!("CARGO_BIN_EXE_orrery")).parent().expect("the binary's directory");
    let path = std::env::var_os("PATH").unwrap_or_default();
    let path = std::env::join_paths(std::iter::once(bin.to_path_buf()).chain(std::env::split_paths(&path)))
        .expect("a PATH");
    let mut command = Command::new(program);
    command.args(args).current_dir(cwd).env("PATH", path).env_remove("ORRERY_SHOW_PANICS");
    for name in orrery::shard::VARIABLES.into_iter().chain([
        "GITHUB_ACTIONS",
        "KUBERNETES_SERVICE_HOST",
        "SLURM_JOB_ID",
    ]) {
        command.env_remove(name);
    }
    command.envs(env.iter().map(|(k, v)| (k, v)));
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    command
}

fn finish(child: Child) -> Output {
    let output = child.wait_with_output().expect("the process runs");
    Output {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

fn run(program: &str, args: &[&str], env: &[(String, String)], cwd: &Path) -> Output {
    finish(command(program, args, env, cwd).spawn().expect("the process starts"))
}

/// Starts every command at once, as a batch engine would, then waits for all.
fn run_all(commands: Vec<Command>) -> Vec<Output> {
    let children: Vec<Child> =
        commands.into_iter().map(|mut c| c.spawn().expect("the process starts")).collect();
    children.into_iter().map(finish).collect()
}

/// One unsharded sweep: its printed table and exit code, and its outcomes.
fn whole(scenario: &str, seeds: &str, cwd: &Path, dir: &Path) -> (Output, Vec<serde_json::Value>) {
    let file = dir.join("whole.jsonl");
    let file = file.to_str().unwrap();
    let out =
        run("orrery", &["sweep", scenario, "--seeds", seeds, "--jobs", "1", "--output", file], &[], cwd);
    assert!(out.code == 0 || out.code == 1, "{}", out.stderr);
    (out, outcomes(&[PathBuf::from(file)]))
}

/// The seed outcomes in sweep JSON lines files (not their headers and
/// footers), in seed order.
fn outcomes(files: &[PathBuf]) -> Vec<serde_json::Value> {
    let mut outcomes: Vec<serde_json::Value> = files
        .iter()
        .flat_map(|f| {
            std::fs::read_to_string(f)
                .unwrap_or_else(|e| panic!("{}: {e}", f.display()))
                .lines()
                .map(str::to_string)
                .collect::<Vec<_>>()
        })
        .map(|line| serde_json::from_str::<serde_json::Value>(&line).expect("a JSON line"))
        .filter(|value| value.get("seed").is_some() && value.get("status").is_some())
        .collect();
    outcomes.sort_by_key(|o| o["seed"].as_u64());
    outcomes
}

/// The sweep files in `dir`, by name.
fn shard_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("sweep-shard-")))
        .collect();
    files.sort();
    files
}

/// The merged shards in `dir` print what the unsharded sweep printed, exit
/// as it exited, and hold the same outcome for every seed.
fn assert_merge_equals(merged: &Output, dir: &Path, whole: &(Output, Vec<serde_json::Value>), what: &str) {
    assert_eq!(
        merged.code, whole.0.code,
        "{what}: exit code of the merge\n{}{}",
        merged.stdout, merged.stderr
    );
    assert_eq!(merged.stdout, whole.0.stdout, "{what}: merged shards print the table of one sweep");
    assert_eq!(outcomes(&shard_files(dir)), whole.1, "{what}: the same outcome for every seed");
}

#[test]
fn shards_launched_by_each_engine_merge_into_the_unsharded_sweep() {
    let engines: [(&str, Engine, &str); 3] = [
        ("github", github_matrix, "a CI matrix or a script"),
        ("kubernetes", kubernetes, "a Kubernetes Indexed Job"),
        ("slurm", slurm, "a Slurm array"),
    ];
    let scenarios = [
        ("scenarios/register-skip-sync.toml", "0..30", true),
        ("scenarios/register-basic.toml", "0..20", false),
    ];
    let count = 3;
    for (scenario, seeds, fails) in scenarios {
        let base = scratch(&format!("engines-{}", &scenario[10..scenario.len() - 5]));
        let whole = whole(scenario, seeds, root(), &base);
        assert_eq!(whole.0.stdout.contains("failures   by signature"), fails, "{}", whole.0.stdout);
        for (name, engine, label) in engines {
            let dir = base.join(name);
            std::fs::create_dir_all(&dir).unwrap();
            let args = [
                "sweep",
                scenario,
                "--seeds",
                seeds,
                "--jobs",
                "1",
                "--shard",
                "auto",
                "--output",
                dir.to_str().unwrap(),
            ];
            let shards =
                run_all((0..count).map(|i| command("orrery", &args, &engine(i, count), root())).collect());
            for (i, shard) in shards.iter().enumerate() {
                assert!(shard.code == 0 || shard.code == 1, "{name} shard {i}: {}", shard.stderr);
                let announced = format!("shard      {i}/{count} from ");
                assert!(
                    shard.stderr.contains(&announced) && shard.stderr.contains(label),
                    "{name}: {}",
                    shard.stderr
                );
            }
            let files = shard_files(&dir);
            let names: Vec<String> =
                files.iter().map(|f| f.file_name().unwrap().to_string_lossy().into_owned()).collect();
            assert_eq!(
                names,
                ["sweep-shard-0-of-3.jsonl", "sweep-shard-1-of-3.jsonl", "sweep-shard-2-of-3.jsonl"]
            );
            let mut merge = vec!["sweep", "--merge"];
            merge.extend(files.iter().map(|f| f.to_str().unwrap()));
            let merged = run("orrery", &merge, &[], root());
            assert_merge_equals(&merged, &dir, &whole, &format!("{name} {scenario}"));
        }
    }
}

#[test]
fn auto_shards_without_an_output_write_a_file_named_for_the_shard() {
    let dir = scratch("auto-default-output");
    let scenario = root().join("scenarios/register-basic.toml");
    let args = ["sweep", scenario.to_str().unwrap(), "--seeds", "0..4", "--shard", "auto"];
    let out = run("orrery", &args, &kubernetes(1, 2), &dir);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains("wrote      sweep-shard-1-of-2.jsonl"), "{}", out.stderr);
    let seeds: Vec<u64> = outcomes(&[dir.join("sweep-shard-1-of-2.jsonl")])
        .iter()
        .map(|o| o["seed"].as_u64().unwrap())
        .collect();
    assert_eq!(seeds, [1, 3]);
}

#[test]
fn auto_shards_with_a_bad_environment_name_the_variable_and_exit_two() {
    let cases: [(&[(&str, &str)], &str); 5] = [
        (&[], "no shard in the environment: expected ORRERY_SHARD_INDEX"),
        (
            &[("JOB_COMPLETION_INDEX", "3")],
            "JOB_COMPLETION_INDEX=3 is set (a Kubernetes Indexed Job) but ORRERY_SHARD_COUNT is not",
        ),
        (
            &[("ORRERY_SHARD_INDEX", "one"), ("ORRERY_SHARD_COUNT", "4")],
            "ORRERY_SHARD_INDEX=\"one\": expected a whole number",
        ),
        (&[("ORRERY_SHARD_INDEX", "4"), ("ORRERY_SHARD_COUNT", "4")], "not below the count 4"),
        (
            &[("JOB_COMPLETION_INDEX", "1"), ("ORRERY_SHARD_INDEX", "2"), ("ORRERY_SHARD_COUNT", "4")],
            "the environment names two different shards",
        ),
    ];
    for (env, expected) in cases {
        let env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let out = run("orrery", &["sweep", "scenarios/register-basic.toml", "--shard", "auto"], &env, root());
        assert_eq!(out.code, 2, "{env:?}: {}", out.stderr);
        assert!(out.stderr.starts_with("error: --shard auto: "), "{env:?}: {}", out.stderr);
        assert!(out.stderr.contains(expected), "{env:?}: expected {expected:?} in {}", out.stderr);
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    }
}

fn load_yaml(relative: &str) -> Vec<Yaml> {
    let text = std::fs::read_to_string(root().join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"));
    YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{relative}: not YAML: {e}"))
}

fn text<'a>(yaml: &'a Yaml, what: &str) -> &'a str {
    yaml.as_str().unwrap_or_else(|| panic!("{what}: expected a string, found {yaml:?}"))
}

/// A container's `env` list as name/value pairs, with `overrides` replacing
/// the values of the variables they name (each must be there to replace).
fn container_env(container: &Yaml, overrides: &[(&str, String)]) -> Vec<(String, String)> {
    let env: Vec<(String, String)> = container["env"]
        .as_vec()
        .expect("a container env list")
        .iter()
        .map(|e| (text(&e["name"], "env name").to_string(), text(&e["value"], "env value").to_string()))
        .collect();
    with_overrides(env, overrides)
}

fn with_overrides(mut env: Vec<(String, String)>, overrides: &[(&str, String)]) -> Vec<(String, String)> {
    for (name, value) in overrides {
        let slot = env.iter_mut().find(|(k, _)| k == name).unwrap_or_else(|| panic!("no {name} to override"));
        slot.1 = value.clone();
    }
    env
}

fn value_of<'a>(env: &'a [(String, String)], name: &str) -> &'a str {
    &env.iter().find(|(k, _)| k == name).unwrap_or_else(|| panic!("no {name} in {env:?}")).1
}

/// The one shell script a container runs: `command: ["/bin/sh", "-c"]` and one arg.
fn container_script(container: &Yaml) -> String {
    let command: Vec<&str> =
        container["command"].as_vec().expect("a command").iter().map(|c| text(c, "command")).collect();
    assert_eq!(command, ["/bin/sh", "-c"]);
    let args = container["args"].as_vec().expect("args");
    assert_eq!(args.len(), 1, "one script");
    text(&args[0], "args").to_string()
}

/// A shipped shard script counts a shard that is "not as expected" (exit 1:
/// a violation scenario's shard may hold no violating seed) as done, its
/// file written, and passes any other failure on (2: bad input), so the
/// batch engine neither retries a finished shard nor misses a broken one.
/// `shard` runs the script as shard 0 of 1 of a scenario over a seed range.
fn assert_exit_codes_pass_through(what: &str, shard: impl Fn(&str, &str) -> Output) {
    let scenario = "scenarios/register-skip-sync.toml";
    let passing = (0..50)
        .find(|s| {
            let seeds = format!("{s}..{}", s + 1);
            run("orrery", &["sweep", scenario, "--seeds", &seeds, "--jobs", "1"], &[], root()).code == 1
        })
        .expect("some seed of register-skip-sync happens to pass");
    let out = shard(scenario, &format!("{passing}..{}", passing + 1));
    assert_eq!(out.code, 0, "{what}: a shard not as expected has still done its work: {}", out.stderr);
    assert!(out.stderr.contains("wrote      "), "{what}: {}", out.stderr);
    let out = shard("scenarios/does-not-exist.toml", "0..1");
    assert_eq!(out.code, 2, "{what}: bad input is not retried: {}", out.stderr);
}

#[test]
fn the_kubernetes_manifests_command_lines_run_as_a_sharded_sweep() {
    let docs = load_yaml("deploy/k8s/sweep-job.yaml");
    let claim =
        docs.iter().find(|d| d["kind"].as_str() == Some("PersistentVolumeClaim")).expect("a volume claim");
    let job = docs.iter().find(|d| d["kind"].as_str() == Some("Job")).expect("a Job");
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"].as_str(), Some("Indexed"));
    let completions = spec["completions"].as_i64().expect("completions");
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["restartPolicy"].as_str(), Some("Never"), "podFailurePolicy needs it");
    let container = &pod["containers"][0];
    let env = container_env(container, &[]);
    assert_eq!(
        value_of(&env, "ORRERY_SHARD_COUNT"),
        completions.to_string(),
        "the count is the Job's completions"
    );
    assert_eq!(value_of(&env, "SEEDS"), "0..100000");
    let claim_name = text(&claim["metadata"]["name"], "claim name");
    let volume_of =
        |pod: &Yaml| text(&pod["volumes"][0]["persistentVolumeClaim"]["claimName"], "claim").to_string();
    let mount_of = |c: &Yaml| text(&c["volumeMounts"][0]["mountPath"], "mount").to_string();
    assert_eq!(volume_of(pod), claim_name);
    assert_eq!(mount_of(container), value_of(&env, "RESULTS"), "the shards write to the volume");

    let merge_docs = load_yaml("deploy/k8s/sweep-merge-job.yaml");
    let merge_pod = &merge_docs[0]["spec"]["template"]["spec"];
    let merge_container = &merge_pod["containers"][0];
    let merge_env = container_env(merge_container, &[]);
    assert_eq!(volume_of(merge_pod), claim_name, "the merge reads the same volume");
    assert_eq!(mount_of(merge_container), value_of(&merge_env, "RESULTS"));
    assert_eq!(value_of(&merge_env, "SHARDS"), completions.to_string());

    // The dry run: every index of the Job, then the merge Job, from the
    // repository root (the image's /orrery), on a scratch "volume".
    let dir = scratch("k8s");
    let results = dir.join("results");
    std::fs::create_dir_all(&results).unwrap();
    let results = results.to_str().unwrap().to_string();
    let env = container_env(
        container,
        &[("SEEDS", "0..20".into()), ("RESULTS", results.clone()), ("JOBS", "1".into())],
    );
    let script = container_script(container);
    let pods = (0..completions).map(|i| {
        let mut env = env.clone();
        env.push(("JOB_COMPLETION_INDEX".into(), i.to_string()));
        command("/bin/sh", &["-c", &script], &env, root())
    });
    for (i, out) in run_all(pods.collect()).iter().enumerate() {
        assert_eq!(out.code, 0, "pod {i} succeeds: {}", out.stderr);
    }
    let merge_env = container_env(merge_container, &[("RESULTS", results.clone())]);
    let merged = run("/bin/sh", &["-c", &container_script(merge_container)], &merge_env, root());
    let whole = whole(value_of(&env, "SCENARIO"), "0..20", root(), &dir);
    assert_merge_equals(&merged, Path::new(&results), &whole, "kubernetes manifest");

    let codes = dir.join("codes");
    std::fs::create_dir_all(&codes).unwrap();
    assert_exit_codes_pass_through("kubernetes manifest", |scenario, seeds| {
        let overrides = [
            ("SCENARIO", scenario.to_string()),
            ("SEEDS", seeds.to_string()),
            ("RESULTS", codes.to_str().unwrap().to_string()),
            ("ORRERY_SHARD_COUNT", "1".to_string()),
        ];
        let mut env = container_env(container, &overrides);
        env.push(("JOB_COMPLETION_INDEX".into(), "0".into()));
        finish(command("/bin/sh", &["-c", &script], &env, root()).spawn().unwrap())
    });
}

/// `${{ ... }}` in an env value, evaluated for shard `index` of `total`;
/// anything else fails the test, so the workflow stays this simple.
fn github_expression(value: &str, inputs: &Yaml, index: usize, total: usize) -> String {
    let Some(inner) = value.strip_prefix("${{").and_then(|v| v.strip_suffix("}}")) else {
        assert!(!value.contains("${{"), "an expression inside a value: {value}");
        return value.to_string();
    };
    match inner.trim() {
        "strategy.job-index" => index.to_string(),
        "strategy.job-total" => total.to_string(),
        other => {
            let name =
                other.strip_prefix("inputs.").unwrap_or_else(|| panic!("unsupported expression {value}"));
            text(&inputs[name]["default"], "an input's default").to_string()
        }
    }
}

fn github_env(table: &Yaml, inputs: &Yaml, index: usize, total: usize) -> Vec<(String, String)> {
    let Some(hash) = table.as_hash() else { return Vec::new() };
    hash.iter()
        .map(|(k, v)| {
            let value = v
                .as_str()
                .map(str::to_string)
                .or_else(|| v.as_i64().map(|n| n.to_string()))
                .expect("a scalar");
            (text(k, "env name").to_string(), github_expression(&value, inputs, index, total))
        })
        .collect()
}

fn step<'a>(job: &'a Yaml, id: &str) -> &'a Yaml {
    job["steps"]
        .as_vec()
        .expect("steps")
        .iter()
        .find(|s| s["id"].as_str() == Some(id))
        .unwrap_or_else(|| panic!("no step {id}"))
}

#[test]
fn the_github_workflows_command_lines_run_as_a_sharded_sweep() {
    let workflow = &load_yaml(".github/workflows/sweep.yml")[0];
    let inputs = &workflow["on"]["workflow_dispatch"]["inputs"];
    assert_eq!(inputs["seeds"]["default"].as_str(), Some("0..100000"));
    let jobs = &workflow["jobs"];
    let (shard, merge) = (&jobs["shard"], &jobs["merge"]);
    assert_eq!(shard["needs"].as_str(), Some("build"));
    assert_eq!(merge["needs"].as_str(), Some("shard"));
    assert_eq!(
        shard["strategy"]["fail-fast"].as_bool(),
        Some(false),
        "one shard's failures must not cancel the rest"
    );
    let total = shard["strategy"]["matrix"]["shard"].as_vec().expect("a shard matrix").len();
    let text_of = std::fs::read_to_string(root().join(".github/workflows/sweep.yml")).unwrap();
    for line in text_of.lines().filter(|l| l.contains("uses:")) {
        let pinned = line.split_once('@').is_some_and(|(_, r)| {
            r.len() > 41 && r[..40].bytes().all(|b| b.is_ascii_hexdigit()) && r[40..].starts_with(" # v")
        });
        assert!(pinned, "actions are pinned to a commit, with its version: {line}");
    }

    let dir = scratch("github");
    let results = dir.join("shards");
    std::fs::create_dir_all(&results).unwrap();
    let overrides = [("SEEDS", "0..20".to_string()), ("RESULTS", results.to_str().unwrap().to_string())];
    let bash = |script: &str, env: &[(String, String)]| {
        command("bash", &["--noprofile", "--norc", "-eo", "pipefail", "-c", script], env, root())
    };
    let sweep_script = text(&step(shard, "sweep")["run"], "the sweep step");
    let shards = (0..total).map(|i| {
        let mut env = with_overrides(github_env(&workflow["env"], inputs, i, total), &overrides);
        env.extend(github_env(&shard["env"], inputs, i, total));
        bash(sweep_script, &env)
    });
    for (i, out) in run_all(shards.collect()).iter().enumerate() {
        assert_eq!(out.code, 0, "shard job {i} succeeds: {}", out.stderr);
    }
    let summary = dir.join("summary.md");
    let mut env = with_overrides(github_env(&workflow["env"], inputs, 0, total), &overrides);
    env.push(("GITHUB_STEP_SUMMARY".into(), summary.to_str().unwrap().into()));
    let merged = finish(bash(text(&step(merge, "merge")["run"], "the merge step"), &env).spawn().unwrap());
    let scenario = value_of(&env, "SCENARIO").to_string();
    let whole = whole(&scenario, "0..20", root(), &dir);
    assert_merge_equals(&merged, &results, &whole, "github workflow");
    let summary = std::fs::read_to_string(summary).unwrap();
    assert_eq!(summary, format!("```\n{}```\n", whole.0.stdout), "the table is the run's summary");

    let codes = dir.join("codes");
    std::fs::create_dir_all(&codes).unwrap();
    assert_exit_codes_pass_through("github workflow", |scenario, seeds| {
        let overrides = [
            ("SCENARIO", scenario.to_string()),
            ("SEEDS", seeds.to_string()),
            ("RESULTS", codes.to_str().unwrap().to_string()),
        ];
        let mut env = with_overrides(github_env(&workflow["env"], inputs, 0, 1), &overrides);
        env.extend(github_env(&shard["env"], inputs, 0, 1));
        finish(bash(sweep_script, &env).spawn().unwrap())
    });
}

#[test]
fn the_slurm_scripts_command_lines_run_as_a_sharded_sweep() {
    let script = std::fs::read_to_string(root().join("deploy/slurm/sweep.sbatch")).unwrap();
    let array = script.lines().find_map(|l| l.strip_prefix("#SBATCH --array=")).expect("an --array line");
    let (first, last) = array.split_once('-').expect("--array=A-B");
    let (first, last): (u64, u64) = (first.parse().unwrap(), last.parse().unwrap());
    let default = |name: &str| {
        let prefix = format!("{name}=${{{name}:-");
        script
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .and_then(|v| v.strip_suffix('}'))
            .unwrap_or_else(|| panic!("a default {name}"))
            .to_string()
    };
    assert_eq!(default("SEEDS"), "0..100000");
    let merge = script
        .lines()
        .find_map(|l| l.split_once("--wrap '"))
        .map(|(_, c)| c.trim_end_matches('\''))
        .expect("the merge command");

    // The scenario is given by absolute path, so the tasks and the merge can
    // run in a scratch directory, where the script's relative `results` goes.
    let dir = scratch("slurm");
    let scenario = root().join(default("SCENARIO"));
    let scenario = scenario.to_str().unwrap();
    let count = last - first + 1;
    let tasks = (first..=last).map(|id| {
        let env = vars(&[
            ("SLURM_JOB_ID", "4242".to_string()),
            ("SLURM_ARRAY_TASK_ID", id.to_string()),
            ("SLURM_ARRAY_TASK_MIN", first.to_string()),
            ("SLURM_ARRAY_TASK_MAX", last.to_string()),
            ("SLURM_ARRAY_TASK_COUNT", count.to_string()),
            ("SLURM_CPUS_PER_TASK", "1".to_string()),
            ("SCENARIO", scenario.to_string()),
            ("SEEDS", "0..20".to_string()),
        ]);
        command("bash", &["-c", &script], &env, &dir)
    });
    for (i, out) in run_all(tasks.collect()).iter().enumerate() {
        assert_eq!(out.code, 0, "task {i} succeeds: {}", out.stderr);
    }
    let merged = run("bash", &["-c", merge], &[], &dir);
    let whole = whole(scenario, "0..20", &dir, &dir);
    assert_merge_equals(&merged, &dir.join("results"), &whole, "slurm script");

    let codes = dir.join("codes");
    std::fs::create_dir_all(&codes).unwrap();
    assert_exit_codes_pass_through("slurm script", |scenario, seeds| {
        let env = vars(&[
            ("SLURM_ARRAY_TASK_ID", "0".to_string()),
            ("SLURM_ARRAY_TASK_MIN", "0".to_string()),
            ("SLURM_ARRAY_TASK_COUNT", "1".to_string()),
            ("SCENARIO", root().join(scenario).to_str().unwrap().to_string()),
            ("SEEDS", seeds.to_string()),
        ]);
        finish(command("bash", &["-c", &script], &env, &codes).spawn().unwrap())
    });
}
