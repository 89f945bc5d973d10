//! Running a script against a query engine, as Prometheus's `promqltest` does: fresh storage per
//! file and after `clear`, every instant eval repeated with `@` pinned at other evaluation times
//! and re-checked as a range query, results compared with upstream's rules and failure texts.

use std::fmt::Write as _;
use std::sync::{Arc, LazyLock};

use regex::Regex;

use super::compare::{DEFAULT_EPSILON, almost_equal, histograms_match};
use super::nhcb::convert_classic_histograms;
use super::script::{Command, Eval, ExpectKind, Load, LoadValue, Script};
use crate::model::{FloatHistogram, Labels, Sample, Series, Value, format_float, format_go_g};
use crate::parser::series::SequenceValue;
use crate::parser::{AtModifier, Expr};
use crate::plan::AT_UNSAFE;
use crate::storage::{MemStorage, Storage};

/// What a query returned: its value and its annotations.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryOutput {
    /// The result.
    pub value: Value,
    /// Warning annotations, each as Prometheus's `annotations.AsStrings(query, 0, 0)` renders it:
    /// `PromQL warning: <text> (<line>:<col>)`.
    pub warnings: Vec<String>,
    /// Info annotations, rendered the same way (`PromQL info: ...`).
    pub infos: Vec<String>,
}

/// The engine the runner drives. Upstream runs the scripts with: max samples 10000, timeout 100 s,
/// default subquery step 1m, lookback 5m, `@` and negative offsets on, delayed name removal on,
/// start timestamps on, and every experimental parser feature on; an implementation should be
/// configured the same way to pass them.
pub trait QueryEngine: Sync {
    /// Parses `expr` as this engine does (upstream's test engine: every experimental feature on).
    /// The runner uses the tree to build the `@`-pinned variants of instant evals; an error fails
    /// the eval.
    fn parse(&self, expr: &str) -> Result<Expr, String>;

    /// Evaluates `expr` at `t` (milliseconds). The error is the text Prometheus's `err.Error()`
    /// gives for the same failure.
    fn instant_query(&self, storage: &dyn Storage, expr: &str, t: i64) -> Result<QueryOutput, String>;

    /// Evaluates `expr` at every `step` from `start` to `end` (milliseconds, inclusive); the
    /// value is always a matrix.
    fn range_query(
        &self,
        storage: &dyn Storage,
        expr: &str,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<QueryOutput, String>;
}

/// Which of upstream's extra checks the runner performs (all on by default, as upstream).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunOptions {
    /// Repeat each instant eval with `@ T` on every selector at other evaluation times.
    pub at_modifier_variants: bool,
    /// Re-run each instant eval as a range query around `T` and compare the point at `T`.
    pub range_mode_check: bool,
}

impl Default for RunOptions {
    fn default() -> RunOptions {
        RunOptions { at_modifier_variants: true, range_mode_check: true }
    }
}

/// The result of one eval (or of a script-level failure, with `expr` empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalOutcome {
    /// 1-based line of the eval header (or of the script error).
    pub line: usize,
    /// The expression.
    pub expr: String,
    /// Whether it was an `eval range`.
    pub range: bool,
    /// `None` when the eval passed; otherwise why it failed.
    pub failure: Option<String>,
}

impl EvalOutcome {
    /// Whether the eval passed.
    pub fn passed(&self) -> bool {
        self.failure.is_none()
    }
}

/// The outcomes of one script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileReport {
    /// The script's name (its file name).
    pub name: String,
    /// One outcome per eval, in file order. A script that cannot be read has a single failed
    /// outcome carrying the reason.
    pub outcomes: Vec<EvalOutcome>,
}

impl FileReport {
    /// The number of passed evals.
    pub fn passed(&self) -> usize {
        self.outcomes.iter().filter(|o| o.passed()).count()
    }

    /// The number of failed evals.
    pub fn failed(&self) -> usize {
        self.outcomes.len() - self.passed()
    }
}

