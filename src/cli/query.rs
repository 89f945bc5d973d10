//! `ferroprom query` and `ferroprom explain`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};
use ferroprom::engine::{Engine, EngineOptions, QueryError, QueryResult};
use ferroprom::model::{Value, format_api_float, format_api_timestamp};
use ferroprom::promqltest::parse_duration;

/// Output formats of `query`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A readable table.
    Table,
    /// The body Prometheus's HTTP API returns.
    Json,
}

/// Engine flags shared by `query` and `explain`.
#[derive(Debug, Args)]
pub struct EngineArgs {
    /// How far back an instant selector looks for samples.
    #[arg(long, default_value = "5m", value_parser = duration_arg)]
    lookback: i64,
    /// The most samples a query may hold in memory.
    #[arg(long, default_value_t = 50_000_000)]
    max_samples: usize,
    /// The longest a query may run.
    #[arg(long, default_value = "2m", value_parser = duration_arg)]
    timeout: i64,
    /// Threads one query may use.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Enable a Prometheus feature flag (`promql-experimental-functions`, `promql-duration-expr`,
    /// `promql-extended-range-selectors`, `promql-binop-fill-modifiers`, `promql-delayed-name-removal`);
    /// may be repeated or comma-separated.
    #[arg(long = "enable-feature", value_name = "NAME")]
    features: Vec<String>,
}

/// Arguments of `query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The data file: promqltest `load` text, or Prometheus/OpenMetrics text exposition with timestamps.
    #[arg(long)]
    data: PathBuf,
    /// Evaluation time of an instant query: RFC 3339, Unix seconds, or a duration from the epoch (`5m`).
    #[arg(long, conflicts_with_all = ["start", "end", "step"])]
    time: Option<String>,
    /// Start of a range query (same forms as `--time`).
    #[arg(long, requires_all = ["end", "step"])]
    start: Option<String>,
    /// End of a range query.
    #[arg(long, requires_all = ["start", "step"])]
    end: Option<String>,
    /// Step of a range query, a duration (`15s`) or seconds.
    #[arg(long, requires_all = ["start", "end"])]
    step: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    #[command(flatten)]
    engine: EngineArgs,
    /// The PromQL expression, or `-` to read it from standard input.
    expr: String,
}

/// Arguments of `explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// Evaluation time (or start of the range) used to resolve `@`, offsets and windows.
    #[arg(long, default_value = "0")]
    time: String,
    #[command(flatten)]
    engine: EngineArgs,
    /// The PromQL expression, or `-` to read it from standard input.
    expr: String,
}

