//! Plan nodes to operators.

use std::sync::Arc;

use crate::exec::accounting::{NodeAccount, NodeKind};
use crate::exec::aggregate::AggregateExec;
use crate::exec::binary::{ScalarBinaryOp, VectorScalarOp, VectorVectorOp, next_scalar_pair};
use crate::exec::call::{
    AbsentOp, ClassicHistogramOp, ClassicMode, ElementFn, ElementOp, Relabel, RelabelOp, SortBy, SortOp,
    absent_labels,
};
use crate::exec::count_values::CountValuesOp;
use crate::exec::labels_ops::name_dropped;
use crate::exec::range::{MatrixSource, RangeKind, RangeOp};
use crate::exec::scalar::{ScalarFnOp, ScalarOp, ScalarSource, VectorFnOp};
use crate::exec::select::{SelectMode, VectorSelectorOp};
use crate::exec::step_invariant::StepInvariantOp;
use crate::exec::{Annotation, BoxOp, EvalError, ExecContext, Grid, Operator, SeriesMeta, StepBatch};
use crate::functions::{DateFn, RangeFn, go_max, go_min, simple_float_fn};
use crate::model::Labels;
use crate::parser::{AggregateOp, ValueType};
use crate::plan::{CallNode, Node};

/// Builds the operator tree evaluating `node` at every step of `grid`.
///
/// # Errors
///
/// [`EvalError::Unsupported`] for features not implemented yet, and Prometheus's errors for
/// invalid arguments detected before evaluation.
pub fn build<'a>(node: &Node, grid: Grid, ctx: &'a ExecContext<'a>) -> Result<BoxOp<'a>, EvalError> {
    let accounting = ctx.limits.accounting();
    let (account, mark) = accounting.begin(NodeKind::of(node), grid);
    let op = build_node(node, grid, ctx, &account)?;
    accounting.finish(&account, mark);
    Ok(Box::new(Counted { op, account }))
}

/// Reports every batch of an operator to its node's account.
struct Counted<'a> {
    op: BoxOp<'a>,
    account: Arc<NodeAccount>,
}

impl Operator for Counted<'_> {
    fn series(&mut self) -> Result<Arc<[SeriesMeta]>, EvalError> {
        self.op.series()
    }

    fn next(&mut self) -> Result<Option<StepBatch>, EvalError> {
        let batch = self.op.next()?;
        if let Some(b) = &batch {
            self.account.record_batch(b)?;
        }
        Ok(batch)
    }
}

