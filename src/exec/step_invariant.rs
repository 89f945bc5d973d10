//! Evaluates a step-invariant subtree once, at the first step, and repeats its result.

use std::sync::Arc;

use crate::exec::{BoxOp, EvalError, Grid, Operator, SeriesMeta, StepBatch, StepVector, batch_end};

/// Repeats the single-step result of its child at every step of the grid.
pub(crate) struct StepInvariantOp<'a> {
    pub(crate) child: BoxOp<'a>,
    pub(crate) grid: Grid,
    pub(crate) cached: Option<StepVector>,
    pub(crate) next_step: usize,
}

impl Operator for StepInvariantOp<'_> {
    fn series(&mut self) -> Result<Arc<[SeriesMeta]>, EvalError> {
        self.child.series()
    }

    fn next(&mut self) -> Result<Option<StepBatch>, EvalError> {
        let n = self.grid.steps();
        if self.next_step >= n {
            return Ok(None);
        }
        if self.cached.is_none() {
            let mut first = StepVector::default();
            while let Some(batch) = self.child.next()? {
                if let Some(s) = batch.into_iter().next() {
                    first = s;
                }
            }
            self.cached = Some(first);
        }
        let proto = self.cached.as_ref().map(|s| &s.samples);
        let hi = batch_end(self.next_step, n);
        let batch = (self.next_step..hi)
            .map(|i| StepVector { t: self.grid.time(i), samples: proto.cloned().unwrap_or_default() })
            .collect();
        self.next_step = hi;
        Ok(Some(batch))
    }
}
