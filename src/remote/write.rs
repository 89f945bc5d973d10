//! A remote-write 1.0 sink: samples go on a bounded queue and one sender thread POSTs them in
//! batches as snappy-compressed `WriteRequest`s (`Content-Encoding: snappy`,
//! `X-Prometheus-Remote-Write-Version: 0.1.0`).
//!
//! Delivery follows Prometheus's queue manager: a batch that fails with a transport error, a 5xx
//! or a 429 is retried with exponential backoff (a `Retry-After` header sets the wait) until it
//! is accepted, so samples reach the receiver in the order they were queued, with nothing lost or
//! repeated while the receiver restarts, as long as the queue holds what arrives meanwhile. Any
//! other 4xx rejects the batch for good (its samples count as failed). Samples that do not fit in
//! the full queue are dropped at once and counted.
//!
//! [`RemoteRuleStore`] plugs the sink into the rule manager as its
//! [`RuleStore`](crate::rules::group::RuleStore): recording-rule results, `ALERTS`,
//! `ALERTS_FOR_STATE` and stale markers are written remotely.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use prost::Message;

use crate::model::{FloatHistogram, Labels, MatchOp, Matcher};
use crate::remote::client::{Client, ClientError, ClientOptions, body_excerpt, check_url};
use crate::remote::proto;
use crate::rules::group::RuleStore;
use crate::storage::{AppendError, MemStorage, SelectHints, Storage};

/// Settings of a [`RemoteWriter`]; `Default` gives Prometheus's queue defaults where they apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteWriteOptions {
    /// Authentication, TLS and timeout (default timeout 30s, Prometheus's `remote_timeout`).
    pub client: ClientOptions,
    /// Samples the queue holds (`queue_config.capacity`, 10000).
    pub capacity: usize,
    /// Samples per request (`max_samples_per_send`, 2000).
    pub max_samples_per_send: usize,
    /// First retry wait (`min_backoff`, 30ms); doubled after each failure.
    pub min_backoff: Duration,
    /// Longest retry wait (`max_backoff`, 5s).
    pub max_backoff: Duration,
    /// Labels added to every series that lacks them (`global.external_labels`).
    pub external_labels: Vec<(String, String)>,
}

impl Default for RemoteWriteOptions {
    fn default() -> RemoteWriteOptions {
        RemoteWriteOptions {
            client: ClientOptions::default(),
            capacity: 10_000,
            max_samples_per_send: 2_000,
            min_backoff: Duration::from_millis(30),
            max_backoff: Duration::from_secs(5),
            external_labels: Vec::new(),
        }
    }
}

/// Counters of a [`RemoteWriter`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RemoteWriteStats {
    /// The endpoint.
    pub url: String,
    /// Samples the receiver accepted.
    pub sent: u64,
    /// Samples in batches the receiver rejected for good (a 4xx other than 429).
    pub failed: u64,
    /// Samples dropped because the queue was full (or still queued when the writer stopped).
    pub dropped: u64,
    /// Samples sent again after a recoverable failure (once per retry).
    pub retried: u64,
    /// Samples waiting, including the batch being sent.
    pub pending: usize,
    /// The last delivery error, cleared by the next success.
    pub last_error: Option<String>,
}

/// One queued sample.
#[derive(Debug, Clone)]
enum Value {
    Float(f64),
    Histogram(Arc<FloatHistogram>),
}

#[derive(Debug, Clone)]
struct Pending {
    labels: Labels,
    t: i64,
    value: Value,
}

struct Queue {
    samples: VecDeque<Pending>,
    /// How many samples at the front are being sent.
    in_flight: usize,
    last_error: Option<String>,
}

struct Shared {
    url: String,
    opts: RemoteWriteOptions,
    queue: Mutex<Queue>,
    wake: Condvar,
    stopping: AtomicBool,
    sent: AtomicU64,
    failed: AtomicU64,
    dropped: AtomicU64,
    retried: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Sends samples to one remote-write endpoint. Dropping it stops the sender without waiting for
/// the queue; [`RemoteWriter::flush`] first to deliver it.
pub struct RemoteWriter {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for RemoteWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteWriter").field("url", &self.shared.url).finish_non_exhaustive()
    }
}

