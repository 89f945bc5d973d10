//! Instant vector selectors: the latest sample at or before each step within the lookback
//! window, skipping stale markers.

use std::sync::Arc;

use crate::exec::{
    EvalError, ExecContext, Grid, Operator, Sample, SeriesMeta, StepBatch, StepVector, batch_end,
};
use crate::functions::sliding::Cursor;
use crate::model::{CounterResetHint, FPoint, FloatHistogram, HPoint, is_stale_nan};
use crate::plan::Selector;
use crate::storage::{SelectHints, SeriesData};

/// Reads the series of `sel` from storage: labels, float and histogram points and start
/// timestamps, as views shared with the store (nothing is copied, except histograms reduced for a
/// `stats_only` selector).
pub(crate) fn load(ctx: &ExecContext<'_>, sel: &Selector, range: i64) -> Result<Vec<SeriesData>, EvalError> {
    ctx.limits.check()?;
    let hints = SelectHints { start: sel.mint, end: sel.maxt, range, ..SelectHints::default() };
    let mut data =
        ctx.storage.select(&sel.matchers, &hints).map_err(|e| EvalError::Storage(e.to_string()))?;
    if sel.stats_only {
        for s in data.iter_mut() {
            if !s.histograms.is_empty() {
                s.histograms = histogram_stats(&s.histograms).into();
            }
        }
    }
    Ok(data)
}

/// Reduces histograms to their count and sum (schema and counter-reset hint kept), as
/// Prometheus's `HistogramStatsIterator` reads them: an unknown hint becomes "reset" or "not
/// reset" by comparing the full histogram with the previous one (the first stays unknown).
fn histogram_stats(hists: &[HPoint]) -> Vec<HPoint> {
    let mut last: Option<Arc<FloatHistogram>> = None;
    let mut out = Vec::with_capacity(hists.len());
    for p in hists {
        let full = p.h.clone();
        let mut hint = full.counter_reset_hint;
        let stale = is_stale_nan(full.sum);
        if !stale
            && hint == CounterResetHint::Unknown
            && let Some(prev) = &last
        {
            hint = if full.detect_reset(prev) {
                CounterResetHint::CounterReset
            } else {
                CounterResetHint::NotCounterReset
            };
        }
        let h = Arc::new(FloatHistogram {
            counter_reset_hint: hint,
            schema: full.schema,
            count: full.count,
            sum: full.sum,
            ..FloatHistogram::default()
        });
        out.push(HPoint { t: p.t, h });
        if !stale {
            last = Some(full);
        }
    }
    out
}

/// What a selector returns for the sample it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SelectMode {
    /// The sample's value.
    Value,
    /// The sample's timestamp in seconds (`timestamp(selector)`).
    Timestamp,
    /// The sample's start timestamp in seconds (`start_timestamp(selector)`).
    StartTimestamp,
}

/// An instant vector selector.
pub(crate) struct VectorSelectorOp<'a> {
    pub(crate) ctx: &'a ExecContext<'a>,
    pub(crate) sel: Selector,
    pub(crate) grid: Grid,
    pub(crate) mode: SelectMode,
    pub(crate) data: Vec<SeriesData>,
    pub(crate) meta: Option<Arc<[SeriesMeta]>>,
    pub(crate) next_step: usize,
    /// Per series, positions in its floats and histograms that follow the steps forward.
    cursors: Vec<(Cursor, Cursor)>,
}

impl<'a> VectorSelectorOp<'a> {
    pub(crate) fn new(ctx: &'a ExecContext<'a>, sel: Selector, grid: Grid, mode: SelectMode) -> Self {
        VectorSelectorOp {
            ctx,
            sel,
            grid,
            mode,
            data: Vec::new(),
            meta: None,
            next_step: 0,
            cursors: Vec::new(),
        }
    }
}

