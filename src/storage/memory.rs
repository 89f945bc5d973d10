//! [`MemStorage`]: the default in-memory store.
//!
//! Layout: a table of series, each holding its float samples as one contiguous
//! `Arc<Vec<FPoint>>` and its histogram samples as one `Arc<Vec<HPoint>>` (the layout the
//! evaluator reads), start timestamps in parallel `Arc<Vec<i64>>`s (empty until a sample has
//! one), plus an inverted index (label name → value → series ids) for matcher lookups. Label
//! strings are interned, so series that share a name or value share its memory. One
//! reader-writer lock guards the whole store: any number of queries read at once; an append (or
//! an [`Appender`] commit) waits for them and is then seen by later queries all at once.
//!
//! [`Storage::select`] copies no sample: it returns [`SharedSlice`] views (the series' buffer and
//! the index range of `[start, end]`), which outlive the read lock. Buffers are copy-on-write: an
//! append to a series whose buffer no query holds pushes in place (the normal case: no copy, the
//! `Vec`'s amortised growth), and one to a buffer that a query still holds first copies it (with
//! room to grow) so the query's view never changes under it; later appends go to the copy in
//! place again. We chose this over a chunked buffer because range functions need each window as
//! one contiguous `&[FPoint]`, which chunks would have to copy at their boundaries on every
//! query; the price is at most one copy of a series per query that overlaps an append to it.
//!
//! Append rules follow a Prometheus TSDB head:
//!
//! * A sample newer than the series' newest sample is appended (the common case: one push per
//!   column).
//! * A sample at the series' newest timestamp is accepted and ignored when it is identical (same
//!   float bits, or an equal histogram), otherwise rejected with
//!   `duplicate sample for timestamp ...` (Prometheus's texts, including `existing is a histogram`).
//! * An older sample is rejected with `out of order sample` when the out-of-order window is 0 (the
//!   default, as in Prometheus and in its test storage). With a window `w > 0`
//!   ([`MemStorageOptions::out_of_order_window`]) a sample no older than `w` before the newest
//!   timestamp of the whole store is inserted in time order, and an older one is rejected with
//!   `too old sample`. Unlike Prometheus, which keeps such samples in a separate out-of-order head
//!   chunk and silently drops an out-of-order sample at an existing timestamp, we insert in place
//!   (queries see it at once) and treat an existing timestamp like the in-order case: identical is
//!   ignored, different is a duplicate error.
//! * Histogram samples are read back with the counter-reset hint a TSDB chunk gives them: `gauge`
//!   for gauge histograms; `unknown` for the first histogram of a chunk; `not_reset` for the
//!   others. A new chunk starts, as in Prometheus's head, after a float sample, after an explicit
//!   `reset` hint, when the count, zero count or a bucket decreases, when the schema, zero
//!   threshold or custom bounds change, and when a series switches between gauge and counter
//!   histograms. Unlike Prometheus we do not also cut chunks by size (about 1 KiB or 120 samples),
//!   so in a long histogram series Prometheus may report `unknown` at a few more samples.
//! * Staleness markers are float samples whatever the series held before (Prometheus turns a
//!   marker on a histogram series into a histogram whose sum is the marker; readers treat both the
//!   same, so we keep one representation). A histogram whose `sum` is the marker is stored as a
//!   float marker for the same reason.

use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use hashbrown::{HashMap, HashSet};

use super::postings::{Postings, SeriesId};
use super::{SelectHints, SeriesData, SharedSlice, Storage, StorageError};
use crate::model::{
    BucketSpan, CounterResetHint, FPoint, FloatHistogram, FloatIndex, HPoint, Label, Labels, Matcher,
    format_go_g, is_stale_nan,
};

