//! The series-major ("dense") evaluator: for plans made only of the common node kinds, every
//! series is computed over all steps in one loop and written straight into its output column,
//! instead of the step-major operator protocol's batches of per-step samples.
//!
//! It answers exactly what the operator path answers: the same float algorithms in the same
//! order of operations per (series or group, step), the same series order, the same labels and
//! annotations, the same sample-limit counts. Whenever it cannot promise that — a node kind it
//! does not implement, native histograms or start timestamps in the data, a situation where the
//! operator path would raise an error (duplicate label sets, many-to-many matching, invalid
//! parameters, limits) — it gives up before anything becomes visible (annotations are buffered,
//! the sample limit is settled at the end) and the engine runs the operator path instead, which
//! then produces the answer or the error.
//!
//! Values between nodes are [`Column`]s: a series' labels and its points, one per step where
//! it has a value, with the step's time. Within a step, the order in which operators would have
//! produced the samples is the order of the columns, unless the vector is marked unordered
//! (`topk`/`bottomk` output), in which case nodes whose result depends on that order give up.

mod aggregate;
mod binary;
mod range;
mod select;

use hashbrown::HashMap;

use crate::exec::{Annotation, EvalError, ExecContext, Grid, STEPS_PER_BATCH, SeriesMeta, final_labels};
use crate::functions::simple_float_fn;
use crate::model::{FPoint, Labels, Sample, Series, Value};
use crate::parser::{AggregateOp, ValueType};
use crate::plan::Node;

/// One series of an intermediate result: its labels and its points at the steps where it has a
/// value (the point's time is the step's time).
pub(crate) struct Column {
    meta: SeriesMeta,
    pts: Vec<FPoint>,
}

/// An instant vector over all steps.
pub(crate) struct Vector {
    series: Vec<Column>,
    /// Whether every step's samples come in column order (false after `topk`/`bottomk`).
    ordered: bool,
}

/// The step indexes of ascending step times, found by stepping forward instead of dividing.
struct StepWalk {
    k: usize,
    t: i64,
    interval: i64,
}

impl StepWalk {
    /// A walker from the first step of `grid`.
    fn new(grid: Grid) -> StepWalk {
        StepWalk { k: 0, t: grid.start, interval: grid.interval }
    }

    /// The index of step time `t`, not before the previous one asked.
    #[inline]
    fn index(&mut self, t: i64) -> usize {
        while self.t < t {
            self.t += self.interval;
            self.k += 1;
        }
        self.k
    }
}

/// The dense path cannot answer this query exactly; the operator path must.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fallback;

impl From<EvalError> for Fallback {
    fn from(_: EvalError) -> Fallback {
        Fallback
    }
}

type Res<T> = Result<T, Fallback>;

/// An annotation with the batch and node (in the operator path's pull order) that would have
/// raised it, so that they are raised in the operator path's order.
struct Note {
    batch: usize,
    node: usize,
    annotation: Annotation,
}

/// The state of one dense evaluation.
pub(crate) struct Dense<'c, 'a> {
    ctx: &'c ExecContext<'a>,
    grid: Grid,
    notes: Vec<Note>,
    /// Points and series loaded by the selectors so far (for the sample-limit bound).
    loaded: (i64, i64),
    /// The pre-order number of the next node evaluated.
    next_node: usize,
}

