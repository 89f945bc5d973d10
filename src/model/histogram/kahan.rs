//! Kahan–Neumaier compensated addition of histograms (Prometheus's `FloatHistogram.KahanAdd`),
//! used by `sum`, `avg`, `sum_over_time` and `avg_over_time`.
//!
//! The compensation terms live in a second histogram with the same layout as the running sum;
//! callers add it to the sum once at the end.

use super::bounds::exponential_bound;
use super::combine::intersect_bounds;
use super::layout;
use super::{BucketSpan, Combined, FloatHistogram, HistogramError};
use crate::model::kahan_inc;

/// A run of populated bucket indices with their `(count, compensation)` pairs.
struct PairRun {
    start: i64,
    pairs: Vec<(f64, f64)>,
}

impl FloatHistogram {
    /// Adds `other` to `self` with compensated summation; the compensation histogram is created
    /// on first use (layout of `self`, zero counts) and kept in `compensation`.
    ///
    /// # Errors
    ///
    /// [`HistogramError::IncompatibleSchema`] when exactly one of the two uses custom buckets.
    pub fn kahan_add(
        &mut self,
        other: &FloatHistogram,
        compensation: &mut Option<FloatHistogram>,
    ) -> Result<Combined, HistogramError> {
        if self.uses_custom_buckets() != other.uses_custom_buckets() {
            return Err(HistogramError::IncompatibleSchema);
        }
        let mut result =
            Combined { counter_reset_collision: self.adjust_counter_reset(other), ..Combined::default() };
        let c = compensation.get_or_insert_with(|| self.new_compensation());
        if !self.uses_custom_buckets() {
            let (other_zero, other_zero_c) = self.kahan_reconcile_zero_buckets(other, c);
            (self.zero_count, c.zero_count) = kahan_inc(other_zero, self.zero_count, c.zero_count);
            (self.zero_count, c.zero_count) = kahan_inc(other_zero_c, self.zero_count, c.zero_count);
        }
        (self.count, c.count) = kahan_inc(other.count, self.count, c.count);
        (self.sum, c.sum) = kahan_inc(other.sum, self.sum, c.sum);

        if self.uses_custom_buckets() {
            if self.custom_values == other.custom_values {
                (self.positive_spans, self.positive_buckets, c.positive_buckets) = kahan_add_buckets(
                    (&self.positive_spans, &self.positive_buckets, &c.positive_buckets),
                    (&other.positive_spans, &other.positive_buckets, None),
                    None,
                );
            } else {
                result.custom_bounds_reconciled = true;
                let shared = intersect_bounds(&self.custom_values, &other.custom_values);
                (self.positive_spans, self.positive_buckets, c.positive_buckets) =
                    add_with_mismatched_bounds(self, Some(&c.positive_buckets), other, &shared);
                self.custom_values = shared.clone();
                c.custom_values = shared;
            }
            c.positive_spans = self.positive_spans.clone();
            return Ok(result);
        }

        let mut other_pos = (other.positive_spans.clone(), other.positive_buckets.clone(), None);
        let mut other_neg = (other.negative_spans.clone(), other.negative_buckets.clone(), None);
        if other.schema < self.schema {
            (self.positive_spans, self.positive_buckets, c.positive_buckets) = kahan_reduce_resolution(
                &self.positive_spans,
                &self.positive_buckets,
                &c.positive_buckets,
                self.schema,
                other.schema,
            );
            (self.negative_spans, self.negative_buckets, c.negative_buckets) = kahan_reduce_resolution(
                &self.negative_spans,
                &self.negative_buckets,
                &c.negative_buckets,
                self.schema,
                other.schema,
            );
            self.schema = other.schema;
        } else if other.schema > self.schema {
            for side in [&mut other_pos, &mut other_neg] {
                if !side.1.is_empty() {
                    let zeros = vec![0.0; side.1.len()];
                    let (s, b, cb) =
                        kahan_reduce_resolution(&side.0, &side.1, &zeros, other.schema, self.schema);
                    *side = (s, b, Some(cb));
                }
            }
        }
        let (schema, threshold) = (self.schema, self.zero_threshold);
        let in_zero_bucket = move |index: i64| exponential_bound(index, schema) <= threshold;
        (self.positive_spans, self.positive_buckets, c.positive_buckets) = kahan_add_buckets(
            (&self.positive_spans, &self.positive_buckets, &c.positive_buckets),
            (&other_pos.0, &other_pos.1, other_pos.2.as_deref()),
            Some(&in_zero_bucket),
        );
        (self.negative_spans, self.negative_buckets, c.negative_buckets) = kahan_add_buckets(
            (&self.negative_spans, &self.negative_buckets, &c.negative_buckets),
            (&other_neg.0, &other_neg.1, other_neg.2.as_deref()),
            Some(&in_zero_bucket),
        );
        c.schema = self.schema;
        c.zero_threshold = self.zero_threshold;
        c.positive_spans = self.positive_spans.clone();
        c.negative_spans = self.negative_spans.clone();
        Ok(result)
    }

