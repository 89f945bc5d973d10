//! Adding and subtracting histograms, as Prometheus's `FloatHistogram.Add` and `Sub` do:
//! reconciling schemas (the finer one is reduced), zero buckets (the wider one wins) and custom
//! bucket bounds (their intersection is used).

use super::bounds::exponential_bound;
use super::layout::{self, Run};
use super::{Combined, CounterResetHint, FloatHistogram, HistogramError};
use crate::model::kahan_inc;

impl FloatHistogram {
    /// Adds `other` to `self` in place.
    ///
    /// # Errors
    ///
    /// [`HistogramError::IncompatibleSchema`] when exactly one of the two uses custom buckets.
    pub fn add(&mut self, other: &FloatHistogram) -> Result<Combined, HistogramError> {
        self.combine(other, false)
    }

    /// Subtracts `other` from `self` in place. The counter reset hint is reconciled as for
    /// [`FloatHistogram::add`]; PromQL's `-` operator marks its result a gauge afterwards.
    ///
    /// # Errors
    ///
    /// [`HistogramError::IncompatibleSchema`] when exactly one of the two uses custom buckets.
    pub fn sub(&mut self, other: &FloatHistogram) -> Result<Combined, HistogramError> {
        self.combine(other, true)
    }

    fn combine(&mut self, other: &FloatHistogram, negate: bool) -> Result<Combined, HistogramError> {
        if self.uses_custom_buckets() != other.uses_custom_buckets() {
            return Err(HistogramError::IncompatibleSchema);
        }
        let sign = if negate { -1.0 } else { 1.0 };
        let mut result =
            Combined { counter_reset_collision: self.adjust_counter_reset(other), ..Combined::default() };
        if !self.uses_custom_buckets() {
            let other_zero_count = self.reconcile_zero_buckets(other);
            self.zero_count += sign * other_zero_count;
        }
        self.count += sign * other.count;
        self.sum += sign * other.sum;

        if self.uses_custom_buckets() {
            if bounds_match(&self.custom_values, &other.custom_values) {
                (self.positive_spans, self.positive_buckets) = layout::add_buckets(
                    &self.positive_spans,
                    &self.positive_buckets,
                    &other.positive_spans,
                    &other.positive_buckets,
                    negate,
                    None,
                );
            } else {
                result.custom_bounds_reconciled = true;
                self.add_with_mismatched_bounds(other, negate);
            }
            return Ok(result);
        }

        let (mut other_pos, mut other_neg) = (
            (other.positive_spans.clone(), other.positive_buckets.clone()),
            (other.negative_spans.clone(), other.negative_buckets.clone()),
        );
        if other.schema < self.schema {
            (self.positive_spans, self.positive_buckets) = layout::reduce_resolution(
                &self.positive_spans,
                &self.positive_buckets,
                self.schema,
                other.schema,
            );
            (self.negative_spans, self.negative_buckets) = layout::reduce_resolution(
                &self.negative_spans,
                &self.negative_buckets,
                self.schema,
                other.schema,
            );
            self.schema = other.schema;
        } else if other.schema > self.schema {
            other_pos = layout::reduce_resolution(&other_pos.0, &other_pos.1, other.schema, self.schema);
            other_neg = layout::reduce_resolution(&other_neg.0, &other_neg.1, other.schema, self.schema);
        }
        let (schema, threshold) = (self.schema, self.zero_threshold);
        let in_zero_bucket = move |index: i64| exponential_bound(index, schema) <= threshold;
        let skip: Option<&dyn Fn(i64) -> bool> =
            if is_exponential_schema(schema) { Some(&in_zero_bucket) } else { None };
        (self.positive_spans, self.positive_buckets) = layout::add_buckets(
            &self.positive_spans,
            &self.positive_buckets,
            &other_pos.0,
            &other_pos.1,
            negate,
            skip,
        );
        (self.negative_spans, self.negative_buckets) = layout::add_buckets(
            &self.negative_spans,
            &self.negative_buckets,
            &other_neg.0,
            &other_neg.1,
            negate,
            skip,
        );
        Ok(result)
    }

