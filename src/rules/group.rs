//! A rule group: rules evaluated in order at the group's evaluation slots, their results appended
//! to the store, stale markers for series that disappear, and per-rule health.
//!
//! Rules are evaluated through a [`QueryFunc`] (upstream's `rules.QueryFunc`): an instant query of
//! an expression text at a millisecond timestamp, answered by the engine (or any other source).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::model::{FloatHistogram, Labels, MatchOp, Matcher, STALE_NAN, Sample, Value, is_stale_nan};
use crate::notifier;
use crate::rules::alerting::{Alert, AlertState, AlertingRule, AlertingRuleSpec};
use crate::rules::expansion::query_escape;
use crate::rules::recording::RecordingRule;
use crate::storage::{AppendError, MemStorage, SelectHints, Storage};

/// A query failure, as the query function reports it (its `Display` is the message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct QueryError(pub String);

/// An instant query of expression text at a Unix millisecond timestamp, returning an instant
/// vector (a scalar result becomes one sample without labels; see [`vector_from_value`]).
pub trait QueryFunc: Send + Sync {
    /// Runs `expr` at `t`.
    fn query(&self, expr: &str, t: i64) -> Result<Vec<Sample>, QueryError>;
}

impl<F> QueryFunc for F
where
    F: Fn(&str, i64) -> Result<Vec<Sample>, QueryError> + Send + Sync,
{
    fn query(&self, expr: &str, t: i64) -> Result<Vec<Sample>, QueryError> {
        self(expr, t)
    }
}

/// Answers rule queries with the [`Engine`](crate::engine::Engine) over a storage (upstream's
/// `EngineQueryFunc`).
pub struct EngineQueryFunc<S: Storage> {
    /// The engine.
    pub engine: Arc<crate::engine::Engine>,
    /// The storage it reads (usually the one rule results are appended to).
    pub storage: Arc<S>,
}

impl<S: Storage> std::fmt::Debug for EngineQueryFunc<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineQueryFunc").field("engine", &self.engine).finish_non_exhaustive()
    }
}

impl<S: Storage> QueryFunc for EngineQueryFunc<S> {
    fn query(&self, expr: &str, t: i64) -> Result<Vec<Sample>, QueryError> {
        let res = self
            .engine
            .instant_query(self.storage.as_ref(), expr, t)
            .map_err(|e| QueryError(e.to_string()))?;
        vector_from_value(res.value)
    }
}

/// The expression as Prometheus prints it (`String()` of the parsed tree), which is what rules
/// query, show in the API and link to; the text itself when it does not parse.
pub fn canonical_expr(expr: &str) -> String {
    crate::parser::parse_with(expr, &crate::parser::ParseOptions::all_features())
        .map_or_else(|_| expr.to_string(), |e| e.to_string())
}

/// Upstream's `EngineQueryFunc` conversion of a query result: vectors as they are, a scalar as one
/// sample with no labels, anything else the error `rule result is not a vector or scalar`.
pub fn vector_from_value(v: Value) -> Result<Vec<Sample>, QueryError> {
    match v {
        Value::Vector(v) => Ok(v),
        Value::Scalar { t, v } => Ok(vec![Sample { labels: Labels::empty(), t, f: v, h: None }]),
        _ => Err(QueryError("rule result is not a vector or scalar".into())),
    }
}

/// Why a rule evaluation failed. The texts are Prometheus's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// The query failed.
    #[error(transparent)]
    Query(QueryError),
    /// A recording rule produced two series with the same labels.
    #[error("vector contains metrics with the same labelset after applying rule labels")]
    DuplicateRecordingLabelSet,
    /// An alerting rule produced two alerts with the same labels.
    #[error("vector contains metrics with the same labelset after applying alert labels")]
    DuplicateAlertLabelSet,
    /// A recording rule exceeded the group's `limit`.
    #[error("exceeded limit of {limit} with {got} series")]
    SeriesLimit {
        /// The limit.
        limit: usize,
        /// Series produced.
        got: usize,
    },
    /// An alerting rule exceeded the group's `limit`.
    #[error("exceeded limit of {limit} with {got} alerts")]
    AlertLimit {
        /// The limit.
        limit: usize,
        /// Pending and firing alerts.
        got: usize,
    },
}

