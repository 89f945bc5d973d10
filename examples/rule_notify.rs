//! Runs rule files with the rule manager for a while and delivers their alerts to Alertmanagers.
//!
//! ```text
//! cargo run --example rule_notify --no-default-features -- \
//!     --rules rules.yml --alertmanager http://127.0.0.1:9093 \
//!     [--interval 1s] [--resend-delay 1s] [--external-url URL] [--run-for 10s]
//! ```
//!
//! Rules query the engine over an in-memory store that holds only what the rules record. Used by
//! `.ci/interop-alertmanager`.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use ferroprom::engine::{Engine, EngineOptions};
use ferroprom::notifier::{Notifier, NotifierOptions};
use ferroprom::rules::duration::parse_duration;
use ferroprom::rules::group::{EngineQueryFunc, send_to_notifier};
use ferroprom::rules::manager::{Manager, ManagerOptions, group_specs};
use ferroprom::rules::{LoadOptions, load_files};
use ferroprom::storage::MemStorage;

struct Args {
    rules: Vec<String>,
    alertmanagers: Vec<String>,
    interval: Duration,
    resend_delay: Duration,
    external_url: String,
    run_for: Duration,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        rules: Vec::new(),
        alertmanagers: Vec::new(),
        interval: Duration::from_secs(60),
        resend_delay: Duration::from_secs(60),
        external_url: "http://localhost:9090".into(),
        run_for: Duration::from_secs(10),
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
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if a.rules.is_empty() {
        return Err("--rules FILE is required".into());
    }
    Ok(a)
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