fn build_node<'a>(
    node: &Node,
    grid: Grid,
    ctx: &'a ExecContext<'a>,
    account: &Arc<NodeAccount>,
) -> Result<BoxOp<'a>, EvalError> {
    Ok(match node {
        Node::Number(v) => Box::new(ScalarOp::new(ScalarSource::Const(*v), grid)),
        Node::String(_) => return Err(EvalError::msg("unexpected string in this position")),
        Node::VectorSelector(sel) => {
            Box::new(VectorSelectorOp::new(ctx, sel.clone(), grid, SelectMode::Value))
        }
        Node::MatrixSelector(_) | Node::Subquery(_) => {
            return Err(EvalError::msg("range vector cannot be evaluated as an instant vector"));
        }
        Node::StepInvariant(inner) => match &**inner {
            Node::Number(_) | Node::String(_) => build(inner, grid, ctx)?,
            _ => {
                let one = Grid { start: grid.start, end: grid.start, interval: grid.interval };
                Box::new(StepInvariantOp { child: build(inner, one, ctx)?, grid, cached: None, next_step: 0 })
            }
        },
        Node::Negate(e, _) => Box::new(NegateOp {
            ctx,
            child: build(e, grid, ctx)?,
            vector: e.value_type() == ValueType::Vector,
        }),
        Node::Binary(b) => {
            let lhs = build(&b.lhs, grid, ctx)?;
            let rhs = build(&b.rhs, grid, ctx)?;
            match (b.lhs_type, b.rhs_type) {
                (ValueType::Scalar, ValueType::Scalar) => Box::new(ScalarBinaryOp { op: b.op, lhs, rhs }),
                (ValueType::Vector, ValueType::Scalar) => Box::new(VectorScalarOp {
                    ctx,
                    op: b.op,
                    vector: lhs,
                    scalar: rhs,
                    swap: false,
                    return_bool: b.return_bool,
                    span: b.span,
                }),
                (ValueType::Scalar, ValueType::Vector) => Box::new(VectorScalarOp {
                    ctx,
                    op: b.op,
                    vector: rhs,
                    scalar: lhs,
                    swap: true,
                    return_bool: b.return_bool,
                    span: b.span,
                }),
                _ => {
                    let matching = b.matching.clone().unwrap_or(crate::parser::VectorMatching {
                        card: if b.op.is_set() {
                            crate::parser::Cardinality::ManyToMany
                        } else {
                            crate::parser::Cardinality::OneToOne
                        },
                        labels: Vec::new(),
                        on: false,
                        include: Vec::new(),
                        fill: Default::default(),
                    });
                    Box::new(VectorVectorOp::new(ctx, b.op, lhs, rhs, matching, b.return_bool, b.span))
                }
            }
        }
        Node::Aggregate(a) => {
            let child = build(&a.expr, grid, ctx)?;
            if a.op == AggregateOp::CountValues {
                let label = match &a.param {
                    Some(Node::String(s)) => s.clone(),
                    _ => return Err(EvalError::msg("count_values needs a string parameter")),
                };
                Box::new(CountValuesOp {
                    child,
                    label,
                    grouping: a.grouping.clone(),
                    without: a.without,
                    meta: None,
                    batches: Default::default(),
                })
            } else {
                let param = match &a.param {
                    Some(p) => Some(build(p, grid, ctx)?),
                    None => None,
                };
                Box::new(AggregateExec {
                    ctx,
                    op: a.op,
                    child,
                    param,
                    grouping: a.grouping.clone(),
                    without: a.without,
                    span: a.span,
                    expr_span: a.expr_span,
                    param_span: a.param_span,
                    group_of: Vec::new(),
                    n_groups: 0,
                    in_meta: None,
                    meta: None,
                    params: Vec::new(),
                    step_index: 0,
                    empty: false,
                })
            }
        }
        Node::Call(c) => build_call(c, grid, ctx, account)?,
    })
}

fn strings(args: &[Node]) -> Vec<String> {
    args.iter()
        .map(|a| match a {
            Node::String(s) => s.value.clone(),
            _ => String::new(),
        })
        .collect()
}

