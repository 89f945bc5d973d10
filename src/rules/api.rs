//! The `data` of Prometheus's `/api/v1/rules` and `/api/v1/alerts` responses for a set of groups,
//! with upstream's field names and formats (durations in float seconds, times as RFC 3339 with
//! nanosecond precision trimmed, alert values as Go's `%e`).
//!
//! ```
//! use std::collections::BTreeMap;
//! use ferroprom::rules::api::{RuleType, RulesFilter, rules_json, rules_json_filtered};
//! use ferroprom::rules::group::{Group, GroupSpec, RuleSpec};
//!
//! let spec = GroupSpec {
//!     name: "g".into(), file: "r.yml".into(), interval: 60_000, query_offset: None, limit: 0,
//!     labels: BTreeMap::new(),
//!     rules: vec![RuleSpec::Recording { name: "one".into(), expr: "vector(1)".into(), labels: BTreeMap::new() }],
//! };
//! let g = Group::new(spec, &BTreeMap::new(), "", true);
//! assert_eq!(
//!     rules_json(&[&g]),
//!     r#"{"groups":[{"name":"g","file":"r.yml","rules":[{"name":"one","query":"vector(1)","labels":{},"health":"unknown","evaluationTime":0,"lastEvaluation":"0001-01-01T00:00:00Z","type":"recording"}],"interval":60,"limit":0,"evaluationTime":0,"lastEvaluation":"0001-01-01T00:00:00Z"}]}"#
//! );
//! // `?type=alert`: no alerting rules here, so no group either.
//! let alerts_only = RulesFilter { kind: Some(RuleType::Alerting), ..RulesFilter::default() };
//! assert_eq!(rules_json_filtered(&[&g], &alerts_only), r#"{"groups":[]}"#);
//! ```

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::model::{Labels, format_go_exp};
use crate::rules::alerting::Alert;
use crate::rules::group::{Group, Rule, RuleKind};

/// A Unix millisecond time as Go's `time.Time` JSON (`RFC3339Nano`, UTC); `None` is Go's zero time.
pub fn go_time_json(ms: Option<i64>) -> String {
    let Some(ms) = ms else { return "0001-01-01T00:00:00Z".to_string() };
    let s = crate::notifier::rfc3339_millis(ms);
    // `2026-01-02T03:04:05.120Z` → `…05.12Z`; `.000` disappears.
    match s.strip_suffix('Z').and_then(|b| b.rsplit_once('.')) {
        Some((base, frac)) => {
            let frac = frac.trim_end_matches('0');
            if frac.is_empty() { format!("{base}Z") } else { format!("{base}.{frac}Z") }
        }
        None => s,
    }
}

/// A float written as Go's `encoding/json` writes a `float64` (`60`, `0.5`, `1e-7`, `1e+21`).
struct GoFloat(f64);

impl Serialize for GoFloat {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let v = self.0;
        if !v.is_finite() {
            // Go's encoder refuses these; a duration or evaluation time is never one.
            return serializer.serialize_f64(0.0);
        }
        let a = v.abs();
        let text = if a != 0.0 && !(1e-6..1e21).contains(&a) {
            let e = format_go_exp(v);
            match e.split_once("e-0") {
                Some((m, d)) => format!("{m}e-{d}"),
                None => e,
            }
        } else {
            format!("{v}")
        };
        match serde_json::value::RawValue::from_string(text) {
            Ok(raw) => raw.serialize(serializer),
            Err(_) => serializer.serialize_f64(v),
        }
    }
}

fn label_map(l: &Labels) -> BTreeMap<&str, &str> {
    l.iter().map(|l| (&*l.name, &*l.value)).collect()
}

#[derive(Serialize)]
struct ApiAlert<'a> {
    labels: BTreeMap<&'a str, &'a str>,
    annotations: &'a BTreeMap<String, String>,
    state: &'static str,
    #[serde(rename = "activeAt")]
    active_at: String,
    #[serde(rename = "keepFiringSince", skip_serializing_if = "Option::is_none")]
    keep_firing_since: Option<String>,
    value: String,
}

fn api_alert(a: &Alert) -> ApiAlert<'_> {
    ApiAlert {
        labels: label_map(&a.labels),
        annotations: &a.annotations,
        state: a.state.as_str(),
        active_at: go_time_json(Some(a.active_at)),
        keep_firing_since: a.keep_firing_since.map(|t| go_time_json(Some(t))),
        value: format_go_exp(a.value),
    }
}

#[derive(Serialize)]
#[serde(untagged)]
enum ApiRule<'a> {
    Alerting {
        state: &'static str,
        name: &'a str,
        query: &'a str,
        duration: GoFloat,
        #[serde(rename = "keepFiringFor")]
        keep_firing_for: GoFloat,
        labels: &'a BTreeMap<String, String>,
        annotations: &'a BTreeMap<String, String>,
        alerts: Option<Vec<ApiAlert<'a>>>,
        #[serde(flatten)]
        status: RuleStatus<'a>,
    },
    Recording {
        name: &'a str,
        query: &'a str,
        labels: &'a BTreeMap<String, String>,
        #[serde(flatten)]
        status: RuleStatus<'a>,
    },
}