    /// Reconciles the counter reset hints of two operands; returns whether they collided.
    pub(super) fn adjust_counter_reset(&mut self, other: &FloatHistogram) -> bool {
        use CounterResetHint::*;
        match (self.counter_reset_hint, other.counter_reset_hint) {
            (a, b) if a == b => false,
            (Gauge, _) => false,
            (_, Gauge) => {
                self.counter_reset_hint = Gauge;
                false
            }
            (Unknown, _) => false,
            (_, Unknown) => {
                self.counter_reset_hint = Unknown;
                false
            }
            _ => {
                self.counter_reset_hint = Unknown;
                true
            }
        }
    }

    /// Widens the zero bucket of `self` to cover the zero bucket of `other` (and the other way
    /// round, on a copy), moving buckets that fall inside into the zero count. Returns the zero
    /// count `other` has with the common threshold.
    fn reconcile_zero_buckets(&mut self, other: &FloatHistogram) -> f64 {
        let mut other_zero_count = other.zero_count;
        let mut other_threshold = other.zero_threshold;
        // Each round widens one of the two thresholds; bucket bounds are finite in number, so
        // this ends. The cap guards against NaN thresholds, which never compare equal.
        for _ in 0..4096 {
            if other_threshold == self.zero_threshold
                || other_threshold.is_nan()
                || self.zero_threshold.is_nan()
            {
                break;
            }
            if self.zero_threshold > other_threshold {
                (other_zero_count, other_threshold) =
                    other.zero_count_for_larger_threshold(self.zero_threshold);
            }
            if other_threshold > self.zero_threshold {
                (self.zero_count, self.zero_threshold) =
                    self.zero_count_for_larger_threshold(other_threshold);
                self.trim_buckets_in_zero_bucket();
            }
        }
        other_zero_count
    }

    /// The zero count this histogram would have with a zero bucket of at least `larger`
    /// half-width, and the threshold actually needed (raised to the upper bound of a populated
    /// bucket the threshold would cut through).
    pub(super) fn zero_count_for_larger_threshold(&self, larger: f64) -> (f64, f64) {
        let mut threshold = larger;
        if threshold == self.zero_threshold {
            return (self.zero_count, threshold);
        }
        'outer: loop {
            let mut count = self.zero_count;
            for (index, b) in self.buckets_with_index(true) {
                let (lower, upper) =
                    (exponential_bound(index - 1, self.schema), exponential_bound(index, self.schema));
                if lower >= threshold {
                    break;
                }
                count += b;
                if upper > threshold {
                    if b != 0.0 {
                        threshold = upper;
                    }
                    break;
                }
            }
            for (index, b) in self.buckets_with_index(false) {
                let (lower, upper) =
                    (-exponential_bound(index, self.schema), -exponential_bound(index - 1, self.schema));
                if upper <= -threshold {
                    break;
                }
                count += b;
                if lower < -threshold {
                    if b != 0.0 {
                        threshold = -lower;
                        continue 'outer;
                    }
                    break;
                }
            }
            return (count, threshold);
        }
    }

    /// Drops the buckets that now lie inside the zero bucket (their counts already moved there).
    fn trim_buckets_in_zero_bucket(&mut self) {
        let (schema, threshold) = (self.schema, self.zero_threshold);
        let inside: Vec<usize> = self
            .buckets_with_index(true)
            .enumerate()
            .take_while(|(_, (index, _))| exponential_bound(index - 1, schema) < threshold)
            .map(|(i, _)| i)
            .collect();
        for i in inside {
            self.positive_buckets[i] = 0.0;
        }
        let inside: Vec<usize> = self
            .buckets_with_index(false)
            .enumerate()
            .take_while(|(_, (index, _))| -exponential_bound(index - 1, schema) > -threshold)
            .map(|(i, _)| i)
            .collect();
        for i in inside {
            self.negative_buckets[i] = 0.0;
        }
        self.compact(0);
    }

    /// Bucket indices and counts of one sign, in order.
    pub(super) fn buckets_with_index(&self, positive: bool) -> impl Iterator<Item = (i64, f64)> + '_ {
        let (spans, buckets) = if positive {
            (&self.positive_spans, &self.positive_buckets)
        } else {
            (&self.negative_spans, &self.negative_buckets)
        };
        let mut index: i64 = 0;
        let mut counts = buckets.iter();
        spans.iter().enumerate().flat_map(move |(n, span)| {
            index = if n == 0 { i64::from(span.offset) } else { index + i64::from(span.offset) };
            let start = index;
            index += i64::from(span.length);
            let taken: Vec<(i64, f64)> =
                (0..i64::from(span.length)).zip(counts.by_ref()).map(|(i, &c)| (start + i, c)).collect();
            taken
        })
    }

    /// Custom-bucket histograms with different bounds: both are mapped onto the bounds they share
    /// (each bucket goes to the first shared bound at or above its own), empty buckets dropped.
    fn add_with_mismatched_bounds(&mut self, other: &FloatHistogram, negate: bool) {
        let shared: Vec<f64> = intersect_bounds(&self.custom_values, &other.custom_values);
        let mut sums = vec![0.0f64; shared.len() + 1];
        let mut compensation = vec![0.0f64; shared.len() + 1];
        let mut map = |h: &FloatHistogram, negate: bool| {
            let mut search = 0usize;
            for (index, count) in h.buckets_with_index(true) {
                let mut target = shared.len();
                if let Some(&bound) = usize::try_from(index).ok().and_then(|i| h.custom_values.get(i)) {
                    while search < shared.len() {
                        if shared[search] >= bound {
                            target = search;
                            break;
                        }
                        search += 1;
                    }
                }
                let inc = if negate { -count } else { count };
                (sums[target], compensation[target]) = kahan_inc(inc, sums[target], compensation[target]);
            }
        };
        let this = self.clone();
        map(&this, false);
        map(other, negate);
        let mut runs: Vec<Run> = Vec::new();
        for (i, (&s, &c)) in sums.iter().zip(&compensation).enumerate() {
            if s == 0.0 && c == 0.0 {
                continue;
            }
            let i = i as i64;
            match runs.last_mut() {
                Some(r) if r.start + r.counts.len() as i64 == i => r.counts.push(s),
                _ => runs.push(Run { start: i, counts: vec![s] }),
            }
        }
        (self.positive_spans, self.positive_buckets) = layout::from_runs(runs);
        self.custom_values = shared;
    }
}

