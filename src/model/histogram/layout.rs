//! Sparse bucket layouts: spans of populated bucket indices over a flat list of counts.
//!
//! Functions here work on absolute positions and write spans back in Prometheus's relative
//! encoding (first offset absolute, later offsets are gaps), producing the same layouts as
//! upstream's `compactBuckets`, `reduceResolution` and `addBuckets`.

use super::BucketSpan;

/// A span with an absolute start index and its counts.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Run {
    pub(super) start: i64,
    pub(super) counts: Vec<f64>,
}

/// Spans and counts as runs with absolute starts. Counts missing for a span are taken as absent.
pub(super) fn to_runs(spans: &[BucketSpan], buckets: &[f64]) -> Vec<Run> {
    let mut runs = Vec::with_capacity(spans.len());
    let mut index: i64 = 0;
    let mut next = 0usize;
    for (i, span) in spans.iter().enumerate() {
        index = if i == 0 { i64::from(span.offset) } else { index + i64::from(span.offset) };
        let end = next.saturating_add(span.length as usize).min(buckets.len());
        runs.push(Run { start: index, counts: buckets[next.min(end)..end].to_vec() });
        index += i64::from(span.length);
        next = end;
    }
    runs
}

/// Runs back to relative spans and a flat list of counts.
pub(super) fn from_runs(runs: Vec<Run>) -> (Vec<BucketSpan>, Vec<f64>) {
    let mut spans = Vec::with_capacity(runs.len());
    let mut buckets = Vec::new();
    let mut end: Option<i64> = None;
    for run in runs {
        let offset = match end {
            None => run.start,
            Some(e) => run.start - e,
        };
        let length = run.counts.len();
        spans.push(BucketSpan { offset: offset as i32, length: length as u32 });
        end = Some(run.start + length as i64);
        buckets.extend(run.counts);
    }
    (spans, buckets)
}

/// Compacts one sign's layout in place (see [`super::FloatHistogram::compact`]).
pub(super) fn compact(spans: &mut Vec<BucketSpan>, buckets: &mut Vec<f64>, max_empty: usize) {
    let nothing_to_do = buckets.iter().all(|&b| b != 0.0)
        && spans.iter().enumerate().all(|(i, s)| {
            s.length != 0 && (i == 0 || usize::try_from(s.offset).is_ok_and(|o| o > max_empty))
        });
    if nothing_to_do {
        return;
    }
    // Adjacent and empty spans first collapse, so that every run is separated by a gap.
    let mut runs: Vec<Run> = Vec::new();
    for run in to_runs(spans, buckets) {
        match runs.last_mut() {
            Some(last) if last.start + last.counts.len() as i64 == run.start => {
                last.counts.extend(run.counts)
            }
            _ if run.counts.is_empty() => {}
            _ => runs.push(run),
        }
    }
    // Cut empty buckets at the edges of runs, and long stretches of them inside.
    let mut cut: Vec<Run> = Vec::new();
    for run in runs {
        let mut current: Option<Run> = None;
        let mut i = 0;
        let n = run.counts.len();
        while i < n {
            if run.counts[i] != 0.0 {
                let c =
                    current.get_or_insert_with(|| Run { start: run.start + i as i64, counts: Vec::new() });
                c.counts.push(run.counts[i]);
                i += 1;
                continue;
            }
            let empty = run.counts[i..].iter().take_while(|&&b| b == 0.0).count();
            let inside = current.is_some() && i + empty < n;
            if inside && empty <= max_empty {
                if let Some(c) = current.as_mut() {
                    c.counts.extend(std::iter::repeat_n(0.0, empty));
                }
            } else if let Some(c) = current.take() {
                cut.push(c);
            }
            i += empty;
        }
        if let Some(c) = current {
            cut.push(c);
        }
    }
    // Join runs separated by small gaps.
    let mut joined: Vec<Run> = Vec::with_capacity(cut.len());
    for run in cut {
        match joined.last_mut() {
            Some(last)
                if max_empty > 0
                    && usize::try_from(run.start - (last.start + last.counts.len() as i64))
                        .is_ok_and(|gap| gap <= max_empty) =>
            {
                let gap = (run.start - (last.start + last.counts.len() as i64)) as usize;
                last.counts.extend(std::iter::repeat_n(0.0, gap));
                last.counts.extend(run.counts);
            }
            _ => joined.push(run),
        }
    }
    (*spans, *buckets) = from_runs(joined);
}

/// The index in `target` schema of bucket `index` in `origin` schema (`origin >= target`).
pub(super) fn target_index(index: i64, origin: i32, target: i32) -> i64 {
    let shift = (i64::from(origin) - i64::from(target)).clamp(0, 63) as u32;
    ((index - 1) >> shift) + 1
}