/// Reads and runs a script. A script that cannot be read fails as a whole (one outcome).
///
/// Unlike upstream, which stops a file at its first failing `load`, a failing `load` here fails
/// the evals up to the next `clear` and the run goes on; and an expression that does not parse
/// fails its own eval rather than the whole file. The counts of passing evals are the same.
pub fn run_text(name: &str, text: &str, engine: &dyn QueryEngine, opts: &RunOptions) -> FileReport {
    let outcomes = match Script::parse(text) {
        Ok(script) => run_script(&script, engine, opts),
        Err(e) => vec![EvalOutcome {
            line: e.line,
            expr: String::new(),
            range: false,
            failure: Some(e.to_string()),
        }],
    };
    FileReport { name: name.to_string(), outcomes }
}

/// Runs a parsed script against `engine`, each eval with the storage state the commands before
/// it built.
pub fn run_script(script: &Script, engine: &dyn QueryEngine, opts: &RunOptions) -> Vec<EvalOutcome> {
    let mut store = MemStorage::new();
    let mut load_failure: Option<String> = None;
    let mut outcomes = Vec::new();
    for cmd in &script.commands {
        match cmd {
            Command::Clear { .. } => {
                store = MemStorage::new();
                load_failure = None;
            }
            Command::Load(load) => {
                if let Err(e) = apply_load(&store, load) {
                    load_failure.get_or_insert(format!("load at line {} failed: {e}", load.line));
                }
            }
            Command::Eval(ev) => {
                let failure = match &load_failure {
                    Some(f) => Some(f.clone()),
                    None => run_eval(ev, &store, engine, opts).err(),
                };
                outcomes.push(EvalOutcome {
                    line: ev.line,
                    expr: ev.expr.clone(),
                    range: ev.is_range,
                    failure,
                });
            }
        }
    }
    outcomes
}

/// Appends a load block's samples to the store.
pub fn apply_load(store: &MemStorage, load: &Load) -> Result<(), String> {
    let mut app = store.appender();
    for s in &load.series {
        for (t, st, v) in s.samples(load.interval) {
            match v {
                LoadValue::Float(f) => app.add_with_st(s.labels.clone(), t, f, st),
                LoadValue::Histogram(h) => app.add_histogram_with_st(s.labels.clone(), t, h, st),
            }
        }
    }
    app.commit().map_err(|e| e.to_string())?;
    if load.with_nhcb {
        let mut app = store.appender();
        for (labels, samples) in convert_classic_histograms(load)? {
            for (t, h) in samples {
                app.add_histogram(labels.clone(), t, Arc::new(h));
            }
        }
        app.commit().map_err(|e| e.to_string())?;
    }
    Ok(())
}

static QUERY_CONTEXT_FUNCS: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::expect_used)]
    Regex::new(r"(start|end|range|step)\(\)").expect("constant pattern compiles")
});

/// Sets `@ ts` on every selector and outermost subquery without a fixed `@` timestamp (nothing
/// inside a subquery is touched); returns false when a call to an `@`-unsafe function is found
/// outside subqueries.
fn pin_at(e: &mut Expr, ts: i64) -> bool {
    let pin = |at: &mut Option<AtModifier>| {
        if !matches!(at, Some(AtModifier::Timestamp(_))) {
            *at = Some(AtModifier::Timestamp(ts));
        }
    };
    match e {
        Expr::Number(_) | Expr::String(_) => true,
        Expr::VectorSelector(v) => {
            pin(&mut v.at);
            true
        }
        Expr::MatrixSelector(m) => {
            pin(&mut m.vector.at);
            true
        }
        Expr::Subquery(s) => {
            pin(&mut s.at);
            true
        }
        Expr::Paren(p) => pin_at(&mut p.expr, ts),
        Expr::Unary(u) => pin_at(&mut u.expr, ts),
        Expr::Binary(b) => {
            let l = pin_at(&mut b.lhs, ts);
            let r = pin_at(&mut b.rhs, ts);
            l && r
        }
        Expr::Aggregate(a) => {
            let inner = pin_at(&mut a.expr, ts);
            let param = a.param.as_mut().is_none_or(|p| pin_at(p, ts));
            inner && param
        }
        Expr::Call(c) => {
            let mut safe = !AT_UNSAFE.contains(&c.func.name);
            for arg in &mut c.args {
                safe &= pin_at(arg, ts);
            }
            safe
        }
    }
}

