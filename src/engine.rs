//! The query engine: parse, plan, evaluate, assemble the result.
//!
//! ```
//! use ferroprom::engine::{Engine, EngineOptions};
//! use ferroprom::model::{Labels, Value};
//! use ferroprom::storage::MemStorage;
//!
//! let store = MemStorage::new();
//! let up = Labels::from_pairs([("__name__", "up"), ("job", "node")]);
//! store.append(&up, 0, 1.0)?;
//! let engine = Engine::new(EngineOptions::default());
//! let result = engine.instant_query(&store, "sum(up)", 60_000)?;
//! match result.value {
//!     Value::Vector(v) => assert_eq!(v[0].f, 1.0),
//!     other => panic!("unexpected {other:?}"),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::exec::accounting::{NodeKind, Summary};
use crate::exec::{
    Annotations, BoxOp, CancelToken, EvalError, ExecContext, Grid, Limits, Parallelism, build, final_labels,
};
use crate::model::{FPoint, HPoint, Labels, Sample, Series, Value};
use crate::parser::{Expr, ParseOptions, ValueType};
use crate::plan::{Node, Plan, PlanOptions, QueryParams, plan};
use crate::storage::Storage;

/// Options of an [`Engine`], mirroring Prometheus's `EngineOpts`.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// How far back an instant selector looks for a sample (default 5m).
    pub lookback_delta: Duration,
    /// The most samples a query may hold in memory (default 50,000,000).
    pub max_samples: usize,
    /// The longest a query may run (default 2m); `None` for no limit.
    pub timeout: Option<Duration>,
    /// Threads used for one query (1 = the calling thread only).
    pub threads: usize,
    /// Accept the `@` modifier (default on, as in Prometheus 3).
    pub enable_at_modifier: bool,
    /// Accept negative offsets (default on).
    pub enable_negative_offset: bool,
    /// Remove `__name__` at the end of the query instead of when a function drops it.
    pub delayed_name_removal: bool,
    /// Parser feature switches.
    pub parser: ParseOptions,
    /// The resolution of subqueries written without a step (default 1m).
    pub no_step_subquery_interval: Duration,
    /// The most points per series a range query may produce (default 11,000).
    pub max_steps: usize,
    /// Run the plan optimiser (default on).
    pub optimize: bool,
    /// Use samples' start timestamps to detect counter resets and starts
    /// (Prometheus's `UseStartTimestamps`; default off).
    pub use_start_timestamps: bool,
    /// Try the series-major evaluator (`exec::dense`) before the operator path (default on; off
    /// to compare the two).
    pub dense: bool,
}

impl Default for EngineOptions {
    fn default() -> EngineOptions {
        EngineOptions {
            lookback_delta: Duration::from_secs(300),
            max_samples: 50_000_000,
            timeout: Some(Duration::from_secs(120)),
            threads: 1,
            enable_at_modifier: true,
            enable_negative_offset: true,
            delayed_name_removal: false,
            parser: ParseOptions::default(),
            no_step_subquery_interval: Duration::from_secs(60),
            max_steps: 11_000,
            optimize: true,
            use_start_timestamps: false,
            dense: true,
        }
    }
}

/// The result of a query: its value and the annotations raised.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    /// The value.
    pub value: Value,
    /// Warnings, rendered as Prometheus does (`PromQL warning: ... (line:col)`).
    pub warnings: Vec<String>,
    /// Infos, rendered likewise.
    pub infos: Vec<String>,
}

/// Why a query failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The query text did not parse.
    #[error("{0}")]
    Parse(#[from] crate::parser::ParseError),
    /// The query is invalid for this kind of query or these options.
    #[error("{0}")]
    Invalid(String),
    /// Evaluation failed.
    #[error("{0}")]
    Eval(#[from] EvalError),
}

impl QueryError {
    /// The `errorType` Prometheus's HTTP API reports for this error.
    pub fn error_type(&self) -> &'static str {
        match self {
            QueryError::Parse(_) | QueryError::Invalid(_) => "bad_data",
            QueryError::Eval(EvalError::Timeout(_)) => "timeout",
            QueryError::Eval(EvalError::Canceled(_)) => "canceled",
            QueryError::Eval(EvalError::Storage(_)) => "internal",
            QueryError::Eval(_) => "execution",
        }
    }
}

