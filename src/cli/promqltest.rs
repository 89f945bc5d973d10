//! `ferroprom promqltest FILE...`: runs promqltest scripts against the engine, configured as
//! Prometheus's test engine, and prints per-file results ending with `N passed, N failed`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use ferroprom::engine::{Engine, EngineOptions};
use ferroprom::parser::{Expr, ParseOptions, parse_with};
use ferroprom::promqltest::{FileReport, QueryEngine, QueryOutput, RunOptions, run_text, summary};
use ferroprom::storage::Storage;

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

/// The engine with the options upstream's promqltest engine uses.
struct TestEngine(Engine);

impl QueryEngine for TestEngine {
    fn parse(&self, expr: &str) -> Result<Expr, String> {
        parse_with(expr, &self.0.options().parser).map_err(|e| e.to_string())
    }

    fn instant_query(&self, storage: &dyn Storage, expr: &str, t: i64) -> Result<QueryOutput, String> {
        let r = self.0.instant_query(storage, expr, t).map_err(|e| e.to_string())?;
        Ok(QueryOutput { value: r.value, warnings: r.warnings, infos: r.infos })
    }

    fn range_query(
        &self,
        storage: &dyn Storage,
        expr: &str,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<QueryOutput, String> {
        let r = self.0.range_query(storage, expr, start, end, step).map_err(|e| e.to_string())?;
        Ok(QueryOutput { value: r.value, warnings: r.warnings, infos: r.infos })
    }
}

pub fn run(args: &PromqltestArgs) -> ExitCode {
    let engine = TestEngine(Engine::new(EngineOptions {
        lookback_delta: Duration::from_secs(300),
        max_samples: 10_000,
        timeout: Some(Duration::from_secs(100)),
        threads: args.threads.max(1),
        enable_at_modifier: true,
        enable_negative_offset: true,
        delayed_name_removal: true,
        parser: ParseOptions::all_features(),
        no_step_subquery_interval: Duration::from_secs(60),
        ..EngineOptions::default()
    }));
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