/// The extra query cases of an instant eval at `ts`: the expression with `@` pinned, at the
/// evaluation times upstream uses; none when the expression uses an `@`-unsafe function.
fn at_modifier_cases(engine: &dyn QueryEngine, expr: &str, ts: i64) -> Result<Vec<(String, i64)>, String> {
    let mut e = engine.parse(expr)?;
    if !pin_at(&mut e, ts) {
        return Ok(Vec::new());
    }
    let text = e.to_string();
    let times: Vec<i64> = if ts == 0 {
        vec![-1000, 0, 1000]
    } else {
        vec![ts.saturating_mul(-10), 0, ts / 5, ts, ts.saturating_mul(10)]
    };
    Ok(times.into_iter().map(|t| (text.clone(), t)).collect())
}

fn run_eval(
    ev: &Eval,
    store: &MemStorage,
    engine: &dyn QueryEngine,
    opts: &RunOptions,
) -> Result<(), String> {
    if ev.is_range {
        return run_range_eval(ev, store, engine);
    }
    let mut cases = vec![(ev.expr.clone(), ev.eval_time)];
    if opts.at_modifier_variants {
        cases.extend(at_modifier_cases(engine, &ev.expr, ev.eval_time)?);
    } else {
        engine.parse(&ev.expr)?;
    }
    for (expr, t) in &cases {
        run_instant_case(ev, expr, *t, store, engine, opts)?;
    }
    Ok(())
}

fn run_range_eval(ev: &Eval, store: &MemStorage, engine: &dyn QueryEngine) -> Result<(), String> {
    engine.parse(&ev.expr)?;
    let res = match engine.range_query(store, &ev.expr, ev.start, ev.end, ev.step) {
        Err(e) if ev.is_fail() => return check_expected_failure(ev, &e),
        Err(e) => return Err(format!("error evaluating query {:?} (line {}): {e}", ev.expr, ev.line)),
        Ok(_) if ev.is_fail() => {
            return Err(format!(
                "expected error evaluating query {:?} (line {}) but got none",
                ev.expr, ev.line
            ));
        }
        Ok(r) => r,
    };
    check_annotations(ev, &ev.expr, &res)?;
    compare_result(ev, &res.value).map_err(|e| format!("error in eval {} (line {}): {e}", ev.expr, ev.line))
}

fn run_instant_case(
    ev: &Eval,
    expr: &str,
    t: i64,
    store: &MemStorage,
    engine: &dyn QueryEngine,
    opts: &RunOptions,
) -> Result<(), String> {
    let res = match engine.instant_query(store, expr, t) {
        Err(e) if ev.is_fail() => return check_expected_failure(ev, &e),
        Err(e) => return Err(format!("error evaluating query {expr:?} (line {}): {e}", ev.line)),
        Ok(_) if ev.is_fail() => {
            return Err(format!("expected error evaluating query {expr:?} (line {}) but got none", ev.line));
        }
        Ok(r) => r,
    };
    check_annotations(ev, expr, &res)?;
    compare_result(ev, &res.value).map_err(|e| format!("error in eval {expr} (line {}): {e}", ev.line))?;

    if !opts.range_mode_check || ev.exclude_from_range_query || QUERY_CONTEXT_FUNCS.is_match(expr) {
        return Ok(());
    }
    let range =
        engine
            .range_query(store, expr, t.saturating_sub(60_000), t.saturating_add(60_000), 60_000)
            .map_err(|e| format!("error evaluating query {expr:?} (line {}) in range mode: {e}", ev.line))?;
    if ev.is_ordered() {
        return Ok(());
    }
    let Value::Matrix(mat) = &range.value else {
        return Err(format!(
            "range query for {expr:?} (line {}) returned a {}, not a matrix",
            ev.line,
            range.value.type_name()
        ));
    };
    assert_sorted(mat)?;
    let mut vec: Vec<Sample> = Vec::with_capacity(mat.len());
    for s in mat {
        if let Some(p) = s.floats.iter().find(|p| p.t == t) {
            vec.push(Sample { labels: s.labels.clone(), t, f: p.f, h: None });
        }
        if let Some(p) = s.histograms.iter().find(|p| p.t == t) {
            vec.push(Sample { labels: s.labels.clone(), t, f: 0.0, h: Some(p.h.clone()) });
        }
    }
    let at_t = if matches!(res.value, Value::Scalar { .. }) {
        let Some(first) = vec.first() else {
            return Err(format!(
                "error in eval {expr} (line {}) range mode: no point at the evaluation time",
                ev.line
            ));
        };
        Value::Scalar { t, v: first.f }
    } else {
        Value::Vector(vec)
    };
    compare_result(ev, &at_t).map_err(|e| format!("error in eval {expr} (line {}) range mode: {e}", ev.line))
}

