//! `ferroprom query --data FILE EXPR` (instant or range query over a data file) and
//! `ferroprom explain EXPR` (the plan).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};
use ferroprom::api::{error_body, success_body};
use ferroprom::datafile::load_file;
use ferroprom::engine::{Engine, EngineOptions, QueryError, QueryResult};
use ferroprom::model::{Value, format_api_float, format_api_timestamp};
use ferroprom::parser::parse_with;
use ferroprom::promqltest::parse_duration;
use ferroprom::storage::MemStorage;

/// Output format of `query`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// One readable line per sample (per series for a matrix).
    Table,
    /// Exactly the body Prometheus's HTTP API returns.
    Json,
}

/// When to evaluate: `--time` for an instant query, `--start/--end/--step` for a range query.
#[derive(Debug, Args)]
pub struct TimeArgs {
    /// Evaluation time of an instant query: RFC 3339, Unix seconds, or a duration since the epoch
    /// (`5m`). Default: the newest sample of the data.
    #[arg(long, conflicts_with_all = ["start", "end", "step"])]
    time: Option<String>,
    /// Start of a range query (same forms as --time).
    #[arg(long, requires_all = ["end", "step"])]
    start: Option<String>,
    /// End of a range query (same forms as --time).
    #[arg(long, requires_all = ["start", "step"])]
    end: Option<String>,
    /// Step of a range query: a duration (`15s`) or seconds (`15`, `0.5`).
    #[arg(long, requires_all = ["start", "end"])]
    step: Option<String>,
}

/// Arguments of `query`.
#[derive(Debug, Args)]
pub struct QueryArgs {
    /// The PromQL expression.
    expr: String,
    /// The data: promqltest `load` text or Prometheus/OpenMetrics text exposition with timestamps.
    #[arg(long, value_name = "FILE")]
    data: Option<PathBuf>,
    #[command(flatten)]
    times: TimeArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// How far back an instant selector looks for a sample (a duration, default 5m).
    #[arg(long)]
    lookback: Option<String>,
    /// The most samples the query may hold in memory.
    #[arg(long)]
    max_samples: Option<usize>,
    /// The longest the query may run (a duration, default 2m).
    #[arg(long)]
    timeout: Option<String>,
    /// Threads used by the query.
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Enable a Prometheus feature flag (`promql-experimental-functions`, `promql-duration-expr`,
    /// `promql-extended-range-selectors`, `promql-binop-fill-modifiers`,
    /// `promql-delayed-name-removal`); may be repeated or comma-separated.
    #[arg(long = "enable-feature", value_name = "NAME")]
    features: Vec<String>,
}

/// Arguments of `explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// The PromQL expression.
    expr: String,
    #[command(flatten)]
    times: TimeArgs,
    /// Enable a Prometheus feature flag (as for `query`).
    #[arg(long = "enable-feature", value_name = "NAME")]
    features: Vec<String>,
}

/// A time as the HTTP API accepts it (Unix seconds with up to millisecond precision, or RFC 3339),
/// or a duration since the epoch (`5m`, as promqltest writes times); milliseconds.
pub fn parse_time(s: &str) -> Result<i64, String> {
    if let Ok(secs) = s.parse::<f64>()
        && secs.is_finite()
    {
        let whole = secs.trunc();
        let ms = whole * 1000.0 + ((secs - whole) * 1000.0).round();
        if ms.abs() < 9.2e18 {
            return Ok(ms as i64);
        }
    }
    if let Ok(ms) = parse_duration(s) {
        return Ok(ms);
    }
    parse_rfc3339(s).ok_or_else(|| format!("cannot parse {s:?} to a valid timestamp"))
}

