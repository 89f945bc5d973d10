//! Writes ferroprom's answers to a query list as JSON lines in the format of the Prometheus oracle
//! (`../shared/tools/oracle/prom_oracle.py run`), so that its `compare` sub-command can diff the two.
//!
//! ```text
//! cargo run --release --example oracle_answers -- --data DATA --queries QUERIES.json --out OUT.jsonl
//! ```
//!
//! `DATA` is anything `ferroprom::datafile` reads (promqltest `load` text or text exposition).
//! Instead of `--data`, `--remote-read URL` answers from a remote-read endpoint (`.ci/interop-remote`),
//! accepting streamed chunks; `--remote-read-samples URL` accepts only plain samples.
//! `QUERIES.json` is a JSON list of objects as the oracle reads them, with explicit times:
//! `{"query": "...", "times": [1807.3, ...], "start": 600.5, "end": 7190.5, "step": 60}`; times and
//! steps are Unix seconds (numbers or numeric strings), `kind` is `instant`, `range` or `both` (the
//! default is inferred as the oracle does). Used by `.ci/oracle`; see `testdata/oracle/README.md`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use ferroprom::api::{error_body, success_body};
use ferroprom::engine::{Engine, EngineOptions, QueryResult};
use serde_json::{Map, Value as Json, json};

enum Source {
    Data(PathBuf),
    RemoteRead(String, bool),
}

struct Args {
    source: Source,
    queries: PathBuf,
    out: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut data = None;
    let mut remote = None;
    let mut queries = None;
    let mut out = None;
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--data" => data = Some(Source::Data(PathBuf::from(value))),
            "--remote-read" => remote = Some(Source::RemoteRead(value, true)),
            "--remote-read-samples" => remote = Some(Source::RemoteRead(value, false)),
            "--queries" => queries = Some(PathBuf::from(value)),
            "--out" => out = Some(PathBuf::from(value)),
            _ => return Err(format!("unknown flag {flag}")),
        }
    }
    Ok(Args {
        source: data.or(remote).ok_or("--data or --remote-read is required")?,
        queries: queries.ok_or("--queries is required")?,
        out: out.ok_or("--out is required")?,
    })
}

/// Seconds (a JSON number or numeric string) → milliseconds, rounded as the oracle rounds them.
fn millis(v: &Json) -> Result<i64, String> {
    let secs = match v {
        Json::Number(n) => n.as_f64().ok_or_else(|| format!("bad number {n}"))?,
        Json::String(s) => s.trim().parse::<f64>().map_err(|e| format!("bad time {s:?}: {e}"))?,
        other => return Err(format!("bad time {other}")),
    };
    Ok((secs * 1000.0).round() as i64)
}

/// The oracle's JSON form of a time in ms: an integer when whole seconds, else a float.
fn time_json(ms: i64) -> Json {
    if ms % 1000 == 0 { json!(ms / 1000) } else { json!(ms as f64 / 1000.0) }
}

enum Kind {
    Instant(i64),
    Range { start: i64, end: i64, step: i64 },
}

fn expand(item: &Json) -> Result<(String, Vec<Kind>), String> {
    let query = item.get("query").and_then(Json::as_str).ok_or("query object without \"query\"")?;
    let has_time = item.get("time").is_some() || item.get("times").is_some();
    let has_range = ["start", "end", "step"].iter().any(|k| item.get(k).is_some());
    let kind = match item.get("kind").and_then(Json::as_str) {
        Some(k) => k,
        None if has_range && !has_time => "range",
        None => "instant",
    };
    let mut out = Vec::new();
    if kind == "instant" || kind == "both" {
        let times: Vec<&Json> = match (item.get("times"), item.get("time")) {
            (Some(Json::Array(ts)), _) => ts.iter().collect(),
            (_, Some(t)) => vec![t],
            _ => return Err(format!("{query}: no time (this tool needs explicit times)")),
        };
        for t in times {
            out.push(Kind::Instant(millis(t)?));
        }
    }
    if kind == "range" || kind == "both" {
        let field = |k: &str| item.get(k).ok_or_else(|| format!("{query}: no {k}")).and_then(millis);
        out.push(Kind::Range { start: field("start")?, end: field("end")?, step: field("step")? });
    }
    if out.is_empty() {
        return Err(format!("{query}: bad kind {kind:?}"));
    }
    Ok((query.to_string(), out))
}

