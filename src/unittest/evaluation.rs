//! Running one test group as promtool does: input series loaded lazily, every rule group evaluated
//! at each step of the file's evaluation interval, alert expectations checked right after the step
//! at or before their time, then the expression expectations against everything written.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::engine::{Engine, EngineOptions};
use crate::model::go_quote;
use crate::model::{Labels, Value, format_float};
use crate::parser::ParseOptions;
use crate::parser::series::{SequenceValue, parse_series_desc};
use crate::rules::alerting::AlertState;
use crate::rules::duration::format_duration;
use crate::rules::group::{EngineQueryFunc, EvalEnv, Group, RuleKind, vector_from_value};
use crate::rules::manager::group_specs;
use crate::rules::{LoadOptions, load_file};
use crate::storage::MemStorage;

use super::Options;
use super::compare::{AlertEntry, SampleEntry, alerts_text, floats_equal, samples_text};
use super::format::TestGroup;
use super::jsondiff;
use super::lazy_loader::LazyLoader;

/// What a test group needs from its file.
#[derive(Debug)]
pub(crate) struct FileSettings<'a> {
    /// Time between evaluations, milliseconds.
    pub evaluation_interval: i64,
    /// Rule group name → position in `group_eval_order`.
    pub group_order: &'a BTreeMap<String, usize>,
    /// `fuzzy_compare`.
    pub fuzzy: bool,
    /// The rule files, resolved and globbed.
    pub rule_files: &'a [PathBuf],
}

/// The outcome of a test group: its errors (empty = passed) and the debug lines it printed.
#[derive(Debug, Default)]
pub(crate) struct GroupOutcome {
    pub errors: Vec<String>,
    pub debug: Vec<String>,
}

/// The parser the test engine uses: Prometheus's default options (duration expressions are on by
/// default in Prometheus 3.14's parser), no experimental syntax.
fn engine_parse_options() -> ParseOptions {
    ParseOptions { duration_expressions: true, ..ParseOptions::default() }
}

fn duration_ms(ms: i64) -> String {
    format_duration(Duration::from_millis(ms.max(0) as u64))
}

/// Go's `time.Duration.String()` for a number of milliseconds (`1m0s`, `0s`, `1.5s`, `500ms`).
pub(crate) fn go_duration_ms(ms: i64) -> String {
    let text = crate::rules::expansion::go_duration_nanos(u128::from(ms.unsigned_abs()) * 1_000_000);
    if ms < 0 { format!("-{text}") } else { text }
}

