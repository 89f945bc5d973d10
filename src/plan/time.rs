//! Lowering the syntax tree to plan nodes, resolving every time-related construct.

use crate::parser::{
    AggregateExpr, AtModifier, BinaryOp, Call, DurationExpr, DurationSpec, Expr, Span, SubqueryExpr, UnaryOp,
    VectorSelector,
};
use crate::plan::{
    AggregateNode, BinaryNode, CallNode, MatrixSelector, Node, PlanError, PlanOptions, Selector, Subquery,
};

/// The time parameters of one query, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueryParams {
    /// The first evaluation time.
    pub start: i64,
    /// The last evaluation time.
    pub end: i64,
    /// The step between evaluations; 0 for an instant query.
    pub step: i64,
    /// How far back an instant selector looks for a sample.
    pub lookback: i64,
    /// The subquery resolution used when a subquery does not name one.
    pub default_subquery_step: i64,
}

impl QueryParams {
    /// An instant query at `t` with the default lookback (5m) and subquery step (1m).
    pub fn instant(t: i64) -> QueryParams {
        QueryParams { start: t, end: t, step: 0, lookback: 300_000, default_subquery_step: 60_000 }
    }

    /// A range query with the default lookback (5m) and subquery step (1m).
    pub fn range(start: i64, end: i64, step: i64) -> QueryParams {
        QueryParams { start, end, step, lookback: 300_000, default_subquery_step: 60_000 }
    }
}

/// Lowers expressions for one query.
pub(crate) struct Planner {
    params: QueryParams,
    opts: PlanOptions,
    /// Whether selectors lowered now only need histogram statistics (see
    /// [`Selector::stats_only`]).
    stats_only: bool,
}

impl Planner {
    pub(crate) fn new(params: QueryParams, opts: PlanOptions) -> Planner {
        Planner { params, opts, stats_only: false }
    }

    pub(crate) fn lower(&mut self, expr: &Expr) -> Result<Node, PlanError> {
        Ok(match expr {
            Expr::Number(n) => Node::Number(n.value),
            Expr::String(s) => Node::String(s.clone()),
            Expr::VectorSelector(v) => Node::VectorSelector(self.selector(v)?),
            Expr::MatrixSelector(m) => {
                let selector = self.selector(&m.vector)?;
                let range = self.duration(&m.range, false)?;
                Node::MatrixSelector(MatrixSelector { selector, range, span: m.span })
            }
            Expr::Subquery(s) => self.subquery(s)?,
            Expr::Paren(p) => self.lower(&p.expr)?,
            Expr::Unary(u) => {
                let inner = self.lower(&u.expr)?;
                match u.op {
                    UnaryOp::Pos => inner,
                    UnaryOp::Neg => Node::Negate(Box::new(inner), u.span),
                }
            }
            Expr::Binary(b) => {
                // Trimming needs the buckets.
                let outer = self.stats_only;
                if matches!(b.op, BinaryOp::TrimUpper | BinaryOp::TrimLower) {
                    self.stats_only = false;
                }
                let (lhs, rhs) = (self.lower(&b.lhs), self.lower(&b.rhs));
                self.stats_only = outer;
                Node::Binary(Box::new(BinaryNode {
                    op: b.op,
                    lhs: lhs?,
                    rhs: rhs?,
                    lhs_type: b.lhs.value_type(),
                    rhs_type: b.rhs.value_type(),
                    return_bool: b.return_bool,
                    matching: b.matching.clone(),
                    span: expr.span(),
                }))
            }
            Expr::Aggregate(a) => self.aggregate(a)?,
            Expr::Call(c) => self.call(c)?,
        })
    }

    fn aggregate(&mut self, a: &AggregateExpr) -> Result<Node, PlanError> {
        let mut grouping = a.grouping.clone();
        grouping.sort();
        let param = match &a.param {
            Some(p) => Some(self.lower(p)?),
            None => None,
        };
        Ok(Node::Aggregate(Box::new(AggregateNode {
            op: a.op,
            expr: self.lower(&a.expr)?,
            param,
            grouping,
            without: a.without,
            span: a.span,
            expr_span: unparen(&a.expr).span(),
            param_span: a.param.as_deref().map(|p| unparen(p).span()).unwrap_or_default(),
        })))
    }

