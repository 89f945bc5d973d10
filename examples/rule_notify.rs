//! Runs rule files with the rule manager for a while and delivers their alerts to Alertmanagers.
//!
//! ```text
//! cargo run --example rule_notify --no-default-features -- \
//!     --rules rules.yml --alertmanager http://127.0.0.1:9093 \
//!     [--interval 1s] [--resend-delay 1s] [--external-url URL] [--run-for 10s]
//!
//! cargo run --example rule_notify --no-default-features -- \
//!     --rules example/story/node.rules.yml --data example/node-exporter.data --replay-until 1h
//! ```
//!
//! With `--replay-until`, the rules are evaluated over the `--data` file instead of live (every
//! group at each of its slots from 0 to the given time) and the recorded series and alerts at the
//! end are printed; nothing is sent.
//!
//! Rules query the engine over an in-memory store that holds only what the rules record. Used by
//! `.ci/interop-alertmanager`.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use ferroprom::engine::{Engine, EngineOptions};
use ferroprom::notifier::{Notifier, NotifierOptions};
use ferroprom::rules::duration::parse_duration;
use ferroprom::rules::group::{EngineQueryFunc, EvalEnv, Group, send_to_notifier};
use ferroprom::rules::manager::{Manager, ManagerOptions, group_specs, replay};
use ferroprom::rules::{LoadOptions, load_files};
use ferroprom::storage::MemStorage;

struct Args {
    rules: Vec<String>,
    alertmanagers: Vec<String>,
    interval: Duration,
    resend_delay: Duration,
    external_url: String,
    run_for: Duration,
    data: Option<String>,
    replay_until: Option<Duration>,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        rules: Vec::new(),
        alertmanagers: Vec::new(),
        interval: Duration::from_secs(60),
        resend_delay: Duration::from_secs(60),
        external_url: "http://localhost:9090".into(),
        run_for: Duration::from_secs(10),
        data: None,
        replay_until: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--rules" => a.rules.push(value()?),
            "--alertmanager" => a.alertmanagers.push(value()?),
            "--interval" => a.interval = parse_duration(&value()?)?,
            "--resend-delay" => a.resend_delay = parse_duration(&value()?)?,
            "--external-url" => a.external_url = value()?,
            "--run-for" => a.run_for = parse_duration(&value()?)?,
            "--data" => a.data = Some(value()?),
            "--replay-until" => a.replay_until = Some(parse_duration(&value()?)?),
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if a.rules.is_empty() {
        return Err("--rules FILE is required".into());
    }
    Ok(a)
}

/// Evaluates the rules over the data file up to `until` and prints what they recorded and alerted.
fn replay_story(args: &Args, groups: &[ferroprom::rules::RuleGroup], until: Duration) -> ExitCode {
    let store = match &args.data {
        Some(path) => match ferroprom::datafile::load_file(std::path::Path::new(path)) {
            Ok(s) => Arc::new(s),
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(1);
            }
        },
        None => Arc::new(MemStorage::new()),
    };
    let engine = Arc::new(Engine::new(EngineOptions::default()));
    let env = EvalEnv {
        query: Arc::new(EngineQueryFunc { engine: Arc::clone(&engine), storage: Arc::clone(&store) }),
        store: store.clone(),
        notify: None,
        resend_delay: args.resend_delay.as_millis() as i64,
        default_query_offset: 0,
    };
    let interval = args.interval.as_millis() as i64;
    let mut running: Vec<Group> = group_specs(groups, interval)
        .into_iter()
        .map(|spec| Group::new(spec, &Default::default(), &args.external_url, true))
        .collect();
    let end = until.as_millis() as i64;
    replay(&mut running, &env, 0, end);
    for g in &running {
        let at = g.last_eval_timestamp().unwrap_or(end);
        for r in g.rules() {
            if let Some(e) = r.last_error() {
                println!("{} error: {e}", r.name());
            }
            match r.as_alerting() {
                None => match engine.instant_query(store.as_ref(), r.name(), at) {
                    Ok(res) => {
                        if let ferroprom::model::Value::Vector(v) = res.value {
                            for s in v {
                                println!("{} {} @{}s", s.labels.metric_display(), s.f, at / 1000);
                            }
                        }
                    }
                    Err(e) => println!("{} error: {e}", r.name()),
                },
                Some(a) => {
                    for al in a.active_alerts() {
                        let ann: Vec<String> =
                            al.annotations.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
                        println!(
                            "ALERT {} {} since {}s {}",
                            al.state,
                            al.labels,
                            al.active_at / 1000,
                            ann.join(" ")
                        );
                    }
                }
            }
        }
    }
    ExitCode::SUCCESS
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let groups = match load_files(&args.rules, &LoadOptions::default()) {
        Ok(g) => g,
        Err(errs) => {
            for e in errs {
                eprintln!("{e}");
            }
            return ExitCode::from(1);
        }
    };
    if let Some(until) = args.replay_until {
        return replay_story(&args, &groups, until);
    }
    let notifier = match Notifier::new(&args.alertmanagers, NotifierOptions::default()) {
        Ok(n) => Arc::new(n),
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    let ms = |d: Duration| d.as_millis() as i64;
    let store = Arc::new(MemStorage::new());
    let query = EngineQueryFunc {
        engine: Arc::new(Engine::new(EngineOptions::default())),
        storage: Arc::clone(&store),
    };
    let mut opts = ManagerOptions::new(Arc::new(query), store);
    opts.notify = Some(send_to_notifier(Arc::clone(&notifier), args.external_url.clone()));
    opts.external_url = args.external_url.clone();
    opts.resend_delay = ms(args.resend_delay);
    opts.default_interval = ms(args.interval);
    let manager = Manager::new(opts);
    manager.update(group_specs(&groups, ms(args.interval)));
    eprintln!("evaluating {} group(s) for {:?}", groups.len(), args.run_for);
    std::thread::sleep(args.run_for);
    manager.stop();
    for g in manager.groups() {
        let g = g.lock().unwrap_or_else(|e| e.into_inner());
        for r in g.rules() {
            let state = r.alert_state().map_or(String::new(), |s| format!(" state={s}"));
            let err = r.last_error().map_or(String::new(), |e| format!(" error={e}"));
            println!(
                "{};{} rule {} health={}{state}{err}",
                g.file(),
                g.name(),
                r.name(),
                r.health().as_str()
            );
        }
    }
    notifier.flush(Duration::from_secs(5));
    for s in notifier.stats() {
        println!("alertmanager {} sent={} errors={} dropped={}", s.url, s.sent, s.errors, s.dropped);
    }
    ExitCode::SUCCESS
}
