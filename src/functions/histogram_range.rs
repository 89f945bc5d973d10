//! Range functions over windows holding native histograms, as Prometheus computes them:
//! `rate`/`increase`/`delta` with extrapolation (`histogramRate`) or with `anchored`/`smoothed`
//! boundaries (`extendedHistogramRate`), `irate`/`idelta` over the last two samples of a window
//! that may mix floats and histograms, `resets`/`changes` over mixed windows, and
//! `sum_over_time`/`avg_over_time` with compensated summation.

use std::sync::Arc;

use super::range::{Note, RangeArgs, RangeOutput, START_TIME_OVERLAP, is_st_reset};
use crate::model::{Combined, CounterResetHint, FPoint, FloatHistogram, HPoint, HistogramError};

pub(super) fn mixed_floats(name: &str) -> Note {
    (true, format!("encountered a mix of histograms and floats for metric name {name:?}"))
}

pub(super) fn not_counter(name: &str) -> Note {
    (true, format!("this native histogram metric is not a counter: {name:?}"))
}

pub(super) fn not_gauge(name: &str) -> Note {
    (true, format!("this native histogram metric is not a gauge: {name:?}"))
}

pub(super) fn mixed_schemas(name: &str) -> Note {
    (
        true,
        format!(
            "vector contains a mix of histograms with exponential and custom buckets schemas for metric name {name:?}"
        ),
    )
}

fn reconciled(operation: &str) -> Note {
    (false, format!("mismatched custom buckets were reconciled during {operation}"))
}

fn is_gauge(h: &FloatHistogram) -> bool {
    h.counter_reset_hint == CounterResetHint::Gauge
}

fn push_once(notes: &mut Vec<Note>, n: Note) {
    if !notes.contains(&n) {
        notes.push(n);
    }
}

/// `base += other`, noting reconciled bounds; false (with a warning) on mixed schemas.
fn add_noted(base: &mut FloatHistogram, other: &FloatHistogram, name: &str, notes: &mut Vec<Note>) -> bool {
    noted(base.add(other), "addition", name, notes)
}

/// `base -= other`, noting reconciled bounds; false (with a warning) on mixed schemas.
fn sub_noted(base: &mut FloatHistogram, other: &FloatHistogram, name: &str, notes: &mut Vec<Note>) -> bool {
    noted(base.sub(other), "subtraction", name, notes)
}

/// Notes what combining two histograms (the `operation`) reported; false on mixed schemas.
fn noted(
    outcome: Result<Combined, HistogramError>,
    operation: &str,
    name: &str,
    notes: &mut Vec<Note>,
) -> bool {
    match outcome {
        Ok(c) => {
            if c.custom_bounds_reconciled {
                push_once(notes, reconciled(operation));
            }
            true
        }
        Err(_) => {
            push_once(notes, mixed_schemas(name));
            false
        }
    }
}

/// The histogram at `t` between `(t1, h1)` and `(t2, h2)`, linearly interpolated; a counter that
/// was reset in between is taken to have restarted from zero.
///
/// # Errors
///
/// [`HistogramError::IncompatibleSchema`] when one uses custom buckets and the other does not.
pub fn interpolate_histograms(
    (t1, h1): (i64, &FloatHistogram),
    (t2, h2): (i64, &FloatHistogram),
    t: i64,
    is_counter: bool,
    notes: &mut Vec<Note>,
) -> Result<FloatHistogram, HistogramError> {
    if t == t1 {
        return Ok(h1.clone());
    }
    if t == t2 {
        return Ok(h2.clone());
    }
    let fraction = (t - t1) as f64 / (t2 - t1) as f64;
    let mut out = h2.clone();
    if is_counter && h2.detect_reset(h1) {
        out.mul(fraction);
        return Ok(out);
    }
    if out.sub(h1)?.custom_bounds_reconciled {
        push_once(notes, reconciled("subtraction"));
    }
    out.mul(fraction);
    if out.add(h1)?.custom_bounds_reconciled {
        push_once(notes, reconciled("addition"));
    }
    Ok(out)
}