    fn call(&mut self, c: &Call) -> Result<Node, PlanError> {
        let p = self.params;
        match c.func.name {
            "start" => return Ok(Node::Number(p.start as f64 / 1000.0)),
            "end" => return Ok(Node::Number(p.end as f64 / 1000.0)),
            "range" => return Ok(Node::Number((p.end - p.start) as f64 / 1000.0)),
            "step" => {
                let v = if p.start == p.end { 0.0 } else { p.step as f64 / 1000.0 };
                return Ok(Node::Number(v));
            }
            _ => {}
        }
        // Prometheus's detectHistogramStatsDecoding: below histogram_count/sum/avg the selectors
        // only need counts and sums; functions needing the buckets undo that.
        let outer = self.stats_only;
        match c.func.name {
            "histogram_count" | "histogram_sum" | "histogram_avg" => self.stats_only = true,
            "histogram_quantile" | "histogram_quantiles" | "histogram_fraction" => self.stats_only = false,
            _ => {}
        }
        let args = c.args.iter().map(|a| self.lower(a)).collect::<Result<Vec<_>, _>>();
        self.stats_only = outer;
        let args = args?;
        let arg_spans = c.args.iter().map(|a| unparen(a).span()).collect();
        Ok(Node::Call(Box::new(CallNode { func: c.func, args, span: c.span, arg_spans })))
    }

    fn subquery(&mut self, s: &SubqueryExpr) -> Result<Node, PlanError> {
        let range = self.duration(&s.range, false)?;
        let step = match &s.step {
            Some(d) => self.duration(d, false)?,
            None => self.params.default_subquery_step,
        };
        let offset = match &s.offset {
            Some(d) => self.duration(d, true)?,
            None => 0,
        };
        self.check_offset(offset)?;
        let at = self.at(s.at)?;
        // A subquery needs the buckets for its own counter reset detection.
        let outer = std::mem::replace(&mut self.stats_only, false);
        let expr = self.lower(&s.expr);
        self.stats_only = outer;
        Ok(Node::Subquery(Box::new(Subquery { expr: expr?, range, step, offset, at, span: s.span })))
    }

    fn selector(&mut self, v: &VectorSelector) -> Result<Selector, PlanError> {
        let offset = match &v.offset {
            Some(d) => self.duration(d, true)?,
            None => 0,
        };
        self.check_offset(offset)?;
        Ok(Selector {
            name: v.name.clone(),
            matchers: v.matchers.clone(),
            offset,
            at: self.at(v.at)?,
            anchored: v.anchored,
            smoothed: v.smoothed,
            stats_only: self.stats_only,
            mint: 0,
            maxt: 0,
            span: v.span,
        })
    }

    fn check_offset(&self, offset: i64) -> Result<(), PlanError> {
        if offset < 0 && !self.opts.enable_negative_offset {
            return Err(PlanError("negative offset is disabled".into()));
        }
        Ok(())
    }

    fn at(&self, at: Option<AtModifier>) -> Result<Option<i64>, PlanError> {
        if at.is_some() && !self.opts.enable_at_modifier {
            return Err(PlanError("@ modifier is disabled".into()));
        }
        Ok(at.map(|a| match a {
            AtModifier::Timestamp(t) => t,
            AtModifier::Start => self.params.start,
            AtModifier::End => self.params.end,
        }))
    }

    /// Evaluates a duration to milliseconds, as Prometheus's duration visitor does.
    fn duration(&self, d: &DurationSpec, allow_negative: bool) -> Result<i64, PlanError> {
        let e = match d {
            DurationSpec::Fixed(ms) => return Ok(*ms),
            DurationSpec::Expr(e) => e,
        };
        let span = duration_span(e);
        let pos = |msg: &str| PlanError(format!("{}:{}: {msg}", span.start, span.end));
        let secs = self.eval_duration(e)?;
        if secs.is_nan() || secs.is_infinite() {
            return Err(pos("duration is NaN or infinite"));
        }
        if secs <= 0.0 && !allow_negative {
            return Err(pos("duration must be greater than 0"));
        }
        let limit = 9.223372036854776e18 / 1e9;
        if secs > limit || secs < -limit {
            return Err(pos("duration is out of range"));
        }
        Ok((secs * 1000.0) as i64)
    }