fn check_expected_failure(ev: &Eval, actual: &str) -> Result<(), String> {
    if let Some(m) = &ev.expected_fail_message
        && m != actual
    {
        return Err(format!(
            "expected error {m:?} evaluating query {:?} (line {}), but got: {actual}",
            ev.expr, ev.line
        ));
    }
    if let Some(r) = &ev.expected_fail_regexp
        && !r.is_match(actual)
    {
        return Err(format!(
            "expected error matching pattern {:?} evaluating query {:?} (line {}), but got: {actual}",
            r.as_str(),
            ev.expr,
            ev.line
        ));
    }
    if let Some(e) = ev.expects_of(ExpectKind::Fail).next()
        && !e.matcher.matches(actual)
    {
        return Err(format!(
            "expected error matching {:?} evaluating query {:?} (line {}), but got: {actual}",
            e.matcher.text(),
            ev.expr,
            ev.line
        ));
    }
    Ok(())
}

fn check_annotations(ev: &Eval, expr: &str, res: &QueryOutput) -> Result<(), String> {
    if ev.warn && res.warnings.is_empty() {
        return Err(format!("expected warnings evaluating query {expr:?} (line {}) but got none", ev.line));
    }
    if ev.info && res.infos.is_empty() {
        return Err(format!(
            "expected info annotations evaluating query {expr:?} (line {}) but got none",
            ev.line
        ));
    }
    check_annotations_of(ev, expr, ExpectKind::Warn, &res.warnings, "warn")?;
    check_annotations_of(ev, expr, ExpectKind::Info, &res.infos, "info")?;
    if ev.expects_of(ExpectKind::NoWarn).next().is_some() && !res.warnings.is_empty() {
        return Err(format!(
            "unexpected warning annotations evaluating query {expr:?} (line {}): {}",
            ev.line,
            go_list(res.warnings.iter().chain(&res.infos).map(|a| without_position(a)))
        ));
    }
    if ev.expects_of(ExpectKind::NoInfo).next().is_some() && !res.infos.is_empty() {
        return Err(format!(
            "unexpected info annotations evaluating query {expr:?} (line {}): {}",
            ev.line,
            go_list(res.warnings.iter().chain(&res.infos).map(|a| without_position(a)))
        ));
    }
    Ok(())
}

fn check_annotations_of(
    ev: &Eval,
    expr: &str,
    kind: ExpectKind,
    actual: &[String],
    name: &str,
) -> Result<(), String> {
    let expected: Vec<_> = ev.expects_of(kind).collect();
    if expected.is_empty() {
        return Ok(());
    }
    if actual.is_empty() {
        return Err(format!(
            "expected {name} annotations but none were found for query {expr:?} (line {})",
            ev.line
        ));
    }
    for e in &expected {
        if !actual.iter().any(|a| e.matcher.matches(a)) {
            return Err(format!(
                "expected {name} annotation matching {} {:?} but no matching annotation was found for query {expr:?} (line {}), found: {}",
                e.matcher.kind_name(),
                e.matcher.text(),
                ev.line,
                go_list(actual.iter().map(String::as_str))
            ));
        }
    }
    for a in actual {
        if !expected.iter().any(|e| e.matcher.matches(a)) {
            return Err(format!(
                "unexpected {name} annotation {a:?} found for query {expr} (line {})",
                ev.line
            ));
        }
    }
    Ok(())
}

/// A list as Go's `%v` prints a slice of strings or errors: `[a b c]`.
fn go_list<'a>(items: impl Iterator<Item = &'a str>) -> String {
    format!("[{}]", items.collect::<Vec<_>>().join(" "))
}