/// The latest float and histogram of `s` in `(ref_t - lookback, ref_t]`, as a sample value and its
/// timestamp, skipping a stale latest sample.
pub(crate) fn latest(
    s: &SeriesData,
    ref_t: i64,
    lookback: i64,
) -> Option<(i64, f64, Option<Arc<crate::model::FloatHistogram>>)> {
    let fi = s.floats.partition_point(|p| p.t <= ref_t);
    let hi = s.histograms.partition_point(|p| p.t <= ref_t);
    latest_before(&s.floats, &s.histograms, fi, hi, ref_t, lookback)
}

/// [`latest`] over a series' floats and histograms when the numbers of floats (`fi`) and
/// histograms (`hi`) at or before `ref_t` are known.
fn latest_before(
    floats: &[FPoint],
    hists: &[HPoint],
    fi: usize,
    hi: usize,
    ref_t: i64,
    lookback: i64,
) -> Option<(i64, f64, Option<Arc<crate::model::FloatHistogram>>)> {
    let f = fi.checked_sub(1).and_then(|i| floats.get(i)).copied();
    let h = hi.checked_sub(1).and_then(|i| hists.get(i));
    let lo = ref_t - lookback;
    match (f, h) {
        (Some(f), Some(h)) if h.t > f.t => {
            (h.t > lo && !is_stale_nan(h.h.sum)).then(|| (h.t, 0.0, Some(h.h.clone())))
        }
        (Some(f), _) => (f.t > lo && !is_stale_nan(f.f)).then_some((f.t, f.f, None)),
        (None, Some(h)) => (h.t > lo && !is_stale_nan(h.h.sum)).then(|| (h.t, 0.0, Some(h.h.clone()))),
        (None, None) => None,
    }
}

impl VectorSelectorOp<'_> {
    /// The value of a `smoothed` selector: the sample at `ref_t`, or the interpolation between
    /// the samples around it, within the lookback on both sides (Prometheus's `smoothSeries`).
    fn smoothed_value(&self, s: &SeriesData, ref_t: i64) -> Option<(f64, Option<Arc<FloatHistogram>>)> {
        let lb = self.ctx.lookback;
        let (f, h) = super::range::window(s, ref_t - lb, ref_t + lb);
        let f: Vec<FPoint> = f.iter().copied().filter(|p| !is_stale_nan(p.f)).collect();
        let h: Vec<&HPoint> = h.iter().filter(|p| !is_stale_nan(p.h.sum)).collect();
        if f.is_empty() && h.is_empty() {
            return None;
        }
        let name = s.labels.get(crate::model::METRIC_NAME).unwrap_or("");
        let warn = |text: String| self.ctx.annotate(crate::exec::Annotation::warning(text, self.sel.span));
        if !h.is_empty() {
            if !f.is_empty() {
                warn(format!("encountered a mix of histograms and floats for metric name {name:?}"));
                return None;
            }
            let i = h.partition_point(|p| p.t < ref_t);
            if i < h.len() && h[i].t == ref_t {
                return Some((0.0, Some(h[i].h.clone())));
            }
            if i == 0 {
                return None;
            }
            if i == h.len() {
                // No later sample: the last value carries forward, its hint no longer applies.
                let mut last = (*h[i - 1].h).clone();
                last.counter_reset_hint = CounterResetHint::Unknown;
                return Some((0.0, Some(Arc::new(last))));
            }
            let (prev, next) = (h[i - 1], h[i]);
            let mixed = || {
                format!(
                    "vector contains a mix of histograms with exponential and custom buckets schemas for metric name {name:?}"
                )
            };
            if prev.h.uses_custom_buckets() != next.h.uses_custom_buckets() {
                warn(mixed());
                return None;
            }
            let is_counter = prev.h.counter_reset_hint != CounterResetHint::Gauge
                || next.h.counter_reset_hint != CounterResetHint::Gauge;
            let mut notes = Vec::new();
            let result = crate::functions::interpolate_histograms(
                (prev.t, &prev.h),
                (next.t, &next.h),
                ref_t,
                is_counter,
                &mut notes,
            );
            for (warning, text) in notes {
                self.ctx.annotate(crate::exec::Annotation {
                    warning,
                    text,
                    span: self.sel.span,
                    counted: false,
                });
            }
            return match result {
                Ok(v) => Some((0.0, Some(Arc::new(v)))),
                Err(_) => {
                    warn(mixed());
                    None
                }
            };
        }
        let i = f.partition_point(|p| p.t < ref_t);
        if i < f.len() && f[i].t == ref_t {
            Some((f[i].f, None))
        } else if i > 0 && i < f.len() {
            Some((crate::functions::interpolate(f[i - 1], f[i], ref_t, false), None))
        } else if i > 0 {
            Some((f[i - 1].f, None))
        } else {
            None
        }
    }
}

