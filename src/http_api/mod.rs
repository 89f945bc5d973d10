//! Prometheus's HTTP API (`/api/v1/…`) over any [`Storage`]: a request (method, path, form values)
//! in, the status code and exact JSON body Prometheus would answer out. No sockets here: the CLI's
//! `serve` and `run` carry requests to [`Api::handle`] over HTTP.
//!
//! ```
//! use std::sync::Arc;
//! use ferroprom::engine::{Engine, EngineOptions};
//! use ferroprom::http_api::{Api, Params, RequestContext};
//! use ferroprom::model::Labels;
//! use ferroprom::storage::MemStorage;
//!
//! let store = MemStorage::new();
//! store.append(&Labels::from_pairs([("__name__", "up"), ("job", "a")]), 0, 1.0)?;
//! let api = Api::new(Arc::new(Engine::new(EngineOptions::default())), Arc::new(store));
//! let params = Params::from_pairs([("query", "up"), ("time", "10")]);
//! let r = api.handle("GET", "/api/v1/query", &params, &RequestContext::now()).unwrap();
//! assert_eq!(r.status, 200);
//! assert_eq!(
//!     r.body,
//!     r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"up","job":"a"},"value":[10,"1"]}]}}"#
//! );
//! let r = api.handle("GET", "/api/v1/query", &Params::from_pairs([("query", "up +")]), &RequestContext::now()).unwrap();
//! assert_eq!((r.status, r.body.contains(r#""errorType":"bad_data""#)), (400, true));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Endpoints: `query`, `query_range` (GET and POST), `series`, `labels`, `label/<name>/values`,
//! `format_query`, `parse_query`, `status/buildinfo`, `rules` and `alerts`. Errors carry
//! Prometheus's `errorType` and status code: `bad_data` 400, `execution` 422, `canceled` 499,
//! `timeout` 503, `internal` 500, `not_found` 404.

mod ast_json;
mod params;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::api::{data_body, error_body, json_str, labels_object, query_body};
use crate::engine::{Engine, QueryError, QueryRequest, QueryStats};
use crate::exec::CancelToken;
use crate::model::{Labels, Matcher, Value};
use crate::rules::api::{RuleType, RulesFilter, alerts_json, rules_json_filtered};
use crate::rules::manager::Manager;
use crate::storage::{CountingStorage, SelectHints, Storage, StorageError};

pub use ast_json::parse_query_json;
pub use params::{
    MAX_TIME, MIN_TIME, Params, parse_duration_nanos, parse_limit, parse_match_sets, parse_time, time_param,
};

/// The most points per series a range query may ask for, as Prometheus's API allows.
pub const MAX_POINTS: i64 = 11_000;

/// The most warnings (and, separately, infos) a response lists, as Prometheus renders them.
const MAX_ANNOTATIONS: usize = 10;

/// What `/api/v1/status/buildinfo` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildInfo {
    /// The version.
    pub version: String,
    /// The source revision.
    pub revision: String,
    /// The source branch.
    pub branch: String,
    /// Who built it.
    pub build_user: String,
    /// When it was built.
    pub build_date: String,
    /// Prometheus reports its Go version here; ferroprom its language.
    pub go_version: String,
}

impl Default for BuildInfo {
    fn default() -> BuildInfo {
        BuildInfo {
            version: env!("CARGO_PKG_VERSION").to_string(),
            revision: String::new(),
            branch: String::new(),
            build_user: "ferroprom".to_string(),
            build_date: String::new(),
            go_version: "none (ferroprom is written in Rust)".to_string(),
        }
    }
}

/// An answer: status code, content type and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The HTTP status code.
    pub status: u16,
    /// The `Content-Type` header.
    pub content_type: &'static str,
    /// The body.
    pub body: String,
}

const JSON: &str = "application/json";
const TEXT: &str = "text/plain; charset=utf-8";

impl Response {
    fn json(status: u16, body: String) -> Response {
        Response { status, content_type: JSON, body }
    }

