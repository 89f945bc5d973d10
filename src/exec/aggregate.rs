//! Aggregations: `sum`, `avg`, `count`, `min`, `max`, `group`, `stddev`, `stdvar`, `quantile`
//! (one output series per group) and `topk`, `bottomk`, `limitk`, `limit_ratio` (a subset of
//! the input series), step by step in input order with Prometheus's float algorithms.

use std::sync::Arc;

use crate::exec::labels_ops::{grouping_key, grouping_labels};
use crate::exec::scalar::scalar_values;
use crate::exec::{Annotation, BoxOp, EvalError, ExecContext, Operator, Sample, SeriesMeta, StepBatch};
use crate::functions::{kahan_inc, quantile};
use crate::model::{Labels, format_go_g};
use crate::parser::{AggregateOp, Span};

/// An aggregation operator.
pub(crate) struct AggregateExec<'a> {
    pub(crate) ctx: &'a ExecContext<'a>,
    pub(crate) op: AggregateOp,
    pub(crate) child: BoxOp<'a>,
    pub(crate) param: Option<BoxOp<'a>>,
    pub(crate) grouping: Vec<String>,
    pub(crate) without: bool,
    pub(crate) span: Span,
    pub(crate) expr_span: Span,
    pub(crate) param_span: Span,
    /// Group of each input series.
    pub(crate) group_of: Vec<u32>,
    pub(crate) n_groups: usize,
    pub(crate) in_meta: Option<Arc<[SeriesMeta]>>,
    pub(crate) meta: Option<Arc<[SeriesMeta]>>,
    /// All parameter values, one per step (read up front, as Prometheus validates them all).
    pub(crate) params: Vec<f64>,
    pub(crate) step_index: usize,
    pub(crate) empty: bool,
}

fn is_k_op(op: AggregateOp) -> bool {
    matches!(op, AggregateOp::Topk | AggregateOp::Bottomk | AggregateOp::Limitk | AggregateOp::LimitRatio)
}

#[derive(Clone, Default)]
struct Group {
    seen: bool,
    value: f64,
    mean: f64,
    kahan_c: f64,
    count: f64,
    incremental: bool,
    drop_name: bool,
    values: Vec<f64>,
    heap: Vec<Sample>,
    complete: bool,
    has_float: bool,
    hist: Option<crate::model::FloatHistogram>,
    has_hist: bool,
    /// Kahan compensation of `hist` (or of `hist_mean` once the mean is incremental).
    hist_c: Option<crate::model::FloatHistogram>,
    hist_mean: Option<crate::model::FloatHistogram>,
    hist_incremental: bool,
    counter_reset_seen: bool,
    not_counter_reset_seen: bool,
    incompatible: bool,
}

impl Group {
    fn track_hint(&mut self, h: &crate::model::FloatHistogram) {
        match h.counter_reset_hint {
            crate::model::CounterResetHint::CounterReset => self.counter_reset_seen = true,
            crate::model::CounterResetHint::NotCounterReset => self.not_counter_reset_seen = true,
            _ => {}
        }
    }

    /// Adds a histogram to a `sum` or `avg` group that holds histograms (Prometheus's
    /// aggregation with `KahanAdd`, switching `avg` to an incremental mean on overflow).
    /// Returns whether custom bucket bounds were reconciled, or the error.
    fn add_histogram(
        &mut self,
        h: &crate::model::FloatHistogram,
        avg: bool,
    ) -> Result<bool, crate::model::HistogramError> {
        self.track_hint(h);
        let Some(acc) = self.hist.as_mut() else { return Ok(false) };
        if !avg {
            return Ok(acc.kahan_add(h, &mut self.hist_c)?.custom_bounds_reconciled);
        }
        let mut reconciled = false;
        if !self.hist_incremental {
            let mut v = acc.clone();
            let mut c = self.hist_c.clone();
            reconciled = v.kahan_add(h, &mut c)?.custom_bounds_reconciled;
            if !v.has_overflow() {
                *acc = v;
                self.hist_c = c;
                return Ok(reconciled);
            }
            self.hist_incremental = true;
            let mut mean = acc.clone();
            mean.div(self.count - 1.0);
            self.hist_mean = Some(mean);
            if let Some(c) = self.hist_c.as_mut() {
                c.div(self.count - 1.0);
            }
        }
        let q = (self.count - 1.0) / self.count;
        if let Some(c) = self.hist_c.as_mut() {
            c.mul(q);
        }
        let mut to_add = h.clone();
        to_add.div(self.count);
        if let Some(mean) = self.hist_mean.as_mut() {
            mean.mul(q);
            reconciled |= mean.kahan_add(&to_add, &mut self.hist_c)?.custom_bounds_reconciled;
        }
        Ok(reconciled)
    }

