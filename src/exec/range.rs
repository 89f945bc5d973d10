//! Functions over range vectors: windows `(t - range, t]` slid over each series, from a range
//! selector or a subquery.

use std::sync::Arc;

use crate::exec::accounting::{NodeAccount, point_size};
use crate::exec::labels_ops::name_dropped;
use crate::exec::scalar::scalar_values;
use crate::exec::select::load;
use crate::exec::{
    Annotation, BoxOp, EvalError, ExecContext, Grid, Operator, Sample, SeriesMeta, StepBatch, StepVector,
    batch_end,
};
use crate::functions::sliding::{self, Cursor, SlidingIndex};
use crate::functions::{RangeArgs, RangeFn, RangeOutput, StartTimestamps};
use crate::model::{FPoint, HPoint, Labels, METRIC_NAME, is_stale_nan};
use crate::parser::Span;
use crate::plan::{MatrixSelector, Subquery};
use crate::storage::{SeriesData, SharedSlice};

/// Where the windows' points come from.
pub(crate) enum MatrixSource {
    /// A range selector.
    Selector(MatrixSelector),
    /// A subquery.
    Subquery(Box<Subquery>),
}

impl MatrixSource {
    fn range(&self) -> i64 {
        match self {
            MatrixSource::Selector(m) => m.range,
            MatrixSource::Subquery(s) => s.range,
        }
    }

    /// How far the window reaches beyond `(t - range, t]` on each side: `(before, after)`.
    fn extension(&self, lookback: i64) -> (i64, i64, bool, bool) {
        match self {
            MatrixSource::Selector(m) if m.selector.smoothed => (lookback, lookback, false, true),
            MatrixSource::Selector(m) if m.selector.anchored => (lookback, 0, true, false),
            _ => (0, 0, false, false),
        }
    }

    fn offset_at(&self) -> (i64, Option<i64>) {
        match self {
            MatrixSource::Selector(m) => (m.selector.offset, m.selector.at),
            MatrixSource::Subquery(s) => (s.offset, s.at),
        }
    }
}

/// The step grid a subquery's inner expression is evaluated on, for an outer grid (Prometheus's
/// `subqueryTimeRange`).
pub(crate) fn subquery_grid(sq: &Subquery, outer: Grid) -> Grid {
    let (start, end) = match sq.at {
        Some(at) => (at, at),
        None => (outer.start, outer.start + (outer.end - outer.start) / outer.interval * outer.interval),
    };
    let step = sq.step.max(1);
    let lo = start - sq.offset - sq.range;
    let mut s = step * (lo / step);
    if s <= lo {
        s += step;
    }
    Grid { start: s, end: end - sq.offset, interval: step }
}

/// Series of a matrix source and the sample account of a subquery's inner expression.
pub(crate) type MatrixData = (Vec<SeriesMeta>, Vec<SeriesData>, Option<Arc<NodeAccount>>);

