//! Float range functions evaluated over sliding windows: each series is scanned once to index
//! its counter resets and value changes, then every window's answer costs O(1) plus the resets
//! inside it, instead of a pass over the window. The answers are bit-identical to
//! [`super::RangeFn::eval`]: `rate`/`increase` add the same reset corrections in the same order
//! to the same `last - first`, and `changes`/`resets` are exact counts.
//!
//! Only float-only windows without start timestamps and without `anchored`/`smoothed` use this;
//! everything else goes through [`super::RangeFn::eval_with_st`].

use crate::model::FPoint;

use super::range::extrapolate;
use super::{RangeArgs, RangeFn, RangeOutput};

/// Whether `func` has a sliding-window evaluation.
pub fn slides(func: RangeFn) -> bool {
    matches!(func, RangeFn::Rate | RangeFn::Increase | RangeFn::Delta | RangeFn::Changes | RangeFn::Resets)
}

/// Points between two running-count marks of `changes`: a window costs at most two scans of
/// this many pairs, and the marks take 4 bytes per this many points.
const CHANGE_STRIDE: usize = 128;

/// The per-series index a sliding evaluation needs: positions of counter resets (`f[i] < f[i-1]`)
/// and, for `changes`, the running count of value changes at every [`CHANGE_STRIDE`]th point.
#[derive(Debug, Clone, Default)]
pub struct SlidingIndex {
    /// Indexes `i` where `f[i] < f[i - 1]`, ascending.
    resets: Vec<u32>,
    /// `changes[k]`: value changes among the pairs `(i - 1, i)` with `i <= k * CHANGE_STRIDE`
    /// (only for `changes`).
    changes: Vec<u32>,
}

/// Whether the pair `w[0], w[1]` is a value change (NaN to NaN is none).
fn changed(w: &[FPoint]) -> bool {
    w[1].f != w[0].f && !(w[1].f.is_nan() && w[0].f.is_nan())
}

/// The value changes among the pairs of `points`, counted without branches (they would
/// mispredict on a changing series).
fn count_changes(points: &[FPoint]) -> u32 {
    points.windows(2).map(|w| u32::from(changed(w))).sum()
}

impl SlidingIndex {
    /// Indexes the float points of one series for `func`.
    pub fn new(func: RangeFn, floats: &[FPoint]) -> SlidingIndex {
        let mut ix = SlidingIndex::default();
        match func {
            RangeFn::Rate | RangeFn::Increase | RangeFn::Resets => {
                for (i, w) in floats.windows(2).enumerate() {
                    if w[1].f < w[0].f {
                        ix.resets.push((i + 1) as u32);
                    }
                }
            }
            RangeFn::Changes => {
                let (mut n, mut end) = (0u32, CHANGE_STRIDE);
                ix.changes.push(0);
                while end < floats.len() {
                    n += count_changes(&floats[end - CHANGE_STRIDE..=end]);
                    ix.changes.push(n);
                    end += CHANGE_STRIDE;
                }
            }
            _ => {}
        }
        ix
    }

    /// The resets strictly after `a` and before `b` (pairs inside the window `a..b`).
    fn resets_in(&self, a: usize, b: usize) -> &[u32] {
        let lo = self.resets.partition_point(|&r| (r as usize) <= a);
        let hi = self.resets.partition_point(|&r| (r as usize) < b);
        &self.resets[lo..hi.max(lo)]
    }

    /// `func` over the window `floats[a..b]` (non-empty) of the series this index was built for.
    pub fn eval(
        &self,
        func: RangeFn,
        floats: &[FPoint],
        a: usize,
        b: usize,
        args: &RangeArgs,
    ) -> RangeOutput {
        let (Some(&first), Some(&last)) = (floats.get(a), b.checked_sub(1).and_then(|l| floats.get(l)))
        else {
            return RangeOutput::None;
        };
        match func {
            RangeFn::Rate | RangeFn::Increase | RangeFn::Delta => {
                let is_counter = func != RangeFn::Delta;
                let mut result = last.f - first.f;
                if is_counter {
                    for &r in self.resets_in(a, b) {
                        result += floats[r as usize - 1].f;
                    }
                }
                if b - a < 2 {
                    return RangeOutput::None;
                }
                extrapolate(first, last, b - a - 1, result, 0, args, is_counter, func == RangeFn::Rate)
            }
            RangeFn::Resets => RangeOutput::Float(self.resets_in(a, b).len() as f64),
            RangeFn::Changes => {
                // The pairs (i - 1, i) with a < i < b: scanned up to the first mark, counted from
                // the marks in between, scanned from the last mark.
                let (first_mark, last_mark) = (a.div_ceil(CHANGE_STRIDE), (b - 1) / CHANGE_STRIDE);
                let n = match (self.changes.get(first_mark), self.changes.get(last_mark)) {
                    (Some(&lo), Some(&hi)) if first_mark < last_mark => {
                        count_changes(&floats[a..=first_mark * CHANGE_STRIDE])
                            + (hi - lo)
                            + count_changes(&floats[last_mark * CHANGE_STRIDE..b])
                    }
                    _ => count_changes(&floats[a..b]),
                };
                RangeOutput::Float(f64::from(n))
            }
            _ => RangeOutput::None,
        }
    }
}

