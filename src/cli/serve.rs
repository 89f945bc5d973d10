//! `ferroprom serve`: Prometheus's HTTP query API over a store, for dashboards and scripts that
//! speak to Prometheus.
//!
//! The store comes from [`open_store`]: a data file loaded into memory, or a Prometheus remote-read
//! endpoint. With `--rules` the rule manager runs over the same store, recording rules append to it
//! and `/api/v1/rules` and `/api/v1/alerts` report the groups. Every request is logged to stderr
//! (method, path, status, duration). SIGTERM or SIGINT stops it: running queries are canceled, the
//! rule manager stopped, exit 0.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::mpsc::channel;
use std::time::Duration;

use clap::Args;
use ferroprom::engine::{Engine, EngineOptions};
use ferroprom::http_api::Api;
use ferroprom::rules::LoadOptions;
use ferroprom::rules::api::go_time_json;
use ferroprom::rules::duration::parse_duration;
use ferroprom::rules::group::{EngineQueryFunc, RuleStore};
use ferroprom::rules::manager::{Manager, ManagerOptions};
use ferroprom::storage::{MemStorage, Storage};
use signal_hook::consts::{SIGINT, SIGTERM};

use super::http;
use super::log;
use super::run::{load_rules, start_groups, watch};

/// Arguments of `ferroprom serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The data to serve: promqltest `load` text, or Prometheus/OpenMetrics text exposition with
    /// timestamps (as `ferroprom query --data`). Without it the store starts empty.
    #[arg(long, value_name = "FILE")]
    data: Option<PathBuf>,
    /// Answer from this Prometheus remote-read endpoint (e.g. `http://prometheus:9090/api/v1/read`)
    /// instead of `--data`. Rule results then stay in memory.
    #[arg(long, value_name = "URL", conflicts_with = "data")]
    remote_read: Option<String>,
    /// A Prometheus configuration file whose `remote_read` section (URL, `remote_timeout`,
    /// `basic_auth`, `authorization`, `tls_config`, `headers`) configures the remote-read endpoint.
    #[arg(long, value_name = "FILE", conflicts_with = "data")]
    remote_config: Option<PathBuf>,
    /// Where the HTTP API listens (`127.0.0.1:0` picks a free port; the log says which).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9090")]
    listen: String,
    /// A rule file or a file of PrometheusRule manifests to evaluate over the store; may be repeated.
    #[arg(long = "rules", value_name = "FILE")]
    rules: Vec<PathBuf>,
    /// How often rule groups without their own `interval` are evaluated.
    #[arg(long, value_name = "DURATION", default_value = "1m", value_parser = interval_arg)]
    evaluation_interval: Duration,
    /// How far back an instant selector looks for samples (a request's `lookback_delta` overrides it).
    #[arg(long = "query.lookback-delta", value_name = "DURATION", default_value = "5m", value_parser = duration_arg)]
    lookback_delta: Duration,
    /// The most samples a query may hold in memory.
    #[arg(long = "query.max-samples", value_name = "N", default_value_t = 50_000_000)]
    max_samples: usize,
    /// The longest a query may run (a request's `timeout` may shorten it).
    #[arg(long = "query.timeout", value_name = "DURATION", default_value = "2m", value_parser = duration_arg)]
    timeout: Duration,
    /// Threads one query may use.
    #[arg(long, value_name = "N", default_value_t = 1)]
    threads: usize,
    /// Threads answering HTTP requests (queries running at once).
    #[arg(long, value_name = "N", default_value_t = 4)]
    workers: usize,
    /// Enable a Prometheus feature flag (`promql-experimental-functions`, `promql-duration-expr`,
    /// `promql-extended-range-selectors`, `promql-binop-fill-modifiers`, `promql-delayed-name-removal`);
    /// may be repeated or comma-separated.
    #[arg(long = "enable-feature", value_name = "NAME")]
    features: Vec<String>,
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

/// The store `serve` answers from, and where rule results go.
pub(super) struct Store {
    /// What queries read.
    pub(super) query: Arc<dyn Storage>,
    /// Where recording rules and `ALERTS` series are appended.
    pub(super) rules: Arc<dyn RuleStore>,
}

