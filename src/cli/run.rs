//! `ferroprom run`: the long-running rule evaluator.
//!
//! Loads rule files and PrometheusRule manifests, seeds the in-memory store from a data file, runs
//! the rule manager at the evaluation slots, delivers alerts to Alertmanagers and serves
//! Prometheus's `/api/v1/rules`, `/api/v1/alerts`, `/metrics`, `/-/ready` and `/-/healthy`.
//! SIGTERM or SIGINT stops it gracefully (rule manager stopped, queued alerts delivered, exit 0);
//! SIGHUP reloads the rule files, keeping alert state. With `--replay-until` it evaluates the rules
//! over the seeded data instead, prints what they recorded and alerted, and exits.

pub(super) mod remote;
mod replay;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::Duration;

use clap::Args;
use ferroprom::datafile::DataFileError;
use ferroprom::engine::{Engine, EngineOptions};
use ferroprom::http_api::Api;
use ferroprom::notifier::{Notifier, NotifierOptions, alerts_endpoint};
use ferroprom::remote::{RemoteRuleStore, RemoteWriter};
use ferroprom::rules::api::go_time_json;
use ferroprom::rules::duration::parse_duration;
use ferroprom::rules::group::{EngineQueryFunc, QueryFunc, RuleStore, group_key, send_to_notifier};
use ferroprom::rules::manager::{Manager, ManagerOptions, group_specs};
use ferroprom::rules::manifest::Selector;
use ferroprom::rules::{LoadOptions, RuleGroup, load_file};
use ferroprom::storage::{MemStorage, Storage};
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

use super::http;
use super::log;

/// Threads answering HTTP requests.
const HTTP_WORKERS: usize = 2;

/// Arguments of `ferroprom run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// A rule file or a file of PrometheusRule manifests; may be repeated.
    #[arg(long = "rules", value_name = "FILE", required = true)]
    rules: Vec<PathBuf>,
    /// Only load PrometheusRule manifests whose labels match this selector (the operator's
    /// `ruleSelector`), e.g. `role=alert-rules,prometheus=main`.
    #[arg(long, value_name = "SELECTOR", value_parser = selector_arg)]
    rule_selector: Option<Selector>,
    /// Seed the in-memory store from this data file (promqltest `load` text, or Prometheus/OpenMetrics
    /// text exposition with timestamps).
    #[arg(long, value_name = "FILE")]
    data: Option<PathBuf>,
    /// Send alerts to this Alertmanager (`http://host:port[/prefix]`); may be repeated.
    #[arg(long = "alertmanager", value_name = "URL", value_parser = alertmanager_arg)]
    alertmanagers: Vec<String>,
    /// How often groups without their own `interval` are evaluated.
    #[arg(long, value_name = "DURATION", default_value = "1m", value_parser = interval_arg)]
    evaluation_interval: Duration,
    /// Minimum wait before an alert still firing is sent to the Alertmanagers again.
    #[arg(long, value_name = "DURATION", default_value = "1m", value_parser = duration_arg)]
    resend_delay: Duration,
    /// A label added to every alert sent (alert labels win) and visible to templates as
    /// `$externalLabels`; may be repeated.
    #[arg(long = "external-label", value_name = "NAME=VALUE", value_parser = label_arg)]
    external_labels: Vec<(String, String)>,
    /// The URL ferroprom is reached at, used in alerts' generator URLs and by the `externalURL`
    /// template function (default: `http://` and the listen address).
    #[arg(long, value_name = "URL")]
    external_url: Option<String>,
    /// Where the HTTP API listens.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9099")]
    listen: String,
    /// Enable a Prometheus feature flag (`promql-experimental-functions`, `promql-duration-expr`,
    /// `promql-extended-range-selectors`, `promql-binop-fill-modifiers`, `promql-delayed-name-removal`);
    /// may be repeated or comma-separated.
    #[arg(long = "enable-feature", value_name = "NAME")]
    features: Vec<String>,
    /// Do not run live: evaluate every group at each of its slots from the start of the `--data` to
    /// this time (a duration from the epoch such as `1h`, Unix seconds, or RFC 3339), print the
    /// recorded series and the alerts, and exit. Nothing is served or sent.
    #[arg(long, value_name = "TIME", value_parser = time_arg, conflicts_with = "alertmanagers")]
    replay_until: Option<i64>,
    /// Evaluate rules against this Prometheus remote-read endpoint (e.g.
    /// `http://prometheus:9090/api/v1/read`) instead of the in-memory store.
    #[arg(long, value_name = "URL", conflicts_with_all = ["data", "replay_until"])]
    remote_read: Option<String>,
    /// Send rule results (recorded series, `ALERTS`, `ALERTS_FOR_STATE`, stale markers) to this
    /// Prometheus remote-write endpoint (e.g. `http://prometheus:9090/api/v1/write`).
    #[arg(long, value_name = "URL", conflicts_with = "replay_until")]
    remote_write: Option<String>,
    /// A Prometheus configuration file whose `remote_read` and `remote_write` sections (URL,
    /// `remote_timeout`, `basic_auth`, `authorization`, `tls_config`, `headers`, `queue_config`)
    /// configure the remote endpoints; other sections are ignored.
    #[arg(long, value_name = "FILE", conflicts_with = "replay_until")]
    remote_config: Option<PathBuf>,
}