/// The difference of the last and first histogram of a window, with counter resets corrected
/// (Prometheus's `histogramRate`). `None` when the window's histograms cannot be combined; the
/// notes then say why.
fn rate_histogram(
    points: &[HPoint],
    sts: &[i64],
    is_counter: bool,
    name: &str,
    notes: &mut Vec<Note>,
) -> Option<FloatHistogram> {
    let n = points.len();
    let (first, last) = (&*points[0].h, &*points[n - 1].h);
    if is_counter && (is_gauge(first) || is_gauge(last)) {
        push_once(notes, not_counter(name));
    }
    let empty: FloatHistogram;
    let mut prev: &FloatHistogram = first;
    let mut custom = first.uses_custom_buckets();
    if is_counter {
        let second = &*points[1].h;
        let st_reset = sts.len() > 1 && is_st_reset(sts[0], points[0].t, sts[1], points[1].t);
        if st_reset || second.detect_reset(first) {
            // The first sample is not needed: ignore any incompatibility of its layout.
            empty = FloatHistogram {
                schema: second.schema,
                custom_values: second.custom_values.clone(),
                ..FloatHistogram::default()
            };
            prev = &empty;
            custom = second.uses_custom_buckets();
        }
    }
    if last.uses_custom_buckets() != custom {
        push_once(notes, mixed_schemas(name));
        return None;
    }
    let mut min_schema = last.schema.min(prev.schema);
    if is_counter {
        for p in &points[1..n - 1] {
            if is_gauge(&p.h) {
                push_once(notes, not_counter(name));
            }
            min_schema = min_schema.min(p.h.schema);
            if p.h.uses_custom_buckets() != custom {
                notes.clear();
                notes.push(mixed_schemas(name));
                return None;
            }
        }
    }
    let mut h = last.copy_to_schema(min_schema);
    match h.sub(prev) {
        Ok(c) if c.custom_bounds_reconciled => push_once(notes, reconciled("subtraction")),
        Ok(_) => {}
        Err(_) => {
            notes.clear();
            notes.push(mixed_schemas(name));
            return None;
        }
    }
    if is_counter {
        let mut overlap = false;
        for (i, cur) in points[1..].iter().enumerate() {
            if !overlap && i + 1 < sts.len() {
                let cur_st = sts[i + 1];
                if cur_st != 0 && cur_st < points[i].t && cur_st != sts[i] {
                    notes.push((true, format!("{START_TIME_OVERLAP} for metric {name:?}")));
                    overlap = true;
                }
            }
            let st_reset = i + 1 < sts.len() && is_st_reset(sts[i], points[i].t, sts[i + 1], cur.t);
            if st_reset || cur.h.detect_reset(prev) {
                match h.add(prev) {
                    Ok(c) if c.custom_bounds_reconciled => push_once(notes, reconciled("addition")),
                    Ok(_) => {}
                    Err(_) => {
                        notes.clear();
                        notes.push(mixed_schemas(name));
                        return None;
                    }
                }
            }
            prev = &cur.h;
        }
    } else if !is_gauge(first) || !is_gauge(last) {
        push_once(notes, not_gauge(name));
    }
    h.counter_reset_hint = CounterResetHint::Gauge;
    h.compact(0);
    Some(h)
}

/// `rate`, `increase` (counters) and `delta` over a window of histograms, extrapolated to the
/// window's boundaries as for floats (Prometheus's `extrapolatedRate`). `sts` are the start
/// timestamps of the histograms (empty when unknown).
pub(super) fn extrapolated_rate(
    hists: &[HPoint],
    sts: &[i64],
    args: &RangeArgs,
    is_counter: bool,
    is_rate: bool,
    name: &str,
    notes: &mut Vec<Note>,
) -> RangeOutput {
    let mut local = Vec::new();
    let out = extrapolated_rate_noted(hists, sts, args, is_counter, is_rate, name, &mut local);
    for n in local {
        if n.0 && n.1.starts_with(START_TIME_OVERLAP) {
            notes.push(n);
        } else {
            push_once(notes, n);
        }
    }
    out
}

