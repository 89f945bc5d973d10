//! How promqltest compares values: floats with a relative tolerance (`util/almost.Equal` with
//! epsilon 1e-6), native histograms field by field after dropping empty buckets.

use crate::model::{BucketSpan, FloatHistogram, is_stale_nan};

/// The tolerance promqltest uses.
pub const DEFAULT_EPSILON: f64 = 0.000001;

/// Prometheus's `almost.Equal`: staleness markers equal only each other, NaN equals NaN, equal
/// values (including infinities) are equal, values near zero must be (almost) exactly equal, and
/// otherwise the difference relative to `|a| + |b|` must be below `epsilon`.
///
/// ```
/// use ferroprom::promqltest::almost_equal;
/// assert!(almost_equal(1.0, 1.0 + 1e-9, 1e-6));
/// assert!(!almost_equal(0.0, 1e-9, 1e-6));
/// assert!(almost_equal(f64::NAN, f64::NAN, 1e-6));
/// ```
pub fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    if is_stale_nan(a) || is_stale_nan(b) {
        return is_stale_nan(a) && is_stale_nan(b);
    }
    if a.is_nan() && b.is_nan() {
        return true;
    }
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < f64::MIN_POSITIVE {
        return diff < epsilon * f64::MIN_POSITIVE;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}

/// The populated buckets of one side as `(absolute index, count)`, empty (exactly 0) buckets
/// dropped: the content of Prometheus's `Compact(0)` without the span bookkeeping.
fn bucket_list(spans: &[BucketSpan], buckets: &[f64]) -> Vec<(i64, f64)> {
    let mut out = Vec::with_capacity(buckets.len());
    let mut idx: i64 = 0;
    let mut b = 0usize;
    for s in spans {
        idx += i64::from(s.offset);
        for _ in 0..s.length {
            if let Some(&c) = buckets.get(b)
                && c != 0.0
            {
                out.push((idx, c));
            }
            idx += 1;
            b += 1;
        }
    }
    out
}

fn buckets_match(a: &[(i64, f64)], b: &[(i64, f64)]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.0 == y.0 && almost_equal(x.1, y.1, DEFAULT_EPSILON))
}

/// Prometheus's `compareNativeHistogram` on compacted histograms: schema equal; count, sum and
/// zero count almost equal; zero threshold and custom bounds exactly equal; the same populated
/// buckets with almost equal counts; the counter reset hint only when the expectation wrote one.
pub fn histograms_match(exp: &FloatHistogram, got: &FloatHistogram, hint_set: bool) -> bool {
    if exp.schema != got.schema
        || !almost_equal(exp.count, got.count, DEFAULT_EPSILON)
        || !almost_equal(exp.sum, got.sum, DEFAULT_EPSILON)
    {
        return false;
    }
    if exp.uses_custom_buckets() && exp.custom_values != got.custom_values {
        return false;
    }
    if exp.zero_threshold != got.zero_threshold
        || !almost_equal(exp.zero_count, got.zero_count, DEFAULT_EPSILON)
    {
        return false;
    }
    if !buckets_match(
        &bucket_list(&exp.negative_spans, &exp.negative_buckets),
        &bucket_list(&got.negative_spans, &got.negative_buckets),
    ) || !buckets_match(
        &bucket_list(&exp.positive_spans, &exp.positive_buckets),
        &bucket_list(&got.positive_spans, &got.positive_buckets),
    ) {
        return false;
    }
    !hint_set || exp.counter_reset_hint == got.counter_reset_hint
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CounterResetHint, STALE_NAN};

    #[test]
    fn almost() {
        assert!(almost_equal(STALE_NAN, STALE_NAN, DEFAULT_EPSILON));
        assert!(!almost_equal(STALE_NAN, f64::NAN, DEFAULT_EPSILON));
        assert!(almost_equal(f64::INFINITY, f64::INFINITY, DEFAULT_EPSILON));
        assert!(!almost_equal(1.0, 1.00001, DEFAULT_EPSILON));
        assert!(almost_equal(1e300, 1e300 * (1.0 + 1e-9), DEFAULT_EPSILON));
    }

    #[test]
    fn histogram_layouts() {
        let a = FloatHistogram {
            count: 3.0,
            positive_spans: vec![BucketSpan::new(0, 3)],
            positive_buckets: vec![1.0, 0.0, 2.0],
            ..FloatHistogram::default()
        };
        let b = FloatHistogram {
            count: 3.0,
            positive_spans: vec![BucketSpan::new(0, 1), BucketSpan::new(1, 1)],
            positive_buckets: vec![1.0, 2.0],
            ..FloatHistogram::default()
        };
        assert!(histograms_match(&a, &b, false));
        let c = FloatHistogram { counter_reset_hint: CounterResetHint::Gauge, ..b.clone() };
        assert!(histograms_match(&a, &c, false));
        assert!(!histograms_match(&a, &c, true));
    }
}