fn selector_arg(s: &str) -> Result<Selector, String> {
    s.parse::<Selector>().map_err(|e| e.to_string())
}

fn alertmanager_arg(s: &str) -> Result<String, String> {
    alerts_endpoint(s).map(|_| s.to_string()).map_err(|e| e.to_string())
}

fn duration_arg(s: &str) -> Result<Duration, String> {
    parse_duration(s).map_err(|e| format!("invalid duration {s:?}: {e}"))
}

fn interval_arg(s: &str) -> Result<Duration, String> {
    match duration_arg(s)? {
        d if d.is_zero() => Err("the evaluation interval must be greater than 0".into()),
        d => Ok(d),
    }
}

fn label_arg(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("expected NAME=VALUE, got {s:?}")),
    }
}

/// A time: a duration from the epoch, Unix seconds (fractions allowed) or RFC 3339.
fn time_arg(s: &str) -> Result<i64, String> {
    if let Some(ms) = super::absolute_time_arg(s) {
        return Ok(ms);
    }
    parse_duration(s).map(millis).map_err(|_| {
        format!("invalid time {s:?}: expected a duration from the epoch, Unix seconds or RFC 3339")
    })
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// What the flags configure, independent of live or replay mode.
struct Setup {
    load: LoadOptions,
    engine: EngineOptions,
    external_labels: BTreeMap<String, String>,
}

fn setup(args: &RunArgs) -> Setup {
    let mut engine = EngineOptions::default();
    for feature in args.features.iter().flat_map(|f| f.split(',')) {
        match feature {
            "promql-experimental-functions" => engine.parser.experimental_functions = true,
            "promql-extended-range-selectors" => engine.parser.extended_range_selectors = true,
            "promql-binop-fill-modifiers" => engine.parser.binop_fill_modifiers = true,
            "promql-duration-expr" => engine.parser.duration_expressions = true,
            "promql-delayed-name-removal" => engine.delayed_name_removal = true,
            "" => {}
            other => log("warn", "Unknown feature flag ignored", &[("feature", other)]),
        }
    }
    let load = LoadOptions {
        parse: engine.parser.clone(),
        selector: args.rule_selector.clone(),
        ..LoadOptions::default()
    };
    Setup { load, engine, external_labels: args.external_labels.iter().cloned().collect() }
}

/// Loads every rule file, logging warnings and skipped manifests; every error of every file on failure.
pub(super) fn load_rules(paths: &[PathBuf], opts: &LoadOptions) -> Result<Vec<RuleGroup>, Vec<String>> {
    let mut groups = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        match load_file(path, opts) {
            Ok(loaded) => {
                let file = path.display().to_string();
                for w in &loaded.warnings {
                    log("warn", "Rule file warning", &[("file", &file), ("warning", w)]);
                }
                if let Some(sel) = &loaded.manifests {
                    for skipped in &sel.skipped {
                        log("info", "PrometheusRule not selected", &[("file", &file), ("object", skipped)]);
                    }
                }
                groups.extend(loaded.groups);
            }
            Err(errs) => errors.extend(errs.iter().map(|e| e.to_string())),
        }
    }
    if errors.is_empty() { Ok(groups) } else { Err(errors) }
}