/// Loads or computes the series of a matrix source over the whole time span an operator on
/// `grid` needs: their labels (with the name-removal mark from a subquery) and points without
/// staleness markers (a range selector's keep their start timestamps; a subquery's have none).
pub(crate) fn materialize<'a>(
    ctx: &'a ExecContext<'a>,
    source: &MatrixSource,
    grid: Grid,
) -> Result<MatrixData, EvalError> {
    match source {
        MatrixSource::Selector(m) => {
            let mut data = load(ctx, &m.selector, m.range)?;
            for s in data.iter_mut() {
                // The store's index tells whether the view holds a marker without a scan.
                let (off, n) = (s.floats.offset(), s.floats.len());
                if s.float_index.as_ref().is_none_or(|ix| ix.has_stale(off, off + n)) {
                    let copied;
                    (s.floats, s.float_st, copied) =
                        without_stale(&s.floats, &s.float_st, |p| is_stale_nan(p.f));
                    if copied {
                        s.float_index = None;
                    }
                }
                (s.histograms, s.histogram_st, _) =
                    without_stale(&s.histograms, &s.histogram_st, |p| is_stale_nan(p.h.sum));
            }
            let meta = data.iter().map(|s| SeriesMeta::new(s.labels.clone())).collect();
            Ok((meta, data, None))
        }
        MatrixSource::Subquery(sq) => {
            let inner = subquery_grid(sq, grid);
            let mut op = super::build(&sq.expr, inner, ctx)?;
            // The inner expression's account, just finished by `build`.
            let account = ctx.limits.accounting().take_last();
            let meta = op.series()?;
            let mut points: Vec<(Vec<FPoint>, Vec<HPoint>)> = vec![(Vec::new(), Vec::new()); meta.len()];
            // The points collected count against the sample limit through the inner account.
            while let Some(batch) = op.next()? {
                ctx.limits.check()?;
                for step in batch {
                    for s in step.samples {
                        let Some((floats, histograms)) = points.get_mut(s.id as usize) else { continue };
                        match s.h {
                            None => floats.push(FPoint { t: step.t, f: s.f }),
                            Some(mut h) => {
                                // A subquery may skip or repeat samples, so explicit counter
                                // reset hints no longer hold: resets are detected again.
                                use crate::model::CounterResetHint::{CounterReset, NotCounterReset};
                                if matches!(h.counter_reset_hint, CounterReset | NotCounterReset) {
                                    Arc::make_mut(&mut h).counter_reset_hint =
                                        crate::model::CounterResetHint::Unknown;
                                }
                                histograms.push(HPoint { t: step.t, h })
                            }
                        }
                    }
                }
            }
            let data = meta
                .iter()
                .zip(points)
                .map(|(m, (floats, histograms))| SeriesData {
                    labels: m.labels.clone(),
                    floats: floats.into(),
                    histograms: histograms.into(),
                    ..SeriesData::default()
                })
                .collect();
            Ok((meta.to_vec(), data, account))
        }
    }
}

/// Which function a [`RangeOp`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RangeKind {
    /// A function of each series' window.
    Func(RangeFn),
    /// `absent_over_time`: 1 when no series has a point in the window.
    Absent,
}

/// A function over a range vector.
pub(crate) struct RangeOp<'a> {
    pub(crate) ctx: &'a ExecContext<'a>,
    pub(crate) kind: RangeKind,
    pub(crate) source: MatrixSource,
    pub(crate) grid: Grid,
    pub(crate) scalar_args: Vec<BoxOp<'a>>,
    pub(crate) absent_labels: Labels,
    pub(crate) func_name: &'static str,
    pub(crate) arg_span: Span,
    /// The source's series; their start timestamps are kept only when the function uses them.
    pub(crate) data: Vec<SeriesData>,
    pub(crate) use_start_timestamps: bool,
    pub(crate) meta: Option<Arc<[SeriesMeta]>>,
    pub(crate) next_step: usize,
    /// Per series, the sliding-window index of a float-only series when the function slides
    /// (see `functions::sliding`); empty otherwise.
    pub(crate) sliding: Vec<Option<SlidingIndex>>,
    /// Per series, cursors for the window bounds of the sample accounting.
    pub(crate) limit_cursors: Vec<[Cursor; 4]>,
    /// The node's sample account (windows and outputs per series).
    pub(crate) account: Arc<NodeAccount>,
    /// Per series with histograms, prefix sums of their points' weights (sample accounting).
    pub(crate) hist_weights: Vec<Vec<i64>>,
    /// Per series, whether the "might not be a counter" info was raised already.
    pub(crate) counter_noted: Vec<bool>,
}