fn build_call<'a>(
    c: &CallNode,
    grid: Grid,
    ctx: &'a ExecContext<'a>,
    account: &Arc<NodeAccount>,
) -> Result<BoxOp<'a>, EvalError> {
    let name = c.func.name;
    // Functions over a range vector.
    if let Some(idx) = c.args.iter().position(|a| matches!(a, Node::MatrixSelector(_) | Node::Subquery(_))) {
        let source = match &c.args[idx] {
            Node::MatrixSelector(m) => {
                const ANCHORED_SAFE: [&str; 5] = ["changes", "delta", "increase", "rate", "resets"];
                const SMOOTHED_SAFE: [&str; 3] = ["delta", "increase", "rate"];
                if m.selector.anchored && !ANCHORED_SAFE.contains(&name) {
                    return Err(EvalError::msg(format!(
                        "anchored modifier can only be used with: {} - not with {name}",
                        ANCHORED_SAFE.join(", ")
                    )));
                }
                if m.selector.smoothed && !SMOOTHED_SAFE.contains(&name) {
                    return Err(EvalError::msg(format!(
                        "smoothed modifier can only be used with: {} - not with {name}",
                        SMOOTHED_SAFE.join(", ")
                    )));
                }
                MatrixSource::Selector(m.clone())
            }
            Node::Subquery(s) => MatrixSource::Subquery(s.clone()),
            _ => return Err(EvalError::msg("expected a range vector")),
        };
        let mut scalar_args = Vec::new();
        for (i, a) in c.args.iter().enumerate() {
            if i != idx {
                scalar_args.push(build(a, grid, ctx)?);
            }
        }
        let kind = if name == "absent_over_time" {
            RangeKind::Absent
        } else {
            match RangeFn::from_name(name) {
                Some(f) => RangeKind::Func(f),
                None => return Err(EvalError::Unsupported(format!("function {name}"))),
            }
        };
        let absent = match &c.args[idx] {
            Node::MatrixSelector(m) => absent_labels(&m.selector.matchers),
            _ => Labels::empty(),
        };
        return Ok(Box::new(RangeOp {
            ctx,
            kind,
            source,
            grid,
            scalar_args,
            absent_labels: absent,
            func_name: name,
            arg_span: c.arg_spans.get(idx).copied().unwrap_or(c.span),
            data: Vec::new(),
            use_start_timestamps: ctx.use_start_timestamps,
            meta: None,
            next_step: 0,
            sliding: Vec::new(),
            limit_cursors: Vec::new(),
            counter_noted: Vec::new(),
            account: account.clone(),
            hist_weights: Vec::new(),
        }));
    }
    let arg = |i: usize| -> Result<BoxOp<'a>, EvalError> {
        match c.args.get(i) {
            Some(a) => build(a, grid, ctx),
            None => Err(EvalError::msg(format!("missing argument {i} of {name}"))),
        }
    };
    let element = |func: ElementFn, scalars: std::ops::Range<usize>| -> Result<BoxOp<'a>, EvalError> {
        let child = arg(0)?;
        let mut s = Vec::new();
        for i in scalars {
            if i < c.args.len() {
                s.push(arg(i)?);
            }
        }
        Ok(Box::new(ElementOp { ctx, func, child, scalars: s }))
    };
    if let Some(f) = simple_float_fn(name) {
        return element(ElementFn::Simple(f), 0..0);
    }
    if let Some(d) = DateFn::from_name(name) {
        if c.args.is_empty() {
            return Ok(Box::new(ScalarOp::new(ScalarSource::Date(d), grid)));
        }
        return element(ElementFn::Date(d), 0..0);
    }
    Ok(match name {
        "time" => Box::new(ScalarOp::new(ScalarSource::Time, grid)),
        "pi" => Box::new(ScalarOp::new(ScalarSource::Const(std::f64::consts::PI), grid)),
        "vector" => Box::new(VectorFnOp { child: arg(0)? }),
        "scalar" => Box::new(ScalarFnOp { child: arg(0)? }),
        "min_of" | "max_of" => Box::new(ScalarPairOp {
            lhs: arg(0)?,
            rhs: arg(1)?,
            f: if name == "min_of" { go_min } else { go_max },
        }),
        "round" => element(ElementFn::Round, 1..2)?,
        "clamp" => element(ElementFn::Clamp, 1..3)?,
        "clamp_min" => element(ElementFn::ClampMin, 1..2)?,
        "clamp_max" => element(ElementFn::ClampMax, 1..2)?,
        "histogram_count" => element(ElementFn::HistogramCount, 0..0)?,
        "histogram_sum" => element(ElementFn::HistogramSum, 0..0)?,
        "histogram_avg" => element(ElementFn::HistogramAvg, 0..0)?,
        "histogram_stddev" => element(ElementFn::HistogramStddev, 0..0)?,
        "histogram_stdvar" => element(ElementFn::HistogramStdvar, 0..0)?,
        "timestamp" => match c.args.first() {
            Some(Node::VectorSelector(sel)) => {
                Box::new(VectorSelectorOp::new(ctx, sel.clone(), grid, SelectMode::Timestamp))
            }
            _ => element(ElementFn::Timestamp, 0..0)?,
        },
        "start_timestamp" => match c.args.first() {
            Some(Node::VectorSelector(sel)) => {
                Box::new(VectorSelectorOp::new(ctx, sel.clone(), grid, SelectMode::StartTimestamp))
            }
            _ => element(ElementFn::Nothing, 0..0)?,
        },
        "sort" | "sort_desc" | "sort_by_label" | "sort_by_label_desc" => {
            if grid.start != grid.end {
                ctx.annotate(Annotation::warning(
                    "sort is ineffective for range queries since results are always ordered by labels",
                    c.span,
                ));
            }
            let desc = name.ends_with("_desc");
            let by = if name.starts_with("sort_by_label") {
                SortBy::Labels { desc, names: strings(&c.args[1..]) }
            } else {
                SortBy::Value { desc }
            };
            Box::new(SortOp { child: arg(0)?, by, meta: None })
        }
        "label_replace" | "label_join" => {
            let utf8: Vec<bool> =
                c.args[1..].iter().map(|a| !matches!(a, Node::String(s) if !s.is_utf8())).collect();
            let rule = Relabel::new(name, &strings(&c.args[1..]), &utf8)?;
            Box::new(RelabelOp { child: arg(0)?, rule, mapping: Vec::new(), meta: None })
        }
        "info" => {
            let (at, offset) =
                c.args.first().and_then(crate::exec::info::first_selector_time).unwrap_or((None, 0));
            let label_selector = match c.args.get(1) {
                Some(Node::VectorSelector(s)) => Some(s.matchers.clone()),
                _ => None,
            };
            Box::new(crate::exec::info::InfoOp {
                ctx,
                child: arg(0)?,
                label_selector,
                at,
                offset,
                grid,
                meta: None,
                batches: Default::default(),
            })
        }
        "absent" => {
            let labels = match c.args.first() {
                Some(Node::VectorSelector(sel)) => absent_labels(&sel.matchers),
                _ => Labels::empty(),
            };
            Box::new(AbsentOp { child: arg(0)?, labels })
        }
        "histogram_quantile" | "histogram_fraction" | "histogram_quantiles" => {
            let (mode, scalar_idx, vec_idx): (ClassicMode, Vec<usize>, usize) = match name {
                "histogram_quantile" => (ClassicMode::Quantile, vec![0], 1),
                "histogram_fraction" => (ClassicMode::Fraction, vec![0, 1], 2),
                _ => (
                    ClassicMode::Quantiles { label: strings(&c.args[1..2]).concat() },
                    (2..c.args.len()).collect(),
                    0,
                ),
            };
            let mut scalars = Vec::new();
            let mut scalar_spans = Vec::new();
            for i in scalar_idx {
                scalars.push(arg(i)?);
                scalar_spans.push(c.arg_spans.get(i).copied().unwrap_or(c.span));
            }
            Box::new(ClassicHistogramOp {
                ctx,
                mode,
                scalars,
                scalar_spans,
                child: arg(vec_idx)?,
                arg_span: c.arg_spans.get(vec_idx).copied().unwrap_or(c.span),
                input: Vec::new(),
                n_groups: 0,
                group_labels: Vec::new(),
                scalar_values: Vec::new(),
                quantiles: Vec::new(),
                in_meta: None,
                meta: None,
                step_index: 0,
            })
        }
        other => return Err(EvalError::Unsupported(format!("function {other}"))),
    })
}