/// Runs one test group.
pub(crate) fn run_group(tg: &TestGroup, file: &FileSettings<'_>, opts: &Options) -> GroupOutcome {
    let mut out = GroupOutcome::default();
    let ei = file.evaluation_interval;
    let interval = tg.interval.map(|d| d.0).filter(|&d| d > 0).unwrap_or(ei);
    let mint = tg.start_timestamp.map_or(0, |s| s.0);

    let mut loader = match LazyLoader::new(&tg.input_series, interval, mint) {
        Ok(l) => l,
        Err(e) => {
            out.errors.push(e);
            return out;
        }
    };
    let store = Arc::new(MemStorage::new());
    let engine = Arc::new(Engine::new(EngineOptions {
        lookback_delta: Duration::from_secs(300),
        max_samples: 10_000,
        timeout: Some(Duration::from_secs(100)),
        threads: 1,
        enable_at_modifier: opts.enable_at_modifier,
        enable_negative_offset: opts.enable_negative_offset,
        delayed_name_removal: opts.delayed_name_removal,
        parser: engine_parse_options(),
        no_step_subquery_interval: Duration::from_millis(ei.max(1) as u64),
        ..EngineOptions::default()
    }));

    // Rule files: the first file with errors stops loading; a group key seen twice keeps the
    // later group, as the manager's map does.
    let load_opts = LoadOptions {
        ignore_unknown_fields: opts.ignore_unknown_fields,
        parse: opts.rule_parse_options.clone(),
        ..LoadOptions::default()
    };
    let mut loaded = Vec::new();
    for path in file.rule_files {
        match load_file(path, &load_opts) {
            Ok(f) => loaded.extend(f.groups),
            Err(errs) => {
                out.errors.extend(errs.iter().map(|e| e.to_string()));
                return out;
            }
        }
    }
    let mut by_key: Vec<crate::rules::RuleGroup> = Vec::new();
    for g in loaded {
        match by_key.iter_mut().find(|x| x.file == g.file && x.name == g.name) {
            Some(slot) => *slot = g,
            None => by_key.push(g),
        }
    }
    let mut groups: Vec<Group> = group_specs(&by_key, interval)
        .into_iter()
        .map(|spec| Group::new(spec, &tg.external_labels, &tg.external_url, true))
        .collect();
    // Listed groups in list order; unlisted groups rank with the first listed one (upstream's
    // sort is not stable; ours keeps file order among equal ranks).
    groups.sort_by_key(|g| file.group_order.get(g.name()).copied().unwrap_or(0));
    for g in &mut groups {
        for r in g.rules_mut() {
            if let RuleKind::Alerting(a) = &mut r.kind {
                a.set_restored(true);
            }
        }
    }

    let max_eval = tg
        .alert_rule_test
        .iter()
        .map(|a| a.eval_time.0)
        .chain(tg.promql_expr_test.iter().map(|p| p.eval_time.0))
        .max()
        .unwrap_or(0);
    let maxt = mint.saturating_add(max_eval);

    for a in &tg.alert_rule_test {
        if a.alertname.is_empty() {
            let in_group =
                if tg.name.is_empty() { String::new() } else { format!(" (in TestGroup {})", tg.name) };
            out.errors.push(format!(
                "an item under alert_rule_test misses required attribute alertname at eval_time {}{in_group}",
                duration_ms(a.eval_time.0)
            ));
            return out;
        }
    }
    let alert_times: Vec<i64> =
        tg.alert_rule_test.iter().map(|a| a.eval_time.0).collect::<BTreeSet<_>>().into_iter().collect();
    let mut curr = 0;

    let env = EvalEnv {
        query: Arc::new(EngineQueryFunc { engine: Arc::clone(&engine), storage: Arc::clone(&store) }),
        store: store.clone(),
        notify: None,
        resend_delay: 60_000,
        default_query_offset: 0,
    };

    if groups.is_empty() {
        // Nothing is evaluated: the store after the last step holds every input sample up to it,
        // and no alert fires, whenever it is checked.
        let steps = (maxt - mint) / ei.max(1);
        let last = mint.saturating_add(steps.saturating_mul(ei.max(1)));
        if let Err(e) = loader.append_till(&store, last) {
            out.errors.push(e);
        }
        for &t in &alert_times {
            check_alerts(tg, t, &groups, opts, &mut out.errors);
        }
    } else {
        let mut ts = mint;
        while ts <= maxt {
            let mut eval_errors = Vec::new();
            match loader.append_till(&store, ts) {
                Err(e) => out.errors.push(e),
                Ok(()) => {
                    for g in &mut groups {
                        g.eval(ts, &env);
                        for r in g.rules() {
                            if let Some(e) = r.last_error() {
                                eval_errors.push(format!(
                                    "    rule: {}, time: {}, err: {e}",
                                    r.name(),
                                    go_duration_ms(ts)
                                ));
                            }
                        }
                    }
                }
            }
            if !eval_errors.is_empty() {
                out.errors.extend(eval_errors);
                return out;
            }
            while curr < alert_times.len()
                && ts - mint <= alert_times[curr]
                && alert_times[curr] < ts + ei - mint
            {
                check_alerts(tg, alert_times[curr], &groups, opts, &mut out.errors);
                curr += 1;
            }
            match ts.checked_add(ei.max(1)) {
                Some(next) => ts = next,
                None => break,
            }
        }
    }

    for t in &tg.promql_expr_test {
        if let Err(e) = check_expr(t, mint, &engine, &store, file.fuzzy) {
            out.errors.push(e);
        }
    }

    if opts.debug {
        out.debug.extend(debug_dump(max_eval, mint, &engine, &store));
    }
    out
}

/// Compares the firing alerts after the evaluation at or before `t` with every alert test due at `t`.
fn check_alerts(tg: &TestGroup, t: i64, groups: &[Group], opts: &Options, errors: &mut Vec<String>) {
    for test in tg.alert_rule_test.iter().filter(|a| a.eval_time.0 == t) {
        let mut got: Vec<AlertEntry> = Vec::new();
        for g in groups {
            for r in g.rules() {
                let Some(ar) = r.as_alerting() else { continue };
                if ar.name() != test.alertname {
                    continue;
                }
                for a in ar.active_alerts().filter(|a| a.state == AlertState::Firing) {
                    got.push(AlertEntry {
                        labels: a.labels.iter().map(|l| (l.name.to_string(), l.value.to_string())).collect(),
                        annotations: a.annotations.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                    });
                }
            }
        }
        let mut exp: Vec<AlertEntry> = test
            .exp_alerts
            .iter()
            .map(|e| {
                let mut labels = e.exp_labels.clone();
                labels.insert("alertname".into(), test.alertname.clone());
                AlertEntry {
                    labels: labels.into_iter().collect(),
                    annotations: e.exp_annotations.clone().into_iter().collect(),
                }
            })
            .collect();
        got.sort();
        exp.sort();
        if exp == got {
            continue;
        }
        let name = if tg.name.is_empty() { String::new() } else { format!("    name: {},\n", tg.name) };
        let time = duration_ms(t);
        if opts.diff {
            let diff = jsondiff::diff_alerts(&exp, &got, opts.color);
            if let Some(diff) = diff {
                errors.push(format!(
                    "{name}    alertname: {}, time: {time}, \n        diff: {}",
                    test.alertname,
                    super::compare::indent_lines(&diff, "            ")
                ));
            }
        } else {
            errors.push(format!(
                "{name}    alertname: {}, time: {time}, \n        exp:{}, \n        got:{}",
                test.alertname,
                super::compare::indent_lines(&alerts_text(&exp), "            "),
                super::compare::indent_lines(&alerts_text(&got), "            "),
            ));
        }
    }
}

