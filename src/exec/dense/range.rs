//! Functions over range selectors (`rate(x[5m])`, `*_over_time`, `absent_over_time`, ...) over
//! all steps: each series' windows slide forward in one pass, through the same per-window code
//! (`functions::sliding` or `RangeFn::eval_with_st`) the operator path uses.

use super::{Column, Dense, Fallback, Res};
use crate::exec::call::absent_labels;
use crate::exec::labels_ops::name_dropped;
use crate::exec::range::{MatrixSource, materialize};
use crate::exec::{Annotation, EvalError, SeriesMeta};
use crate::functions::sliding::{self, Cursor, SlidingIndex};
use crate::functions::{RangeArgs, RangeFn, RangeOutput, StartTimestamps};
use crate::model::{FPoint, METRIC_NAME};
use crate::plan::{CallNode, Node};

/// Functions that accept an `anchored` selector.
const ANCHORED_SAFE: [&str; 5] = ["changes", "delta", "increase", "rate", "resets"];
/// Functions that accept a `smoothed` selector.
const SMOOTHED_SAFE: [&str; 3] = ["delta", "increase", "rate"];

/// Whether the call over a range selector is one the dense path evaluates.
pub(super) fn supported(c: &CallNode) -> bool {
    let name = c.func.name;
    if name != "absent_over_time" && RangeFn::from_name(name).is_none() {
        return false;
    }
    c.args.iter().all(|a| match a {
        Node::MatrixSelector(m) => {
            (!m.selector.anchored || ANCHORED_SAFE.contains(&name))
                && (!m.selector.smoothed || SMOOTHED_SAFE.contains(&name))
        }
        other => super::supported(other) && other.value_type() == crate::parser::ValueType::Scalar,
    })
}

/// The window results of one series: its points, and the annotations with their steps.
type SeriesResult = Result<(Vec<FPoint>, Vec<(usize, bool, String)>), EvalError>;

