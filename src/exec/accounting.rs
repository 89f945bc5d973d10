//! Prometheus's sample accounting: the `--query.max-samples` limit and the `peakSamples` /
//! `totalQueryableSamples` statistics, reproduced for our streaming evaluator.
//!
//! # Why a model
//!
//! Prometheus evaluates a query node by node: every node computes its whole result matrix (all
//! steps, all series) before its parent runs, and a counter (`currentSamples`) follows what is
//! held: the finished matrices of the operands, the vector gathered at the current step, the
//! window of the series a range function is working on. The limit fails a query when that
//! counter goes over the maximum; `peakSamples` is its highest value; `totalSamples` counts what
//! selectors load (per step: the samples an instant selector returns, the whole window of a range
//! function). Histograms count by their size in memory, in units of 16 bytes.
//!
//! We stream batches of steps and hold far less, so our own memory says nothing about those
//! numbers. They are, however, a deterministic function of the plan and of a few counts per node:
//! how many samples each node produces at each step (and their size), and, for a range function,
//! per input series, the largest window, the last window and the output. Operators *report* those
//! counts here; [`NodeAccount::summary`] replays Prometheus's bookkeeping from them once the
//! query is done. Nothing depends on the order in which steps or series were reported, so steps
//! evaluated out of order, or on several threads, give the same numbers.
//!
//! # The replay, per node (`P` = peak above the node's base, `H` = what stays counted after it)
//!
//! * instant selector: every returned sample (histograms by point size) — `P = H = total`.
//! * `rangeEval` nodes (binary operators, functions without a range argument, literals,
//!   `count_values`): operands are evaluated one after the other (each on top of what the
//!   previous ones hold); then, at every step, the samples gathered from the operands (one per
//!   sample, histograms not weighted) plus the step's output (histograms weighted
//!   `1 + size/16`) come on top of the outputs of the earlier steps.
//! * aggregations: the parameter, then the operand on top of it; then the result.
//! * range functions: a subquery argument first, then the scalar arguments; then series by series
//!   the window of the current series on top of the outputs of the earlier series. The scalar
//!   arguments stay counted afterwards (as upstream does), the subquery's points do not.
//! * step-invariant nodes: one evaluation, then the result repeated for the other steps.
//! * `timestamp(selector)`: each sample is counted when read and again as output.
//! * `-x`, `label_replace`, `label_join`: what their operand does.
//!
//! # Limit and memory protection
//!
//! The exact peak is known at the end; a query whose replayed peak exceeds the limit fails then,
//! with Prometheus's text. To stop a runaway query early, every report also raises a lower bound
//! of the peak — the most any one node has produced so far, or the largest window seen — since
//! upstream holds each node's whole output at some point; the query fails as soon as that bound
//! is over the limit. Both checks give the same answer: the bound never exceeds the exact peak.
//!
//! # Feeding API (for any evaluator)
//!
//! * [`Accounting::begin`] / [`Accounting::finish`] around building one plan node: the node's
//!   account, with the accounts finished in between as its operands (in Prometheus's order).
//! * [`NodeAccount::record_batch`] with every batch the node outputs (each step is placed by its
//!   timestamp, so batches may come in any order), or [`NodeAccount::record_counts`] with the
//!   counts of a run of steps, or [`NodeAccount::record_float_times`] with the step times of
//!   float outputs. [`NodeKind::of`] names the kind of a plan node.
//! * [`Accounting::take_last`] after building the root gives its account, whose
//!   [`NodeAccount::summary`] is the query's peak and total; [`Accounting::reset`] drops the
//!   accounts of an evaluation that was abandoned.
//!
//! * range functions only: [`NodeAccount::set_series`] with the number of input series, then
//!   [`NodeAccount::record_windows`] per batch with each series' window weights and outputs,
//!   and [`NodeAccount::set_subquery`] with the account of a subquery argument.
//!
//! Builds must not run concurrently within one query: operands are matched to their parent by
//! the order in which accounts are finished (a stack). Reporting may happen from any thread.
//!
//! # Known differences
//!
//! The replay follows our plan, so where the plan differs from Prometheus's tree the numbers can
//! differ: arithmetic between literals folded by the optimiser counts as one literal (`1 + 2`
//! peaks at 1 where upstream holds 5 on an instant query); `info()` counts as its first operand;
//! the operands of `histogram_quantiles` are replayed vector last. Per-step totals and 3.x's
//! `samplesRead` are not modelled.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use crate::exec::{EvalError, Grid, StepVector};
use crate::model::FloatHistogram;
use crate::parser::AggregateOp;
use crate::plan::Node;