impl RemoteWriter {
    /// A writer posting to `url` (the full endpoint, e.g. `http://host:9090/api/v1/write`).
    pub fn new(url: &str, opts: RemoteWriteOptions) -> Result<RemoteWriter, ClientError> {
        check_url(url)?;
        let client = Client::new(&opts.client, Duration::from_secs(30))?;
        let shared = Arc::new(Shared {
            url: url.to_string(),
            opts,
            queue: Mutex::new(Queue { samples: VecDeque::new(), in_flight: 0, last_error: None }),
            wake: Condvar::new(),
            stopping: AtomicBool::new(false),
            sent: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            dropped: AtomicU64::new(0),
            retried: AtomicU64::new(0),
        });
        let thread = {
            let shared = Arc::clone(&shared);
            std::thread::spawn(move || send_loop(&shared, &client))
        };
        Ok(RemoteWriter { shared, thread: Some(thread) })
    }

    /// The endpoint URL.
    pub fn url(&self) -> &str {
        &self.shared.url
    }

    /// The queue's capacity in samples.
    pub fn capacity(&self) -> usize {
        self.shared.opts.capacity
    }

    fn push(&self, p: Pending) -> bool {
        let mut q = self.shared.lock();
        if q.samples.len() >= self.shared.opts.capacity.max(1) {
            self.shared.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        q.samples.push_back(p);
        self.shared.wake.notify_all();
        true
    }

    /// Queues a float sample; false (and counted as dropped) when the queue is full.
    pub fn append(&self, labels: &Labels, t: i64, v: f64) -> bool {
        self.push(Pending { labels: labels.clone(), t, value: Value::Float(v) })
    }

    /// Queues a native histogram sample; false (and counted as dropped) when the queue is full.
    pub fn append_histogram(&self, labels: &Labels, t: i64, h: Arc<FloatHistogram>) -> bool {
        self.push(Pending { labels: labels.clone(), t, value: Value::Histogram(h) })
    }

    /// The counters.
    pub fn stats(&self) -> RemoteWriteStats {
        let q = self.shared.lock();
        RemoteWriteStats {
            url: self.shared.url.clone(),
            sent: self.shared.sent.load(Ordering::Relaxed),
            failed: self.shared.failed.load(Ordering::Relaxed),
            dropped: self.shared.dropped.load(Ordering::Relaxed),
            retried: self.shared.retried.load(Ordering::Relaxed),
            pending: q.samples.len(),
            last_error: q.last_error.clone(),
        }
    }

    /// Waits until the queue is empty or `timeout` passes; true when everything was delivered
    /// (or rejected for good).
    pub fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut q = self.shared.lock();
        while !q.samples.is_empty() {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            q = self.shared.wake.wait_timeout(q, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
        }
        true
    }

    /// Stops the sender; samples still queued are counted as dropped.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        {
            let _q = self.shared.lock();
            self.shared.wake.notify_all();
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let mut q = self.shared.lock();
        let left = q.samples.len() as u64;
        q.samples.clear();
        self.shared.dropped.fetch_add(left, Ordering::Relaxed);
    }
}