/// Why an append was rejected. The texts are Prometheus's.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AppendError {
    /// An older sample than the series' newest, with no out-of-order window.
    #[error("out of order sample")]
    OutOfOrder,
    /// An older sample beyond the out-of-order window.
    #[error("too old sample")]
    TooOld,
    /// A float sample at an existing timestamp with a different value.
    #[error("{}", duplicate_float_text(*t, *existing, *new))]
    DuplicateFloat {
        /// The timestamp.
        t: i64,
        /// The stored value.
        existing: f64,
        /// The rejected value.
        new: f64,
    },
    /// A float sample at a timestamp that holds a histogram.
    #[error("{}", duplicate_hist_to_float_text(*t, *new))]
    DuplicateHistogramToFloat {
        /// The timestamp.
        t: i64,
        /// The rejected value.
        new: f64,
    },
    /// A histogram sample at an existing timestamp with a different value.
    #[error("duplicate sample for timestamp")]
    DuplicateHistogram {
        /// The timestamp.
        t: i64,
    },
    /// A sample for the empty label set (after dropping labels with empty values).
    #[error("empty labelset: invalid sample")]
    EmptyLabels,
}

fn duplicate_float_text(t: i64, existing: f64, new: f64) -> String {
    if t == 0 {
        "duplicate sample for timestamp".to_string()
    } else {
        format!(
            "duplicate sample for timestamp {t}; overrides not allowed: existing {}, new value {}",
            format_go_g(existing),
            format_go_g(new)
        )
    }
}

fn duplicate_hist_to_float_text(t: i64, new: f64) -> String {
    if t == 0 {
        "duplicate sample for timestamp".to_string()
    } else {
        format!(
            "duplicate sample for timestamp {t}; overrides not allowed: existing is a histogram, new value {}",
            format_go_g(new)
        )
    }
}

/// Settings of a [`MemStorage`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MemStorageOptions {
    /// How far (milliseconds) behind the store's newest sample an out-of-order sample may be and
    /// still be accepted; 0 (the default) rejects every out-of-order sample.
    pub out_of_order_window: i64,
}

/// The in-memory store. See the [module documentation](self) for its layout and append rules.
///
/// ```
/// use ferroprom::model::{Labels, STALE_NAN};
/// use ferroprom::storage::MemStorage;
///
/// let store = MemStorage::new();
/// let s = Labels::from_pairs([("__name__", "x")]);
/// store.append(&s, 10, 1.0)?;
/// store.append(&s, 10, 1.0)?; // identical duplicate: accepted, ignored
/// assert_eq!(store.append(&s, 10, 2.0).unwrap_err().to_string(),
///            "duplicate sample for timestamp 10; overrides not allowed: existing 1, new value 2");
/// assert_eq!(store.append(&s, 5, 1.0).unwrap_err().to_string(), "out of order sample");
/// store.append(&s, 20, STALE_NAN)?;
/// assert_eq!(store.sample_count(), 2);
/// # Ok::<(), ferroprom::storage::AppendError>(())
/// ```
#[derive(Debug, Default)]
pub struct MemStorage {
    opts: MemStorageOptions,
    inner: RwLock<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    series: Vec<MemSeries>,
    by_labels: HashMap<Labels, SeriesId>,
    postings: Postings,
    strings: HashSet<Arc<str>>,
    samples: usize,
    min_t: Option<i64>,
    max_t: Option<i64>,
}

#[derive(Debug, Default)]
struct MemSeries {
    labels: Labels,
    /// Float samples (and staleness markers), ascending by timestamp.
    floats: Arc<Vec<FPoint>>,
    /// Start timestamps of `floats`: empty until one is non-zero, then one per float.
    float_st: Arc<Vec<i64>>,
    /// The index of `floats` (staleness markers, counter resets, change counts), kept current.
    float_index: Arc<FloatIndex>,
    /// Histograms as read back: their hint is the chunk-derived one.
    hists: Arc<Vec<HPoint>>,
    /// Start timestamps of `hists`, as `float_st`.
    hist_st: Arc<Vec<i64>>,
    /// The counter-reset hints the histograms were appended with.
    hints_in: Vec<CounterResetHint>,
}

/// The kind of the newest sample of a series at a timestamp.
enum Existing<'a> {
    Float(f64),
    Histogram(&'a FloatHistogram),
}

impl MemSeries {
    fn max_t(&self) -> Option<i64> {
        match (self.floats.last(), self.hists.last()) {
            (Some(a), Some(b)) => Some(a.t.max(b.t)),
            (Some(a), None) => Some(a.t),
            (None, Some(b)) => Some(b.t),
            (None, None) => None,
        }
    }