/// Where rule results go: appends with Prometheus's rejection rules, and reads for restoring
/// `for` state.
pub trait RuleStore: Send + Sync {
    /// Appends a float sample.
    fn append(&self, labels: &Labels, t: i64, v: f64) -> Result<(), AppendError>;
    /// Appends a native histogram sample.
    fn append_histogram(&self, labels: &Labels, t: i64, h: Arc<FloatHistogram>) -> Result<(), AppendError>;
    /// For every series matching all `equal` label pairs, its last float sample in `[mint, maxt]`.
    fn last_samples(&self, equal: &[(String, String)], mint: i64, maxt: i64) -> Vec<(Labels, i64, f64)>;
}

impl RuleStore for MemStorage {
    fn append(&self, labels: &Labels, t: i64, v: f64) -> Result<(), AppendError> {
        MemStorage::append(self, labels, t, v)
    }

    fn append_histogram(&self, labels: &Labels, t: i64, h: Arc<FloatHistogram>) -> Result<(), AppendError> {
        MemStorage::append_histogram(self, labels, t, h)
    }

    fn last_samples(&self, equal: &[(String, String)], mint: i64, maxt: i64) -> Vec<(Labels, i64, f64)> {
        let matchers: Vec<Matcher> = equal
            .iter()
            .filter_map(|(k, v)| Matcher::new(MatchOp::Equal, k.as_str(), v.as_str()).ok())
            .collect();
        let Ok(series) = self.select(&matchers, &SelectHints::range(mint, maxt)) else { return Vec::new() };
        series
            .into_iter()
            .filter_map(|s| {
                let last = *s.floats.last()?;
                Some((s.labels, last.t, last.f))
            })
            .collect()
    }
}

/// Health of a rule after its last evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RuleHealth {
    /// Not evaluated yet.
    #[default]
    Unknown,
    /// The last evaluation succeeded.
    Good,
    /// The last evaluation failed.
    Bad,
}

impl RuleHealth {
    /// Prometheus's name: `unknown`, `ok`, `err`.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleHealth::Unknown => "unknown",
            RuleHealth::Good => "ok",
            RuleHealth::Bad => "err",
        }
    }
}

/// A recording or an alerting rule.
#[derive(Debug, Clone)]
pub enum RuleKind {
    /// A recording rule.
    Recording(RecordingRule),
    /// An alerting rule with its alerts.
    Alerting(AlertingRule),
}

/// A rule in a group, with the outcome of its last evaluation.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The rule itself.
    pub kind: RuleKind,
    health: RuleHealth,
    last_error: Option<String>,
    eval_duration: Duration,
    eval_timestamp: Option<i64>,
    last_evaluation: Option<i64>,
}

impl Rule {
    fn new(kind: RuleKind) -> Rule {
        Rule {
            kind,
            health: RuleHealth::Unknown,
            last_error: None,
            eval_duration: Duration::ZERO,
            eval_timestamp: None,
            last_evaluation: None,
        }
    }

    /// The recorded metric or alert name.
    pub fn name(&self) -> &str {
        match &self.kind {
            RuleKind::Recording(r) => r.name(),
            RuleKind::Alerting(a) => a.name(),
        }
    }

    /// The expression.
    pub fn expr(&self) -> &str {
        match &self.kind {
            RuleKind::Recording(r) => r.expr(),
            RuleKind::Alerting(a) => a.expr(),
        }
    }

    /// The rule labels (group labels merged in).
    pub fn labels(&self) -> &BTreeMap<String, String> {
        match &self.kind {
            RuleKind::Recording(r) => r.labels(),
            RuleKind::Alerting(a) => a.labels(),
        }
    }

    /// Health after the last evaluation.
    pub fn health(&self) -> RuleHealth {
        self.health
    }

    /// The last evaluation's error, if it failed.
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    /// How long the last evaluation took.
    pub fn eval_duration(&self) -> Duration {
        self.eval_duration
    }

    /// The slot timestamp (milliseconds) of the last evaluation.
    pub fn eval_timestamp(&self) -> Option<i64> {
        self.eval_timestamp
    }

    /// Wall-clock start (Unix milliseconds) of the last evaluation.
    pub fn last_evaluation(&self) -> Option<i64> {
        self.last_evaluation
    }

    /// The alerting rule, if this is one.
    pub fn as_alerting(&self) -> Option<&AlertingRule> {
        match &self.kind {
            RuleKind::Alerting(a) => Some(a),
            RuleKind::Recording(_) => None,
        }
    }

    /// The rule's state: the highest alert state for alerting rules; `None` for recording rules.
    pub fn alert_state(&self) -> Option<AlertState> {
        self.as_alerting().map(|a| a.state(self.eval_timestamp.is_some()))
    }