impl Drop for RemoteWriter {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The `WriteRequest` for a batch: one `TimeSeries` per distinct label set, in order of first
/// appearance, each with its samples in queue order; external labels added where missing.
fn write_request(batch: &[Pending], external: &[(String, String)]) -> proto::WriteRequest {
    let mut index: HashMap<&Labels, usize> = HashMap::new();
    let mut series: Vec<proto::TimeSeries> = Vec::new();
    for p in batch {
        let i = *index.entry(&p.labels).or_insert_with(|| {
            let mut labels: Vec<proto::Label> = p
                .labels
                .iter()
                .map(|l| proto::Label { name: l.name.to_string(), value: l.value.to_string() })
                .collect();
            for (k, v) in external {
                if !p.labels.has(k) {
                    labels.push(proto::Label { name: k.clone(), value: v.clone() });
                }
            }
            labels.sort_by(|a, b| a.name.cmp(&b.name));
            series.push(proto::TimeSeries { labels, samples: Vec::new(), histograms: Vec::new() });
            series.len() - 1
        });
        match &p.value {
            Value::Float(v) => series[i].samples.push(proto::Sample { value: *v, timestamp: p.t }),
            Value::Histogram(h) => series[i].histograms.push(histogram_to_proto(h, p.t)),
        }
    }
    proto::WriteRequest { timeseries: series }
}

/// A [`FloatHistogram`] as a float protobuf histogram.
pub fn histogram_to_proto(h: &FloatHistogram, t: i64) -> proto::Histogram {
    use crate::model::CounterResetHint as H;
    let spans = |s: &[crate::model::BucketSpan]| {
        s.iter().map(|s| proto::BucketSpan { offset: s.offset, length: s.length }).collect()
    };
    proto::Histogram {
        count: Some(proto::HistogramCount::Float(h.count)),
        sum: h.sum,
        schema: h.schema,
        zero_threshold: h.zero_threshold,
        zero_count: Some(proto::HistogramZeroCount::Float(h.zero_count)),
        negative_spans: spans(&h.negative_spans),
        negative_deltas: Vec::new(),
        negative_counts: h.negative_buckets.clone(),
        positive_spans: spans(&h.positive_spans),
        positive_deltas: Vec::new(),
        positive_counts: h.positive_buckets.clone(),
        reset_hint: match h.counter_reset_hint {
            H::Unknown => proto::ResetHint::Unknown,
            H::CounterReset => proto::ResetHint::Yes,
            H::NotCounterReset => proto::ResetHint::No,
            H::Gauge => proto::ResetHint::Gauge,
        } as i32,
        timestamp: t,
        custom_values: h.custom_values.clone(),
    }
}

/// The outcome of one POST.
enum Outcome {
    Accepted,
    /// Retry after the backoff, or after the server's `Retry-After` when given.
    Retry {
        error: String,
        after: Option<Duration>,
    },
    Rejected(String),
}

fn send_loop(shared: &Shared, client: &Client) {
    let opts = &shared.opts;
    loop {
        let batch: Vec<Pending> = {
            let mut q = shared.lock();
            loop {
                if shared.stopping.load(Ordering::SeqCst) {
                    return;
                }
                if !q.samples.is_empty() {
                    break;
                }
                q = shared.wake.wait(q).unwrap_or_else(|e| e.into_inner());
            }
            let n = q.samples.len().min(opts.max_samples_per_send.max(1));
            q.in_flight = n;
            q.samples.iter().take(n).cloned().collect()
        };
        let n = batch.len() as u64;
        let body = match snap::raw::Encoder::new()
            .compress_vec(&write_request(&batch, &opts.external_labels).encode_to_vec())
        {
            Ok(b) => b,
            Err(e) => {
                finish_batch(shared, Err(format!("compressing the request: {e}")));
                shared.failed.fetch_add(n, Ordering::Relaxed);
                continue;
            }
        };
        let mut backoff = opts.min_backoff;
        loop {
            match post(client, &shared.url, &body) {
                Outcome::Accepted => {
                    shared.sent.fetch_add(n, Ordering::Relaxed);
                    finish_batch(shared, Ok(()));
                    break;
                }
                Outcome::Rejected(e) => {
                    shared.failed.fetch_add(n, Ordering::Relaxed);
                    finish_batch(shared, Err(e));
                    break;
                }
                Outcome::Retry { error, after } => {
                    shared.lock().last_error = Some(error);
                    // A server's Retry-After is respected up to five minutes.
                    let wait = after.map_or(backoff, |a| a.min(Duration::from_secs(300)));
                    if !sleep_unless_stopping(shared, wait) {
                        return;
                    }
                    backoff = backoff.saturating_mul(2).min(opts.max_backoff);
                    shared.retried.fetch_add(n, Ordering::Relaxed);
                }
            }
        }
    }
}

/// Removes the in-flight batch from the queue and records the outcome.
fn finish_batch(shared: &Shared, result: Result<(), String>) {
    let mut q = shared.lock();
    let n = q.in_flight;
    let n = n.min(q.samples.len());
    q.samples.drain(..n);
    q.in_flight = 0;
    q.last_error = result.err();
    shared.wake.notify_all();
}

/// Sleeps `d`; false when the writer is stopping.
fn sleep_unless_stopping(shared: &Shared, d: Duration) -> bool {
    let deadline = Instant::now() + d;
    let mut q = shared.lock();
    loop {
        if shared.stopping.load(Ordering::SeqCst) {
            return false;
        }
        let now = Instant::now();
        if now >= deadline {
            return true;
        }
        q = shared.wake.wait_timeout(q, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
    }
}

fn post(client: &Client, url: &str, body: &[u8]) -> Outcome {
    let req = match client.post(url) {
        Ok(r) => r,
        Err(e) => return Outcome::Retry { error: e, after: None },
    };
    let resp = req
        .header("Content-Type", "application/x-protobuf")
        .header("Content-Encoding", "snappy")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .send(body);
    let mut resp = match resp {
        Ok(r) => r,
        Err(e) => return Outcome::Retry { error: format!("POST {url}: {e}"), after: None },
    };
    let status = resp.status();
    if status.is_success() {
        return Outcome::Accepted;
    }
    let after = resp.headers().get("Retry-After").and_then(|v| v.to_str().ok()).and_then(retry_after);
    let error = format!(
        "server returned HTTP status {} {}: {}",
        status.as_u16(),
        status.canonical_reason().unwrap_or(""),
        body_excerpt(&mut resp)
    );
    if status.is_server_error() || status.as_u16() == 429 {
        Outcome::Retry { error, after }
    } else {
        Outcome::Rejected(error)
    }
}

/// A `Retry-After` header's wait: delay seconds, or an HTTP date (a past date waits nothing).
fn retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let wait = at.timestamp_millis().saturating_sub(now);
    Some(Duration::from_millis(u64::try_from(wait).unwrap_or(0)))
}

/// The writer's counters in the Prometheus text exposition format, with Prometheus's metric names
/// (`prometheus_remote_storage_samples_*`, labelled `url="<endpoint>"`).
pub fn metrics_text(stats: &[RemoteWriteStats], capacity: usize) -> String {
    type Metric = (&'static str, &'static str, &'static str, fn(&RemoteWriteStats) -> u64);
    const METRICS: &[Metric] = &[
        (
            "prometheus_remote_storage_samples_total",
            "counter",
            "Total number of samples sent to remote storage.",
            |s| s.sent,
        ),
        (
            "prometheus_remote_storage_samples_failed_total",
            "counter",
            "Total number of samples which failed on send to remote storage, non-recoverable errors.",
            |s| s.failed,
        ),
        (
            "prometheus_remote_storage_samples_retried_total",
            "counter",
            "Total number of samples which failed on send to remote storage but were retried because the send error was recoverable.",
            |s| s.retried,
        ),
        (
            "prometheus_remote_storage_samples_dropped_total",
            "counter",
            "Total number of samples which were dropped because the queue was full.",
            |s| s.dropped,
        ),
        (
            "prometheus_remote_storage_samples_pending",
            "gauge",
            "The number of samples pending in the queue.",
            |s| s.pending as u64,
        ),
    ];
    let mut out = String::new();
    for (name, kind, help, value) in METRICS {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        for s in stats {
            let url = crate::rules::api::escape_label_value(&s.url);
            out.push_str(&format!("{name}{{url=\"{url}\"}} {}\n", value(s)));
        }
    }
    out.push_str(&format!(
        "# HELP prometheus_remote_storage_queue_capacity The capacity of the remote write queue.\n\
         # TYPE prometheus_remote_storage_queue_capacity gauge\nprometheus_remote_storage_queue_capacity {capacity}\n"
    ));
    out
}

/// Where the rule manager puts results when they go to a remote-write endpoint: each sample is
/// checked as a Prometheus head would (no sample older than the series' newest, no different value
/// at the same timestamp), appended to a local [`MemStorage`] when one is given (so local queries
/// see rule results), and queued on the [`RemoteWriter`]. `for` state is restored by reading
/// `ALERTS_FOR_STATE` back from `reads` (the remote-read store in the Thanos-ruler deployment).
pub struct RemoteRuleStore {
    writer: Arc<RemoteWriter>,
    local: Option<Arc<MemStorage>>,
    reads: Arc<dyn Storage>,
    newest: Mutex<HashMap<Labels, (i64, u64)>>,
}

impl std::fmt::Debug for RemoteRuleStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteRuleStore").field("writer", &self.writer).finish_non_exhaustive()
    }
}

