//! Binary operators: between scalars, between a vector and a scalar, and between two vectors
//! with vector matching (`on`/`ignoring`, `group_left`/`group_right`, fill values, set
//! operators).

use std::sync::Arc;

use hashbrown::{HashMap, HashSet};

use crate::exec::Annotation;
use crate::exec::labels_ops::{SeriesTable, drop_metadata, signature};
use crate::exec::scalar::scalar_values;
use crate::exec::{BoxOp, EvalError, ExecContext, Operator, Sample, SeriesMeta, StepBatch};
use crate::functions::{HistBinop, hist_binop, scalar_binop, vector_elem_binop};
use crate::model::Labels;
use crate::parser::Span;
use crate::parser::{BinaryOp, Cardinality, VectorMatching};

pub(crate) fn changes_schema(op: BinaryOp) -> bool {
    matches!(
        op,
        BinaryOp::Add
            | BinaryOp::Sub
            | BinaryOp::Mul
            | BinaryOp::Div
            | BinaryOp::Pow
            | BinaryOp::Mod
            | BinaryOp::Atan2
    )
}

/// `</` and `>/`, defined on histograms only.
pub(crate) fn is_trim(op: BinaryOp) -> bool {
    matches!(op, BinaryOp::TrimUpper | BinaryOp::TrimLower)
}

fn histogram_unsupported(op: BinaryOp) -> EvalError {
    EvalError::Unsupported(format!(
        "binary operator {:?} on native histograms (native histogram evaluation)",
        op.as_str()
    ))
}

/// `scalar op scalar`.
pub(crate) struct ScalarBinaryOp<'a> {
    pub(crate) op: BinaryOp,
    pub(crate) lhs: BoxOp<'a>,
    pub(crate) rhs: BoxOp<'a>,
}

impl Operator for ScalarBinaryOp<'_> {
    fn series(&mut self) -> Result<Arc<[SeriesMeta]>, EvalError> {
        self.rhs.series()?;
        self.lhs.series()
    }

    fn next(&mut self) -> Result<Option<StepBatch>, EvalError> {
        let op = self.op;
        next_scalar_pair(&mut self.lhs, &mut self.rhs, |lv, rv| scalar_binop(op, lv, rv))
    }
}

/// The next batch of a function of two scalars (`scalar op scalar`, `min_of`, `max_of`): `f` of the
/// two values at every step, a missing value read as NaN.
pub(crate) fn next_scalar_pair(
    lhs: &mut BoxOp<'_>,
    rhs: &mut BoxOp<'_>,
    f: impl Fn(f64, f64) -> f64,
) -> Result<Option<StepBatch>, EvalError> {
    let Some(mut l) = lhs.next()? else { return Ok(None) };
    let r = scalar_values(&rhs.next()?.unwrap_or_default());
    for (k, step) in l.iter_mut().enumerate() {
        let lv = step.samples.first().map_or(f64::NAN, |s| s.f);
        let rv = r.get(k).copied().unwrap_or(f64::NAN);
        step.samples = vec![Sample::float(0, f(lv, rv))];
    }
    Ok(Some(l))
}

/// `vector op scalar` or `scalar op vector` (`swap`).
pub(crate) struct VectorScalarOp<'a> {
    pub(crate) ctx: &'a ExecContext<'a>,
    pub(crate) op: BinaryOp,
    pub(crate) vector: BoxOp<'a>,
    pub(crate) scalar: BoxOp<'a>,
    pub(crate) swap: bool,
    pub(crate) return_bool: bool,
    pub(crate) span: Span,
}

fn incompatible(ctx: &ExecContext<'_>, op: BinaryOp, l: &str, r: &str, span: Span) {
    let o = op.as_str();
    ctx.annotate(Annotation::info(
        format!("incompatible sample types encountered for binary operator {o:?}: {l} {o} {r}"),
        span,
    ));
}