/// The bytes Prometheus's `FloatHistogram.Size` reports for a histogram.
fn go_size(h: &FloatHistogram) -> i64 {
    let slices = h.positive_spans.len()
        + h.negative_spans.len()
        + h.positive_buckets.len()
        + h.negative_buckets.len()
        + h.custom_values.len();
    168 + 8 * slices as i64
}

/// The weight of a histogram point in a matrix (Prometheus's `HPoint.size`).
pub fn point_size(h: &FloatHistogram) -> i64 {
    (go_size(h) + 8) / 16
}

/// The weight of a histogram sample in a vector (Prometheus's `Vector.TotalSamples`).
pub fn vector_size(h: &FloatHistogram) -> i64 {
    1 + go_size(h) / 16
}

/// How Prometheus's evaluator accounts for a node's samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// An instant vector selector.
    Selector,
    /// `timestamp(selector)`: each sample counted when read and as output.
    Timestamp,
    /// A node evaluated step by step over its operands (`rangeEval`).
    Eval,
    /// An aggregation (operands: expression, then parameter if any).
    Aggregate,
    /// A function over a range vector; `absent` for `absent_over_time`.
    Range {
        /// `absent_over_time`: a series' output is one sample per non-empty window.
        absent: bool,
    },
    /// Evaluated once, result repeated at every step.
    StepInvariant,
    /// Counts as its only operand does.
    Passthrough,
    /// A range selector at the top of an instant query.
    MatrixRoot,
    /// A subquery at the top of an instant query (the inner expression is set as its subquery).
    SubqueryRoot,
}

impl NodeKind {
    /// How Prometheus accounts for the samples of a plan node.
    pub fn of(node: &Node) -> NodeKind {
        match node {
            Node::VectorSelector(_) => NodeKind::Selector,
            Node::StepInvariant(inner) => match &**inner {
                Node::Number(_) | Node::String(_) => NodeKind::Passthrough,
                _ => NodeKind::StepInvariant,
            },
            Node::Negate(..) => NodeKind::Passthrough,
            Node::Aggregate(a) if a.op != AggregateOp::CountValues => NodeKind::Aggregate,
            Node::Call(c) => {
                let name = c.func.name;
                if c.args.iter().any(|a| matches!(a, Node::MatrixSelector(_) | Node::Subquery(_))) {
                    return NodeKind::Range { absent: name == "absent_over_time" };
                }
                match name {
                    "timestamp" if matches!(c.args.first(), Some(Node::VectorSelector(_))) => {
                        NodeKind::Timestamp
                    }
                    "label_replace" | "label_join" | "info" => NodeKind::Passthrough,
                    _ => NodeKind::Eval,
                }
            }
            _ => NodeKind::Eval,
        }
    }
}

/// Per step: samples produced, their weight in a vector, their weight in a matrix (all three
/// equal for floats; see [`vector_size`] and [`point_size`] for histograms).
pub type StepCounts = [i64; 3];

/// Per input series of a range function: largest window, last window, output weight.
#[derive(Debug, Clone, Copy, Default)]
struct SeriesCounts {
    max_window: i64,
    last_window: i64,
    output: i64,
}

/// The counts of one plan node, filled by its operator.
#[derive(Debug)]
pub struct NodeAccount {
    kind: NodeKind,
    grid: Grid,
    steps: usize,
    operands: OnceLock<Vec<Arc<NodeAccount>>>,
    subquery: OnceLock<Arc<NodeAccount>>,
    /// Steps with samples as reported: runs of consecutive steps with equal counts.
    runs: Mutex<Vec<Run>>,
    produced: AtomicI64,
    series: Mutex<Vec<SeriesCounts>>,
    windows_total: AtomicI64,
    bound: Arc<AtomicI64>,
    max_samples: i64,
}

/// The replayed numbers of a query.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Prometheus's `peakSamples`.
    pub peak: i64,
    /// Prometheus's `totalQueryableSamples`.
    pub total: i64,
}

/// Peak above base, held after, total loaded.
#[derive(Debug, Clone, Copy, Default)]
struct Replay {
    peak: i64,
    held: i64,
    total: i64,
}

