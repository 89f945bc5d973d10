//! `info(v, selector)`: enriches each series of `v` with the data labels of the info series
//! (`target_info` by default) that share its `instance` and `job`. The labels it adds depend on
//! which info series exist at each step, so the operator reads its whole input first.

use std::collections::VecDeque;
use std::sync::Arc;

use hashbrown::{HashMap, HashSet};

use crate::exec::labels_ops::SeriesTable;
use crate::exec::select::{latest, load};
use crate::exec::{BoxOp, EvalError, ExecContext, Grid, Operator, Sample, SeriesMeta, StepBatch};
use crate::model::{Labels, METRIC_NAME, MatchOp, Matcher};
use crate::plan::{Node, Selector};

const IDENTIFYING: [&str; 2] = ["instance", "job"];

/// The `info` function.
pub(crate) struct InfoOp<'a> {
    pub(crate) ctx: &'a ExecContext<'a>,
    pub(crate) child: BoxOp<'a>,
    /// The matchers of the second argument, if given.
    pub(crate) label_selector: Option<Vec<Matcher>>,
    /// The `@` time and offset of the first selector of the first argument.
    pub(crate) at: Option<i64>,
    pub(crate) offset: i64,
    pub(crate) grid: Grid,
    pub(crate) meta: Option<Arc<[SeriesMeta]>>,
    pub(crate) batches: VecDeque<StepBatch>,
}

/// The `@` time and offset the info series are read with: those of the first selector in `node`,
/// adding the offsets of enclosing subqueries up to the first one with `@`.
pub(crate) fn first_selector_time(node: &Node) -> Option<(Option<i64>, i64)> {
    fn walk(node: &Node, subqs: &mut Vec<(i64, Option<i64>)>) -> Option<(Option<i64>, i64)> {
        let sel: Option<&Selector> = match node {
            Node::VectorSelector(s) => Some(s),
            Node::MatrixSelector(m) => Some(&m.selector),
            _ => None,
        };
        if let Some(s) = sel {
            let (mut at, mut offset) = (s.at, s.offset);
            for (o, a) in subqs.iter().rev() {
                if at.is_some() {
                    break;
                }
                offset += o;
                at = *a;
            }
            return Some((at, offset));
        }
        if let Node::Subquery(sq) = node {
            subqs.push((sq.offset, sq.at));
            let r = walk(&sq.expr, subqs);
            subqs.pop();
            return r;
        }
        node.children().into_iter().find_map(|c| walk(c, subqs))
    }
    walk(node, &mut Vec::new())
}

fn matcher(op: MatchOp, name: &str, value: &str) -> Result<Matcher, EvalError> {
    Matcher::new(op, name, value).map_err(|e| EvalError::msg(e.0))
}

