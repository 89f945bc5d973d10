//! The inverted index of [`super::MemStorage`]: for every label name and value, the ascending list
//! of series ids that carry it, and the evaluation of matcher lists against it.

use std::sync::Arc;

use hashbrown::HashMap;

use crate::model::{Labels, MatchOp, Matcher};

/// Series id: the index of a series in the store's series table.
pub(crate) type SeriesId = u32;

/// Below this many candidates from direct lookups, other matchers filter the candidates by their
/// labels instead of being answered from the index.
const FEW_CANDIDATES: usize = 64;

/// Label name → label value → ascending series ids.
#[derive(Debug, Default)]
pub(crate) struct Postings {
    index: HashMap<Arc<str>, HashMap<Arc<str>, Vec<SeriesId>>>,
}

impl Postings {
    /// Records that series `id` (larger than every id added before) has `labels`.
    pub(crate) fn add(&mut self, id: SeriesId, labels: &Labels) {
        for l in labels {
            self.index
                .entry(l.name.clone())
                .or_insert_with(HashMap::new)
                .entry(l.value.clone())
                .or_insert_with(Vec::new)
                .push(id);
        }
    }

    /// The label names in the index, unsorted.
    pub(crate) fn names(&self) -> impl Iterator<Item = &str> {
        self.index.keys().map(|k| &**k)
    }

    /// The values label `name` has, unsorted.
    pub(crate) fn values(&self, name: &str) -> impl Iterator<Item = &str> {
        self.index.get(name).into_iter().flat_map(|m| m.keys().map(|k| &**k))
    }

    /// The ascending ids of the series matching every matcher, out of `count` series whose labels
    /// `labels_of` returns.
    ///
    /// Matchers that do not match the empty string are answered from the index (the union of the
    /// lists of the matching values; literal alternations `a|b|c` are looked up directly instead of
    /// testing every value); their lists are intersected, smallest first. Matchers that match the
    /// empty string (they also select series without the label) then filter the candidates by
    /// their label values. Without any index-answerable matcher every series is a candidate.
    pub(crate) fn select<'a>(
        &self,
        matchers: &[Matcher],
        count: usize,
        labels_of: impl Fn(SeriesId) -> &'a Labels,
    ) -> Vec<SeriesId> {
        let (positive, mut filters): (Vec<&Matcher>, Vec<&Matcher>) =
            matchers.iter().partition(|m| !m.matches_empty());
        // Lists that are direct lookups first; when one of them is short, the other matchers test
        // its few candidates' labels rather than gathering and merging the lists of every value
        // they accept (`metric{l=~".*x"}` would otherwise union the ids of half the store).
        let (direct, scanned): (Vec<&Matcher>, Vec<&Matcher>) =
            positive.into_iter().partition(|m| m.op == MatchOp::Equal || m.literal_values().is_some());
        let mut lists: Vec<Vec<SeriesId>> = direct.iter().map(|m| self.matching(m)).collect();
        if lists.iter().any(|l| l.len() <= FEW_CANDIDATES) {
            filters.extend(scanned);
        } else {
            lists.extend(scanned.iter().map(|m| self.matching(m)));
        }
        lists.sort_by_key(Vec::len);
        let mut ids = match lists.split_first() {
            Some((first, rest)) => {
                let mut acc = first.clone();
                for l in rest {
                    if acc.is_empty() {
                        break;
                    }
                    acc = intersect(&acc, l);
                }
                acc
            }
            None => (0..count as SeriesId).collect(),
        };
        if !filters.is_empty() {
            ids.retain(|&id| {
                let ls = labels_of(id);
                filters.iter().all(|m| m.matches(ls.value(&m.name)))
            });
        }
        ids
    }

    /// The ascending ids of the series whose label `m.name` has a value `m` accepts (for a matcher
    /// that does not match the empty string).
    fn matching(&self, m: &Matcher) -> Vec<SeriesId> {
        let Some(values) = self.index.get(m.name.as_str()) else {
            return Vec::new();
        };
        if m.op == MatchOp::Equal {
            return values.get(m.value.as_str()).cloned().unwrap_or_default();
        }
        let lists: Vec<&Vec<SeriesId>> = match m.literal_values() {
            Some(alts) => alts.filter_map(|v| values.get(v)).collect(),
            None => values.iter().filter(|(v, _)| m.matches(v)).map(|(_, ids)| ids).collect(),
        };
        union(&lists)
    }
}

fn intersect(a: &[SeriesId], b: &[SeriesId]) -> Vec<SeriesId> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(a.len().min(b.len()));
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                out.push(a[i]);
                i += 1;
                j += 1;
            }
        }
    }
    out
}

fn union(lists: &[&Vec<SeriesId>]) -> Vec<SeriesId> {
    match lists {
        [] => Vec::new(),
        [one] => (*one).clone(),
        _ => {
            let mut out: Vec<SeriesId> = lists.iter().flat_map(|l| l.iter().copied()).collect();
            out.sort_unstable();
            out.dedup();
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_operations() {
        assert_eq!(intersect(&[1, 3, 5, 7], &[2, 3, 7, 9]), [3, 7]);
        assert_eq!(union(&[&vec![1, 4], &vec![2, 4, 6]]), [1, 2, 4, 6]);
    }
}