    /// Name plus labels, the key rules are matched by across reloads.
    fn identity(&self) -> String {
        let labels: Vec<String> = self.labels().iter().map(|(k, v)| format!("{k}={v:?}")).collect();
        format!("{}{{{}}}", self.name(), labels.join(", "))
    }
}

/// The definition of one rule, for [`GroupSpec`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleSpec {
    /// `record: name`.
    Recording {
        /// The recorded metric name.
        name: String,
        /// The expression.
        expr: String,
        /// Rule labels.
        labels: BTreeMap<String, String>,
    },
    /// `alert: name`.
    Alerting(AlertingRuleSpec),
}

/// The definition of a rule group: what a rule file says about it, with the defaults applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupSpec {
    /// Group name.
    pub name: String,
    /// The file it came from, as loaded (part of its identity and of its slot offset).
    pub file: String,
    /// Evaluation interval in milliseconds (the group's `interval`, or the global one).
    pub interval: i64,
    /// The group's `query_offset` in milliseconds, if set.
    pub query_offset: Option<i64>,
    /// The group's `limit` (0 = none).
    pub limit: usize,
    /// The group's `labels`, merged under every rule's labels.
    pub labels: BTreeMap<String, String>,
    /// The rules, in order.
    pub rules: Vec<RuleSpec>,
}

impl GroupSpec {
    /// The manager's key for the group: `file;name`.
    pub fn key(&self) -> String {
        group_key(&self.file, &self.name)
    }
}

/// The manager's key for a group: `file;name`.
pub fn group_key(file: &str, name: &str) -> String {
    format!("{file};{name}")
}

/// Settings every group of a manager shares.
#[derive(Clone)]
pub struct EvalEnv {
    /// Answers the rule expressions.
    pub query: Arc<dyn QueryFunc>,
    /// Receives the results.
    pub store: Arc<dyn RuleStore>,
    /// Receives the alerts to send: the rule's expression and the alerts.
    pub notify: Option<NotifyFn>,
    /// `--rules.alert.resend-delay` in milliseconds (default 1m).
    pub resend_delay: i64,
    /// The global `rule_query_offset` in milliseconds (default 0).
    pub default_query_offset: i64,
}

impl std::fmt::Debug for EvalEnv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EvalEnv")
            .field("resend_delay", &self.resend_delay)
            .field("default_query_offset", &self.default_query_offset)
            .finish_non_exhaustive()
    }
}

/// Receives the alerts an alerting rule wants sent: the rule's expression and the alerts.
pub type NotifyFn = Arc<dyn Fn(&str, Vec<Alert>) + Send + Sync>;

/// A [`NotifyFn`] that converts alerts as Prometheus's `SendAlerts` does and hands them to
/// `notifier`: `startsAt` = fired at, `endsAt` = resolved at or valid until, and `generatorURL` =
/// `external_url` + `/graph?g0.expr=<expr>&g0.tab=1`.
pub fn send_to_notifier(notifier: Arc<notifier::Notifier>, external_url: String) -> NotifyFn {
    Arc::new(move |expr: &str, alerts: Vec<Alert>| {
        if alerts.is_empty() {
            return;
        }
        let out = alerts.into_iter().map(|a| to_notifier_alert(&a, expr, &external_url)).collect();
        notifier.send(out);
    })
}

/// One rule alert as the notifier sends it.
pub fn to_notifier_alert(a: &Alert, expr: &str, external_url: &str) -> notifier::Alert {
    notifier::Alert {
        labels: a.labels.iter().map(|l| (l.name.to_string(), l.value.to_string())).collect(),
        annotations: a.annotations.clone(),
        starts_at: a.fired_at.unwrap_or(0),
        ends_at: a.resolved_at.or(a.valid_until).unwrap_or(0),
        generator_url: format!("{external_url}/graph?g0.expr={}&g0.tab=1", query_escape(expr)),
    }
}

/// Counters of a group (Prometheus's `prometheus_rule_*` metrics for it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroupStats {
    /// Rule evaluations.
    pub evaluations: u64,
    /// Failed rule evaluations.
    pub evaluation_failures: u64,
    /// Scheduled iterations, executed or missed.
    pub iterations: u64,
    /// Iterations missed because an evaluation was slow.
    pub iterations_missed: u64,
    /// Samples produced by the last evaluation.
    pub last_samples: u64,
}