    /// Recomputes the read-back hints of every histogram (after an out-of-order insert).
    fn recompute_hints(&mut self) {
        let floats = &self.floats;
        let hists = writable(&mut self.hists);
        for i in 0..hists.len() {
            let prev = match i.checked_sub(1) {
                Some(j) if !float_between(floats, hists[j].t, hists[i].t) => Some(hists[j].h.clone()),
                _ => None,
            };
            let hint_in = self.hints_in.get(i).copied().unwrap_or_default();
            let hint = read_hint(prev.as_deref(), &hists[i].h, hint_in);
            if hists[i].h.counter_reset_hint != hint {
                Arc::make_mut(&mut hists[i].h).counter_reset_hint = hint;
            }
        }
    }

    fn at(&self, t: i64) -> Option<Existing<'_>> {
        if let Ok(i) = self.floats.binary_search_by_key(&t, |p| p.t) {
            return Some(Existing::Float(self.floats[i].f));
        }
        if let Ok(i) = self.hists.binary_search_by_key(&t, |p| p.t) {
            return Some(Existing::Histogram(&self.hists[i].h));
        }
        None
    }
}

/// A sample value waiting in an [`Appender`].
#[derive(Debug, Clone)]
enum Pending {
    Float(f64),
    Histogram(Arc<FloatHistogram>),
}

impl MemStorage {
    /// An empty store with default options (no out-of-order window).
    pub fn new() -> MemStorage {
        MemStorage::default()
    }

    /// An empty store with the given options.
    pub fn with_options(opts: MemStorageOptions) -> MemStorage {
        MemStorage { opts, inner: RwLock::default() }
    }

    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the columns inconsistent with each other
        // (each append pushes all columns before returning), so a poisoned lock is still usable.
        self.inner.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends one float sample (a staleness marker is [`crate::model::STALE_NAN`]).
    pub fn append(&self, labels: &Labels, t: i64, v: f64) -> Result<(), AppendError> {
        self.append_with_st(labels, t, v, 0)
    }

    /// Appends one float sample with its start ("created") timestamp `st` (0 = unknown).
    pub fn append_with_st(&self, labels: &Labels, t: i64, v: f64, st: i64) -> Result<(), AppendError> {
        let mut inner = self.write();
        inner.append(self.opts, labels, t, Pending::Float(v), st, &mut None)
    }

    /// Appends one native histogram sample.
    pub fn append_histogram(
        &self,
        labels: &Labels,
        t: i64,
        h: Arc<FloatHistogram>,
    ) -> Result<(), AppendError> {
        self.append_histogram_with_st(labels, t, h, 0)
    }

    /// Appends one native histogram sample with its start timestamp `st` (0 = unknown).
    pub fn append_histogram_with_st(
        &self,
        labels: &Labels,
        t: i64,
        h: Arc<FloatHistogram>,
        st: i64,
    ) -> Result<(), AppendError> {
        let mut inner = self.write();
        inner.append(self.opts, labels, t, Pending::Histogram(h), st, &mut None)
    }

    /// A batch of appends that becomes visible to readers at once, on [`Appender::commit`].
    pub fn appender(&self) -> Appender<'_> {
        Appender { store: self, pending: Vec::new() }
    }

    /// The number of series.
    pub fn series_count(&self) -> usize {
        self.read().series.len()
    }

    /// The number of stored samples (floats, histograms and staleness markers).
    pub fn sample_count(&self) -> usize {
        self.read().samples
    }

    /// The oldest and newest sample timestamps, if the store has samples.
    pub fn time_bounds(&self) -> Option<(i64, i64)> {
        let inner = self.read();
        inner.min_t.zip(inner.max_t)
    }
}

