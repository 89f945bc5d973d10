//! Functions over range vectors (`rate`, `*_over_time`, `deriv`, ...), one window at a time.
//!
//! Each function sees the float and histogram points of one series inside one window and
//! returns at most one value. The window is left-open: `(range_start, range_end]`.

use std::sync::Arc;

use crate::functions::histogram_range;
use crate::functions::quantile::quantile;
use crate::model::kahan_inc;
use crate::model::{FPoint, FloatHistogram, HPoint};

/// A range-vector function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RangeFn {
    /// `rate`
    Rate,
    /// `increase`
    Increase,
    /// `delta`
    Delta,
    /// `irate`
    Irate,
    /// `idelta`
    Idelta,
    /// `avg_over_time`
    AvgOverTime,
    /// `sum_over_time`
    SumOverTime,
    /// `count_over_time`
    CountOverTime,
    /// `min_over_time`
    MinOverTime,
    /// `max_over_time`
    MaxOverTime,
    /// `last_over_time`
    LastOverTime,
    /// `first_over_time`
    FirstOverTime,
    /// `present_over_time`
    PresentOverTime,
    /// `stddev_over_time`
    StddevOverTime,
    /// `stdvar_over_time`
    StdvarOverTime,
    /// `quantile_over_time`
    QuantileOverTime,
    /// `mad_over_time`
    MadOverTime,
    /// `changes`
    Changes,
    /// `resets`
    Resets,
    /// `deriv`
    Deriv,
    /// `predict_linear`
    PredictLinear,
    /// `double_exponential_smoothing`
    DoubleExponentialSmoothing,
    /// `ts_of_first_over_time`
    TsOfFirstOverTime,
    /// `ts_of_last_over_time`
    TsOfLastOverTime,
    /// `ts_of_max_over_time`
    TsOfMaxOverTime,
    /// `ts_of_min_over_time`
    TsOfMinOverTime,
}

/// What a range function is evaluated with besides its window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RangeArgs {
    /// The exclusive start of the window (ms).
    pub range_start: i64,
    /// The inclusive end of the window (ms).
    pub range_end: i64,
    /// The evaluation time of the step (ms), before offset and `@`.
    pub step_time: i64,
    /// The window length (ms).
    pub range: i64,
    /// The function's scalar argument (`q` of `quantile_over_time`, `t` of `predict_linear`, the
    /// smoothing factor of `double_exponential_smoothing`).
    pub scalar: f64,
    /// The second scalar argument (the trend factor of `double_exponential_smoothing`).
    pub scalar2: f64,
    /// The selector is `anchored`: the window also holds the samples of the lookback before it.
    pub anchored: bool,
    /// The selector is `smoothed`: the window also holds the samples of the lookback on both
    /// sides, and boundary values are interpolated.
    pub smoothed: bool,
}

/// The start timestamps of a window's points (`floats[i]` belongs to the i-th float point,
/// `histograms[i]` to the i-th histogram); empty when unknown.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StartTimestamps<'a> {
    /// Start timestamps of the float points.
    pub floats: &'a [i64],
    /// Start timestamps of the histogram points.
    pub histograms: &'a [i64],
}

/// The value of a range function for one window.
#[derive(Debug, Clone, PartialEq)]
pub enum RangeOutput {
    /// No output for this window.
    None,
    /// A float.
    Float(f64),
    /// A histogram.
    Histogram(Arc<FloatHistogram>),
}

/// An annotation raised by a function: `(is_warning, text without the "PromQL ..." prefix)`.
pub type Note = (bool, String);

fn mixed_warning(name: &str) -> Note {
    histogram_range::mixed_floats(name)
}

fn ignored_info(name: &str) -> Note {
    (
        false,
        format!(
            "ignored histograms in a range containing both floats and histograms for metric name {name:?}"
        ),
    )
}

