//! Binary operators over all steps: vector-scalar, one-to-one vector-vector arithmetic and
//! comparisons (merging the two series' points by step), and `and`/`or`/`unless` (a per-signature
//! presence bitmap of the other side).

use hashbrown::HashMap;

use super::{Column, Dense, Fallback, Res, Vector};
use crate::exec::SeriesMeta;
use crate::exec::binary::{changes_schema, is_trim, result_labels};
use crate::exec::labels_ops::{SeriesTable, drop_metadata, signature};
use crate::functions::vector_elem_binop;
use crate::model::{FPoint, Labels};
use crate::parser::{BinaryOp, Cardinality, ValueType, VectorMatching};
use crate::plan::BinaryNode;

/// A binary operation with at least one vector operand.
pub(super) fn binary(d: &mut Dense<'_, '_>, b: &BinaryNode) -> Res<Vector> {
    d.node_id();
    match (b.lhs_type, b.rhs_type) {
        (ValueType::Vector, ValueType::Scalar) => {
            let v = d.vector(&b.lhs)?;
            let s = d.scalar(&b.rhs)?;
            vector_scalar(d, b, v, &s, false)
        }
        (ValueType::Scalar, ValueType::Vector) => {
            let s = d.scalar(&b.lhs)?;
            let v = d.vector(&b.rhs)?;
            vector_scalar(d, b, v, &s, true)
        }
        (ValueType::Vector, ValueType::Vector) => {
            let lhs = d.vector(&b.lhs)?;
            let rhs = d.vector(&b.rhs)?;
            let matching = b.matching.clone().unwrap_or(VectorMatching {
                card: if b.op.is_set() { Cardinality::ManyToMany } else { Cardinality::OneToOne },
                labels: Vec::new(),
                on: false,
                include: Vec::new(),
                fill: Default::default(),
            });
            if b.op.is_set() {
                set_op(d, b.op, &matching, lhs, rhs)
            } else {
                one_to_one(d, b, &matching, lhs, rhs)
            }
        }
        _ => Err(Fallback),
    }
}

/// `vector op scalar`, or `scalar op vector` when `swap`.
fn vector_scalar(d: &Dense<'_, '_>, b: &BinaryNode, mut v: Vector, s: &[f64], swap: bool) -> Res<Vector> {
    let op = b.op;
    if is_trim(op) {
        return Err(Fallback);
    }
    let rename = changes_schema(op) || b.return_bool;
    let delayed = d.ctx.delayed_name_removal;
    let comparison_swap = op.is_comparison() && swap;
    for c in v.series.iter_mut() {
        if rename {
            let labels = if delayed { c.meta.labels.clone() } else { drop_metadata(&c.meta.labels) };
            c.meta = SeriesMeta { labels, drop_name: true };
        }
        let mut w = d.walk();
        c.pts.retain_mut(|p| {
            let scalar = s[w.index(p.t)];
            let (lf, rf) = if swap { (scalar, p.f) } else { (p.f, scalar) };
            let (mut value, mut keep) = vector_elem_binop(op, lf, rf);
            if comparison_swap {
                value = rf;
            }
            if b.return_bool {
                value = if keep { 1.0 } else { 0.0 };
                keep = true;
            }
            p.f = value;
            keep
        });
    }
    Ok(v)
}

/// Dense ids of matching signatures.
#[derive(Default)]
struct Signatures {
    ids: HashMap<Labels, u32>,
}

impl Signatures {
    fn of(&mut self, labels: &Labels, m: &VectorMatching) -> u32 {
        let s = signature(labels, m.on, &m.labels);
        let n = self.ids.len() as u32;
        *self.ids.entry(s).or_insert(n)
    }
}

/// Per signature, the steps where some series of that signature has a point.
struct Presence {
    words: usize,
    bits: Vec<u64>,
}

impl Presence {
    fn new(d: &Dense<'_, '_>, v: &Vector, sigs: &[u32], n_sigs: usize) -> Presence {
        let words = d.grid.steps().div_ceil(64);
        let mut bits = vec![0u64; words * n_sigs];
        for (c, &sig) in v.series.iter().zip(sigs) {
            let row = &mut bits[sig as usize * words..(sig as usize + 1) * words];
            let mut w = d.walk();
            for p in &c.pts {
                let k = w.index(p.t);
                row[k / 64] |= 1 << (k % 64);
            }
        }
        Presence { words, bits }
    }

    fn has(&self, sig: u32, k: usize) -> bool {
        self.bits[sig as usize * self.words + k / 64] & (1 << (k % 64)) != 0
    }
}