/// One query with the settings a caller may give per request (Prometheus's `QueryOpts` and the HTTP
/// API's `timeout`), for [`Engine::execute`].
#[derive(Debug, Clone)]
pub struct QueryRequest<'a> {
    /// The parsed expression.
    pub expr: &'a Expr,
    /// The query text annotations point into.
    pub text: &'a str,
    /// Evaluation time of an instant query, or the first step of a range query (ms).
    pub start: i64,
    /// The last step of a range query (ms); equal to `start` for an instant query.
    pub end: i64,
    /// The step of a range query (ms); 0 for an instant query.
    pub step: i64,
    /// Overrides the engine's lookback delta when set and positive.
    pub lookback_delta: Option<Duration>,
    /// Stops the query at this instant, or at the engine's timeout when that comes first.
    pub deadline: Option<Instant>,
    /// Cancels the query from another thread.
    pub cancel: CancelToken,
    /// Whether the statistics must carry Prometheus's sample counts (`peakSamples`,
    /// `totalQueryableSamples`): the operator path then answers. When false, the series-major
    /// evaluator may answer and leaves both counts 0 ([`QueryStats::dense`]).
    pub sample_stats: bool,
}

impl<'a> QueryRequest<'a> {
    /// A request with the engine's defaults: its lookback delta and timeout, no cancellation
    /// from outside, no sample statistics.
    pub fn new(expr: &'a Expr, text: &'a str, start: i64, end: i64, step: i64) -> QueryRequest<'a> {
        QueryRequest {
            expr,
            text,
            start,
            end,
            step,
            lookback_delta: None,
            deadline: None,
            cancel: CancelToken::default(),
            sample_stats: false,
        }
    }
}

/// What one query cost, as far as the engine counts it: the basis of the HTTP API's `stats`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueryStats {
    /// Planning time (Prometheus's `queryPreparationTime`).
    pub preparation: Duration,
    /// Building and draining the operators and assembling the value (`innerEvalTime`).
    pub inner_eval: Duration,
    /// Planning and evaluation together (`evalTotalTime`).
    pub eval_total: Duration,
    /// The most samples the query held in memory at once, as Prometheus counts them
    /// (`peakSamples`, see [`accounting`](crate::exec::accounting)).
    pub peak_samples: i64,
    /// The samples the query's selectors loaded, per step (`totalQueryableSamples`).
    pub total_samples: i64,
    /// Whether the series-major evaluator answered (rather than the operator path); it leaves
    /// `peak_samples` and `total_samples` 0 and answers only when the sample limit cannot be
    /// reached.
    pub dense: bool,
}

/// A PromQL engine.
#[derive(Debug)]
pub struct Engine {
    opts: EngineOptions,
    parallelism: Parallelism,
}

impl Engine {
    /// An engine with the given options.
    pub fn new(opts: EngineOptions) -> Engine {
        let parallelism = Parallelism::new(opts.threads);
        Engine { opts, parallelism }
    }

    /// The engine's options.
    pub fn options(&self) -> &EngineOptions {
        &self.opts
    }

    /// Evaluates `query` at time `t` (ms).
    ///
    /// # Errors
    ///
    /// Parse errors, Prometheus's evaluation errors, limits.
    pub fn instant_query(
        &self,
        storage: &dyn Storage,
        query: &str,
        t: i64,
    ) -> Result<QueryResult, QueryError> {
        let expr = crate::parser::parse_with(query, &self.opts.parser)?;
        self.instant_query_expr(storage, &expr, query, t, &CancelToken::new())
    }