    fn text(status: u16, body: &str) -> Response {
        Response { status, content_type: TEXT, body: body.to_string() }
    }

    /// Prometheus's error envelope with the status code of `error_type`.
    pub fn error(error_type: &str, message: &str) -> Response {
        Response::json(status_of(error_type), error_body(error_type, message, &[]))
    }

    fn bad_data(message: &str) -> Response {
        Response::error("bad_data", message)
    }

    /// `invalid parameter "<name>": <why>` as `bad_data`.
    fn invalid(param: &str, why: impl std::fmt::Display) -> Response {
        Response::bad_data(&format!("invalid parameter {}: {why}", crate::model::go_quote(param)))
    }
}

/// The HTTP status Prometheus answers an `errorType` with.
pub fn status_of(error_type: &str) -> u16 {
    match error_type {
        "bad_data" => 400,
        "execution" => 422,
        "canceled" => 499,
        "timeout" | "unavailable" => 503,
        "not_found" => 404,
        "not_acceptable" => 406,
        _ => 500,
    }
}

/// What a request brings besides its parameters: when it arrived (for `execQueueTime`), the time
/// an instant query without `time` is evaluated at, and a token that cancels it.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// When the request was received.
    pub received: Instant,
    /// The current time in Unix milliseconds.
    pub now_ms: i64,
    /// Cancels the request's query (a client that hung up, a server shutting down).
    pub cancel: CancelToken,
}

impl RequestContext {
    /// A context for a request received now.
    pub fn now() -> RequestContext {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        RequestContext { received: Instant::now(), now_ms, cancel: CancelToken::new() }
    }
}

/// The API over one store and engine, optionally with a rule manager for `rules` and `alerts`.
pub struct Api {
    engine: Arc<Engine>,
    storage: Arc<dyn Storage>,
    rules: Option<Arc<Manager>>,
    build: BuildInfo,
}

impl std::fmt::Debug for Api {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Api").field("engine", &self.engine).field("rules", &self.rules.is_some()).finish()
    }
}

impl Api {
    /// The API over `storage`, evaluating with `engine`; `rules` and `alerts` answer empty lists.
    pub fn new(engine: Arc<Engine>, storage: Arc<dyn Storage>) -> Api {
        Api { engine, storage, rules: None, build: BuildInfo::default() }
    }

    /// Answers `rules` and `alerts` from `manager`.
    pub fn with_rules(mut self, manager: Arc<Manager>) -> Api {
        self.rules = Some(manager);
        self
    }

    /// Reports `build` at `status/buildinfo`.
    pub fn with_build_info(mut self, build: BuildInfo) -> Api {
        self.build = build;
        self
    }

    /// Answers a request for `path` (percent-encoded as received), or `None` when the path is
    /// not under `/api/v1/`. Unknown API paths get 404, wrong methods 405, `OPTIONS` 204.
    pub fn handle(
        &self,
        method: &str,
        path: &str,
        params: &Params,
        ctx: &RequestContext,
    ) -> Option<Response> {
        let path = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
        let endpoint = path.strip_prefix("/api/v1/")?;
        if method == "OPTIONS" {
            return Some(Response { status: 204, content_type: TEXT, body: String::new() });
        }
        let label_name = endpoint.strip_prefix("label/").and_then(|r| r.strip_suffix("/values"));
        let (post_ok, handler): (bool, &dyn Fn() -> Response) = match (endpoint, label_name) {
            ("query", _) => (true, &|| self.query(params, ctx, false)),
            ("query_range", _) => (true, &|| self.query(params, ctx, true)),
            ("format_query", _) => (true, &|| self.format_query(params)),
            ("parse_query", _) => (true, &|| self.parse_query(params)),
            ("series", _) => (true, &|| self.series(params)),
            ("labels", _) => (true, &|| self.labels(params)),
            (_, Some(name)) => (false, &|| self.label_values(name, params)),
            ("status/buildinfo", _) => (false, &|| self.build_info()),
            ("rules", _) => (false, &|| self.rules(params)),
            ("alerts", _) => (false, &|| self.alerts()),
            _ => return Some(Response::text(404, "404 page not found\n")),
        };
        Some(match method {
            "GET" => handler(),
            "POST" if post_ok => handler(),
            _ => Response::text(405, "Method Not Allowed\n"),
        })
    }

