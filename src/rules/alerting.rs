//! Alerting rules: the pending → firing → resolved state machine, `ALERTS` and `ALERTS_FOR_STATE`
//! series, templated labels and annotations, and the resend bookkeeping.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::model::{Labels, LabelsBuilder, METRIC_NAME, Sample};
use crate::rules::expansion::{Expander, TemplateData, TemplateQueryFn, TemplateSample};
use crate::rules::group::{QueryFunc, RuleError};

/// How long a resolved alert is kept (and re-sent) after it resolved: 15 minutes.
pub const RESOLVED_RETENTION_MS: i64 = 15 * 60 * 1000;

/// Name of the series of active alerts.
pub const ALERTS_METRIC: &str = "ALERTS";
/// Name of the series holding each alert's `ActiveAt` (seconds), used to restore `for` state.
pub const ALERTS_FOR_STATE_METRIC: &str = "ALERTS_FOR_STATE";

/// The state of an alert (or, for a rule, the highest state of its alerts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AlertState {
    /// The rule was never evaluated.
    Unknown,
    /// Resolved (kept for resending) or no alert at all.
    Inactive,
    /// Active for less than `for`.
    Pending,
    /// Active for at least `for` (or kept firing by `keep_firing_for`).
    Firing,
}

impl AlertState {
    /// Prometheus's name: `unknown`, `inactive`, `pending`, `firing`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertState::Unknown => "unknown",
            AlertState::Inactive => "inactive",
            AlertState::Pending => "pending",
            AlertState::Firing => "firing",
        }
    }
}

impl std::fmt::Display for AlertState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One alert instance of an alerting rule. Times are Unix milliseconds; `None` is Go's zero time.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Current state.
    pub state: AlertState,
    /// Identifying labels: the sample's labels without `__name__`, the expanded rule labels and
    /// `alertname`.
    pub labels: Labels,
    /// Expanded annotations.
    pub annotations: BTreeMap<String, String>,
    /// The expression's value at the last evaluation.
    pub value: f64,
    /// The evaluation at which the alert became active.
    pub active_at: i64,
    /// The evaluation at which it started firing.
    pub fired_at: Option<i64>,
    /// The evaluation at which it resolved.
    pub resolved_at: Option<i64>,
    /// When it was last handed to the notifier.
    pub last_sent_at: Option<i64>,
    /// Until when the last notification keeps it alive in Alertmanager.
    pub valid_until: Option<i64>,
    /// Since when it has been kept firing although the expression no longer returns it.
    pub keep_firing_since: Option<i64>,
}

impl Alert {
    /// Whether the alert must be (re)sent at `ts` (Prometheus's `needsSending`).
    pub fn needs_sending(&self, ts: i64, resend_delay: i64) -> bool {
        if self.state == AlertState::Pending {
            return false;
        }
        if let Some(resolved) = self.resolved_at
            && self.last_sent_at.is_none_or(|sent| resolved > sent)
        {
            return true;
        }
        match self.last_sent_at {
            None => true,
            Some(sent) => sent + resend_delay < ts,
        }
    }
}

/// An alerting rule (`alert`, `expr`, `for`, `keep_firing_for`, `labels`, `annotations`) and the
/// state of its alerts.
#[derive(Debug, Clone)]
pub struct AlertingRule {
    name: String,
    expr: String,
    hold_duration: i64,
    keep_firing_for: i64,
    labels: BTreeMap<String, String>,
    annotations: BTreeMap<String, String>,
    external_labels: BTreeMap<String, String>,
    external_url: String,
    restored: bool,
    active: BTreeMap<Labels, Alert>,
}

/// The parts of an alerting rule's definition, for [`AlertingRule::new`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AlertingRuleSpec {
    /// The alert name.
    pub name: String,
    /// The expression.
    pub expr: String,
    /// `for`, in milliseconds.
    pub hold_duration: i64,
    /// `keep_firing_for`, in milliseconds.
    pub keep_firing_for: i64,
    /// Labels (group labels merged in), templates allowed.
    pub labels: BTreeMap<String, String>,
    /// Annotations, templates allowed.
    pub annotations: BTreeMap<String, String>,
}

impl AlertingRule {
    /// A rule from its definition, with the external labels and URL its templates see.
    /// `restored` says whether `ALERTS`/`ALERTS_FOR_STATE` are written from the first evaluation
    /// (true in tests and for groups added after startup; false until [`AlertingRule::set_restored`]
    /// when `for` state is to be restored from storage first).
    pub fn new(
        spec: AlertingRuleSpec,
        external_labels: BTreeMap<String, String>,
        external_url: String,
        restored: bool,
    ) -> AlertingRule {
        AlertingRule {
            name: spec.name,
            expr: spec.expr,
            hold_duration: spec.hold_duration,
            keep_firing_for: spec.keep_firing_for,
            labels: spec.labels,
            annotations: spec.annotations,
            external_labels,
            external_url,
            restored,
            active: BTreeMap::new(),
        }
    }