    /// Whether any count, the sum, a bucket or a custom bound is infinite.
    pub fn has_overflow(&self) -> bool {
        [self.zero_count, self.count, self.sum]
            .iter()
            .chain(&self.positive_buckets)
            .chain(&self.negative_buckets)
            .chain(&self.custom_values)
            .any(|v| v.is_infinite())
    }

    fn new_compensation(&self) -> FloatHistogram {
        FloatHistogram {
            counter_reset_hint: self.counter_reset_hint,
            schema: self.schema,
            zero_threshold: self.zero_threshold,
            custom_values: self.custom_values.clone(),
            positive_spans: self.positive_spans.clone(),
            positive_buckets: vec![0.0; self.positive_buckets.len()],
            negative_spans: self.negative_spans.clone(),
            negative_buckets: if self.uses_custom_buckets() {
                Vec::new()
            } else {
                vec![0.0; self.negative_buckets.len()]
            },
            ..FloatHistogram::default()
        }
    }

    /// Like the zero-bucket reconciliation of [`FloatHistogram::add`], carrying compensations:
    /// returns the zero count of `other` at the common threshold and its compensation.
    fn kahan_reconcile_zero_buckets(&mut self, other: &FloatHistogram, c: &mut FloatHistogram) -> (f64, f64) {
        let (mut other_zero, mut other_threshold, mut other_zero_c) =
            (other.zero_count, other.zero_threshold, 0.0);
        for _ in 0..4096 {
            if other_threshold == self.zero_threshold
                || other_threshold.is_nan()
                || self.zero_threshold.is_nan()
            {
                break;
            }
            if self.zero_threshold > other_threshold {
                (other_zero, other_threshold, other_zero_c) =
                    other.kahan_zero_count_for_larger_threshold(self.zero_threshold, None);
            }
            if other_threshold > self.zero_threshold {
                let (z, t, cz) = self.kahan_zero_count_for_larger_threshold(other_threshold, Some(c));
                (self.zero_count, self.zero_threshold, c.zero_count) = (z, t, cz);
                self.kahan_trim_buckets_in_zero_bucket(c);
            }
        }
        (other_zero, other_zero_c)
    }

    /// The zero count (with compensation) for a zero bucket of at least `larger` half-width, and
    /// the threshold actually needed.
    fn kahan_zero_count_for_larger_threshold(
        &self,
        larger: f64,
        c: Option<&FloatHistogram>,
    ) -> (f64, f64, f64) {
        let mut threshold = larger;
        // As upstream, the compensation is not restarted when the threshold has to be raised.
        let mut cz = c.map_or(0.0, |c| c.zero_count);
        if threshold == self.zero_threshold {
            return (self.zero_count, threshold, cz);
        }
        let comp = |positive: bool, i: usize| -> f64 {
            c.and_then(|c| if positive { c.positive_buckets.get(i) } else { c.negative_buckets.get(i) })
                .copied()
                .unwrap_or(0.0)
        };
        'outer: loop {
            let mut z = self.zero_count;
            for (i, (index, b)) in self.buckets_with_index(true).enumerate() {
                let (lower, upper) =
                    (exponential_bound(index - 1, self.schema), exponential_bound(index, self.schema));
                if lower >= threshold {
                    break;
                }
                (z, cz) = kahan_inc(b, z, cz);
                if c.is_some() {
                    (z, cz) = kahan_inc(comp(true, i), z, cz);
                }
                if upper > threshold {
                    if b != 0.0 {
                        threshold = upper;
                    }
                    break;
                }
            }
            for (i, (index, b)) in self.buckets_with_index(false).enumerate() {
                let (lower, upper) =
                    (-exponential_bound(index, self.schema), -exponential_bound(index - 1, self.schema));
                if upper <= -threshold {
                    break;
                }
                (z, cz) = kahan_inc(b, z, cz);
                if c.is_some() {
                    (z, cz) = kahan_inc(comp(false, i), z, cz);
                }
                if lower < -threshold {
                    if b != 0.0 {
                        threshold = -lower;
                        continue 'outer;
                    }
                    break;
                }
            }
            return (z, threshold, cz);
        }
    }

    /// Drops buckets (and their compensations) that now lie in the zero bucket.
    fn kahan_trim_buckets_in_zero_bucket(&mut self, c: &mut FloatHistogram) {
        let (schema, threshold) = (self.schema, self.zero_threshold);
        let inside: Vec<usize> = self
            .buckets_with_index(true)
            .enumerate()
            .take_while(|(_, (index, _))| exponential_bound(index - 1, schema) < threshold)
            .map(|(i, _)| i)
            .collect();
        for i in inside {
            self.positive_buckets[i] = 0.0;
            if let Some(b) = c.positive_buckets.get_mut(i) {
                *b = 0.0;
            }
        }
        let inside: Vec<usize> = self
            .buckets_with_index(false)
            .enumerate()
            .take_while(|(_, (index, _))| -exponential_bound(index - 1, schema) > -threshold)
            .map(|(i, _)| i)
            .collect();
        for i in inside {
            self.negative_buckets[i] = 0.0;
            if let Some(b) = c.negative_buckets.get_mut(i) {
                *b = 0.0;
            }
        }
        compact_pairs(&mut self.positive_spans, &mut self.positive_buckets, &mut c.positive_buckets);
        compact_pairs(&mut self.negative_spans, &mut self.negative_buckets, &mut c.negative_buckets);
        c.positive_spans = self.positive_spans.clone();
        c.negative_spans = self.negative_spans.clone();
    }
}

