//! Quantiles over sample values (`quantile`, `quantile_over_time`) and over classic histogram
//! buckets (`histogram_quantile`).

use std::cmp::Ordering;

/// The tolerance under which bucket counts that differ only by float noise are treated as equal.
const SMALL_DELTA_TOLERANCE: f64 = 1e-12;

/// Sorts ascending with NaN first, as Prometheus's `vectorByValueHeap`.
fn nan_first(a: &f64, b: &f64) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ => a.partial_cmp(b).unwrap_or(Ordering::Equal),
    }
}

/// The φ-quantile of `values` by linear interpolation between closest ranks (Prometheus's
/// `quantile`); sorts `values` in place.
pub fn quantile(q: f64, values: &mut [f64]) -> f64 {
    if values.is_empty() || q.is_nan() {
        return f64::NAN;
    }
    if q < 0.0 {
        return f64::NEG_INFINITY;
    }
    if q > 1.0 {
        return f64::INFINITY;
    }
    values.sort_by(nan_first);
    let n = values.len() as f64;
    let rank = q * (n - 1.0);
    let lower = rank.floor().max(0.0);
    let upper = (n - 1.0).min(lower + 1.0);
    let weight = rank - rank.floor();
    values[lower as usize] * (1.0 - weight) + values[upper as usize] * weight
}

/// One classic histogram bucket: its upper bound (`le`) and cumulative count.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    /// The upper bound.
    pub upper_bound: f64,
    /// The cumulative count.
    pub count: f64,
}

/// The result of [`bucket_quantile`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BucketQuantile {
    /// The estimated quantile.
    pub value: f64,
    /// Whether bucket counts had to be raised to make them monotonic.
    pub forced_monotonic: bool,
    /// The smallest upper bound of a fixed bucket.
    pub min_bucket: f64,
    /// The largest upper bound of a fixed bucket.
    pub max_bucket: f64,
    /// The largest amount a count was raised by.
    pub max_diff: f64,
}

fn almost_equal(a: f64, b: f64, epsilon: f64) -> bool {
    const MIN_NORMAL: f64 = 2.2250738585072014e-308;
    if a == b {
        return true;
    }
    let abs_sum = a.abs() + b.abs();
    let diff = (a - b).abs();
    if a == 0.0 || b == 0.0 || abs_sum < MIN_NORMAL {
        return diff < epsilon * MIN_NORMAL;
    }
    diff / abs_sum.min(f64::MAX) < epsilon
}

/// The q-quantile of a classic histogram given by its buckets (Prometheus's `BucketQuantile`):
/// buckets are sorted, equal bounds merged, counts forced monotonic, then interpolated linearly.
pub fn bucket_quantile(q: f64, buckets: &mut Vec<Bucket>) -> BucketQuantile {
    let mut out = BucketQuantile {
        value: f64::NAN,
        forced_monotonic: false,
        min_bucket: f64::INFINITY,
        max_bucket: f64::NEG_INFINITY,
        max_diff: 0.0,
    };
    if q.is_nan() {
        return out;
    }
    if q < 0.0 {
        out.value = f64::NEG_INFINITY;
        return out;
    }
    if q > 1.0 {
        out.value = f64::INFINITY;
        return out;
    }
    buckets.sort_by(|a, b| a.upper_bound.partial_cmp(&b.upper_bound).unwrap_or(Ordering::Equal));
    match buckets.last() {
        Some(b) if b.upper_bound == f64::INFINITY => {}
        _ => return out,
    }
    // Merge buckets with the same upper bound.
    let mut merged: Vec<Bucket> = Vec::with_capacity(buckets.len());
    for b in buckets.iter() {
        match merged.last_mut() {
            Some(last) if last.upper_bound == b.upper_bound => last.count += b.count,
            _ => merged.push(*b),
        }
    }
    *buckets = merged;
    // Force monotonicity, ignoring tiny deltas.
    let mut prev = buckets[0].count;
    for b in buckets.iter_mut().skip(1) {
        let curr = b.count;
        if curr == prev {
            continue;
        }
        if almost_equal(prev, curr, SMALL_DELTA_TOLERANCE) {
            b.count = prev;
            continue;
        }
        if curr < prev {
            b.count = prev;
            out.forced_monotonic = true;
            if b.upper_bound < out.min_bucket {
                out.min_bucket = b.upper_bound;
            }
            if b.upper_bound > out.max_bucket {
                out.max_bucket = b.upper_bound;
            }
            if prev - curr > out.max_diff {
                out.max_diff = prev - curr;
            }
            continue;
        }
        prev = curr;
    }
    if buckets.len() < 2 {
        return out;
    }
    let n = buckets.len();
    let observations = buckets[n - 1].count;
    if observations == 0.0 {
        return out;
    }
    let mut rank = q * observations;
    let b = buckets[..n - 1].partition_point(|bk| bk.count < rank);
    out.value = if b == n - 1 {
        buckets[n - 2].upper_bound
    } else if b == 0 && buckets[0].upper_bound <= 0.0 {
        buckets[0].upper_bound
    } else {
        let mut bucket_start = 0.0;
        let bucket_end = buckets[b].upper_bound;
        let mut count = buckets[b].count;
        if b > 0 {
            bucket_start = buckets[b - 1].upper_bound;
            count -= buckets[b - 1].count;
            rank -= buckets[b - 1].count;
        }
        bucket_start + (bucket_end - bucket_start) * (rank / count)
    };
    out
}

