//! `orrery check`: judge a recorded history for linearizability.
//!
//! Exit codes: 0 linearizable, 1 not linearizable, 3 unknown (budget ran
//! out), 2 bad input or usage (from `main`).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::{Context, bail};
use sim_core::check::delivery::{self, Guarantee};
use sim_core::check::formats::{self, Format, Parsed};
use sim_core::check::models::{Kv, KvMap, MultiRegister, Mutex, Queue, Register, Set};
use sim_core::check::{Budget, CheckError, CheckOptions, Model, Report, Verdict, check};
use sim_core::{ModelKind, Operation, Value};

/// History formats on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FormatName {
    /// Detect from the content.
    Auto,
    /// Orrery's JSON lines.
    Jsonl,
    /// Jepsen EDN, as Knossos reads it.
    Edn,
    /// Jepsen/etcd console log lines (Porcupine's test data).
    EtcdLog,
}

/// Arguments of `orrery check`.
#[derive(clap::Args)]
pub struct CheckArgs {
    /// The history file.
    pub history: PathBuf,
    /// The model to check against.
    #[arg(long, short, required_unless_present = "delivery")]
    pub model: Option<ModelKind>,
    /// Instead of a model: check a queue's deliveries (lost, duplicated, reordered, unexpected
    /// messages) under this guarantee: at-least-once or exactly-once.
    #[arg(long, value_parser = parse_guarantee, conflicts_with = "model")]
    pub delivery: Option<Guarantee>,
    /// Initial value as EDN or JSON (a register's value; a map for multi-register). Default nil.
    #[arg(long)]
    pub init: Option<String>,
    /// The history's format.
    #[arg(long, value_enum, default_value = "auto")]
    pub format: FormatName,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Give up with "unknown" after this many seconds of searching.
    #[arg(long)]
    pub timeout: Option<f64>,
    /// Give up with "unknown" after visiting this many configurations in one part.
    #[arg(long)]
    pub states_max: Option<u64>,
}

const EXIT_NOT_LINEARIZABLE: u8 = 1;
const EXIT_UNKNOWN: u8 = 3;

/// Runs `orrery check`.
pub fn run(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let path = args.history.display().to_string();
    let text =
        crate::scenario::read_regular_file(&args.history).with_context(|| format!("cannot read {path}"))?;
    let format = match args.format {
        FormatName::Auto => Format::Auto,
        FormatName::Jsonl => Format::Jsonl,
        FormatName::Edn => Format::Edn,
        FormatName::EtcdLog => Format::EtcdLog,
    };
    let parsed = formats::read(&text, format).with_context(|| path.clone())?;
    let init = match &args.init {
        Some(text) => formats::read_value(text).context("--init is not an EDN or JSON value")?,
        None => Value::Nil,
    };
    if let Some(guarantee) = args.delivery {
        return check_delivery(&args, &path, &parsed, guarantee);
    }
    let model = args.model.context("--model or --delivery is required")?;
    let options = CheckOptions { budget: budget(&args), threads: 0 };
    let started = wall_clock();
    let mut report = check_with(model, init, &parsed, &options).with_context(|| path.clone())?;
    let elapsed_ms = started.elapsed().as_secs_f64() * 1e3;
    report.map_lines(&parsed.lines);
    print_report(&args, &path, &parsed, &report, elapsed_ms)?;
    Ok(match report.verdict {
        Verdict::Linearizable => ExitCode::SUCCESS,
        Verdict::NotLinearizable => ExitCode::from(EXIT_NOT_LINEARIZABLE),
        Verdict::Unknown => ExitCode::from(EXIT_UNKNOWN),
    })
}

fn parse_guarantee(text: &str) -> Result<Guarantee, String> {
    match text {
        "at-least-once" => Ok(Guarantee::AtLeastOnce),
        "exactly-once" => Ok(Guarantee::ExactlyOnce),
        other => Err(format!("unknown guarantee {other:?}: use at-least-once or exactly-once")),
    }
}

