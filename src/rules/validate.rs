//! From rule groups as written to checked [`RuleGroup`]s: every check Prometheus's rule-file loader
//! (`rulefmt`) makes, with its messages.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_saphyr::Spanned;

use super::duration::{go_quote, parse_duration};
use super::error::{ErrorDetail, RuleError};
use super::raw::{Dialect, Issue, Position, RawGroup, RawGroups, RawRule, Scalar, StringMap};
use super::template::check_alert_template;
use super::{LoadOptions, Rule, RuleGroup, RuleKind, expr};

/// Where the groups being checked come from, for error messages and group keys.
pub(crate) struct Origin<'a> {
    /// The file name printed before every error (`None`: standard input).
    pub file: Option<&'a str>,
    /// The file name the groups are keyed by (the rule manager's `file;name`).
    pub group_file: &'a str,
    /// The manifest object, for messages.
    pub object: Option<&'a str>,
    pub dialect: Dialect,
}

impl Origin<'_> {
    fn error(&self, detail: ErrorDetail) -> RuleError {
        let mut e = RuleError::new(self.file, detail);
        e.object = self.object.map(str::to_string);
        e
    }
}

/// Decodes and checks the groups of one document. On failure every error found is returned, in the
/// order promtool reports them.
pub(crate) fn check_groups(
    raw: &RawGroups,
    origin: &Origin<'_>,
    options: &LoadOptions,
) -> Result<Vec<RuleGroup>, Vec<RuleError>> {
    check_group_list(&raw.groups, &raw.issues, origin, options)
}

/// [`check_groups`] over a bare list of groups (a manifest's `spec.groups`), with the issues found
/// outside the groups.
pub(crate) fn check_group_list(
    groups: &[Spanned<RawGroup>],
    outer_issues: &[Issue],
    origin: &Origin<'_>,
    options: &LoadOptions,
) -> Result<Vec<RuleGroup>, Vec<RuleError>> {
    let decoded = decode(groups, outer_issues, origin, options)?;
    let mut errors = Vec::new();
    let mut seen_names: Vec<&str> = Vec::new();
    for (raw, group) in groups.iter().zip(&decoded) {
        let at = Position::of(&raw.referenced);
        if group.name.is_empty() {
            errors.push(origin.error(ErrorDetail::Group {
                at: Some(at),
                message: "Groupname must not be empty".to_string(),
            }));
        }
        if seen_names.contains(&group.name.as_str()) {
            errors.push(origin.error(ErrorDetail::Group {
                at: Some(at),
                message: format!("groupname: \"{}\" is repeated in the same file", group.name),
            }));
        }
        for (name, _) in &group.labels {
            if !valid_label_name(name, options) || name == "__name__" {
                errors.push(
                    origin.error(ErrorDetail::Group {
                        at: None,
                        message: format!("invalid label name: {name}"),
                    }),
                );
            }
        }
        seen_names.push(&group.name);
        for (index, (raw_rule, rule)) in raw.value.rules.iter().zip(&group.rules).enumerate() {
            for (at, message) in check_rule(&raw_rule.value, rule, options) {
                errors.push(origin.error(ErrorDetail::Rule {
                    group: group.name.clone(),
                    index: index + 1,
                    name: rule.name.clone(),
                    at,
                    message,
                }));
            }
        }
    }
    if errors.is_empty() {
        Ok(decoded.into_iter().map(DecodedGroup::into_group).collect())
    } else {
        Err(errors)
    }
}

/// A group with its values decoded but not yet checked.
struct DecodedGroup {
    name: String,
    file: String,
    at: Position,
    interval: Option<Duration>,
    query_offset: Option<Duration>,
    limit: i64,
    labels: Vec<(String, String)>,
    rules: Vec<DecodedRule>,
}

struct DecodedRule {
    name: String,
    record: Option<String>,
    alert: Option<String>,
    expr: String,
    hold: Duration,
    keep_firing_for: Duration,
    labels: Vec<(String, String)>,
    annotations: Vec<(String, String)>,
    at: Position,
}

impl DecodedGroup {
    fn into_group(self) -> RuleGroup {
        RuleGroup {
            name: self.name,
            file: self.file,
            position: self.at,
            interval: self.interval,
            query_offset: self.query_offset,
            limit: usize::try_from(self.limit).unwrap_or(0),
            labels: self.labels.into_iter().collect(),
            rules: self.rules.into_iter().map(DecodedRule::into_rule).collect(),
        }
    }
}

