//! Recording rules: evaluate an expression and store its result under a new metric name.

use std::collections::BTreeMap;

use crate::model::{Labels, METRIC_NAME, Sample};
use crate::rules::group::{QueryFunc, RuleError};

/// A recording rule (`record: <name>`, `expr`, `labels`).
#[derive(Debug, Clone, PartialEq)]
pub struct RecordingRule {
    name: String,
    expr: String,
    labels: BTreeMap<String, String>,
}

impl RecordingRule {
    /// A rule recording `expr` as `name`, setting `labels` (group labels already merged in; an
    /// empty value removes the label) on every result series.
    pub fn new(
        name: impl Into<String>,
        expr: impl Into<String>,
        labels: BTreeMap<String, String>,
    ) -> RecordingRule {
        RecordingRule { name: name.into(), expr: expr.into(), labels }
    }

    /// The recorded metric name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The expression.
    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// The labels set on the results.
    pub fn labels(&self) -> &BTreeMap<String, String> {
        &self.labels
    }

    /// Evaluates the rule at `ts - query_offset` (milliseconds): the query result renamed and
    /// relabeled, stamped with the query time. `limit > 0` bounds the number of series.
    pub fn eval(
        &self,
        ts: i64,
        query_offset: i64,
        query: &dyn QueryFunc,
        limit: usize,
    ) -> Result<Vec<Sample>, RuleError> {
        let t = ts - query_offset;
        let mut vector = query.query(&self.expr, t).map_err(RuleError::Query)?;
        for s in &mut vector {
            let mut b = s.labels.builder();
            b.set_mut(METRIC_NAME, self.name.as_str());
            for (k, v) in &self.labels {
                b.set_mut(k.as_str(), v.as_str());
            }
            s.labels = b.labels();
            s.t = t;
        }
        let unique = {
            let mut seen: hashbrown::HashSet<&Labels> = hashbrown::HashSet::with_capacity(vector.len());
            vector.iter().all(|s| seen.insert(&s.labels))
        };
        if !unique {
            return Err(RuleError::DuplicateRecordingLabelSet);
        }
        if limit > 0 && vector.len() > limit {
            return Err(RuleError::SeriesLimit { limit, got: vector.len() });
        }
        Ok(vector)
    }
}