impl Operator for RangeOp<'_> {
    fn series(&mut self) -> Result<Arc<[SeriesMeta]>, EvalError> {
        if let Some(m) = &self.meta {
            return Ok(m.clone());
        }
        let (meta, mut data, inner) = materialize(self.ctx, &self.source, self.grid)?;
        self.account.set_series(data.len());
        if let Some(inner) = inner {
            self.account.set_subquery(inner);
        }
        let st_fn = matches!(
            self.kind,
            RangeKind::Func(RangeFn::Rate | RangeFn::Irate | RangeFn::Increase | RangeFn::Resets)
        );
        if !(self.use_start_timestamps && st_fn) {
            for s in data.iter_mut() {
                (s.float_st, s.histogram_st) = Default::default();
            }
        }
        self.data = data;
        let (_, _, anchored, smoothed) = self.source.extension(self.ctx.lookback);
        // The store's index is free to use. Building one costs a pass over each series: it pays
        // only when windows overlap (a single window, or disjoint ones, are cheaper to evaluate
        // directly).
        let overlapping = self.grid.steps() > 1 && self.source.range() > self.grid.interval;
        if let RangeKind::Func(f) = self.kind
            && sliding::slides(f)
            && !anchored
            && !smoothed
        {
            self.sliding = self
                .data
                .iter()
                .map(|s| {
                    if !s.histograms.is_empty() || !s.float_st.is_empty() {
                        return None;
                    }
                    match &s.float_index {
                        Some(ix) => Some(SlidingIndex::shared(ix.clone(), s.floats.offset())),
                        None => overlapping.then(|| SlidingIndex::new(&s.floats)),
                    }
                })
                .collect();
        }
        let delayed = self.ctx.delayed_name_removal;
        let out: Arc<[SeriesMeta]> = match self.kind {
            RangeKind::Absent => Arc::from(vec![SeriesMeta::new(self.absent_labels.clone())]),
            RangeKind::Func(f) => meta
                .iter()
                .map(|m| if f.keeps_name() && !m.drop_name { m.clone() } else { name_dropped(m, delayed) })
                .collect(),
        };
        self.meta = Some(out.clone());
        Ok(out)
    }

    fn next(&mut self) -> Result<Option<StepBatch>, EvalError> {
        if self.meta.is_none() {
            self.series()?;
        }
        let n = self.grid.steps();
        if self.next_step >= n {
            return Ok(None);
        }
        self.ctx.limits.check()?;
        let lo = self.next_step;
        let hi = batch_end(lo, n);
        let mut scalars: Vec<Vec<f64>> = Vec::new();
        for op in self.scalar_args.iter_mut() {
            let b = op.next()?.unwrap_or_default();
            scalars.push(scalar_values(&b));
        }
        let range = self.source.range();
        let (offset, at) = self.source.offset_at();
        let (ext_lo, ext_hi, anchored, smoothed) = self.source.extension(self.ctx.lookback);
        let grid = self.grid;
        let steps: Vec<(i64, i64)> = (lo..hi)
            .map(|i| {
                let t = grid.time(i);
                (t, at.unwrap_or(t) - offset)
            })
            .collect();
        if self.counter_noted.len() != self.data.len() {
            self.counter_noted = vec![false; self.data.len()];
        }
        let mut batch: StepBatch = steps
            .iter()
            .map(|&(t, _)| StepVector { t, samples: Vec::with_capacity(self.data.len()) })
            .collect();
        let windows = self.window_weights(&steps, range + ext_lo, ext_hi);
        let mut outputs = vec![0i64; self.data.len()];
        match self.kind {
            RangeKind::Absent => {
                for (o, w) in outputs.iter_mut().zip(windows.chunks(steps.len().max(1))) {
                    *o = w.iter().filter(|&&x| x > 0).count() as i64;
                }
                for (k, &(_, ref_t)) in steps.iter().enumerate() {
                    let any = self.data.iter().any(|s| {
                        let (f, h) = window(s, ref_t - range, ref_t);
                        !f.is_empty() || !h.is_empty()
                    });
                    if !any {
                        batch[k].samples.push(Sample::float(0, 1.0));
                    }
                }
            }
            RangeKind::Func(func) => {
                let work: usize =
                    self.data.iter().map(|s| s.floats.len() + s.histograms.len()).sum::<usize>()
                        * steps.len();
                let ids: Vec<usize> = (0..self.data.len()).collect();
                let data = &self.data;
                let all_sliding = &self.sliding;
                let results = self.ctx.parallelism.map(&ids, work, |&id| {
                    let s = &data[id];
                    // Slices taken once: the views are read at every step.
                    let (floats, hists): (&[FPoint], &[HPoint]) = (&s.floats, &s.histograms);
                    let series_sts: &[i64] = &s.float_st;
                    let series_hsts: &[i64] = &s.histogram_st;
                    let sliding_ix = all_sliding.get(id).and_then(Option::as_ref);
                    let name = s.labels.get(METRIC_NAME).unwrap_or("");
                    let mut notes = Vec::new();
                    let mut out = Vec::with_capacity(steps.len());
                    // Window bounds move forward with the steps: cursors instead of searches.
                    let (mut fa, mut fb, mut ha, mut hb) =
                        (Cursor::default(), Cursor::default(), Cursor::default(), Cursor::default());
                    if func == RangeFn::DoubleExponentialSmoothing
                        && hists.is_empty()
                        && ext_lo == 0
                        && ext_hi == 0
                    {
                        let arg = |i: usize, k: usize| scalars.get(i).map_or(f64::NAN, |v| v[k]);
                        let sf: Vec<f64> = (0..steps.len()).map(|k| arg(0, k)).collect();
                        let tf: Vec<f64> = (0..steps.len()).map(|k| arg(1, k)).collect();
                        let valid = |x: &f64| *x > 0.0 && *x < 1.0;
                        if sf.iter().all(valid) && tf.iter().all(valid) {
                            let windows: Vec<(usize, usize)> = steps
                                .iter()
                                .map(|&(_, ref_t)| {
                                    let a = fa.seek(floats, |p| p.t, ref_t - range);
                                    (a, fb.seek(floats, |p| p.t, ref_t).max(a))
                                })
                                .collect();
                            let values = sliding::double_exponential_smoothing(floats, &windows, &sf, &tf);
                            let outs =
                                values.into_iter().map(|v| v.map_or(RangeOutput::None, RangeOutput::Float));
                            return Ok((outs.collect(), notes));
                        }
                    }
                    for (k, &(t, ref_t)) in steps.iter().enumerate() {
                        let (lo_t, hi_t) = (ref_t - range - ext_lo, ref_t + ext_hi);
                        let a = fa.seek(floats, |p| p.t, lo_t);
                        let b = fb.seek(floats, |p| p.t, hi_t).max(a);
                        let (f, h) = if hists.is_empty() {
                            (&floats[a..b], hists)
                        } else {
                            let x = ha.seek(hists, |p| p.t, lo_t);
                            let y = hb.seek(hists, |p| p.t, hi_t).max(x);
                            (&floats[a..b], &hists[x..y])
                        };
                        let st: &[i64] = if series_sts.is_empty() {
                            &[]
                        } else {
                            series_sts.get(a..a + f.len()).unwrap_or(&[])
                        };
                        let hst: &[i64] = if series_hsts.is_empty() {
                            &[]
                        } else {
                            let a = hists.partition_point(|p| p.t <= lo_t);
                            series_hsts.get(a..a + h.len()).unwrap_or(&[])
                        };
                        let window_sts = StartTimestamps { floats: st, histograms: hst };
                        if f.is_empty() && h.is_empty() {
                            out.push(RangeOutput::None);
                            continue;
                        }
                        let args = RangeArgs {
                            range_start: ref_t - range,
                            range_end: ref_t,
                            step_time: t,
                            range,
                            scalar: scalars.first().map_or(f64::NAN, |v| v[k]),
                            scalar2: scalars.get(1).map_or(f64::NAN, |v| v[k]),
                            anchored,
                            smoothed,
                        };
                        if let Some(ix) = sliding_ix {
                            out.push(ix.eval(func, floats, a, b, &args));
                            continue;
                        }
                        match func.eval_with_st(f, h, window_sts, &args, name, &mut notes) {
                            Ok(v) => out.push(v),
                            Err(e) => return Err(e),
                        }
                    }
                    Ok((out, notes))
                });
                for (id, r) in results.into_iter().enumerate() {
                    let (outs, notes) = r.map_err(|e| {
                        if e.starts_with("invalid ") { EvalError::msg(e) } else { EvalError::Unsupported(e) }
                    })?;
                    for (warning, text) in notes {
                        let counted = text.starts_with(crate::functions::START_TIME_OVERLAP);
                        self.ctx.annotate(crate::exec::Annotation {
                            warning,
                            text,
                            span: self.arg_span,
                            counted,
                        });
                    }
                    let mut produced_float = false;
                    for (k, v) in outs.into_iter().enumerate() {
                        match v {
                            RangeOutput::None => {}
                            RangeOutput::Float(f) => {
                                produced_float = true;
                                outputs[id] += 1;
                                batch[k].samples.push(Sample::float(id as u32, f));
                            }
                            RangeOutput::Histogram(h) => {
                                outputs[id] += point_size(&h);
                                batch[k].samples.push(Sample { id: id as u32, f: 0.0, h: Some(h) })
                            }
                        }
                    }
                    let first_time = self.counter_noted.get(id).is_some_and(|noted| !noted);
                    if produced_float && first_time && matches!(func, RangeFn::Rate | RangeFn::Increase) {
                        // Annotations are a set: one note per series is enough.
                        self.counter_noted[id] = true;
                        let name = self.data[id].labels.get(METRIC_NAME).unwrap_or("");
                        let counter_like =
                            ["_total", "_sum", "_count", "_bucket"].iter().any(|s| name.ends_with(s));
                        if !name.is_empty() && !counter_like {
                            self.ctx.annotate(Annotation::info(
                                format!(
                                    "metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {name:?}"
                                ),
                                self.arg_span,
                            ));
                        }
                    }
                }
            }
        }
        let _ = self.func_name;
        self.account.record_windows(lo, steps.len(), &windows, &outputs)?;
        self.next_step = hi;
        Ok(Some(batch))
    }
}

