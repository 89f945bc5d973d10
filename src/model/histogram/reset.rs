//! Counter-reset detection between two consecutive samples of a histogram counter, as
//! Prometheus's `FloatHistogram.DetectReset` decides it, and copying to a coarser schema.

use super::bounds::exponential_bound;
use super::layout;
use super::{CounterResetHint, FloatHistogram};

impl FloatHistogram {
    /// Whether `self` follows a counter reset after `previous`.
    ///
    /// An explicit `CounterReset`/`NotCounterReset` hint decides. Otherwise a reset is seen when any
    /// count (total, zero bucket, any bucket; not the sum) went down or a populated bucket of
    /// `previous` vanished, after bringing `previous` to the schema and zero bucket of `self`. A
    /// finer schema, a narrower zero bucket or a switch to custom buckets can only come with a
    /// reset.
    pub fn detect_reset(&self, previous: &FloatHistogram) -> bool {
        match self.counter_reset_hint {
            CounterResetHint::CounterReset => return true,
            CounterResetHint::NotCounterReset => return false,
            CounterResetHint::Unknown | CounterResetHint::Gauge => {}
        }
        if self.count < previous.count {
            return true;
        }
        if self.uses_custom_buckets() {
            if !previous.uses_custom_buckets() {
                return true;
            }
            if self.custom_values != previous.custom_values {
                return self.reset_with_mismatched_bounds(previous);
            }
        } else if previous.uses_custom_buckets() {
            // Upstream iterates the custom buckets as if they were exponential ones; there is no
            // meaningful comparison, and a schema change comes with a reset.
            return true;
        }
        if self.schema > previous.schema {
            return true;
        }
        if self.zero_threshold < previous.zero_threshold {
            return true;
        }
        let (previous_zero_count, threshold) = previous.zero_count_for_larger_threshold(self.zero_threshold);
        if threshold != self.zero_threshold {
            return true;
        }
        if self.zero_count < previous_zero_count {
            return true;
        }
        for positive in [true, false] {
            let current = self.merged_buckets(positive, self.zero_threshold, self.schema);
            let before = previous.merged_buckets(positive, self.zero_threshold, self.schema);
            if buckets_reset(&current, &before) {
                return true;
            }
        }
        false
    }

    /// The buckets of one sign as `(index, count)` in `target` schema (at most the own schema),
    /// merging the buckets that fall together, and, for exponential schemas, leaving out the
    /// leading buckets whose upper bound is at most `absolute_start` (Prometheus's
    /// `floatBucketIterator`).
    fn merged_buckets(&self, positive: bool, absolute_start: f64, target: i32) -> Vec<(i64, f64)> {
        let mut out: Vec<(i64, f64)> = Vec::new();
        let custom = self.uses_custom_buckets();
        for (index, count) in self.buckets_with_index(positive) {
            let t = if custom { index } else { layout::target_index(index, self.schema, target) };
            match out.last_mut() {
                Some(last) if last.0 == t => last.1 += count,
                _ => out.push((t, count)),
            }
        }
        if !custom && absolute_start != 0.0 {
            let skip =
                out.iter().take_while(|(i, _)| exponential_bound(*i, target) <= absolute_start).count();
            out.drain(..skip);
        }
        out
    }

    /// Custom-bucket histograms with different bounds: compares the cumulative counts at every
    /// bound both share.
    fn reset_with_mismatched_bounds(&self, previous: &FloatHistogram) -> bool {
        let with_bounds = |h: &FloatHistogram| -> Vec<(f64, f64)> {
            h.buckets_with_index(true)
                .map(|(i, c)| {
                    let upper = usize::try_from(i)
                        .ok()
                        .and_then(|i| h.custom_values.get(i))
                        .copied()
                        .unwrap_or(f64::INFINITY);
                    (upper, c)
                })
                .collect()
        };
        let (cur, prev) = (with_bounds(self), with_bounds(previous));
        let (mut ci, mut pi) = (0usize, 0usize);
        let roll_up = |buckets: &[(f64, f64)], pos: &mut usize, bound: f64| -> f64 {
            let mut sum = 0.0;
            while let Some(&(upper, count)) = buckets.get(*pos) {
                if upper > bound {
                    break;
                }
                sum += count;
                *pos += 1;
            }
            sum
        };
        let (cb, pb) = (&self.custom_values, &previous.custom_values);
        let (mut i, mut j) = (0usize, 0usize);
        while i <= cb.len() && j <= pb.len() {
            let c = cb.get(i).copied().unwrap_or(f64::INFINITY);
            let p = pb.get(j).copied().unwrap_or(f64::INFINITY);
            if c == p {
                if roll_up(&cur, &mut ci, c) < roll_up(&prev, &mut pi, c) {
                    return true;
                }
                i += 1;
                j += 1;
            } else if c < p {
                i += 1;
            } else {
                j += 1;
            }
        }
        false
    }

