//! The vectorized evaluator: a tree of operators built from a [`plan::Node`](crate::plan::Node).
//!
//! Every operator follows one contract: [`Operator::series`] first returns all series it will
//! ever produce (each identified by its dense `u32` index), then [`Operator::next`] returns
//! batches of up to [`STEPS_PER_BATCH`] consecutive steps, each step holding the samples of the
//! series present at that step. Batches of all operators of one evaluation grid are aligned, so
//! a parent pulls one batch from each child and combines them step by step.
//!
//! Architecture invariants: operators never see the syntax tree; time was resolved by the
//! planner; the only place that runs work in parallel is [`parallel`].

pub mod accounting;
mod aggregate;
mod annotations;
mod binary;
mod build;
mod call;
mod count_values;
pub(crate) mod dense;
mod info;
mod labels_ops;
pub mod limits;
mod parallel;
mod range;
mod scalar;
mod select;
mod step_invariant;

use std::sync::{Arc, Mutex};

pub use annotations::{Annotation, Annotations};
pub use build::build;
pub(crate) use labels_ops::final_labels;
pub use limits::{CancelToken, Limits};
pub use parallel::Parallelism;
pub(crate) use range::{MatrixSource, materialize, window};

use crate::model::{FloatHistogram, Labels};
use crate::storage::Storage;

/// How many steps an operator returns per [`Operator::next`] call.
pub const STEPS_PER_BATCH: usize = 16;

/// A series an operator produces: its labels, and whether its metric name is to be removed at
/// the end of the query (Prometheus's delayed name removal).
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesMeta {
    /// The labels.
    pub labels: Labels,
    /// Drop `__name__` (and `__type__`, `__unit__`) when the result is assembled.
    pub drop_name: bool,
}

impl SeriesMeta {
    /// A series that keeps its name.
    pub fn new(labels: Labels) -> SeriesMeta {
        SeriesMeta { labels, drop_name: false }
    }
}

/// One sample of a step: the series index and a float or a histogram.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Index into the operator's series.
    pub id: u32,
    /// The float value (0 for histograms).
    pub f: f64,
    /// The histogram value.
    pub h: Option<Arc<FloatHistogram>>,
}

impl Sample {
    /// A float sample.
    pub fn float(id: u32, f: f64) -> Sample {
        Sample { id, f, h: None }
    }
}

/// The samples of one evaluation step.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct StepVector {
    /// The step's timestamp (ms).
    pub t: i64,
    /// The samples present at this step.
    pub samples: Vec<Sample>,
}

/// Consecutive steps.
pub type StepBatch = Vec<StepVector>;

/// An evaluation error; the texts are Prometheus's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// A query-level error with Prometheus's message.
    #[error("{0}")]
    Message(String),
    /// The sample limit was exceeded.
    #[error("query processing would load too many samples into memory in {0}")]
    TooManySamples(&'static str),
    /// The deadline passed.
    #[error("query timed out in {0}")]
    Timeout(&'static str),
    /// The query was canceled.
    #[error("query was canceled in {0}")]
    Canceled(&'static str),
    /// A feature this engine does not implement yet.
    #[error("not supported yet: {0}")]
    Unsupported(String),
    /// Storage failed.
    #[error("expanding series: {0}")]
    Storage(String),
}

impl EvalError {
    /// A query-level error with a formatted message.
    pub fn msg(s: impl Into<String>) -> EvalError {
        EvalError::Message(s.into())
    }
}

/// The evaluation grid of an operator: steps `start, start+interval, ... <= end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grid {
    /// First step (ms).
    pub start: i64,
    /// Last step (ms), inclusive.
    pub end: i64,
    /// Step width (ms), at least 1.
    pub interval: i64,
}

impl Grid {
    /// Number of steps; 0 when `end < start`.
    pub fn steps(&self) -> usize {
        if self.end < self.start { 0 } else { ((self.end - self.start) / self.interval) as usize + 1 }
    }

    /// The time of step `i`.
    pub fn time(&self, i: usize) -> i64 {
        self.start + i as i64 * self.interval
    }
}

/// An operator of the evaluator.
pub trait Operator {
    /// All series the operator will produce; called before [`Operator::next`].
    ///
    /// # Errors
    ///
    /// Storage failures and query errors.
    fn series(&mut self) -> Result<Arc<[SeriesMeta]>, EvalError>;

    /// The next batch of up to [`STEPS_PER_BATCH`] steps, or `None` when done.
    ///
    /// # Errors
    ///
    /// Query errors, limits, timeout and cancellation.
    fn next(&mut self) -> Result<Option<StepBatch>, EvalError>;
}

/// A boxed operator borrowing the evaluation context.
pub type BoxOp<'a> = Box<dyn Operator + 'a>;

/// Everything operators share during one query.
pub struct ExecContext<'a> {
    /// Where series come from.
    pub storage: &'a dyn Storage,
    /// The lookback delta (ms).
    pub lookback: i64,
    /// Prometheus's delayed `__name__` removal.
    pub delayed_name_removal: bool,
    /// Use samples' start timestamps in `rate`, `increase`, `irate` and `resets`.
    pub use_start_timestamps: bool,
    /// Sample limit, deadline and cancellation.
    pub limits: &'a Limits,
    /// Warnings and infos collected so far.
    pub annotations: &'a Mutex<Annotations>,
    /// The thread pool, when more than one thread is allowed.
    pub parallelism: &'a Parallelism,
    /// The query's first evaluation time (for `@ start()` inside subqueries).
    pub query_start: i64,
}

impl ExecContext<'_> {
    /// Records a warning or info.
    pub fn annotate(&self, a: Annotation) {
        if let Ok(mut g) = self.annotations.lock() {
            g.add(a);
        }
    }
}

/// The step ranges `[lo, hi)` of the batches of a grid with `n` steps.
pub(crate) fn batch_end(next_step: usize, n: usize) -> usize {
    (next_step + STEPS_PER_BATCH).min(n)
}