/// A rule group with its evaluation state.
#[derive(Debug, Clone)]
pub struct Group {
    spec: GroupSpec,
    rules: Vec<Rule>,
    series_in_previous_eval: Vec<HashSet<Labels>>,
    stale_series: Vec<Labels>,
    last_eval_timestamp: Option<i64>,
    last_evaluation_wall: Option<i64>,
    evaluation_time: Duration,
    stats: GroupStats,
}

impl Group {
    /// A group from its definition. `external_labels`/`external_url` are what alert templates see;
    /// `restored` is passed to every alerting rule (see [`AlertingRule::new`]).
    pub fn new(
        spec: GroupSpec,
        external_labels: &BTreeMap<String, String>,
        external_url: &str,
        restored: bool,
    ) -> Group {
        let rules: Vec<Rule> =
            spec.rules
                .iter()
                .map(|r| {
                    let merged = |labels: &BTreeMap<String, String>| {
                        let mut m = spec.labels.clone();
                        m.extend(labels.iter().map(|(k, v)| (k.clone(), v.clone())));
                        m
                    };
                    Rule::new(match r {
                        RuleSpec::Recording { name, expr, labels } => RuleKind::Recording(
                            RecordingRule::new(name.clone(), canonical_expr(expr), merged(labels)),
                        ),
                        RuleSpec::Alerting(a) => {
                            let mut a = a.clone();
                            a.labels = merged(&a.labels);
                            a.expr = canonical_expr(&a.expr);
                            RuleKind::Alerting(AlertingRule::new(
                                a,
                                external_labels.clone(),
                                external_url.to_string(),
                                restored,
                            ))
                        }
                    })
                })
                .collect();
        let n = rules.len();
        Group {
            spec,
            rules,
            series_in_previous_eval: vec![HashSet::new(); n],
            stale_series: Vec::new(),
            last_eval_timestamp: None,
            last_evaluation_wall: None,
            evaluation_time: Duration::ZERO,
            stats: GroupStats::default(),
        }
    }

    /// The definition.
    pub fn spec(&self) -> &GroupSpec {
        &self.spec
    }

    /// Group name.
    pub fn name(&self) -> &str {
        &self.spec.name
    }

    /// File the group came from.
    pub fn file(&self) -> &str {
        &self.spec.file
    }

    /// Evaluation interval in milliseconds.
    pub fn interval(&self) -> i64 {
        self.spec.interval
    }

    /// The query offset in effect: the group's, else `default`.
    pub fn query_offset(&self, default: i64) -> i64 {
        self.spec.query_offset.unwrap_or(default)
    }

    /// The rules, in order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Mutable access to the rules (for restoring state or marking alerting rules restored).
    pub fn rules_mut(&mut self) -> &mut [Rule] {
        &mut self.rules
    }

    /// Counters.
    pub fn stats(&self) -> GroupStats {
        self.stats
    }

    /// The slot timestamp (milliseconds) of the last evaluation.
    pub fn last_eval_timestamp(&self) -> Option<i64> {
        self.last_eval_timestamp
    }

    /// Wall-clock start (milliseconds) of the last evaluation.
    pub fn last_evaluation(&self) -> Option<i64> {
        self.last_evaluation_wall
    }

    /// How long the last evaluation took.
    pub fn evaluation_time(&self) -> Duration {
        self.evaluation_time
    }

    pub(crate) fn add_iterations(&mut self, scheduled: u64, missed: u64) {
        self.stats.iterations += scheduled;
        self.stats.iterations_missed += missed;
    }

    /// The group's slot offset within its interval, in nanoseconds: Prometheus hashes the labels
    /// `{file, name}` (its default `stringlabels` encoding, xxHash64) modulo the interval.
    pub fn offset_nanos(&self) -> i64 {
        let interval_ns = (self.spec.interval.max(1) as u64).saturating_mul(1_000_000);
        (slot_hash(&self.spec.file, &self.spec.name) % interval_ns) as i64
    }

    /// The evaluation slot at or before `now_ns` (Unix nanoseconds), in nanoseconds: Prometheus's
    /// `EvalTimestamp`.
    pub fn eval_timestamp_nanos(&self, now_ns: i64) -> i64 {
        let interval_ns = self.spec.interval.max(1).saturating_mul(1_000_000);
        let offset = self.offset_nanos();
        let adj = now_ns - offset;
        adj - adj.rem_euclid(interval_ns) + offset
    }

    /// Whether `other` has the same definition (then a reload keeps this group running as is).
    pub fn equals(&self, other: &Group) -> bool {
        self.spec == other.spec
    }