impl RangeOp<'_> {
    /// Per series, the weight of its window `(ref_t - before, ref_t + after]` at each step
    /// (Prometheus counts a histogram point by its size), series-major: `steps.len()` per series.
    fn window_weights(&mut self, steps: &[(i64, i64)], before: i64, after: i64) -> Vec<i64> {
        if self.limit_cursors.len() != self.data.len() {
            self.limit_cursors = vec![[Cursor::default(); 4]; self.data.len()];
            // Prefix sums of the histogram points' weights, for series that have histograms.
            self.hist_weights = self
                .data
                .iter()
                .map(|s| {
                    let mut acc = 0;
                    let mut w =
                        Vec::with_capacity(s.histograms.len() + usize::from(!s.histograms.is_empty()));
                    if !s.histograms.is_empty() {
                        w.push(0);
                    }
                    for p in s.histograms.iter() {
                        acc += point_size(&p.h);
                        w.push(acc);
                    }
                    w
                })
                .collect();
        }
        let mut out = Vec::with_capacity(self.data.len() * steps.len());
        for ((s, c), hw) in self.data.iter().zip(self.limit_cursors.iter_mut()).zip(self.hist_weights.iter())
        {
            for &(_, ref_t) in steps {
                let (lo_t, hi_t) = (ref_t - before, ref_t + after);
                let a = c[0].seek(&s.floats, |p| p.t, lo_t);
                let f = c[1].seek(&s.floats, |p| p.t, hi_t).saturating_sub(a);
                let h = if s.histograms.is_empty() {
                    0
                } else {
                    let x = c[2].seek(&s.histograms, |p| p.t, lo_t);
                    let y = c[3].seek(&s.histograms, |p| p.t, hi_t).max(x);
                    hw.get(y).copied().unwrap_or(0) - hw.get(x).copied().unwrap_or(0)
                };
                out.push(f as i64 + h);
            }
        }
        out
    }
}