/// Opens the store the flags describe. The one place that chooses a store: a remote-read store
/// plugs in here.
pub(super) fn open_store(args: &ServeArgs) -> Result<Store, String> {
    if args.remote_read.is_some() || args.remote_config.is_some() {
        let remotes = super::run::remote::remotes(
            args.remote_read.as_deref(),
            None,
            args.remote_config.as_deref(),
            &[],
        )?;
        let read = remotes.read.ok_or("the remote configuration has no remote_read endpoint")?;
        log("info", "Answering from remote read", &[("url", read.url())]);
        return Ok(Store { query: Arc::new(read), rules: Arc::new(MemStorage::new()) });
    }
    let mem = match &args.data {
        Some(path) => {
            let store = ferroprom::datafile::load_file(path).map_err(|e| match e {
                e @ ferroprom::datafile::DataFileError::Io { .. } => e.to_string(),
                e => format!("{}: {e}", path.display()),
            })?;
            if let Some((first, last)) = store.time_bounds() {
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
            Arc::new(store)
        }
        None => Arc::new(MemStorage::new()),
    };
    Ok(Store { query: Arc::clone(&mem) as Arc<dyn Storage>, rules: mem })
}

/// The engine options the flags describe.
fn engine_options(args: &ServeArgs) -> Result<EngineOptions, String> {
    let mut opts = EngineOptions {
        lookback_delta: args.lookback_delta,
        max_samples: args.max_samples,
        timeout: Some(args.timeout).filter(|t| !t.is_zero()),
        threads: args.threads.max(1),
        // The API checks the resolution itself (more than 11,000 points is `bad_data`).
        max_steps: usize::try_from(ferroprom::http_api::MAX_POINTS + 1).unwrap_or(usize::MAX),
        ..EngineOptions::default()
    };
    let mut parser_flags = Vec::new();
    for f in args.features.iter().flat_map(|f| f.split(',')) {
        match f.trim() {
            "promql-delayed-name-removal" => opts.delayed_name_removal = true,
            "" => {}
            other => parser_flags.push(other.to_string()),
        }
    }
    opts.parser = super::expr::options(&parser_flags)?;
    Ok(opts)
}

/// Runs `ferroprom serve`.
pub fn serve(args: &ServeArgs) -> ExitCode {
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(1)
        }
    }
}

fn run(args: &ServeArgs) -> Result<(), String> {
    let opts = engine_options(args)?;
    let load = LoadOptions { parse: opts.parser.clone(), ..LoadOptions::default() };
    let groups = if args.rules.is_empty() {
        Vec::new()
    } else {
        load_rules(&args.rules, &load).map_err(|errors| {
            for e in errors {
                eprintln!("{e}");
            }
            "the rule files could not be loaded".to_string()
        })?
    };
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT])
        .map_err(|e| format!("cannot install signal handlers: {e}"))?;
    let store = open_store(args)?;
    let engine = Arc::new(Engine::new(opts));
    let server = Arc::new(http::listen(&args.listen)?);
    let address = server.server_addr().to_ip().map_or_else(|| args.listen.clone(), |a| a.to_string());

    let mut api = Api::new(Arc::clone(&engine), Arc::clone(&store.query));
    let manager = if args.rules.is_empty() {
        None
    } else {
        let query =
            EngineQueryFunc { engine: Arc::clone(&engine), storage: Arc::new(Arc::clone(&store.query)) };
        let mut mopts = ManagerOptions::new(Arc::new(query), Arc::clone(&store.rules));
        mopts.external_url = format!("http://{address}");
        mopts.default_interval = i64::try_from(args.evaluation_interval.as_millis()).unwrap_or(i64::MAX);
        let manager = Arc::new(Manager::new(mopts));
        api = api.with_rules(Arc::clone(&manager));
        Some(manager)
    };
    let state = Arc::new(http::Served::new(api, manager.clone(), true));
    let workers = http::start(&server, &state, args.workers);
    log("info", "Listening on", &[("address", &address)]);

    let (stop_watch, watch_rx) = channel();
    let watcher = manager.as_ref().map(|m| {
        let interval = i64::try_from(args.evaluation_interval.as_millis()).unwrap_or(i64::MAX);
        start_groups(m, &groups, interval);
        let m = Arc::clone(m);
        std::thread::spawn(move || watch(&m, None, None, &watch_rx))
    });

    if let Some(signal) = signals.forever().next() {
        let name = if signal == SIGTERM { "SIGTERM" } else { "SIGINT" };
        log("info", "Received shutdown signal, stopping", &[("signal", name)]);
    }
    state.stop();
    if let Some(m) = &manager {
        m.stop();
        log("info", "Rule manager stopped", &[]);
    }
    let _ = stop_watch.send(());
    if let Some(w) = watcher {
        let _ = w.join();
    }
    http::shutdown(&server, workers);
    log("info", "See you next time!", &[]);
    Ok(())
}