fn extrapolated_rate_noted(
    hists: &[HPoint],
    sts: &[i64],
    args: &RangeArgs,
    is_counter: bool,
    is_rate: bool,
    name: &str,
    notes: &mut Vec<Note>,
) -> RangeOutput {
    let n_minus_one = hists.len() - 1;
    let (first, last) = (&hists[0], &hists[n_minus_one]);
    let mut result: Option<FloatHistogram> = None;
    if hists.len() > 1 {
        match rate_histogram(hists, sts, is_counter, name, notes) {
            Some(h) => result = Some(h),
            None => return RangeOutput::None,
        }
    }
    let mut to_start = (first.t - args.range_start) as f64 / 1000.0;
    let mut to_end = (args.range_end - last.t) as f64 / 1000.0;
    let mut sampled = (last.t - first.t) as f64 / 1000.0;
    let avg = if n_minus_one > 0 { sampled / n_minus_one as f64 } else { 0.0 };
    let threshold = avg * 1.1;
    let st0 = sts.first().copied().unwrap_or(0);
    if is_counter && st0 != 0 && st0 > args.range_start && st0 < first.t {
        // The counter started inside the window: assume a zero sample at its start.
        to_start = 0.0;
        sampled = (last.t - st0) as f64 / 1000.0;
        match result.as_mut() {
            None => result = Some((*first.h).clone()),
            Some(r) => {
                if !add_noted(r, &first.h, name, notes) {
                    return RangeOutput::None;
                }
            }
        }
    } else if n_minus_one == 0 {
        return RangeOutput::None;
    } else {
        if to_start >= threshold {
            to_start = avg / 2.0;
        }
        if is_counter {
            let mut to_zero = to_start;
            if let Some(r) = &result
                && r.count > 0.0
                && first.h.count >= 0.0
            {
                to_zero = sampled * (first.h.count / r.count);
            }
            if to_zero < to_start {
                to_start = to_zero;
            }
        }
    }
    if to_end >= threshold {
        to_end = avg / 2.0;
    }
    let mut factor = 1.0;
    if sampled != 0.0 {
        factor = (sampled + to_start + to_end) / sampled;
    }
    if is_rate {
        factor /= args.range as f64 / 1000.0;
    }
    match result {
        Some(mut h) => {
            h.mul(factor);
            RangeOutput::Histogram(Arc::new(h))
        }
        None => RangeOutput::None,
    }
}

/// `rate`, `increase` and `delta` over an `anchored` or `smoothed` window of histograms
/// (Prometheus's `extendedHistogramRate`): the difference of the histograms at the window's
/// boundaries, picked or interpolated, corrected for counter resets; no extrapolation.
pub(super) fn extended_rate(
    h: &[HPoint],
    args: &RangeArgs,
    is_counter: bool,
    is_rate: bool,
    name: &str,
    notes: &mut Vec<Note>,
) -> RangeOutput {
    let (start, end, smoothed) = (args.range_start, args.range_end, args.smoothed);
    let mut last = h.len() - 1;
    let first = h[..last].partition_point(|p| p.t <= start).saturating_sub(1);
    if smoothed {
        last = h[..last].partition_point(|p| p.t < end);
    }
    if h[last].t <= start || (smoothed && h[first].t > end) {
        return RangeOutput::None;
    }
    // All samples of the window share exponential or custom buckets; gauges are noted.
    let custom = h[first].h.uses_custom_buckets();
    for p in &h[first..=last] {
        if p.h.uses_custom_buckets() != custom {
            push_once(notes, mixed_schemas(name));
            return RangeOutput::None;
        }
        if is_counter && is_gauge(&p.h) {
            push_once(notes, not_counter(name));
        }
    }
    let left = if smoothed && h[first].t < start {
        interpolate_histograms(
            (h[first].t, &h[first].h),
            (h[first + 1].t, &h[first + 1].h),
            start,
            is_counter,
            notes,
        )
    } else {
        Ok((*h[first].h).clone())
    };
    let right = if smoothed && last > 0 && h[last].t > end {
        interpolate_histograms(
            (h[last - 1].t, &h[last - 1].h),
            (h[last].t, &h[last].h),
            end,
            is_counter,
            notes,
        )
    } else {
        Ok((*h[last].h).clone())
    };
    let (Ok(left), Ok(right)) = (left, right) else {
        push_once(notes, mixed_schemas(name));
        return RangeOutput::None;
    };
    if !is_counter && (!is_gauge(&left) || !is_gauge(&right)) {
        push_once(notes, not_gauge(name));
    }
    let mut result = right.clone();
    if !sub_noted(&mut result, &left, name, notes) {
        return RangeOutput::None;
    }
    if is_counter {
        let Some(correction) = reset_correction(h, first, last, &left, &right, args, name, notes) else {
            return RangeOutput::None;
        };
        if let Some(c) = correction
            && !add_noted(&mut result, &c, name, notes)
        {
            return RangeOutput::None;
        }
    }
    if is_rate {
        result.div(args.range as f64 / 1000.0);
    }
    result.counter_reset_hint = CounterResetHint::Gauge;
    result.compact(0);
    RangeOutput::Histogram(Arc::new(result))
}

