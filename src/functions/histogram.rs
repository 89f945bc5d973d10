//! The few native-histogram operations the evaluator needs before full native-histogram
//! evaluation lands: scaling, equality, and the binary-operator table for histogram operands.

use std::sync::Arc;

use super::gomath;
use crate::model::{CounterResetHint, FloatHistogram, exponential_bound};
use crate::parser::BinaryOp;

/// `h * factor` (Prometheus's `FloatHistogram.Mul`).
pub fn hist_mul(h: &FloatHistogram, factor: f64) -> FloatHistogram {
    let mut out = h.clone();
    out.mul(factor);
    out
}

/// `h / divisor` (Prometheus's `FloatHistogram.Div`).
pub fn hist_div(h: &FloatHistogram, divisor: f64) -> FloatHistogram {
    let mut out = h.clone();
    out.div(divisor);
    out
}

fn same(a: f64, b: f64) -> bool {
    a.to_bits() == b.to_bits() || a == b
}

/// Prometheus's `FloatHistogram.Equals`: same layout and the same values (NaN equals NaN bit
/// for bit); the counter reset hint is ignored.
pub fn hist_equals(a: &FloatHistogram, b: &FloatHistogram) -> bool {
    let (mut a, mut b) = (a.clone(), b.clone());
    a.compact(0);
    b.compact(0);
    a.schema == b.schema
        && same(a.zero_threshold, b.zero_threshold)
        && same(a.zero_count, b.zero_count)
        && same(a.count, b.count)
        && same(a.sum, b.sum)
        && a.custom_values == b.custom_values
        && a.positive_spans == b.positive_spans
        && a.negative_spans == b.negative_spans
        && a.positive_buckets.len() == b.positive_buckets.len()
        && a.positive_buckets.iter().zip(&b.positive_buckets).all(|(x, y)| same(*x, *y))
        && a.negative_buckets.len() == b.negative_buckets.len()
        && a.negative_buckets.iter().zip(&b.negative_buckets).all(|(x, y)| same(*x, *y))
}