impl Inner {
    /// The sorted, distinct strings `of_series` finds in the series that match `matchers` and have
    /// samples in `[mint, maxt]`; `of_index` gives them for all series at once, which is used when
    /// neither the matchers nor the range narrow the set.
    fn distinct<'a, I: Iterator<Item = &'a str>, J: IntoIterator<Item = &'a str>>(
        &'a self,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
        of_index: impl FnOnce(&'a Postings) -> I,
        of_series: impl Fn(&'a Labels) -> J,
    ) -> Vec<String> {
        let mut out: Vec<String> =
            if matchers.is_empty() && self.min_t >= Some(mint) && self.max_t <= Some(maxt) {
                of_index(&self.postings).map(str::to_string).collect()
            } else {
                let mut set: HashSet<&str> = HashSet::new();
                for id in self.matching_in_range(matchers, mint, maxt) {
                    set.extend(of_series(&self.series[id as usize].labels));
                }
                set.into_iter().map(str::to_string).collect()
            };
        out.sort_unstable();
        out
    }

    fn intern(&mut self, s: &Arc<str>) -> Arc<str> {
        match self.strings.get(s) {
            Some(x) => x.clone(),
            None => {
                self.strings.insert(s.clone());
                s.clone()
            }
        }
    }

    fn series_id(&mut self, labels: &Labels) -> Result<SeriesId, AppendError> {
        if let Some(&id) = self.by_labels.get(labels) {
            return Ok(id);
        }
        // As in Prometheus's head, a label with an empty value is no label.
        if labels.iter().any(|l| l.value.is_empty()) {
            let stripped = Labels::from_vec(labels.iter().filter(|l| !l.value.is_empty()).cloned().collect());
            if let Some(&id) = self.by_labels.get(&stripped) {
                return Ok(id);
            }
            return self.create_series(&stripped);
        }
        self.create_series(labels)
    }

    fn create_series(&mut self, labels: &Labels) -> Result<SeriesId, AppendError> {
        if labels.is_empty() {
            return Err(AppendError::EmptyLabels);
        }
        let interned: Vec<Label> = labels
            .iter()
            .map(|l| Label { name: self.intern(&l.name), value: self.intern(&l.value) })
            .collect();
        let labels = Labels::from_vec(interned);
        // Ids are u32 to halve the index; 4 billion series is far beyond an in-memory store.
        let id = SeriesId::try_from(self.series.len()).unwrap_or(SeriesId::MAX);
        self.postings.add(id, &labels);
        self.by_labels.insert(labels.clone(), id);
        self.series.push(MemSeries { labels, ..MemSeries::default() });
        Ok(id)
    }

    /// Appends one sample. `last` caches the series of the previous call: consecutive samples of
    /// one series (sharing one `Labels` allocation) skip the lookup.
    fn append(
        &mut self,
        opts: MemStorageOptions,
        labels: &Labels,
        t: i64,
        v: Pending,
        st: i64,
        last: &mut Option<(Labels, SeriesId)>,
    ) -> Result<(), AppendError> {
        let v = match v {
            Pending::Histogram(h) if is_stale_nan(h.sum) => Pending::Float(h.sum),
            v => v,
        };
        let store_max = self.max_t;
        let id = match last {
            Some((l, id)) if l.ptr_eq(labels) => *id,
            _ => {
                let id = self.series_id(labels)?;
                *last = Some((labels.clone(), id));
                id
            }
        };
        let s = &mut self.series[id as usize];
        let in_order = s.max_t().is_none_or(|m| t > m);
        if !in_order {
            if let Some(existing) = s.at(t) {
                return check_duplicate(existing, &v, t);
            }
            if opts.out_of_order_window <= 0 {
                return Err(AppendError::OutOfOrder);
            } else if t < store_max.unwrap_or(t).saturating_sub(opts.out_of_order_window) {
                return Err(AppendError::TooOld);
            }
        }
        match v {
            Pending::Float(f) => {
                let p = FPoint { t, f };
                if in_order {
                    Arc::make_mut(&mut s.float_index).push(s.floats.last(), &p);
                }
                insert(&mut s.floats, &mut s.float_st, p, |p| p.t, st, in_order);
                if !in_order {
                    s.float_index = Arc::new(FloatIndex::build(&s.floats));
                }
            }
            Pending::Histogram(mut h) => {
                let hint_in = h.counter_reset_hint;
                if in_order {
                    let prev_is_hist = match (s.hists.last(), s.floats.last()) {
                        (Some(hp), Some(fp)) => hp.t > fp.t,
                        (Some(_), None) => true,
                        _ => false,
                    };
                    let prev = if prev_is_hist { s.hists.last().map(|p| &*p.h) } else { None };
                    let hint = read_hint(prev, &h, hint_in);
                    if hint != hint_in {
                        Arc::make_mut(&mut h).counter_reset_hint = hint;
                    }
                }
                let i = insert(&mut s.hists, &mut s.hist_st, HPoint { t, h }, |p| p.t, st, in_order);
                s.hints_in.insert(i.min(s.hints_in.len()), hint_in);
                if !in_order {
                    s.recompute_hints();
                }
            }
        }
        self.samples += 1;
        self.min_t = Some(self.min_t.map_or(t, |m| m.min(t)));
        self.max_t = Some(self.max_t.map_or(t, |m| m.max(t)));
        Ok(())
    }
}

/// The buffer behind `buf`, for writing: in place when nobody else holds it, otherwise a copy
/// (with room to grow) that replaces it, so readers' views never change.
fn writable<T: Clone>(buf: &mut Arc<Vec<T>>) -> &mut Vec<T> {
    if Arc::get_mut(buf).is_none() {
        let mut copy = Vec::with_capacity(buf.len() + buf.len() / 2 + 16);
        copy.extend_from_slice(buf);
        *buf = Arc::new(copy);
    }
    // Unique now, so this does not clone.
    Arc::make_mut(buf)
}

/// Inserts point `p` (timestamp `t(&p)`, start timestamp `st`) at its sorted place and returns
/// its index. In order, that is a push.
fn insert<P: Clone>(
    points: &mut Arc<Vec<P>>,
    sts: &mut Arc<Vec<i64>>,
    p: P,
    t: impl Fn(&P) -> i64,
    st: i64,
    in_order: bool,
) -> usize {
    let points = writable(points);
    let at = t(&p);
    let i = if in_order { points.len() } else { points.partition_point(|q| t(q) < at) };
    if !sts.is_empty() || st != 0 {
        let sts = writable(sts);
        sts.resize(points.len(), 0);
        sts.insert(i, st);
    }
    points.insert(i, p);
    i
}

/// Whether a float sample lies strictly between `a` and `b`.
fn float_between(floats: &[FPoint], a: i64, b: i64) -> bool {
    let i = floats.partition_point(|p| p.t <= a);
    floats.get(i).is_some_and(|p| p.t < b)
}

fn check_duplicate(existing: Existing<'_>, new: &Pending, t: i64) -> Result<(), AppendError> {
    match (existing, new) {
        (Existing::Float(e), Pending::Float(n)) if e.to_bits() == n.to_bits() => Ok(()),
        (Existing::Float(e), Pending::Float(n)) => {
            Err(AppendError::DuplicateFloat { t, existing: e, new: *n })
        }
        (Existing::Histogram(_), Pending::Float(n)) => {
            Err(AppendError::DuplicateHistogramToFloat { t, new: *n })
        }
        (Existing::Histogram(e), Pending::Histogram(n)) if same_ignoring_hint(e, n) => Ok(()),
        (_, Pending::Histogram(_)) => Err(AppendError::DuplicateHistogram { t }),
    }
}

/// Whether two histograms are equal apart from their counter-reset hints.
fn same_ignoring_hint(a: &FloatHistogram, b: &FloatHistogram) -> bool {
    FloatHistogram { counter_reset_hint: b.counter_reset_hint, ..a.clone() } == *b
}

/// The hint a TSDB chunk gives histogram `h` (appended with hint `hint_in`) on read, when the
/// sample before it in the series is the histogram `prev` (`None`: no sample, or a float).
fn read_hint(
    prev: Option<&FloatHistogram>,
    h: &FloatHistogram,
    hint_in: CounterResetHint,
) -> CounterResetHint {
    if hint_in == CounterResetHint::Gauge {
        return CounterResetHint::Gauge;
    }
    let Some(p) = prev else {
        return CounterResetHint::Unknown;
    };
    let new_chunk = p.counter_reset_hint == CounterResetHint::Gauge
        || hint_in == CounterResetHint::CounterReset
        || h.count < p.count
        || h.schema != p.schema
        || h.zero_threshold != p.zero_threshold
        || (h.uses_custom_buckets() && h.custom_values != p.custom_values)
        || h.zero_count < p.zero_count
        || buckets_decrease(&p.positive_spans, &p.positive_buckets, &h.positive_spans, &h.positive_buckets)
        || buckets_decrease(&p.negative_spans, &p.negative_buckets, &h.negative_spans, &h.negative_buckets);
    if new_chunk { CounterResetHint::Unknown } else { CounterResetHint::NotCounterReset }
}

/// `(absolute bucket index, count)` of the populated buckets.
fn bucket_counts(spans: &[BucketSpan], buckets: &[f64]) -> Vec<(i64, f64)> {
    let mut out = Vec::with_capacity(buckets.len());
    let mut idx: i64 = 0;
    let mut counts = buckets.iter();
    for s in spans {
        idx += i64::from(s.offset);
        for _ in 0..s.length {
            if let Some(&c) = counts.next() {
                out.push((idx, c));
            }
            idx += 1;
        }
    }
    out
}

/// Whether some bucket of the previous histogram has a larger count than in the new one (a bucket
/// missing from the new one counts 0).
fn buckets_decrease(ps: &[BucketSpan], pb: &[f64], hs: &[BucketSpan], hb: &[f64]) -> bool {
    let new = bucket_counts(hs, hb);
    bucket_counts(ps, pb).iter().any(|(i, c)| {
        let now = new.binary_search_by_key(i, |(j, _)| *j).map_or(0.0, |k| new[k].1);
        *c > now
    })
}

/// A batch of samples for a [`MemStorage`], applied under one write lock by [`Appender::commit`].
///
/// ```
/// use ferroprom::model::Labels;
/// use ferroprom::storage::MemStorage;
///
/// let store = MemStorage::new();
/// let mut app = store.appender();
/// app.add(Labels::from_pairs([("__name__", "a")]), 0, 1.0);
/// app.add(Labels::from_pairs([("__name__", "b")]), 0, 2.0);
/// assert_eq!(app.commit()?, 2);
/// assert_eq!(store.series_count(), 2);
/// # Ok::<(), ferroprom::storage::AppendError>(())
/// ```
#[derive(Debug)]
pub struct Appender<'a> {
    store: &'a MemStorage,
    pending: Vec<(Labels, i64, Pending, i64)>,
}

