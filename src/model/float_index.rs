//! [`FloatIndex`]: facts about a run of float points that let windows over it be evaluated
//! without a pass over each window: where the staleness markers and counter resets are, and
//! running counts of value changes.

use super::{FPoint, is_stale_nan};

/// Points between two running-count marks of value changes: counting the changes of a window
/// costs at most two scans of this many pairs, and the marks take 4 bytes per this many points.
pub const CHANGE_STRIDE: usize = 128;

/// An index of a float point sequence, built in one pass or point by point as points are
/// appended. Positions are indexes into the indexed sequence.
///
/// ```
/// use ferroprom::model::{FPoint, FloatIndex, STALE_NAN};
///
/// let points: Vec<FPoint> =
///     [1.0, 3.0, 2.0, 2.0, STALE_NAN].iter().enumerate().map(|(i, &f)| FPoint { t: i as i64, f }).collect();
/// let ix = FloatIndex::build(&points);
/// assert_eq!(ix.resets_in(0, 5), [2]);
/// assert_eq!(ix.changes_in(&points, 0, 0, 4), 2);
/// assert!(ix.has_stale(3, 5) && !ix.has_stale(0, 4));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FloatIndex {
    /// Positions of staleness markers, ascending.
    stale: Vec<u32>,
    /// Positions `i` where `f[i] < f[i - 1]`, ascending.
    resets: Vec<u32>,
    /// `changes[k]`: value changes among the pairs `(i - 1, i)` with `i <= k * CHANGE_STRIDE`.
    changes: Vec<u32>,
    /// Value changes among all pairs indexed so far.
    total_changes: u32,
    /// The number of points indexed.
    len: usize,
}

/// Whether `cur` differs from `prev` (NaN to NaN is no change).
fn changed(prev: f64, cur: f64) -> bool {
    cur != prev && !(cur.is_nan() && prev.is_nan())
}

/// The value changes among the pairs of `points`, counted without branches (they would
/// mispredict on a changing series).
fn count_changes(points: &[FPoint]) -> u32 {
    points.windows(2).map(|w| u32::from(changed(w[0].f, w[1].f))).sum()
}

impl FloatIndex {
    /// The index of `points`.
    pub fn build(points: &[FPoint]) -> FloatIndex {
        let mut ix = FloatIndex::default();
        let mut prev = None;
        for p in points {
            ix.push(prev, p);
            prev = Some(p);
        }
        ix
    }

    /// Indexes one more point `p`, appended after `prev` (the previously indexed point, `None`
    /// for the first).
    pub fn push(&mut self, prev: Option<&FPoint>, p: &FPoint) {
        // Positions are u32 as in the evaluator's indexes; beyond that the index stops growing
        // marks and readers fall back to scanning (see `covers`).
        let Ok(i) = u32::try_from(self.len) else { return };
        if is_stale_nan(p.f) {
            self.stale.push(i);
        }
        if let Some(q) = prev {
            if p.f < q.f {
                self.resets.push(i);
            }
            self.total_changes += u32::from(changed(q.f, p.f));
        }
        if self.len.is_multiple_of(CHANGE_STRIDE) {
            self.changes.push(self.total_changes);
        }
        self.len += 1;
    }

    /// Whether the index describes exactly `n` points (an index that stopped growing does not).
    pub fn covers(&self, n: usize) -> bool {
        self.len == n
    }

    /// Positions in `lo..hi` of a list, as a slice of it.
    fn between(list: &[u32], lo: usize, hi: usize) -> &[u32] {
        let a = list.partition_point(|&r| (r as usize) < lo);
        let b = list.partition_point(|&r| (r as usize) < hi);
        list.get(a..b.max(a)).unwrap_or(&[])
    }

    /// Whether a staleness marker lies at a position in `a..b`.
    pub fn has_stale(&self, a: usize, b: usize) -> bool {
        !FloatIndex::between(&self.stale, a, b).is_empty()
    }

    /// The counter resets strictly inside the window `a..b` (positions `i` with `a < i < b`).
    pub fn resets_in(&self, a: usize, b: usize) -> &[u32] {
        FloatIndex::between(&self.resets, a + 1, b)
    }

    /// The value changes inside the window `a..b` (pairs `(i - 1, i)` with `a < i < b`).
    /// `points` holds the indexed points from position `base` on and must cover `a..b`: only
    /// the parts of the window between marks are scanned.
    pub fn changes_in(&self, points: &[FPoint], base: usize, a: usize, b: usize) -> u32 {
        let local = |i: usize| i.saturating_sub(base);
        let scan = |x: usize, y: usize| count_changes(points.get(local(x)..local(y)).unwrap_or(&[]));
        if b <= a + 1 {
            return 0;
        }
        let (first, last) = (a.div_ceil(CHANGE_STRIDE), (b - 1) / CHANGE_STRIDE);
        match (self.changes.get(first), self.changes.get(last)) {
            (Some(&lo), Some(&hi)) if first < last => {
                scan(a, first * CHANGE_STRIDE + 1) + (hi - lo) + scan(last * CHANGE_STRIDE, b)
            }
            _ => scan(a, b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::STALE_NAN;

    #[test]
    fn incremental_index_matches_scans() {
        let mut v: Vec<f64> = (0..3 * CHANGE_STRIDE + 7).map(|i| ((i * 7919) % 13 / 4) as f64).collect();
        v[5] = f64::NAN;
        v[6] = f64::NAN;
        v[CHANGE_STRIDE] = STALE_NAN;
        let points: Vec<FPoint> = v.iter().enumerate().map(|(i, &f)| FPoint { t: i as i64, f }).collect();
        let ix = FloatIndex::build(&points);
        assert!(ix.covers(points.len()));
        let n = points.len();
        for a in (0..n).step_by(7).chain([CHANGE_STRIDE - 1, CHANGE_STRIDE, CHANGE_STRIDE + 1]) {
            for b in (a..=n).step_by(5).chain([n]) {
                let w = &points[a..b];
                let resets: Vec<u32> =
                    (1..w.len()).filter(|&i| w[i].f < w[i - 1].f).map(|i| (a + i) as u32).collect();
                assert_eq!(ix.resets_in(a, b), resets, "{a}..{b}");
                assert_eq!(ix.changes_in(&points, 0, a, b), count_changes(w), "{a}..{b}");
                assert_eq!(ix.changes_in(&points[a..], a, a, b), count_changes(w), "{a}..{b}");
                assert_eq!(ix.has_stale(a, b), w.iter().any(|p| is_stale_nan(p.f)), "{a}..{b}");
            }
        }
    }
}