impl NodeAccount {
    fn too_many(&self, n: i64) -> Result<(), EvalError> {
        self.bound.fetch_max(n, Ordering::Relaxed);
        if n > self.max_samples {
            return Err(EvalError::TooManySamples("query execution"));
        }
        Ok(())
    }

    /// Records one output batch of this node.
    ///
    /// # Errors
    ///
    /// [`EvalError::TooManySamples`] once the node's output alone is over the limit.
    pub fn record_batch(&self, batch: &[StepVector]) -> Result<(), EvalError> {
        let Some(first) = batch.first() else { return Ok(()) };
        let interval = self.grid.interval.max(1);
        let idx = usize::try_from((first.t - self.grid.start) / interval).unwrap_or(0);
        let counts: Vec<StepCounts> = batch
            .iter()
            .map(|step| {
                let mut c = [step.samples.len() as i64; 3];
                for h in step.samples.iter().filter_map(|s| s.h.as_ref()) {
                    c[1] += vector_size(h) - 1;
                    c[2] += point_size(h) - 1;
                }
                c
            })
            .collect();
        self.record_counts(idx, &counts)
    }

    /// Records the counts of steps `first..first + counts.len()` of this node's output, for an
    /// evaluator that does not produce [`StepVector`] batches (as [`NodeAccount::record_batch`]).
    ///
    /// # Errors
    ///
    /// [`EvalError::TooManySamples`] once the node's output alone is over the limit.
    pub fn record_counts(&self, first: usize, counts: &[StepCounts]) -> Result<(), EvalError> {
        let added: i64 = counts.iter().map(|c| c[2]).sum();
        // Steps without samples change nothing in the replay: only batches with samples are kept,
        // so what is stored stays proportional to what was produced (bounded by the limit).
        if counts.iter().any(|c| c[0] != 0)
            && let Ok(mut runs) = self.runs.lock()
        {
            for (k, c) in counts.iter().enumerate() {
                let step = first + k;
                match runs.last_mut() {
                    Some(r) if r.counts == *c && r.start + r.len == step => r.len += 1,
                    _ if c[0] == 0 => {}
                    _ => runs.push(Run { start: step, len: 1, counts: *c }),
                }
            }
        }
        let now = self.produced.fetch_add(added, Ordering::Relaxed) + added;
        if self.kind == (NodeKind::Range { absent: true }) {
            return Ok(());
        }
        self.too_many(now)
    }

    /// Records float outputs given by their step timestamps (any order), for a series-major
    /// evaluator: each time is placed on this node's grid.
    ///
    /// # Errors
    ///
    /// [`EvalError::TooManySamples`] once the node's output alone is over the limit.
    pub fn record_float_times(&self, times: impl IntoIterator<Item = i64>) -> Result<(), EvalError> {
        let mut per_step: BTreeMap<usize, i64> = BTreeMap::new();
        let interval = self.grid.interval.max(1);
        for t in times {
            if let Ok(i) = usize::try_from((t - self.grid.start) / interval) {
                *per_step.entry(i).or_default() += 1;
            }
        }
        for (i, n) in per_step {
            self.record_counts(i, &[[n; 3]])?;
        }
        Ok(())
    }

    /// A matrix of `total` points at the top of an instant query.
    ///
    /// # Errors
    ///
    /// [`EvalError::TooManySamples`] when over the limit.
    pub fn record_matrix(&self, total: i64) -> Result<(), EvalError> {
        let now = self.produced.fetch_add(total, Ordering::Relaxed) + total;
        self.too_many(now)
    }

    /// Declares the number of input series of a range function.
    pub fn set_series(&self, n: usize) {
        if let Ok(mut s) = self.series.lock() {
            s.resize(n, SeriesCounts::default());
        }
    }

    /// Attaches the account of a subquery argument's inner expression.
    pub fn set_subquery(&self, inner: Arc<NodeAccount>) {
        let _ = self.subquery.set(inner);
    }

    /// Records a range function's windows for the `n` steps `first..first + n` of its grid:
    /// `windows` holds each input series' window weights at those steps (series-major, `n` per
    /// series), `outputs[series]` the weight of that series' outputs there.
    ///
    /// # Errors
    ///
    /// [`EvalError::TooManySamples`] when one window is over the limit.
    pub fn record_windows(
        &self,
        first: usize,
        n: usize,
        windows: &[i64],
        outputs: &[i64],
    ) -> Result<(), EvalError> {
        if n == 0 {
            return Ok(());
        }
        let mut largest = 0;
        let mut sum = 0;
        let last_step = first + n == self.steps;
        if let Ok(mut series) = self.series.lock() {
            for ((c, w), o) in series.iter_mut().zip(windows.chunks(n)).zip(outputs.iter()) {
                let m = w.iter().copied().max().unwrap_or(0);
                c.max_window = c.max_window.max(m);
                largest = largest.max(m);
                sum += w.iter().sum::<i64>();
                if last_step && let Some(&last) = w.last() {
                    c.last_window = last;
                }
                c.output += o;
            }
        }
        self.windows_total.fetch_add(sum, Ordering::Relaxed);
        self.too_many(largest)
    }