/// An annotation without the ` (line:col)` suffix `AsStrings` adds (upstream's `AsErrors` form).
fn without_position(a: &str) -> &str {
    match a.rfind(" (") {
        Some(i)
            if a.ends_with(')')
                && a[i + 2..a.len() - 1].split(':').count() == 2
                && a[i + 2..a.len() - 1].chars().all(|c| c.is_ascii_digit() || c == ':') =>
        {
            &a[..i]
        }
        _ => a,
    }
}

fn assert_sorted(mat: &[Series]) -> Result<(), String> {
    for (i, w) in mat.windows(2).enumerate() {
        if w[0].labels > w[1].labels {
            return Err(format!(
                "matrix results should always be sorted by labels, but matrix is not sorted: series at index {} with labels {} sorts before series at index {i} with labels {}",
                i + 1,
                w[1].labels,
                w[0].labels
            ));
        }
    }
    Ok(())
}

fn seq_text(vals: &[SequenceValue]) -> String {
    let parts: Vec<String> = vals
        .iter()
        .map(|v| match v {
            SequenceValue::Omitted => "_".to_string(),
            SequenceValue::Float(f) => format_go_g(*f),
            SequenceValue::Stale => "stale".to_string(),
            SequenceValue::Histogram { histogram, .. } => histogram.test_expression(),
        })
        .collect();
    format!("[{}]", parts.join(" "))
}

fn series_text(s: &Series) -> String {
    let floats: Vec<String> = s.floats.iter().map(|p| format!("{} @[{}]", format_float(p.f), p.t)).collect();
    let hists: Vec<String> =
        s.histograms.iter().map(|p| format!("{} @[{}]", p.h.test_expression(), p.t)).collect();
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    format!(
        "{} float point{} [{}] and {} histogram point{} [{}]",
        floats.len(),
        plural(floats.len()),
        floats.join(" "),
        hists.len(),
        plural(hists.len()),
        hists.join(" ")
    )
}

fn value_text(v: &Value) -> String {
    match v {
        Value::Scalar { t, v } => format!("scalar: {} @[{t}]", format_go_g(*v)),
        Value::String { t, v } => format!("string: {v} @[{t}]"),
        Value::Vector(samples) => {
            let mut out = String::new();
            for s in samples {
                let _ = match &s.h {
                    Some(h) => writeln!(out, "{} => {} @[{}]", s.labels, h.test_expression(), s.t),
                    None => writeln!(out, "{} => {} @[{}]", s.labels, format_go_g(s.f), s.t),
                };
            }
            out
        }
        Value::Matrix(series) => {
            series.iter().map(|s| format!("{} => {}\n", s.labels, series_text(s))).collect()
        }
    }
}

fn expected_of<'a>(ev: &'a Eval, labels: &Labels) -> Option<&'a super::script::ExpectedSeries> {
    ev.expected.iter().find(|e| &e.labels == labels)
}