    fn query(&self, p: &Params, ctx: &RequestContext, range: bool) -> Response {
        match self.try_query(p, ctx, range) {
            Ok(r) | Err(r) => r,
        }
    }

    fn try_query(&self, p: &Params, ctx: &RequestContext, range: bool) -> Result<Response, Response> {
        let limit = parse_limit(p.get("limit")).map_err(|e| Response::invalid("limit", e))?;
        let (start, end, step) = if range {
            let start = parse_time(p.get("start")).map_err(|e| Response::invalid("start", e))?;
            let end = parse_time(p.get("end")).map_err(|e| Response::invalid("end", e))?;
            if end < start {
                return Err(Response::invalid("end", "end timestamp must not be before start time"));
            }
            let step = parse_duration_nanos(p.get("step")).map_err(|e| Response::invalid("step", e))?;
            if step <= 0 {
                return Err(Response::invalid(
                    "step",
                    "zero or negative query resolution step widths are not accepted. Try a positive integer",
                ));
            }
            let span_nanos = (i128::from(end) - i128::from(start)) * 1_000_000;
            if span_nanos / i128::from(step) > i128::from(MAX_POINTS) {
                return Err(Response::bad_data(
                    "exceeded maximum resolution of 11,000 points per timeseries. Try decreasing the query resolution (?step=XX)",
                ));
            }
            (start, end, step / 1_000_000)
        } else {
            let t = time_param(p, "time", ctx.now_ms).map_err(|e| Response::invalid("time", e))?;
            (t, t, 0)
        };
        let deadline = match p.get("timeout") {
            "" => None,
            to => {
                let ns = parse_duration_nanos(to).map_err(|e| Response::invalid("timeout", e))?;
                let now = Instant::now();
                Some(now.checked_add(Duration::from_nanos(ns.max(0).unsigned_abs())).unwrap_or(now))
            }
        };
        let lookback_delta = match p.get("lookback_delta") {
            "" => None,
            s => {
                let ns = parse_duration_nanos(s).map_err(|e| {
                    Response::bad_data(&format!("error parsing lookback delta duration: {e}"))
                })?;
                (ns > 0).then(|| Duration::from_nanos(ns.unsigned_abs()))
            }
        };
        let text = p.get("query");
        let expr = crate::parser::parse_with(text, &self.engine.options().parser)
            .map_err(|e| Response::invalid("query", e))?;
        let counting = CountingStorage::new(&*self.storage);
        let began = Instant::now();
        let req = QueryRequest {
            expr: &expr,
            text,
            start,
            end,
            step,
            lookback_delta,
            deadline,
            cancel: ctx.cancel.clone(),
            sample_stats: !p.get("stats").is_empty(),
        };
        let (result, stats) = self.engine.execute(&counting, &req).map_err(|e| match e {
            QueryError::Parse(_) | QueryError::Invalid(_) => Response::invalid("query", e),
            e => Response::error(e.error_type(), &e.to_string()),
        })?;
        let mut warnings = capped(result.warnings, "warning");
        let infos = capped(result.infos, "info");
        let mut value = result.value;
        let truncated = match &mut value {
            Value::Vector(v) if limit > 0 && v.len() > limit => {
                v.truncate(limit);
                true
            }
            Value::Matrix(m) if limit > 0 && m.len() > limit => {
                m.truncate(limit);
                true
            }
            _ => false,
        };
        if truncated {
            warnings.push("results truncated due to limit".to_string());
        }
        Ok(self.query_response(&value, p, ctx, began, stats, &counting, warnings, infos))
    }