    /// The runs of steps that had samples, in step order, within the grid.
    fn step_runs(&self) -> Vec<Run> {
        let mut runs = self.runs.lock().map(|r| r.clone()).unwrap_or_default();
        runs.sort_by_key(|r| r.start);
        runs.retain(|r| r.start < self.steps);
        for r in runs.iter_mut() {
            r.len = r.len.min(self.steps - r.start);
        }
        runs
    }

    fn produced(&self) -> i64 {
        self.produced.load(Ordering::Relaxed)
    }

    fn operands(&self) -> &[Arc<NodeAccount>] {
        self.operands.get().map_or(&[], |v| v.as_slice())
    }

    /// Prometheus's peak and total samples for this node as the root of a query.
    pub fn summary(&self) -> Summary {
        let r = self.replay();
        Summary { peak: r.peak, total: r.total }
    }

    fn replay(&self) -> Replay {
        let ops = self.operands();
        match self.kind {
            NodeKind::Selector | NodeKind::MatrixRoot => {
                let n = self.produced();
                Replay { peak: n, held: n, total: n }
            }
            NodeKind::Passthrough => ops.first().map(|o| o.replay()).unwrap_or_default(),
            NodeKind::SubqueryRoot => self.subquery.get().map(|o| o.replay()).unwrap_or_default(),
            NodeKind::Timestamp => {
                let mut before = 0;
                let mut peak = 0;
                let mut total = 0;
                for r in self.step_runs() {
                    let [count, vsize, _] = r.counts;
                    let n = r.len as i64;
                    peak = peak.max(before + (n - 1) * vsize + count + vsize);
                    before += n * vsize;
                    total += n * count;
                }
                let held = self.produced();
                Replay { peak: peak.max(held), held, total }
            }
            NodeKind::Eval => {
                let mut acc = 0;
                let mut r = Replay::default();
                for o in ops {
                    let x = o.replay();
                    r.peak = r.peak.max(acc + x.peak);
                    acc += x.held;
                    r.total += x.total;
                }
                // Every step starts from what the operands hold, then gathers their samples and
                // adds its output on top of the outputs of the earlier steps.
                if self.steps > 0 {
                    r.peak = r.peak.max(acc);
                }
                let mut lists: Vec<Vec<Run>> = vec![self.step_runs()];
                lists.extend(ops.iter().map(|o| o.step_runs()));
                let mut before = 0;
                sweep(&lists, |len, values| {
                    let vsize = values[0].map_or(0, |c| c[1]);
                    let gathered: i64 = values[1..].iter().map(|v| v.map_or(0, |c| c[0])).sum();
                    let n = len as i64;
                    r.peak = r.peak.max(acc + before + (n - 1) * vsize + gathered + vsize);
                    before += n * vsize;
                });
                r.held = self.produced();
                r.peak = r.peak.max(r.held);
                r
            }
            NodeKind::Aggregate => {
                let mut r = Replay::default();
                let mut acc = 0;
                // Upstream evaluates the parameter before the expression.
                for o in ops.iter().rev() {
                    let x = o.replay();
                    r.peak = r.peak.max(acc + x.peak);
                    acc += x.held;
                    r.total += x.total;
                }
                r.held = self.produced();
                r.peak = r.peak.max(r.held);
                r
            }
            NodeKind::Range { .. } => {
                let mut r = Replay::default();
                let mut acc = 0;
                let mut released = 0;
                if let Some(q) = self.subquery.get() {
                    let x = q.replay();
                    r.peak = x.peak;
                    acc = x.held;
                    released = q.produced();
                }
                for o in ops {
                    let x = o.replay();
                    r.peak = r.peak.max(acc + x.peak);
                    acc += x.held;
                    r.total += x.total;
                }
                let mut outputs = 0;
                if let Ok(series) = self.series.lock() {
                    for c in series.iter() {
                        r.peak = r.peak.max(acc + outputs + c.max_window);
                        outputs += c.output;
                        r.peak = r.peak.max(acc + outputs + c.last_window);
                    }
                }
                r.total += self.windows_total.load(Ordering::Relaxed);
                r.held = acc + outputs - released;
                r
            }
            NodeKind::StepInvariant => {
                let Some(o) = ops.first() else { return Replay::default() };
                let x = o.replay();
                let once = o.step_runs().first().filter(|r| r.start == 0).map_or(0, |r| r.counts[2]);
                let extra = self.steps.saturating_sub(1) as i64;
                let held = x.held + extra * once;
                Replay { peak: x.peak.max(held), held, total: x.total * self.steps as i64 }
            }
        }
    }
}