/// Runs `ferroprom run`.
pub fn run(args: &RunArgs) -> ExitCode {
    let setup = setup(args);
    let groups = match load_rules(&args.rules, &setup.load) {
        Ok(g) => g,
        Err(errors) => {
            for e in errors {
                eprintln!("{e}");
            }
            eprintln!("error: the rule files could not be loaded");
            return ExitCode::from(1);
        }
    };
    let remotes = match remote::remotes(
        args.remote_read.as_deref(),
        args.remote_write.as_deref(),
        args.remote_config.as_deref(),
        &args.external_labels,
    ) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    if remotes.read.is_some() && args.data.is_some() {
        eprintln!("error: --data and a remote-read endpoint cannot be used together");
        return ExitCode::from(1);
    }
    let store = match &args.data {
        Some(path) => match ferroprom::datafile::load_file(path) {
            Ok(s) => Arc::new(s),
            Err(e @ DataFileError::Io { .. }) => {
                eprintln!("error: {e}");
                return ExitCode::from(1);
            }
            Err(e) => {
                eprintln!("error: {}: {e}", path.display());
                return ExitCode::from(1);
            }
        },
        None => Arc::new(MemStorage::new()),
    };
    let engine = Arc::new(Engine::new(setup.engine.clone()));
    if let Some((first, last)) = store.time_bounds().filter(|_| args.replay_until.is_none()) {
        log(
            "info",
            "Store seeded",
            &[
                ("series", &store.series_count().to_string()),
                ("samples", &store.sample_count().to_string()),
                ("from", &go_time_json(Some(first))),
                ("to", &go_time_json(Some(last))),
            ],
        );
    }
    if let Some(until) = args.replay_until {
        let external_url = external_url(args, &args.listen);
        let opts = replay::ReplayOptions {
            interval: millis(args.evaluation_interval),
            resend_delay: millis(args.resend_delay),
            external_labels: setup.external_labels,
            external_url,
            until,
        };
        return replay::replay(&groups, store, engine, &opts);
    }
    let writer = remotes.write.map(Arc::new);
    let (query, rule_store, read): (Arc<dyn QueryFunc>, Arc<dyn RuleStore>, Arc<dyn Storage>) =
        match (remotes.read, &writer) {
            (Some(read), writer) => {
                let read = Arc::new(read);
                log("info", "Evaluating rules against remote read", &[("url", read.url())]);
                let rule_store: Arc<dyn RuleStore> = match writer {
                    Some(w) => Arc::new(RemoteRuleStore::new(Arc::clone(w), read.clone())),
                    None => store,
                };
                let query = EngineQueryFunc { engine: Arc::clone(&engine), storage: Arc::clone(&read) };
                (Arc::new(query), rule_store, read)
            }
            (None, Some(w)) => {
                let rule_store = Arc::new(RemoteRuleStore::with_local(Arc::clone(w), Arc::clone(&store)));
                let query = EngineQueryFunc { engine: Arc::clone(&engine), storage: Arc::clone(&store) };
                (Arc::new(query), rule_store, store)
            }
            (None, None) => {
                let query = EngineQueryFunc { engine: Arc::clone(&engine), storage: Arc::clone(&store) };
                (Arc::new(query), Arc::clone(&store) as _, store)
            }
        };
    if let Some(w) = &writer {
        log("info", "Writing rule results to remote write", &[("url", w.url())]);
    }
    // The query API reads what the rules read.
    let api = Api::new(engine, read);
    live(args, &setup, groups, (query, rule_store, api), writer)
}