    fn eval_duration(&self, e: &DurationExpr) -> Result<f64, PlanError> {
        let p = self.params;
        Ok(match e {
            DurationExpr::Number(n) => n.value,
            DurationExpr::Unary { op, expr, .. } => {
                let v = self.eval_duration(expr)?;
                if *op == UnaryOp::Neg { -v } else { v }
            }
            DurationExpr::Paren { expr, .. } => self.eval_duration(expr)?,
            DurationExpr::Step(_) => p.step as f64 / 1000.0,
            DurationExpr::Range(_) => (p.end - p.start) as f64 / 1000.0,
            DurationExpr::Min { lhs, rhs, .. } => go_min(self.eval_duration(lhs)?, self.eval_duration(rhs)?),
            DurationExpr::Max { lhs, rhs, .. } => go_max(self.eval_duration(lhs)?, self.eval_duration(rhs)?),
            DurationExpr::Binary { op, lhs, rhs } => {
                let (l, r) = (self.eval_duration(lhs)?, self.eval_duration(rhs)?);
                let span = duration_span(e);
                match op {
                    BinaryOp::Add => l + r,
                    BinaryOp::Sub => l - r,
                    BinaryOp::Mul => l * r,
                    BinaryOp::Div if r == 0.0 => {
                        return Err(PlanError(format!("{}:{}: division by zero", span.start, span.end)));
                    }
                    BinaryOp::Div => l / r,
                    BinaryOp::Mod if r == 0.0 => {
                        return Err(PlanError(format!("{}:{}: modulo by zero", span.start, span.end)));
                    }
                    BinaryOp::Mod => crate::functions::gomath::fmod(l, r),
                    BinaryOp::Pow => crate::functions::gomath::pow(l, r),
                    other => {
                        return Err(PlanError(format!(
                            "unexpected duration expression operator {:?}",
                            other.as_str()
                        )));
                    }
                }
            }
        })
    }
}

/// Go's `math.Min`: NaN wins, and -0 is smaller than +0.
fn go_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == b && a == 0.0 {
        if a.is_sign_negative() { a } else { b }
    } else if a < b {
        a
    } else {
        b
    }
}

/// Go's `math.Max`.
fn go_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else if a == b && a == 0.0 {
        if a.is_sign_positive() { a } else { b }
    } else if a > b {
        a
    } else {
        b
    }
}

fn duration_span(e: &DurationExpr) -> Span {
    match e {
        DurationExpr::Number(n) => n.span,
        DurationExpr::Unary { span, .. }
        | DurationExpr::Paren { span, .. }
        | DurationExpr::Min { span, .. }
        | DurationExpr::Max { span, .. } => *span,
        DurationExpr::Step(s) | DurationExpr::Range(s) => *s,
        DurationExpr::Binary { lhs, rhs, .. } => duration_span(lhs).to(duration_span(rhs)),
    }
}

fn unparen(e: &Expr) -> &Expr {
    match e {
        Expr::Paren(p) => unparen(&p.expr),
        other => other,
    }
}

/// Fills in every selector's absolute `[mint, maxt]`, following Prometheus's
/// `getTimeRangesForSelector`.
pub(crate) fn resolve_ranges(root: Node, params: &QueryParams) -> Node {
    walk_ranges(root, params.start, params.end, params.lookback)
}

fn walk_ranges(node: Node, start: i64, end: i64, lookback: i64) -> Node {
    match node {
        Node::VectorSelector(mut s) => {
            let (lo, hi) = s.at.map_or((start, end), |a| (a, a));
            s.mint = lo - (lookback - 1) - s.offset;
            s.maxt = hi - s.offset + if s.smoothed { lookback } else { 0 };
            Node::VectorSelector(s)
        }
        Node::MatrixSelector(mut m) => {
            let s = &mut m.selector;
            let (lo, hi) = s.at.map_or((start, end), |a| (a, a));
            let extra = if s.anchored || s.smoothed { lookback } else { 0 };
            s.mint = lo - (m.range + extra - 1) - s.offset;
            s.maxt = hi - s.offset + if s.smoothed { lookback } else { 0 };
            Node::MatrixSelector(m)
        }
        Node::Subquery(mut sq) => {
            let (lo, hi) = sq.at.map_or((start, end), |a| (a, a));
            let (lo, hi) = (lo - sq.offset - sq.range, hi - sq.offset);
            let inner = std::mem::replace(&mut sq.expr, Node::Number(0.0));
            sq.expr = walk_ranges(inner, lo, hi, lookback);
            Node::Subquery(sq)
        }
        other => other.map_children(&mut |c| walk_ranges(c, start, end, lookback)),
    }
}