/// The result of a binary operator on two vector elements at least one of which is a histogram.
#[derive(Debug, Clone, PartialEq)]
pub enum HistBinop {
    /// A histogram result.
    Histogram(Arc<FloatHistogram>),
    /// Comparison of two histograms: keep the left one or not.
    Keep(bool),
    /// The operands' types do not combine under this operator: an info is raised and the
    /// element dropped. Holds `(lhs type, rhs type)`.
    Incompatible(&'static str, &'static str),
    /// `+` or `-` of histograms whose custom bucket bounds differ: the result uses the bounds
    /// common to both and an info names the operation (`"addition"` or `"subtraction"`).
    Reconciled(Arc<FloatHistogram>, &'static str),
    /// `+` or `-` of histograms where one says "counter reset" and the other "no counter reset":
    /// the element is dropped with a warning naming the operation.
    CounterResetCollision(&'static str),
    /// `+` or `-` of a histogram with custom buckets and one with exponential buckets: the element
    /// is dropped with a warning.
    IncompatibleLayout,
    /// Not implemented yet.
    Unsupported,
}

/// Prometheus's `vectorElemBinop` for operands involving histograms.
pub fn hist_binop(
    op: BinaryOp,
    lf: f64,
    rf: f64,
    lh: Option<&FloatHistogram>,
    rh: Option<&FloatHistogram>,
) -> HistBinop {
    match (lh, rh) {
        (None, Some(r)) => match op {
            BinaryOp::Mul => {
                let mut h = hist_mul(r, lf);
                h.compact(0);
                HistBinop::Histogram(Arc::new(h))
            }
            _ => HistBinop::Incompatible("float", "histogram"),
        },
        (Some(l), None) => match op {
            BinaryOp::TrimUpper | BinaryOp::TrimLower => {
                let mut h = l.clone();
                super::hist_trim(&mut h, rf, op == BinaryOp::TrimUpper);
                HistBinop::Histogram(Arc::new(h))
            }
            BinaryOp::Mul | BinaryOp::Div => {
                let mut h = if op == BinaryOp::Mul { hist_mul(l, rf) } else { hist_div(l, rf) };
                h.compact(0);
                HistBinop::Histogram(Arc::new(h))
            }
            BinaryOp::Add
            | BinaryOp::Sub
            | BinaryOp::Pow
            | BinaryOp::Mod
            | BinaryOp::Eql
            | BinaryOp::Neq
            | BinaryOp::Gtr
            | BinaryOp::Lss
            | BinaryOp::Gte
            | BinaryOp::Lte
            | BinaryOp::Atan2 => HistBinop::Incompatible("histogram", "float"),
            _ => HistBinop::Unsupported,
        },
        (Some(l), Some(r)) => match op {
            BinaryOp::Add | BinaryOp::Sub => {
                let mut h = l.clone();
                let res = if op == BinaryOp::Add { h.add(r) } else { h.sub(r) };
                let Ok(combined) = res else { return HistBinop::IncompatibleLayout };
                let operation = if op == BinaryOp::Add { "addition" } else { "subtraction" };
                if combined.counter_reset_collision {
                    return HistBinop::CounterResetCollision(operation);
                }
                if op == BinaryOp::Sub {
                    h.counter_reset_hint = CounterResetHint::Gauge;
                }
                h.compact(0);
                if combined.custom_bounds_reconciled {
                    return HistBinop::Reconciled(Arc::new(h), operation);
                }
                HistBinop::Histogram(Arc::new(h))
            }
            BinaryOp::Eql => HistBinop::Keep(hist_equals(l, r)),
            BinaryOp::Neq => HistBinop::Keep(!hist_equals(l, r)),
            _ => HistBinop::Incompatible("histogram", "histogram"),
        },
        (None, None) => match op {
            BinaryOp::TrimUpper | BinaryOp::TrimLower => HistBinop::Incompatible("float", "float"),
            _ => HistBinop::Unsupported,
        },
    }
}

/// The populated buckets of one side as `(index, count)`.
fn bucket_indices(spans: &[crate::model::BucketSpan], counts: &[f64]) -> Vec<(i32, f64)> {
    let mut out = Vec::with_capacity(counts.len());
    let mut idx = 0i32;
    let mut k = 0;
    for (n, s) in spans.iter().enumerate() {
        idx += s.offset;
        if n > 0 {
            // Spans after the first are relative to the end of the previous one.
        }
        for _ in 0..s.length {
            if let Some(&c) = counts.get(k) {
                out.push((idx, c));
            }
            idx += 1;
            k += 1;
        }
    }
    out
}

/// Prometheus's `FloatHistogram.String()`: `{count:N, sum:S, [lo,hi):c, ...}` with the
/// negative buckets first, then the zero bucket, then the positive buckets.
pub fn hist_string(h: &FloatHistogram) -> String {
    use crate::model::format_go_g as g;
    let mut out = format!("{{count:{}, sum:{}", g(h.count), g(h.sum));
    let custom = h.uses_custom_buckets();
    let bound = |i: i32| -> f64 {
        if custom {
            if i < 0 {
                f64::NEG_INFINITY
            } else {
                h.custom_values.get(i as usize).copied().unwrap_or(f64::INFINITY)
            }
        } else {
            exponential_bound(i64::from(i), h.schema)
        }
    };
    let neg = bucket_indices(&h.negative_spans, &h.negative_buckets);
    for &(i, c) in neg.iter().rev() {
        if c != 0.0 {
            out.push_str(&format!(", [{},{}):{}", g(-bound(i)), g(-bound(i - 1)), g(c)));
        }
    }
    if h.zero_count != 0.0 {
        out.push_str(&format!(", [{},{}]:{}", g(-h.zero_threshold), g(h.zero_threshold), g(h.zero_count)));
    }
    for (i, c) in bucket_indices(&h.positive_spans, &h.positive_buckets) {
        if c != 0.0 {
            let lower = if custom && i == 0 { f64::NEG_INFINITY } else { bound(i - 1) };
            out.push_str(&format!(", ({},{}]:{}", g(lower), g(bound(i)), g(c)));
        }
    }
    out.push('}');
    out
}

/// One bucket of a native histogram with its bounds.
#[derive(Debug, Clone, Copy)]
struct HBucket {
    lower: f64,
    upper: f64,
    count: f64,
}

/// Every bucket from the lowest to the highest: negative buckets (most negative first), the zero
/// bucket, positive buckets (Prometheus's `AllBucketIterator`).
fn all_buckets(h: &FloatHistogram) -> Vec<HBucket> {
    let mut out = Vec::new();
    if h.uses_custom_buckets() {
        for (i, c) in bucket_indices(&h.positive_spans, &h.positive_buckets) {
            let lower = if i <= 0 {
                f64::NEG_INFINITY
            } else {
                h.custom_values.get(i as usize - 1).copied().unwrap_or(f64::INFINITY)
            };
            let upper = if i < 0 {
                f64::NEG_INFINITY
            } else {
                h.custom_values.get(i as usize).copied().unwrap_or(f64::INFINITY)
            };
            out.push(HBucket { lower, upper, count: c });
        }
        return out;
    }
    // Buckets reaching into the zero bucket end at its edge.
    let zt = h.zero_threshold;
    for &(i, c) in bucket_indices(&h.negative_spans, &h.negative_buckets).iter().rev() {
        let upper = -exponential_bound(i64::from(i) - 1, h.schema);
        let upper = if upper < 0.0 && upper > -zt { -zt } else { upper };
        out.push(HBucket { lower: -exponential_bound(i64::from(i), h.schema), upper, count: c });
    }
    if h.zero_count > 0.0 {
        out.push(HBucket { lower: -zt, upper: zt, count: h.zero_count });
    }
    for (i, c) in bucket_indices(&h.positive_spans, &h.positive_buckets) {
        let lower = exponential_bound(i64::from(i) - 1, h.schema);
        let lower = if lower > 0.0 && lower < zt { zt } else { lower };
        out.push(HBucket { lower, upper: exponential_bound(i64::from(i), h.schema), count: c });
    }
    out
}

/// The q-quantile of a native histogram (Prometheus's `HistogramQuantile`), and whether the
/// result is NaN because of NaN observations (`Some(true)`) or skewed by them (`Some(false)`).
pub fn hist_quantile(q: f64, h: &FloatHistogram) -> (f64, Option<bool>) {
    if q < 0.0 {
        return (f64::NEG_INFINITY, None);
    }
    if q > 1.0 {
        return (f64::INFINITY, None);
    }
    if h.count == 0.0 || q.is_nan() {
        return (f64::NAN, None);
    }
    let forward = h.sum.is_nan() || q < 0.5;
    let mut buckets = all_buckets(h);
    if !forward {
        buckets.reverse();
    }
    let mut rank = if forward { q * h.count } else { (1.0 - q) * h.count };
    let mut count = 0.0;
    let mut pos = buckets.len();
    let mut bucket = HBucket { lower: 0.0, upper: 0.0, count: 0.0 };
    for (k, b) in buckets.iter().enumerate() {
        if b.count == 0.0 {
            continue;
        }
        bucket = *b;
        pos = k;
        count += b.count;
        if count >= rank {
            break;
        }
    }
    let custom = h.uses_custom_buckets();
    if !custom && bucket.lower < 0.0 && bucket.upper > 0.0 {
        if h.negative_buckets.is_empty() && !h.positive_buckets.is_empty() {
            bucket.lower = 0.0;
        } else if h.positive_buckets.is_empty() && !h.negative_buckets.is_empty() {
            bucket.upper = 0.0;
        }
    } else if custom {
        if bucket.lower == f64::NEG_INFINITY {
            if bucket.upper <= 0.0 {
                return (bucket.upper, None);
            }
            bucket.lower = 0.0;
        } else if bucket.upper == f64::INFINITY {
            return (bucket.lower, None);
        }
    }
    if count > h.count {
        count = h.count;
    }
    if count < rank {
        if h.sum.is_nan() {
            return (f64::NAN, Some(true));
        }
        return (bucket.upper, None);
    }
    if forward {
        rank -= count - bucket.count;
    } else {
        rank = count - rank;
    }
    let mut note = None;
    if h.sum.is_nan() {
        let rest: f64 = buckets.iter().skip(pos + 1).map(|b| b.count).sum();
        if count + rest < h.count {
            note = Some(false);
        }
    }
    let fraction = rank / bucket.count;
    if custom || (bucket.lower <= 0.0 && bucket.upper >= 0.0) {
        return (bucket.lower + (bucket.upper - bucket.lower) * fraction, note);
    }
    let log_lower = gomath::log2(bucket.lower.abs());
    let log_upper = gomath::log2(bucket.upper.abs());
    if bucket.lower > 0.0 {
        return (gomath::exp2(log_lower + (log_upper - log_lower) * fraction), note);
    }
    (-gomath::exp2(log_upper + (log_lower - log_upper) * (1.0 - fraction)), note)
}

/// The fraction of the observations of a native histogram between `lower` and `upper`
/// (Prometheus's `HistogramFraction`), and whether NaN observations were left out of it.
///
/// The bucket holding a bound is interpolated: linearly in custom buckets and the zero bucket (a
/// custom bucket reaching down to `-Inf` contributes nothing), on a log scale in exponential
/// buckets. The zero bucket is taken to end at 0 on the side where no buckets are populated.
pub fn hist_fraction(lower: f64, upper: f64, h: &FloatHistogram) -> (f64, bool) {
    if h.count == 0.0 || lower.is_nan() || upper.is_nan() {
        return (f64::NAN, false);
    }
    if lower >= upper {
        return (0.0, false);
    }
    let buckets = all_buckets(h);
    let custom = h.uses_custom_buckets();
    let (mut count, mut rank, mut lower_rank, mut upper_rank) = (0.0, 0.0, 0.0, 0.0);
    let (mut lower_set, mut upper_set) = (false, false);
    let mut seen = buckets.len();
    for (k, &bucket) in buckets.iter().enumerate() {
        let mut b = bucket;
        count += b.count;
        let zero = b.lower <= 0.0 && b.upper >= 0.0;
        if zero {
            if h.negative_buckets.is_empty() && !h.positive_buckets.is_empty() {
                b.lower = 0.0;
            } else if h.positive_buckets.is_empty() && !h.negative_buckets.is_empty() {
                b.upper = 0.0;
            }
        }
        let linear = custom || zero;
        let interpolate = |v: f64| {
            if linear && b.lower == f64::NEG_INFINITY {
                return b.count;
            }
            rank + b.count * super::histogram_trim::fraction_below(b.lower, b.upper, v, linear)
        };
        if !lower_set && b.lower >= lower {
            lower_rank = rank;
            lower_set = true;
        }
        if !upper_set && b.lower >= upper {
            upper_rank = rank;
            upper_set = true;
        }
        if lower_set && upper_set {
            seen = k + 1;
            break;
        }
        if !lower_set && b.lower < lower && b.upper > lower {
            lower_rank = interpolate(lower);
            lower_set = true;
        }
        if !upper_set && b.lower < upper && b.upper > upper {
            upper_rank = interpolate(upper);
            upper_set = true;
        }
        if lower_set && upper_set {
            seen = k + 1;
            break;
        }
        rank += b.count;
    }
    let mut nan_observations = false;
    if h.sum.is_nan() {
        for b in &buckets[seen..] {
            count += b.count;
        }
        nan_observations = count < h.count;
    } else {
        count = h.count;
    }
    if !lower_set || lower_rank > count {
        lower_rank = count;
    }
    if !upper_set || upper_rank > count {
        upper_rank = count;
    }
    ((upper_rank - lower_rank) / h.count, nan_observations)
}

/// The estimated variance of the observations of a native histogram (Prometheus's
/// `histogramVariance`): bucket midpoints (geometric for exponential buckets, arithmetic for
/// custom ones, 0 in the zero bucket) weighted by bucket counts, summed with Kahan compensation.
pub fn hist_variance(h: &FloatHistogram) -> f64 {
    let mean = h.sum / h.count;
    let (mut variance, mut c) = (0.0, 0.0);
    for b in all_buckets(h) {
        if b.count == 0.0 {
            continue;
        }
        let val = if h.uses_custom_buckets() {
            (b.upper + b.lower) / 2.0
        } else if b.lower <= 0.0 && b.upper >= 0.0 {
            0.0
        } else {
            let v = (b.upper * b.lower).sqrt();
            if b.upper < 0.0 { -v } else { v }
        };
        let delta = val - mean;
        (variance, c) = crate::functions::kahan_inc(b.count * delta * delta, variance, c);
    }
    (variance + c) / h.count
}

/// Prometheus's `FloatHistogram.DetectReset`: whether `cur` follows a counter reset after
/// `prev`. `None` when deciding needs a schema or zero-threshold conversion not implemented yet.
pub fn hist_detect_reset(cur: &FloatHistogram, prev: &FloatHistogram) -> Option<bool> {
    match cur.counter_reset_hint {
        CounterResetHint::CounterReset => return Some(true),
        CounterResetHint::NotCounterReset => return Some(false),
        _ => {}
    }
    if cur.count < prev.count {
        return Some(true);
    }
    if cur.uses_custom_buckets() {
        if !prev.uses_custom_buckets() {
            return Some(true);
        }
        if cur.custom_values != prev.custom_values {
            return None;
        }
    }
    if cur.schema > prev.schema {
        return Some(true);
    }
    if cur.zero_threshold < prev.zero_threshold {
        return Some(true);
    }
    if cur.zero_threshold != prev.zero_threshold || cur.schema != prev.schema {
        return None;
    }
    if cur.zero_count < prev.zero_count {
        return Some(true);
    }
    for (cs, cb, ps, pb) in [
        (&cur.positive_spans, &cur.positive_buckets, &prev.positive_spans, &prev.positive_buckets),
        (&cur.negative_spans, &cur.negative_buckets, &prev.negative_spans, &prev.negative_buckets),
    ] {
        let curr = bucket_indices(cs, cb);
        for (idx, pc) in bucket_indices(ps, pb) {
            let cc = curr.iter().find(|(i, _)| *i == idx).map_or(0.0, |(_, c)| *c);
            let present = curr.iter().any(|(i, _)| *i == idx);
            if (present && cc < pc) || (!present && pc != 0.0) {
                return Some(true);
            }
        }
    }
    Some(false)
}