/// Compares a query result with an eval's expectations, with upstream's rules and texts.
pub fn compare_result(ev: &Eval, value: &Value) -> Result<(), String> {
    match value {
        Value::Matrix(mat) => {
            if ev.is_ordered() {
                return Err("expected ordered result, but query returned a matrix".into());
            }
            if ev.scalar.is_some() {
                return Err(format!("expected scalar result, but got matrix {}", value_text(value)));
            }
            assert_sorted(mat)?;
            for s in mat {
                let Some(exp) = expected_of(ev, &s.labels) else {
                    return Err(format!("unexpected metric {} in result, has {}", s.labels, series_text(s)));
                };
                compare_series(ev, exp, s)?;
            }
            for e in &ev.expected {
                if !mat.iter().any(|s| s.labels == e.labels) {
                    return Err(format!("expected metric {} not found", e.labels));
                }
            }
        }
        Value::Vector(vec) => {
            if ev.scalar.is_some() {
                return Err(format!("expected scalar result, but got vector {}", value_text(value)));
            }
            for (pos, s) in vec.iter().enumerate() {
                let Some(exp) = expected_of(ev, &s.labels) else {
                    return Err(match &s.h {
                        Some(h) => format!(
                            "unexpected metric {} in result, has value {}",
                            s.labels,
                            h.test_expression()
                        ),
                        None => format!(
                            "unexpected metric {} in result, has value {}",
                            s.labels,
                            format_go_g(s.f)
                        ),
                    });
                };
                if ev.is_ordered() && exp.pos != pos + 1 {
                    return Err(format!(
                        "expected metric {} with {} at position {} but was at {}",
                        s.labels,
                        seq_text(&exp.values),
                        exp.pos,
                        pos + 1
                    ));
                }
                compare_sample(exp, s)?;
            }
            for e in &ev.expected {
                if !vec.iter().any(|s| s.labels == e.labels) {
                    return Err(format!(
                        "expected metric {} with {} not found",
                        e.labels,
                        seq_text(&e.values)
                    ));
                }
            }
        }
        Value::Scalar { v, .. } => {
            let Some(exp) = ev.scalar else {
                return Err(format!("expected vector or matrix result, but got {}", value_text(value)));
            };
            if !almost_equal(exp, *v, DEFAULT_EPSILON) {
                return Err(format!("expected scalar {} but got {}", format_go_g(exp), format_go_g(*v)));
            }
        }
        Value::String { v, .. } => {
            if &ev.expected_string != v {
                return Err(format!("expected string \"{}\" but got \"{v}\"", ev.expected_string));
            }
        }
    }
    Ok(())
}

fn compare_sample(exp: &super::script::ExpectedSeries, s: &Sample) -> Result<(), String> {
    let Some(first) = exp.values.first() else {
        return Err(format!("expected metric {} has no value to compare with", exp.labels));
    };
    let (exp_f, exp_h, hint_set) = match first {
        SequenceValue::Float(f) => (*f, None, false),
        SequenceValue::Stale => (crate::model::STALE_NAN, None, false),
        SequenceValue::Omitted => (0.0, None, false),
        SequenceValue::Histogram { histogram, hint_set } => (0.0, Some(&**histogram), *hint_set),
    };
    match (exp_h, &s.h) {
        (None, Some(h)) => {
            return Err(format!(
                "expected float value {} for {} but got histogram {}",
                format_go_g(exp_f),
                s.labels,
                h.test_expression()
            ));
        }
        (Some(eh), None) => {
            return Err(format!(
                "expected histogram {} for {} but got float value {}",
                eh.test_expression(),
                s.labels,
                format_go_g(s.f)
            ));
        }
        (Some(eh), Some(h)) if !histograms_match(eh, h, hint_set) => {
            return Err(format!(
                "expected {} for {} but got {}",
                eh.test_expression(),
                s.labels,
                h.test_expression()
            ));
        }
        _ => {}
    }
    if exp_h.is_none() && !almost_equal(exp_f, s.f, DEFAULT_EPSILON) {
        return Err(format!("expected {} for {} but got {}", format_go_g(exp_f), s.labels, format_go_g(s.f)));
    }
    Ok(())
}

fn compare_series(ev: &Eval, exp: &super::script::ExpectedSeries, s: &Series) -> Result<(), String> {
    let mut floats: Vec<(i64, f64)> = Vec::new();
    let mut hists: Vec<(i64, &FloatHistogram, bool)> = Vec::new();
    for (i, v) in exp.values.iter().enumerate() {
        let t = ev.start.saturating_add((i as i64).saturating_mul(ev.step));
        if t > ev.end {
            return Err(format!(
                "expected {} points for {}, but query time range cannot return this many points",
                exp.values.len(),
                exp.labels
            ));
        }
        match v {
            SequenceValue::Omitted => {}
            SequenceValue::Float(f) => floats.push((t, *f)),
            SequenceValue::Stale => floats.push((t, crate::model::STALE_NAN)),
            SequenceValue::Histogram { histogram, hint_set } => hists.push((t, histogram, *hint_set)),
        }
    }
    if floats.len() != s.floats.len() || hists.len() != s.histograms.len() {
        return Err(format!(
            "expected {} float points and {} histogram points for {}, but got {}",
            floats.len(),
            hists.len(),
            exp.labels,
            series_text(s)
        ));
    }
    for (i, ((t, f), got)) in floats.iter().zip(&s.floats).enumerate() {
        let same = almost_equal(got.f, *f, DEFAULT_EPSILON);
        point_mismatch("float", i, exp, (*t, got.t), same, || (format_go_g(*f), format_go_g(got.f)), s)?;
    }
    for (i, ((t, h, hint_set), got)) in hists.iter().zip(&s.histograms).enumerate() {
        let same = histograms_match(h, &got.h, *hint_set);
        point_mismatch(
            "histogram",
            i,
            exp,
            (*t, got.t),
            same,
            || (h.test_expression(), got.h.test_expression()),
            s,
        )?;
    }
    Ok(())
}