    /// A copy in the coarser exponential `target` schema (buckets merged). Histograms with custom
    /// buckets, and targets not coarser than the own schema, are copied unchanged.
    pub fn copy_to_schema(&self, target: i32) -> FloatHistogram {
        if target >= self.schema || self.uses_custom_buckets() {
            return self.clone();
        }
        let (positive_spans, positive_buckets) =
            layout::reduce_resolution(&self.positive_spans, &self.positive_buckets, self.schema, target);
        let (negative_spans, negative_buckets) =
            layout::reduce_resolution(&self.negative_spans, &self.negative_buckets, self.schema, target);
        FloatHistogram {
            counter_reset_hint: CounterResetHint::Unknown,
            schema: target,
            zero_threshold: self.zero_threshold,
            zero_count: self.zero_count,
            count: self.count,
            sum: self.sum,
            positive_spans,
            negative_spans,
            positive_buckets,
            negative_buckets,
            custom_values: Vec::new(),
        }
    }
}

/// Prometheus's `detectReset` over two bucket lists in the same schema: a bucket count went down,
/// or a populated bucket of `previous` is missing from `current`.
fn buckets_reset(current: &[(i64, f64)], previous: &[(i64, f64)]) -> bool {
    let mut ci = 0usize;
    for &(index, count) in previous {
        while ci < current.len() && current[ci].0 < index {
            ci += 1;
        }
        match current.get(ci) {
            Some(&(i, c)) if i == index => {
                if c < count {
                    return true;
                }
            }
            _ => {
                if count != 0.0 {
                    return true;
                }
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::BucketSpan;

    fn h(schema: i32, count: f64, spans: &[(i32, u32)], buckets: &[f64]) -> FloatHistogram {
        FloatHistogram {
            schema,
            count,
            positive_spans: spans.iter().map(|&(o, l)| BucketSpan::new(o, l)).collect(),
            positive_buckets: buckets.to_vec(),
            ..FloatHistogram::default()
        }
    }

    #[test]
    fn lower_resolution_is_compared_after_merging() {
        // Schema 1 buckets 1 and 2 merge into schema-0 bucket 1.
        let prev = h(1, 3.0, &[(1, 2)], &[1.0, 2.0]);
        assert!(!h(0, 3.0, &[(1, 1)], &[3.0]).detect_reset(&prev));
        assert!(h(0, 3.0, &[(1, 1)], &[2.5]).detect_reset(&prev));
        // Finer schema: always a reset.
        assert!(prev.detect_reset(&h(0, 3.0, &[(1, 1)], &[3.0])));
    }

    #[test]
    fn missing_populated_bucket_is_a_reset() {
        let prev = h(0, 3.0, &[(0, 2)], &[1.0, 2.0]);
        assert!(h(0, 3.0, &[(1, 1)], &[3.0]).detect_reset(&prev));
        let prev = h(0, 3.0, &[(0, 2)], &[0.0, 3.0]);
        assert!(!h(0, 3.0, &[(1, 1)], &[3.0]).detect_reset(&prev));
    }

    #[test]
    fn custom_bounds_compare_cumulatively() {
        let mut prev = h(-53, 3.0, &[(0, 2)], &[1.0, 2.0]);
        prev.custom_values = vec![5.0, 10.0];
        let mut cur = h(-53, 3.0, &[(0, 1)], &[3.0]);
        cur.custom_values = vec![10.0];
        assert!(!cur.detect_reset(&prev));
        cur.positive_buckets = vec![2.0];
        cur.count = 3.0;
        assert!(cur.detect_reset(&prev));
    }
}
