//! Delivery of alerts to Alertmanagers over the API v2 (`POST /api/v2/alerts`).
//!
//! Behaves like Prometheus's notifier: [`Notifier::send`] adds external labels (alert labels win)
//! and applies the alert relabeling, then puts the alerts on one bounded queue per Alertmanager
//! (a full queue drops its oldest alerts, counted in [`AlertmanagerStats::dropped`]). A sender
//! thread per Alertmanager posts batches of at most `max_batch_size` alerts as JSON. A failed POST
//! is retried a few times with backoff (Prometheus does not retry; the rule manager's resending
//! covers longer outages) and then counted as dropped. Nothing here blocks rule evaluation.
//!
//! Only `http://` URLs are supported (the notifier has no TLS settings; the remote storage clients do).

mod alert;
mod relabel;

use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

pub use alert::{Alert, alerts_to_json, rfc3339_millis};
pub use relabel::{RelabelAction, RelabelConfig, RelabelError};

/// Settings of a [`Notifier`]; `Default` gives Prometheus's defaults.
#[derive(Debug, Clone)]
pub struct NotifierOptions {
    /// Alerts each Alertmanager's queue holds (`--alertmanager.notification-queue-capacity`, 10000).
    pub queue_capacity: usize,
    /// Alerts per POST (`--alertmanager.notification-batch-size`, 256).
    pub max_batch_size: usize,
    /// Timeout of one POST (10s).
    pub timeout: Duration,
    /// External labels added to every alert that lacks them.
    pub external_labels: BTreeMap<String, String>,
    /// `alerting.alert_relabel_configs`, applied after the external labels.
    pub relabel_configs: Vec<RelabelConfig>,
    /// How often a failed POST is retried before its batch is dropped.
    pub max_retries: u32,
    /// Wait before the first retry; doubled for each further one.
    pub retry_backoff: Duration,
    /// Whether [`Notifier::stop`] delivers what is queued before returning.
    pub drain_on_shutdown: bool,
    /// The `User-Agent` header.
    pub user_agent: String,
}