impl Appender<'_> {
    /// Queues a float sample.
    pub fn add(&mut self, labels: Labels, t: i64, v: f64) {
        self.pending.push((labels, t, Pending::Float(v), 0));
    }

    /// Queues a float sample with a start timestamp (0 = unknown).
    pub fn add_with_st(&mut self, labels: Labels, t: i64, v: f64, st: i64) {
        self.pending.push((labels, t, Pending::Float(v), st));
    }

    /// Queues a native histogram sample.
    pub fn add_histogram(&mut self, labels: Labels, t: i64, h: Arc<FloatHistogram>) {
        self.pending.push((labels, t, Pending::Histogram(h), 0));
    }

    /// Queues a native histogram sample with a start timestamp (0 = unknown).
    pub fn add_histogram_with_st(&mut self, labels: Labels, t: i64, h: Arc<FloatHistogram>, st: i64) {
        self.pending.push((labels, t, Pending::Histogram(h), st));
    }

    /// The number of queued samples.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Applies the queued samples in the order they were added. Every acceptable sample is stored
    /// even when others are rejected; the result is the number stored, or the first rejection.
    pub fn commit(self) -> Result<usize, AppendError> {
        let opts = self.store.opts;
        let mut inner = self.store.write();
        let mut first_err = None;
        let mut stored = 0;
        let mut last = None;
        for (labels, t, v, st) in self.pending {
            match inner.append(opts, &labels, t, v, st, &mut last) {
                Ok(()) => stored += 1,
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        match first_err {
            Some(e) => Err(e),
            None => Ok(stored),
        }
    }
}

impl Storage for MemStorage {
    fn select(&self, matchers: &[Matcher], hints: &SelectHints) -> Result<Vec<SeriesData>, StorageError> {
        let inner = self.read();
        let ids = inner.postings.select(matchers, inner.series.len(), |id| &inner.series[id as usize].labels);
        let (start, end) = (hints.start, hints.end);
        let mut out: Vec<SeriesData> = Vec::with_capacity(ids.len());
        for id in ids {
            let s = &inner.series[id as usize];
            let (fa, fb) = bounds(&s.floats, |p| p.t, start, end);
            let (ha, hb) = bounds(&s.hists, |p| p.t, start, end);
            if fa == fb && ha == hb {
                continue;
            }
            out.push(SeriesData {
                labels: s.labels.clone(),
                floats: SharedSlice::new(s.floats.clone(), fa..fb),
                float_st: slice_st(&s.float_st, fa, fb),
                histograms: SharedSlice::new(s.hists.clone(), ha..hb),
                histogram_st: slice_st(&s.hist_st, ha, hb),
                float_index: s.float_index.covers(s.floats.len()).then(|| s.float_index.clone()),
            });
        }
        drop(inner);
        out.sort_unstable_by(|a, b| a.labels.cmp(&b.labels));
        if hints.limit > 0 {
            out.truncate(hints.limit);
        }
        Ok(out)
    }

    fn label_names(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<String>, StorageError> {
        let inner = self.read();
        let names =
            inner.distinct(matchers, mint, maxt, Postings::names, |labels| labels.iter().map(|l| &*l.name));
        Ok(names)
    }

    fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, StorageError> {
        let inner = self.read();
        let mut values =
            inner.distinct(matchers, mint, maxt, |postings| postings.values(name), |labels| labels.get(name));
        values.retain(|v| !v.is_empty());
        Ok(values)
    }
}

impl Inner {
    fn matching_in_range(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Vec<SeriesId> {
        let mut ids =
            self.postings.select(matchers, self.series.len(), |id| &self.series[id as usize].labels);
        ids.retain(|&id| {
            let s = &self.series[id as usize];
            let (fa, fb) = bounds(&s.floats, |p| p.t, mint, maxt);
            let (ha, hb) = bounds(&s.hists, |p| p.t, mint, maxt);
            fa < fb || ha < hb
        });
        ids
    }
}

/// The index range of the points (ascending timestamps `t(p)`) in `[start, end]`.
fn bounds<P>(points: &[P], t: impl Fn(&P) -> i64 + Copy, start: i64, end: i64) -> (usize, usize) {
    let a = partition_guess(points, t, start, |x| x < start);
    let b = a + partition_guess(points.get(a..).unwrap_or(&[]), t, end, |x| x <= end);
    (a, b)
}

/// The number of leading points of `ts` (ascending timestamps `t(p)`) for which `before` holds,
/// `before` being monotone and about `target`. Series are mostly scraped at a regular interval,
/// so the position is guessed from the average spacing and found by galloping from the guess: a
/// few cache misses instead of a binary search's ~log2(n).
fn partition_guess<P>(ts: &[P], t: impl Fn(&P) -> i64, target: i64, before: impl Fn(i64) -> bool) -> usize {
    let n = ts.len();
    let (Some(first), Some(last)) = (ts.first().map(&t), ts.last().map(&t)) else { return 0 };
    if n < 64 {
        return ts.partition_point(|p| before(t(p)));
    }
    if !before(first) {
        return 0;
    }
    if before(last) {
        return n;
    }
    let span = (last as i128 - first as i128).max(1);
    let guess = ((target as i128 - first as i128) * (n as i128 - 1) / span).clamp(0, n as i128 - 1) as usize;
    if before(t(&ts[guess])) {
        // The answer is above `guess`: double the stride until a timestamp is not before.
        let (mut lo, mut stride) = (guess + 1, 1);
        let hi = loop {
            let probe = lo + stride;
            if probe >= n || !before(t(&ts[probe])) {
                break probe.min(n);
            }
            lo = probe + 1;
            stride *= 2;
        };
        lo + ts[lo..hi].partition_point(|p| before(t(p)))
    } else {
        // The answer is at or below `guess`.
        let (mut hi, mut stride) = (guess, 1);
        let lo = loop {
            if hi < stride {
                break 0;
            }
            let probe = hi - stride;
            if before(t(&ts[probe])) {
                break probe + 1;
            }
            hi = probe;
            stride *= 2;
        };
        lo + ts[lo..hi].partition_point(|p| before(t(p)))
    }
}

/// The view of start timestamps `a..b`, empty when none of them is known.
fn slice_st(st: &Arc<Vec<i64>>, a: usize, b: usize) -> SharedSlice<i64> {
    match st.get(a..b) {
        Some(part) if part.iter().any(|&x| x != 0) => SharedSlice::new(st.clone(), a..b),
        _ => SharedSlice::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guessed_partition_matches_binary_search() {
        let regular: Vec<i64> = (0..1_000).map(|i| i * 10).collect();
        let irregular: Vec<i64> = (0..500i64).map(|i| 2 * i * i + i64::from(i % 7 == 0)).collect();
        for ts in [&regular, &irregular] {
            for x in (-20..ts[ts.len() - 1] + 20).step_by(3) {
                let key = |t: &i64| *t;
                assert_eq!(partition_guess(ts, key, x, |t| t < x), ts.partition_point(|&t| t < x), "{x}");
                assert_eq!(partition_guess(ts, key, x, |t| t <= x), ts.partition_point(|&t| t <= x), "{x}");
                let (a, b) = bounds(ts, key, x, x + 55);
                assert_eq!((a, b), (ts.partition_point(|&t| t < x), ts.partition_point(|&t| t <= x + 55)));
            }
        }
    }

    #[test]
    fn writes_go_in_place_unless_a_reader_holds_the_buffer() {
        let mut buf = Arc::new(vec![1, 2, 3]);
        let before = Arc::as_ptr(&buf);
        writable(&mut buf).push(4);
        assert!(std::ptr::eq(before, Arc::as_ptr(&buf)), "unshared: no copy");
        let view = SharedSlice::new(buf.clone(), 1..4);
        writable(&mut buf).push(5);
        assert!(!std::ptr::eq(before, Arc::as_ptr(&buf)), "shared: copied");
        assert_eq!(view, [2, 3, 4]);
        assert_eq!(*buf, [1, 2, 3, 4, 5]);
    }

    #[test]
    fn views_outlive_appends() {
        let store = MemStorage::with_options(MemStorageOptions { out_of_order_window: 1_000 });
        let l = Labels::from_pairs([("__name__", "x")]);
        store.append(&l, 10, 1.0).unwrap();
        store.append(&l, 30, 3.0).unwrap();
        let m = Matcher::new(crate::model::MatchOp::Equal, "__name__", "x").unwrap();
        let old = store.select(std::slice::from_ref(&m), &SelectHints::range(0, 100)).unwrap();
        store.append(&l, 40, 4.0).unwrap();
        store.append(&l, 20, 2.0).unwrap();
        store.append_with_st(&l, 50, 5.0, 7).unwrap();
        let new = store.select(&[m], &SelectHints::range(0, 100)).unwrap();
        let pts = |s: &SeriesData| s.floats.iter().map(|p| (p.t, p.f)).collect::<Vec<_>>();
        assert_eq!(pts(&old[0]), [(10, 1.0), (30, 3.0)]);
        assert!(old[0].float_st.is_empty());
        assert_eq!(pts(&new[0]), [(10, 1.0), (20, 2.0), (30, 3.0), (40, 4.0), (50, 5.0)]);
        assert_eq!(new[0].float_st, [0, 0, 0, 0, 7]);
        // The index follows appends in and out of order, and a view's positions start at its offset.
        store.append(&l, 60, 0.5).unwrap();
        store.append(&l, 15, 9.0).unwrap();
        let m = Matcher::new(crate::model::MatchOp::Equal, "__name__", "x").unwrap();
        let got = store.select(&[m], &SelectHints::range(12, 100)).unwrap();
        let ix = got[0].float_index.clone().unwrap();
        assert_eq!(got[0].floats.offset(), 1);
        assert_eq!(ix.resets_in(0, 7), [2, 6]);
        assert_eq!(*ix, FloatIndex::build(&store.read().series[0].floats));
    }
}
