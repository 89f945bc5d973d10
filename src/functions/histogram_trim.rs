//! Trimming a histogram at a value (PromQL's `</` and `>/`, Prometheus's
//! `FloatHistogram.TrimBuckets`), and the in-bucket interpolation it shares with
//! `histogram_fraction`.
//!
//! Inside a bucket, observations are assumed spread evenly on a logarithmic scale for exponential
//! buckets and on a linear scale for custom buckets and the zero bucket. Buckets with an infinite
//! bound cannot be split; they are kept or dropped whole, except the first custom bucket with a
//! positive upper bound, which is taken to start at 0.

use super::gomath::log2;
use crate::model::{BucketSpan, FloatHistogram};

/// The part of the width of the bucket `(lower, upper)` at or below `v`, for `v` strictly inside
/// finite bounds: linear, or on a log scale (mirrored for negative buckets).
pub(crate) fn fraction_below(lower: f64, upper: f64, v: f64, linear: bool) -> f64 {
    if linear {
        return (v - lower) / (upper - lower);
    }
    // Go's Log2, so that the result matches Prometheus to the last bit.
    let (log_lower, log_upper, log_v) = (log2(lower.abs()), log2(upper.abs()), log2(v.abs()));
    if v > 0.0 {
        (log_v - log_lower) / (log_upper - log_lower)
    } else {
        1.0 - (log_v - log_upper) / (log_lower - log_upper)
    }
}

/// The absolute bucket index of every entry of `counts` (at most `counts.len()` entries).
fn flat_indices(spans: &[BucketSpan], n: usize) -> Vec<i64> {
    let mut out = Vec::with_capacity(n);
    let mut idx: i64 = 0;
    for (i, span) in spans.iter().enumerate() {
        idx = if i == 0 { i64::from(span.offset) } else { idx + i64::from(span.offset) };
        for _ in 0..span.length {
            if out.len() == n {
                return out;
            }
            out.push(idx);
            idx += 1;
        }
    }
    out
}

/// The representative value of the surviving part `(lo, hi)` of a bucket: the arithmetic mean
/// (linear buckets) or the geometric mean (exponential ones); an infinite bound gives the finite
/// one (halved when it is a positive upper bound), two infinite bounds give 0.
fn midpoint(lo: f64, hi: f64, positive: bool, linear: bool) -> f64 {
    if lo.is_infinite() {
        if hi.is_infinite() {
            return 0.0;
        }
        return if hi > 0.0 { hi / 2.0 } else { hi };
    }
    if hi.is_infinite() {
        return lo;
    }
    if linear {
        return (lo + hi) / 2.0;
    }
    let geo = (lo * hi).abs().sqrt();
    if positive { geo } else { -geo }
}

/// One populated bucket with its bounds.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    lower: f64,
    upper: f64,
    count: f64,
}

/// The kept count and its representative value for a bucket with an infinite bound.
fn trim_infinite(b: Bucket, rhs: f64, upper_trim: bool) -> (f64, f64) {
    let finite_or_zero = |x: f64| if x.is_infinite() { 0.0 } else { x };
    if b.lower == f64::NEG_INFINITY {
        if upper_trim {
            if rhs >= b.upper {
                return (b.count, 0.0);
            }
            if rhs > 0.0 && b.upper > 0.0 && b.upper != f64::INFINITY {
                // Only custom buckets get here: the bucket is read as starting at 0.
                return (b.count * rhs / b.upper, rhs / 2.0);
            }
            if b.upper <= 0.0 {
                return (b.count, rhs);
            }
            return (0.0, finite_or_zero(b.upper));
        }
        if rhs <= b.lower {
            return (b.count, 0.0);
        }
        if rhs >= 0.0 && b.upper > rhs && b.upper != f64::INFINITY {
            return (b.count * (1.0 - rhs / b.upper), (rhs + b.upper) / 2.0);
        }
        return (0.0, finite_or_zero(b.upper));
    }
    // The upper bound is +Inf.
    if !upper_trim && rhs >= b.lower {
        return (b.count, rhs);
    }
    (0.0, finite_or_zero(b.lower))
}

/// The kept count and its representative value for a bucket that `rhs` falls into.
fn trim_bucket(b: Bucket, rhs: f64, upper_trim: bool, positive: bool, linear: bool) -> (f64, f64) {
    if b.lower == f64::NEG_INFINITY || b.upper == f64::INFINITY {
        return trim_infinite(b, rhs, upper_trim);
    }
    let below = if rhs <= b.lower {
        0.0
    } else if rhs >= b.upper {
        b.count
    } else {
        b.count * fraction_below(b.lower, b.upper, rhs, linear)
    };
    if upper_trim {
        (below, midpoint(b.lower, rhs, positive, linear))
    } else {
        (b.count - below, midpoint(rhs, b.upper, positive, linear))
    }
}