/// Evaluates `root` over `grid` series by series, or returns `None` when the operator path must
/// answer (see the module documentation). `instant` asks for an instant query's vector.
pub(crate) fn evaluate(ctx: &ExecContext<'_>, root: &Node, grid: Grid, instant: bool) -> Option<Value> {
    if root.value_type() != ValueType::Vector || !supported(root) {
        return None;
    }
    let mut d = Dense { ctx, grid, notes: Vec::new(), loaded: (0, 0), next_node: 0 };
    let v = d.vector(root).ok()?;
    if instant && !v.ordered {
        return None;
    }
    let delayed = ctx.delayed_name_removal;
    // Final labels; equal label sets would be merged (or rejected) by the operator path.
    let mut seen: HashMap<Labels, usize> = HashMap::with_capacity(v.series.len());
    let mut out: Vec<(Labels, Vec<FPoint>)> = Vec::with_capacity(v.series.len());
    for c in v.series {
        if c.pts.is_empty() {
            continue;
        }
        let labels = final_labels(&c.meta, delayed);
        if seen.insert(labels.clone(), out.len()).is_some() {
            return None;
        }
        out.push((labels, c.pts));
    }
    d.check_limit().ok()?;
    d.raise_notes();
    if instant {
        let t = grid.start;
        return Some(Value::Vector(
            out.into_iter()
                .filter_map(|(labels, pts)| pts.first().map(|p| Sample { labels, t, f: p.f, h: None }))
                .collect(),
        ));
    }
    let mut series: Vec<Series> =
        out.into_iter().map(|(labels, floats)| Series { labels, floats, histograms: Vec::new() }).collect();
    series.sort_by(|a, b| a.labels.cmp(&b.labels));
    Some(Value::Matrix(series))
}

/// Whether every node of the tree is of a kind the dense path implements (checked before any
/// data is loaded, so that unsupported queries cost nothing extra).
fn supported(node: &Node) -> bool {
    match node {
        Node::Number(_) => true,
        Node::VectorSelector(s) => !s.smoothed,
        Node::StepInvariant(inner) => matches!(**inner, Node::Number(_)) || supported(inner),
        Node::Negate(e, _) => supported(e),
        Node::Binary(b) => {
            let scalars = b.lhs_type == ValueType::Scalar && b.rhs_type == ValueType::Scalar;
            !scalars && supported(&b.lhs) && supported(&b.rhs)
        }
        Node::Aggregate(a) => {
            matches!(
                a.op,
                AggregateOp::Sum
                    | AggregateOp::Avg
                    | AggregateOp::Count
                    | AggregateOp::Min
                    | AggregateOp::Max
                    | AggregateOp::Group
                    | AggregateOp::Topk
                    | AggregateOp::Bottomk
            ) && a.param.as_ref().is_none_or(supported)
                && supported(&a.expr)
        }
        Node::Call(c) => {
            let name = c.func.name;
            if c.args.iter().any(|a| matches!(a, Node::MatrixSelector(_))) {
                return range::supported(c);
            }
            if simple_float_fn(name).is_some() {
                return c.args.len() == 1 && supported(&c.args[0]);
            }
            match name {
                "timestamp" => c.args.len() == 1 && supported(&c.args[0]),
                "label_replace" | "label_join" => {
                    c.args.len() >= 2
                        && c.args[1..].iter().all(|a| matches!(a, Node::String(_)))
                        && supported(&c.args[0])
                }
                _ => false,
            }
        }
        Node::String(_) | Node::MatrixSelector(_) | Node::Subquery(_) => false,
    }
}

impl Dense<'_, '_> {
    /// Takes the next node number.
    fn node_id(&mut self) -> usize {
        self.next_node += 1;
        self.next_node - 1
    }

    /// Buffers an annotation raised at step `step` by node `node`.
    fn note(&mut self, step: usize, node: usize, annotation: Annotation) {
        self.notes.push(Note { batch: step / STEPS_PER_BATCH, node, annotation });
    }

    /// The step index of time `t` of the grid.
    fn step_of(&self, t: i64) -> usize {
        ((t - self.grid.start) / self.grid.interval) as usize
    }

    /// A walker giving the step indexes of one column's ascending points.
    fn walk(&self) -> StepWalk {
        StepWalk::new(self.grid)
    }

