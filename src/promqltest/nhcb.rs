//! `load_with_nhcb`: classic histogram series (`*_bucket` with `le`, `*_count`, `*_sum`) of a load
//! block converted into native histograms with custom buckets, as upstream's `convertnhcb` does.

use std::collections::BTreeMap;

use super::script::{Load, LoadValue};
use crate::model::{BucketSpan, CUSTOM_BUCKETS_SCHEMA, FloatHistogram, Labels, METRIC_NAME, format_go_g};

/// Bucket counts, count and sum of one classic histogram at one timestamp.
#[derive(Debug, Default, Clone)]
struct TempHistogram {
    /// `(le, cumulative count)`, ascending by `le`.
    buckets: Vec<(f64, f64)>,
    count: Option<f64>,
    sum: f64,
    err: Option<String>,
}

impl TempHistogram {
    fn set_bucket(&mut self, le: f64, count: f64) {
        if self.err.is_some() {
            return;
        }
        if count < 0.0 {
            self.err = Some(format!(
                "histogram bucket count must be non-negative: le={}, count={}",
                format_go_g(le),
                format_go_g(count)
            ));
            return;
        }
        let i = self.buckets.partition_point(|(b, _)| *b < le);
        if self.buckets.get(i).is_some_and(|(b, _)| *b == le) {
            return;
        }
        if i > 0 && count < self.buckets[i - 1].1 {
            self.err = Some(format!(
                "count is not cumulative: {} < {}",
                format_go_g(count),
                format_go_g(self.buckets[i - 1].1)
            ));
            return;
        }
        if let Some((_, next)) = self.buckets.get(i)
            && count > *next
        {
            self.err =
                Some(format!("count is not cumulative: {} > {}", format_go_g(count), format_go_g(*next)));
            return;
        }
        self.buckets.insert(i, (le, count));
    }

    fn set_count(&mut self, count: f64) {
        if self.err.is_some() {
            return;
        }
        if count < 0.0 {
            self.err = Some(format!("count must be non-negative: count={}", format_go_g(count)));
            return;
        }
        self.count = Some(count);
    }

    fn convert(mut self) -> Result<FloatHistogram, String> {
        if let Some(e) = self.err {
            return Err(e);
        }
        let count = match (self.count, self.buckets.last()) {
            (Some(c), _) => c,
            (None, Some((_, c))) => *c,
            (None, None) => 0.0,
        };
        if self.buckets.last().is_none_or(|(le, _)| *le != f64::INFINITY) {
            self.buckets.push((f64::INFINITY, count));
        }
        let last = self.buckets[self.buckets.len() - 1].1;
        if count != last {
            return Err(format!(
                "count mismatch: count={} != le=+Inf count={}",
                format_go_g(count),
                format_go_g(last)
            ));
        }
        let mut prev = 0.0;
        let mut buckets = Vec::with_capacity(self.buckets.len());
        let mut custom_values = Vec::with_capacity(self.buckets.len().saturating_sub(1));
        for (le, c) in &self.buckets {
            buckets.push(c - prev);
            prev = *c;
            if *le != f64::INFINITY {
                custom_values.push(*le);
            }
        }
        let mut h = FloatHistogram {
            schema: CUSTOM_BUCKETS_SCHEMA,
            count,
            sum: self.sum,
            positive_spans: vec![BucketSpan::new(0, u32::try_from(buckets.len()).unwrap_or(u32::MAX))],
            positive_buckets: buckets,
            custom_values,
            ..FloatHistogram::default()
        };
        h.compact(0);
        Ok(h)
    }
}

/// A converted series: its labels and its samples in time order.
pub(crate) type ConvertedSeries = (Labels, Vec<(i64, FloatHistogram)>);

/// The native histograms a `load_with_nhcb` block adds: per base series (name without the
/// suffix, `le` removed), its samples in time order.
pub(crate) fn convert_classic_histograms(load: &Load) -> Result<Vec<ConvertedSeries>, String> {
    let mut groups: Vec<(Labels, BTreeMap<i64, TempHistogram>)> = Vec::new();
    for s in &load.series {
        let name = s.labels.value(METRIC_NAME);
        let (kind, base) = if let Some(b) = name.strip_suffix("_bucket") {
            (Kind::Bucket, b)
        } else if let Some(b) = name.strip_suffix("_sum") {
            (Kind::Sum, b)
        } else if let Some(b) = name.strip_suffix("_count") {
            (Kind::Count, b)
        } else {
            continue;
        };
        let le = if kind == Kind::Bucket {
            let Some(le) = s.labels.get("le") else {
                return Err(format!("expected bucket label in metric {}", s.labels));
            };
            match le.trim().parse::<f64>().ok().or_else(|| super::script::parse_number(le)) {
                Some(v) if !v.is_nan() => v,
                _ => continue,
            }
        } else {
            0.0
        };
        let base_labels = s.labels.builder().set(METRIC_NAME, base).del("le").labels();
        let idx = match groups.iter().position(|(l, _)| *l == base_labels) {
            Some(i) => i,
            None => {
                groups.push((base_labels, BTreeMap::new()));
                groups.len() - 1
            }
        };
        let by_ts = &mut groups[idx].1;
        for (t, _, v) in s.samples(load.interval) {
            let LoadValue::Float(f) = v else {
                continue;
            };
            let h = by_ts.entry(t).or_default();
            match kind {
                Kind::Bucket => h.set_bucket(le, f),
                Kind::Count => h.set_count(f),
                Kind::Sum => h.sum = f,
            }
        }
    }
    groups
        .into_iter()
        .map(|(labels, by_ts)| {
            let samples = by_ts
                .into_iter()
                .map(|(t, h)| h.convert().map(|h| (t, h)))
                .collect::<Result<Vec<_>, String>>()?;
            Ok((labels, samples))
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Bucket,
    Count,
    Sum,
}
