//! Measures how long headless Chromium takes to open and draw a run's page.
//!
//! ```text
//! cargo run --release -p orrery-viz --example open_time -- TRACE.jsonl [--history H] [--runs N] -o page.html
//! ```
//! For each run it prints the page's own figure (`#status[data-render-ms]`:
//! milliseconds from navigation start to the end of the first draw, read from
//! the DOM), and the wall time of a headless screenshot of the page (which
//! waits for layout and paint) next to that of an empty run's page, so the
//! difference is the cost of this run's page without the browser's start-up.
//! Chromium is `$ORRERY_CHROMIUM` or `chromium` on the PATH.

use std::process::{Command, ExitCode};

use orrery_viz::{Run, html};

fn main() -> ExitCode {
    match measure(std::env::args().skip(1).collect()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("open_time: {e}");
            ExitCode::from(2)
        }
    }
}

fn measure(args: Vec<String>) -> Result<(), String> {
    let (mut trace, mut history, mut runs, mut out) = (None, None, 5, None);
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--history" => history = Some(value()?),
            "--runs" => runs = value()?.parse().map_err(|e| format!("--runs: {e}"))?,
            "-o" => out = Some(value()?),
            _ => trace = Some(arg),
        }
    }
    let trace_path = trace.ok_or("usage: open_time TRACE [--history H] [--runs N] -o page.html")?;
    let out = std::path::absolute(out.ok_or("missing -o page.html")?).map_err(|e| e.to_string())?;
    let read = |p: &str| std::fs::read_to_string(p).map_err(|e| format!("{p}: {e}"));
    let trace = read(&trace_path)?;
    let history = history.as_deref().map(read).transpose()?;
    let mut run = Run::from_jsonl(&trace, history.as_deref()).map_err(|e| e.to_string())?;
    run.title = trace_path.clone();
    let page = html(&run);
    std::fs::write(&out, &page).map_err(|e| e.to_string())?;
    println!(
        "{trace_path}: {} trace lines, {} messages, {} operations; page {} bytes",
        trace.lines().count(),
        run.messages.len(),
        run.operations.len(),
        page.len()
    );
    let exe = std::env::var("ORRERY_CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let empty = out.with_extension("empty.html");
    std::fs::write(&empty, html(&Run::default())).map_err(|e| e.to_string())?;
    let png = out.with_extension("png");
    for i in 0..runs {
        let (dom, _) = open(&exe, &out, i, "--dump-dom")?;
        let status = attr(&dom, "render-ms").ok_or("no #status[data-render-ms] in the DOM")?;
        let drawn = attr(&dom, "messages").unwrap_or_default();
        let errors = attr(&dom, "errors").unwrap_or_default();
        let shot = format!("--screenshot={}", png.display());
        let (_, page_ms) = open(&exe, &out, i, &shot)?;
        let (_, empty_ms) = open(&exe, &empty, i, &shot)?;
        println!(
            "run {i}: page render-ms {status}; screenshot {page_ms:.0} ms vs empty page {empty_ms:.0} ms \
             (+{:.0} ms); messages drawn {drawn}, errors {errors}",
            page_ms - empty_ms
        );
    }
    Ok(())
}

/// Runs headless Chromium on the page with a fresh profile and `mode`; its stdout and wall time.
#[allow(clippy::disallowed_methods, reason = "measures the browser on the wall clock, not the simulation")]
fn open(exe: &str, page: &std::path::Path, i: usize, mode: &str) -> Result<(String, f64), String> {
    let profile = std::env::temp_dir().join(format!("orrery-open-time-{}-{i}", std::process::id()));
    let started = std::time::Instant::now();
    let output = Command::new(exe)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        .args([
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1400,900",
            mode,
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .map_err(|e| format!("{exe}: {e}"))?;
    let wall = started.elapsed().as_secs_f64() * 1000.0;
    let _ = std::fs::remove_dir_all(&profile);
    if !output.status.success() {
        return Err(format!("{exe} failed: {}", String::from_utf8_lossy(&output.stderr)));
    }
    Ok((String::from_utf8_lossy(&output.stdout).into_owned(), wall))
}

fn attr(dom: &str, name: &str) -> Option<String> {
    let start = dom.find("<div id=\"status\"")?;
    let tag = &dom[start..start + dom[start..].find('>')?];
    let key = format!(" data-{name}=\"");
    let at = tag.find(&key)? + key.len();
    Some(tag[at..at + tag[at..].find('"')?].to_string())
}