/// The sum of the histograms right before each counter reset strictly inside the boundaries of
/// an extended window (`left`/`right` stand for the samples at `first`/`last`). `None` when
/// they cannot be added; `Some(None)` when there was no reset.
#[allow(clippy::too_many_arguments)]
fn reset_correction(
    h: &[HPoint],
    first_index: usize,
    last_index: usize,
    left: &FloatHistogram,
    right: &FloatHistogram,
    args: &RangeArgs,
    name: &str,
    notes: &mut Vec<Note>,
) -> Option<Option<FloatHistogram>> {
    let mut first = first_index + 1;
    let mut prev: &FloatHistogram = left;
    if args.smoothed
        && h[first_index].t < args.range_start
        && h[first_index + 1].h.detect_reset(&h[first_index].h)
    {
        // The left interpolation already spans the reset after the first sample.
        prev = &h[first_index + 1].h;
        first += 1;
    }
    if first > last_index {
        return Some(None);
    }
    let mut correction: Option<FloatHistogram> = None;
    let add = |c: &mut Option<FloatHistogram>, p: &FloatHistogram, notes: &mut Vec<Note>| match c {
        None => {
            *c = Some(p.clone());
            true
        }
        Some(acc) => add_noted(acc, p, name, notes),
    };
    for p in &h[first..last_index] {
        if p.h.detect_reset(prev) && !add(&mut correction, prev, notes) {
            return None;
        }
        prev = &p.h;
    }
    if right.detect_reset(prev) && !add(&mut correction, prev, notes) {
        return None;
    }
    Some(correction)
}

/// One sample of a window mixing floats and histograms, with its start timestamp.
#[derive(Clone, Copy)]
struct Mixed<'a> {
    t: i64,
    f: f64,
    h: Option<&'a FloatHistogram>,
    st: i64,
}

