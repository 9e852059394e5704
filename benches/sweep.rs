//! Sweep throughput: `cargo bench --bench sweep [-- SCENARIO [SEEDS]]`.
//!
//! Runs the same sweep with one job and with one job per core, and prints
//! `bench sweep scenario=<file> jobs=<n> seeds_per_s=<x>` for each, then the
//! speed-up. Seeds are independent simulations, so the speed-up should be
//! close to the core count.

use std::process::Command;

fn seeds_per_second(scenario: &str, seeds: u64, jobs: usize) -> f64 {
    #[allow(clippy::disallowed_methods)] // a benchmark measures wall time on purpose
    let started = std::time::Instant::now();
    let status = Command::new(env!("CARGO_BIN_EXE_orrery"))
        .args(["sweep", scenario, "--seeds", &format!("0..{seeds}"), "--jobs", &jobs.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("orrery runs");
    assert!(status.code().is_some_and(|c| c <= 1), "sweep failed to run: {status}");
    seeds as f64 / started.elapsed().as_secs_f64()
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with('-')).collect();
    let scenario =
        args.first().cloned().unwrap_or_else(|| "scenarios/primary-backup-split-brain.toml".into());
    let seeds: u64 = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(400);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::env::set_current_dir(env!("CARGO_MANIFEST_DIR")).expect("repository root");
    let mut rates = Vec::new();
    for jobs in [1, cores] {
        let rate = median((0..3).map(|_| seeds_per_second(&scenario, seeds, jobs)).collect());
        println!("bench sweep scenario={scenario} jobs={jobs} seeds_per_s={rate:.1}");
        rates.push(rate);
    }
    println!("bench sweep speedup={:.2} cores={cores}", rates[1] / rates[0]);
}