/// The kept count and its representative value for the zero bucket. Its range is taken as
/// `[0, threshold]` or `[-threshold, 0]` when only positive or only negative buckets are
/// populated.
fn trim_zero(b: Bucket, rhs: f64, has_negative: bool, has_positive: bool, upper_trim: bool) -> (f64, f64) {
    let (mut lower, mut upper) = (b.lower, b.upper);
    if has_negative && !has_positive {
        upper = 0.0;
    }
    if has_positive && !has_negative {
        lower = 0.0;
    }
    let (fraction, mid) = if upper_trim {
        if rhs <= lower {
            return (0.0, 0.0);
        }
        if rhs >= upper {
            return (b.count, (lower + upper) / 2.0);
        }
        ((rhs - lower) / (upper - lower), (lower + rhs) / 2.0)
    } else {
        if rhs <= lower {
            return (b.count, (lower + upper) / 2.0);
        }
        if rhs >= upper {
            return (0.0, 0.0);
        }
        ((upper - rhs) / (upper - lower), (rhs + upper) / 2.0)
    };
    (b.count * fraction, mid)
}

/// Removes the observations above `rhs` (`upper_trim`, PromQL's `h </ rhs`) or below `rhs`
/// (`h >/ rhs`), interpolating inside the bucket `rhs` falls into. When anything was removed,
/// the count and sum are recomputed from the kept buckets (each bucket's kept count times the
/// midpoint of its kept range) and empty buckets are compacted away; otherwise the histogram
/// is left as it is.
///
/// ```
/// use ferroprom::functions::hist_trim;
/// use ferroprom::model::{BucketSpan, FloatHistogram};
/// let mut h = FloatHistogram {
///     count: 6.0,
///     sum: 9.0,
///     positive_spans: vec![BucketSpan::new(1, 2)],
///     positive_buckets: vec![2.0, 4.0],
///     ..FloatHistogram::default()
/// };
/// // Buckets (1,2] and (2,4]: trimming at 2 keeps the first one.
/// hist_trim(&mut h, 2.0, true);
/// assert_eq!(h.count, 2.0);
/// assert_eq!(h.positive_buckets, vec![2.0]);
/// ```
pub fn hist_trim(h: &mut FloatHistogram, rhs: f64, upper_trim: bool) {
    let linear = h.uses_custom_buckets();
    let (mut count, mut sum, mut trimmed) = (0.0, 0.0, false);
    let (mut has_positive, mut has_negative) = (false, false);
    for positive in [true, false] {
        let (spans, n) = if positive {
            (&h.positive_spans, h.positive_buckets.len())
        } else {
            (&h.negative_spans, h.negative_buckets.len())
        };
        let indices = flat_indices(spans, n);
        for (k, idx) in indices.into_iter().enumerate() {
            let c = if positive { h.positive_buckets[k] } else { h.negative_buckets[k] };
            if c == 0.0 {
                continue;
            }
            if positive {
                has_positive = true;
            } else {
                has_negative = true;
            }
            let (lower, upper) = if positive {
                (h.bucket_bound(idx - 1), h.bucket_bound(idx))
            } else {
                (-h.bucket_bound(idx), -h.bucket_bound(idx - 1))
            };
            let whole = if upper_trim { upper <= rhs } else { lower >= rhs };
            let split = if upper_trim { lower < rhs } else { upper > rhs };
            let slot = if positive { &mut h.positive_buckets[k] } else { &mut h.negative_buckets[k] };
            if whole {
                count += c;
                sum += midpoint(lower, upper, positive, linear) * c;
            } else if split {
                let b = Bucket { lower, upper, count: c };
                let (keep, mid) = trim_bucket(b, rhs, upper_trim, positive, linear);
                count += keep;
                sum += mid * keep;
                if *slot != keep {
                    *slot = keep;
                    trimmed = true;
                }
            } else {
                *slot = 0.0;
                trimmed = true;
            }
        }
    }
    if h.zero_count > 0.0 {
        let zero = Bucket { lower: -h.zero_threshold, upper: h.zero_threshold, count: h.zero_count };
        let (keep, mid) = trim_zero(zero, rhs, has_negative, has_positive, upper_trim);
        if h.zero_count != keep {
            h.zero_count = keep;
            trimmed = true;
        }
        sum += mid * keep;
        count += keep;
    }
    if trimmed {
        h.count = count;
        h.sum = sum;
        h.compact(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fraction_below_is_linear_or_logarithmic() {
        assert_eq!(fraction_below(0.0, 10.0, 2.5, true), 0.25);
        assert_eq!(fraction_below(1.0, 4.0, 2.0, false), 0.5);
        assert_eq!(fraction_below(-4.0, -1.0, -2.0, false), 0.5);
        assert_eq!(fraction_below(-4.0, -2.0, -2.0f64.powf(1.5), false), 0.5);
    }
}