/// Consecutive steps with the same counts.
#[derive(Debug, Clone, Copy)]
struct Run {
    start: usize,
    len: usize,
    counts: StepCounts,
}

/// Walks the steps covered by any of `lists` (each sorted, non-overlapping runs) in order, in
/// stretches where every list's counts are constant: calls `f` with the stretch's length and
/// each list's counts there (`None` where a list has no samples).
fn sweep(lists: &[Vec<Run>], mut f: impl FnMut(usize, &[Option<StepCounts>])) {
    let mut bounds: Vec<usize> = lists.iter().flatten().flat_map(|r| [r.start, r.start + r.len]).collect();
    bounds.sort_unstable();
    bounds.dedup();
    let mut pos = vec![0usize; lists.len()];
    let mut values: Vec<Option<StepCounts>> = vec![None; lists.len()];
    for w in bounds.windows(2) {
        let (a, b) = (w[0], w[1]);
        let mut any = false;
        for (i, list) in lists.iter().enumerate() {
            while pos[i] < list.len() && list[pos[i]].start + list[pos[i]].len <= a {
                pos[i] += 1;
            }
            values[i] = list.get(pos[i]).filter(|r| r.start <= a).map(|r| r.counts);
            any |= values[i].is_some();
        }
        if any {
            f(b - a, &values);
        }
    }
}

/// The accounting of one query: the accounts of its nodes and the running lower bound.
#[derive(Debug)]
pub struct Accounting {
    max_samples: i64,
    finished: Mutex<Vec<Arc<NodeAccount>>>,
    bound: Arc<AtomicI64>,
}

impl Accounting {
    /// Accounting under the given `--query.max-samples`.
    pub fn new(max_samples: i64) -> Accounting {
        Accounting { max_samples, finished: Mutex::new(Vec::new()), bound: Arc::default() }
    }

    /// Starts the account of a node evaluated on `grid`; returns it with the mark to give to
    /// [`Accounting::finish`] once the node's operands are built.
    pub fn begin(&self, kind: NodeKind, grid: Grid) -> (Arc<NodeAccount>, usize) {
        let node = Arc::new(NodeAccount {
            kind,
            grid,
            steps: grid.steps(),
            operands: OnceLock::new(),
            subquery: OnceLock::new(),
            runs: Mutex::new(Vec::new()),
            produced: AtomicI64::new(0),
            series: Mutex::new(Vec::new()),
            windows_total: AtomicI64::new(0),
            bound: self.bound.clone(),
            max_samples: self.max_samples,
        });
        let mark = self.finished.lock().map_or(0, |f| f.len());
        (node, mark)
    }

    /// Ends building `node`: the accounts finished since `mark` become its operands.
    pub fn finish(&self, node: &Arc<NodeAccount>, mark: usize) {
        if let Ok(mut f) = self.finished.lock() {
            let at = mark.min(f.len());
            let operands = f.split_off(at);
            let _ = node.operands.set(operands);
            f.push(node.clone());
        }
    }

    /// Takes the most recently finished account (the root just built).
    pub fn take_last(&self) -> Option<Arc<NodeAccount>> {
        self.finished.lock().ok().and_then(|mut f| f.pop())
    }

    /// Forgets the accounts finished so far (an evaluator that gives up half-way and lets another
    /// one evaluate the plan from the start).
    pub fn reset(&self) {
        if let Ok(mut f) = self.finished.lock() {
            f.clear();
        }
    }

    /// The running lower bound of the peak.
    pub fn bound(&self) -> i64 {
        self.bound.load(Ordering::Relaxed)
    }

    /// The limit.
    pub fn max_samples(&self) -> i64 {
        self.max_samples
    }
}