impl RemoteRuleStore {
    /// Results go to `writer` only; `for` state is read from `reads`.
    pub fn new(writer: Arc<RemoteWriter>, reads: Arc<dyn Storage>) -> RemoteRuleStore {
        RemoteRuleStore { writer, local: None, reads, newest: Mutex::new(HashMap::new()) }
    }

    /// Results go to `local` (which rejects what a head rejects, and answers `for`-state reads)
    /// and then to `writer`.
    pub fn with_local(writer: Arc<RemoteWriter>, local: Arc<MemStorage>) -> RemoteRuleStore {
        let reads: Arc<dyn Storage> = local.clone();
        RemoteRuleStore { writer, local: Some(local), reads, newest: Mutex::new(HashMap::new()) }
    }

    /// Checks a sample against the series' newest one; `Ok(false)` for an exact repeat (accepted,
    /// not sent again).
    fn check(&self, labels: &Labels, t: i64, bits: u64, hist: bool) -> Result<bool, AppendError> {
        if labels.iter().all(|l| l.value.is_empty()) {
            return Err(AppendError::EmptyLabels);
        }
        let mut newest = self.newest.lock().unwrap_or_else(|e| e.into_inner());
        match newest.get(labels) {
            Some(&(last, _)) if t < last => Err(AppendError::OutOfOrder),
            Some(&(last, last_bits)) if t == last => {
                if hist {
                    Err(AppendError::DuplicateHistogram { t })
                } else if last_bits == bits {
                    Ok(false)
                } else {
                    Err(AppendError::DuplicateFloat {
                        t,
                        existing: f64::from_bits(last_bits),
                        new: f64::from_bits(bits),
                    })
                }
            }
            // A staleness marker ends the series; forgetting it keeps the map as small as the set
            // of live series.
            _ if bits == crate::model::STALE_NAN_BITS => {
                newest.remove(labels);
                Ok(true)
            }
            _ => {
                newest.insert(labels.clone(), (t, bits));
                Ok(true)
            }
        }
    }
}

