//! Data-driven rule evaluation scenarios: `testdata/rule_eval/*.test`.
//!
//! A scenario loads input series (series notation, `load <interval>`), a rule file (`rules`, which
//! may appear again later to reload, one second after the previous `eval`), optional `external_labels`, `external_url`, `resend_delay`,
//! and then `eval <time>` blocks. Each `eval` runs every group at that timestamp and compares a dump
//! of the outcome with the block's lines: per rule its health and error, per alert its state,
//! labels, value, times and annotations, then every sample appended (by the evaluation, or by a
//! reload since the previous one) and every alert handed to the notifier.
//!
//! `api_alerts` compares the `/api/v1/alerts` data for the current state with its line.
//! `unrestored` makes later-loaded groups start without writing `ALERTS` (as at server startup) and
//! `restore <time>` restores their `for` state from `ALERTS_FOR_STATE` (1h outage tolerance, 10m
//! grace period).
//!
//! Expressions are answered by the engine over the `MemStorage` the rules write to.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use ferroprom::engine::{Engine, EngineOptions};
use ferroprom::model::{FloatHistogram, Labels, STALE_NAN, is_stale_nan};
use ferroprom::parser::series::{SequenceValue, parse_series_desc};
use ferroprom::rules::alerting::Alert;
use ferroprom::rules::duration::{format_duration, parse_duration};
use ferroprom::rules::group::{
    EngineQueryFunc, EvalEnv, Group, NotifyFn, RuleKind, RuleStore, to_notifier_alert,
};
use ferroprom::rules::manager::group_specs;
use ferroprom::rules::{LoadOptions, load_text};
use ferroprom::storage::{AppendError, MemStorage};

fn dur(ms: i64) -> String {
    let d = std::time::Duration::from_millis(ms.unsigned_abs());
    if ms < 0 { format!("-{}", format_duration(d)) } else { format_duration(d) }
}

fn parse_ms(s: &str) -> i64 {
    let (neg, rest) = s.strip_prefix('-').map_or((false, s), |r| (true, r));
    let ms = parse_duration(rest).unwrap_or_else(|e| panic!("bad duration {s:?}: {e}")).as_millis() as i64;
    if neg { -ms } else { ms }
}

/// The store the rules write to: a `MemStorage` that also logs every append.
struct LoggingStore {
    inner: Arc<MemStorage>,
    log: Mutex<Vec<String>>,
}

impl RuleStore for LoggingStore {
    fn append(&self, labels: &Labels, t: i64, v: f64) -> Result<(), AppendError> {
        let res = self.inner.append(labels, t, v);
        let shown = if is_stale_nan(v) { "stale".to_string() } else { v.to_string() };
        let outcome = match &res {
            Ok(()) => String::new(),
            Err(e) => format!(" rejected: {e}"),
        };
        self.log.lock().unwrap().push(format!("sample {labels} {shown} @{}{outcome}", dur(t)));
        res
    }

    fn append_histogram(&self, labels: &Labels, t: i64, h: Arc<FloatHistogram>) -> Result<(), AppendError> {
        self.log.lock().unwrap().push(format!("sample {labels} histogram @{}", dur(t)));
        self.inner.append_histogram(labels, t, h)
    }

    fn last_samples(&self, equal: &[(String, String)], mint: i64, maxt: i64) -> Vec<(Labels, i64, f64)> {
        self.inner.last_samples(equal, mint, maxt)
    }
}

struct Scenario {
    store: Arc<LoggingStore>,
    groups: Vec<Group>,
    env: EvalEnv,
    sent: Arc<Mutex<Vec<String>>>,
    external_labels: BTreeMap<String, String>,
    external_url: String,
    restored: bool,
}