impl RangeFn {
    /// The range function called `name`.
    pub fn from_name(name: &str) -> Option<RangeFn> {
        Some(match name {
            "rate" => RangeFn::Rate,
            "increase" => RangeFn::Increase,
            "delta" => RangeFn::Delta,
            "irate" => RangeFn::Irate,
            "idelta" => RangeFn::Idelta,
            "avg_over_time" => RangeFn::AvgOverTime,
            "sum_over_time" => RangeFn::SumOverTime,
            "count_over_time" => RangeFn::CountOverTime,
            "min_over_time" => RangeFn::MinOverTime,
            "max_over_time" => RangeFn::MaxOverTime,
            "last_over_time" => RangeFn::LastOverTime,
            "first_over_time" => RangeFn::FirstOverTime,
            "present_over_time" => RangeFn::PresentOverTime,
            "stddev_over_time" => RangeFn::StddevOverTime,
            "stdvar_over_time" => RangeFn::StdvarOverTime,
            "quantile_over_time" => RangeFn::QuantileOverTime,
            "mad_over_time" => RangeFn::MadOverTime,
            "changes" => RangeFn::Changes,
            "resets" => RangeFn::Resets,
            "deriv" => RangeFn::Deriv,
            "predict_linear" => RangeFn::PredictLinear,
            "double_exponential_smoothing" => RangeFn::DoubleExponentialSmoothing,
            "ts_of_first_over_time" => RangeFn::TsOfFirstOverTime,
            "ts_of_last_over_time" => RangeFn::TsOfLastOverTime,
            "ts_of_max_over_time" => RangeFn::TsOfMaxOverTime,
            "ts_of_min_over_time" => RangeFn::TsOfMinOverTime,
            _ => return None,
        })
    }

    /// Whether the output keeps the metric name (`last_over_time`, `first_over_time`).
    pub fn keeps_name(self) -> bool {
        matches!(self, RangeFn::LastOverTime | RangeFn::FirstOverTime)
    }

    /// Evaluates the function over one window of one series.
    ///
    /// # Errors
    ///
    /// A message naming the feature when the window holds native histograms the function cannot
    /// handle yet.
    pub fn eval(
        self,
        floats: &[FPoint],
        hists: &[HPoint],
        args: &RangeArgs,
        metric_name: &str,
        notes: &mut Vec<Note>,
    ) -> Result<RangeOutput, String> {
        self.eval_with_st(floats, hists, StartTimestamps::default(), args, metric_name, notes)
    }