impl RuleStore for RemoteRuleStore {
    fn append(&self, labels: &Labels, t: i64, v: f64) -> Result<(), AppendError> {
        if let Some(local) = &self.local {
            local.append(labels, t, v)?;
        } else if !self.check(labels, t, v.to_bits(), false)? {
            return Ok(());
        }
        self.writer.append(labels, t, v);
        Ok(())
    }

    fn append_histogram(&self, labels: &Labels, t: i64, h: Arc<FloatHistogram>) -> Result<(), AppendError> {
        if let Some(local) = &self.local {
            local.append_histogram(labels, t, Arc::clone(&h))?;
        } else {
            self.check(labels, t, 0, true)?;
        }
        self.writer.append_histogram(labels, t, h);
        Ok(())
    }

    fn last_samples(&self, equal: &[(String, String)], mint: i64, maxt: i64) -> Vec<(Labels, i64, f64)> {
        let matchers: Vec<Matcher> = equal
            .iter()
            .filter_map(|(k, v)| Matcher::new(MatchOp::Equal, k.as_str(), v.as_str()).ok())
            .collect();
        let Ok(series) = self.reads.select(&matchers, &SelectHints::range(mint, maxt)) else {
            return Vec::new();
        };
        series
            .into_iter()
            .filter_map(|s| {
                let last = *s.floats.last()?;
                Some((s.labels, last.t, last.f))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(retry_after(" 0 "), Some(Duration::ZERO));
        assert_eq!(retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), Some(Duration::ZERO));
        assert!(retry_after("Fri, 01 Jan 2100 00:00:00 GMT").is_some_and(|d| d > Duration::from_secs(3600)));
        assert_eq!(retry_after("soon"), None);
    }

    #[test]
    fn rule_store_checks_appends_like_a_head() {
        let writer = Arc::new(
            RemoteWriter::new("http://127.0.0.1:1/api/v1/write", RemoteWriteOptions::default()).unwrap(),
        );
        let store = RemoteRuleStore::new(Arc::clone(&writer), Arc::new(MemStorage::new()));
        let l = Labels::from_pairs([("__name__", "x")]);
        assert_eq!(store.append(&l, 2000, 1.0), Ok(()));
        assert_eq!(store.append(&l, 1000, 1.0), Err(AppendError::OutOfOrder));
        assert_eq!(store.append(&l, 2000, 1.0), Ok(()), "an exact repeat is accepted");
        assert!(matches!(store.append(&l, 2000, 2.0), Err(AppendError::DuplicateFloat { .. })));
        assert_eq!(store.append(&l, 3000, crate::model::STALE_NAN), Ok(()));
        assert_eq!(store.append(&l, 2500, 1.0), Ok(()), "a stale series starts afresh");
        assert_eq!(store.append(&Labels::empty(), 1000, 1.0), Err(AppendError::EmptyLabels));
        // The repeat was not queued again: 2000, the stale marker at 3000, 2500.
        assert_eq!(writer.stats().pending + writer.stats().dropped as usize, 3);
    }
}