/// `--external-url` without its trailing slash, or `http://` and the address listened on.
fn external_url(args: &RunArgs, listening: &str) -> String {
    let url = args.external_url.clone().unwrap_or_else(|| format!("http://{listening}"));
    url.trim_end_matches('/').to_string()
}

/// The long-running mode: serve, evaluate and notify until SIGTERM/SIGINT.
fn live(
    args: &RunArgs,
    setup: &Setup,
    groups: Vec<RuleGroup>,
    (query, store, api): (Arc<dyn QueryFunc>, Arc<dyn RuleStore>, Api),
    writer: Option<Arc<RemoteWriter>>,
) -> ExitCode {
    let mut signals = match signal_hook::iterator::Signals::new([SIGTERM, SIGINT, SIGHUP]) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot install signal handlers: {e}");
            return ExitCode::from(1);
        }
    };
    let server = match http::listen(&args.listen) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    let address = server.server_addr().to_ip().map_or_else(|| args.listen.clone(), |a| a.to_string());
    let external_url = external_url(args, &address);
    let notifier_opts = NotifierOptions {
        external_labels: setup.external_labels.clone(),
        drain_on_shutdown: false,
        ..NotifierOptions::default()
    };
    let queue_capacity = notifier_opts.queue_capacity;
    let notifier = if args.alertmanagers.is_empty() {
        None
    } else {
        match Notifier::new(&args.alertmanagers, notifier_opts) {
            Ok(n) => Some(Arc::new(n)),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(1);
            }
        }
    };
    let interval = millis(args.evaluation_interval);
    let mut opts = ManagerOptions::new(query, store);
    opts.notify = notifier.as_ref().map(|n| send_to_notifier(Arc::clone(n), external_url.clone()));
    opts.external_labels = setup.external_labels.clone();
    opts.external_url = external_url;
    opts.resend_delay = millis(args.resend_delay);
    opts.default_interval = interval;
    let manager = Arc::new(Manager::new(opts));

    let api = api.with_rules(Arc::clone(&manager));
    let state = Arc::new(
        http::Served::new(api, Some(Arc::clone(&manager)), false)
            .with_notifier(notifier.clone(), queue_capacity)
            .with_writer(writer.clone()),
    );
    let workers = http::start(&server, &state, HTTP_WORKERS);
    log("info", "Listening on", &[("address", &address)]);
    for am in notifier.iter().flat_map(|n| n.alertmanagers()) {
        log("info", "Sending alerts to", &[("alertmanager", &am)]);
    }
    start_groups(&manager, &groups, interval);
    let (stop_watch, watch_rx) = channel();
    let watcher = {
        let (manager, notifier, writer) = (Arc::clone(&manager), notifier.clone(), writer.clone());
        std::thread::spawn(move || watch(&manager, notifier.as_deref(), writer.as_deref(), &watch_rx))
    };

    for signal in signals.forever() {
        if signal == SIGHUP {
            match load_rules(&args.rules, &setup.load) {
                Ok(groups) => start_groups(&manager, &groups, interval),
                Err(errors) => {
                    for e in errors {
                        log("error", "Reloading rules failed; keeping the running ones", &[("err", &e)]);
                    }
                }
            }
            continue;
        }
        let name = if signal == SIGTERM { "SIGTERM" } else { "SIGINT" };
        log("info", "Received shutdown signal, stopping", &[("signal", name)]);
        break;
    }
    state.stop();
    manager.stop();
    log("info", "Rule manager stopped", &[]);
    let _ = stop_watch.send(());
    let _ = watcher.join();
    if let Some(n) = &notifier
        && !n.flush(Duration::from_secs(10))
    {
        let queued: usize = n.stats().iter().map(|s| s.queue_length).sum();
        log("warn", "Alerts still queued at shutdown were dropped", &[("count", &queued.to_string())]);
    }
    drop(notifier);
    if let Some(w) = &writer
        && !w.flush(Duration::from_secs(10))
    {
        let pending = w.stats().pending.to_string();
        log("warn", "Samples still queued for remote write at shutdown were dropped", &[("count", &pending)]);
    }
    http::shutdown(&server, workers);
    log("info", "See you next time!", &[]);
    ExitCode::SUCCESS
}