/// The fields every kind of rule ends with, `type` last.
#[derive(Serialize)]
struct RuleStatus<'a> {
    health: &'static str,
    #[serde(rename = "lastError", skip_serializing_if = "Option::is_none")]
    last_error: Option<&'a str>,
    #[serde(rename = "evaluationTime")]
    evaluation_time: GoFloat,
    #[serde(rename = "lastEvaluation")]
    last_evaluation: String,
    #[serde(rename = "type")]
    kind: &'static str,
}

fn api_rule(r: &Rule, with_alerts: bool) -> ApiRule<'_> {
    let status = |kind| RuleStatus {
        health: r.health().as_str(),
        last_error: r.last_error(),
        evaluation_time: GoFloat(r.eval_duration().as_secs_f64()),
        last_evaluation: go_time_json(r.last_evaluation()),
        kind,
    };
    match &r.kind {
        RuleKind::Alerting(a) => ApiRule::Alerting {
            state: r.alert_state().map_or("inactive", |s| s.as_str()),
            name: a.name(),
            query: a.expr(),
            duration: GoFloat(a.hold_duration() as f64 / 1000.0),
            keep_firing_for: GoFloat(a.keep_firing_for() as f64 / 1000.0),
            labels: a.labels(),
            annotations: a.annotations(),
            alerts: with_alerts.then(|| a.active_alerts().map(api_alert).collect()),
            status: status("alerting"),
        },
        RuleKind::Recording(rr) => ApiRule::Recording {
            name: rr.name(),
            query: rr.expr(),
            labels: rr.labels(),
            status: status("recording"),
        },
    }
}

#[derive(Serialize)]
struct ApiGroup<'a> {
    name: &'a str,
    file: &'a str,
    rules: Vec<ApiRule<'a>>,
    interval: GoFloat,
    limit: usize,
    #[serde(rename = "evaluationTime")]
    evaluation_time: GoFloat,
    #[serde(rename = "lastEvaluation")]
    last_evaluation: String,
}

/// A kind of rule, as `/api/v1/rules?type=` selects it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleType {
    /// Alerting rules (`type=alert`).
    Alerting,
    /// Recording rules (`type=record`).
    Recording,
}

/// Which rules `GET /api/v1/rules` returns: its query parameters `type`, `rule_name[]`,
/// `rule_group[]`, `file[]` and `exclude_alerts`. Empty sets select everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RulesFilter {
    /// Only rules of this kind.
    pub kind: Option<RuleType>,
    /// Only rules with one of these names.
    pub rule_names: BTreeSet<String>,
    /// Only groups with one of these names.
    pub rule_groups: BTreeSet<String>,
    /// Only groups from one of these files.
    pub files: BTreeSet<String>,
    /// Leave out the alerts of alerting rules (`alerts` is `null`).
    pub exclude_alerts: bool,
}

impl RulesFilter {
    fn keeps_group(&self, g: &Group) -> bool {
        (self.rule_groups.is_empty() || self.rule_groups.contains(g.name()))
            && (self.files.is_empty() || self.files.contains(g.file()))
    }

    fn keeps_rule(&self, r: &Rule) -> bool {
        let kind = if r.as_alerting().is_some() { RuleType::Alerting } else { RuleType::Recording };
        self.kind.is_none_or(|k| k == kind)
            && (self.rule_names.is_empty() || self.rule_names.contains(r.name()))
    }
}

/// The `data` object of `GET /api/v1/rules`: `{"groups":[…]}` (every rule; see
/// [`rules_json_filtered`]).
pub fn rules_json(groups: &[&Group]) -> String {
    rules_json_filtered(groups, &RulesFilter::default())
}

/// The `data` object of `GET /api/v1/rules` for the rules `filter` selects. As upstream, a group
/// left without rules is not listed.
pub fn rules_json_filtered(groups: &[&Group], filter: &RulesFilter) -> String {
    #[derive(Serialize)]
    struct Data<'a> {
        groups: Vec<ApiGroup<'a>>,
    }
    let data = Data {
        groups: groups
            .iter()
            .filter(|g| filter.keeps_group(g))
            .map(|g| ApiGroup {
                name: g.name(),
                file: g.file(),
                rules: g
                    .rules()
                    .iter()
                    .filter(|r| filter.keeps_rule(r))
                    .map(|r| api_rule(r, !filter.exclude_alerts))
                    .collect(),
                interval: GoFloat(g.interval() as f64 / 1000.0),
                limit: g.spec().limit,
                evaluation_time: GoFloat(g.evaluation_time().as_secs_f64()),
                last_evaluation: go_time_json(g.last_evaluation()),
            })
            .filter(|g| !g.rules.is_empty())
            .collect(),
    };
    serde_json::to_string(&data).unwrap_or_else(|_| "{\"groups\":[]}".to_string())
}