/// `double_exponential_smoothing` of many windows of one float series, with smoothing factors
/// `sf[k]` and trend factors `tf[k]` (all valid, in `(0, 1)`): `None` for a window of fewer than
/// two points. Four windows run interleaved so their dependency chains overlap; each window's
/// arithmetic is exactly [`super::RangeFn::eval`]'s, in the same order, so the bits are the same.
pub fn double_exponential_smoothing(
    floats: &[FPoint],
    windows: &[(usize, usize)],
    sf: &[f64],
    tf: &[f64],
) -> Vec<Option<f64>> {
    const LANES: usize = 4;
    let mut out = vec![None; windows.len()];
    let live: Vec<usize> = (0..windows.len()).filter(|&k| windows[k].1 >= windows[k].0 + 2).collect();
    for lanes in live.chunks(LANES) {
        let (mut s0, mut s1, mut b) = ([0.0f64; LANES], [0.0f64; LANES], [0.0f64; LANES]);
        let (mut x_sf, mut x_tf, mut start, mut len) =
            ([0.5; LANES], [0.5; LANES], [0usize; LANES], [0usize; LANES]);
        for (l, &k) in lanes.iter().enumerate() {
            let (a, e) = windows[k];
            let w = &floats[a..e];
            (start[l], len[l], x_sf[l], x_tf[l]) = (a, w.len(), sf[k], tf[k]);
            s1[l] = w[0].f;
            b[l] = w[1].f - w[0].f;
            // The first update keeps the initial trend.
            let x = x_sf[l] * w[1].f;
            let y = (1.0 - x_sf[l]) * (s1[l] + b[l]);
            s0[l] = s1[l];
            s1[l] = x + y;
        }
        let n = lanes.len();
        let common = len[..n].iter().copied().min().unwrap_or(0);
        let step =
            |l: usize, i: usize, s0: &mut [f64; LANES], s1: &mut [f64; LANES], b: &mut [f64; LANES]| {
                let v = floats[start[l] + i].f;
                let x = x_sf[l] * v;
                b[l] = x_tf[l] * (s1[l] - s0[l]) + (1.0 - x_tf[l]) * b[l];
                let y = (1.0 - x_sf[l]) * (s1[l] + b[l]);
                s0[l] = s1[l];
                s1[l] = x + y;
            };
        for i in 2..common {
            for l in 0..n {
                step(l, i, &mut s0, &mut s1, &mut b);
            }
        }
        for l in 0..n {
            for i in common.max(2)..len[l] {
                step(l, i, &mut s0, &mut s1, &mut b);
            }
            out[lanes[l]] = Some(s1[l]);
        }
    }
    out
}

/// A position in one series' points that moves forward as windows slide: the number of points
/// with timestamp `<= bound` for the last bound asked. Moving backwards (never the case on a
/// step grid) falls back to a binary search.
#[derive(Debug, Clone, Copy, Default)]
pub struct Cursor {
    pos: usize,
    bound: Option<i64>,
}