impl Default for NotifierOptions {
    fn default() -> NotifierOptions {
        NotifierOptions {
            queue_capacity: 10_000,
            max_batch_size: 256,
            timeout: Duration::from_secs(10),
            external_labels: BTreeMap::new(),
            relabel_configs: Vec::new(),
            max_retries: 2,
            retry_backoff: Duration::from_millis(200),
            drain_on_shutdown: true,
            user_agent: format!("ferroprom/{}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// Why a notifier could not be created.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifierError {
    /// An Alertmanager URL is not an `http://` URL.
    #[error("invalid Alertmanager URL {0:?}: only http://host[:port][/prefix] is supported")]
    BadUrl(String),
    /// A relabel configuration is invalid.
    #[error(transparent)]
    Relabel(#[from] RelabelError),
}

/// The notifier's metrics in the Prometheus text exposition format (`prometheus_notifications_*`,
/// labelled `alertmanager="<url>"`).
pub fn metrics_text(stats: &[AlertmanagerStats], queue_capacity: usize) -> String {
    type Metric = (&'static str, &'static str, &'static str, fn(&AlertmanagerStats) -> f64);
    const METRICS: &[Metric] = &[
        (
            "prometheus_notifications_errors_total",
            "counter",
            "Total number of sent alerts affected by errors.",
            |s| s.errors as f64,
        ),
        ("prometheus_notifications_sent_total", "counter", "Total number of alerts sent.", |s| s.sent as f64),
        (
            "prometheus_notifications_dropped_total",
            "counter",
            "Total number of alerts dropped due to errors when sending to Alertmanager.",
            |s| s.dropped as f64,
        ),
        (
            "prometheus_notifications_queue_length",
            "gauge",
            "The number of alert notifications in the queue.",
            |s| s.queue_length as f64,
        ),
    ];
    let mut out = String::new();
    for (name, kind, help, value) in METRICS {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        for s in stats {
            let url = crate::rules::api::escape_label_value(&s.url);
            out.push_str(&format!(
                "{name}{{alertmanager=\"{url}\"}} {}\n",
                crate::model::format_float(value(s))
            ));
        }
    }
    out.push_str(&format!(
        "# HELP prometheus_notifications_queue_capacity The capacity of the alert notifications queue.\n\
         # TYPE prometheus_notifications_queue_capacity gauge\nprometheus_notifications_queue_capacity {queue_capacity}\n"
    ));
    out.push_str(&format!(
        "# HELP prometheus_notifications_alertmanagers_discovered The number of alertmanagers discovered and active.\n\
         # TYPE prometheus_notifications_alertmanagers_discovered gauge\nprometheus_notifications_alertmanagers_discovered {}\n",
        stats.len()
    ));
    out
}

/// Counters of one Alertmanager (Prometheus's `prometheus_notifications_*{alertmanager=…}`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlertmanagerStats {
    /// The URL alerts are posted to.
    pub url: String,
    /// Alerts delivered.
    pub sent: u64,
    /// POSTs that failed (each retry counts).
    pub errors: u64,
    /// Alerts dropped: queue overflow or a batch that failed after every retry.
    pub dropped: u64,
    /// Alerts waiting in the queue.
    pub queue_length: usize,
    /// The last delivery error, if the last POST failed.
    pub last_error: Option<String>,
}

struct Queue {
    alerts: VecDeque<Alert>,
    in_flight: usize,
    last_error: Option<String>,
}

struct Target {
    url: String,
    queue: Mutex<Queue>,
    wake: Condvar,
    sent: AtomicU64,
    errors: AtomicU64,
    dropped: AtomicU64,
}

impl Target {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

struct Shared {
    opts: NotifierOptions,
    targets: Vec<Arc<Target>>,
    stopping: AtomicBool,
    drain: AtomicBool,
}

/// Sends alerts to a fixed set of Alertmanagers. Dropping it stops the senders (draining the
/// queues first when `drain_on_shutdown` is set).
pub struct Notifier {
    shared: Arc<Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier").field("alertmanagers", &self.alertmanagers()).finish()
    }
}

/// The endpoint for an Alertmanager base URL: `<url>/api/v2/alerts` unless the URL already names it.
pub fn alerts_endpoint(base: &str) -> Result<String, NotifierError> {
    let rest = base.strip_prefix("http://").ok_or_else(|| NotifierError::BadUrl(base.to_string()))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(NotifierError::BadUrl(base.to_string()));
    }
    let trimmed = base.trim_end_matches('/');
    if trimmed.ends_with("/api/v2/alerts") {
        Ok(trimmed.to_string())
    } else {
        Ok(format!("{trimmed}/api/v2/alerts"))
    }
}

impl Notifier {
    /// A notifier posting to each of `alertmanagers` (base URLs such as `http://127.0.0.1:9093`).
    pub fn new(alertmanagers: &[String], opts: NotifierOptions) -> Result<Notifier, NotifierError> {
        for rc in &opts.relabel_configs {
            rc.validate()?;
        }
        let mut targets = Vec::new();
        for am in alertmanagers {
            targets.push(Arc::new(Target {
                url: alerts_endpoint(am)?,
                queue: Mutex::new(Queue { alerts: VecDeque::new(), in_flight: 0, last_error: None }),
                wake: Condvar::new(),
                sent: AtomicU64::new(0),
                errors: AtomicU64::new(0),
                dropped: AtomicU64::new(0),
            }));
        }
        let drain = opts.drain_on_shutdown;
        let shared = Arc::new(Shared {
            opts,
            targets,
            stopping: AtomicBool::new(false),
            drain: AtomicBool::new(drain),
        });
        let threads = shared
            .targets
            .iter()
            .map(|t| {
                let shared = Arc::clone(&shared);
                let target = Arc::clone(t);
                std::thread::spawn(move || send_loop(&shared, &target))
            })
            .collect();
        Ok(Notifier { shared, threads })
    }

    /// The endpoint URLs alerts are posted to.
    pub fn alertmanagers(&self) -> Vec<String> {
        self.shared.targets.iter().map(|t| t.url.clone()).collect()
    }

    /// Queues `alerts` for every Alertmanager, after adding external labels and relabeling.
    /// Returns at once.
    pub fn send(&self, alerts: Vec<Alert>) {
        let opts = &self.shared.opts;
        let alerts: Vec<Alert> = alerts
            .into_iter()
            .filter_map(|mut a| {
                for (k, v) in &opts.external_labels {
                    if a.labels.get(k).is_none_or(String::is_empty) {
                        a.labels.insert(k.clone(), v.clone());
                    }
                }
                let labels = relabel::process(&a.labels, &opts.relabel_configs)?;
                a.labels = labels;
                Some(a)
            })
            .collect();
        if alerts.is_empty() {
            return;
        }
        let cap = opts.queue_capacity.max(1);
        for t in &self.shared.targets {
            let mut q = t.lock();
            let mut batch: &[Alert] = &alerts;
            if batch.len() > cap {
                let extra = batch.len() - cap;
                t.dropped.fetch_add(extra as u64, Ordering::Relaxed);
                batch = &batch[extra..];
            }
            let overflow = (q.alerts.len() + batch.len()).saturating_sub(cap);
            if overflow > 0 {
                q.alerts.drain(..overflow);
                t.dropped.fetch_add(overflow as u64, Ordering::Relaxed);
            }
            q.alerts.extend(batch.iter().cloned());
            t.wake.notify_all();
        }
    }

    /// Counters per Alertmanager.
    pub fn stats(&self) -> Vec<AlertmanagerStats> {
        self.shared
            .targets
            .iter()
            .map(|t| {
                let q = t.lock();
                AlertmanagerStats {
                    url: t.url.clone(),
                    sent: t.sent.load(Ordering::Relaxed),
                    errors: t.errors.load(Ordering::Relaxed),
                    dropped: t.dropped.load(Ordering::Relaxed),
                    queue_length: q.alerts.len(),
                    last_error: q.last_error.clone(),
                }
            })
            .collect()
    }

    /// Waits until every queue is empty and no POST is in flight, or `timeout` passes. Returns
    /// whether the queues were emptied.
    pub fn flush(&self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        for t in &self.shared.targets {
            let mut q = t.lock();
            while !q.alerts.is_empty() || q.in_flight > 0 {
                let now = std::time::Instant::now();
                if now >= deadline {
                    return false;
                }
                q = t.wake.wait_timeout(q, deadline - now).unwrap_or_else(|e| e.into_inner()).0;
            }
        }
        true
    }

    /// Stops the senders; with `drain_on_shutdown` the queued alerts are delivered first.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.shared.stopping.store(true, Ordering::SeqCst);
        for t in &self.shared.targets {
            let _q = t.lock();
            t.wake.notify_all();
        }
        for h in self.threads.drain(..) {
            let _ = h.join();
        }
    }
}

impl Drop for Notifier {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn send_loop(shared: &Shared, target: &Target) {
    let opts = &shared.opts;
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(opts.timeout))
        .http_status_as_error(false)
        .build()
        .into();
    loop {
        let batch: Vec<Alert> = {
            let mut q = target.lock();
            loop {
                let stopping = shared.stopping.load(Ordering::SeqCst);
                if stopping && (q.alerts.is_empty() || !shared.drain.load(Ordering::SeqCst)) {
                    return;
                }
                if !q.alerts.is_empty() {
                    break;
                }
                q = target.wake.wait(q).unwrap_or_else(|e| e.into_inner());
            }
            let n = q.alerts.len().min(opts.max_batch_size.max(1));
            q.in_flight = n;
            q.alerts.drain(..n).collect()
        };
        let body = alerts_to_json(&batch);
        let mut result = post(&agent, &target.url, &opts.user_agent, &body);
        let mut backoff = opts.retry_backoff;
        for _ in 0..opts.max_retries {
            if result.is_ok() || shared.stopping.load(Ordering::SeqCst) {
                break;
            }
            target.errors.fetch_add(1, Ordering::Relaxed);
            std::thread::sleep(backoff);
            backoff = backoff.saturating_mul(2);
            result = post(&agent, &target.url, &opts.user_agent, &body);
        }
        let mut q = target.lock();
        q.in_flight = 0;
        match result {
            Ok(()) => {
                target.sent.fetch_add(batch.len() as u64, Ordering::Relaxed);
                q.last_error = None;
            }
            Err(e) => {
                target.errors.fetch_add(1, Ordering::Relaxed);
                target.dropped.fetch_add(batch.len() as u64, Ordering::Relaxed);
                q.last_error = Some(e);
            }
        }
        target.wake.notify_all();
    }
}

fn post(agent: &ureq::Agent, url: &str, user_agent: &str, body: &str) -> Result<(), String> {
    let resp = agent
        .post(url)
        .header("Content-Type", "application/json")
        .header("User-Agent", user_agent)
        .send(body.as_bytes())
        .map_err(|e| format!("error sending alerts to {url}: {e}"))?;
    let status = resp.status();
    if status.is_success() { Ok(()) } else { Err(format!("bad response status {status}")) }
}