    /// The alert name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The expression.
    pub fn expr(&self) -> &str {
        &self.expr
    }

    /// `for` in milliseconds.
    pub fn hold_duration(&self) -> i64 {
        self.hold_duration
    }

    /// `keep_firing_for` in milliseconds.
    pub fn keep_firing_for(&self) -> i64 {
        self.keep_firing_for
    }

    /// The rule labels (templates unexpanded).
    pub fn labels(&self) -> &BTreeMap<String, String> {
        &self.labels
    }

    /// The annotations (templates unexpanded).
    pub fn annotations(&self) -> &BTreeMap<String, String> {
        &self.annotations
    }

    /// Whether `ALERTS`/`ALERTS_FOR_STATE` are being written.
    pub fn restored(&self) -> bool {
        self.restored
    }

    /// Marks the `for` state as restored: `ALERTS`/`ALERTS_FOR_STATE` are written from now on.
    pub fn set_restored(&mut self, restored: bool) {
        self.restored = restored;
    }

    /// Every alert instance, including resolved ones still kept for resending, in label order.
    pub fn current_alerts(&self) -> impl Iterator<Item = &Alert> {
        self.active.values()
    }

    /// The alerts that are pending or firing (not resolved), in label order.
    pub fn active_alerts(&self) -> impl Iterator<Item = &Alert> {
        self.active.values().filter(|a| a.resolved_at.is_none())
    }

    pub(crate) fn active_mut(&mut self) -> &mut BTreeMap<Labels, Alert> {
        &mut self.active
    }

    /// The highest state of the rule's alerts; `evaluated` says whether the rule was ever evaluated.
    pub fn state(&self, evaluated: bool) -> AlertState {
        if !evaluated {
            return AlertState::Unknown;
        }
        self.active.values().map(|a| a.state).max().unwrap_or(AlertState::Inactive).max(AlertState::Inactive)
    }