/// Functions whose value depends on the evaluation time even when every selector has `@`
/// (upstream's `AtModifierUnsafeFunctions`); the promqltest runner uses the same list.
pub(crate) const AT_UNSAFE: &[&str] = &[
    "days_in_month",
    "day_of_month",
    "day_of_week",
    "day_of_year",
    "end",
    "hour",
    "minute",
    "month",
    "predict_linear",
    "year",
    "range",
    "start",
    "step",
    "time",
    "timestamp",
];

/// Marks the highest step-invariant subtrees, as Prometheus's `PreprocessExpr` does.
pub(crate) fn wrap_step_invariant(root: Node) -> Node {
    let (root, _, wrap) = invariant(root);
    if wrap { Node::StepInvariant(Box::new(root)) } else { root }
}

fn wrap_if(node: Node, wrap: bool) -> Node {
    if wrap { Node::StepInvariant(Box::new(node)) } else { node }
}

/// Returns the rewritten node, whether it is step invariant, and whether it should be wrapped.
fn invariant(node: Node) -> (Node, bool, bool) {
    match node {
        Node::VectorSelector(s) => {
            let inv = s.at.is_some();
            (Node::VectorSelector(s), inv, inv)
        }
        Node::MatrixSelector(m) => {
            let inv = m.selector.at.is_some();
            (Node::MatrixSelector(m), inv, false)
        }
        Node::Number(_) | Node::String(_) => (node, true, false),
        Node::StepInvariant(_) => (node, true, false),
        Node::Negate(e, span) => {
            let (e, inv, wrap) = invariant(*e);
            (Node::Negate(Box::new(e), span), inv, wrap)
        }
        Node::Aggregate(mut a) => {
            let inner = std::mem::replace(&mut a.expr, Node::Number(0.0));
            let (e, inv, wrap) = invariant(inner);
            a.expr = e;
            (Node::Aggregate(a), inv, wrap)
        }
        Node::Binary(mut b) => {
            let l = std::mem::replace(&mut b.lhs, Node::Number(0.0));
            let r = std::mem::replace(&mut b.rhs, Node::Number(0.0));
            let (l, linv, lwrap) = invariant(l);
            let (r, rinv, rwrap) = invariant(r);
            if linv && rinv {
                b.lhs = l;
                b.rhs = r;
                return (Node::Binary(b), true, true);
            }
            b.lhs = wrap_if(l, lwrap);
            b.rhs = wrap_if(r, rwrap);
            (Node::Binary(b), false, false)
        }
        Node::Call(mut c) => {
            let mut inv = !AT_UNSAFE.contains(&c.func.name);
            let mut timestamp_safe = c.func.name == "timestamp";
            let args = std::mem::take(&mut c.args);
            let mut out = Vec::with_capacity(args.len());
            let mut wraps = Vec::with_capacity(args.len());
            for a in args {
                let is_vs = matches!(a, Node::VectorSelector(_));
                let (a, ainv, awrap) = invariant(a);
                inv &= ainv;
                if !ainv || !is_vs {
                    timestamp_safe = false;
                }
                out.push(a);
                wraps.push(awrap);
            }
            if inv || timestamp_safe {
                c.args = out;
                return (Node::Call(c), true, true);
            }
            c.args = out.into_iter().zip(wraps).map(|(a, w)| wrap_if(a, w)).collect();
            (Node::Call(c), false, false)
        }
        Node::Subquery(mut sq) => {
            let inner = std::mem::replace(&mut sq.expr, Node::Number(0.0));
            let (e, inv, _) = invariant(inner);
            let already = matches!(e, Node::StepInvariant(_));
            sq.expr = wrap_if(e, inv && !already);
            let inv = sq.at.is_some();
            (Node::Subquery(sq), inv, false)
        }
    }
}
