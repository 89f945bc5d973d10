//! Instant-vector functions: elementwise math, clamping, calendar functions, sorting, label
//! rewriting, `absent`, and classic `histogram_quantile`.

use std::sync::Arc;

use crate::exec::labels_ops::{SeriesTable, drop_metadata, expand_template, name_dropped};
use crate::exec::scalar::scalar_values;
use crate::exec::{Annotation, BoxOp, EvalError, ExecContext, Operator, Sample, SeriesMeta, StepBatch};
use crate::functions::{
    Bucket, DateFn, bucket_fraction, bucket_quantile, date_value, go_max, go_min, round_to,
};
use crate::model::{FastRegex, Labels, METRIC_NAME};
use crate::parser::Span;

/// An elementwise function of one vector and optional scalar arguments.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ElementFn {
    /// `abs`, `sqrt`, ...
    Simple(fn(f64) -> f64),
    /// `round(v, to_nearest)`.
    Round,
    /// `clamp(v, min, max)`.
    Clamp,
    /// `clamp_min(v, min)`.
    ClampMin,
    /// `clamp_max(v, max)`.
    ClampMax,
    /// Calendar functions of the sample value.
    Date(DateFn),
    /// `timestamp(expr)` of a non-selector: the step time.
    Timestamp,
    /// `histogram_count`.
    HistogramCount,
    /// `histogram_sum`.
    HistogramSum,
    /// `histogram_avg`.
    HistogramAvg,
    /// `histogram_stddev`.
    HistogramStddev,
    /// `histogram_stdvar`.
    HistogramStdvar,
    /// No output (`start_timestamp` of an expression, which has no start timestamps).
    Nothing,
}

/// Applies an [`ElementFn`] to every sample.
pub(crate) struct ElementOp<'a> {
    pub(crate) ctx: &'a ExecContext<'a>,
    pub(crate) func: ElementFn,
    pub(crate) child: BoxOp<'a>,
    pub(crate) scalars: Vec<BoxOp<'a>>,
}

impl Operator for ElementOp<'_> {
    fn series(&mut self) -> Result<Arc<[SeriesMeta]>, EvalError> {
        let inner = self.child.series()?;
        for s in self.scalars.iter_mut() {
            s.series()?;
        }
        let delayed = self.ctx.delayed_name_removal;
        Ok(inner.iter().map(|m| name_dropped(m, delayed)).collect())
    }

    fn next(&mut self) -> Result<Option<StepBatch>, EvalError> {
        let Some(mut batch) = self.child.next()? else { return Ok(None) };
        let mut args = Vec::new();
        for s in self.scalars.iter_mut() {
            args.push(scalar_values(&s.next()?.unwrap_or_default()));
        }
        let arg = |i: usize, k: usize| args.get(i).and_then(|v| v.get(k)).copied().unwrap_or(f64::NAN);
        for (k, step) in batch.iter_mut().enumerate() {
            let t = step.t;
            let func = self.func;
            let samples = std::mem::take(&mut step.samples);
            let (lo, hi) = match func {
                ElementFn::Clamp => (arg(0, k), arg(1, k)),
                ElementFn::ClampMin => (arg(0, k), f64::INFINITY),
                ElementFn::ClampMax => (f64::NEG_INFINITY, arg(0, k)),
                _ => (0.0, 0.0),
            };
            if matches!(func, ElementFn::Clamp) && hi < lo {
                continue;
            }
            let to_nearest = if args.is_empty() { 1.0 } else { arg(0, k) };
            step.samples = samples
                .into_iter()
                .filter_map(|s| {
                    let v = match (&s.h, func) {
                        (Some(h), ElementFn::HistogramCount) => h.count,
                        (Some(h), ElementFn::HistogramSum) => h.sum,
                        (Some(h), ElementFn::HistogramAvg) => h.sum / h.count,
                        (Some(h), ElementFn::HistogramStddev) => crate::functions::hist_variance(h).sqrt(),
                        (Some(h), ElementFn::HistogramStdvar) => crate::functions::hist_variance(h),
                        (_, ElementFn::Nothing) => return None,
                        (_, ElementFn::Timestamp) => t as f64 / 1000.0,
                        (Some(_), _) => return None,
                        (
                            None,
                            ElementFn::HistogramCount
                            | ElementFn::HistogramSum
                            | ElementFn::HistogramAvg
                            | ElementFn::HistogramStddev
                            | ElementFn::HistogramStdvar,
                        ) => {
                            return None;
                        }
                        (None, ElementFn::Simple(f)) => f(s.f),
                        (None, ElementFn::Round) => round_to(s.f, to_nearest),
                        (None, ElementFn::Clamp | ElementFn::ClampMin | ElementFn::ClampMax) => {
                            go_max(lo, go_min(hi, s.f))
                        }
                        (None, ElementFn::Date(d)) => date_value(d, s.f),
                    };
                    Some(Sample::float(s.id, v))
                })
                .collect();
        }
        Ok(Some(batch))
    }
}