/// Compacts (no empty buckets kept) a layout whose buckets carry compensations; a bucket is
/// empty only when its count and compensation are both 0.
fn compact_pairs(spans: &mut Vec<BucketSpan>, buckets: &mut Vec<f64>, comps: &mut Vec<f64>) {
    // Compact a list of markers (position + 1, or 0 for empty) and map the survivors back.
    let mut markers: Vec<f64> = buckets
        .iter()
        .enumerate()
        .map(|(i, &b)| if b == 0.0 && comps.get(i).is_none_or(|&c| c == 0.0) { 0.0 } else { (i + 1) as f64 })
        .collect();
    layout::compact(spans, &mut markers, 0);
    let (old_b, old_c) = (std::mem::take(buckets), std::mem::take(comps));
    for m in markers {
        let i = (m as usize).saturating_sub(1);
        buckets.push(old_b.get(i).copied().unwrap_or(0.0));
        comps.push(old_c.get(i).copied().unwrap_or(0.0));
    }
}

fn to_pair_runs(spans: &[BucketSpan], buckets: &[f64], comps: Option<&[f64]>) -> Vec<PairRun> {
    let mut runs = Vec::with_capacity(spans.len());
    let (mut index, mut next) = (0i64, 0usize);
    for (i, span) in spans.iter().enumerate() {
        index = if i == 0 { i64::from(span.offset) } else { index + i64::from(span.offset) };
        let end = next.saturating_add(span.length as usize).min(buckets.len());
        let pairs = (next.min(end)..end)
            .map(|k| (buckets[k], comps.and_then(|c| c.get(k)).copied().unwrap_or(0.0)))
            .collect();
        runs.push(PairRun { start: index, pairs });
        index += i64::from(span.length);
        next = end;
    }
    runs
}

fn from_pair_runs(runs: Vec<PairRun>) -> (Vec<BucketSpan>, Vec<f64>, Vec<f64>) {
    let (mut spans, mut buckets, mut comps) = (Vec::with_capacity(runs.len()), Vec::new(), Vec::new());
    let mut end: Option<i64> = None;
    for run in runs {
        let offset = end.map_or(run.start, |e| run.start - e);
        spans.push(BucketSpan { offset: offset as i32, length: run.pairs.len() as u32 });
        end = Some(run.start + run.pairs.len() as i64);
        for (b, c) in run.pairs {
            buckets.push(b);
            comps.push(c);
        }
    }
    (spans, buckets, comps)
}

/// One side's layout, counts and (optional) compensations.
type Side<'a> = (&'a [BucketSpan], &'a [f64], Option<&'a [f64]>);

/// Prometheus's `kahanAddBuckets`: adds `b` (with its compensations) into `a`, inserting the
/// buckets `a` lacks as `addBuckets` does; leading buckets of `b` inside the zero bucket are
/// left out.
fn kahan_add_buckets(
    a: (&[BucketSpan], &[f64], &[f64]),
    b: Side<'_>,
    skip_at_or_below: Option<&dyn Fn(i64) -> bool>,
) -> (Vec<BucketSpan>, Vec<f64>, Vec<f64>) {
    let mut runs = to_pair_runs(a.0, a.1, Some(a.2));
    let mut leading = true;
    for run in to_pair_runs(b.0, b.1, b.2) {
        for (i, &(value, comp)) in run.pairs.iter().enumerate() {
            let index = run.start + i as i64;
            if leading && skip_at_or_below.is_some_and(|skip| skip(index)) {
                continue;
            }
            leading = false;
            insert_pair(&mut runs, index, value, comp);
        }
    }
    from_pair_runs(runs)
}