impl DecodedRule {
    fn into_rule(self) -> Rule {
        let kind = if self.alert.is_some() {
            RuleKind::Alerting {
                hold: self.hold,
                keep_firing_for: self.keep_firing_for,
                annotations: self.annotations.into_iter().collect(),
            }
        } else {
            RuleKind::Recording
        };
        Rule {
            name: self.name,
            kind,
            expr: self.expr,
            labels: self.labels.into_iter().collect::<BTreeMap<_, _>>(),
            position: self.at,
        }
    }
}

fn text(scalar: &Option<Scalar>) -> String {
    scalar.as_ref().and_then(|s| s.value.clone()).unwrap_or_default()
}

fn position(scalar: &Option<Scalar>) -> Position {
    scalar.as_ref().map(|s| Position::of(&s.referenced)).unwrap_or_default()
}

fn pairs(map: &Option<StringMap>) -> Vec<(String, String)> {
    map.as_ref()
        .map(|m| {
            m.entries.iter().map(|(k, v)| (k.value.clone(), v.value.clone().unwrap_or_default())).collect()
        })
        .unwrap_or_default()
}

/// Turns the raw document into values, or returns the decoding errors promtool reports before any
/// check: the first bad duration alone (Go's YAML decoder stops there), else every unmarshal error.
fn decode(
    groups: &[Spanned<RawGroup>],
    outer_issues: &[Issue],
    origin: &Origin<'_>,
    options: &LoadOptions,
) -> Result<Vec<DecodedGroup>, Vec<RuleError>> {
    let mut issues: Vec<(Position, String)> = Vec::new();
    let mut keep = |issue: &Issue| match issue {
        Issue::UnknownField { .. } if options.ignore_unknown_fields => {}
        _ => issues.push((issue.position(), issue.message())),
    };
    outer_issues.iter().for_each(&mut keep);
    for g in groups {
        g.value.all_issues().iter().for_each(&mut keep);
    }
    let mut durations: Vec<(Position, String)> = Vec::new();
    let mut duration = |scalar: &Option<Scalar>| -> Option<Duration> {
        let s = scalar.as_ref()?;
        let text = s.value.as_deref()?;
        if text.is_empty() && origin.dialect == Dialect::Manifest {
            return None;
        }
        match parse_duration(text) {
            Ok(d) => Some(d),
            Err(e) => {
                durations.push((Position::of(&s.referenced), e));
                None
            }
        }
    };
    let mut out = Vec::with_capacity(groups.len());
    for g in groups {
        let raw = &g.value;
        let limit = match &raw.limit {
            Some(Spanned { value: Some(t), referenced, .. }) => match parse_go_int(t) {
                Some(v) => v,
                None => {
                    let at = Position::of(referenced);
                    let tag = if t.parse::<f64>().is_ok() { "!!float" } else { "!!str" };
                    issues.push((at, format!("line {}: cannot unmarshal {tag} `{t}` into int", at.line)));
                    0
                }
            },
            _ => 0,
        };
        let interval = duration(&raw.interval);
        let query_offset = duration(&raw.query_offset);
        let mut rules = Vec::with_capacity(raw.rules.len());
        for r in &raw.rules {
            let rr = &r.value;
            let record = rr.record.as_ref().and_then(|s| s.value.clone()).filter(|s| !s.is_empty());
            let alert = rr.alert.as_ref().and_then(|s| s.value.clone()).filter(|s| !s.is_empty());
            rules.push(DecodedRule {
                name: alert.clone().or_else(|| record.clone()).unwrap_or_default(),
                record,
                alert,
                expr: text(&rr.expr),
                hold: duration(&rr.for_).unwrap_or_default(),
                keep_firing_for: duration(&rr.keep_firing_for).unwrap_or_default(),
                labels: pairs(&rr.labels),
                annotations: pairs(&rr.annotations),
                at: Position::of(&r.referenced),
            });
        }
        out.push(DecodedGroup {
            name: text(&raw.name),
            file: origin.group_file.to_string(),
            at: Position::of(&g.referenced),
            interval: interval.filter(|d| !d.is_zero()),
            query_offset,
            limit,
            labels: pairs(&raw.labels),
            rules,
        });
    }
    durations.sort();
    if let Some((_, message)) = durations.into_iter().next() {
        return Err(vec![origin.error(ErrorDetail::Yaml(message))]);
    }
    if !issues.is_empty() {
        issues.sort();
        let mut message = "yaml: unmarshal errors:".to_string();
        for (_, line) in issues {
            message.push_str("\n  ");
            message.push_str(&line);
        }
        return Err(vec![origin.error(ErrorDetail::Yaml(message))]);
    }
    Ok(out)
}