impl Operator for VectorSelectorOp<'_> {
    fn series(&mut self) -> Result<Arc<[SeriesMeta]>, EvalError> {
        if let Some(m) = &self.meta {
            return Ok(m.clone());
        }
        self.data = load(self.ctx, &self.sel, 0)?;
        let delayed = self.ctx.delayed_name_removal;
        let meta: Arc<[SeriesMeta]> = self
            .data
            .iter()
            .map(|s| {
                let m = SeriesMeta::new(s.labels.clone());
                match self.mode {
                    SelectMode::Value => m,
                    SelectMode::Timestamp | SelectMode::StartTimestamp => {
                        super::labels_ops::name_dropped(&m, delayed)
                    }
                }
            })
            .collect();
        self.meta = Some(meta.clone());
        Ok(meta)
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
        let hi = batch_end(self.next_step, n);
        let steps: Vec<(i64, i64)> = (self.next_step..hi)
            .map(|i| {
                let t = self.grid.time(i);
                (t, self.sel.at.unwrap_or(t) - self.sel.offset)
            })
            .collect();
        if self.sel.smoothed {
            let mut batch = Vec::with_capacity(steps.len());
            for &(t, ref_t) in &steps {
                let mut samples = Vec::new();
                for (id, s) in self.data.iter().enumerate() {
                    if let Some((f, h)) = self.smoothed_value(s, ref_t) {
                        samples.push(Sample { id: id as u32, f, h });
                    }
                }
                batch.push(StepVector { t, samples });
            }
            self.next_step = hi;
            return Ok(Some(batch));
        }
        if self.cursors.len() != self.data.len() {
            self.cursors = vec![(Cursor::default(), Cursor::default()); self.data.len()];
        }
        let mut batch: StepBatch = steps
            .iter()
            .map(|&(t, _)| StepVector { t, samples: Vec::with_capacity(self.data.len()) })
            .collect();
        // Series by series, so each series' points are read in order (one stream at a time);
        // every step still receives its samples in ascending series id.
        for (id, (s, (cf, ch))) in self.data.iter().zip(self.cursors.iter_mut()).enumerate() {
            let (floats, hists): (&[FPoint], &[HPoint]) = (&s.floats, &s.histograms);
            for (step, &(_, ref_t)) in batch.iter_mut().zip(&steps) {
                let fi = cf.seek(floats, |p| p.t, ref_t);
                let hi = if hists.is_empty() { 0 } else { ch.seek(hists, |p| p.t, ref_t) };
                let Some((st, f, h)) = latest_before(floats, hists, fi, hi, ref_t, self.ctx.lookback) else {
                    continue;
                };
                step.samples.push(match self.mode {
                    SelectMode::Value => Sample { id: id as u32, f, h },
                    SelectMode::Timestamp => Sample::float(id as u32, st as f64 / 1000.0),
                    SelectMode::StartTimestamp => {
                        let found = if h.is_some() {
                            let i = hists.partition_point(|p| p.t < st);
                            s.histogram_st.get(i)
                        } else {
                            let i = floats.partition_point(|p| p.t < st);
                            s.float_st.get(i)
                        };
                        match found {
                            Some(&start) => Sample::float(id as u32, start as f64 / 1000.0),
                            None => continue,
                        }
                    }
                });
            }
        }
        self.next_step = hi;
        Ok(Some(batch))
    }
}