fn insert_pair(runs: &mut Vec<PairRun>, index: i64, value: f64, comp: f64) {
    let add = |slot: &mut (f64, f64)| {
        let (mut v, mut c) = kahan_inc(value, slot.0, slot.1);
        if comp != 0.0 {
            (v, c) = kahan_inc(comp, v, c);
        }
        *slot = (v, c);
    };
    let next = runs.partition_point(|r| r.start <= index);
    if next > 0 {
        let prev = &mut runs[next - 1];
        let end = prev.start + prev.pairs.len() as i64;
        if index < end {
            add(&mut prev.pairs[(index - prev.start) as usize]);
            return;
        }
        if index == end {
            prev.pairs.push((value, comp));
            return;
        }
    }
    if let Some(following) = runs.get_mut(next)
        && following.start == index + 1
    {
        following.start = index;
        following.pairs.insert(0, (value, comp));
        return;
    }
    runs.insert(next, PairRun { start: index, pairs: vec![(value, comp)] });
}

/// Prometheus's `kahanReduceResolution`: merges buckets into the coarser `target` schema,
/// summing counts and compensations with compensation.
fn kahan_reduce_resolution(
    spans: &[BucketSpan],
    buckets: &[f64],
    comps: &[f64],
    origin: i32,
    target: i32,
) -> (Vec<BucketSpan>, Vec<f64>, Vec<f64>) {
    let mut runs: Vec<PairRun> = Vec::new();
    let mut last: Option<i64> = None;
    for run in to_pair_runs(spans, buckets, Some(comps)) {
        for (i, &(value, comp)) in run.pairs.iter().enumerate() {
            let t = layout::target_index(run.start + i as i64, origin, target);
            match (last, runs.last_mut()) {
                (Some(l), Some(r)) if t == l => {
                    if let Some(slot) = r.pairs.last_mut() {
                        let (v, c) = kahan_inc(value, slot.0, slot.1);
                        *slot = kahan_inc(comp, v, c);
                    }
                }
                (Some(l), Some(r)) if t == l + 1 => r.pairs.push((value, comp)),
                _ => runs.push(PairRun { start: t, pairs: vec![(value, comp)] }),
            }
            last = Some(t);
        }
    }
    from_pair_runs(runs)
}

/// Custom-bucket histograms with different bounds, mapped onto the `shared` bounds with
/// compensated sums (the compensations of `a` are folded in); empty buckets dropped.
fn add_with_mismatched_bounds(
    a: &FloatHistogram,
    a_comps: Option<&[f64]>,
    b: &FloatHistogram,
    shared: &[f64],
) -> (Vec<BucketSpan>, Vec<f64>, Vec<f64>) {
    let mut sums = vec![0.0f64; shared.len() + 1];
    let mut comps = vec![0.0f64; shared.len() + 1];
    let mut map = |h: &FloatHistogram, extra: Option<&[f64]>| {
        let mut search = 0usize;
        for (k, (index, count)) in h.buckets_with_index(true).enumerate() {
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
            (sums[target], comps[target]) = kahan_inc(count, sums[target], comps[target]);
            if let Some(extra) = extra {
                let e = extra.get(k).copied().unwrap_or(0.0);
                (sums[target], comps[target]) = kahan_inc(e, sums[target], comps[target]);
            }
        }
    };
    map(a, a_comps);
    map(b, None);
    let mut runs: Vec<PairRun> = Vec::new();
    for (i, (&s, &c)) in sums.iter().zip(&comps).enumerate() {
        if s == 0.0 && c == 0.0 {
            continue;
        }
        let i = i as i64;
        match runs.last_mut() {
            Some(r) if r.start + r.pairs.len() as i64 == i => r.pairs.push((s, c)),
            _ => runs.push(PairRun { start: i, pairs: vec![(s, c)] }),
        }
    }
    from_pair_runs(runs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compensation_recovers_absorbed_values() {
        let h = |sum: f64| FloatHistogram { count: 1.0, sum, ..FloatHistogram::default() };
        let mut acc = h(1.0);
        let mut c = None;
        for s in [1e100, 1.0, -1e100] {
            assert!(acc.kahan_add(&h(s), &mut c).is_ok());
        }
        let comp = c.unwrap_or_default();
        assert!(acc.add(&comp).is_ok());
        assert_eq!(acc.sum, 2.0);
        assert_eq!(acc.count, 4.0);
    }

    #[test]
    fn finer_other_is_reduced() {
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
        let mut c = None;
        assert!(a.kahan_add(&b, &mut c).is_ok());
        assert_eq!(a.positive_spans, vec![BucketSpan::new(0, 2)]);
        assert_eq!(a.positive_buckets, vec![6.0, 2.0]);
        assert_eq!(c.map(|c| c.positive_buckets), Some(vec![0.0, 0.0]));
    }
}