fn bounds_match(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x == y)
}

/// The bounds `a` and `b` share, both sorted ascending.
pub(super) fn intersect_bounds(a: &[f64], b: &[f64]) -> Vec<f64> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < a.len() && j < b.len() {
        if a[i] == b[j] {
            out.push(a[i]);
            i += 1;
            j += 1;
        } else if a[i] < b[j] {
            i += 1;
        } else {
            j += 1;
        }
    }
    out
}

fn is_exponential_schema(schema: i32) -> bool {
    (super::EXPONENTIAL_SCHEMA_MIN..=super::EXPONENTIAL_SCHEMA_MAX).contains(&schema)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::BucketSpan;

    #[test]
    fn add_reduces_to_the_coarser_schema() {
        let mut a = FloatHistogram {
            positive_spans: vec![BucketSpan::new(0, 1)],
            positive_buckets: vec![5.0],
            ..FloatHistogram::default()
        };
        let b = FloatHistogram {
            schema: 1,
            positive_spans: vec![BucketSpan::new(0, 2)],
            positive_buckets: vec![1.0, 2.0],
            ..FloatHistogram::default()
        };
        assert!(a.add(&b).is_ok());
        assert_eq!(a.positive_spans, vec![BucketSpan::new(0, 2)]);
        assert_eq!(a.positive_buckets, vec![6.0, 2.0]);
    }

    #[test]
    fn zero_buckets_widen() {
        let mut a = FloatHistogram {
            zero_threshold: 0.001,
            zero_count: 1.0,
            positive_spans: vec![BucketSpan::new(-1, 2)],
            positive_buckets: vec![1.0, 2.0],
            ..FloatHistogram::default()
        };
        let b = FloatHistogram { zero_threshold: 0.5, zero_count: 3.0, ..FloatHistogram::default() };
        assert!(a.add(&b).is_ok());
        assert_eq!(a.zero_threshold, 0.5);
        // Bucket -1, (0.25, 0.5], moves into the zero bucket.
        assert_eq!(a.zero_count, 5.0);
        assert_eq!(a.positive_spans, vec![BucketSpan::new(0, 1)]);
        assert_eq!(a.positive_buckets, vec![2.0]);
    }
}