/// How `sort*` orders a step.
#[derive(Debug, Clone)]
pub(crate) enum SortBy {
    /// `sort` / `sort_desc`.
    Value { desc: bool },
    /// `sort_by_label` / `sort_by_label_desc`.
    Labels { desc: bool, names: Vec<String> },
}

/// `sort`, `sort_desc`, `sort_by_label`, `sort_by_label_desc`.
pub(crate) struct SortOp<'a> {
    pub(crate) child: BoxOp<'a>,
    pub(crate) by: SortBy,
    pub(crate) meta: Option<Arc<[SeriesMeta]>>,
}

impl Operator for SortOp<'_> {
    fn series(&mut self) -> Result<Arc<[SeriesMeta]>, EvalError> {
        let m = self.child.series()?;
        self.meta = Some(m.clone());
        Ok(m)
    }

    fn next(&mut self) -> Result<Option<StepBatch>, EvalError> {
        let Some(mut batch) = self.child.next()? else { return Ok(None) };
        let meta = match &self.meta {
            Some(m) => m.clone(),
            None => self.series()?,
        };
        for step in batch.iter_mut() {
            match &self.by {
                SortBy::Value { desc } => {
                    step.samples.retain(|s| s.h.is_none());
                    let desc = *desc;
                    step.samples.sort_by(|a, b| {
                        use std::cmp::Ordering::*;
                        match (a.f.is_nan(), b.f.is_nan()) {
                            (true, true) => Equal,
                            (true, false) => Greater,
                            (false, true) => Less,
                            _ => {
                                let o = a.f.partial_cmp(&b.f).unwrap_or(Equal);
                                if desc { o.reverse() } else { o }
                            }
                        }
                    });
                }
                SortBy::Labels { desc, names } => {
                    let desc = *desc;
                    step.samples.sort_by(|a, b| {
                        let (la, lb) = (&meta[a.id as usize].labels, &meta[b.id as usize].labels);
                        for n in names {
                            let (va, vb) = (la.get(n).unwrap_or(""), lb.get(n).unwrap_or(""));
                            if va == vb {
                                continue;
                            }
                            let o = natural_cmp(va, vb);
                            return if desc { o.reverse() } else { o };
                        }
                        let o = la.cmp(lb);
                        if desc { o.reverse() } else { o }
                    });
                }
            }
        }
        Ok(Some(batch))
    }
}

/// Natural ordering of strings: runs of digits compare as numbers.
fn natural_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let (mut a, mut b) = (a.as_bytes(), b.as_bytes());
    loop {
        match (a.first(), b.first()) {
            (None, None) => return Ordering::Equal,
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(x), Some(y)) if x.is_ascii_digit() && y.is_ascii_digit() => {
                let na = a.iter().take_while(|c| c.is_ascii_digit()).count();
                let nb = b.iter().take_while(|c| c.is_ascii_digit()).count();
                let (da, db) = (&a[..na], &b[..nb]);
                let ta: &[u8] = {
                    let z = da.iter().take_while(|c| **c == b'0').count();
                    &da[z.min(da.len().saturating_sub(1))..]
                };
                let tb: &[u8] = {
                    let z = db.iter().take_while(|c| **c == b'0').count();
                    &db[z.min(db.len().saturating_sub(1))..]
                };
                let o = ta.len().cmp(&tb.len()).then_with(|| ta.cmp(tb));
                if o != Ordering::Equal {
                    return o;
                }
                a = &a[na..];
                b = &b[nb..];
            }
            (Some(x), Some(y)) => {
                if x != y {
                    return x.cmp(y);
                }
                a = &a[1..];
                b = &b[1..];
            }
        }
    }
}

/// `label_replace` and `label_join`: a fixed relabelling of each series.
pub(crate) struct RelabelOp<'a> {
    pub(crate) child: BoxOp<'a>,
    pub(crate) rule: Relabel,
    pub(crate) mapping: Vec<u32>,
    pub(crate) meta: Option<Arc<[SeriesMeta]>>,
}