/// The points of `s` in `(lo, hi]`.
pub(crate) fn window(s: &SeriesData, lo: i64, hi: i64) -> (&[FPoint], &[HPoint]) {
    let fa = s.floats.partition_point(|p| p.t <= lo);
    let fb = s.floats.partition_point(|p| p.t <= hi);
    let ha = s.histograms.partition_point(|p| p.t <= lo);
    let hb = s.histograms.partition_point(|p| p.t <= hi);
    (&s.floats[fa..fb.max(fa)], &s.histograms[ha..hb.max(ha)])
}

/// `points` (with their start timestamps `sts`, empty or one per point) without the staleness
/// markers `stale` finds, and whether that took a copy. The views are shared as they are (or
/// narrowed) when there is no marker, or only a run at either end; only a marker among other
/// points costs a copy.
fn without_stale<P: Clone>(
    points: &SharedSlice<P>,
    sts: &SharedSlice<i64>,
    stale: impl Fn(&P) -> bool,
) -> (SharedSlice<P>, SharedSlice<i64>, bool) {
    let lo = points.iter().position(|p| !stale(p)).unwrap_or(points.len());
    let hi = points.iter().rposition(|p| !stale(p)).map_or(lo, |i| i + 1);
    let keep_st =
        |r: std::ops::Range<usize>| if sts.is_empty() { SharedSlice::default() } else { sts.slice(r) };
    if !points[lo..hi].iter().any(&stale) {
        return (points.slice(lo..hi), keep_st(lo..hi), false);
    }
    let kept: Vec<usize> = (lo..hi).filter(|&i| !stale(&points[i])).collect();
    let new_sts = if sts.is_empty() {
        SharedSlice::default()
    } else {
        kept.iter().filter_map(|&i| sts.get(i).copied()).collect()
    };
    (kept.iter().map(|&i| points[i].clone()).collect(), new_sts, true)
}