    /// A scalar node's value at every step.
    fn scalar(&mut self, node: &Node) -> Res<Vec<f64>> {
        self.node_id();
        match node {
            Node::Number(v) => Ok(vec![*v; self.grid.steps()]),
            Node::StepInvariant(inner) => match **inner {
                Node::Number(v) => Ok(vec![v; self.grid.steps()]),
                _ => Err(Fallback),
            },
            _ => Err(Fallback),
        }
    }

    /// An instant-vector node over all steps.
    fn vector(&mut self, node: &Node) -> Res<Vector> {
        self.ctx.limits.check()?;
        match node {
            Node::VectorSelector(_) => self.collect(node),
            Node::Negate(e, _) => {
                self.node_id();
                let mut v = self.vector(e)?;
                let delayed = self.ctx.delayed_name_removal;
                for c in v.series.iter_mut() {
                    c.meta =
                        SeriesMeta { drop_name: true, ..super::labels_ops::name_dropped(&c.meta, delayed) };
                    for p in c.pts.iter_mut() {
                        p.f = -p.f;
                    }
                }
                Ok(v)
            }
            Node::StepInvariant(inner) if inner.value_type() == ValueType::Vector => {
                self.node_id();
                self.step_invariant(inner)
            }
            Node::Binary(b) => binary::binary(self, b),
            Node::Aggregate(a) => aggregate::aggregate(self, a),
            Node::Call(c) => {
                if c.args.iter().any(|a| matches!(a, Node::MatrixSelector(_))) {
                    return self.collect(node);
                }
                self.node_id();
                let delayed = self.ctx.delayed_name_removal;
                let name = c.func.name;
                let arg = c.args.first().ok_or(Fallback)?;
                if let Some(f) = simple_float_fn(name) {
                    let mut v = self.vector(arg)?;
                    for c in v.series.iter_mut() {
                        c.meta = super::labels_ops::name_dropped(&c.meta, delayed);
                        for p in c.pts.iter_mut() {
                            p.f = f(p.f);
                        }
                    }
                    return Ok(v);
                }
                match name {
                    "timestamp" => {
                        if let Node::VectorSelector(sel) = arg {
                            self.node_id();
                            let mut series = Vec::new();
                            select::vector_selector(self, sel, select::Mode::Timestamp, &mut |c| {
                                series.push(c);
                                Ok(())
                            })?;
                            return Ok(Vector { series, ordered: true });
                        }
                        let mut v = self.vector(arg)?;
                        for c in v.series.iter_mut() {
                            c.meta = super::labels_ops::name_dropped(&c.meta, delayed);
                            for p in c.pts.iter_mut() {
                                p.f = p.t as f64 / 1000.0;
                            }
                        }
                        Ok(v)
                    }
                    "label_replace" | "label_join" => {
                        let strings: Vec<String> = c.args[1..]
                            .iter()
                            .map(|a| match a {
                                Node::String(s) => s.value.clone(),
                                _ => String::new(),
                            })
                            .collect();
                        let utf8: Vec<bool> = c.args[1..]
                            .iter()
                            .map(|a| !matches!(a, Node::String(s) if !s.is_utf8()))
                            .collect();
                        if strings.len() < 2 || (name == "label_replace" && strings.len() < 4) {
                            return Err(Fallback);
                        }
                        let rule = super::call::Relabel::new(name, &strings, &utf8)?;
                        let mut v = self.vector(arg)?;
                        let mut seen: hashbrown::HashSet<Labels> =
                            hashbrown::HashSet::with_capacity(v.series.len());
                        for c in v.series.iter_mut() {
                            c.meta = rule.apply(&c.meta);
                            if !seen.insert(c.meta.labels.clone()) {
                                // Two series would share an id: steps holding both are errors.
                                return Err(Fallback);
                            }
                        }
                        Ok(v)
                    }
                    _ => Err(Fallback),
                }
            }
            _ => Err(Fallback),
        }
    }

    /// A leaf's columns (selector, range function) collected into a vector.
    fn collect(&mut self, node: &Node) -> Res<Vector> {
        let mut series = Vec::new();
        let ordered = self.stream(node, &mut |c| {
            series.push(c);
            Ok(())
        })?;
        Ok(Vector { series, ordered })
    }