    /// The final histogram of a `sum` or `avg` group.
    fn finish_histogram(&mut self, avg: bool) -> Option<crate::model::FloatHistogram> {
        let mut h = if avg && self.hist_incremental {
            let mut mean = self.hist_mean.take()?;
            if let Some(c) = self.hist_c.take() {
                let _ = mean.add(&c);
            }
            mean
        } else {
            let mut h = self.hist.take()?;
            if avg {
                h.div(self.count);
            }
            if let Some(mut c) = self.hist_c.take() {
                if avg {
                    c.div(self.count);
                }
                let _ = h.add(&c);
            }
            h
        };
        h.compact(0);
        Some(h)
    }
}

impl AggregateExec<'_> {
    fn setup(&mut self) -> Result<(), EvalError> {
        let inner = self.child.series()?;
        let mut keys: hashbrown::HashMap<Labels, u32> = hashbrown::HashMap::new();
        let mut out: Vec<SeriesMeta> = Vec::new();
        self.group_of = inner
            .iter()
            .map(|m| {
                let key = grouping_key(&m.labels, &self.grouping, self.without);
                let next = keys.len() as u32;
                *keys.entry(key).or_insert_with(|| {
                    out.push(SeriesMeta::new(grouping_labels(&m.labels, &self.grouping, self.without)));
                    next
                })
            })
            .collect();
        self.n_groups = keys.len();
        for (i, m) in inner.iter().enumerate() {
            if m.drop_name
                && let Some(o) = out.get_mut(self.group_of[i] as usize)
            {
                o.drop_name = true;
            }
        }
        let meta: Arc<[SeriesMeta]> = if is_k_op(self.op) { inner.clone() } else { Arc::from(out) };
        if let Some(p) = self.param.as_mut() {
            p.series()?;
            while let Some(b) = p.next()? {
                self.params.extend(scalar_values(&b));
            }
        }
        self.validate_params()?;
        self.in_meta = Some(inner);
        self.meta = Some(meta);
        Ok(())
    }

    fn validate_params(&mut self) -> Result<(), EvalError> {
        if self.params.is_empty() {
            return Ok(());
        }
        let any_nan = self.params.iter().any(|v| v.is_nan());
        let max = self.params.iter().copied().filter(|v| !v.is_nan()).fold(f64::NEG_INFINITY, f64::max);
        let min = self.params.iter().copied().filter(|v| !v.is_nan()).fold(f64::INFINITY, f64::min);
        match self.op {
            AggregateOp::Topk | AggregateOp::Bottomk | AggregateOp::Limitk => {
                if max < 1.0 && !any_nan {
                    self.empty = true;
                    return Ok(());
                }
                if any_nan {
                    return Err(EvalError::msg("Parameter value is NaN"));
                }
                if min <= -9.223372036854776e18 {
                    return Err(EvalError::msg(format!(
                        "Scalar value {} underflows int64",
                        format_go_g(min)
                    )));
                }
                if max >= 9.223372036854776e18 {
                    return Err(EvalError::msg(format!("Scalar value {} overflows int64", format_go_g(max))));
                }
            }
            AggregateOp::LimitRatio => {
                if max == 0.0 && min == 0.0 && !any_nan {
                    self.empty = true;
                    return Ok(());
                }
                if any_nan {
                    return Err(EvalError::msg("Ratio value is NaN"));
                }
                if max > 1.0 {
                    self.ctx.annotate(Annotation::warning(
                        format!(
                            "ratio value should be between -1 and 1, got {}, capping to 1",
                            format_go_g(max)
                        ),
                        self.param_span,
                    ));
                }
                if min < -1.0 {
                    self.ctx.annotate(Annotation::warning(
                        format!(
                            "ratio value should be between -1 and 1, got {}, capping to -1",
                            format_go_g(min)
                        ),
                        self.param_span,
                    ));
                }
            }
            AggregateOp::Quantile => {
                if any_nan {
                    self.ctx.annotate(Annotation::warning(
                        "quantile value should be between 0 and 1, got NaN",
                        self.param_span,
                    ));
                }
                if max > 1.0 {
                    self.ctx.annotate(Annotation::warning(
                        format!("quantile value should be between 0 and 1, got {}", format_go_g(max)),
                        self.param_span,
                    ));
                }
                if min < 0.0 {
                    self.ctx.annotate(Annotation::warning(
                        format!("quantile value should be between 0 and 1, got {}", format_go_g(min)),
                        self.param_span,
                    ));
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn ignored(&self, name: &str, span: Span) {
        self.ctx.annotate(Annotation::info(format!("ignored histogram in {name} aggregation"), span));
    }

    /// `sum`/`count`/`min`/`max`/`group` of a step holding only floats: dense per-group columns
    /// instead of a [`Group`] per group, with the same arithmetic in the same order.
    fn float_step(&self, samples: &[Sample]) -> Vec<Sample> {
        let op = self.op;
        let n = self.n_groups;
        let (mut seen, mut value, mut comp) = (vec![false; n], vec![0.0f64; n], vec![0.0f64; n]);
        for s in samples {
            let g = self.group_of[s.id as usize] as usize;
            let f = s.f;
            if !seen[g] {
                seen[g] = true;
                value[g] = match op {
                    AggregateOp::Count | AggregateOp::Group => 1.0,
                    _ => f,
                };
                continue;
            }
            match op {
                AggregateOp::Sum => (value[g], comp[g]) = kahan_inc(f, value[g], comp[g]),
                AggregateOp::Count => value[g] += 1.0,
                AggregateOp::Min if value[g] > f || value[g].is_nan() => value[g] = f,
                AggregateOp::Max if value[g] < f || value[g].is_nan() => value[g] = f,
                _ => {}
            }
        }
        (0..n)
            .filter(|&g| seen[g])
            .map(|g| {
                Sample::float(g as u32, if op == AggregateOp::Sum { value[g] + comp[g] } else { value[g] })
            })
            .collect()
    }

    fn aggregate_step(&self, samples: &[Sample], q: f64) -> Result<Vec<Sample>, EvalError> {
        let op = self.op;
        if matches!(
            op,
            AggregateOp::Sum | AggregateOp::Count | AggregateOp::Min | AggregateOp::Max | AggregateOp::Group
        ) && samples.iter().all(|s| s.h.is_none())
        {
            return Ok(self.float_step(samples));
        }
        let mut groups = vec![Group::default(); self.n_groups];
        let in_meta = self.in_meta.as_ref();
        for s in samples {
            let g = &mut groups[self.group_of[s.id as usize] as usize];
            let f = s.f;
            let drop = in_meta.is_some_and(|m| m[s.id as usize].drop_name);
            if matches!(op, AggregateOp::Sum | AggregateOp::Avg) {
                match &s.h {
                    Some(h) => {
                        if !g.seen {
                            *g = Group { seen: true, drop_name: drop, count: 1.0, ..Group::default() };
                            g.track_hint(h);
                            g.hist = Some((**h).clone());
                            g.has_hist = true;
                        } else {
                            g.has_hist = true;
                            if g.incompatible {
                                continue;
                            }
                            if op == AggregateOp::Avg {
                                g.count += 1.0;
                            }
                            g.drop_name |= drop;
                            match g.add_histogram(h, op == AggregateOp::Avg) {
                                Ok(reconciled) => {
                                    if reconciled {
                                        self.ctx.annotate(Annotation::info(
                                            "mismatched custom buckets were reconciled during aggregation",
                                            self.expr_span,
                                        ));
                                    }
                                }
                                Err(_) => {
                                    g.incompatible = true;
                                    let name = in_meta
                                        .and_then(|m| m[s.id as usize].labels.get(crate::model::METRIC_NAME))
                                        .unwrap_or("")
                                        .to_string();
                                    self.ctx.annotate(Annotation::warning(
                                        format!("vector contains a mix of histograms with exponential and custom buckets schemas for metric name {name:?}"),
                                        self.expr_span,
                                    ));
                                }
                            }
                        }
                        continue;
                    }
                    None => {
                        if g.seen && g.incompatible {
                            continue;
                        }
                        if g.seen && !g.has_float {
                            // The group so far held only histograms.
                            g.has_float = true;
                            g.value = f;
                            g.mean = f;
                            g.count += 1.0;
                            continue;
                        }
                        if !g.seen {
                            *g = Group {
                                seen: true,
                                value: f,
                                mean: f,
                                count: 1.0,
                                drop_name: drop,
                                has_float: true,
                                ..Group::default()
                            };
                            continue;
                        }
                    }
                }
            }
            if !g.seen {
                *g = Group { seen: true, value: f, mean: f, count: 1.0, drop_name: drop, ..Group::default() };
                match op {
                    AggregateOp::Stddev | AggregateOp::Stdvar => {
                        if s.h.is_some() {
                            g.seen = false;
                            self.ignored(op.as_str(), self.expr_span);
                        } else if f.is_nan() || f.is_infinite() {
                            g.value = f64::NAN;
                        } else {
                            g.value = 0.0;
                        }
                    }
                    AggregateOp::Quantile => {
                        if s.h.is_some() {
                            g.seen = false;
                            self.ignored("quantile", self.expr_span);
                        }
                        g.values = vec![f];
                    }
                    AggregateOp::Group => g.value = 1.0,
                    AggregateOp::Min | AggregateOp::Max if s.h.is_some() => {
                        g.seen = false;
                        self.ignored(op.as_str(), self.expr_span);
                    }
                    _ => {}
                }
                continue;
            }
            if drop {
                g.drop_name = true;
            }
            match op {
                AggregateOp::Sum => (g.value, g.kahan_c) = kahan_inc(f, g.value, g.kahan_c),
                AggregateOp::Avg => {
                    g.count += 1.0;
                    if !g.incremental {
                        let (nv, nc) = kahan_inc(f, g.value, g.kahan_c);
                        if !nv.is_infinite() {
                            g.value = nv;
                            g.kahan_c = nc;
                            continue;
                        }
                        g.incremental = true;
                        g.mean = g.value / (g.count - 1.0);
                        g.kahan_c /= g.count - 1.0;
                    }
                    let q = (g.count - 1.0) / g.count;
                    (g.mean, g.kahan_c) = kahan_inc(f / g.count, q * g.mean, q * g.kahan_c);
                }
                AggregateOp::Group => {}
                AggregateOp::Max => {
                    if s.h.is_some() {
                        self.ignored("max", self.expr_span);
                        continue;
                    }
                    if g.value < f || g.value.is_nan() {
                        g.value = f;
                    }
                }
                AggregateOp::Min => {
                    if s.h.is_some() {
                        self.ignored("min", self.expr_span);
                        continue;
                    }
                    if g.value > f || g.value.is_nan() {
                        g.value = f;
                    }
                }
                AggregateOp::Count => g.count += 1.0,
                AggregateOp::Stddev | AggregateOp::Stdvar => {
                    if s.h.is_some() {
                        self.ignored(op.as_str(), self.expr_span);
                        continue;
                    }
                    g.count += 1.0;
                    let delta = f - g.mean;
                    g.mean += delta / g.count;
                    g.value += delta * (f - g.mean);
                }
                AggregateOp::Quantile => {
                    if s.h.is_some() {
                        self.ignored("quantile", self.expr_span);
                        continue;
                    }
                    g.values.push(f);
                }
                _ => {}
            }
        }
        let mut out = Vec::new();
        for (gid, g) in groups.iter_mut().enumerate() {
            if !g.seen {
                continue;
            }
            if matches!(op, AggregateOp::Sum | AggregateOp::Avg) && g.has_hist {
                if g.has_float {
                    self.ctx.annotate(Annotation::warning(
                        "encountered a mix of histograms and floats for aggregation",
                        self.expr_span,
                    ));
                    continue;
                }
                if g.incompatible {
                    continue;
                }
                if let Some(h) = g.finish_histogram(op == AggregateOp::Avg) {
                    if g.counter_reset_seen && g.not_counter_reset_seen {
                        self.ctx.annotate(Annotation::warning(
                            "conflicting counter resets during histogram aggregation",
                            self.expr_span,
                        ));
                    }
                    out.push(Sample { id: gid as u32, f: 0.0, h: Some(Arc::new(h)) });
                }
                continue;
            }
            let v = match op {
                AggregateOp::Avg => {
                    if g.incremental {
                        g.mean + g.kahan_c
                    } else {
                        g.value / g.count + g.kahan_c / g.count
                    }
                }
                AggregateOp::Count => g.count,
                AggregateOp::Stdvar => g.value / g.count,
                AggregateOp::Stddev => (g.value / g.count).sqrt(),
                AggregateOp::Quantile => quantile(q, &mut g.values),
                AggregateOp::Sum => g.value + g.kahan_c,
                _ => g.value,
            };
            out.push(Sample::float(gid as u32, v));
        }
        Ok(out)
    }

    fn k_step(&self, samples: &[Sample], param: f64) -> Vec<Sample> {
        let op = self.op;
        let n_in = self.group_of.len() as i64;
        let mut groups: Vec<Group> = vec![Group::default(); self.n_groups];
        let mut remaining = self.n_groups;
        let top_less = |a: &Sample, b: &Sample| a.f.is_nan() || a.f < b.f;
        let bottom_less = |a: &Sample, b: &Sample| a.f.is_nan() || a.f > b.f;
        let in_meta = self.in_meta.clone();
        for s in samples {
            let (k, r) = match op {
                AggregateOp::LimitRatio => {
                    if param == 0.0 {
                        return Vec::new();
                    }
                    (0i64, param.clamp(-1.0, 1.0))
                }
                _ => {
                    let k = (param as i64).min(n_in);
                    if k < 1 {
                        return Vec::new();
                    }
                    (k, 0.0)
                }
            };
            let g = &mut groups[self.group_of[s.id as usize] as usize];
            let ratio_ok = || {
                let labels = in_meta.as_ref().map(|m| m[s.id as usize].labels.clone()).unwrap_or_default();
                let offset = labels.fingerprint() as f64 / u64::MAX as f64;
                (r >= 0.0 && offset < r) || (r < 0.0 && offset >= 1.0 + r)
            };
            if !g.seen {
                *g = Group { seen: true, ..Group::default() };
                match op {
                    AggregateOp::LimitRatio if ratio_ok() => heap_push(&mut g.heap, s.clone(), &top_less),
                    AggregateOp::Limitk => g.heap.push(s.clone()),
                    AggregateOp::Topk | AggregateOp::Bottomk => {
                        if s.h.is_some() {
                            g.seen = false;
                            self.ignored(op.as_str(), self.span);
                        } else if op == AggregateOp::Topk {
                            heap_push(&mut g.heap, s.clone(), &top_less);
                        } else {
                            heap_push(&mut g.heap, s.clone(), &bottom_less);
                        }
                    }
                    _ => {}
                }
                if op == AggregateOp::Limitk && g.heap.len() as i64 == k && !g.complete {
                    // Prometheus only notices completion on the next sample of the group.
                }
                continue;
            }
            match op {
                AggregateOp::Topk | AggregateOp::Bottomk => {
                    let less: &dyn Fn(&Sample, &Sample) -> bool =
                        if op == AggregateOp::Topk { &top_less } else { &bottom_less };
                    if s.h.is_some() {
                        self.ignored(op.as_str(), self.span);
                    } else if (g.heap.len() as i64) < k {
                        heap_push(&mut g.heap, s.clone(), less);
                    } else {
                        let root = &g.heap[0];
                        let replace = if op == AggregateOp::Topk {
                            root.f < s.f || (root.f.is_nan() && !s.f.is_nan())
                        } else {
                            root.f > s.f || (root.f.is_nan() && !s.f.is_nan())
                        };
                        if replace {
                            g.heap[0] = s.clone();
                            if k > 1 {
                                heap_fix(&mut g.heap, 0, less);
                            }
                        }
                    }
                }
                AggregateOp::Limitk => {
                    if (g.heap.len() as i64) < k {
                        heap_push(&mut g.heap, s.clone(), &top_less);
                    }
                    if !g.complete && g.heap.len() as i64 == k {
                        g.complete = true;
                        remaining -= 1;
                        if remaining == 0 {
                            break;
                        }
                    }
                }
                AggregateOp::LimitRatio if ratio_ok() => heap_push(&mut g.heap, s.clone(), &top_less),
                _ => {}
            }
        }
        let mut out = Vec::new();
        for g in groups.iter_mut() {
            if !g.seen {
                continue;
            }
            match op {
                AggregateOp::Topk => insertion_sort(&mut g.heap, &|a, b| top_less(b, a)),
                AggregateOp::Bottomk => insertion_sort(&mut g.heap, &|a, b| bottom_less(b, a)),
                _ => {}
            }
            out.append(&mut g.heap);
        }
        out
    }
}

/// Go's `container/heap` push.
pub(crate) fn heap_push(h: &mut Vec<Sample>, s: Sample, less: &dyn Fn(&Sample, &Sample) -> bool) {
    h.push(s);
    let n = h.len();
    heap_up(h, n - 1, less);
}

fn heap_up(h: &mut [Sample], mut j: usize, less: &dyn Fn(&Sample, &Sample) -> bool) {
    while j > 0 {
        let i = (j - 1) / 2;
        if !less(&h[j], &h[i]) {
            break;
        }
        h.swap(i, j);
        j = i;
    }
}

fn heap_down(h: &mut [Sample], i0: usize, less: &dyn Fn(&Sample, &Sample) -> bool) -> bool {
    let n = h.len();
    let mut i = i0;
    loop {
        let j1 = 2 * i + 1;
        if j1 >= n {
            break;
        }
        let mut j = j1;
        let j2 = j1 + 1;
        if j2 < n && less(&h[j2], &h[j1]) {
            j = j2;
        }
        if !less(&h[j], &h[i]) {
            break;
        }
        h.swap(i, j);
        i = j;
    }
    i > i0
}

/// Go's `heap.Fix`.
pub(crate) fn heap_fix(h: &mut [Sample], i: usize, less: &dyn Fn(&Sample, &Sample) -> bool) {
    if !heap_down(h, i, less) {
        heap_up(h, i, less);
    }
}

/// Go's insertion sort (what `sort.Sort` does for up to 12 elements); stable otherwise.
pub(crate) fn insertion_sort(v: &mut [Sample], less: &dyn Fn(&Sample, &Sample) -> bool) {
    if v.len() > 12 {
        v.sort_by(|a, b| {
            if less(a, b) {
                std::cmp::Ordering::Less
            } else if less(b, a) {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        });
        return;
    }
    for i in 1..v.len() {
        let mut j = i;
        while j > 0 && less(&v[j], &v[j - 1]) {
            v.swap(j, j - 1);
            j -= 1;
        }
    }
}

impl Operator for AggregateExec<'_> {
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
        for step in batch.iter_mut() {
            let param = self.params.get(self.step_index).copied().unwrap_or(f64::NAN);
            self.step_index += 1;
            let samples = std::mem::take(&mut step.samples);
            if self.empty {
                continue;
            }
            step.samples = if is_k_op(self.op) {
                self.k_step(&samples, param)
            } else {
                self.aggregate_step(&samples, param)?
            };
        }
        Ok(Some(batch))
    }
}