/// Parses an expected sample's labels (`ParseMetric`): a metric name and/or label set, no values.
fn parse_metric(text: &str) -> Result<Labels, String> {
    if text.trim().is_empty() {
        return Ok(Labels::empty());
    }
    let desc = parse_series_desc(text).map_err(|e| e.to_string())?;
    if !desc.values.is_empty() {
        return Err(format!("1:1: parse error: unexpected values after the metric in {}", go_quote(text)));
    }
    Ok(Labels::from_pairs(desc.labels))
}

/// Parses an expected histogram: exactly one histogram value in series notation.
fn parse_histogram(text: &str) -> Result<String, String> {
    let desc = parse_series_desc(&format!("{{}} {text}")).map_err(|e| e.to_string())?;
    if desc.values.len() != 1 {
        return Err(format!("expected 1 value, got {}", desc.values.len()));
    }
    match &desc.values[0] {
        SequenceValue::Histogram { histogram, .. } => Ok(histogram.test_expression()),
        // Go prints the value with `%f`; an omitted value as `_`.
        SequenceValue::Float(f) => Err(format!("expected histogram, got {}", go_percent_f(*f))),
        SequenceValue::Stale => Err("expected histogram, got NaN".into()),
        SequenceValue::Omitted => Err("expected histogram, got _".into()),
    }
}

/// Go's `%f` of a float: six decimals, `NaN`, `+Inf`, `-Inf`.
fn go_percent_f(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else {
        format!("{v:.6}")
    }
}

/// Runs one expression test; `Err` is its failure text.
fn check_expr(
    t: &super::format::ExprTest,
    mint: i64,
    engine: &Engine,
    store: &MemStorage,
    fuzzy: bool,
) -> Result<(), String> {
    let head = format!("    expr: {}, time: {}", go_quote(&t.expr), duration_ms(t.eval_time.0));
    let got = engine
        .instant_query(store, &t.expr, mint.saturating_add(t.eval_time.0))
        .map_err(|e| e.to_string())
        .and_then(|r| vector_from_value(r.value).map_err(|e| e.to_string()))
        .map_err(|e| format!("{head}, err: {e}"))?;
    let mut got: Vec<SampleEntry> = got
        .into_iter()
        .map(|s| SampleEntry {
            labels: s.labels,
            value: if s.h.is_some() { 0.0 } else { s.f },
            histogram: s.h.map(|h| h.test_expression()).unwrap_or_default(),
        })
        .collect();
    let mut exp = Vec::with_capacity(t.exp_samples.len());
    for s in &t.exp_samples {
        let parsed = parse_metric(&s.labels).and_then(|labels| {
            let histogram =
                if s.histogram.is_empty() { String::new() } else { parse_histogram(&s.histogram)? };
            Ok(SampleEntry { labels, value: s.value, histogram })
        });
        match parsed {
            Ok(e) => exp.push(e),
            Err(e) => return Err(format!("{head}, err: labels {}: {e}", go_quote(&s.labels))),
        }
    }
    exp.sort_by(|a, b| a.labels.cmp(&b.labels));
    got.sort_by(|a, b| a.labels.cmp(&b.labels));
    let equal = exp.len() == got.len()
        && exp.iter().zip(&got).all(|(e, g)| {
            e.labels == g.labels && e.histogram == g.histogram && floats_equal(e.value, g.value, fuzzy)
        });
    if equal {
        return Ok(());
    }
    Err(format!("{head},\n        exp: {}\n        got: {}", samples_text(&exp), samples_text(&got)))
}

/// `--debug`: every series over the whole test, as promtool dumps it.
fn debug_dump(max_eval: i64, mint: i64, engine: &Engine, store: &MemStorage) -> Vec<String> {
    let range = (max_eval + 1000) / 1000 * 1000;
    let expr = format!("{{__name__=~\".+\"}}[{}]", go_duration_ms(range));
    match engine.instant_query(store, &expr, mint.saturating_add(range)) {
        Err(e) => vec![format!("DEBUG: Failed query exec, expr: {}, err: {e}", go_quote(&expr))],
        Ok(r) => match r.value {
            Value::Matrix(m) => {
                let series: Vec<String> = m
                    .iter()
                    .map(|s| {
                        let mut lines = vec![format!("{} =>", s.labels)];
                        lines.extend(s.floats.iter().map(|p| format!("{} @[{}]", format_float(p.f), p.t)));
                        lines.extend(
                            s.histograms.iter().map(|p| format!("{} @[{}]", p.h.test_expression(), p.t)),
                        );
                        lines.join("\n")
                    })
                    .collect();
                vec![
                    format!("DEBUG: Dump of all data (input_series and rules) at {}:", go_duration_ms(range)),
                    series.join("\n"),
                ]
            }
            other => vec![format!("DEBUG: Got unexpected type {}", other.type_name())],
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        for (ms, s) in [(0, "0s"), (60_000, "1m0s"), (1500, "1.5s"), (500, "500ms"), (3_661_000, "1h1m1s")] {
            assert_eq!(go_duration_ms(ms), s);
        }
    }
}