impl Scenario {
    fn load_rules(&mut self, text: &str, ts: i64) {
        let loaded = load_text(text, Some("rules.yml"), &LoadOptions::default()).unwrap_or_else(|e| {
            panic!("rules do not load: {}", e.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; "))
        });
        let specs = group_specs(&loaded.groups, 60_000);
        let mut old: BTreeMap<String, Group> =
            std::mem::take(&mut self.groups).into_iter().map(|g| (g.spec().key(), g)).collect();
        for spec in specs {
            let key = spec.key();
            let new = Group::new(spec, &self.external_labels, &self.external_url, self.restored);
            self.groups.push(match old.remove(&key) {
                Some(o) => Group::replacing(new, o),
                None => new,
            });
        }
        for (_, mut g) in old {
            g.mark_all_stale(ts, &self.env);
        }
    }

    fn eval(&mut self, ts: i64) -> Vec<String> {
        let mut out = Vec::new();
        for g in &mut self.groups {
            g.eval(ts, &self.env);
            for r in g.rules() {
                let mut line = format!("rule {} {}", r.name(), r.health().as_str());
                if let Some(e) = r.last_error() {
                    line.push_str(&format!(": {e}"));
                }
                out.push(line);
                if let RuleKind::Alerting(a) = &r.kind {
                    for al in a.current_alerts() {
                        out.push(alert_line(al));
                    }
                }
            }
        }
        out.extend(self.store.log.lock().unwrap().drain(..));
        out.extend(self.sent.lock().unwrap().drain(..));
        out
    }
}

fn alert_line(a: &Alert) -> String {
    let mut s = format!("  alert {} {} value={} active_at={}", a.state, a.labels, a.value, dur(a.active_at));
    if let Some(t) = a.fired_at {
        s.push_str(&format!(" fired_at={}", dur(t)));
    }
    if let Some(t) = a.resolved_at {
        s.push_str(&format!(" resolved_at={}", dur(t)));
    }
    if let Some(t) = a.keep_firing_since {
        s.push_str(&format!(" keep_firing_since={}", dur(t)));
    }
    for (k, v) in &a.annotations {
        s.push_str(&format!(" {k}={v:?}"));
    }
    s
}

/// Splits a scenario into commands: a command line and its indented lines.
fn commands(text: &str) -> Vec<(usize, String, Vec<String>)> {
    let mut out: Vec<(usize, String, Vec<String>)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.trim_start().starts_with('#') && !line.starts_with("  ") {
            continue;
        }
        if line.starts_with(' ') {
            let body = line.strip_prefix("  ").unwrap_or(line.trim_start());
            out.last_mut()
                .unwrap_or_else(|| panic!("line {}: indented line before a command", i + 1))
                .2
                .push(body.to_string());
        } else {
            out.push((i + 1, line.trim().to_string(), Vec::new()));
        }
    }
    out
}