    #[allow(clippy::too_many_arguments)]
    fn query_response(
        &self,
        value: &Value,
        p: &Params,
        ctx: &RequestContext,
        began: Instant,
        stats: QueryStats,
        counting: &CountingStorage<'_>,
        mut warnings: Vec<String>,
        infos: Vec<String>,
    ) -> Response {
        let stats_param = p.get("stats");
        if !matches!(stats_param, "" | "true" | "all") {
            warnings.push(format!(
                "value {} for parameter \"stats\" is deprecated and will be rejected in the next major release, use \"true\" or \"all\"",
                crate::model::go_quote(stats_param)
            ));
        }
        let stats_json = (!stats_param.is_empty()).then(|| {
            let read = counting.samples();
            stats_json(&stats, began - ctx.received, ctx.received.elapsed(), read)
        });
        Response::json(200, query_body(value, stats_json.as_deref(), &warnings, &infos))
    }

    fn format_query(&self, p: &Params) -> Response {
        match crate::parser::parse_with(p.get("query"), &self.engine.options().parser) {
            Ok(e) => Response::json(200, data_body(&json_str(&crate::parser::prettify(&e)), &[])),
            Err(e) => Response::invalid("query", e),
        }
    }

    fn parse_query(&self, p: &Params) -> Response {
        match crate::parser::parse_with(p.get("query"), &self.engine.options().parser) {
            Ok(e) => Response::json(200, data_body(&parse_query_json(&e), &[])),
            Err(e) => Response::invalid("query", e),
        }
    }

    /// `start`, `end` (defaults: Prometheus's MinTime/MaxTime), `limit` and `match[]`.
    fn range_and_matchers(
        &self,
        p: &Params,
        match_error: impl Fn(String) -> Response,
    ) -> Result<Selection, Response> {
        let limit = parse_limit(p.get("limit")).map_err(|e| Response::invalid("limit", e))?;
        let start = time_param(p, "start", MIN_TIME).map_err(|e| Response::invalid("start", e))?;
        let end = time_param(p, "end", MAX_TIME).map_err(|e| Response::invalid("end", e))?;
        let sets = parse_match_sets(&p.all("match[]"), &self.engine.options().parser).map_err(match_error)?;
        Ok(Selection { start, end, limit, sets })
    }

    fn series(&self, p: &Params) -> Response {
        if p.all("match[]").is_empty() {
            return Response::bad_data("no match[] parameter provided");
        }
        let Selection { start, end, limit, sets } =
            match self.range_and_matchers(p, |e| Response::invalid("match[]", e)) {
                Ok(x) => x,
                Err(r) => return r,
            };
        let hints = SelectHints { start, end, func: Some("series".into()), ..SelectHints::default() };
        let mut found: BTreeSet<Labels> = BTreeSet::new();
        for set in &sets {
            match self.storage.select(set, &hints) {
                Ok(series) => found.extend(series.into_iter().map(|s| s.labels)),
                Err(e) => return Response::error("execution", &e.to_string()),
            }
        }
        let mut warnings = Vec::new();
        let mut list: Vec<Labels> = found.into_iter().collect();
        truncate(&mut list, limit, &mut warnings);
        let data = format!("[{}]", list.iter().map(labels_object).collect::<Vec<_>>().join(","));
        Response::json(200, data_body(&data, &warnings))
    }

    fn labels(&self, p: &Params) -> Response {
        let Selection { start, end, limit, sets } =
            match self.range_and_matchers(p, |e| Response::bad_data(&e)) {
                Ok(x) => x,
                Err(r) => return r,
            };
        let names = union(&sets, |m| self.storage.label_names(m, start, end));
        strings_response(names, limit)
    }

    fn label_values(&self, name: &str, p: &Params) -> Response {
        let name = unescape_name(name);
        if name.is_empty() {
            return Response::bad_data(&format!("invalid label name: {}", crate::model::go_quote(&name)));
        }
        let Selection { start, end, limit, sets } =
            match self.range_and_matchers(p, |e| Response::bad_data(&e)) {
                Ok(x) => x,
                Err(r) => return r,
            };
        let values = union(&sets, |m| self.storage.label_values(&name, m, start, end));
        strings_response(values, limit)
    }