/// `irate` (`is_rate`) and `idelta` over the last two samples of a window holding histograms
/// and possibly floats (Prometheus's `instantValue`).
pub(super) fn instant_value(
    floats: &[FPoint],
    fsts: &[i64],
    hists: &[HPoint],
    hsts: &[i64],
    is_rate: bool,
    name: &str,
    notes: &mut Vec<Note>,
) -> RangeOutput {
    if floats.len() + hists.len() < 2 {
        return RangeOutput::None;
    }
    let mut ss: Vec<Mixed<'_>> = Vec::with_capacity(2);
    for (i, p) in floats.iter().enumerate().skip(floats.len().saturating_sub(2)) {
        ss.push(Mixed { t: p.t, f: p.f, h: None, st: fsts.get(i).copied().unwrap_or(0) });
    }
    for (i, p) in hists.iter().enumerate().skip(hists.len().saturating_sub(2)) {
        let s = Mixed { t: p.t, f: 0.0, h: Some(&p.h), st: hsts.get(i).copied().unwrap_or(0) };
        match ss.len() {
            0 => ss.push(s),
            1 => {
                if s.t < ss[0].t {
                    ss.insert(0, s);
                } else {
                    ss.push(s);
                }
            }
            _ => {
                if s.t < ss[0].t {
                } else if s.t > ss[1].t {
                    ss[0] = ss[1];
                    ss[1] = s;
                } else {
                    ss[0] = s;
                }
            }
        }
    }
    let (a, b) = (ss[0], ss[1]);
    let interval = b.t - a.t;
    if interval == 0 {
        return RangeOutput::None;
    }
    let st_reset = is_st_reset(a.st, a.t, b.st, b.t);
    match (a.h, b.h) {
        (None, None) => {
            let mut v = b.f;
            if !is_rate || !(b.f < a.f || st_reset) {
                v = b.f - a.f;
            }
            if is_rate {
                v /= interval as f64 / 1000.0;
            }
            RangeOutput::Float(v)
        }
        (Some(ha), Some(hb)) => {
            let mut out = hb.clone();
            if is_rate && (is_gauge(hb) || is_gauge(ha)) {
                push_once(notes, not_counter(name));
            }
            if !is_rate && (!is_gauge(hb) || !is_gauge(ha)) {
                push_once(notes, not_gauge(name));
            }
            if !is_rate || (!st_reset && !hb.detect_reset(ha)) {
                match out.sub(ha) {
                    Ok(c) if c.custom_bounds_reconciled => push_once(notes, reconciled("subtraction")),
                    Ok(_) => {}
                    Err(_) => {
                        push_once(notes, mixed_schemas(name));
                        return RangeOutput::None;
                    }
                }
            }
            out.counter_reset_hint = CounterResetHint::Gauge;
            out.compact(0);
            if is_rate {
                out.div(interval as f64 / 1000.0);
            }
            RangeOutput::Histogram(Arc::new(out))
        }
        _ => {
            push_once(notes, mixed_floats(name));
            RangeOutput::None
        }
    }
}

/// The first float and histogram index `resets`/`changes` start from: all samples, or for an
/// `anchored` window the last sample at or before its start and everything after it. `None`
/// when nothing lies after the start.
fn first_indices(floats: &[FPoint], hists: &[HPoint], args: &RangeArgs) -> Option<(usize, usize)> {
    if !args.anchored {
        return Some((0, 0));
    }
    let lf = floats.partition_point(|p| p.t <= args.range_start);
    let lh = hists.partition_point(|p| p.t <= args.range_start);
    if lf >= floats.len() && lh >= hists.len() {
        return None;
    }
    Some(match (lf, lh) {
        (0, 0) => (0, 0),
        (_, 0) => (lf - 1, 0),
        (0, _) => (0, lh - 1),
        _ if floats[lf - 1].t >= hists[lh - 1].t => (lf - 1, lh),
        _ => (lf, lh - 1),
    })
}