/// Parses an integer the way YAML 1.1 integers are written (`10`, `-3`, `0x1f`, `0o17`, `1_000`).
fn parse_go_int(text: &str) -> Option<i64> {
    let t = text.replace('_', "");
    let (negative, digits) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t.strip_prefix('+').unwrap_or(&t)),
    };
    let value = if let Some(hex) = digits.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()?
    } else if let Some(oct) = digits.strip_prefix("0o") {
        i64::from_str_radix(oct, 8).ok()?
    } else if let Some(bin) = digits.strip_prefix("0b") {
        i64::from_str_radix(bin, 2).ok()?
    } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        digits.parse().ok()?
    } else {
        return None;
    };
    Some(if negative { -value } else { value })
}

/// Whether a label name is acceptable under the configured naming scheme.
fn valid_label_name(name: &str, options: &LoadOptions) -> bool {
    if options.legacy_names {
        let mut chars = name.chars();
        matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    } else {
        !name.is_empty()
    }
}

/// Whether a metric name is acceptable under the configured naming scheme.
fn valid_metric_name(name: &str, options: &LoadOptions) -> bool {
    if options.legacy_names {
        let mut chars = name.chars();
        matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    } else {
        !name.is_empty()
    }
}

/// The checks of one rule, as (positions, message) in promtool's order.
fn check_rule(raw: &RawRule, rule: &DecodedRule, options: &LoadOptions) -> Vec<(Vec<Position>, String)> {
    let mut out = Vec::new();
    let record_at = position(&raw.record);
    let alert_at = position(&raw.alert);
    match (&rule.record, &rule.alert) {
        (Some(_), Some(_)) => {
            out.push((vec![record_at, alert_at], "only one of 'record' and 'alert' must be set".to_string()))
        }
        (None, None) => {
            out.push((vec![record_at, alert_at], "one of 'record' or 'alert' must be set".to_string()))
        }
        _ => {}
    }
    let expr_at = position(&raw.expr);
    if rule.expr.is_empty() {
        out.push((vec![expr_at], "field 'expr' must be set in rule".to_string()));
    } else if let Err(e) = expr::check(&rule.expr, &options.parse) {
        out.push((vec![expr_at], format!("could not parse expression: {e}")));
    }
    if let Some(record) = &rule.record {
        if !rule.annotations.is_empty() {
            out.push((vec![record_at], "invalid field 'annotations' in recording rule".to_string()));
        }
        if !rule.hold.is_zero() {
            out.push((vec![record_at], "invalid field 'for' in recording rule".to_string()));
        }
        if !rule.keep_firing_for.is_zero() {
            out.push((vec![record_at], "invalid field 'keep_firing_for' in recording rule".to_string()));
        }
        if !valid_metric_name(record, options) {
            out.push((vec![record_at], format!("invalid recording rule name: {record}")));
        }
        if record.contains(['{', '}']) {
            out.push((
                vec![record_at],
                format!("braces present in the recording rule name; should it be in expr?: {record}"),
            ));
        }
    }
    for (name, _) in &rule.labels {
        if !valid_label_name(name, options) || name == "__name__" {
            out.push((Vec::new(), format!("invalid label name: {name}")));
        }
    }
    for (name, _) in &rule.annotations {
        if !valid_label_name(name, options) {
            out.push((Vec::new(), format!("invalid annotation name: {name}")));
        }
    }
    if let Some(alert) = &rule.alert {
        for (name, value) in &rule.labels {
            if let Err(e) = check_alert_template(alert, value) {
                out.push((Vec::new(), format!("label {}: {e}", go_quote(name))));
            }
        }
        for (name, value) in &rule.annotations {
            if let Err(e) = check_alert_template(alert, value) {
                out.push((Vec::new(), format!("annotation {}: {e}", go_quote(name))));
            }
        }
    }
    out
}