/// Merges buckets into the coarser `target` schema.
pub(super) fn reduce_resolution(
    spans: &[BucketSpan],
    buckets: &[f64],
    origin: i32,
    target: i32,
) -> (Vec<BucketSpan>, Vec<f64>) {
    let mut runs: Vec<Run> = Vec::new();
    let mut last: Option<i64> = None;
    for run in to_runs(spans, buckets) {
        for (i, &count) in run.counts.iter().enumerate() {
            let t = target_index(run.start + i as i64, origin, target);
            match (last, runs.last_mut()) {
                (Some(l), Some(r)) if t <= l => {
                    if let Some(b) = r.counts.last_mut() {
                        *b += count;
                    }
                }
                (Some(l), Some(r)) if t == l + 1 => r.counts.push(count),
                _ => runs.push(Run { start: t, counts: vec![count] }),
            }
            last = Some(t.max(last.unwrap_or(t)));
        }
    }
    from_runs(runs)
}

/// Adds (or, with `negate`, subtracts) the buckets of `b` into the layout of `a`, inserting
/// buckets `a` lacks: a new bucket joins the span it directly follows, else the span it directly
/// precedes, else it gets a span of its own. With `skip_at_or_below` set, leading buckets of `b`
/// whose upper bound is at most that value are left out (they lie in the zero bucket).
pub(super) fn add_buckets(
    a_spans: &[BucketSpan],
    a_buckets: &[f64],
    b_spans: &[BucketSpan],
    b_buckets: &[f64],
    negate: bool,
    skip_at_or_below: Option<&dyn Fn(i64) -> bool>,
) -> (Vec<BucketSpan>, Vec<f64>) {
    let mut runs = to_runs(a_spans, a_buckets);
    let mut leading = true;
    for run in to_runs(b_spans, b_buckets) {
        for (i, &count) in run.counts.iter().enumerate() {
            let index = run.start + i as i64;
            if leading && skip_at_or_below.is_some_and(|skip| skip(index)) {
                continue;
            }
            leading = false;
            let count = if negate { -count } else { count };
            insert(&mut runs, index, count);
        }
    }
    from_runs(runs)
}

fn insert(runs: &mut Vec<Run>, index: i64, count: f64) {
    // The first run starting after `index`.
    let next = runs.partition_point(|r| r.start <= index);
    if next > 0 {
        let prev = &mut runs[next - 1];
        let end = prev.start + prev.counts.len() as i64;
        if index < end {
            prev.counts[(index - prev.start) as usize] += count;
            return;
        }
        if index == end {
            prev.counts.push(count);
            return;
        }
    }
    if let Some(following) = runs.get_mut(next)
        && following.start == index + 1
    {
        following.start = index;
        following.counts.insert(0, count);
        return;
    }
    runs.insert(next, Run { start: index, counts: vec![count] });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spans(v: &[(i32, u32)]) -> Vec<BucketSpan> {
        v.iter().map(|&(o, l)| BucketSpan::new(o, l)).collect()
    }

    #[test]
    fn compact_cuts_edges_and_long_gaps() {
        let mut s = spans(&[(-2, 6), (3, 2)]);
        let mut b = vec![0.0, 1.0, 0.0, 0.0, 2.0, 0.0, 3.0, 4.0];
        compact(&mut s, &mut b, 0);
        assert_eq!(s, spans(&[(-1, 1), (2, 1), (4, 2)]));
        assert_eq!(b, vec![1.0, 2.0, 3.0, 4.0]);
        let mut s = spans(&[(-1, 1), (2, 1), (4, 2)]);
        let mut b = vec![1.0, 2.0, 3.0, 4.0];
        compact(&mut s, &mut b, usize::MAX);
        assert_eq!(s, spans(&[(-1, 10)]));
        assert_eq!(b, vec![1.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0, 0.0, 3.0, 4.0]);
    }

    #[test]
    fn reduce_merges_pairs() {
        let (s, b) = reduce_resolution(&spans(&[(0, 2)]), &[1.0, 2.0], 1, 0);
        assert_eq!((s, b), (spans(&[(0, 2)]), vec![1.0, 2.0]));
        let (s, b) = reduce_resolution(&spans(&[(1, 4)]), &[1.0, 2.0, 3.0, 4.0], 1, 0);
        assert_eq!((s, b), (spans(&[(1, 2)]), vec![3.0, 7.0]));
    }

    #[test]
    fn add_extends_the_preceding_span_first() {
        let (s, b) =
            add_buckets(&spans(&[(0, 1), (1, 1)]), &[1.0, 1.0], &spans(&[(1, 1)]), &[5.0], false, None);
        assert_eq!(s, spans(&[(0, 2), (0, 1)]));
        assert_eq!(b, vec![1.0, 5.0, 1.0]);
        let (s, b) = add_buckets(&spans(&[(3, 1)]), &[1.0], &spans(&[(0, 1)]), &[2.0], true, None);
        assert_eq!(s, spans(&[(0, 1), (2, 1)]));
        assert_eq!(b, vec![-2.0, 1.0]);
    }
}
