//! Subcommands of the `ferroprom` binary. Each subcommand lives in its own module and returns the
//! process exit code.

mod check;
mod expr;
mod http;
mod promqltest;
mod query;
mod run;
mod serve;
mod test;

use std::io::Read;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// ferroprom: parse, evaluate and test PromQL and Prometheus rules.
#[derive(Debug, Parser)]
#[command(name = "ferroprom", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Parse an expression and print its canonical form.
    Parse(expr::ExprArgs),
    /// Parse an expression and print it prettified (100 columns, 2-space indent).
    Fmt(expr::ExprArgs),
    /// Run promqltest scripts (`.test` files) against the engine; prints per-file results and
    /// `N passed, N failed`.
    Promqltest(promqltest::PromqltestArgs),
    /// Check rule files and PrometheusRule manifests (`check rules`), as promtool does.
    Check(check::CheckArgs),
    /// Evaluate an instant or range query over a data file.
    Query(query::QueryArgs),
    /// Print the plan of an expression.
    Explain(query::ExplainArgs),
    /// Evaluate rule groups continuously, send their alerts to Alertmanagers and serve the rules API.
    Run(run::RunArgs),
    /// Run rule unit tests (`test rules`), as promtool does.
    Test(test::TestArgs),
    /// Serve Prometheus's HTTP query API (`/api/v1/query`, `query_range`, `series`, `labels`, …) over
    /// a data file, optionally running rule groups (`/api/v1/rules`, `/api/v1/alerts`).
    Serve(serve::ServeArgs),
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Parse(args) => expr::parse(&args),
        Command::Fmt(args) => expr::fmt(&args),
        Command::Promqltest(args) => promqltest::run(&args),
        Command::Check(args) => check::check_rules(&args),
        Command::Query(args) => query::query(&args),
        Command::Explain(args) => query::explain(&args),
        Command::Run(args) => run::run(&args),
        Command::Test(args) => test::test_rules(&args),
        Command::Serve(args) => serve::serve(&args),
    }
}

/// A number of seconds (fractions allowed) as milliseconds; `None` when `s` is not a finite number.
fn seconds_arg(s: &str) -> Option<i64> {
    s.parse::<f64>().ok().filter(|secs| secs.is_finite()).map(|secs| (secs * 1000.0).round() as i64)
}

/// A point in time given as Unix seconds (fractions allowed) or RFC 3339, in milliseconds; `None`
/// when `s` is neither.
fn absolute_time_arg(s: &str) -> Option<i64> {
    seconds_arg(s).or_else(|| chrono::DateTime::parse_from_rfc3339(s).ok().map(|t| t.timestamp_millis()))
}

/// Reads `arg`, or standard input when `arg` is `-`.
fn read_arg_or_stdin(arg: &str) -> std::io::Result<String> {
    if arg == "-" {
        let mut s = String::new();
        std::io::stdin().read_to_string(&mut s)?;
        Ok(s)
    } else {
        Ok(arg.to_string())
    }
}

/// Writes a log line to stderr in Prometheus's logfmt shape: `time=… level=… msg="…" key="value"…`.
fn log(level: &str, msg: &str, fields: &[(&str, &str)]) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(0));
    let mut line = format!("time={} level={level} msg={msg:?}", ferroprom::notifier::rfc3339_millis(now));
    for (k, v) in fields {
        line.push_str(&format!(" {k}={v:?}"));
    }
    eprintln!("{line}");
}