impl InfoOp<'_> {
    fn effective_name_matchers(ms: &[Matcher]) -> Result<Vec<Matcher>, EvalError> {
        if ms.iter().any(|m| matches!(m.op, MatchOp::Equal | MatchOp::Regex)) {
            return Ok(ms.to_vec());
        }
        if !ms.is_empty() {
            let mut out = vec![matcher(MatchOp::Regex, METRIC_NAME, ".+_info")?];
            out.extend(ms.iter().cloned());
            return Ok(out);
        }
        Ok(vec![matcher(MatchOp::Equal, METRIC_NAME, "target_info")?])
    }

    fn run(&mut self) -> Result<(), EvalError> {
        let base_meta = self.child.series()?;
        let mut base_batches = Vec::new();
        while let Some(b) = self.child.next()? {
            base_batches.push(b);
        }
        // Data label matchers by name, and the info metric name matchers.
        let mut data: Vec<(String, Vec<Matcher>)> = Vec::new();
        let mut name_matchers: Vec<Matcher> = Vec::new();
        match &self.label_selector {
            Some(ms) => {
                for m in ms {
                    match data.iter_mut().find(|(n, _)| *n == m.name) {
                        Some((_, v)) => v.push(m.clone()),
                        None => data.push((m.name.clone(), vec![m.clone()])),
                    }
                    if m.name == METRIC_NAME {
                        name_matchers.push(m.clone());
                    }
                }
            }
            None => name_matchers.push(matcher(MatchOp::Equal, METRIC_NAME, "target_info")?),
        }
        let effective = Self::effective_name_matchers(&name_matchers)?;
        let ignore: Vec<bool> = base_meta
            .iter()
            .map(|m| {
                let name = m.labels.get(METRIC_NAME).unwrap_or("");
                effective.iter().all(|x| x.matches(name))
            })
            .collect();
        // Identifying label values of the series to enrich.
        let mut id_values: Vec<(&str, Vec<String>)> = Vec::new();
        for (m, ign) in base_meta.iter().zip(&ignore) {
            if *ign {
                continue;
            }
            for l in IDENTIFYING {
                if let Some(v) = m.labels.get(l).filter(|v| !v.is_empty()) {
                    match id_values.iter_mut().find(|(n, _)| *n == l) {
                        Some((_, vs)) => {
                            if !vs.iter().any(|x| x == v) {
                                vs.push(v.to_string());
                            }
                        }
                        None => id_values.push((l, vec![v.to_string()])),
                    }
                }
            }
        }
        let data_names: Vec<(String, Vec<Matcher>)> = data
            .iter()
            .map(|(n, ms)| {
                (n.clone(), ms.iter().filter(|m| m.name != METRIC_NAME).cloned().collect::<Vec<_>>())
            })
            .filter(|(_, ms)| !ms.is_empty())
            .collect();
        let mut info_series = Vec::new();
        if !id_values.is_empty() {
            let mut ms = Vec::new();
            for (name, vals) in &id_values {
                let re = vals.iter().map(|v| regex::escape(v)).collect::<Vec<_>>().join("|");
                ms.push(matcher(MatchOp::Regex, name, &re)?);
            }
            for (_, dm) in &data_names {
                ms.extend(dm.iter().cloned());
            }
            ms.extend(Self::effective_name_matchers(&name_matchers)?);
            let (lo, hi) = self.at.map_or((self.grid.start, self.grid.end), |a| (a, a));
            let sel = Selector {
                name: None,
                matchers: ms,
                offset: self.offset,
                at: self.at,
                anchored: false,
                smoothed: false,
                stats_only: false,
                mint: lo - (self.ctx.lookback - 1) - self.offset,
                maxt: hi - self.offset,
                span: Default::default(),
            };
            info_series = load(self.ctx, &sel, 0)?;
        }
        let sig = |name: &str, l: &Labels| -> Labels {
            let mut b = l.match_labels(true, &IDENTIFYING).builder();
            b.set_mut(METRIC_NAME, name);
            b.labels()
        };
        let info_names: Vec<String> = {
            let mut v: Vec<String> = Vec::new();
            for s in &info_series {
                let n = s.labels.get(METRIC_NAME).unwrap_or("").to_string();
                if !v.contains(&n) {
                    v.push(n);
                }
            }
            v
        };
        let info_sigs: Vec<Labels> =
            info_series.iter().map(|s| sig(s.labels.get(METRIC_NAME).unwrap_or(""), &s.labels)).collect();
        let base_sigs: Vec<Vec<(usize, Labels)>> = base_meta
            .iter()
            .map(|m| info_names.iter().enumerate().map(|(i, n)| (i, sig(n, &m.labels))).collect())
            .collect();
        let all_match_empty = data_names.iter().all(|(_, ms)| ms.iter().all(|m| m.matches("")));
        let mut table = SeriesTable::default();
        let mut out_batches = VecDeque::new();
        for mut batch in base_batches {
            for step in batch.iter_mut() {
                self.ctx.limits.check()?;
                let ref_t = self.at.unwrap_or(step.t) - self.offset;
                // The newest info sample per signature.
                let mut by_sig: HashMap<&Labels, (usize, i64)> = HashMap::new();
                for (i, s) in info_series.iter().enumerate() {
                    let Some((orig_t, _, h)) = latest(s, ref_t, self.ctx.lookback) else { continue };
                    if h.is_some() {
                        return Err(EvalError::msg(format!(
                            "this should be an info metric, with float samples: {}",
                            s.labels
                        )));
                    }
                    let key = &info_sigs[i];
                    match by_sig.get(key) {
                        Some(&(j, t)) if t > orig_t => {
                            let _ = j;
                        }
                        Some(&(j, t)) if t == orig_t => {
                            return Err(EvalError::msg(format!(
                                "found duplicate series for info metric: existing {} @ {}, new {} @ {}",
                                info_series[j].labels, t, s.labels, orig_t
                            )));
                        }
                        _ => {
                            by_sig.insert(key, (i, orig_t));
                        }
                    }
                }
                let samples = std::mem::take(&mut step.samples);
                let mut out = Vec::with_capacity(samples.len());
                for s in samples {
                    let bm = &base_meta[s.id as usize];
                    if ignore[s.id as usize] {
                        let id = table.intern(bm.clone());
                        out.push(Sample { id, ..s });
                        continue;
                    }
                    let mut added: Vec<(String, String)> = Vec::new();
                    let mut seen = HashSet::new();
                    for (name_idx, key) in &base_sigs[s.id as usize] {
                        let Some(&(i, _)) = by_sig.get(key) else { continue };
                        if !seen.insert(*name_idx) {
                            continue;
                        }
                        for l in info_series[i].labels.iter() {
                            if &*l.name == METRIC_NAME {
                                continue;
                            }
                            if !data_names.is_empty() && !data_names.iter().any(|(n, _)| *n == *l.name) {
                                continue;
                            }
                            if let Some((_, v)) = added.iter().find(|(n, _)| *n == *l.name) {
                                if v.as_str() != &*l.value {
                                    return Err(EvalError::msg(format!("conflicting label: {}", l.name)));
                                }
                                continue;
                            }
                            if bm.labels.has(&l.name) {
                                continue;
                            }
                            added.push((l.name.to_string(), l.value.to_string()));
                        }
                    }
                    if seen.is_empty() && !all_match_empty {
                        continue;
                    }
                    let mut b = bm.labels.builder();
                    for (n, v) in &added {
                        b.set_mut(n.as_str(), v.as_str());
                    }
                    let id = table.intern(SeriesMeta { labels: b.labels(), drop_name: bm.drop_name });
                    out.push(Sample { id, ..s });
                }
                let mut ids = HashSet::new();
                if !out.iter().all(|s| ids.insert(s.id)) {
                    return Err(EvalError::msg("vector cannot contain metrics with the same labelset"));
                }
                step.samples = out;
            }
            out_batches.push_back(batch);
        }
        self.meta = Some(table.finish());
        self.batches = out_batches;
        Ok(())
    }
}

impl Operator for InfoOp<'_> {
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