    /// Like [`RangeFn::eval`], with the start timestamps of the points (empty when unknown),
    /// which `rate`, `increase`, `irate` and `resets` use to detect counter resets and the
    /// counter's start.
    ///
    /// # Errors
    ///
    /// As [`RangeFn::eval`].
    pub fn eval_with_st(
        self,
        floats: &[FPoint],
        hists: &[HPoint],
        all_sts: StartTimestamps<'_>,
        args: &RangeArgs,
        metric_name: &str,
        notes: &mut Vec<Note>,
    ) -> Result<RangeOutput, String> {
        use RangeFn::*;
        let sts = all_sts.floats;
        if floats.is_empty() && hists.is_empty() {
            return Ok(RangeOutput::None);
        }
        let f = RangeOutput::Float;
        match self {
            CountOverTime => return Ok(f((floats.len() + hists.len()) as f64)),
            PresentOverTime => return Ok(f(1.0)),
            LastOverTime => {
                let (lf, lh) = (floats.last(), hists.last());
                return Ok(match (lf, lh) {
                    (Some(p), None) => f(p.f),
                    (Some(p), Some(h)) if h.t < p.t => f(p.f),
                    (_, Some(h)) => RangeOutput::Histogram(h.h.clone()),
                    (None, None) => RangeOutput::None,
                });
            }
            FirstOverTime => {
                let (ff, fh) = (floats.first(), hists.first());
                return Ok(match (ff, fh) {
                    (Some(p), None) => f(p.f),
                    (Some(p), Some(h)) if p.t < h.t => f(p.f),
                    (_, Some(h)) => RangeOutput::Histogram(h.h.clone()),
                    (None, None) => RangeOutput::None,
                });
            }
            TsOfFirstOverTime => {
                let tf = floats.first().map_or(i64::MAX, |p| p.t);
                let th = hists.first().map_or(i64::MAX, |p| p.t);
                return Ok(f(tf.min(th) as f64 / 1000.0));
            }
            TsOfLastOverTime => {
                let tf = floats.last().map_or(0, |p| p.t);
                let th = hists.last().map_or(0, |p| p.t);
                return Ok(f(tf.max(th) as f64 / 1000.0));
            }
            _ => {}
        }
        // Functions that need only floats, ignoring histograms with an info.
        let float_only = matches!(
            self,
            MinOverTime
                | MaxOverTime
                | TsOfMaxOverTime
                | TsOfMinOverTime
                | StddevOverTime
                | StdvarOverTime
                | QuantileOverTime
                | MadOverTime
        );
        if float_only {
            if floats.is_empty() {
                return Ok(RangeOutput::None);
            }
            if !hists.is_empty() {
                notes.push(ignored_info(metric_name));
            }
        }
        match self {
            MinOverTime | MaxOverTime | TsOfMaxOverTime | TsOfMinOverTime => {
                let mut best = floats[0].f;
                let mut best_t = floats[0].t;
                for p in floats {
                    let take = match self {
                        MaxOverTime => p.f > best || best.is_nan(),
                        MinOverTime => p.f < best || best.is_nan(),
                        TsOfMaxOverTime => p.f >= best || best.is_nan(),
                        _ => p.f <= best || best.is_nan(),
                    };
                    if take {
                        best = p.f;
                        best_t = p.t;
                    }
                }
                Ok(f(if matches!(self, TsOfMaxOverTime | TsOfMinOverTime) {
                    best_t as f64 / 1000.0
                } else {
                    best
                }))
            }
            StddevOverTime | StdvarOverTime => {
                let (mut count, mut mean, mut c_mean, mut aux, mut c_aux) = (0.0f64, 0.0, 0.0, 0.0, 0.0);
                for p in floats {
                    count += 1.0;
                    let delta = p.f - (mean + c_mean);
                    (mean, c_mean) = kahan_inc(delta / count, mean, c_mean);
                    (aux, c_aux) = kahan_inc(delta * (p.f - (mean + c_mean)), aux, c_aux);
                }
                let variance = (aux + c_aux) / count;
                Ok(f(if self == StddevOverTime { variance.sqrt() } else { variance }))
            }
            QuantileOverTime => {
                let q = args.scalar;
                if q.is_nan() || !(0.0..=1.0).contains(&q) {
                    notes.push((true, format!("quantile value should be between 0 and 1, got {}", go_g(q))));
                }
                let mut vals: Vec<f64> = floats.iter().map(|p| p.f).collect();
                Ok(f(quantile(q, &mut vals)))
            }
            MadOverTime => {
                if floats.iter().any(|p| p.f.is_nan()) {
                    return Ok(f(f64::NAN));
                }
                let mut vals: Vec<f64> = floats.iter().map(|p| p.f).collect();
                let median = quantile(0.5, &mut vals);
                for v in vals.iter_mut() {
                    *v = (*v - median).abs();
                }
                Ok(f(quantile(0.5, &mut vals)))
            }
            SumOverTime | AvgOverTime => {
                if !floats.is_empty() && !hists.is_empty() {
                    notes.push(mixed_warning(metric_name));
                    return Ok(RangeOutput::None);
                }
                if floats.is_empty() {
                    return Ok(histogram_range::sum_over_time(
                        hists,
                        self == AvgOverTime,
                        metric_name,
                        notes,
                    ));
                }
                if self == SumOverTime {
                    let (mut sum, mut c) = (0.0, 0.0);
                    for p in floats {
                        (sum, c) = kahan_inc(p.f, sum, c);
                    }
                    return Ok(f(if sum.is_infinite() { sum } else { sum + c }));
                }
                Ok(f(avg_over_time(floats)))
            }
            Rate | Increase | Delta => {
                if !floats.is_empty() && !hists.is_empty() {
                    notes.push(mixed_warning(metric_name));
                    return Ok(RangeOutput::None);
                }
                if floats.is_empty() {
                    let (counter, rate) = (self != Delta, self == Rate);
                    if args.anchored || args.smoothed {
                        return Ok(histogram_range::extended_rate(
                            hists,
                            args,
                            counter,
                            rate,
                            metric_name,
                            notes,
                        ));
                    }
                    return Ok(histogram_range::extrapolated_rate(
                        hists,
                        all_sts.histograms,
                        args,
                        counter,
                        rate,
                        metric_name,
                        notes,
                    ));
                }
                if args.anchored || args.smoothed {
                    return Ok(extended_rate(floats, args, self != Delta, self == Rate));
                }
                Ok(extrapolated_rate(floats, sts, args, self != Delta, self == Rate, metric_name, notes))
            }
            Irate | Idelta => {
                if !hists.is_empty() {
                    return Ok(histogram_range::instant_value(
                        floats,
                        sts,
                        hists,
                        all_sts.histograms,
                        self == Irate,
                        metric_name,
                        notes,
                    ));
                }
                Ok(instant_value(floats, sts, self == Irate))
            }
            Changes | Resets => {
                if !hists.is_empty() {
                    return Ok(histogram_range::count_transitions(
                        floats,
                        sts,
                        hists,
                        all_sts.histograms,
                        args,
                        self == Resets,
                    ));
                }
                let mut floats = floats;
                if args.anchored {
                    let last_le = floats.partition_point(|p| p.t <= args.range_start) as isize - 1;
                    if (last_le + 1) as usize >= floats.len() {
                        return Ok(RangeOutput::None);
                    }
                    floats = &floats[last_le.max(0) as usize..];
                }
                let st_offset = floats.as_ptr() as usize;
                let _ = st_offset;
                let mut n = 0;
                for (i, w) in floats.windows(2).enumerate() {
                    let (prev, cur) = (w[0].f, w[1].f);
                    let hit = if self == Changes {
                        cur != prev && !(cur.is_nan() && prev.is_nan())
                    } else {
                        let (ps, cs) =
                            (sts.get(i).copied().unwrap_or(0), sts.get(i + 1).copied().unwrap_or(0));
                        cur < prev || (i + 1 < sts.len() && is_st_reset(ps, w[0].t, cs, w[1].t))
                    };
                    if hit {
                        n += 1;
                    }
                }
                Ok(f(n as f64))
            }
            Deriv | PredictLinear => {
                if floats.len() < 2 {
                    if floats.len() == 1 && !hists.is_empty() {
                        notes.push(ignored_info(metric_name));
                    }
                    return Ok(RangeOutput::None);
                }
                if !hists.is_empty() {
                    notes.push(ignored_info(metric_name));
                }
                if self == Deriv {
                    let (slope, _) = linear_regression(floats, floats[0].t);
                    Ok(f(slope))
                } else {
                    let (slope, intercept) = linear_regression(floats, args.step_time);
                    Ok(f(slope * args.scalar + intercept))
                }
            }
            DoubleExponentialSmoothing => {
                let (sf, tf) = (args.scalar, args.scalar2);
                if sf <= 0.0 || sf >= 1.0 {
                    return Err(format!("invalid smoothing factor. Expected: 0 < sf < 1, got: {sf:.6}"));
                }
                if tf <= 0.0 || tf >= 1.0 {
                    return Err(format!("invalid trend factor. Expected: 0 < tf < 1, got: {tf:.6}"));
                }
                if floats.len() < 2 {
                    if floats.len() == 1 && !hists.is_empty() {
                        notes.push(ignored_info(metric_name));
                    }
                    return Ok(RangeOutput::None);
                }
                let (mut s0, mut s1) = (0.0, floats[0].f);
                let mut b = floats[1].f - floats[0].f;
                for (i, p) in floats.iter().enumerate().skip(1) {
                    let x = sf * p.f;
                    b = if i - 1 == 0 { b } else { tf * (s1 - s0) + (1.0 - tf) * b };
                    let y = (1.0 - sf) * (s1 + b);
                    s0 = s1;
                    s1 = x + y;
                }
                if !hists.is_empty() {
                    notes.push(ignored_info(metric_name));
                }
                Ok(f(s1))
            }
            _ => Ok(RangeOutput::None),
        }
    }
}

