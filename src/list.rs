//! `orrery list`: protocols with their parameters and planted bugs, models, scenarios.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::runner::catalogue;
use crate::scenario::{Expect, Scenario};

/// Arguments of `orrery list`.
#[derive(clap::Args)]
pub struct ListArgs {
    /// Where to look for scenario files.
    #[arg(long, default_value = "scenarios")]
    pub scenarios: PathBuf,
}

/// The models `orrery check` and scenario checks understand.
pub const MODELS: &[(&str, &str)] = &[
    ("register", "read / write"),
    ("cas-register", "read / write / compare-and-set; a failed cas is a fail"),
    ("multi-register", "several registers read and written in one txn (Knossos)"),
    ("kv", "get / put / append on string values, split per key"),
    ("mutex", "acquire / release"),
    ("set", "add / read"),
    ("queue", "FIFO enqueue / dequeue"),
];

/// Runs `orrery list`.
pub fn run(args: ListArgs) -> anyhow::Result<ExitCode> {
    println!("protocols");
    for p in catalogue() {
        println!("  {:<16} {} (model: {})", p.name, p.summary, p.model);
        for parameter in &p.parameters {
            println!("    {parameter}");
        }
        for (bug, effect) in p.bugs {
            println!("    bug {bug:<22} {effect}");
        }
    }
    println!("models");
    for (name, summary) in MODELS {
        println!("  {name:<16} {summary}");
    }
    println!("scenarios ({})", args.scenarios.display());
    let mut files = Vec::new();
    collect(&args.scenarios, &mut files);
    files.sort();
    if files.is_empty() {
        println!("  none found");
    }
    for file in files {
        match Scenario::load(&file) {
            Ok(s) => {
                let expect = if s.expect == Expect::Pass { "pass" } else { "violation" };
                println!("  {:<44} {expect:<9} {}", file.display(), s.description);
            }
            Err(e) => println!("  {:<44} INVALID   {e}", file.display()),
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Every `.toml` file under `dir`, recursively.
pub fn collect(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, files);
        } else if path.extension().is_some_and(|e| e == "toml") {
            files.push(path);
        }
    }
}
