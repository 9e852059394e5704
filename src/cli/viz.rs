//! `orrery viz`: draw a recorded trace (and its history) as one offline
//! HTML page or a static SVG.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use orrery_viz::{Failure, Run};
use sim_core::{History, ModelKind};

/// Arguments of `orrery viz`.
#[derive(clap::Args)]
pub struct VizArgs {
    /// The trace, as JSON lines from `orrery run --trace`.
    pub trace: PathBuf,
    /// The client history, as JSON lines from `orrery run --history`.
    #[arg(long, value_name = "FILE")]
    pub history: Option<PathBuf>,
    /// Check the history against this model and mark any violation (register, cas-register).
    #[arg(long)]
    pub model: Option<ModelKind>,
    /// The page to write: `.html` for the interactive page, `.svg` for a static picture.
    #[arg(long, short, value_name = "FILE")]
    pub output: PathBuf,
}

/// Runs `orrery viz`.
pub fn run(args: VizArgs) -> anyhow::Result<ExitCode> {
    super::shrink::check_writable(&args.output)?;
    let read =
        |p: &PathBuf| std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()));
    let trace = read(&args.trace)?;
    let history_text = args.history.as_ref().map(read).transpose()?;
    let mut run =
        Run::from_jsonl(&trace, history_text.as_deref()).with_context(|| args.trace.display().to_string())?;
    run.title = args.trace.display().to_string();
    if let Some(model) = args.model {
        let text = history_text.context("--model needs --history")?;
        let history = History::read_jsonl(text.as_bytes())
            .with_context(|| args.history.as_ref().map(|p| p.display().to_string()).unwrap_or_default())?;
        anyhow::ensure!(
            matches!(model, ModelKind::Register | ModelKind::CasRegister),
            "--model {model}: viz checks register and cas-register histories; use `orrery check` for others"
        );
        let report = crate::linearizability_report(model, &history)?;
        Failure::from_linearizability(&report).into_iter().for_each(|f| run.mark_failure(f));
    }
    std::fs::write(&args.output, crate::picture::render(&run, &args.output))
        .with_context(|| format!("cannot write {}", args.output.display()))?;
    super::out(&format!(
        "wrote {}: {} messages, {} operations, {} faults\n",
        args.output.display(),
        run.messages.len(),
        run.operations.len(),
        run.faults.len()
    ))?;
    Ok(ExitCode::SUCCESS)
}