    /// Evaluates every rule in order at the slot timestamp `ts` (milliseconds): results are
    /// appended to the store, series a rule stopped returning get stale markers, alerts that need
    /// sending go to `env.notify`. A failing rule records its error and does not stop the group.
    pub fn eval(&mut self, ts: i64, env: &EvalEnv) {
        let wall_start = Instant::now();
        self.last_evaluation_wall = Some(now_millis());
        let query_offset = self.query_offset(env.default_query_offset);
        let limit = self.spec.limit;
        let interval = self.spec.interval;
        let mut samples_total = 0u64;
        for i in 0..self.rules.len() {
            let started = Instant::now();
            self.stats.evaluations += 1;
            let rule = &mut self.rules[i];
            rule.last_evaluation = Some(now_millis());
            let result = match &mut rule.kind {
                RuleKind::Recording(r) => r.eval(ts, query_offset, env.query.as_ref(), limit),
                RuleKind::Alerting(a) => a.eval(ts, query_offset, &env.query, limit),
            };
            rule.eval_timestamp = Some(ts);
            let vector = match result {
                Ok(v) => v,
                Err(e) => {
                    rule.health = RuleHealth::Bad;
                    rule.last_error = Some(e.to_string());
                    rule.eval_duration = started.elapsed();
                    self.stats.evaluation_failures += 1;
                    continue;
                }
            };
            rule.health = RuleHealth::Good;
            rule.last_error = None;
            samples_total += vector.len() as u64;
            if let RuleKind::Alerting(a) = &mut rule.kind {
                let alerts = a.alerts_to_send(ts, env.resend_delay, interval);
                if let Some(notify) = &env.notify
                    && !alerts.is_empty()
                {
                    notify(a.expr(), alerts);
                }
            }
            let mut returned: HashSet<Labels> = HashSet::with_capacity(self.series_in_previous_eval[i].len());
            for s in vector {
                let res = match &s.h {
                    Some(h) => env.store.append_histogram(&s.labels, s.t, Arc::clone(h)),
                    None => env.store.append(&s.labels, s.t, s.f),
                };
                match res {
                    Ok(()) => {
                        returned.insert(s.labels);
                    }
                    Err(e) => {
                        rule.health = RuleHealth::Bad;
                        rule.last_error = Some(e.to_string());
                    }
                }
            }
            let mut gone: Vec<&Labels> = self.series_in_previous_eval[i].difference(&returned).collect();
            gone.sort();
            for gone in gone {
                // Out-of-order, too-old and duplicate rejections are expected when another rule
                // writes the series; they are ignored as upstream ignores them.
                let _ = env.store.append(gone, ts - query_offset, STALE_NAN);
            }
            self.series_in_previous_eval[i] = returned;
            rule.eval_duration = started.elapsed();
        }
        self.stats.last_samples = samples_total;
        self.cleanup_stale_series(ts - query_offset, env);
        self.last_eval_timestamp = Some(ts);
        self.evaluation_time = wall_start.elapsed();
    }

    fn cleanup_stale_series(&mut self, t: i64, env: &EvalEnv) {
        for s in self.stale_series.drain(..) {
            let _ = env.store.append(&s, t, STALE_NAN);
        }
    }

    /// Writes stale markers at `t` for every series the group's rules produced (a removed group,
    /// Prometheus's `markStale`).
    pub fn mark_all_stale(&mut self, t: i64, env: &EvalEnv) {
        for set in &mut self.series_in_previous_eval {
            let mut series: Vec<Labels> = set.drain().collect();
            series.sort();
            self.stale_series.extend(series);
        }
        self.cleanup_stale_series(t, env);
    }

    /// What a reload makes of `old` when its definition is now `new`'s: `old` itself when nothing
    /// changed (it keeps running untouched), otherwise `new` with `old`'s state copied over.
    pub fn replacing(new: Group, old: Group) -> Group {
        if old.equals(&new) {
            return old;
        }
        let mut new = new;
        new.copy_state(&old);
        new
    }

