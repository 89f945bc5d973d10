//! `count_values`: its output series depend on the sample values, so it reads its whole input
//! before reporting its series.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::exec::labels_ops::{SeriesTable, grouping_labels};
use crate::exec::{BoxOp, EvalError, Operator, Sample, SeriesMeta, StepBatch};
use crate::model::format_float;
use crate::parser::StringLiteral;

/// `count_values("label", v)`.
pub(crate) struct CountValuesOp<'a> {
    pub(crate) child: BoxOp<'a>,
    /// The label parameter, kept as the literal: its validity and its quoting in the error depend
    /// on its bytes, which need not be UTF-8.
    pub(crate) label: StringLiteral,
    pub(crate) grouping: Vec<String>,
    pub(crate) without: bool,
    pub(crate) meta: Option<Arc<[SeriesMeta]>>,
    pub(crate) batches: VecDeque<StepBatch>,
}

impl CountValuesOp<'_> {
    fn run(&mut self) -> Result<(), EvalError> {
        if self.label.value.is_empty() || !self.label.is_utf8() {
            return Err(EvalError::msg(format!("invalid label name {}", self.label)));
        }
        let mut grouping = self.grouping.clone();
        if !self.without {
            grouping.push(self.label.value.clone());
            grouping.sort();
        }
        let inner = self.child.series()?;
        let mut table = SeriesTable::default();
        while let Some(mut batch) = self.child.next()? {
            for step in batch.iter_mut() {
                let mut counts: Vec<(u32, f64)> = Vec::new();
                for s in &step.samples {
                    let value = match &s.h {
                        Some(h) => crate::functions::hist_string(h),
                        None => format_float(s.f),
                    };
                    let labels =
                        inner[s.id as usize].labels.builder().set(self.label.value.as_str(), value).labels();
                    let out = grouping_labels(&labels, &grouping, self.without);
                    let id = table.intern(SeriesMeta::new(out));
                    match counts.iter_mut().find(|(g, _)| *g == id) {
                        Some((_, c)) => *c += 1.0,
                        None => counts.push((id, 1.0)),
                    }
                }
                step.samples = counts.into_iter().map(|(id, c)| Sample::float(id, c)).collect();
            }
            self.batches.push_back(batch);
        }
        self.meta = Some(table.finish());
        Ok(())
    }
}

impl Operator for CountValuesOp<'_> {
    fn series(&mut self) -> Result<Arc<[SeriesMeta]>, EvalError> {
        if self.meta.is_none() {
            self.run()?;
        }
        Ok(self.meta.clone().unwrap_or_else(|| Arc::from(Vec::new())))
    }

    fn next(&mut self) -> Result<Option<StepBatch>, EvalError> {
        if self.meta.is_none() {
            self.run()?;
        }
        Ok(self.batches.pop_front())
    }
}