/// The relabelling of [`RelabelOp`].
#[derive(Debug, Clone)]
pub(crate) enum Relabel {
    /// `label_replace(v, dst, replacement, src, regex)`.
    Replace { dst: String, replacement: String, src: String, regex: Arc<FastRegex> },
    /// `label_join(v, dst, separator, src...)`.
    Join { dst: String, separator: String, srcs: Vec<String> },
}

impl Relabel {
    /// Builds the rule, checking names and the regex with Prometheus's messages. `utf8[i]` tells
    /// whether the literal `strings[i]` was valid UTF-8: a label name is valid when it is non-empty
    /// UTF-8 (Go's check on the raw bytes), so invalid bytes make it invalid, while a U+FFFD written
    /// as such (`"\ufffd"`) is an ordinary character.
    pub(crate) fn new(func: &str, strings: &[String], utf8: &[bool]) -> Result<Relabel, EvalError> {
        let valid = |i: usize| !strings[i].is_empty() && utf8.get(i).copied().unwrap_or(true);
        if func == "label_replace" {
            let (dst, replacement, src, regex) = (&strings[0], &strings[1], &strings[2], &strings[3]);
            let re = crate::model::cached_regex(regex).map_err(|_| {
                EvalError::msg(format!("invalid regular expression in label_replace(): {regex}"))
            })?;
            if !valid(0) {
                return Err(EvalError::msg(format!(
                    "invalid destination label name in label_replace(): {dst}"
                )));
            }
            Ok(Relabel::Replace {
                dst: dst.clone(),
                replacement: replacement.clone(),
                src: src.clone(),
                regex: re,
            })
        } else {
            let (dst, separator) = (&strings[0], &strings[1]);
            for (i, src) in strings.iter().enumerate().skip(2) {
                if !valid(i) {
                    return Err(EvalError::msg(format!("invalid source label name in label_join(): {src}")));
                }
            }
            if !valid(0) {
                return Err(EvalError::msg(format!("invalid destination label name in label_join(): {dst}")));
            }
            Ok(Relabel::Join { dst: dst.clone(), separator: separator.clone(), srcs: strings[2..].to_vec() })
        }
    }

    pub(crate) fn apply(&self, m: &SeriesMeta) -> SeriesMeta {
        let (dst, value) = match self {
            Relabel::Replace { dst, replacement, src, regex } => {
                let src_val = m.labels.get(src).unwrap_or("");
                let Some(regex) = regex.regex() else { return m.clone() };
                let Some(caps) = regex.captures(src_val) else { return m.clone() };
                (dst, expand_template(regex, replacement, &caps))
            }
            Relabel::Join { dst, separator, srcs } => {
                let vals: Vec<&str> = srcs.iter().map(|s| m.labels.get(s).unwrap_or("")).collect();
                (dst, vals.join(separator))
            }
        };
        let labels = m.labels.builder().set(dst.as_str(), value).labels();
        SeriesMeta { labels, drop_name: if dst == METRIC_NAME { false } else { m.drop_name } }
    }
}

impl Operator for RelabelOp<'_> {
    fn series(&mut self) -> Result<Arc<[SeriesMeta]>, EvalError> {
        if let Some(m) = &self.meta {
            return Ok(m.clone());
        }
        let inner = self.child.series()?;
        let mut table = SeriesTable::default();
        self.mapping = inner.iter().map(|m| table.intern(self.rule.apply(m))).collect();
        let out = table.finish();
        self.meta = Some(out.clone());
        Ok(out)
    }

    fn next(&mut self) -> Result<Option<StepBatch>, EvalError> {
        if self.meta.is_none() {
            self.series()?;
        }
        let Some(mut batch) = self.child.next()? else { return Ok(None) };
        for step in batch.iter_mut() {
            let mut seen = hashbrown::HashSet::new();
            for s in step.samples.iter_mut() {
                s.id = self.mapping[s.id as usize];
                if !seen.insert(s.id) {
                    return Err(EvalError::msg("vector cannot contain metrics with the same labelset"));
                }
            }
        }
        Ok(Some(batch))
    }
}

/// `absent(v)`: one series with value 1 at the steps where `v` is empty.
pub(crate) struct AbsentOp<'a> {
    pub(crate) child: BoxOp<'a>,
    pub(crate) labels: Labels,
}