/// Formats like Go's `%g`.
pub(crate) fn go_g(v: f64) -> String {
    crate::model::format_go_g(v)
}

fn avg_over_time(floats: &[FPoint]) -> f64 {
    let (mut sum, mut count) = (floats[0].f, 1.0f64);
    let (mut mean, mut c) = (0.0f64, 0.0f64);
    let mut incremental = false;
    for (i, p) in floats.iter().enumerate().skip(1) {
        count = (i + 1) as f64;
        if !incremental {
            let (ns, nc) = kahan_inc(p.f, sum, c);
            if !ns.is_infinite() {
                sum = ns;
                c = nc;
                continue;
            }
            incremental = true;
            mean = sum / (count - 1.0);
            c /= count - 1.0;
        }
        let q = (count - 1.0) / count;
        (mean, c) = kahan_inc(p.f / count, q * mean, q * c);
    }
    if incremental { mean + c } else { sum / count + c / count }
}

/// The text of the start-time-overlap warning (followed by ` for metric "name"`).
pub const START_TIME_OVERLAP: &str = "sample has start time that overlaps with previous sample timestamp";

/// Whether a sample's start timestamp marks a counter reset (Prometheus's
/// `isStartTimestampReset`).
pub(super) fn is_st_reset(prev_st: i64, prev_t: i64, cur_st: i64, cur_t: i64) -> bool {
    if cur_st == 0 || cur_st >= cur_t || cur_st < prev_t {
        return false;
    }
    if cur_st > prev_t {
        return true;
    }
    if prev_st > prev_t {
        return false;
    }
    prev_st != 0 && prev_st != prev_t
}