/// A step or duration: seconds (`15`, `0.5`) or a Prometheus duration (`1m30s`); milliseconds.
pub fn parse_step(s: &str) -> Result<i64, String> {
    if let Ok(secs) = s.parse::<f64>()
        && secs.is_finite()
    {
        let ms = (secs * 1000.0).round();
        if ms.abs() < 9.2e18 {
            return Ok(ms as i64);
        }
    }
    parse_duration(s).map_err(|_| format!("cannot parse {s:?} to a valid duration"))
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)` to milliseconds.
fn parse_rfc3339(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let part = s.get(r)?;
        if part.is_empty() || !part.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse().ok()
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (y, mo, d, h, mi, sec) =
        (num(0..4)?, num(5..7)?, num(8..10)?, num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut frac_ms = 0i64;
    if b.get(i) == Some(&b'.') {
        let start = i + 1;
        i = start;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return None;
        }
        let digits = &s[start..i];
        let padded: String = digits.chars().chain(std::iter::repeat('0')).take(3).collect();
        frac_ms = padded.parse().ok()?;
    }
    let offset_min = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        c @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let v = num(i + 1..i + 3)? * 60 + num(i + 4..i + 6)?;
            if *c == b'-' { -v } else { v }
        }
        _ => return None,
    };
    let days = days_from_civil(y, mo, d);
    let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_min * 60;
    Some(secs * 1000 + frac_ms)
}

fn engine_options(features: &[String]) -> Result<EngineOptions, String> {
    let mut delayed = false;
    let mut parser_flags = Vec::new();
    for f in features.iter().flat_map(|f| f.split(',')).map(str::trim) {
        match f {
            "promql-delayed-name-removal" => delayed = true,
            // Always on in Prometheus 3; accepted for compatibility.
            "promql-at-modifier" | "promql-negative-offset" | "" => {}
            other => parser_flags.push(other.to_string()),
        }
    }
    let parser = super::expr::options(&parser_flags)?;
    Ok(EngineOptions { parser, delayed_name_removal: delayed, ..EngineOptions::default() })
}

fn invalid_param(name: &str, err: &str) -> String {
    format!("invalid parameter {name:?}: {err}")
}

/// The query's times: `(start, end, step)`, `step == 0` for an instant query at `start`. Checked
/// in the order and with the texts of Prometheus's API handlers.
fn query_times(t: &TimeArgs, store: &MemStorage) -> Result<(i64, i64, i64), String> {
    match (&t.start, &t.end, &t.step) {
        (Some(s), Some(e), Some(st)) => {
            let start = parse_time(s).map_err(|e| invalid_param("start", &e))?;
            let end = parse_time(e).map_err(|e| invalid_param("end", &e))?;
            if end < start {
                return Err(invalid_param("end", "end timestamp must not be before start time"));
            }
            let step = parse_step(st).map_err(|e| invalid_param("step", &e))?;
            if step <= 0 {
                return Err(invalid_param(
                    "step",
                    "zero or negative query resolution step widths are not accepted. Try a positive integer",
                ));
            }
            if (end - start) / step > 11_000 {
                return Err("exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)".into());
            }
            Ok((start, end, step))
        }
        _ => {
            let at = match &t.time {
                Some(s) => parse_time(s).map_err(|e| invalid_param("time", &e))?,
                None => store.time_bounds().map_or(0, |(_, max)| max),
            };
            Ok((at, at, 0))
        }
    }
}

fn fail(format: Format, error_type: &str, msg: &str) -> ExitCode {
    match format {
        Format::Json => println!("{}", error_body(error_type, msg, &[])),
        Format::Table => eprintln!("error: {msg}"),
    }
    ExitCode::FAILURE
}

pub fn query(args: &QueryArgs) -> ExitCode {
    let store = match &args.data {
        Some(path) => match load_file(path) {
            Ok(s) => s,
            Err(e) => return fail(args.format, "bad_data", &format!("data file: {e}")),
        },
        None => MemStorage::new(),
    };
    let mut opts = match engine_options(&args.features) {
        Ok(o) => o,
        Err(e) => return fail(args.format, "bad_data", &e),
    };
    opts.threads = args.threads.max(1);
    if let Some(mx) = args.max_samples {
        opts.max_samples = mx;
    }
    for (value, slot) in [(&args.lookback, &mut opts.lookback_delta)] {
        if let Some(v) = value {
            match parse_step(v) {
                Ok(ms) if ms > 0 => *slot = Duration::from_millis(ms.unsigned_abs()),
                _ => return fail(args.format, "bad_data", &format!("invalid lookback {v:?}")),
            }
        }
    }
    if let Some(v) = &args.timeout {
        match parse_step(v) {
            Ok(ms) if ms > 0 => opts.timeout = Some(Duration::from_millis(ms.unsigned_abs())),
            _ => {
                let msg = invalid_param("timeout", &format!("cannot parse {v:?} to a valid duration"));
                return fail(args.format, "bad_data", &msg);
            }
        }
    }
    let (start, end, step) = match query_times(&args.times, &store) {
        Ok(t) => t,
        Err(e) => return fail(args.format, "bad_data", &e),
    };
    let engine = Engine::new(opts);
    let result = if step == 0 {
        engine.instant_query(&store, &args.expr, start)
    } else {
        engine.range_query(&store, &args.expr, start, end, step)
    };
    match result {
        Ok(r) => {
            match args.format {
                Format::Json => println!("{}", success_body(&r.value, &r.warnings, &r.infos)),
                Format::Table => print_table(&r),
            }
            ExitCode::SUCCESS
        }
        // Errors creating the query (parse errors, a range query of a range vector...) are the
        // API's invalid "query" parameter; evaluation errors keep their own type.
        Err(e @ (QueryError::Parse(_) | QueryError::Invalid(_))) => {
            fail(args.format, "bad_data", &invalid_param("query", &e.to_string()))
        }
        Err(e) => fail(args.format, e.error_type(), &e.to_string()),
    }
}

fn print_table(r: &QueryResult) {
    match &r.value {
        Value::Scalar { t, v } => {
            println!("scalar: {} @[{}]", format_api_float(*v), format_api_timestamp(*t))
        }
        Value::String { t, v } => println!("string: {v} @[{}]", format_api_timestamp(*t)),
        Value::Vector(samples) => {
            for s in samples {
                let v = match &s.h {
                    Some(h) => h.test_expression(),
                    None => format_api_float(s.f),
                };
                println!("{} => {v} @[{}]", s.labels.metric_display(), format_api_timestamp(s.t));
            }
        }
        Value::Matrix(series) => {
            for s in series {
                println!("{} =>", s.labels.metric_display());
                for p in &s.floats {
                    println!("  {} @[{}]", format_api_float(p.f), format_api_timestamp(p.t));
                }
                for p in &s.histograms {
                    println!("  {} @[{}]", p.h.test_expression(), format_api_timestamp(p.t));
                }
            }
        }
    }
    for w in &r.warnings {
        eprintln!("{w}");
    }
    for i in &r.infos {
        eprintln!("{i}");
    }
}

pub fn explain(args: &ExplainArgs) -> ExitCode {
    let opts = match engine_options(&args.features) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let expr = match parse_with(&args.expr, &opts.parser) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let (start, end, step) = match query_times(&args.times, &MemStorage::new()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    match Engine::new(opts).plan(&expr, start, end, step) {
        Ok(plan) => {
            println!("{plan}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_time("1700000000.5"), Ok(1_700_000_000_500));
        assert_eq!(parse_time("5m"), Ok(300_000));
        assert_eq!(parse_time("1970-01-01T00:01:00Z"), Ok(60_000));
        assert_eq!(parse_time("2023-11-14T22:13:20.25Z"), Ok(1_700_000_000_250));
        assert_eq!(parse_time("2023-11-15T00:13:20+02:00"), Ok(1_700_000_000_000));
        assert!(parse_time("yesterday").is_err());
        assert_eq!(parse_step("15"), Ok(15_000));
        assert_eq!(parse_step("1m30s"), Ok(90_000));
    }
}