/// `sort(...)`/`sort_desc(...)` at the top keep the server's order, as in the oracle.
fn order_matters(query: &str) -> bool {
    let q = query.trim_start();
    ["sort", "sort_desc"]
        .iter()
        .any(|f| q.strip_prefix(f).is_some_and(|rest| rest.trim_start().starts_with('(')))
}

fn label_pairs(series: &Json) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = series
        .get("metric")
        .and_then(Json::as_object)
        .map(|m| m.iter().map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string())).collect())
        .unwrap_or_default();
    pairs.sort();
    pairs
}

fn record(query: &str, kind: &Kind, answer: Result<QueryResult, String>) -> Json {
    let mut rec = Map::new();
    rec.insert("query".into(), json!(query));
    match kind {
        Kind::Instant(t) => {
            rec.insert("kind".into(), json!("instant"));
            rec.insert("time".into(), time_json(*t));
        }
        Kind::Range { start, end, step } => {
            rec.insert("kind".into(), json!("range"));
            rec.insert(
                "range".into(),
                json!({"start": time_json(*start), "end": time_json(*end), "step": time_json(*step)}),
            );
        }
    }
    let ordered = order_matters(query);
    let body = match answer {
        Ok(result) => success_body(&result.value, &result.warnings, &result.infos),
        Err(body) => body,
    };
    let body: Json =
        serde_json::from_str(&body).unwrap_or_else(|e| json!({"status": "error", "error": e.to_string()}));
    let data = body.get("data").cloned().unwrap_or(Json::Null);
    let result_type = data.get("resultType").cloned().unwrap_or(Json::Null);
    let mut result = data.get("result").cloned().unwrap_or(Json::Null);
    if !ordered && let Json::Array(series) = &mut result {
        series.sort_by_cached_key(label_pairs);
    }
    rec.insert("status".into(), body.get("status").cloned().unwrap_or(Json::Null));
    rec.insert("resultType".into(), result_type);
    rec.insert("ordered".into(), json!(ordered));
    rec.insert("result".into(), result);
    rec.insert("error".into(), body.get("error").cloned().unwrap_or(Json::Null));
    rec.insert("errorType".into(), body.get("errorType").cloned().unwrap_or(Json::Null));
    if let Some(w) = body.get("warnings") {
        rec.insert("warnings".into(), w.clone());
    }
    Json::Object(rec)
}

fn run(args: &Args) -> Result<usize, String> {
    let store: Box<dyn ferroprom::storage::Storage> = match &args.source {
        Source::Data(path) => Box::new(ferroprom::datafile::load_file(path).map_err(|e| e.to_string())?),
        Source::RemoteRead(url, streamed) => {
            let opts = ferroprom::remote::RemoteReadOptions { streamed: *streamed, ..Default::default() };
            Box::new(ferroprom::remote::RemoteReadStorage::new(url, opts).map_err(|e| e.to_string())?)
        }
    };
    let text =
        std::fs::read_to_string(&args.queries).map_err(|e| format!("{}: {e}", args.queries.display()))?;
    let items: Vec<Json> =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", args.queries.display()))?;
    // The oracle's server flags: 5m lookback, 50M samples, 2m timeout, 1m default subquery step.
    let engine = Engine::new(EngineOptions::default());
    let mut out = std::io::BufWriter::new(
        std::fs::File::create(&args.out).map_err(|e| format!("{}: {e}", args.out.display()))?,
    );
    let mut n = 0;
    for item in &items {
        let (query, kinds) = expand(item)?;
        for kind in &kinds {
            let answer = match kind {
                Kind::Instant(t) => engine.instant_query(store.as_ref(), &query, *t),
                Kind::Range { start, end, step } => {
                    engine.range_query(store.as_ref(), &query, *start, *end, *step)
                }
            };
            let rec =
                record(&query, kind, answer.map_err(|e| error_body(e.error_type(), &e.to_string(), &[])));
            writeln!(out, "{rec}").map_err(|e| e.to_string())?;
            n += 1;
        }
    }
    out.flush().map_err(|e| e.to_string())?;
    Ok(n)
}

fn main() -> ExitCode {
    let result = parse_args().and_then(|args| run(&args));
    match result {
        Ok(n) => {
            eprintln!("{n} records written");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("oracle_answers: {e}");
            ExitCode::FAILURE
        }
    }
}