pub(super) fn start_groups(manager: &Manager, groups: &[RuleGroup], interval: i64) {
    let rules: usize = groups.iter().map(|g| g.rules.len()).sum();
    manager.update(group_specs(groups, interval));
    log(
        "info",
        "Rules loaded, evaluating",
        &[("groups", &groups.len().to_string()), ("rules", &rules.to_string())],
    );
}

/// Logs, once per evaluation, rules that failed and alerts whose templates failed to expand, and
/// alerts the notifier dropped (an Alertmanager unreachable after retries, a full queue), until told to stop. Evaluation goes on regardless.
pub(super) fn watch(
    manager: &Manager,
    notifier: Option<&Notifier>,
    writer: Option<&RemoteWriter>,
    stop: &Receiver<()>,
) {
    let mut seen: HashMap<(String, usize), i64> = HashMap::new();
    let mut delivery: HashMap<String, u64> = HashMap::new();
    let mut written = (0u64, 0u64, 0u64);
    loop {
        match stop.recv_timeout(Duration::from_millis(500)) {
            Err(RecvTimeoutError::Timeout) => {}
            _ => return,
        }
        manager.with_groups(|groups| {
            for g in groups {
                let key = group_key(g.file(), g.name());
                for (i, r) in g.rules().iter().enumerate() {
                    let Some(at) = r.eval_timestamp() else { continue };
                    if seen.insert((key.clone(), i), at) == Some(at) {
                        continue;
                    }
                    if let Some(err) = r.last_error() {
                        log(
                            "warn",
                            "Evaluating rule failed",
                            &[("group", &key), ("rule", r.name()), ("err", err)],
                        );
                    }
                    for a in r.as_alerting().into_iter().flat_map(|a| a.active_alerts()) {
                        let values =
                            a.labels.iter().map(|l| &*l.value).chain(a.annotations.values().map(|v| &**v));
                        for v in values.filter(|v| v.contains("<error expanding template:")) {
                            log(
                                "warn",
                                "Expanding alert template failed",
                                &[("rule", r.name()), ("result", v)],
                            );
                        }
                    }
                }
            }
        });
        for s in notifier.iter().flat_map(|n| n.stats()) {
            let dropped = delivery.get(&s.url).copied().unwrap_or(0);
            if s.dropped > dropped {
                let n = (s.dropped - dropped).to_string();
                let err = s.last_error.as_deref().unwrap_or("notification queue full");
                log(
                    "error",
                    "Error sending alerts, dropped",
                    &[("alertmanager", &s.url), ("count", &n), ("err", err)],
                );
            }
            delivery.insert(s.url.clone(), s.dropped);
        }
        if let Some(s) = writer.map(RemoteWriter::stats) {
            let (failed, dropped, retried) = written;
            let err = s.last_error.as_deref().unwrap_or("queue full");
            if s.failed > failed {
                let n = (s.failed - failed).to_string();
                log(
                    "error",
                    "Remote write rejected samples",
                    &[("url", &s.url), ("count", &n), ("err", err)],
                );
            }
            if s.dropped > dropped {
                let n = (s.dropped - dropped).to_string();
                log("error", "Remote write queue full, samples dropped", &[("url", &s.url), ("count", &n)]);
            }
            if s.retried > retried {
                log("warn", "Remote write failed, retrying", &[("url", &s.url), ("err", err)]);
            }
            written = (s.failed, s.dropped, s.retried);
        }
    }
}
