//! Aggregations over all steps into per-group step columns: `sum`, `avg`, `count`, `min`,
//! `max`, `group` add each input series into its group's columns in input order, so every
//! (group, step) sees the same operations in the same order as the step-by-step operator;
//! `topk`/`bottomk` select per step with the operator's heaps.

use super::{Column, Dense, Fallback, Res, StepWalk, Vector};
use crate::exec::aggregate::{heap_fix, heap_push, insertion_sort};
use crate::exec::labels_ops::{grouping_key, grouping_labels};
use crate::exec::{Sample, SeriesMeta};
use crate::functions::kahan_inc;
use crate::model::{FPoint, Labels};
use crate::parser::AggregateOp;
use crate::plan::AggregateNode;

/// The groups of an aggregation, assigned in input order (Prometheus's grouping key and
/// labels).
#[derive(Default)]
struct Groups {
    keys: hashbrown::HashMap<Labels, u32>,
    metas: Vec<SeriesMeta>,
}

impl Groups {
    fn of(&mut self, a: &AggregateNode, meta: &SeriesMeta) -> u32 {
        let key = grouping_key(&meta.labels, &a.grouping, a.without);
        let next = self.keys.len() as u32;
        let metas = &mut self.metas;
        let g = *self.keys.entry(key).or_insert_with(|| {
            metas.push(SeriesMeta::new(grouping_labels(&meta.labels, &a.grouping, a.without)));
            next
        });
        if meta.drop_name {
            metas[g as usize].drop_name = true;
        }
        g
    }
}

/// An aggregation.
pub(super) fn aggregate(d: &mut Dense<'_, '_>, a: &AggregateNode) -> Res<Vector> {
    d.node_id();
    let param = match &a.param {
        Some(p) => Some(d.scalar(p)?),
        None => None,
    };
    match a.op {
        AggregateOp::Topk | AggregateOp::Bottomk => {
            let input = d.vector(&a.expr)?;
            if !input.ordered {
                return Err(Fallback);
            }
            let mut groups = Groups::default();
            let group_of: Vec<u32> = input.series.iter().map(|c| groups.of(a, &c.meta)).collect();
            top(d, a.op, input, &group_of, groups.metas.len(), param)
        }
        AggregateOp::Avg => average(d, a),
        AggregateOp::Sum | AggregateOp::Count | AggregateOp::Min | AggregateOp::Max | AggregateOp::Group => {
            simple(d, a)
        }
        _ => Err(Fallback),
    }
}

/// `sum`, `count`, `min`, `max`, `group`: the operator's per-step float loop, by columns, folding
/// each input column as it comes.
fn simple(d: &mut Dense<'_, '_>, a: &AggregateNode) -> Res<Vector> {
    let op = a.op;
    let n = d.grid.steps();
    let grid = d.grid;
    let mut groups = Groups::default();
    let (mut seen, mut value, mut comp) = (Vec::new(), Vec::new(), Vec::new());
    let ordered = d.stream(&a.expr, &mut |c| {
        let g = groups.of(a, &c.meta) as usize;
        if seen.len() < (g + 1) * n {
            seen.resize((g + 1) * n, false);
            value.resize((g + 1) * n, 0.0f64);
            comp.resize((g + 1) * n, 0.0f64);
        }
        let base = g * n;
        let mut w = StepWalk::new(grid);
        for p in &c.pts {
            let i = base + w.index(p.t);
            let f = p.f;
            if !seen[i] {
                seen[i] = true;
                value[i] = match op {
                    AggregateOp::Count | AggregateOp::Group => 1.0,
                    _ => f,
                };
                continue;
            }
            match op {
                AggregateOp::Sum => (value[i], comp[i]) = kahan_inc(f, value[i], comp[i]),
                AggregateOp::Count => value[i] += 1.0,
                AggregateOp::Min if value[i] > f || value[i].is_nan() => value[i] = f,
                AggregateOp::Max if value[i] < f || value[i].is_nan() => value[i] = f,
                _ => {}
            }
        }
        Ok(())
    })?;
    if !ordered {
        return Err(Fallback);
    }
    let series = groups
        .metas
        .into_iter()
        .enumerate()
        .map(|(g, meta)| {
            let base = g * n;
            let mut pts = Vec::with_capacity(n);
            for k in 0..n {
                let i = base + k;
                if seen.get(i).copied().unwrap_or(false) {
                    let f = if op == AggregateOp::Sum { value[i] + comp[i] } else { value[i] };
                    pts.push(FPoint { t: grid.time(k), f });
                }
            }
            Column { meta, pts }
        })
        .collect();
    Ok(Vector { series, ordered: true })
}

