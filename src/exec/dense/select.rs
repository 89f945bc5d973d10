//! Instant vector selectors over all steps: the latest sample within the lookback of each
//! step, one pass over each series' points.

use super::{Column, Dense, Fallback, Res};
use crate::exec::SeriesMeta;
use crate::exec::labels_ops::name_dropped;
use crate::exec::select::load;
use crate::model::{FPoint, is_stale_nan};
use crate::plan::Selector;
use crate::storage::SeriesData;

/// What the selector returns for the sample it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// The value.
    Value,
    /// The sample's timestamp in seconds (`timestamp(selector)`).
    Timestamp,
}

/// The selector `sel` at every step, its columns handed to `sink` in order; `Fallback` for
/// `smoothed` selectors and series holding native histograms.
pub(super) fn vector_selector(
    d: &mut Dense<'_, '_>,
    sel: &Selector,
    mode: Mode,
    sink: &mut dyn FnMut(Column) -> Res<()>,
) -> Res<()> {
    if sel.smoothed {
        return Err(Fallback);
    }
    let data = load(d.ctx, sel, 0)?;
    if data.iter().any(|s| !s.histograms.is_empty()) {
        return Err(Fallback);
    }
    d.hold(&data);
    let grid = d.grid;
    let (at, offset, lookback) = (sel.at, sel.offset, d.ctx.lookback);
    let delayed = d.ctx.delayed_name_removal;
    let limits = d.ctx.limits;
    let column = |s: &SeriesData| {
        limits.check()?;
        let floats: &[FPoint] = &s.floats[..];
        let n = grid.steps();
        let mut pts = Vec::with_capacity(n);
        let mut i = 0;
        for k in 0..n {
            let t = grid.time(k);
            let ref_t = at.unwrap_or(t) - offset;
            while i < floats.len() && floats[i].t <= ref_t {
                i += 1;
            }
            if i == 0 {
                continue;
            }
            let p = floats[i - 1];
            if p.t > ref_t - lookback && !is_stale_nan(p.f) {
                let f = match mode {
                    Mode::Value => p.f,
                    Mode::Timestamp => p.t as f64 / 1000.0,
                };
                pts.push(FPoint { t, f });
            }
        }
        Ok::<_, crate::exec::EvalError>(pts)
    };
    let per_series = grid.steps() + data.iter().map(|s| s.floats.len()).sum::<usize>() / data.len().max(1);
    d.chunked(&data, per_series, column, |i, pts| {
        let m = SeriesMeta::new(data[i].labels.clone());
        let meta = match mode {
            Mode::Value => m,
            Mode::Timestamp => name_dropped(&m, delayed),
        };
        sink(Column { meta, pts: pts? })
    })
}