impl Cursor {
    /// The number of points of `ts` (ascending timestamps) with timestamp `<= bound`.
    pub fn seek<P>(&mut self, points: &[P], t: impl Fn(&P) -> i64, bound: i64) -> usize {
        match self.bound {
            Some(prev) if bound >= prev => {
                while self.pos < points.len() && t(&points[self.pos]) <= bound {
                    self.pos += 1;
                }
            }
            _ => self.pos = points.partition_point(|p| t(p) <= bound),
        }
        self.bound = Some(bound);
        self.pos
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pts(v: &[f64]) -> Vec<FPoint> {
        v.iter().enumerate().map(|(i, &f)| FPoint { t: i as i64 * 10_000, f }).collect()
    }

    #[test]
    fn matches_the_window_evaluation() {
        let floats = pts(&[1.0, 3.0, 2.0, 2.0, 7.0, 0.5, 0.5, f64::NAN, f64::NAN, 4.0, 1.0, 9.0]);
        for func in [RangeFn::Rate, RangeFn::Increase, RangeFn::Delta, RangeFn::Changes, RangeFn::Resets] {
            let ix = SlidingIndex::new(func, &floats);
            for a in 0..floats.len() {
                for b in a + 1..=floats.len() {
                    let args = RangeArgs {
                        range_start: floats[a].t - 1,
                        range_end: floats[b - 1].t + 3_000,
                        step_time: floats[b - 1].t + 3_000,
                        range: floats[b - 1].t + 3_001 - floats[a].t,
                        scalar: f64::NAN,
                        scalar2: f64::NAN,
                        anchored: false,
                        smoothed: false,
                    };
                    let want = func.eval(&floats[a..b], &[], &args, "x", &mut Vec::new()).unwrap();
                    let got = ix.eval(func, &floats, a, b, &args);
                    let same = match (&want, &got) {
                        (RangeOutput::Float(x), RangeOutput::Float(y)) => x.to_bits() == y.to_bits(),
                        _ => want == got,
                    };
                    assert!(same, "{func:?} {a}..{b}: {want:?} vs {got:?}");
                }
            }
        }
    }

    #[test]
    fn changes_across_marks_match_the_window_evaluation() {
        let v: Vec<f64> = (0..3 * CHANGE_STRIDE + 7).map(|i| ((i * 7919) % 13 / 4) as f64).collect();
        let floats = pts(&v);
        let ix = SlidingIndex::new(RangeFn::Changes, &floats);
        let n = floats.len();
        let args = RangeArgs {
            range_start: 0,
            range_end: 0,
            step_time: 0,
            range: 1,
            scalar: f64::NAN,
            scalar2: f64::NAN,
            anchored: false,
            smoothed: false,
        };
        for a in (0..n).step_by(5).chain([CHANGE_STRIDE - 1, CHANGE_STRIDE, CHANGE_STRIDE + 1]) {
            for b in (a + 1..=n).step_by(3).chain([n]) {
                let want = RangeFn::Changes.eval(&floats[a..b], &[], &args, "x", &mut Vec::new()).unwrap();
                assert_eq!(want, ix.eval(RangeFn::Changes, &floats, a, b, &args), "{a}..{b}");
            }
        }
    }

    #[test]
    fn double_exponential_smoothing_matches_the_window_evaluation() {
        let floats = pts(&[1.0, 3.0, 2.5, 2.0, 7.0, 0.5, 0.25, 9.0, 4.0, 1.0, 9.0, 3.0, 8.0]);
        let mut windows = Vec::new();
        for a in 0..floats.len() {
            for b in a..=floats.len() {
                windows.push((a, b));
            }
        }
        let sf: Vec<f64> = (0..windows.len()).map(|k| 0.1 + (k % 7) as f64 * 0.1).collect();
        let tf: Vec<f64> = (0..windows.len()).map(|k| 0.9 - (k % 5) as f64 * 0.1).collect();
        let got = double_exponential_smoothing(&floats, &windows, &sf, &tf);
        for (k, &(a, b)) in windows.iter().enumerate() {
            let args = RangeArgs {
                range_start: 0,
                range_end: 0,
                step_time: 0,
                range: 1,
                scalar: sf[k],
                scalar2: tf[k],
                anchored: false,
                smoothed: false,
            };
            let want = RangeFn::DoubleExponentialSmoothing
                .eval(&floats[a..b], &[], &args, "x", &mut Vec::new())
                .unwrap();
            let want = match want {
                RangeOutput::Float(v) => Some(v.to_bits()),
                _ => None,
            };
            assert_eq!(want, got[k].map(f64::to_bits), "window {a}..{b}");
        }
    }

    #[test]
    fn cursor_moves_forward_and_back() {
        let ts = [10i64, 20, 30, 40];
        let mut c = Cursor::default();
        assert_eq!(c.seek(&ts, |t| *t, 25), 2);
        assert_eq!(c.seek(&ts, |t| *t, 40), 4);
        assert_eq!(c.seek(&ts, |t| *t, 5), 0);
    }
}