/// `avg`: Kahan-compensated sums that switch to an incremental mean on overflow, as the
/// operator does.
fn average(d: &mut Dense<'_, '_>, a: &AggregateNode) -> Res<Vector> {
    #[derive(Clone, Copy, Default)]
    struct Cell {
        seen: bool,
        incremental: bool,
        value: f64,
        mean: f64,
        c: f64,
        count: f64,
    }
    let n = d.grid.steps();
    let grid = d.grid;
    let mut groups = Groups::default();
    let mut cells: Vec<Cell> = Vec::new();
    let ordered = d.stream(&a.expr, &mut |col| {
        let g = groups.of(a, &col.meta) as usize;
        if cells.len() < (g + 1) * n {
            cells.resize((g + 1) * n, Cell::default());
        }
        let base = g * n;
        let mut w = StepWalk::new(grid);
        for p in &col.pts {
            let x = &mut cells[base + w.index(p.t)];
            let f = p.f;
            if !x.seen {
                *x = Cell { seen: true, incremental: false, value: f, mean: f, c: 0.0, count: 1.0 };
                continue;
            }
            x.count += 1.0;
            if !x.incremental {
                let (nv, nc) = kahan_inc(f, x.value, x.c);
                if !nv.is_infinite() {
                    x.value = nv;
                    x.c = nc;
                    continue;
                }
                x.incremental = true;
                x.mean = x.value / (x.count - 1.0);
                x.c /= x.count - 1.0;
            }
            let q = (x.count - 1.0) / x.count;
            (x.mean, x.c) = kahan_inc(f / x.count, q * x.mean, q * x.c);
        }
        Ok(())
    })?;
    if !ordered {
        return Err(Fallback);
    }
    let series = groups
        .metas
        .into_iter()
        .enumerate()
        .map(|(g, meta)| {
            let mut pts = Vec::with_capacity(n);
            for (k, x) in cells[g * n..(g + 1) * n].iter().enumerate() {
                if x.seen {
                    let f = if x.incremental { x.mean + x.c } else { x.value / x.count + x.c / x.count };
                    pts.push(FPoint { t: grid.time(k), f });
                }
            }
            Column { meta, pts }
        })
        .collect();
    Ok(Vector { series, ordered: true })
}

/// `topk`/`bottomk`: at each step, the operator's heap selection over the samples present, in
/// input order. The output is the input series, no longer in step order.
fn top(
    d: &Dense<'_, '_>,
    op: AggregateOp,
    input: Vector,
    group_of: &[u32],
    n_groups: usize,
    param: Option<Vec<f64>>,
) -> Res<Vector> {
    let param = param.ok_or(Fallback)?;
    // The operator validates all parameters up front; any error is its to raise.
    let any_nan = param.iter().any(|v| v.is_nan());
    let max = param.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let min = param.iter().copied().fold(f64::INFINITY, f64::min);
    let n = d.grid.steps();
    let n_in = input.series.len() as i64;
    let mut out: Vec<Column> =
        input.series.iter().map(|c| Column { meta: c.meta.clone(), pts: Vec::new() }).collect();
    if param.is_empty() || (max < 1.0 && !any_nan) {
        return Ok(Vector { series: out, ordered: false });
    }
    if any_nan || min <= -9.223372036854776e18 || max >= 9.223372036854776e18 {
        return Err(Fallback);
    }
    let top_less = |a: &Sample, b: &Sample| a.f.is_nan() || a.f < b.f;
    let bottom_less = |a: &Sample, b: &Sample| a.f.is_nan() || a.f > b.f;
    let less: &dyn Fn(&Sample, &Sample) -> bool =
        if op == AggregateOp::Topk { &top_less } else { &bottom_less };
    let mut heaps: Vec<Vec<Sample>> = vec![Vec::new(); n_groups];
    let mut pos = vec![0usize; input.series.len()];
    for (step, &p) in param.iter().enumerate().take(n) {
        if step % 256 == 0 {
            d.ctx.limits.check()?;
        }
        let t = d.grid.time(step);
        let k = (p as i64).min(n_in);
        for (id, c) in input.series.iter().enumerate() {
            let Some(pt) = c.pts.get(pos[id]).filter(|pt| pt.t == t) else { continue };
            pos[id] += 1;
            if k < 1 {
                continue;
            }
            let s = Sample::float(id as u32, pt.f);
            let h = &mut heaps[group_of[id] as usize];
            if (h.len() as i64) < k {
                heap_push(h, s, less);
            } else {
                let root = &h[0];
                let replace = if op == AggregateOp::Topk {
                    root.f < s.f || (root.f.is_nan() && !s.f.is_nan())
                } else {
                    root.f > s.f || (root.f.is_nan() && !s.f.is_nan())
                };
                if replace {
                    h[0] = s;
                    if k > 1 {
                        heap_fix(h, 0, less);
                    }
                }
            }
        }
        for h in heaps.iter_mut() {
            insertion_sort(h, &|a, b| less(b, a));
            for s in h.drain(..) {
                out[s.id as usize].pts.push(FPoint { t, f: s.f });
            }
        }
    }
    Ok(Vector { series: out, ordered: false })
}