/// Upstream's text when point `i` (a `kind` point: `float` or `histogram`) of the expected series
/// `exp` differs from the result's point at that place: in its `(expected, actual)` timestamp, or
/// else in its value (`same_value` false; `shown` gives both values as text).
fn point_mismatch(
    kind: &str,
    i: usize,
    exp: &super::script::ExpectedSeries,
    (t, got_t): (i64, i64),
    same_value: bool,
    shown: impl FnOnce() -> (String, String),
    s: &Series,
) -> Result<(), String> {
    if t != got_t {
        return Err(format!(
            "expected {kind} value at index {i} for {} to have timestamp {t}, but it had timestamp {got_t} (result has {})",
            exp.labels,
            series_text(s)
        ));
    }
    if !same_value {
        let (want, got) = shown();
        return Err(format!(
            "expected {kind} value at index {i} (t={got_t}) for {} to be {want}, but got {got} (result has {})",
            exp.labels,
            series_text(s)
        ));
    }
    Ok(())
}

/// The per-file table and the closing `N passed, N failed` line.
pub fn summary(reports: &[FileReport]) -> String {
    let width = reports.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
    let mut out = String::new();
    let _ = writeln!(out, "{:<width$}  {:>6}  {:>6}  {:>6}", "file", "passed", "failed", "total");
    let (mut passed, mut failed) = (0, 0);
    for r in reports {
        let _ = writeln!(
            out,
            "{:<width$}  {:>6}  {:>6}  {:>6}",
            r.name,
            r.passed(),
            r.failed(),
            r.outcomes.len()
        );
        passed += r.passed();
        failed += r.failed();
    }
    let _ = writeln!(out, "{passed} passed, {failed} failed");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::{ParseOptions, parse_with};

    /// Parses only; the queries are never run here.
    struct ParseOnly;

    impl QueryEngine for ParseOnly {
        fn parse(&self, expr: &str) -> Result<Expr, String> {
            parse_with(expr, &ParseOptions::all_features()).map_err(|e| e.to_string())
        }
        fn instant_query(&self, _: &dyn Storage, _: &str, _: i64) -> Result<QueryOutput, String> {
            Err("not run".into())
        }
        fn range_query(
            &self,
            _: &dyn Storage,
            _: &str,
            _: i64,
            _: i64,
            _: i64,
        ) -> Result<QueryOutput, String> {
            Err("not run".into())
        }
    }

    #[test]
    fn at_variants() {
        let cases =
            at_modifier_cases(&ParseOnly, "rate(x[5m]) + y @ 10 + sum_over_time(z[5m:1m])", 60_000).unwrap();
        let want = "rate(x[5m] @ 60.000) + y @ 10.000 + sum_over_time(z[5m:1m] @ 60.000)";
        assert_eq!(cases, [-600_000, 0, 12_000, 60_000, 600_000].map(|t| (want.to_string(), t)));
        let at_zero = at_modifier_cases(&ParseOnly, "x @ start()", 0).unwrap();
        assert_eq!(at_zero, [-1000, 0, 1000].map(|t| ("x @ 0.000".to_string(), t)));
        // An @-unsafe function outside subqueries: no variants; inside a subquery it is left alone.
        assert!(at_modifier_cases(&ParseOnly, "time() + x", 60_000).unwrap().is_empty());
        assert_eq!(
            at_modifier_cases(&ParseOnly, "max_over_time(vector(time())[5m:1m])", 60_000).unwrap().len(),
            5
        );
    }
}