    /// Takes over the evaluation state of `from` (the group this one replaces on reload): rules
    /// matched by name and labels (the n-th duplicate to the n-th) keep their previous series and
    /// alerts; series of unmatched old rules get stale markers at the next evaluation.
    pub fn copy_state(&mut self, from: &Group) {
        self.evaluation_time = from.evaluation_time;
        self.last_evaluation_wall = from.last_evaluation_wall;
        self.last_eval_timestamp = from.last_eval_timestamp;
        let mut by_identity: BTreeMap<String, std::collections::VecDeque<usize>> = BTreeMap::new();
        for (fi, r) in from.rules.iter().enumerate() {
            by_identity.entry(r.identity()).or_default().push_back(fi);
        }
        for i in 0..self.rules.len() {
            let Some(fi) = by_identity.get_mut(&self.rules[i].identity()).and_then(|q| q.pop_front()) else {
                continue;
            };
            self.series_in_previous_eval[i] = from.series_in_previous_eval[fi].clone();
            if let (RuleKind::Alerting(new), RuleKind::Alerting(old)) =
                (&mut self.rules[i].kind, &from.rules[fi].kind)
            {
                let active = new.active_mut();
                for a in old.current_alerts() {
                    active.insert(a.labels.clone(), a.clone());
                }
            }
        }
        self.stale_series = from.stale_series.clone();
        for q in by_identity.values() {
            for &fi in q {
                let mut series: Vec<Labels> = from.series_in_previous_eval[fi].iter().cloned().collect();
                series.sort();
                self.stale_series.extend(series);
            }
        }
    }

    /// Restores the `for` state of alerting rules from `ALERTS_FOR_STATE` in `store` (Prometheus's
    /// `RestoreForState`), at wall-clock time `now` (milliseconds), looking back `outage_tolerance`;
    /// marks every alerting rule restored.
    pub fn restore_for_state(
        &mut self,
        now: i64,
        store: &dyn RuleStore,
        outage_tolerance: i64,
        grace_period: i64,
    ) {
        let mint = now - outage_tolerance;
        for rule in &mut self.rules {
            let RuleKind::Alerting(ar) = &mut rule.kind else { continue };
            let hold = ar.hold_duration();
            if hold < grace_period {
                ar.set_restored(true);
                continue;
            }
            let series = store.last_samples(&ar.for_state_selector(), mint, now);
            let by_labels: BTreeMap<Labels, (i64, f64)> =
                series.into_iter().map(|(l, t, v)| (l.without_metric_name(), (t, v))).collect();
            for a in ar.active_mut().values_mut() {
                let Some(&(t, v)) = by_labels.get(&a.labels) else { continue };
                if is_stale_nan(v) {
                    continue;
                }
                let down_at = t.div_euclid(1000) * 1000;
                let mut restored_active_at = (v as i64) * 1000;
                let remaining = hold - (down_at - restored_active_at);
                if remaining <= 0 {
                    // It was firing; the next evaluation sets it firing again if it still is.
                } else if remaining < grace_period {
                    restored_active_at = now + grace_period - hold;
                } else {
                    restored_active_at += now - down_at;
                }
                a.active_at = restored_active_at;
            }
            ar.set_restored(true);
        }
    }
}

/// Prometheus's group slot hash: xxHash64 of `{file="<file>", name="<name>"}` in the
/// `stringlabels` encoding (each string preceded by its length: one byte below 255, else 0xFF and
/// three bytes little-endian).
pub fn slot_hash(file: &str, name: &str) -> u64 {
    let mut buf = Vec::with_capacity(file.len() + name.len() + 16);
    for s in ["file", file, "name", name] {
        let n = s.len();
        if n < 255 {
            buf.push(n as u8);
        } else {
            buf.push(0xFF);
            buf.extend_from_slice(&(n as u32).to_le_bytes()[..3]);
        }
        buf.extend_from_slice(s.as_bytes());
    }
    xxhash_rust::xxh64::xxh64(&buf, 0)
}

pub(crate) fn now_millis() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

pub(crate) fn now_nanos() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_offsets_match_upstream_vectors() {
        assert_eq!(slot_hash("rules.yml", "example"), 0x25b5f761f8444e2d);
        let spec = |file: &str, name: &str, interval: i64| GroupSpec {
            name: name.into(),
            file: file.into(),
            interval,
            query_offset: None,
            limit: 0,
            labels: BTreeMap::new(),
            rules: vec![],
        };
        let g = Group::new(spec("rules.yml", "example", 60_000), &BTreeMap::new(), "", true);
        assert_eq!(g.offset_nanos(), 50_337_076_781);
        assert_eq!(g.eval_timestamp_nanos(1_700_000_000_000_000_000), 1_699_999_970_337_076_781);
        let g = Group::new(spec("/etc/prometheus/rules.yml", "node", 30_000), &BTreeMap::new(), "", true);
        assert_eq!(g.offset_nanos(), 19_374_647_345);
    }
}