impl Operator for AbsentOp<'_> {
    fn series(&mut self) -> Result<Arc<[SeriesMeta]>, EvalError> {
        self.child.series()?;
        Ok(Arc::from(vec![SeriesMeta::new(self.labels.clone())]))
    }

    fn next(&mut self) -> Result<Option<StepBatch>, EvalError> {
        let Some(mut batch) = self.child.next()? else { return Ok(None) };
        for step in batch.iter_mut() {
            let empty = step.samples.is_empty();
            step.samples.clear();
            if empty {
                step.samples.push(Sample::float(0, 1.0));
            }
        }
        Ok(Some(batch))
    }
}

/// The labels `absent` gives its output: the equality matchers of a selector argument.
pub(crate) fn absent_labels(matchers: &[crate::model::Matcher]) -> Labels {
    let mut b = Labels::empty().builder();
    let mut has: Vec<&str> = Vec::new();
    for m in matchers {
        if m.name == METRIC_NAME {
            continue;
        }
        if m.op == crate::model::MatchOp::Equal && !has.contains(&m.name.as_str()) {
            b.set_mut(m.name.as_str(), m.value.as_str());
            has.push(&m.name);
        } else {
            b.del_mut(&m.name);
        }
    }
    b.labels()
}

/// What a [`ClassicHistogramOp`] computes from each group of `le` buckets.
#[derive(Debug, Clone)]
pub(crate) enum ClassicMode {
    /// `histogram_quantile(q, v)`.
    Quantile,
    /// `histogram_fraction(lower, upper, v)`.
    Fraction,
    /// `histogram_quantiles(v, label, q...)`: one series per quantile, labelled.
    Quantiles { label: String },
}

/// `histogram_quantile`, `histogram_fraction` and `histogram_quantiles` over classic histograms
/// (series with an `le` label, grouped by their other labels).
pub(crate) struct ClassicHistogramOp<'a> {
    pub(crate) ctx: &'a ExecContext<'a>,
    pub(crate) mode: ClassicMode,
    pub(crate) scalars: Vec<BoxOp<'a>>,
    pub(crate) scalar_spans: Vec<Span>,
    pub(crate) child: BoxOp<'a>,
    pub(crate) arg_span: Span,
    /// Per input series: its bucket bound (None when `le` is bad) and group.
    pub(crate) input: Vec<(Option<f64>, u32)>,
    pub(crate) n_groups: usize,
    pub(crate) group_labels: Vec<Labels>,
    /// The scalar arguments at every step.
    pub(crate) scalar_values: Vec<Vec<f64>>,
    /// For `histogram_quantiles`: the distinct quantiles, in first-seen order.
    pub(crate) quantiles: Vec<f64>,
    pub(crate) in_meta: Option<Arc<[SeriesMeta]>>,
    pub(crate) meta: Option<Arc<[SeriesMeta]>>,
    pub(crate) step_index: usize,
}

/// Parses an `le` value as Go's `strconv.ParseFloat` would.
fn parse_le(s: &str) -> Option<f64> {
    let lower = s.to_ascii_lowercase();
    let body = lower.strip_prefix('+').unwrap_or(&lower);
    match body {
        "inf" | "infinity" => return Some(f64::INFINITY),
        "-inf" | "-infinity" => return Some(f64::NEG_INFINITY),
        "nan" => return Some(f64::NAN),
        _ => {}
    }
    s.parse::<f64>().ok()
}

/// Prometheus's `FormatOpenMetricsFloat`.
fn openmetrics_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    let mut s = crate::model::format_go_g(f);
    if !s.contains(['e', '.']) {
        s.push_str(".0");
    }
    s
}