/// A function call whose argument is a range selector, its columns handed to `sink` in order.
pub(super) fn range_call(
    d: &mut Dense<'_, '_>,
    c: &CallNode,
    sink: &mut dyn FnMut(Column) -> Res<()>,
) -> Res<()> {
    let node = d.node_id();
    let name = c.func.name;
    let idx = c.args.iter().position(|a| matches!(a, Node::MatrixSelector(_))).ok_or(Fallback)?;
    let Node::MatrixSelector(m) = &c.args[idx] else { return Err(Fallback) };
    if !supported(c) {
        return Err(Fallback);
    }
    let mut scalars = Vec::new();
    for (i, a) in c.args.iter().enumerate() {
        if i != idx {
            scalars.push(d.scalar(a)?);
        }
    }
    let arg_span = c.arg_spans.get(idx).copied().unwrap_or(c.span);
    let grid = d.grid;
    let n = grid.steps();
    let (range, offset, at) = (m.range, m.selector.offset, m.selector.at);
    let ref_time = |k: usize| at.unwrap_or(grid.time(k)) - offset;
    let source = MatrixSource::Selector(m.clone());
    let (meta, data, _) = materialize(d.ctx, &source, grid)?;
    if data.iter().any(|s| !s.histograms.is_empty()) {
        return Err(Fallback);
    }
    d.hold(&data);
    if name == "absent_over_time" {
        let mut cursors = vec![(Cursor::default(), Cursor::default()); data.len()];
        let mut pts = Vec::new();
        for k in 0..n {
            let ref_t = ref_time(k);
            let any = data.iter().zip(cursors.iter_mut()).any(|(s, (a, b))| {
                let lo = a.seek(&s.floats[..], |p| p.t, ref_t - range);
                b.seek(&s.floats[..], |p| p.t, ref_t) > lo
            });
            if !any {
                pts.push(FPoint { t: grid.time(k), f: 1.0 });
            }
        }
        let labels = absent_labels(&m.selector.matchers);
        return sink(Column { meta: SeriesMeta::new(labels), pts });
    }
    let func = RangeFn::from_name(name).ok_or(Fallback)?;
    let st_fn = matches!(func, RangeFn::Rate | RangeFn::Irate | RangeFn::Increase | RangeFn::Resets);
    if d.ctx.use_start_timestamps && st_fn && data.iter().any(|s| !s.float_st.is_empty()) {
        return Err(Fallback);
    }
    let (anchored, smoothed) = (m.selector.anchored, m.selector.smoothed);
    let lookback = d.ctx.lookback;
    let (ext_lo, ext_hi) = if smoothed {
        (lookback, lookback)
    } else if anchored {
        (lookback, 0)
    } else {
        (0, 0)
    };
    let slides = sliding::slides(func) && !anchored && !smoothed;
    let arg = |i: usize, k: usize| scalars.get(i).map_or(f64::NAN, |v: &Vec<f64>| v[k]);
    let per_series = data.iter().map(|s| s.floats.len()).sum::<usize>() / data.len().max(1) * n.max(1);
    let limits = d.ctx.limits;
    let overlapping = n > 1 && range > grid.interval;
    let column = |s: &crate::storage::SeriesData| -> SeriesResult {
        limits.check()?;
        let floats: &[FPoint] = &s.floats[..];
        let metric = s.labels.get(METRIC_NAME).unwrap_or("");
        let mut notes = Vec::new();
        let mut out = Vec::with_capacity(n);
        if func == RangeFn::DoubleExponentialSmoothing && ext_lo == 0 && ext_hi == 0 {
            let sf: Vec<f64> = (0..n).map(|k| arg(0, k)).collect();
            let tf: Vec<f64> = (0..n).map(|k| arg(1, k)).collect();
            let valid = |x: &f64| *x > 0.0 && *x < 1.0;
            if sf.iter().all(valid) && tf.iter().all(valid) {
                let (mut fa, mut fb) = (Cursor::default(), Cursor::default());
                let windows: Vec<(usize, usize)> = (0..n)
                    .map(|k| {
                        let ref_t = ref_time(k);
                        let a = fa.seek(floats, |p| p.t, ref_t - range);
                        (a, fb.seek(floats, |p| p.t, ref_t).max(a))
                    })
                    .collect();
                let values = sliding::double_exponential_smoothing(floats, &windows, &sf, &tf);
                for (k, v) in values.into_iter().enumerate() {
                    if let Some(f) = v {
                        out.push(FPoint { t: grid.time(k), f });
                    }
                }
                return Ok((out, notes));
            }
        }
        let index = if !slides {
            None
        } else {
            match &s.float_index {
                Some(ix) => Some(SlidingIndex::shared(ix.clone(), s.floats.offset())),
                None => overlapping.then(|| SlidingIndex::new(floats)),
            }
        };
        let (mut fa, mut fb) = (Cursor::default(), Cursor::default());
        let mut raw = Vec::new();
        for k in 0..n {
            let t = grid.time(k);
            let ref_t = ref_time(k);
            let a = fa.seek(floats, |p| p.t, ref_t - range - ext_lo);
            let b = fb.seek(floats, |p| p.t, ref_t + ext_hi).max(a);
            if a == b {
                continue;
            }
            let args = RangeArgs {
                range_start: ref_t - range,
                range_end: ref_t,
                step_time: t,
                range,
                scalar: arg(0, k),
                scalar2: arg(1, k),
                anchored,
                smoothed,
            };
            let v = match &index {
                Some(ix) => ix.eval(func, floats, a, b, &args),
                None => {
                    let r = func.eval_with_st(
                        &floats[a..b],
                        &[],
                        StartTimestamps::default(),
                        &args,
                        metric,
                        &mut raw,
                    );
                    for (warning, text) in raw.drain(..) {
                        notes.push((k, warning, text));
                    }
                    r.map_err(EvalError::msg)?
                }
            };
            match v {
                RangeOutput::Float(f) => out.push(FPoint { t, f }),
                RangeOutput::None => {}
                RangeOutput::Histogram(_) => return Err(EvalError::msg("histogram")),
            }
        }
        Ok((out, notes))
    };
    let delayed = d.ctx.delayed_name_removal;
    let mut raised = Vec::new();
    d.chunked(&data, per_series, column, |i, r| {
        let (m, s) = (&meta[i], &data[i]);
        let (pts, notes) = r?;
        for (k, warning, text) in notes {
            let counted = text.starts_with(crate::functions::START_TIME_OVERLAP);
            raised.push((k, Annotation { warning, text, span: arg_span, counted }));
        }
        if matches!(func, RangeFn::Rate | RangeFn::Increase)
            && let Some(first) = pts.first()
        {
            let metric = s.labels.get(METRIC_NAME).unwrap_or("");
            let counter_like = ["_total", "_sum", "_count", "_bucket"].iter().any(|x| metric.ends_with(x));
            if !metric.is_empty() && !counter_like {
                raised.push((
                    d.step_of(first.t),
                    Annotation::info(
                        format!(
                            "metric might not be a counter, name does not end in _total/_sum/_count/_bucket: {metric:?}"
                        ),
                        arg_span,
                    ),
                ));
            }
        }
        let meta = if func.keeps_name() && !m.drop_name { m.clone() } else { name_dropped(m, delayed) };
        sink(Column { meta, pts })
    })?;
    for (k, a) in raised {
        d.note(k, node, a);
    }
    Ok(())
}