fn extrapolated_rate(
    floats: &[FPoint],
    sts: &[i64],
    args: &RangeArgs,
    is_counter: bool,
    is_rate: bool,
    metric_name: &str,
    notes: &mut Vec<Note>,
) -> RangeOutput {
    let n_minus_one = floats.len() - 1;
    let first = floats[0];
    let last = floats[n_minus_one];
    let mut result = last.f - first.f;
    if is_counter {
        let mut overlap = false;
        for (i, w) in floats.windows(2).enumerate() {
            let (prev, cur) = (w[0], w[1]);
            if !overlap && i + 1 < sts.len() {
                let cur_st = sts[i + 1];
                if cur_st != 0 && cur_st < prev.t && cur_st != sts[i] {
                    notes.push((true, format!("{START_TIME_OVERLAP} for metric {metric_name:?}")));
                    overlap = true;
                }
            }
            if cur.f < prev.f || (i + 1 < sts.len() && is_st_reset(sts[i], prev.t, sts[i + 1], cur.t)) {
                result += prev.f;
            }
        }
    }
    let st0 = sts.first().copied().unwrap_or(0);
    extrapolate(first, last, n_minus_one, result, st0, args, is_counter, is_rate)
}

/// The extrapolation step of `rate`/`increase`/`delta` over a float window (Prometheus's
/// `extrapolatedRate` after the reset scan): `result` is `last - first` plus the counter-reset
/// corrections, `n_minus_one` the number of intervals in the window, `st0` the first point's
/// start timestamp (0 when unknown).
#[allow(clippy::too_many_arguments)]
pub(crate) fn extrapolate(
    first: FPoint,
    last: FPoint,
    n_minus_one: usize,
    mut result: f64,
    st0: i64,
    args: &RangeArgs,
    is_counter: bool,
    is_rate: bool,
) -> RangeOutput {
    let mut duration_to_start = (first.t - args.range_start) as f64 / 1000.0;
    let mut duration_to_end = (args.range_end - last.t) as f64 / 1000.0;
    let mut sampled_interval = (last.t - first.t) as f64 / 1000.0;
    let avg_between = if n_minus_one > 0 { sampled_interval / n_minus_one as f64 } else { 0.0 };
    let threshold = avg_between * 1.1;
    if is_counter && st0 != 0 && st0 > args.range_start && st0 < first.t {
        duration_to_start = 0.0;
        sampled_interval = (last.t - st0) as f64 / 1000.0;
        result += first.f;
    } else if n_minus_one == 0 {
        return RangeOutput::None;
    } else {
        if duration_to_start >= threshold {
            duration_to_start = avg_between / 2.0;
        }
        if is_counter {
            let mut duration_to_zero = duration_to_start;
            if result > 0.0 && first.f >= 0.0 {
                duration_to_zero = sampled_interval * (first.f / result);
            }
            if duration_to_zero < duration_to_start {
                duration_to_start = duration_to_zero;
            }
        }
    }
    if duration_to_end >= threshold {
        duration_to_end = avg_between / 2.0;
    }
    let mut factor = 1.0;
    if sampled_interval != 0.0 {
        factor = (sampled_interval + duration_to_start + duration_to_end) / sampled_interval;
    }
    if is_rate {
        factor /= args.range as f64 / 1000.0;
    }
    RangeOutput::Float(result * factor)
}

/// Linear interpolation between two points at `t`; a counter that went down is taken to have
/// restarted from 0.
pub fn interpolate(p1: FPoint, p2: FPoint, t: i64, is_counter: bool) -> f64 {
    let mut y1 = p1.f;
    let y2 = p2.f;
    if is_counter && y2 < y1 {
        y1 = 0.0;
    }
    y1 + (y2 - y1) * (t - p1.t) as f64 / (p2.t - p1.t) as f64
}