/// Judges a queue history's deliveries: exit 0 if the guarantee holds, 1 if not.
fn check_delivery(
    args: &CheckArgs,
    path: &str,
    parsed: &Parsed,
    guarantee: Guarantee,
) -> anyhow::Result<ExitCode> {
    let ops = parsed.history.operations().with_context(|| path.to_string())?;
    let report = delivery::check(&ops, guarantee).with_context(|| path.to_string())?;
    if args.json {
        super::out(&format!("{}\n", serde_json::to_string_pretty(&report)?))?;
    } else {
        let verdict = if report.is_valid() { "holds" } else { "VIOLATED" };
        super::out(&format!("history    {path}\ndelivery   {guarantee} {verdict}: {}\n", report.summary()))?;
    }
    Ok(if report.is_valid() { ExitCode::SUCCESS } else { ExitCode::from(EXIT_NOT_LINEARIZABLE) })
}

#[allow(clippy::disallowed_methods)] // the CLI reports how long the check took, in wall-clock time
fn wall_clock() -> std::time::Instant {
    std::time::Instant::now()
}

/// The search budget; a timeout becomes a flag a timer thread sets.
fn budget(args: &CheckArgs) -> Budget {
    let mut budget = Budget::default();
    if let Some(states_max) = args.states_max {
        budget.states_max = states_max;
    }
    if let Some(wait) = args.timeout.and_then(|s| std::time::Duration::try_from_secs_f64(s).ok()) {
        let cancel = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&cancel);
        std::thread::spawn(move || {
            std::thread::sleep(wait);
            flag.store(true, Ordering::Relaxed);
        });
        budget.cancel = Some(cancel);
    }
    budget
}

fn check_with(
    name: ModelKind,
    init: Value,
    parsed: &Parsed,
    options: &CheckOptions,
) -> anyhow::Result<Report> {
    let ops = parsed.history.operations()?;
    let lines = &parsed.lines;
    match name {
        ModelKind::Register => go(&Register::new(init), &ops, lines, options),
        ModelKind::CasRegister => go(&Register::with_cas(init), &ops, lines, options),
        ModelKind::MultiRegister => {
            let init = match init {
                Value::Nil => Default::default(),
                Value::Map(map) => map,
                other => bail!("--init for multi-register must be a map such as {{\"x\": 0}}, not {other}"),
            };
            go(&MultiRegister::new(init), &ops, lines, options)
        }
        ModelKind::Kv => go(&Kv, &ops, lines, options),
        ModelKind::KvMap => go(&KvMap, &ops, lines, options),
        ModelKind::Mutex => go(&Mutex, &ops, lines, options),
        ModelKind::Set => go(&Set, &ops, lines, options),
        ModelKind::Queue => go(&Queue, &ops, lines, options),
    }
}

/// Checks `ops` against `model`, naming source lines in errors.
fn go<M: Model>(
    model: &M,
    ops: &[Operation],
    lines: &[usize],
    options: &CheckOptions,
) -> anyhow::Result<Report> {
    check(model, ops, options).map_err(|error| match error {
        CheckError::Model { line, source } => {
            let line = lines.get(line - 1).copied().unwrap_or(line);
            anyhow::Error::new(CheckError::Model { line, source })
        }
        other => other.into(),
    })
}

fn print_report(
    args: &CheckArgs,
    path: &str,
    parsed: &Parsed,
    report: &Report,
    elapsed_ms: f64,
) -> anyhow::Result<()> {
    let text = if args.json {
        let json = serde_json::json!({
            "file": path,
            "format": parsed.format.to_string(),
            "elapsed_ms": elapsed_ms,
            "report": report,
        });
        format!("{}\n", serde_json::to_string_pretty(&json)?)
    } else {
        let records = parsed.history.len();
        format!(
            "{path} ({} format, {records} records)\n{report}checked in {elapsed_ms:.1} ms\n",
            parsed.format
        )
    };
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other.context("cannot write the report")?),
    }
}
