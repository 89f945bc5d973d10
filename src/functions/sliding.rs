//! Float range functions evaluated over sliding windows: each series is indexed once (a
//! [`FloatIndex`] of its counter resets and value changes, built here or kept by the store), then
//! every window's answer costs O(log n) plus the resets inside it (plus at most two scans of
//! [`crate::model::CHANGE_STRIDE`] pairs for `changes`), instead of a pass over the window. The
//! answers are bit-identical to
//! [`super::RangeFn::eval`]: `rate`/`increase` add the same reset corrections in the same order
//! to the same `last - first`, and `changes`/`resets` are exact counts.
//!
//! Only float-only windows without start timestamps and without `anchored`/`smoothed` use this;
//! everything else goes through [`super::RangeFn::eval_with_st`].

use std::sync::Arc;

use crate::model::{FPoint, FloatIndex};

use super::range::extrapolate;
use super::{RangeArgs, RangeFn, RangeOutput};

/// Whether `func` has a sliding-window evaluation.
pub fn slides(func: RangeFn) -> bool {
    matches!(func, RangeFn::Rate | RangeFn::Increase | RangeFn::Delta | RangeFn::Changes | RangeFn::Resets)
}

/// The per-series index a sliding evaluation needs: a [`FloatIndex`] of the series' points
/// (counter-reset positions, running change counts), built here or kept by the store.
#[derive(Debug, Clone, Default)]
pub struct SlidingIndex {
    index: Arc<FloatIndex>,
    /// The position in the indexed points of the first point the evaluated slice holds (a store
    /// indexes a whole series; a query sees part of it).
    base: usize,
}

impl SlidingIndex {
    /// Indexes the float points of one series.
    pub fn new(floats: &[FPoint]) -> SlidingIndex {
        SlidingIndex { index: Arc::new(FloatIndex::build(floats)), base: 0 }
    }

    /// An index built elsewhere over points of which the evaluated slice starts at position
    /// `base` (the caller guarantees the slice has no staleness marker the index saw).
    pub fn shared(index: Arc<FloatIndex>, base: usize) -> SlidingIndex {
        SlidingIndex { index, base }
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
        let base = self.base;
        match func {
            RangeFn::Rate | RangeFn::Increase | RangeFn::Delta => {
                let is_counter = func != RangeFn::Delta;
                let mut result = last.f - first.f;
                if is_counter {
                    for &r in self.index.resets_in(a + base, b + base) {
                        result += floats[r as usize - base - 1].f;
                    }
                }
                if b - a < 2 {
                    return RangeOutput::None;
                }
                extrapolate(first, last, b - a - 1, result, 0, args, is_counter, func == RangeFn::Rate)
            }
            RangeFn::Resets => RangeOutput::Float(self.index.resets_in(a + base, b + base).len() as f64),
            RangeFn::Changes => {
                RangeOutput::Float(f64::from(self.index.changes_in(floats, base, a + base, b + base)))
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

    /// Asserts that the index answers the window `floats[a..b]` bit for bit as the plain
    /// window evaluation does.
    fn check_window(ix: &SlidingIndex, func: RangeFn, floats: &[FPoint], a: usize, b: usize) {
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
        let got = ix.eval(func, floats, a, b, &args);
        let same = match (&want, &got) {
            (RangeOutput::Float(x), RangeOutput::Float(y)) => x.to_bits() == y.to_bits(),
            _ => want == got,
        };
        assert!(same, "{func:?} {a}..{b}: {want:?} vs {got:?}");
    }

    #[test]
    fn matches_the_window_evaluation() {
        let floats = pts(&[1.0, 3.0, 2.0, 2.0, 7.0, 0.5, 0.5, f64::NAN, f64::NAN, 4.0, 1.0, 9.0]);
        for func in [RangeFn::Rate, RangeFn::Increase, RangeFn::Delta, RangeFn::Changes, RangeFn::Resets] {
            let ix = SlidingIndex::new(&floats);
            for a in 0..floats.len() {
                for b in a + 1..=floats.len() {
                    check_window(&ix, func, &floats, a, b);
                }
            }
        }
    }

    #[test]
    fn a_shared_index_matches_the_window_evaluation() {
        let v: Vec<f64> =
            (0..3 * crate::model::CHANGE_STRIDE + 7).map(|i| ((i * 7919) % 13 / 4) as f64).collect();
        let all = pts(&v);
        let index = Arc::new(FloatIndex::build(&all));
        let n = all.len();
        for base in [0, 3, crate::model::CHANGE_STRIDE + 1] {
            let floats = &all[base..];
            let ix = SlidingIndex::shared(index.clone(), base);
            for func in [RangeFn::Rate, RangeFn::Changes, RangeFn::Resets] {
                for a in (0..n - base).step_by(5) {
                    for b in (a + 1..=n - base).step_by(3) {
                        check_window(&ix, func, floats, a, b);
                    }
                }
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