/// Unary minus.
struct NegateOp<'a> {
    ctx: &'a ExecContext<'a>,
    child: BoxOp<'a>,
    vector: bool,
}

impl Operator for NegateOp<'_> {
    fn series(&mut self) -> Result<Arc<[SeriesMeta]>, EvalError> {
        let m = self.child.series()?;
        if !self.vector {
            return Ok(m);
        }
        let delayed = self.ctx.delayed_name_removal;
        Ok(m.iter().map(|s| SeriesMeta { drop_name: true, ..name_dropped(s, delayed) }).collect())
    }

    fn next(&mut self) -> Result<Option<StepBatch>, EvalError> {
        let Some(mut batch) = self.child.next()? else { return Ok(None) };
        for step in batch.iter_mut() {
            for s in step.samples.iter_mut() {
                if let Some(h) = s.h.as_mut() {
                    Arc::make_mut(h).mul(-1.0);
                    continue;
                }
                s.f = -s.f;
            }
        }
        Ok(Some(batch))
    }
}

/// A function of two scalars (`min_of`, `max_of`).
struct ScalarPairOp<'a> {
    lhs: BoxOp<'a>,
    rhs: BoxOp<'a>,
    f: fn(f64, f64) -> f64,
}

impl Operator for ScalarPairOp<'_> {
    fn series(&mut self) -> Result<Arc<[SeriesMeta]>, EvalError> {
        self.rhs.series()?;
        self.lhs.series()
    }

    fn next(&mut self) -> Result<Option<StepBatch>, EvalError> {
        next_scalar_pair(&mut self.lhs, &mut self.rhs, self.f)
    }
}