/// The fraction of observations between `lower` and `upper` in a classic histogram given by its
/// buckets (Prometheus's `BucketFraction`), interpolating linearly inside buckets.
pub fn bucket_fraction(lower: f64, upper: f64, buckets: &mut [Bucket]) -> f64 {
    buckets.sort_by(|a, b| a.upper_bound.partial_cmp(&b.upper_bound).unwrap_or(Ordering::Equal));
    match buckets.last() {
        Some(b) if b.upper_bound == f64::INFINITY => {}
        _ => return f64::NAN,
    }
    let mut merged: Vec<Bucket> = Vec::with_capacity(buckets.len());
    for b in buckets.iter() {
        match merged.last_mut() {
            Some(last) if last.upper_bound == b.upper_bound => last.count += b.count,
            _ => merged.push(*b),
        }
    }
    let buckets = merged;
    let count = buckets[buckets.len() - 1].count;
    if count == 0.0 || lower.is_nan() || upper.is_nan() {
        return f64::NAN;
    }
    if lower >= upper {
        return 0.0;
    }
    let (mut rank, mut lower_rank, mut upper_rank) = (0.0, 0.0, 0.0);
    let (mut lower_set, mut upper_set) = (false, false);
    let mut lower_bound = if buckets[0].upper_bound <= 0.0 { f64::NEG_INFINITY } else { 0.0 };
    for (i, b) in buckets.iter().enumerate() {
        if i > 0 {
            lower_bound = buckets[i - 1].upper_bound;
        }
        let upper_bound = b.upper_bound;
        let interpolate = |v: f64, rank: f64| {
            if lower_bound == f64::NEG_INFINITY {
                b.count
            } else {
                rank + (b.count - rank) * (v - lower_bound) / (upper_bound - lower_bound)
            }
        };
        if !lower_set && lower_bound >= lower {
            lower_rank = rank;
            lower_set = true;
        }
        if !upper_set && lower_bound >= upper {
            upper_rank = rank;
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        if !lower_set && lower_bound < lower && upper_bound > lower {
            lower_rank = interpolate(lower, rank);
            lower_set = true;
        }
        if !upper_set && lower_bound < upper && upper_bound > upper {
            upper_rank = interpolate(upper, rank);
            upper_set = true;
        }
        if lower_set && upper_set {
            break;
        }
        rank = b.count;
    }
    if !lower_set || lower_rank > count {
        lower_rank = count;
    }
    if !upper_set || upper_rank > count {
        upper_rank = count;
    }
    (upper_rank - lower_rank) / count
}
