//! Scalar-valued operators (`1`, `time()`, `scalar(v)`) and the vector/scalar conversions.
//!
//! A scalar is an operator with exactly one series (empty labels) and one sample every step.

use std::sync::Arc;

use crate::exec::{BoxOp, EvalError, Grid, Operator, Sample, SeriesMeta, StepBatch, StepVector, batch_end};
use crate::functions::{DateFn, date_value};
use crate::model::Labels;

fn scalar_series() -> Arc<[SeriesMeta]> {
    Arc::from(vec![SeriesMeta::new(Labels::empty())])
}

/// How a scalar's value is found at a step.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ScalarSource {
    /// A constant.
    Const(f64),
    /// The step time in seconds (`time()`).
    Time,
    /// A calendar function without argument (`hour()`, ...): of the step time in whole seconds.
    Date(DateFn),
}

/// A constant, `time()` or an argument-less calendar function.
pub(crate) struct ScalarOp {
    source: ScalarSource,
    grid: Grid,
    next_step: usize,
}

impl ScalarOp {
    pub(crate) fn new(source: ScalarSource, grid: Grid) -> ScalarOp {
        ScalarOp { source, grid, next_step: 0 }
    }
}

impl Operator for ScalarOp {
    fn series(&mut self) -> Result<Arc<[SeriesMeta]>, EvalError> {
        Ok(scalar_series())
    }

    fn next(&mut self) -> Result<Option<StepBatch>, EvalError> {
        let n = self.grid.steps();
        if self.next_step >= n {
            return Ok(None);
        }
        let hi = batch_end(self.next_step, n);
        let batch = (self.next_step..hi)
            .map(|i| {
                let t = self.grid.time(i);
                let v = match self.source {
                    ScalarSource::Const(v) => v,
                    ScalarSource::Time => t as f64 / 1000.0,
                    ScalarSource::Date(d) => date_value(d, t.div_euclid(1000) as f64),
                };
                StepVector { t, samples: vec![Sample::float(0, v)] }
            })
            .collect();
        self.next_step = hi;
        Ok(Some(batch))
    }
}

/// `scalar(v)`: the single float sample's value, or NaN.
pub(crate) struct ScalarFnOp<'a> {
    pub(crate) child: BoxOp<'a>,
}

impl Operator for ScalarFnOp<'_> {
    fn series(&mut self) -> Result<Arc<[SeriesMeta]>, EvalError> {
        self.child.series()?;
        Ok(scalar_series())
    }

    fn next(&mut self) -> Result<Option<StepBatch>, EvalError> {
        let Some(mut batch) = self.child.next()? else { return Ok(None) };
        for step in batch.iter_mut() {
            let mut floats = step.samples.iter().filter(|s| s.h.is_none());
            let v = match (floats.next(), floats.next()) {
                (Some(s), None) => s.f,
                _ => f64::NAN,
            };
            step.samples = vec![Sample::float(0, v)];
        }
        Ok(Some(batch))
    }
}

/// `vector(s)`: the scalar as a series with no labels.
pub(crate) struct VectorFnOp<'a> {
    pub(crate) child: BoxOp<'a>,
}

impl Operator for VectorFnOp<'_> {
    fn series(&mut self) -> Result<Arc<[SeriesMeta]>, EvalError> {
        self.child.series()?;
        Ok(scalar_series())
    }

    fn next(&mut self) -> Result<Option<StepBatch>, EvalError> {
        self.child.next()
    }
}

/// Reads a scalar child's value at every step of a batch.
pub(crate) fn scalar_values(batch: &StepBatch) -> Vec<f64> {
    batch.iter().map(|s| s.samples.first().map_or(f64::NAN, |x| x.f)).collect()
}