    fn build_info(&self) -> Response {
        let b = &self.build;
        let data = format!(
            r#"{{"version":{},"revision":{},"branch":{},"buildUser":{},"buildDate":{},"goVersion":{}}}"#,
            json_str(&b.version),
            json_str(&b.revision),
            json_str(&b.branch),
            json_str(&b.build_user),
            json_str(&b.build_date),
            json_str(&b.go_version)
        );
        Response::json(200, data_body(&data, &[]))
    }

    fn rules(&self, p: &Params) -> Response {
        let filter = match rules_filter(p) {
            Ok(f) => f,
            Err(message) => return Response::bad_data(&message),
        };
        let data = match &self.rules {
            Some(m) => m.with_groups(|groups| rules_json_filtered(groups, &filter)),
            None => rules_json_filtered(&[], &filter),
        };
        Response::json(200, data_body(&data, &[]))
    }

    fn alerts(&self) -> Response {
        let data = match &self.rules {
            Some(m) => m.with_groups(alerts_json),
            None => alerts_json(&[]),
        };
        Response::json(200, data_body(&data, &[]))
    }
}

/// What `series`, `labels` and label values select: a time range, a limit and matcher sets.
struct Selection {
    start: i64,
    end: i64,
    limit: usize,
    sets: Vec<Vec<Matcher>>,
}

/// Label names or values of every matcher set (all series when there is none), sorted and
/// distinct.
fn union(
    sets: &[Vec<Matcher>],
    mut get: impl FnMut(&[Matcher]) -> Result<Vec<String>, StorageError>,
) -> Result<Vec<String>, StorageError> {
    if sets.len() <= 1 {
        return get(sets.first().map_or(&[], |s| s.as_slice()));
    }
    let mut all = BTreeSet::new();
    for set in sets {
        all.extend(get(set)?);
    }
    Ok(all.into_iter().collect())
}

fn strings_response(list: Result<Vec<String>, StorageError>, limit: usize) -> Response {
    match list {
        Ok(mut list) => {
            let mut warnings = Vec::new();
            truncate(&mut list, limit, &mut warnings);
            let data = format!("[{}]", list.iter().map(|s| json_str(s)).collect::<Vec<_>>().join(","));
            Response::json(200, data_body(&data, &warnings))
        }
        Err(e) => Response::error("execution", &e.to_string()),
    }
}

fn truncate<T>(list: &mut Vec<T>, limit: usize, warnings: &mut Vec<String>) {
    if limit > 0 && list.len() > limit {
        list.truncate(limit);
        warnings.push("results truncated due to limit".to_string());
    }
}

/// At most [`MAX_ANNOTATIONS`] annotations, then `N more <kind> annotations omitted`.
fn capped(mut list: Vec<String>, kind: &str) -> Vec<String> {
    if list.len() > MAX_ANNOTATIONS {
        let omitted = list.len() - MAX_ANNOTATIONS;
        list.truncate(MAX_ANNOTATIONS);
        list.push(format!("{omitted} more {kind} annotations omitted"));
    }
    list
}

/// A label name as the API receives it in a path: `U__` names are unescaped (`_`, a hex code point
/// and `_` for a character, `__` for `_`), as Prometheus's value-encoding escaping writes them. A
/// name that does not unescape cleanly stays as it is.
fn unescape_name(name: &str) -> String {
    let Some(rest) = name.strip_prefix("U__") else { return name.to_string() };
    let mut out = String::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '_' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'_') {
            chars.next();
            out.push('_');
            continue;
        }
        let mut hex = String::new();
        loop {
            match chars.next() {
                Some('_') => break,
                Some(h) if h.is_ascii_hexdigit() => hex.push(h),
                _ => return name.to_string(),
            }
        }
        match u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32) {
            Some(c) => out.push(c),
            None => return name.to_string(),
        }
    }
    out
}

