//! `ferroprom run --replay-until`: the rule groups evaluated over the seeded data instead of live,
//! with what they recorded and alerted printed at the end.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::io::Write as _;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use ferroprom::engine::Engine;
use ferroprom::model::{Labels, Value, format_api_float};
use ferroprom::rules::RuleGroup;
use ferroprom::rules::alerting::Alert;
use ferroprom::rules::api::go_time_json;
use ferroprom::rules::group::{EngineQueryFunc, EvalEnv, Group, NotifyFn};
use ferroprom::rules::manager::{group_specs, replay as replay_groups};
use ferroprom::storage::MemStorage;

/// Settings of a replay.
pub(super) struct ReplayOptions {
    /// The default group interval in milliseconds.
    pub(super) interval: i64,
    /// The resend delay in milliseconds.
    pub(super) resend_delay: i64,
    /// External labels, for templates.
    pub(super) external_labels: BTreeMap<String, String>,
    /// External URL, for templates.
    pub(super) external_url: String,
    /// The last evaluation time (Unix milliseconds).
    pub(super) until: i64,
}

/// A change of an alert as the Alertmanagers would have been told: when, `firing` or `resolved`.
struct Transition {
    at: i64,
    status: &'static str,
    labels: Labels,
    annotations: BTreeMap<String, String>,
}

/// Collects the notifications that change an alert's status (resends are left out).
fn transitions() -> (NotifyFn, Arc<Mutex<Vec<Transition>>>) {
    let out: Arc<Mutex<Vec<Transition>>> = Arc::new(Mutex::new(Vec::new()));
    let last: Mutex<HashMap<Labels, &'static str>> = Mutex::new(HashMap::new());
    let sink = Arc::clone(&out);
    let notify: NotifyFn = Arc::new(move |_expr: &str, alerts: Vec<Alert>| {
        let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = sink.lock().unwrap_or_else(|e| e.into_inner());
        for a in alerts {
            let (status, at) = match a.resolved_at {
                Some(t) => ("resolved", t),
                None => ("firing", a.fired_at.unwrap_or(a.active_at)),
            };
            if last.insert(a.labels.clone(), status) != Some(status) {
                out.push(Transition { at, status, labels: a.labels, annotations: a.annotations });
            }
        }
    });
    (notify, out)
}

fn annotations_text(annotations: &BTreeMap<String, String>) -> String {
    annotations.iter().map(|(k, v)| format!(" {k}={v:?}")).collect()
}

/// Replays `groups` over `store` and prints the result.
pub(super) fn replay(
    groups: &[RuleGroup],
    store: Arc<MemStorage>,
    engine: Arc<Engine>,
    opts: &ReplayOptions,
) -> ExitCode {
    let start = store.time_bounds().map_or(0, |(min, _)| min);
    if opts.until < start {
        eprintln!(
            "error: --replay-until {} is before the start of the data ({})",
            go_time_json(Some(opts.until)),
            go_time_json(Some(start))
        );
        return ExitCode::from(2);
    }
    let (notify, sent) = transitions();
    let env = EvalEnv {
        query: Arc::new(EngineQueryFunc { engine: Arc::clone(&engine), storage: Arc::clone(&store) }),
        store: store.clone(),
        notify: Some(notify),
        resend_delay: opts.resend_delay,
        default_query_offset: 0,
    };
    let mut running: Vec<Group> = group_specs(groups, opts.interval)
        .into_iter()
        .map(|spec| Group::new(spec, &opts.external_labels, &opts.external_url, true))
        .collect();
    replay_groups(&mut running, &env, start, opts.until);

    let mut out = String::new();
    let _ = writeln!(
        out,
        "Evaluated {} rule group(s) from {} to {}.",
        running.len(),
        go_time_json(Some(start)),
        go_time_json(Some(opts.until))
    );
    let mut failed = false;
    let _ = writeln!(out, "\nRecorded series (last evaluation):");
    let mut printed = std::collections::HashSet::new();
    for g in &running {
        let Some(at) = g.last_eval_timestamp() else { continue };
        for r in g.rules().iter().filter(|r| r.as_alerting().is_none()) {
            if let Some(e) = r.last_error() {
                let _ = writeln!(out, "  {} error: {e}", r.name());
                failed = true;
                continue;
            }
            if !printed.insert(r.name().to_string()) {
                continue;
            }
            let selector = format!("{{__name__={:?}}}", r.name());
            match engine.instant_query(store.as_ref(), &selector, at).map(|res| res.value) {
                Ok(Value::Vector(samples)) => {
                    for s in samples {
                        let _ = writeln!(
                            out,
                            "  {} {} @ {}",
                            s.labels.metric_display(),
                            format_api_float(s.f),
                            go_time_json(Some(at))
                        );
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    let _ = writeln!(out, "  {} error: {e}", r.name());
                }
            }
        }
    }
    let _ = writeln!(out, "\nAlert notifications (changes of status):");
    for t in sent.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        let _ = writeln!(
            out,
            "  {} {} {}{}",
            go_time_json(Some(t.at)),
            t.status,
            t.labels,
            annotations_text(&t.annotations)
        );
    }
    let _ = writeln!(out, "\nActive alerts (last evaluation):");
    for g in &running {
        for r in g.rules() {
            let Some(a) = r.as_alerting() else { continue };
            if let Some(e) = r.last_error() {
                let _ = writeln!(out, "  {} error: {e}", r.name());
                failed = true;
            }
            for al in a.active_alerts() {
                let _ = writeln!(
                    out,
                    "  {} {} since {} value={}{}",
                    al.state,
                    al.labels,
                    go_time_json(Some(al.active_at)),
                    format_api_float(al.value),
                    annotations_text(&al.annotations)
                );
            }
        }
    }
    // A closed standard output (`| head`) is not an error of the replay.
    let _ = std::io::stdout().write_all(out.as_bytes());
    if failed { ExitCode::from(1) } else { ExitCode::SUCCESS }
}