    /// Evaluates the rule at `ts` (querying at `ts - query_offset`), updates the alert states and
    /// returns the `ALERTS` and `ALERTS_FOR_STATE` samples (none until restored). `limit > 0`
    /// bounds the number of pending and firing alerts; exceeding it drops all alert state.
    pub fn eval(
        &mut self,
        ts: i64,
        query_offset: i64,
        query: &Arc<dyn QueryFunc>,
        limit: usize,
    ) -> Result<Vec<Sample>, RuleError> {
        let res = query.query(&self.expr, ts - query_offset).map_err(RuleError::Query)?;
        let tmpl_name = format!("__alert_{}", self.name);
        let tmpl_query: TemplateQueryFn = {
            let q = Arc::clone(query);
            Arc::new(move |expr: &str, t: i64| {
                q.query(expr, t).map_err(|e| e.to_string()).map(|v| {
                    v.into_iter()
                        .map(|s| TemplateSample {
                            labels: s
                                .labels
                                .iter()
                                .map(|l| (l.name.to_string(), l.value.to_string()))
                                .collect(),
                            value: s.f,
                        })
                        .collect()
                })
            })
        };
        let mut fresh: BTreeMap<Labels, Alert> = BTreeMap::new();
        for smpl in &res {
            let data = TemplateData {
                labels: smpl.labels.iter().map(|l| (l.name.to_string(), l.value.to_string())).collect(),
                external_labels: self.external_labels.clone(),
                external_url: self.external_url.clone(),
                value: smpl.f,
            };
            let expander = Expander::new(&tmpl_name, data, ts).with_query(Arc::clone(&tmpl_query));
            let expand = |text: &str| match expander.expand(text) {
                Ok(s) => s,
                Err(e) => format!("<error expanding template: {e}>"),
            };
            let mut lb = smpl.labels.builder();
            lb.del_mut(METRIC_NAME);
            for (k, v) in &self.labels {
                lb.set_mut(k.as_str(), expand(v));
            }
            lb.set_mut("alertname", self.name.as_str());
            let annotations: BTreeMap<String, String> =
                self.annotations.iter().map(|(k, v)| (k.clone(), expand(v))).collect();
            let labels = lb.labels();
            if fresh.contains_key(&labels) {
                return Err(RuleError::DuplicateAlertLabelSet);
            }
            fresh.insert(
                labels.clone(),
                Alert {
                    state: AlertState::Pending,
                    labels,
                    annotations,
                    value: smpl.f,
                    active_at: ts,
                    fired_at: None,
                    resolved_at: None,
                    last_sent_at: None,
                    valid_until: None,
                    keep_firing_since: None,
                },
            );
        }

        for (h, a) in &fresh {
            match self.active.get_mut(h) {
                Some(existing) if existing.state != AlertState::Inactive => {
                    existing.value = a.value;
                    existing.annotations = a.annotations.clone();
                }
                _ => {
                    self.active.insert(h.clone(), a.clone());
                }
            }
        }

        let mut out = Vec::new();
        let mut num_active_pending = 0usize;
        let mut delete = Vec::new();
        for (fp, a) in self.active.iter_mut() {
            if !fresh.contains_key(fp) {
                let mut keep_firing = false;
                if a.state == AlertState::Firing && self.keep_firing_for > 0 {
                    let since = *a.keep_firing_since.get_or_insert(ts);
                    keep_firing = ts - since < self.keep_firing_for;
                }
                if a.state == AlertState::Pending
                    || a.resolved_at.is_some_and(|r| ts - r > RESOLVED_RETENTION_MS)
                {
                    delete.push(fp.clone());
                }
                if a.state != AlertState::Inactive && !keep_firing {
                    a.state = AlertState::Inactive;
                    a.resolved_at = Some(ts);
                }
                if !keep_firing {
                    continue;
                }
            } else {
                a.keep_firing_since = None;
            }
            num_active_pending += 1;
            if a.state == AlertState::Pending && ts - a.active_at >= self.hold_duration {
                a.state = AlertState::Firing;
                a.fired_at = Some(ts);
            }
            if a.state == AlertState::Firing && ts - a.active_at < self.hold_duration {
                a.state = AlertState::Pending;
                a.fired_at = None;
                a.last_sent_at = None;
                a.keep_firing_since = None;
            }
            if self.restored {
                let t = ts - query_offset;
                out.push(Sample {
                    labels: alert_series(&self.labels, &a.labels, ALERTS_METRIC, &self.name, Some(a.state)),
                    t,
                    f: 1.0,
                    h: None,
                });
                out.push(Sample {
                    labels: alert_series(&self.labels, &a.labels, ALERTS_FOR_STATE_METRIC, &self.name, None),
                    t,
                    f: a.active_at.div_euclid(1000) as f64,
                    h: None,
                });
            }
        }
        for fp in delete {
            self.active.remove(&fp);
        }
        if limit > 0 && num_active_pending > limit {
            self.active.clear();
            return Err(RuleError::AlertLimit { limit, got: num_active_pending });
        }
        Ok(out)
    }

    /// Marks the alerts that need sending at `ts` as sent and returns copies of them
    /// (Prometheus's `sendAlerts`): `valid_until = ts + 4 * max(interval, resend_delay)`.
    pub fn alerts_to_send(&mut self, ts: i64, resend_delay: i64, interval: i64) -> Vec<Alert> {
        let mut out = Vec::new();
        for a in self.active.values_mut() {
            if a.needs_sending(ts, resend_delay) {
                a.last_sent_at = Some(ts);
                a.valid_until = Some(ts + 4 * interval.max(resend_delay));
                out.push(a.clone());
            }
        }
        out
    }

    /// The matchers-as-labels selecting this rule's `ALERTS_FOR_STATE` series: the rule labels
    /// without templates, `__name__` and `alertname`.
    pub fn for_state_selector(&self) -> Vec<(String, String)> {
        let mut sel: Vec<(String, String)> = self
            .labels
            .iter()
            .filter(|(k, v)| !v.contains("{{") && !v.is_empty() && k.as_str() != "alertname")
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        sel.push((METRIC_NAME.to_string(), ALERTS_FOR_STATE_METRIC.to_string()));
        sel.push(("alertname".to_string(), self.name.clone()));
        sel
    }
}

/// `ALERTS`/`ALERTS_FOR_STATE` labels: rule labels overridden by the alert labels, then the name,
/// `alertname` and (for `ALERTS`) `alertstate`.
fn alert_series(
    rule_labels: &BTreeMap<String, String>,
    alert_labels: &Labels,
    metric: &str,
    alertname: &str,
    state: Option<AlertState>,
) -> Labels {
    let mut lb = LabelsBuilder::new();
    for (k, v) in rule_labels {
        lb.set_mut(k.as_str(), v.as_str());
    }
    for l in alert_labels {
        lb.set_mut(l.name.clone(), l.value.clone());
    }
    lb.set_mut(METRIC_NAME, metric);
    lb.set_mut("alertname", alertname);
    if let Some(s) = state {
        lb.set_mut("alertstate", s.as_str());
    }
    lb.labels()
}