/// `and`, `or`, `unless`.
fn set_op(d: &Dense<'_, '_>, op: BinaryOp, m: &VectorMatching, lhs: Vector, rhs: Vector) -> Res<Vector> {
    let mut sigs = Signatures::default();
    let lsig: Vec<u32> = lhs.series.iter().map(|c| sigs.of(&c.meta.labels, m)).collect();
    let rsig: Vec<u32> = rhs.series.iter().map(|c| sigs.of(&c.meta.labels, m)).collect();
    let n_sigs = sigs.ids.len();
    match op {
        BinaryOp::And | BinaryOp::Unless => {
            let present = Presence::new(d, &rhs, &rsig, n_sigs);
            let want = op == BinaryOp::And;
            let mut out = lhs;
            for (c, &sig) in out.series.iter_mut().zip(&lsig) {
                let mut w = d.walk();
                c.pts.retain(|p| present.has(sig, w.index(p.t)) == want);
            }
            Ok(out)
        }
        BinaryOp::Or => {
            let present = Presence::new(d, &lhs, &lsig, n_sigs);
            let ordered = lhs.ordered && rhs.ordered;
            let mut series = lhs.series;
            for (mut c, &sig) in rhs.series.into_iter().zip(&rsig) {
                let mut w = d.walk();
                c.pts.retain(|p| !present.has(sig, w.index(p.t)));
                series.push(c);
            }
            Ok(Vector { series, ordered })
        }
        _ => Err(Fallback),
    }
}

/// Arithmetic and comparisons with one-to-one matching. Gives up when a signature repeats on
/// either side (the operator path's errors depend on which series are present at a step).
fn one_to_one(
    d: &Dense<'_, '_>,
    b: &BinaryNode,
    m: &VectorMatching,
    lhs: Vector,
    rhs: Vector,
) -> Res<Vector> {
    if m.card != Cardinality::OneToOne || m.fill.lhs.is_some() || m.fill.rhs.is_some() || is_trim(b.op) {
        return Err(Fallback);
    }
    let mut sigs = Signatures::default();
    let lsig: Vec<u32> = lhs.series.iter().map(|c| sigs.of(&c.meta.labels, m)).collect();
    let rsig: Vec<u32> = rhs.series.iter().map(|c| sigs.of(&c.meta.labels, m)).collect();
    const NONE: u32 = u32::MAX;
    let mut rhs_of_sig = vec![NONE; sigs.ids.len()];
    for (j, &s) in rsig.iter().enumerate() {
        if rhs_of_sig[s as usize] != NONE {
            return Err(Fallback);
        }
        rhs_of_sig[s as usize] = j as u32;
    }
    let mut lhs_seen = vec![false; sigs.ids.len()];
    for &s in &lsig {
        if std::mem::replace(&mut lhs_seen[s as usize], true) && rhs_of_sig[s as usize] != NONE {
            return Err(Fallback);
        }
    }
    let delayed = d.ctx.delayed_name_removal;
    let drop = b.return_bool && delayed;
    let mut table = SeriesTable::default();
    let mut series = Vec::new();
    for (mut c, &s) in lhs.series.into_iter().zip(&lsig) {
        let j = rhs_of_sig[s as usize];
        if j == NONE {
            continue;
        }
        let r = &rhs.series[j as usize];
        let labels = result_labels(m, b.op, b.return_bool, delayed, &c.meta.labels, &r.meta.labels);
        let id = table.intern(SeriesMeta { labels, drop_name: drop });
        if id as usize != series.len() {
            // Two pairs share an output series: steps holding both are errors.
            return Err(Fallback);
        }
        join(b.op, b.return_bool, &mut c.pts, &r.pts);
        series.push(Column { meta: table.series[id as usize].clone(), pts: c.pts });
    }
    Ok(Vector { series, ordered: lhs.ordered })
}

/// `l op r` at the steps where both have a point, written over `l`.
fn join(op: BinaryOp, return_bool: bool, l: &mut Vec<FPoint>, r: &[FPoint]) {
    let (mut i, mut j, mut out) = (0, 0, 0);
    while i < l.len() && j < r.len() {
        let (a, b) = (l[i], r[j]);
        if a.t < b.t {
            i += 1;
            continue;
        }
        if b.t < a.t {
            j += 1;
            continue;
        }
        i += 1;
        j += 1;
        let (mut value, keep) = vector_elem_binop(op, a.f, b.f);
        if return_bool {
            value = if keep { 1.0 } else { 0.0 };
        }
        if keep || return_bool {
            l[out] = FPoint { t: a.t, f: value };
            out += 1;
        }
    }
    l.truncate(out);
}
