//! `ferroprom promqltest FILE...`: runs promqltest scripts against the engine, configured as
//! Prometheus's test engine, and prints per-file results ending with `N passed, N failed`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use ferroprom::engine::{Engine, EngineOptions};
use ferroprom::promqltest::{FileReport, RunOptions, run_text, summary};

/// Arguments of `promqltest`.
#[derive(Debug, Args)]
pub struct PromqltestArgs {
    /// The `.test` scripts to run.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
    /// Threads per query.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Print every failing eval with its reason.
    #[arg(long, short)]
    verbose: bool,
}

pub fn run(args: &PromqltestArgs) -> ExitCode {
    let engine = Engine::new(EngineOptions { threads: args.threads.max(1), ..EngineOptions::promqltest() });
    let mut reports: Vec<FileReport> = Vec::new();
    for path in &args.files {
        let name = path.display().to_string();
        let report = match std::fs::read_to_string(path) {
            Ok(text) => run_text(&name, &text, &engine, &RunOptions::default()),
            Err(e) => {
                eprintln!("error: {name}: {e}");
                return ExitCode::from(2);
            }
        };
        if args.verbose {
            for o in &report.outcomes {
                if let Some(f) = &o.failure {
                    println!("FAIL {name}:{}: {f}", o.line);
                }
            }
        }
        reports.push(report);
    }
    print!("{}", summary(&reports));
    if reports.iter().all(|r| r.failed() == 0) { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