/// `rate`/`increase`/`delta` over an `anchored` or `smoothed` window (Prometheus's
/// `extendedRate`): the difference between the values at the window's boundaries, picked or
/// interpolated, corrected for counter resets; no extrapolation.
fn extended_rate(f: &[FPoint], args: &RangeArgs, is_counter: bool, is_rate: bool) -> RangeOutput {
    let (start, end) = (args.range_start, args.range_end);
    let mut last = f.len() - 1;
    let mut first = (f[..last].partition_point(|p| p.t <= start)).saturating_sub(1);
    if args.smoothed {
        last = f[..last].partition_point(|p| p.t < end);
    }
    if f[last].t <= start {
        return RangeOutput::None;
    }
    if args.smoothed && f[first].t > end {
        return RangeOutput::None;
    }
    let left = if args.smoothed && f[first].t < start {
        interpolate(f[first], f[first + 1], start, is_counter)
    } else {
        f[first].f
    };
    let right = if args.smoothed && last > 0 && f[last].t > end {
        interpolate(f[last - 1], f[last], end, is_counter)
    } else {
        f[last].f
    };
    let mut result = right - left;
    if is_counter {
        if f[first].t <= start {
            first += 1;
        }
        let inner: &[FPoint] = if f[last].t >= end {
            if last == 0 { &[] } else { &f[first.min(last)..last] }
        } else {
            &f[first.min(last + 1)..last + 1]
        };
        let mut correction = 0.0;
        let mut prev = left;
        for p in inner {
            if p.f < prev {
                correction += prev;
            }
            prev = p.f;
        }
        if right < prev {
            correction += prev;
        }
        result += correction;
    }
    if is_rate {
        result /= args.range as f64 / 1000.0;
    }
    RangeOutput::Float(result)
}

fn instant_value(floats: &[FPoint], sts: &[i64], is_rate: bool) -> RangeOutput {
    if floats.len() < 2 {
        return RangeOutput::None;
    }
    let n = floats.len();
    let prev = floats[n - 2];
    let last = floats[n - 1];
    let (prev_st, last_st) = (sts.get(n - 2).copied().unwrap_or(0), sts.get(n - 1).copied().unwrap_or(0));
    let interval = last.t - prev.t;
    if interval == 0 {
        return RangeOutput::None;
    }
    let mut v = last.f;
    if !is_rate || !(last.f < prev.f || is_st_reset(prev_st, prev.t, last_st, last.t)) {
        v = last.f - prev.f;
    }
    if is_rate {
        v /= interval as f64 / 1000.0;
    }
    RangeOutput::Float(v)
}

/// Least-squares slope and intercept with x measured in seconds from `intercept_time`.
pub(crate) fn linear_regression(samples: &[FPoint], intercept_time: i64) -> (f64, f64) {
    let (mut n, mut sum_x, mut c_x, mut sum_y, mut c_y) = (0.0f64, 0.0, 0.0, 0.0, 0.0);
    let (mut sum_xy, mut c_xy, mut sum_x2, mut c_x2) = (0.0, 0.0, 0.0, 0.0);
    let init_y = samples[0].f;
    let mut const_y = true;
    for (i, s) in samples.iter().enumerate() {
        if const_y && i > 0 && s.f != init_y {
            const_y = false;
        }
        n += 1.0;
        let x = (s.t - intercept_time) as f64 / 1e3;
        (sum_x, c_x) = kahan_inc(x, sum_x, c_x);
        (sum_y, c_y) = kahan_inc(s.f, sum_y, c_y);
        (sum_xy, c_xy) = kahan_inc(x * s.f, sum_xy, c_xy);
        (sum_x2, c_x2) = kahan_inc(x * x, sum_x2, c_x2);
    }
    if const_y {
        if init_y.is_infinite() {
            return (f64::NAN, f64::NAN);
        }
        return (0.0, init_y);
    }
    sum_x += c_x;
    sum_y += c_y;
    sum_xy += c_xy;
    sum_x2 += c_x2;
    let cov_xy = sum_xy - sum_x * sum_y / n;
    let var_x = sum_x2 - sum_x * sum_x / n;
    let slope = cov_xy / var_x;
    let intercept = sum_y / n - slope * sum_x / n;
    (slope, intercept)
}