impl Operator for VectorScalarOp<'_> {
    fn series(&mut self) -> Result<Arc<[SeriesMeta]>, EvalError> {
        let (vector, scalar) = (&mut self.vector, &mut self.scalar);
        let meta = if self.swap {
            scalar.series()?;
            vector.series()?
        } else {
            let m = vector.series()?;
            scalar.series()?;
            m
        };
        if !(changes_schema(self.op) || self.return_bool) {
            return Ok(meta);
        }
        let delayed = self.ctx.delayed_name_removal;
        Ok(meta
            .iter()
            .map(|m| {
                if delayed {
                    SeriesMeta { labels: m.labels.clone(), drop_name: true }
                } else {
                    SeriesMeta { labels: drop_metadata(&m.labels), drop_name: true }
                }
            })
            .collect())
    }

    fn next(&mut self) -> Result<Option<StepBatch>, EvalError> {
        let (v, s) = if self.swap {
            let s = self.scalar.next()?;
            (self.vector.next()?, s)
        } else {
            let v = self.vector.next()?;
            (v, self.scalar.next()?)
        };
        let Some(mut batch) = v else { return Ok(None) };
        let sv = scalar_values(&s.unwrap_or_default());
        let op = self.op;
        for (k, step) in batch.iter_mut().enumerate() {
            let scalar = sv.get(k).copied().unwrap_or(f64::NAN);
            let samples = std::mem::take(&mut step.samples);
            let mut out = Vec::with_capacity(samples.len());
            for s in samples {
                let (lf, rf) = if self.swap { (scalar, s.f) } else { (s.f, scalar) };
                if s.h.is_none() && is_trim(op) {
                    incompatible(self.ctx, op, "float", "float", self.span);
                    continue;
                }
                if let Some(h) = &s.h {
                    let (lh, rh) = if self.swap { (None, Some(&**h)) } else { (Some(&**h), None) };
                    match hist_binop(op, lf, rf, lh, rh) {
                        HistBinop::Histogram(h) => out.push(Sample { id: s.id, f: 0.0, h: Some(h) }),
                        HistBinop::Incompatible(a, b) => incompatible(self.ctx, op, a, b, self.span),
                        HistBinop::Keep(_)
                        | HistBinop::Unsupported
                        | HistBinop::Reconciled(..)
                        | HistBinop::CounterResetCollision(_)
                        | HistBinop::IncompatibleLayout => return Err(histogram_unsupported(op)),
                    }
                    continue;
                }
                let (mut value, mut keep) = vector_elem_binop(op, lf, rf);
                if op.is_comparison() && self.swap {
                    value = rf;
                }
                if self.return_bool {
                    value = if keep { 1.0 } else { 0.0 };
                    keep = true;
                }
                if keep {
                    out.push(Sample::float(s.id, value));
                }
            }
            step.samples = out;
        }
        Ok(Some(batch))
    }
}

/// The labels of the output series of a vector-vector operation for the series `many` matched with
/// `one` (Prometheus's `resultMetric`).
pub(crate) fn result_labels(
    m: &VectorMatching,
    op: BinaryOp,
    return_bool: bool,
    delayed: bool,
    many: &Labels,
    one: &Labels,
) -> Labels {
    let drop_name = (!delayed && return_bool) || changes_schema(op);
    let mut b = if drop_name { drop_metadata(many).builder() } else { many.builder() };
    if m.card == Cardinality::OneToOne {
        if m.on {
            b.keep_mut(&m.labels);
        } else {
            for l in &m.labels {
                b.del_mut(l);
            }
        }
    }
    for ln in &m.include {
        match one.get(ln) {
            Some(v) if !v.is_empty() => b.set_mut(ln.as_str(), v),
            _ => b.del_mut(ln),
        }
    }
    b.labels()
}

const NONE: u32 = u32::MAX;

/// `vector op vector`.
pub(crate) struct VectorVectorOp<'a> {
    pub(crate) ctx: &'a ExecContext<'a>,
    pub(crate) op: BinaryOp,
    pub(crate) lhs: BoxOp<'a>,
    pub(crate) rhs: BoxOp<'a>,
    pub(crate) matching: VectorMatching,
    pub(crate) return_bool: bool,
    pub(crate) span: Span,
    state: Option<State>,
}

struct State {
    lhs_meta: Arc<[SeriesMeta]>,
    rhs_meta: Arc<[SeriesMeta]>,
    lhs_sig: Vec<u32>,
    rhs_sig: Vec<u32>,
    sig_labels: Vec<Labels>,
    /// Output series of (many-side id, one-side id) pairs, `NONE` for a filled side.
    out_of: HashMap<(u32, u32), u32>,
    /// The same pairs by first id (when not `NONE`): `(second id, output id)`, so the per-sample
    /// lookup is an index and a scan of (almost always) one entry instead of a hash.
    out_by_first: Vec<smallvec::SmallVec<[(u32, u32); 1]>>,
    meta: Arc<[SeriesMeta]>,
}