pub fn query(args: &QueryArgs) -> ExitCode {
    match run_query(args) {
        Ok((result, format)) => {
            for w in result.warnings.iter().chain(&result.infos) {
                eprintln!("{w}");
            }
            match format {
                Format::Json => {
                    println!(
                        "{}",
                        ferroprom::api::success_body(&result.value, &result.warnings, &result.infos)
                    )
                }
                Format::Table => print!("{}", table(&result.value)),
            }
            ExitCode::SUCCESS
        }
        Err(Failure::Query(e)) => {
            match args.format {
                Format::Json => {
                    // As Prometheus's API handlers: errors creating the query (parse errors, a
                    // range query of a range vector, ...) are an invalid "query" parameter.
                    let msg = match &e {
                        QueryError::Parse(_) | QueryError::Invalid(_) => {
                            format!("invalid parameter \"query\": {e}")
                        }
                        _ => e.to_string(),
                    };
                    println!("{}", ferroprom::api::error_body(e.error_type(), &msg, &[]))
                }
                Format::Table => eprintln!("error: {e}"),
            }
            ExitCode::FAILURE
        }
        Err(Failure::Usage(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
    }
}

pub fn explain(args: &ExplainArgs) -> ExitCode {
    let run = || -> Result<String, Failure> {
        let engine = engine(&args.engine)?;
        let text = super::read_arg_or_stdin(&args.expr).map_err(|e| Failure::Usage(e.to_string()))?;
        let t = parse_time(&args.time)?;
        let expr = ferroprom::parser::parse_with(&text, &engine.options().parser)
            .map_err(|e| Failure::Query(e.into()))?;
        Ok(engine.plan(&expr, t, t, 0).map_err(Failure::Query)?.to_string())
    };
    match run() {
        Ok(s) => {
            println!("{}", s.trim_end());
            ExitCode::SUCCESS
        }
        Err(Failure::Query(e)) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
        Err(Failure::Usage(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
    }
}

enum Failure {
    Usage(String),
    Query(QueryError),
}

fn run_query(args: &QueryArgs) -> Result<(QueryResult, Format), Failure> {
    let engine = engine(&args.engine)?;
    let text = super::read_arg_or_stdin(&args.expr).map_err(|e| Failure::Usage(e.to_string()))?;
    let store = ferroprom::datafile::load_file(&args.data).map_err(|e| Failure::Usage(e.to_string()))?;
    let result = match (&args.time, &args.start, &args.end, &args.step) {
        (_, Some(start), Some(end), Some(step)) => {
            let step = duration_arg(step).map_err(Failure::Usage)?;
            engine.range_query(&store, &text, parse_time(start)?, parse_time(end)?, step)
        }
        (Some(t), None, None, None) => engine.instant_query(&store, &text, parse_time(t)?),
        (None, None, None, None) => engine.instant_query(&store, &text, 0),
        _ => return Err(Failure::Usage("a range query needs --start, --end and --step".into())),
    };
    Ok((result.map_err(Failure::Query)?, args.format))
}

fn engine(args: &EngineArgs) -> Result<Engine, Failure> {
    let mut opts = EngineOptions {
        lookback_delta: millis(args.lookback),
        max_samples: args.max_samples,
        timeout: Some(millis(args.timeout)),
        threads: args.threads.max(1),
        ..EngineOptions::default()
    };
    let mut parser_flags = Vec::new();
    for f in args.features.iter().flat_map(|f| f.split(',')) {
        match f.trim() {
            "promql-delayed-name-removal" => opts.delayed_name_removal = true,
            other => parser_flags.push(other.to_string()),
        }
    }
    opts.parser = super::expr::options(&parser_flags).map_err(Failure::Usage)?;
    Ok(Engine::new(opts))
}

fn millis(ms: i64) -> Duration {
    Duration::from_millis(ms.max(0).unsigned_abs())
}

/// A duration flag: Prometheus's duration syntax (`1m30s`) or a number of seconds.
fn duration_arg(s: &str) -> Result<i64, String> {
    if let Some(ms) = super::seconds_arg(s) {
        return Ok(ms);
    }
    parse_duration(s).map_err(|e| format!("invalid duration {s:?}: {e}"))
}

/// A time: RFC 3339, Unix seconds (fractions allowed), or a duration from the epoch.
fn parse_time(s: &str) -> Result<i64, Failure> {
    if let Some(ms) = super::absolute_time_arg(s) {
        return Ok(ms);
    }
    parse_duration(s).map_err(|_| {
        Failure::Usage(format!(
            "invalid time {s:?}: expected RFC 3339, Unix seconds or a duration from the epoch"
        ))
    })
}

/// The readable form of a value: one line per sample, a block per series of a matrix.
fn table(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Scalar { t, v } => {
            out.push_str(&format!("scalar: {} @{}\n", format_api_float(*v), format_api_timestamp(*t)))
        }
        Value::String { t, v } => out.push_str(&format!("string: {v:?} @{}\n", format_api_timestamp(*t))),
        Value::Vector(samples) => {
            let width =
                samples.iter().map(|s| s.labels.metric_display().to_string().len()).max().unwrap_or(0);
            for s in samples {
                let value = match &s.h {
                    Some(h) => h.test_expression(),
                    None => format_api_float(s.f),
                };
                out.push_str(&format!(
                    "{:<width$}  {value} @{}\n",
                    s.labels.metric_display().to_string(),
                    format_api_timestamp(s.t)
                ));
            }
            if samples.is_empty() {
                out.push_str("(empty vector)\n");
            }
        }
        Value::Matrix(series) => {
            for s in series {
                out.push_str(&format!("{}\n", s.labels.metric_display()));
                for p in &s.floats {
                    out.push_str(&format!("  {} @{}\n", format_api_float(p.f), format_api_timestamp(p.t)));
                }
                for p in &s.histograms {
                    out.push_str(&format!("  {} @{}\n", p.h.test_expression(), format_api_timestamp(p.t)));
                }
            }
            if series.is_empty() {
                out.push_str("(empty matrix)\n");
            }
        }
    }
    out
}