impl ClassicHistogramOp<'_> {
    fn setup(&mut self) -> Result<(), EvalError> {
        let inner = self.child.series()?;
        for op in self.scalars.iter_mut() {
            op.series()?;
            let mut vals = Vec::new();
            while let Some(b) = op.next()? {
                vals.extend(scalar_values(&b));
            }
            self.scalar_values.push(vals);
        }
        let delayed = self.ctx.delayed_name_removal;
        let mut groups: hashbrown::HashMap<Labels, u32> = hashbrown::HashMap::new();
        let mut group_labels = Vec::new();
        self.input = inner
            .iter()
            .map(|m| {
                let le = m.labels.get("le").and_then(parse_le);
                let key = m.labels.builder().without(&["le"]).labels();
                let n = groups.len() as u32;
                let id = *groups.entry(key.clone()).or_insert_with(|| {
                    group_labels.push(if delayed { key } else { drop_metadata(&key) });
                    n
                });
                (le, id)
            })
            .collect();
        self.n_groups = group_labels.len();
        let meta: Vec<SeriesMeta> = match &self.mode {
            ClassicMode::Quantiles { label } => {
                for vals in &self.scalar_values {
                    for &q in vals {
                        if !self.quantiles.iter().any(|x| x.to_bits() == q.to_bits()) {
                            self.quantiles.push(q);
                        }
                    }
                }
                let mut out = Vec::new();
                for q in &self.quantiles {
                    for g in &group_labels {
                        let l = g.builder().set(label.as_str(), openmetrics_float(*q)).labels();
                        out.push(SeriesMeta { labels: l, drop_name: delayed });
                    }
                }
                out
            }
            _ => group_labels.iter().map(|l| SeriesMeta { labels: l.clone(), drop_name: delayed }).collect(),
        };
        self.group_labels = group_labels;
        self.in_meta = Some(inner);
        self.meta = Some(Arc::from(meta));
        Ok(())
    }

    fn scalar(&self, i: usize, step: usize) -> f64 {
        self.scalar_values.get(i).and_then(|v| v.get(step)).copied().unwrap_or(f64::NAN)
    }

    fn warn_quantile(&self, q: f64, span: Span) {
        if q.is_nan() || !(0.0..=1.0).contains(&q) {
            self.ctx.annotate(Annotation::warning(
                format!("quantile value should be between 0 and 1, got {}", crate::model::format_go_g(q)),
                span,
            ));
        }
    }

    fn monotonicity_info(&self, gid: u32) {
        let name = if self.ctx.delayed_name_removal {
            self.group_labels.get(gid as usize).and_then(|l| l.get(METRIC_NAME)).unwrap_or("")
        } else {
            ""
        };
        let mut text = "input to histogram_quantile needed to be fixed for monotonicity (see https://prometheus.io/docs/prometheus/latest/querying/functions/#histogram_quantile)".to_string();
        if !name.is_empty() {
            text.push_str(&format!(" for metric name {name:?}"));
        }
        self.ctx.annotate(Annotation::info(text, self.arg_span));
    }
}