impl State {
    /// The output series of the pair `(a, b)` (0 when the pair has none).
    fn out_id(&self, a: u32, b: u32) -> u32 {
        if a == NONE {
            return self.out_of.get(&(a, b)).copied().unwrap_or(0);
        }
        self.out_by_first
            .get(a as usize)
            .and_then(|v| v.iter().find(|&&(x, _)| x == b))
            .map_or(0, |&(_, id)| id)
    }
}

impl<'a> VectorVectorOp<'a> {
    pub(crate) fn new(
        ctx: &'a ExecContext<'a>,
        op: BinaryOp,
        lhs: BoxOp<'a>,
        rhs: BoxOp<'a>,
        matching: VectorMatching,
        return_bool: bool,
        span: Span,
    ) -> Self {
        VectorVectorOp { ctx, op, lhs, rhs, matching, return_bool, span, state: None }
    }

    fn result_labels(&self, many: &Labels, one: &Labels) -> Labels {
        result_labels(&self.matching, self.op, self.return_bool, self.ctx.delayed_name_removal, many, one)
    }

    fn setup(&mut self) -> Result<(), EvalError> {
        let lhs_meta = self.lhs.series()?;
        let rhs_meta = self.rhs.series()?;
        let m = &self.matching;
        let mut sigs: HashMap<Labels, u32> = HashMap::new();
        let mut sig_labels = Vec::new();
        let mut sig_of = |l: &Labels| -> u32 {
            let s = signature(l, m.on, &m.labels);
            let n = sigs.len() as u32;
            *sigs.entry(s.clone()).or_insert_with(|| {
                sig_labels.push(s);
                n
            })
        };
        let lhs_sig: Vec<u32> = lhs_meta.iter().map(|s| sig_of(&s.labels)).collect();
        let rhs_sig: Vec<u32> = rhs_meta.iter().map(|s| sig_of(&s.labels)).collect();
        let mut table = SeriesTable::default();
        let mut out_of = HashMap::new();
        if self.op.is_set() {
            for (i, s) in lhs_meta.iter().enumerate() {
                let id = table.series.len() as u32;
                table.series.push(s.clone());
                out_of.insert((i as u32, NONE), id);
            }
            if self.op == BinaryOp::Or {
                for (j, s) in rhs_meta.iter().enumerate() {
                    let id = table.series.len() as u32;
                    table.series.push(s.clone());
                    out_of.insert((NONE, j as u32), id);
                }
            }
        } else {
            let swap = m.card == Cardinality::OneToMany;
            let (many_meta, one_meta, many_sig, one_sig) = if swap {
                (&rhs_meta, &lhs_meta, &rhs_sig, &lhs_sig)
            } else {
                (&lhs_meta, &rhs_meta, &lhs_sig, &rhs_sig)
            };
            let mut one_by_sig: HashMap<u32, Vec<u32>> = HashMap::new();
            for (j, &s) in one_sig.iter().enumerate() {
                one_by_sig.entry(s).or_default().push(j as u32);
            }
            let drop = self.return_bool && self.ctx.delayed_name_removal;
            for (i, &s) in many_sig.iter().enumerate() {
                let many = &many_meta[i].labels;
                if let Some(ones) = one_by_sig.get(&s) {
                    for &j in ones {
                        let l = self.result_labels(many, &one_meta[j as usize].labels);
                        let id = table.intern(SeriesMeta { labels: l, drop_name: drop });
                        out_of.insert((i as u32, j), id);
                    }
                }
                if m.fill.rhs.is_some() {
                    let synth = many.match_labels(m.on, &m.labels);
                    let l = self.result_labels(many, &synth);
                    let id = table.intern(SeriesMeta { labels: l, drop_name: drop });
                    out_of.insert((i as u32, NONE), id);
                }
            }
            if m.fill.lhs.is_some() {
                for (j, one) in one_meta.iter().enumerate() {
                    let synth = one.labels.match_labels(m.on, &m.labels);
                    let l = self.result_labels(&synth, &one.labels);
                    let id = table.intern(SeriesMeta { labels: l, drop_name: drop });
                    out_of.insert((NONE, j as u32), id);
                }
            }
        }
        let mut out_by_first: Vec<smallvec::SmallVec<[(u32, u32); 1]>> =
            vec![smallvec::SmallVec::new(); lhs_meta.len().max(rhs_meta.len())];
        for (&(a, b), &id) in &out_of {
            if let Some(v) = out_by_first.get_mut(a as usize) {
                v.push((b, id));
            }
        }
        self.state = Some(State {
            lhs_meta,
            rhs_meta,
            lhs_sig,
            rhs_sig,
            sig_labels,
            out_of,
            out_by_first,
            meta: table.finish(),
        });
        Ok(())
    }