    /// Evaluates `query` at every step from `start` to `end` (ms).
    ///
    /// # Errors
    ///
    /// Parse errors, a query whose type is not scalar or instant vector, Prometheus's evaluation
    /// errors, limits.
    pub fn range_query(
        &self,
        storage: &dyn Storage,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<QueryResult, QueryError> {
        let expr = crate::parser::parse_with(query, &self.opts.parser)?;
        self.range_query_expr(storage, &expr, query, start, end, step, &CancelToken::new())
    }

    /// Like [`Engine::instant_query`] for a parsed expression; `query` is the text annotations
    /// point into, and `cancel` can stop the query from another thread.
    ///
    /// # Errors
    ///
    /// As [`Engine::instant_query`].
    pub fn instant_query_expr(
        &self,
        storage: &dyn Storage,
        expr: &Expr,
        query: &str,
        t: i64,
        cancel: &CancelToken,
    ) -> Result<QueryResult, QueryError> {
        let params = self.params(t, t, 0);
        self.run(storage, expr, query, params, self.deadline(None), cancel, false).map(|(r, _)| r)
    }

    /// Like [`Engine::range_query`] for a parsed expression.
    ///
    /// # Errors
    ///
    /// As [`Engine::range_query`].
    #[allow(clippy::too_many_arguments)]
    pub fn range_query_expr(
        &self,
        storage: &dyn Storage,
        expr: &Expr,
        query: &str,
        start: i64,
        end: i64,
        step: i64,
        cancel: &CancelToken,
    ) -> Result<QueryResult, QueryError> {
        self.check_range(expr, start, end, step)?;
        let params = self.params(start, end, step);
        self.run(storage, expr, query, params, self.deadline(None), cancel, false).map(|(r, _)| r)
    }

    /// Runs one query with per-request settings ([`QueryRequest`]): an instant query when
    /// `step` is 0, a range query otherwise; returns the result and its statistics.
    ///
    /// # Errors
    ///
    /// As [`Engine::instant_query`] and [`Engine::range_query`].
    pub fn execute(
        &self,
        storage: &dyn Storage,
        req: &QueryRequest<'_>,
    ) -> Result<(QueryResult, QueryStats), QueryError> {
        if req.step != 0 {
            self.check_range(req.expr, req.start, req.end, req.step)?;
        }
        let mut params = self.params(req.start, req.end, req.step);
        if let Some(l) = req.lookback_delta.filter(|l| !l.is_zero()) {
            params.lookback = i64::try_from(l.as_millis()).unwrap_or(i64::MAX);
        }
        self.run(
            storage,
            req.expr,
            req.text,
            params,
            self.deadline(req.deadline),
            &req.cancel,
            req.sample_stats,
        )
    }

    /// The earlier of `deadline` and the engine's timeout from now.
    fn deadline(&self, deadline: Option<Instant>) -> Option<Instant> {
        let own = self.opts.timeout.and_then(|d| Instant::now().checked_add(d));
        match (own, deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The checks of a range query's type and grid.
    fn check_range(&self, expr: &Expr, start: i64, end: i64, step: i64) -> Result<(), QueryError> {
        let t = expr.value_type();
        if t != ValueType::Scalar && t != ValueType::Vector {
            return Err(QueryError::Invalid(format!(
                "invalid expression type \"{}\" for range query, must be Scalar or instant Vector",
                t.document_name()
            )));
        }
        if step <= 0 {
            return Err(QueryError::Invalid(
                "zero or negative query resolution step widths are not accepted. Try a positive integer"
                    .into(),
            ));
        }
        if end < start {
            return Err(QueryError::Invalid("end timestamp must not be before start time".into()));
        }
        if (end - start) / step >= self.opts.max_steps as i64 {
            return Err(QueryError::Invalid(format!(
                "exceeded maximum resolution of {} points per timeseries. Try decreasing the query resolution (?step=XX)",
                self.opts.max_steps
            )));
        }
        Ok(())
    }

    /// The plan of `expr` for a query with the given parameters (the `EXPLAIN` text is its
    /// `Display`).
    ///
    /// # Errors
    ///
    /// Invalid durations or disabled features.
    pub fn plan(&self, expr: &Expr, start: i64, end: i64, step: i64) -> Result<Plan, QueryError> {
        plan(expr, self.params(start, end, step), self.plan_options()).map_err(|e| QueryError::Invalid(e.0))
    }

    fn plan_options(&self) -> PlanOptions {
        PlanOptions {
            enable_at_modifier: self.opts.enable_at_modifier,
            enable_negative_offset: self.opts.enable_negative_offset,
            optimize: self.opts.optimize,
        }
    }

    fn params(&self, start: i64, end: i64, step: i64) -> QueryParams {
        QueryParams {
            start,
            end,
            step,
            lookback: self.opts.lookback_delta.as_millis() as i64,
            default_subquery_step: self.opts.no_step_subquery_interval.as_millis() as i64,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn run(
        &self,
        storage: &dyn Storage,
        expr: &Expr,
        query: &str,
        params: QueryParams,
        deadline: Option<Instant>,
        cancel: &CancelToken,
        exact_stats: bool,
    ) -> Result<(QueryResult, QueryStats), QueryError> {
        let began = Instant::now();
        let p = plan(expr, params, self.plan_options()).map_err(|e| QueryError::Invalid(e.0))?;
        let planned = Instant::now();
        let limits = Limits::new(self.opts.max_samples as i64, deadline, cancel.clone());
        let annotations = Mutex::new(Annotations::default());
        let ctx = ExecContext {
            storage,
            lookback: params.lookback,
            delayed_name_removal: self.opts.delayed_name_removal,
            use_start_timestamps: self.opts.use_start_timestamps,
            limits: &limits,
            annotations: &annotations,
            parallelism: &self.parallelism,
            query_start: params.start,
        };
        let (value, samples, dense) = evaluate(&ctx, &p, self.opts.dense && !exact_stats)?;
        if samples.peak > limits.max_samples {
            return Err(EvalError::TooManySamples("query execution").into());
        }
        let done = Instant::now();
        let annotations = annotations.into_inner().unwrap_or_default();
        let stats = QueryStats {
            preparation: planned - began,
            inner_eval: done - planned,
            eval_total: done - began,
            peak_samples: samples.peak,
            total_samples: samples.total,
            dense,
        };
        let result =
            QueryResult { value, warnings: annotations.warnings(query), infos: annotations.infos(query) };
        Ok((result, stats))
    }
}

fn unwrap_invariant(node: &Node) -> &Node {
    match node {
        Node::StepInvariant(inner) => unwrap_invariant(inner),
        other => other,
    }
}

/// Evaluates the plan: its value, Prometheus's sample counts (zero when the series-major
/// evaluator answered, which only does so when the limit cannot be reached) and whether it did.
fn evaluate(ctx: &ExecContext<'_>, p: &Plan, dense: bool) -> Result<(Value, Summary, bool), EvalError> {
    if dense {
        let instant = p.params.step == 0;
        let grid = Grid {
            start: p.params.start,
            end: p.params.end,
            interval: if instant { 1 } else { p.params.step },
        };
        if let Some(v) = crate::exec::dense::evaluate(ctx, &p.root, grid, instant) {
            return Ok((v, Summary::default(), true));
        }
    }
    let (v, s) = evaluate_operators(ctx, p)?;
    Ok((v, s, false))
}

/// Evaluates the plan with the operator tree; returns its value and Prometheus's sample counts.
fn evaluate_operators(ctx: &ExecContext<'_>, p: &Plan) -> Result<(Value, Summary), EvalError> {
    let params = p.params;
    let instant = params.step == 0;
    let grid = Grid { start: params.start, end: params.end, interval: if instant { 1 } else { params.step } };
    let root = unwrap_invariant(&p.root);
    match root {
        Node::String(s) => {
            return Ok((Value::String { t: params.start, v: s.value.clone() }, Summary::default()));
        }
        Node::MatrixSelector(_) | Node::Subquery(_) => return evaluate_matrix(ctx, root, params.start),
        _ => {}
    }
    let mut op = build(&p.root, grid, ctx)?;
    let account = ctx.limits.accounting().take_last();
    let value = assemble(ctx, p, &mut op)?;
    Ok((value, account.map(|a| a.summary()).unwrap_or_default()))
}

/// Drains the root operator into the query's value.
fn assemble(ctx: &ExecContext<'_>, p: &Plan, op: &mut BoxOp<'_>) -> Result<Value, EvalError> {
    let params = p.params;
    let instant = params.step == 0;
    let meta = op.series()?;
    let scalar = p.value_type() == ValueType::Scalar;
    if instant {
        let mut step = None;
        while let Some(batch) = op.next()? {
            if step.is_none() {
                step = batch.into_iter().next();
            }
        }
        let samples = step.map(|s| s.samples).unwrap_or_default();
        if scalar {
            let v = samples.first().map_or(f64::NAN, |s| s.f);
            return Ok(Value::Scalar { t: params.start, v });
        }
        let mut out: Vec<Sample> = Vec::with_capacity(samples.len());
        let mut seen = hashbrown::HashSet::new();
        for s in samples {
            let labels = final_labels(&meta[s.id as usize], ctx.delayed_name_removal);
            if !seen.insert(labels.clone()) {
                return Err(EvalError::msg("vector cannot contain metrics with the same labelset"));
            }
            out.push(Sample { labels, t: params.start, f: s.f, h: s.h });
        }
        return Ok(Value::Vector(out));
    }
    // Range query: collect per series, merging series whose final labels are equal.
    let mut index: hashbrown::HashMap<Labels, usize> = hashbrown::HashMap::new();
    let mut series: Vec<Series> = Vec::new();
    let final_ids: Vec<usize> = meta
        .iter()
        .map(|m| {
            let l = if scalar { Labels::empty() } else { final_labels(m, ctx.delayed_name_removal) };
            let n = series.len();
            *index.entry(l.clone()).or_insert_with(|| {
                series.push(Series { labels: l, ..Series::default() });
                n
            })
        })
        .collect();
    let merged = final_ids.len() != series.len();
    while let Some(batch) = op.next()? {
        ctx.limits.check()?;
        for step in batch {
            for s in step.samples {
                let out = &mut series[final_ids[s.id as usize]];
                if merged {
                    let dup_f = out.floats.last().is_some_and(|p| p.t == step.t);
                    let dup_h = out.histograms.last().is_some_and(|p| p.t == step.t);
                    if dup_f || dup_h {
                        return Err(EvalError::msg("vector cannot contain metrics with the same labelset"));
                    }
                }
                match s.h {
                    None => out.floats.push(FPoint { t: step.t, f: s.f }),
                    Some(h) => out.histograms.push(HPoint { t: step.t, h }),
                }
            }
        }
    }
    series.retain(|s| !s.floats.is_empty() || !s.histograms.is_empty());
    series.sort_by(|a, b| a.labels.cmp(&b.labels));
    Ok(Value::Matrix(series))
}

/// A range selector or subquery at the top of an instant query: the points of each series in the
/// window ending at `t`.
fn evaluate_matrix(ctx: &ExecContext<'_>, node: &Node, t: i64) -> Result<(Value, Summary), EvalError> {
    let grid = Grid { start: t, end: t, interval: 1 };
    let (source, range, offset, at) = match node {
        Node::MatrixSelector(m) => {
            (crate::exec::MatrixSource::Selector(m.clone()), m.range, m.selector.offset, m.selector.at)
        }
        Node::Subquery(s) => (crate::exec::MatrixSource::Subquery(s.clone()), s.range, s.offset, s.at),
        _ => return Err(EvalError::msg("expected a range vector")),
    };
    let accounting = ctx.limits.accounting();
    let kind = if inner_is_subquery(node) { NodeKind::SubqueryRoot } else { NodeKind::MatrixRoot };
    let (account, _) = accounting.begin(kind, grid);
    let (meta, data, inner) = crate::exec::materialize(ctx, &source, grid)?;
    if let Some(inner) = inner {
        account.set_subquery(inner);
    }
    let ref_t = at.unwrap_or(t) - offset;
    let mut out = Vec::new();
    let mut total = 0i64;
    for (m, s) in meta.iter().zip(data.iter()) {
        let (f, h) = crate::exec::window(s, ref_t - range, ref_t);
        if f.is_empty() && h.is_empty() {
            continue;
        }
        total += f.len() as i64 + h.iter().map(|p| crate::exec::accounting::point_size(&p.h)).sum::<i64>();
        out.push(Series {
            labels: final_labels(m, ctx.delayed_name_removal),
            floats: f.to_vec(),
            histograms: h.to_vec(),
        });
    }
    if kind == NodeKind::MatrixRoot {
        account.record_matrix(total)?;
    }
    out.sort_by(|a, b| a.labels.cmp(&b.labels));
    Ok((Value::Matrix(out), account.summary()))
}

fn inner_is_subquery(node: &Node) -> bool {
    matches!(node, Node::Subquery(_))
}
impl crate::promqltest::QueryEngine for Engine {
    fn parse(&self, expr: &str) -> Result<Expr, String> {
        crate::parser::parse_with(expr, &self.opts.parser).map_err(|e| e.to_string())
    }

    fn instant_query(
        &self,
        storage: &dyn Storage,
        expr: &str,
        t: i64,
    ) -> Result<crate::promqltest::QueryOutput, String> {
        let r = Engine::instant_query(self, storage, expr, t).map_err(|e| e.to_string())?;
        Ok(crate::promqltest::QueryOutput { value: r.value, warnings: r.warnings, infos: r.infos })
    }

    fn range_query(
        &self,
        storage: &dyn Storage,
        expr: &str,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<crate::promqltest::QueryOutput, String> {
        let r = Engine::range_query(self, storage, expr, start, end, step).map_err(|e| e.to_string())?;
        Ok(crate::promqltest::QueryOutput { value: r.value, warnings: r.warnings, infos: r.infos })
    }
}

impl EngineOptions {
    /// The options Prometheus's promqltest runner uses: 10,000 max samples, 100 s timeout, delayed
    /// name removal, every experimental parser feature.
    pub fn promqltest() -> EngineOptions {
        EngineOptions {
            max_samples: 10_000,
            timeout: Some(Duration::from_secs(100)),
            delayed_name_removal: true,
            use_start_timestamps: true,
            parser: ParseOptions::all_features(),
            ..EngineOptions::default()
        }
    }
}