/// Runs one scenario and returns its mismatches, and the scenario with every `eval` block replaced
/// by what was got (written back when `RULE_EVAL_BLESS=1`, for review with `git diff`).
fn run(text: &str) -> (Vec<String>, String) {
    let mut got_at: BTreeMap<usize, Vec<String>> = BTreeMap::new();
    let mem = Arc::new(MemStorage::new());
    let store = Arc::new(LoggingStore { inner: Arc::clone(&mem), log: Mutex::new(Vec::new()) });
    let sent = Arc::new(Mutex::new(Vec::new()));
    let mut sc = Scenario {
        store: Arc::clone(&store),
        groups: Vec::new(),
        env: EvalEnv {
            query: Arc::new(EngineQueryFunc {
                engine: Arc::new(Engine::new(EngineOptions::default())),
                storage: Arc::clone(&mem),
            }),
            store: store.clone(),
            notify: None,
            resend_delay: 60_000,
            default_query_offset: 0,
        },
        sent: Arc::clone(&sent),
        external_labels: BTreeMap::new(),
        external_url: "http://prom.example:9090".into(),
        restored: true,
    };
    let notify = |sc: &Scenario| -> NotifyFn {
        let sent = Arc::clone(&sc.sent);
        let url = sc.external_url.clone();
        Arc::new(move |expr: &str, alerts: Vec<Alert>| {
            for a in alerts {
                let n = to_notifier_alert(&a, expr, &url);
                let labels: Vec<String> = n.labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
                sent.lock().unwrap().push(format!(
                    "sent {{{}}} starts={} ends={} {}",
                    labels.join(", "),
                    dur(n.starts_at),
                    dur(n.ends_at),
                    n.generator_url
                ));
            }
        })
    };
    sc.env.notify = Some(notify(&sc));
    let mut failures = Vec::new();
    let mut last_ts = 0;
    for (line_no, cmd, body) in commands(text) {
        let (word, arg) = cmd.split_once(' ').unwrap_or((cmd.as_str(), ""));
        match word {
            "load" => {
                let step = parse_ms(arg.trim());
                for l in &body {
                    let desc = parse_series_desc(l).unwrap_or_else(|e| panic!("line {line_no}: {e}"));
                    let labels =
                        Labels::from_pairs(desc.labels.iter().map(|(k, v)| (k.as_str(), v.as_str())));
                    for (i, v) in desc.values.iter().enumerate() {
                        let t = i as i64 * step;
                        let r = match v {
                            SequenceValue::Omitted => Ok(()),
                            SequenceValue::Float(f) => store.inner.append(&labels, t, *f),
                            SequenceValue::Stale => store.inner.append(&labels, t, STALE_NAN),
                            SequenceValue::Histogram { histogram, .. } => {
                                store.inner.append_histogram(&labels, t, Arc::new((**histogram).clone()))
                            }
                        };
                        r.unwrap_or_else(|e| panic!("line {line_no}: {e}"));
                    }
                }
            }
            "external_labels" => {
                sc.external_labels = body
                    .iter()
                    .filter_map(|l| l.split_once('='))
                    .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                    .collect();
            }
            "external_url" => {
                sc.external_url = arg.trim().to_string();
                sc.env.notify = Some(notify(&sc));
            }
            "unrestored" => sc.restored = false,
            "restore" => {
                let now = parse_ms(arg.trim());
                for g in &mut sc.groups {
                    g.restore_for_state(now, sc.store.as_ref(), 3_600_000, 600_000);
                }
            }
            "api_alerts" => {
                let groups: Vec<&Group> = sc.groups.iter().collect();
                let got = vec![ferroprom::rules::api::alerts_json(&groups)];
                got_at.insert(line_no, got.clone());
                if got != body {
                    failures.push(format!(
                        "line {line_no}: api_alerts\n--- expected\n{}\n--- got\n{}",
                        body.join("\n"),
                        got[0]
                    ));
                }
            }
            "resend_delay" => sc.env.resend_delay = parse_ms(arg.trim()),
            "query_offset" => sc.env.default_query_offset = parse_ms(arg.trim()),
            "rules" => sc.load_rules(&body.join("\n"), last_ts + 1000),
            "eval" => {
                let ts = parse_ms(arg.trim());
                last_ts = ts;
                let got = sc.eval(ts);
                got_at.insert(line_no, got.clone());
                let expected: Vec<String> =
                    body.iter().filter(|l| !l.trim_start().starts_with('#')).cloned().collect();
                if got != expected {
                    failures.push(format!(
                        "line {line_no}: eval {arg}\n--- expected\n{}\n--- got\n{}",
                        expected.join("\n"),
                        got.join("\n")
                    ));
                }
            }
            other => panic!("line {line_no}: unknown command {other:?}"),
        }
    }
    (failures, blessed(text, &got_at))
}

/// `text` with the body of the `eval` at each line of `got_at` replaced by its lines.
fn blessed(text: &str, got_at: &BTreeMap<usize, Vec<String>>) -> String {
    let mut out = Vec::new();
    let mut skipping = false;
    for (i, line) in text.lines().enumerate() {
        if skipping && line.starts_with(' ') {
            continue;
        }
        skipping = false;
        out.push(line.to_string());
        if let Some(got) = got_at.get(&(i + 1)) {
            out.extend(got.iter().map(|l| format!("  {l}")));
            skipping = true;
        }
    }
    out.join("\n") + "\n"
}

fn check(path: &std::path::Path, text: &str) -> Result<(), String> {
    let name = path.file_name().map(|n| n.to_string_lossy().to_string()).unwrap_or_default();
    let (failures, blessed) = run(text);
    if std::env::var("RULE_EVAL_BLESS").is_ok_and(|v| v == "1") && !failures.is_empty() {
        std::fs::write(path, blessed).unwrap();
    }
    if failures.is_empty() { Ok(()) } else { Err(format!("{name}:\n{}", failures.join("\n\n"))) }
}

#[test]
fn rule_eval_scenarios() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/rule_eval");
    let mut files: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.retain(|p| p.extension().is_some_and(|e| e == "test"));
    files.sort();
    assert!(!files.is_empty(), "no scenarios in {}", dir.display());
    let mut errors = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        if let Err(e) = check(f, &text) {
            errors.push(e);
        }
    }
    println!("{} passed, {} failed", files.len() - errors.len(), errors.len());
    assert!(errors.is_empty(), "{}", errors.join("\n\n"));
}