    fn set_step(&self, st: &State, l: Vec<Sample>, r: Vec<Sample>) -> Vec<Sample> {
        let out = |(a, b): (u32, u32)| st.out_id(a, b);
        match self.op {
            BinaryOp::And | BinaryOp::Unless => {
                let rsigs: HashSet<u32> = r.iter().map(|s| st.rhs_sig[s.id as usize]).collect();
                let want = self.op == BinaryOp::And;
                l.into_iter()
                    .filter(|s| rsigs.contains(&st.lhs_sig[s.id as usize]) == want)
                    .map(|s| Sample { id: out((s.id, NONE)), ..s })
                    .collect()
            }
            _ => {
                let lsigs: HashSet<u32> = l.iter().map(|s| st.lhs_sig[s.id as usize]).collect();
                let mut res: Vec<Sample> =
                    l.into_iter().map(|s| Sample { id: out((s.id, NONE)), ..s }).collect();
                res.extend(
                    r.into_iter()
                        .filter(|s| !lsigs.contains(&st.rhs_sig[s.id as usize]))
                        .map(|s| Sample { id: out((NONE, s.id)), ..s }),
                );
                res
            }
        }
    }

    fn arith_step(&self, st: &State, l: Vec<Sample>, r: Vec<Sample>) -> Result<Vec<Sample>, EvalError> {
        let m = &self.matching;
        if (l.is_empty() && r.is_empty())
            || ((l.is_empty() || r.is_empty()) && m.fill.lhs.is_none() && m.fill.rhs.is_none())
        {
            return Ok(Vec::new());
        }
        let swap = m.card == Cardinality::OneToMany;
        let (many, one, many_meta, one_meta, many_sig, one_sig) = if swap {
            (r, l, &st.rhs_meta, &st.lhs_meta, &st.rhs_sig, &st.lhs_sig)
        } else {
            (l, r, &st.lhs_meta, &st.rhs_meta, &st.lhs_sig, &st.rhs_sig)
        };
        // The "one" side by signature.
        let n_sigs = st.sig_labels.len();
        let mut one_at: Vec<u32> = vec![NONE; n_sigs];
        for (k, s) in one.iter().enumerate() {
            let sig = one_sig[s.id as usize];
            if one_at[sig as usize] != NONE {
                let prev = &one[one_at[sig as usize] as usize];
                let side = if swap { "left" } else { "right" };
                let (mut a, mut b) = (
                    one_meta[s.id as usize].labels.to_string(),
                    one_meta[prev.id as usize].labels.to_string(),
                );
                if a > b {
                    std::mem::swap(&mut a, &mut b);
                }
                let matched = one_meta[s.id as usize].labels.match_labels(m.on, &m.labels);
                return Err(EvalError::msg(format!(
                    "found duplicate series for the match group {matched} on the {side} hand-side of the operation: [{a}, {b}];many-to-many matching not allowed: matching labels must be unique on one side"
                )));
            }
            one_at[sig as usize] = k as u32;
        }
        let mut matched: (Vec<bool>, HashMap<u32, HashSet<u32>>) = (vec![false; n_sigs], HashMap::new());
        let mut out = Vec::with_capacity(many.len());
        type Matched = (Vec<bool>, HashMap<u32, HashSet<u32>>);
        type Operand<'x> = (u32, f64, Option<&'x Arc<crate::model::FloatHistogram>>);
        let do_op = |ms: Operand<'_>,
                     os: Operand<'_>,
                     sig: u32,
                     out: &mut Vec<Sample>,
                     matched: &mut Matched|
         -> Result<(), EvalError> {
            let (matched_one, matched_many) = matched;
            let (mut fl, mut fr) = (ms.1, os.1);
            let (mut hl, mut hr) = (ms.2, os.2);
            if swap {
                std::mem::swap(&mut fl, &mut fr);
                std::mem::swap(&mut hl, &mut hr);
            }
            let mut hvalue = None;
            let (mut value, keep) = if hl.is_some() || hr.is_some() || is_trim(self.op) {
                match hist_binop(self.op, fl, fr, hl.map(|h| &**h), hr.map(|h| &**h)) {
                    HistBinop::Histogram(h) => {
                        hvalue = Some(h);
                        (0.0, true)
                    }
                    HistBinop::Keep(k) => {
                        hvalue = hl.cloned();
                        (0.0, k)
                    }
                    HistBinop::Incompatible(a, b) => {
                        incompatible(self.ctx, self.op, a, b, self.span);
                        return Ok(());
                    }
                    HistBinop::Reconciled(h, operation) => {
                        self.ctx.annotate(Annotation::info(
                            format!("mismatched custom buckets were reconciled during {operation}"),
                            self.span,
                        ));
                        hvalue = Some(h);
                        (0.0, true)
                    }
                    HistBinop::CounterResetCollision(operation) => {
                        self.ctx.annotate(Annotation::warning(
                            format!("conflicting counter resets during histogram {operation}"),
                            self.span,
                        ));
                        return Ok(());
                    }
                    HistBinop::IncompatibleLayout => {
                        self.ctx.annotate(Annotation::warning(
                            format!(
                                "incompatible bucket layout encountered for binary operator {}",
                                self.op.as_str()
                            ),
                            self.span,
                        ));
                        return Ok(());
                    }
                    HistBinop::Unsupported => return Err(histogram_unsupported(self.op)),
                }
            } else {
                vector_elem_binop(self.op, fl, fr)
            };
            if self.return_bool {
                value = if keep { 1.0 } else { 0.0 };
                hvalue = None;
            }
            let id = st.out_id(ms.0, os.0);
            if m.card == Cardinality::OneToOne {
                if std::mem::replace(&mut matched_one[sig as usize], true) {
                    return Err(EvalError::msg(
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)",
                    ));
                }
            } else if !matched_many.entry(sig).or_default().insert(id) {
                return Err(EvalError::msg(
                    "multiple matches for labels: grouping labels must ensure unique matches",
                ));
            }
            if keep || self.return_bool {
                out.push(Sample { id, f: value, h: hvalue });
            }
            Ok(())
        };
        for s in &many {
            let sig = many_sig[s.id as usize];
            let at = one_at[sig as usize];
            match (at != NONE).then(|| &one[at as usize]) {
                Some(o) => {
                    do_op((s.id, s.f, s.h.as_ref()), (o.id, o.f, o.h.as_ref()), sig, &mut out, &mut matched)?;
                }
                None => {
                    if let Some(fill) = m.fill.rhs {
                        do_op((s.id, s.f, s.h.as_ref()), (NONE, fill, None), sig, &mut out, &mut matched)?;
                    }
                }
            }
        }
        if let Some(fill) = m.fill.lhs {
            for o in &one {
                let sig = one_sig[o.id as usize];
                let done = if m.card == Cardinality::OneToOne {
                    matched.0[sig as usize]
                } else {
                    matched.1.get(&sig).is_some_and(|s| !s.is_empty())
                };
                if done {
                    continue;
                }
                do_op((NONE, fill, None), (o.id, o.f, o.h.as_ref()), sig, &mut out, &mut matched)?;
            }
        }
        let _ = (many_meta, &st.sig_labels);
        Ok(out)
    }
}

impl Operator for VectorVectorOp<'_> {
    fn series(&mut self) -> Result<Arc<[SeriesMeta]>, EvalError> {
        if self.state.is_none() {
            self.setup()?;
        }
        Ok(self.state.as_ref().map(|s| s.meta.clone()).unwrap_or_else(|| Arc::from(Vec::new())))
    }

    fn next(&mut self) -> Result<Option<StepBatch>, EvalError> {
        if self.state.is_none() {
            self.setup()?;
        }
        let l = self.lhs.next()?;
        let r = self.rhs.next()?;
        let Some(mut lb) = l else { return Ok(None) };
        let mut rb = r.unwrap_or_default();
        let Some(st) = self.state.as_ref() else { return Ok(None) };
        for (k, step) in lb.iter_mut().enumerate() {
            let ls = std::mem::take(&mut step.samples);
            let rs = rb.get_mut(k).map(|s| std::mem::take(&mut s.samples)).unwrap_or_default();
            step.samples =
                if self.op.is_set() { self.set_step(st, ls, rs) } else { self.arith_step(st, ls, rs)? };
        }
        Ok(Some(lb))
    }
}
