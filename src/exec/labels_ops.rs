//! Label-set transformations the operators share: name removal, grouping, matching signatures,
//! and Go's regexp template expansion for `label_replace`.

use std::sync::Arc;

use regex::Regex;

use crate::exec::SeriesMeta;
use crate::model::{Labels, METRIC_NAME};

/// The reserved metadata labels removed together with the metric name.
pub(crate) const METADATA_LABELS: [&str; 3] = [METRIC_NAME, "__type__", "__unit__"];

/// `labels` without `__name__`, `__type__` and `__unit__`.
pub(crate) fn drop_metadata(labels: &Labels) -> Labels {
    if !METADATA_LABELS.iter().any(|n| labels.has(n)) {
        return labels.clone();
    }
    labels.builder().without(&METADATA_LABELS).labels()
}

/// The series after an operation that removes the metric name: removed now, or marked for
/// removal at the end with delayed name removal.
pub(crate) fn name_dropped(meta: &SeriesMeta, delayed: bool) -> SeriesMeta {
    if delayed {
        SeriesMeta { labels: meta.labels.clone(), drop_name: true }
    } else {
        SeriesMeta { labels: drop_metadata(&meta.labels), drop_name: false }
    }
}

/// The labels of a result series after delayed name removal.
pub(crate) fn final_labels(m: &SeriesMeta, delayed: bool) -> Labels {
    if delayed && m.drop_name {
        m.labels.builder().without(&METADATA_LABELS).labels()
    } else {
        m.labels.clone()
    }
}

/// The output labels of an aggregation group (Prometheus's `generateGroupingLabels`).
pub(crate) fn grouping_labels(labels: &Labels, grouping: &[String], without: bool) -> Labels {
    if without {
        let mut b = labels.builder().without(grouping);
        b.del_mut(METRIC_NAME);
        b.labels()
    } else if grouping.is_empty() {
        Labels::empty()
    } else {
        labels.builder().keep(grouping).labels()
    }
}

/// The grouping key of an aggregation (Prometheus's `generateGroupingKey`), as a label set so
/// that it compares exactly.
pub(crate) fn grouping_key(labels: &Labels, grouping: &[String], without: bool) -> Labels {
    if without {
        labels.match_labels(false, grouping)
    } else if grouping.is_empty() {
        Labels::empty()
    } else {
        labels.match_labels(true, grouping)
    }
}

/// The matching signature of a binary operation: the `on` labels, or all but the `ignoring`
/// labels and the metric name.
pub(crate) fn signature(labels: &Labels, on: bool, names: &[String]) -> Labels {
    labels.match_labels(on, names)
}

/// Expands `template` as Go's `Regexp.ExpandString` does: `$1`, `${1}`, `$name`, `${name}`, and
/// `$$` for a literal dollar sign.
pub(crate) fn expand_template(re: &Regex, template: &str, caps: &regex::Captures<'_>) -> String {
    let mut out = String::new();
    let mut rest = template;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        rest = &rest[pos + 1..];
        if let Some(r) = rest.strip_prefix('$') {
            out.push('$');
            rest = r;
            continue;
        }
        match extract_name(rest) {
            Some((name, after)) => {
                rest = after;
                let group = match parse_group_number(name) {
                    Some(n) => caps.get(n),
                    None => re.capture_names().position(|c| c == Some(name)).and_then(|i| caps.get(i)),
                };
                if let Some(m) = group {
                    out.push_str(m.as_str());
                }
            }
            None => out.push('$'),
        }
    }
    out.push_str(rest);
    out
}

fn extract_name(s: &str) -> Option<(&str, &str)> {
    let (brace, body) = match s.strip_prefix('{') {
        Some(b) => (true, b),
        None => (false, s),
    };
    let end =
        body.char_indices().find(|(_, c)| !(c.is_alphanumeric() || *c == '_')).map_or(body.len(), |(i, _)| i);
    if end == 0 {
        return None;
    }
    let name = &body[..end];
    let after = &body[end..];
    if brace {
        let after = after.strip_prefix('}')?;
        return Some((name, after));
    }
    Some((name, after))
}

fn parse_group_number(name: &str) -> Option<usize> {
    let mut n: usize = 0;
    for c in name.chars() {
        let d = c.to_digit(10)? as usize;
        n = n * 10 + d;
        if n >= 100_000_000 {
            return None;
        }
    }
    Some(n)
}

/// Interns label sets to dense ids in first-seen order.
#[derive(Debug, Default)]
pub(crate) struct SeriesTable {
    index: hashbrown::HashMap<Labels, u32>,
    /// The series, by id.
    pub(crate) series: Vec<SeriesMeta>,
}

impl SeriesTable {
    /// The id of `meta.labels`, adding it if new; a later `drop_name` of `true` sticks.
    pub(crate) fn intern(&mut self, meta: SeriesMeta) -> u32 {
        if let Some(&id) = self.index.get(&meta.labels) {
            if meta.drop_name {
                self.series[id as usize].drop_name = true;
            }
            return id;
        }
        let id = self.series.len() as u32;
        self.index.insert(meta.labels.clone(), id);
        self.series.push(meta);
        id
    }

    /// The finished series list.
    pub(crate) fn finish(self) -> Arc<[SeriesMeta]> {
        Arc::from(self.series)
    }
}