/// The `data` object of `GET /api/v1/alerts`: `{"alerts":[…]}`, every pending or firing alert.
pub fn alerts_json(groups: &[&Group]) -> String {
    #[derive(Serialize)]
    struct Data<'a> {
        alerts: Vec<ApiAlert<'a>>,
    }
    let alerts = groups
        .iter()
        .flat_map(|g| g.rules().iter())
        .filter_map(|r| r.as_alerting())
        .flat_map(|a| a.active_alerts().map(api_alert))
        .collect();
    serde_json::to_string(&Data { alerts }).unwrap_or_else(|_| "{\"alerts\":[]}".to_string())
}

/// Escapes a label value for the Prometheus text exposition format.
pub fn escape_label_value(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// The rule manager's metrics in the Prometheus text exposition format (the counters and gauges of
/// upstream's `prometheus_rule_*` family, labelled `rule_group="<file>;<name>"`).
pub fn metrics_text(groups: &[&Group]) -> String {
    type Metric = (&'static str, &'static str, &'static str, fn(&Group) -> f64);
    const METRICS: &[Metric] = &[
        ("prometheus_rule_evaluations_total", "counter", "The total number of rule evaluations.", |g| {
            g.stats().evaluations as f64
        }),
        (
            "prometheus_rule_evaluation_failures_total",
            "counter",
            "The total number of rule evaluation failures.",
            |g| g.stats().evaluation_failures as f64,
        ),
        (
            "prometheus_rule_group_iterations_total",
            "counter",
            "The total number of scheduled rule group evaluations, whether executed or missed.",
            |g| g.stats().iterations as f64,
        ),
        (
            "prometheus_rule_group_iterations_missed_total",
            "counter",
            "The total number of rule group evaluations missed due to slow rule group evaluation.",
            |g| g.stats().iterations_missed as f64,
        ),
        ("prometheus_rule_group_interval_seconds", "gauge", "The interval of a rule group.", |g| {
            g.interval() as f64 / 1000.0
        }),
        (
            "prometheus_rule_group_last_evaluation_timestamp_seconds",
            "gauge",
            "The timestamp of the last rule group evaluation in seconds.",
            |g| g.last_evaluation().map_or(0.0, |t| t as f64 / 1000.0),
        ),
        (
            "prometheus_rule_group_last_duration_seconds",
            "gauge",
            "The duration of the last rule group evaluation.",
            |g| g.evaluation_time().as_secs_f64(),
        ),
        (
            "prometheus_rule_group_last_rule_duration_sum_seconds",
            "gauge",
            "The sum of time in seconds it took to evaluate each rule in the group regardless of concurrency.",
            |g| g.rules().iter().map(|r| r.eval_duration().as_secs_f64()).sum(),
        ),
        ("prometheus_rule_group_rules", "gauge", "The number of rules.", |g| g.rules().len() as f64),
        (
            "prometheus_rule_group_last_evaluation_samples",
            "gauge",
            "The number of samples returned during the last rule group evaluation.",
            |g| g.stats().last_samples as f64,
        ),
    ];
    let mut out = String::new();
    for (name, kind, help, value) in METRICS {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        for g in groups {
            let key = escape_label_value(&crate::rules::group::group_key(g.file(), g.name()));
            out.push_str(&format!(
                "{name}{{rule_group=\"{key}\"}} {}\n",
                crate::model::format_float(value(g))
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::model::Sample;
    use crate::rules::group::{EvalEnv, GroupSpec, QueryError, RuleSpec};
    use crate::storage::MemStorage;

    #[test]
    fn group_metrics() {
        let spec = GroupSpec {
            name: "g".into(),
            file: "r\"s.yml".into(),
            interval: 30_000,
            query_offset: None,
            limit: 0,
            labels: BTreeMap::new(),
            rules: vec![
                RuleSpec::Recording { name: "one".into(), expr: "vector(1)".into(), labels: BTreeMap::new() },
                RuleSpec::Recording { name: "bad".into(), expr: "nope".into(), labels: BTreeMap::new() },
            ],
        };
        let mut g = Group::new(spec, &BTreeMap::new(), "", true);
        let query = |e: &str, t: i64| -> Result<Vec<Sample>, QueryError> {
            if e == "vector(1)" {
                Ok(vec![Sample { labels: Labels::empty(), t, f: 1.0, h: None }])
            } else {
                Err(QueryError("no".into()))
            }
        };
        let env = EvalEnv {
            query: Arc::new(query),
            store: Arc::new(MemStorage::new()),
            notify: None,
            resend_delay: 60_000,
            default_query_offset: 0,
        };
        g.eval(0, &env);
        let text = metrics_text(&[&g]);
        for line in [
            "prometheus_rule_evaluations_total{rule_group=\"r\\\"s.yml;g\"} 2",
            "prometheus_rule_evaluation_failures_total{rule_group=\"r\\\"s.yml;g\"} 1",
            "prometheus_rule_group_interval_seconds{rule_group=\"r\\\"s.yml;g\"} 30",
            "prometheus_rule_group_rules{rule_group=\"r\\\"s.yml;g\"} 2",
            "prometheus_rule_group_last_evaluation_samples{rule_group=\"r\\\"s.yml;g\"} 1",
            "# TYPE prometheus_rule_evaluations_total counter",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
        }
    }
}