impl Operator for ClassicHistogramOp<'_> {
    fn series(&mut self) -> Result<Arc<[SeriesMeta]>, EvalError> {
        if self.meta.is_none() {
            self.setup()?;
        }
        Ok(self.meta.clone().unwrap_or_else(|| Arc::from(Vec::new())))
    }

    fn next(&mut self) -> Result<Option<StepBatch>, EvalError> {
        if self.meta.is_none() {
            self.setup()?;
        }
        let Some(mut batch) = self.child.next()? else { return Ok(None) };
        let in_meta = self.in_meta.clone().unwrap_or_else(|| Arc::from(Vec::new()));
        for step in batch.iter_mut() {
            let k = self.step_index;
            self.step_index += 1;
            match &self.mode {
                ClassicMode::Quantile => self.warn_quantile(self.scalar(0, k), self.scalar_spans[0]),
                ClassicMode::Quantiles { .. } => {
                    for i in 0..self.scalars.len() {
                        self.warn_quantile(self.scalar(i, k), self.scalar_spans[i]);
                    }
                }
                ClassicMode::Fraction => {}
            }
            if step.samples.is_empty() {
                continue;
            }
            let mut groups: Vec<Vec<Bucket>> = vec![Vec::new(); self.n_groups];
            let mut order: Vec<u32> = Vec::new();
            let mut natives: Vec<(u32, Arc<crate::model::FloatHistogram>)> = Vec::new();
            for s in step.samples.iter() {
                if let Some(h) = &s.h {
                    natives.push((s.id, h.clone()));
                    continue;
                }
                let (le, gid) = self.input[s.id as usize];
                let Some(le) = le else {
                    let labels = &in_meta[s.id as usize].labels;
                    let name = labels.get(METRIC_NAME).unwrap_or("");
                    let le_val = labels.get("le").unwrap_or("");
                    let mut text =
                        format!("bucket label \"le\" is missing or has a malformed value of {le_val:?}");
                    if self.ctx.delayed_name_removal && !name.is_empty() {
                        text.push_str(&format!(" for metric name {name:?}"));
                    }
                    self.ctx.annotate(Annotation::warning(text, self.arg_span));
                    continue;
                };
                if groups[gid as usize].is_empty() {
                    order.push(gid);
                }
                groups[gid as usize].push(Bucket { upper_bound: le, count: s.f });
            }
            let mut out = Vec::with_capacity(order.len());
            // Native histograms, unless classic buckets of the same series exist at this step.
            let mut native_out: Vec<(u32, Arc<crate::model::FloatHistogram>)> = Vec::new();
            for (id, h) in natives {
                let gid = self.input[id as usize].1;
                if !groups[gid as usize].is_empty() {
                    let name = in_meta[id as usize].labels.get(METRIC_NAME).unwrap_or("");
                    let mut text = "vector contains a mix of classic and native histograms".to_string();
                    if self.ctx.delayed_name_removal && !name.is_empty() {
                        text.push_str(&format!(" for metric name {name:?}"));
                    }
                    self.ctx.annotate(Annotation::warning(text, self.arg_span));
                    groups[gid as usize].clear();
                    order.retain(|g| *g != gid);
                    continue;
                }
                native_out.push((gid, h));
            }
            let native_quantile = |q: f64, gid: u32, h: &crate::model::FloatHistogram| {
                let (v, note) = crate::functions::hist_quantile(q, h);
                if let Some(nan_result) = note {
                    let name =
                        self.group_labels.get(gid as usize).and_then(|l| l.get(METRIC_NAME)).unwrap_or("");
                    let text = if nan_result {
                        "input to histogram_quantile has NaN observations, result is NaN"
                    } else {
                        "input to histogram_quantile has NaN observations, result is skewed higher"
                    };
                    let mut text = text.to_string();
                    if !name.is_empty() {
                        text.push_str(&format!(" for metric name {name:?}"));
                    }
                    self.ctx.annotate(Annotation::info(text, self.arg_span));
                }
                v
            };
            match &self.mode {
                ClassicMode::Quantile => {
                    for (gid, h) in &native_out {
                        out.push(Sample::float(*gid, native_quantile(self.scalar(0, k), *gid, h)));
                    }
                }
                ClassicMode::Quantiles { .. } => {
                    for i in 0..self.scalars.len() {
                        let q = self.scalar(i, k);
                        let qi = self.quantiles.iter().position(|x| x.to_bits() == q.to_bits()).unwrap_or(0);
                        for (gid, h) in &native_out {
                            out.push(Sample::float(
                                (qi * self.n_groups) as u32 + gid,
                                native_quantile(q, *gid, h),
                            ));
                        }
                    }
                }
                ClassicMode::Fraction => {
                    let (lower, upper) = (self.scalar(0, k), self.scalar(1, k));
                    for (gid, h) in &native_out {
                        let (v, nan_observations) = crate::functions::hist_fraction(lower, upper, h);
                        if nan_observations {
                            let name = self
                                .group_labels
                                .get(*gid as usize)
                                .and_then(|l| l.get(METRIC_NAME))
                                .unwrap_or("");
                            let mut text = "input to histogram_fraction has NaN observations, which are excluded from all fractions".to_string();
                            if !name.is_empty() {
                                text.push_str(&format!(" for metric name {name:?}"));
                            }
                            self.ctx.annotate(Annotation::info(text, self.arg_span));
                        }
                        out.push(Sample::float(*gid, v));
                    }
                }
            }
            match &self.mode {
                ClassicMode::Quantile => {
                    let q = self.scalar(0, k);
                    for gid in order {
                        let r = bucket_quantile(q, &mut groups[gid as usize]);
                        if r.forced_monotonic {
                            self.monotonicity_info(gid);
                        }
                        out.push(Sample::float(gid, r.value));
                    }
                }
                ClassicMode::Fraction => {
                    let (lower, upper) = (self.scalar(0, k), self.scalar(1, k));
                    for gid in order {
                        out.push(Sample::float(
                            gid,
                            bucket_fraction(lower, upper, &mut groups[gid as usize]),
                        ));
                    }
                }
                ClassicMode::Quantiles { .. } => {
                    for i in 0..self.scalars.len() {
                        let q = self.scalar(i, k);
                        let qi = self.quantiles.iter().position(|x| x.to_bits() == q.to_bits()).unwrap_or(0);
                        for &gid in &order {
                            let mut buckets = groups[gid as usize].clone();
                            let r = bucket_quantile(q, &mut buckets);
                            if r.forced_monotonic {
                                self.monotonicity_info(gid);
                            }
                            out.push(Sample::float((qi * self.n_groups) as u32 + gid, r.value));
                        }
                    }
                }
            }
            step.samples = out;
        }
        Ok(Some(batch))
    }
}