    /// Hands the columns of `node` in order to `sink`; selectors and range functions compute them
    /// a chunk of series at a time, so that a consumer that folds them (an aggregation) reuses
    /// the memory instead of holding every input column at once. Returns whether the vector is
    /// in step order.
    fn stream(&mut self, node: &Node, sink: &mut dyn FnMut(Column) -> Res<()>) -> Res<bool> {
        self.ctx.limits.check()?;
        match node {
            Node::VectorSelector(sel) => {
                self.node_id();
                select::vector_selector(self, sel, select::Mode::Value, sink)?;
                Ok(true)
            }
            Node::Call(c) if c.args.iter().any(|a| matches!(a, Node::MatrixSelector(_))) => {
                range::range_call(self, c, sink)?;
                Ok(true)
            }
            _ => {
                let v = self.vector(node)?;
                for c in v.series {
                    sink(c)?;
                }
                Ok(v.ordered)
            }
        }
    }

    /// Maps `f` over `items` a chunk at a time (in parallel within a chunk when the pool allows
    /// and the work, `work_per_item` each, is big enough), handing each result to `sink` in order.
    fn chunked<T: Sync, R: Send>(
        &self,
        items: &[T],
        work_per_item: usize,
        f: impl Fn(&T) -> R + Sync + Send,
        mut sink: impl FnMut(usize, R) -> Res<()>,
    ) -> Res<()> {
        const CHUNK: usize = 64;
        for (ci, chunk) in items.chunks(CHUNK).enumerate() {
            let out = self.ctx.parallelism.map(chunk, work_per_item * chunk.len(), &f);
            for (j, r) in out.into_iter().enumerate() {
                sink(ci * CHUNK + j, r)?;
            }
        }
        Ok(())
    }

    /// A step-invariant subtree: evaluated at the first step only, its result repeated at every
    /// step.
    fn step_invariant(&mut self, inner: &Node) -> Res<Vector> {
        let grid = self.grid;
        self.grid = Grid { start: grid.start, end: grid.start, interval: grid.interval };
        let v = self.vector(inner);
        self.grid = grid;
        let mut v = v?;
        let n = grid.steps();
        for c in v.series.iter_mut() {
            if let Some(p) = c.pts.first().copied() {
                c.pts = (0..n).map(|k| FPoint { t: grid.time(k), f: p.f }).collect();
            }
        }
        Ok(v)
    }

    /// Counts the points and series a selector loaded.
    fn hold(&mut self, data: &[crate::storage::SeriesData]) {
        self.loaded.0 += data.iter().map(|s| s.floats.len() as i64).sum::<i64>();
        self.loaded.1 += data.len() as i64;
    }

    /// `Fallback` unless the query certainly stays within the sample limit as Prometheus counts
    /// (see [`accounting`](crate::exec::accounting)): the operator path then decides exactly.
    /// Prometheus holds at most every loaded point plus every node's output at once, and no
    /// node this path evaluates returns more series than the selectors loaded plus one per
    /// literal, so `loaded points + nodes x (loaded series + nodes) x steps` bounds its peak.
    fn check_limit(&self) -> Res<()> {
        let nodes = self.next_node.max(1) as i64;
        let steps = self.grid.steps() as i64;
        let bound =
            (self.loaded.1 + nodes).saturating_mul(nodes).saturating_mul(steps).saturating_add(self.loaded.0);
        if bound > self.ctx.limits.max_samples { Err(Fallback) } else { Ok(()) }
    }

    /// Raises the buffered annotations in the operator path's order.
    fn raise_notes(&mut self) {
        let mut notes = std::mem::take(&mut self.notes);
        notes.sort_by_key(|n| (n.batch, n.node));
        for n in notes {
            self.ctx.annotate(n.annotation);
        }
    }
}