/// The query statistics object of `stats=all`: Prometheus's `timings` (seconds) and `samples`.
/// `totalQueryableSamples` and `peakSamples` are Prometheus's numbers (see
/// [`accounting`](crate::exec::accounting)); `samplesRead` counts the samples the store returned
/// to the query's selectors.
fn stats_json(stats: &QueryStats, queue: Duration, total: Duration, read: u64) -> String {
    format!(
        concat!(
            r#"{{"timings":{{"evalTotalTime":{},"resultSortTime":0,"queryPreparationTime":{},"#,
            r#""innerEvalTime":{},"execQueueTime":{},"execTotalTime":{}}},"#,
            r#""samples":{{"totalQueryableSamples":{},"samplesRead":{},"peakSamples":{}}}}}"#
        ),
        stats.eval_total.as_secs_f64(),
        stats.preparation.as_secs_f64(),
        stats.inner_eval.as_secs_f64(),
        queue.as_secs_f64(),
        total.as_secs_f64(),
        stats.total_samples,
        read,
        stats.peak_samples
    )
}

/// The query parameters of `/api/v1/rules` (`type`, `rule_name[]`, `rule_group[]`, `file[]`,
/// `exclude_alerts`), with Prometheus's error texts.
///
/// # Errors
///
/// `invalid parameter "<name>": …` for values Prometheus rejects and for the pagination and
/// `match[]` parameters ferroprom does not support.
pub fn rules_filter(params: &Params) -> Result<RulesFilter, String> {
    let invalid =
        |param: &str, why: String| format!("invalid parameter {}: {why}", crate::model::go_quote(param));
    let kind = match params.get("type").to_lowercase().as_str() {
        "" => None,
        "alert" => Some(RuleType::Alerting),
        "record" => Some(RuleType::Recording),
        other => {
            return Err(invalid("type", format!("not supported value {}", crate::model::go_quote(other))));
        }
    };
    let exclude_alerts = match params.get("exclude_alerts").to_lowercase().as_str() {
        "" | "0" | "f" | "false" => false,
        "1" | "t" | "true" => true,
        other => {
            let why = format!(
                "error converting exclude_alerts: strconv.ParseBool: parsing {}: invalid syntax",
                crate::model::go_quote(other)
            );
            return Err(invalid("exclude_alerts", why));
        }
    };
    let set = |name: &str| params.all(name).into_iter().map(String::from).collect();
    let filter = RulesFilter {
        kind,
        rule_names: set("rule_name[]"),
        rule_groups: set("rule_group[]"),
        files: set("file[]"),
        exclude_alerts,
    };
    for unsupported in ["match[]", "group_limit", "group_next_token"] {
        if !params.all(unsupported).is_empty() {
            return Err(invalid(unsupported, "not supported by ferroprom".to_string()));
        }
    }
    Ok(filter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_filter_parameters() {
        let p = Params::from_query_and_body(
            "type=ALERT&rule_name[]=a%20b&rule_group[]=g&file[]=f.yml&exclude_alerts=true",
            b"",
        );
        let f = rules_filter(&p).unwrap_or_default();
        assert_eq!(f.kind, Some(RuleType::Alerting));
        assert!(f.rule_names.contains("a b") && f.rule_groups.contains("g") && f.files.contains("f.yml"));
        assert!(f.exclude_alerts);
        assert_eq!(
            rules_filter(&Params::from_pairs([("type", "x")])).err().as_deref(),
            Some(r#"invalid parameter "type": not supported value "x""#)
        );
        assert!(rules_filter(&Params::from_pairs([("match[]", "up")])).is_err());
    }

    #[test]
    fn escaped_label_names() {
        assert_eq!(unescape_name("job"), "job");
        assert_eq!(unescape_name("U__my_2e_name"), "my.name");
        assert_eq!(unescape_name("U__a__b"), "a_b");
        assert_eq!(unescape_name("U__bad_zz_"), "U__bad_zz_");
    }
}
