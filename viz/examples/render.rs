//! Renders a trace (and optionally its history) as an HTML page or an SVG.
//!
//! ```text
//! cargo run -p orrery-viz --example render -- TRACE.jsonl [--history H.jsonl]
//!     [--check register] [--title T] -o out.html|out.svg
//! ```
//! `--check register` runs the linearizability checker (a register per key)
//! on the history and marks any violation, as `orrery run --html` will.

use std::process::ExitCode;

use orrery_viz::{Failure, Run};
use sim_core::check::{CheckOptions, check_history, models::Register};
use sim_core::{History, Value};

fn main() -> ExitCode {
    match render(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("render: {e}");
            ExitCode::from(2)
        }
    }
}

fn render(args: Vec<String>) -> Result<(), String> {
    let mut trace = None;
    let (mut history, mut output, mut title, mut check) = (None, None, None, false);
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--history" => history = Some(value()?),
            "-o" | "--output" => output = Some(value()?),
            "--title" => title = Some(value()?),
            "--check" if value()? == "register" => check = true,
            "--check" => return Err("only --check register is supported".into()),
            _ if trace.is_none() => trace = Some(arg),
            _ => return Err(format!("unexpected argument {arg}")),
        }
    }
    let trace_path = trace.ok_or("usage: render TRACE [--history H] [--check register] -o OUT")?;
    let output = output.ok_or("missing -o OUT")?;
    let read = |p: &str| std::fs::read_to_string(p).map_err(|e| format!("{p}: {e}"));
    let trace = read(&trace_path)?;
    let history_text = history.as_deref().map(read).transpose()?;
    let mut run =
        Run::from_jsonl(&trace, history_text.as_deref()).map_err(|e| format!("{trace_path}: {e}"))?;
    run.title = title.unwrap_or(trace_path);
    if check {
        let text = history_text.ok_or("--check needs --history")?;
        let history = History::read_jsonl(text.as_bytes()).map_err(|e| e.to_string())?;
        let report = check_history(&Register::new(Value::Nil), &history, &CheckOptions::default())
            .map_err(|e| e.to_string())?;
        println!("linearizability: {}", report.verdict);
        Failure::from_linearizability(&report).into_iter().for_each(|f| run.mark_failure(f));
    }
    let text = if output.ends_with(".svg") { orrery_viz::svg(&run) } else { orrery_viz::html(&run) };
    std::fs::write(&output, text).map_err(|e| format!("{output}: {e}"))?;
    println!(
        "wrote {output}: {} messages, {} operations, {} faults",
        run.messages.len(),
        run.operations.len(),
        run.faults.len()
    );
    Ok(())
}