/// `resets` (`resets == true`) and `changes` over a window holding histograms and possibly
/// floats: a switch between a float and a histogram counts, as do float decreases (changes) and
/// histogram counter resets (inequality).
pub(super) fn count_transitions(
    floats: &[FPoint],
    fsts: &[i64],
    hists: &[HPoint],
    hsts: &[i64],
    args: &RangeArgs,
    resets: bool,
) -> RangeOutput {
    let Some((mut i, mut j)) = first_indices(floats, hists, args) else { return RangeOutput::None };
    let mut prev: Option<Mixed<'_>> = None;
    let mut n = 0usize;
    while i < floats.len() || j < hists.len() {
        let cur = if j >= hists.len() || (i < floats.len() && floats[i].t < hists[j].t) {
            i += 1;
            Mixed {
                t: floats[i - 1].t,
                f: floats[i - 1].f,
                h: None,
                st: fsts.get(i - 1).copied().unwrap_or(0),
            }
        } else {
            j += 1;
            Mixed {
                t: hists[j - 1].t,
                f: 0.0,
                h: Some(&hists[j - 1].h),
                st: hsts.get(j - 1).copied().unwrap_or(0),
            }
        };
        if let Some(p) = prev {
            let hit = match (p.h, cur.h) {
                (None, None) if resets => cur.f < p.f || is_st_reset(p.st, p.t, cur.st, cur.t),
                (None, None) => cur.f != p.f && !(cur.f.is_nan() && p.f.is_nan()),
                (Some(a), Some(b)) if resets => is_st_reset(p.st, p.t, cur.st, cur.t) || b.detect_reset(a),
                (Some(a), Some(b)) => !super::hist_equals(b, a),
                _ => true,
            };
            if hit {
                n += 1;
            }
        }
        prev = Some(cur);
    }
    RangeOutput::Float(n as f64)
}

/// `sum_over_time` and (`avg`) `avg_over_time` of a window of histograms, with compensated
/// summation; `avg` switches to an incremental mean when the sum would overflow.
pub(super) fn sum_over_time(hists: &[HPoint], avg: bool, name: &str, notes: &mut Vec<Note>) -> RangeOutput {
    let (mut reset_seen, mut not_reset_seen, mut reconciled_seen) = (false, false, false);
    let mut track = |h: &FloatHistogram| match h.counter_reset_hint {
        CounterResetHint::CounterReset => reset_seen = true,
        CounterResetHint::NotCounterReset => not_reset_seen = true,
        _ => {}
    };
    track(&hists[0].h);
    let result = (|| -> Result<FloatHistogram, HistogramError> {
        let mut sum = (*hists[0].h).clone();
        let mut comp: Option<FloatHistogram> = None;
        if !avg {
            for p in &hists[1..] {
                track(&p.h);
                reconciled_seen |= sum.kahan_add(&p.h, &mut comp)?.custom_bounds_reconciled;
            }
            if let Some(c) = comp {
                reconciled_seen |= sum.add(&c)?.custom_bounds_reconciled;
            }
            return Ok(sum);
        }
        let mut mean: Option<FloatHistogram> = None;
        let mut count = 1.0;
        for (i, p) in hists[1..].iter().enumerate() {
            track(&p.h);
            count = (i + 2) as f64;
            if mean.is_none() {
                let mut next = sum.clone();
                let mut next_c = comp.clone();
                reconciled_seen |= next.kahan_add(&p.h, &mut next_c)?.custom_bounds_reconciled;
                if !next.has_overflow() {
                    (sum, comp) = (next, next_c);
                    continue;
                }
                let mut m = sum.clone();
                m.div(count - 1.0);
                mean = Some(m);
                if let Some(c) = comp.as_mut() {
                    c.div(count - 1.0);
                }
            }
            let q = (count - 1.0) / count;
            if let Some(c) = comp.as_mut() {
                c.mul(q);
            }
            let mut to_add = (*p.h).clone();
            to_add.div(count);
            if let Some(m) = mean.as_mut() {
                m.mul(q);
                reconciled_seen |= m.kahan_add(&to_add, &mut comp)?.custom_bounds_reconciled;
            }
        }
        if let Some(mut m) = mean {
            if let Some(c) = comp {
                m.add(&c)?;
            }
            return Ok(m);
        }
        sum.div(count);
        if let Some(mut c) = comp {
            c.div(count);
            sum.add(&c)?;
        }
        Ok(sum)
    })();
    match result {
        Ok(h) => {
            if reset_seen && not_reset_seen {
                push_once(
                    notes,
                    (true, "conflicting counter resets during histogram aggregation".to_string()),
                );
            }
            if reconciled_seen {
                push_once(notes, reconciled("aggregation"));
            }
            RangeOutput::Histogram(Arc::new(h))
        }
        Err(_) => {
            push_once(notes, mixed_schemas(name));
            RangeOutput::None
        }
    }
}
