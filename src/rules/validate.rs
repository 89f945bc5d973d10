//! From rule groups as written to checked [`RuleGroup`]s: every check Prometheus's rule-file loader
//! (`rulefmt`) makes, with its messages.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_saphyr::Spanned;

use super::duration::parse_duration;
use super::error::{ErrorDetail, RuleError};
use super::raw::{
    Issue, Node, Position, RawGroup, RawGroupList, RawRule, RuleFileDoc, Scalar, StringMap, Value,
};
use super::template::check_alert_template;
use super::{LoadOptions, Rule, RuleGroup, RuleKind, expr};
use crate::model::go_quote;
use crate::parser::Expr;

/// Where the groups being checked come from, for error messages and group keys.
pub(crate) struct Origin<'a> {
    /// The file name printed before every error (`None`: standard input).
    pub file: Option<&'a str>,
    /// The file name the groups are keyed by (the rule manager's `file;name`).
    pub group_file: &'a str,
    /// The manifest object, for messages.
    pub object: Option<&'a str>,
    /// The format the groups are written in.
    pub dialect: Dialect,
    /// The whole text the positions refer to.
    pub source: &'a str,
}

/// Which format the groups come from: a rule file, or the `spec` of a PrometheusRule manifest (where
/// an empty duration means "unset" and `partial_response_strategy` is allowed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    RuleFile,
    Manifest,
}

impl Origin<'_> {
    fn error(&self, detail: ErrorDetail) -> RuleError {
        let mut e = RuleError::new(self.file, detail);
        e.object = self.object.map(str::to_string);
        e
    }
}

/// Decodes and checks the groups of a rule file document. On failure every error found is
/// returned, in the order promtool reports them.
pub(crate) fn check_groups(
    doc: Option<&RuleFileDoc>,
    origin: &Origin<'_>,
    options: &LoadOptions,
) -> Result<Vec<RuleGroup>, Vec<RuleError>> {
    let Some(doc) = doc else {
        return Ok(Vec::new());
    };
    let mut issues = doc.value.issues.clone();
    if let Some(found) = &doc.value.mismatch {
        issues.push(Issue::Mismatch {
            at: Position::of(&doc.referenced),
            found: found.describe(origin.source, &doc.referenced),
            target: "rulefmt.RuleGroups",
        });
    }
    check_group_list(doc.value.value.groups.as_ref(), issues, origin, options)
}

/// [`check_groups`] over a bare list of groups (a manifest's `spec.groups`), with the issues found
/// outside the groups.
pub(crate) fn check_group_list(
    list: Option<&RawGroupList>,
    outer_issues: Vec<Issue>,
    origin: &Origin<'_>,
    options: &LoadOptions,
) -> Result<Vec<RuleGroup>, Vec<RuleError>> {
    let empty = Vec::new();
    let groups = list.map_or(&empty, |l| &l.value.items);
    let mut issues = outer_issues;
    if let Some(l) = list
        && let Some(found) = &l.value.mismatch
    {
        issues.push(Issue::Mismatch {
            at: Position::of(&l.referenced),
            found: found.describe(origin.source, &l.referenced),
            target: "[]rulefmt.RuleGroup",
        });
    }
    let decoded = decode(groups, issues, origin, options)?;
    let mut errors = Vec::new();
    let mut seen_names: std::collections::HashSet<&str> = std::collections::HashSet::new();
    let mut parsed: Vec<Vec<Option<Expr>>> = Vec::with_capacity(decoded.len());
    for (raw, group) in groups.iter().zip(&decoded) {
        let at = Position::of(&raw.referenced);
        if group.name.is_empty() {
            errors.push(origin.error(ErrorDetail::Group {
                at: Some(at),
                message: "Groupname must not be empty".to_string(),
            }));
        }
        if !seen_names.insert(group.name.as_str()) {
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
        let mut group_parsed = Vec::with_capacity(group.rules.len());
        for (index, (raw_rule, rule)) in group.raw_rules(raw).iter().zip(&group.rules).enumerate() {
            let (problems, expr) = check_rule(raw_rule, rule, options, origin.source);
            group_parsed.push(expr);
            for (at, message) in problems {
                errors.push(origin.error(ErrorDetail::Rule {
                    group: group.name.clone(),
                    index: index + 1,
                    name: rule.name.clone(),
                    at,
                    message,
                }));
            }
        }
        parsed.push(group_parsed);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut out = Vec::with_capacity(decoded.len());
    for (group, exprs) in decoded.into_iter().zip(parsed) {
        out.push(group.into_group(exprs).map_err(|e| vec![origin.error(e)])?);
    }
    Ok(out)
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
    /// The checked group, given each rule's parsed expression.
    fn into_group(self, exprs: Vec<Option<Expr>>) -> Result<RuleGroup, ErrorDetail> {
        let mut rules = Vec::with_capacity(self.rules.len());
        for (index, (rule, expr)) in self.rules.into_iter().zip(exprs).enumerate() {
            // Every rule that passed the checks has a parsed expression.
            let Some(expr) = expr else {
                return Err(ErrorDetail::Rule {
                    group: self.name,
                    index: index + 1,
                    name: rule.name,
                    at: Vec::new(),
                    message: "field 'expr' must be set in rule".to_string(),
                });
            };
            rules.push(rule.into_rule(expr));
        }
        Ok(RuleGroup {
            name: self.name,
            file: self.file,
            position: self.at,
            interval: self.interval,
            query_offset: self.query_offset,
            limit: usize::try_from(self.limit).unwrap_or(0),
            labels: self.labels.into_iter().collect(),
            rules,
        })
    }
}

impl DecodedRule {
    fn into_rule(self, parsed: Expr) -> Rule {
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
            parsed,
            labels: self.labels.into_iter().collect::<BTreeMap<_, _>>(),
            position: self.at,
        }
    }
}

fn position(scalar: &Option<Scalar>, source: &str) -> Position {
    scalar.as_ref().map(|s| Position::of_scalar(&s.referenced, source)).unwrap_or_default()
}

impl DecodedGroup {
    /// The rules as written, matching `self.rules` one to one.
    fn raw_rules<'a>(&self, raw: &'a Spanned<Node<RawGroup>>) -> Vec<&'a RawRule> {
        raw.value
            .value
            .rules
            .as_ref()
            .map(|l| l.value.items.iter().map(|r| &r.value.value).collect())
            .unwrap_or_default()
    }
}

/// Decodes scalars, collecting Go's unmarshal errors.
struct Decoder<'a> {
    source: &'a str,
    dialect: Dialect,
    ignore_unknown_fields: bool,
    issues: Vec<Issue>,
    bad_durations: Vec<(Position, String)>,
}

impl Decoder<'_> {
    fn issues(&mut self, found: &[Issue]) {
        for issue in found {
            if !(self.ignore_unknown_fields && matches!(issue, Issue::UnknownField { .. })) {
                self.issues.push(issue.clone());
            }
        }
    }

    fn mismatch(&mut self, location: &serde_saphyr::Location, found: &Value, target: &'static str) {
        self.issues.push(Issue::Mismatch {
            at: Position::of(location),
            found: found.describe(self.source, location),
            target,
        });
    }

    /// A scalar as text (`None` when absent or null); a collection is an unmarshal error.
    fn text(&mut self, scalar: &Option<Scalar>) -> Option<String> {
        let s = scalar.as_ref()?;
        match s.value.text(self.source, &s.referenced) {
            Ok(t) => t,
            Err(()) => {
                self.mismatch(&s.referenced, &s.value, "string");
                None
            }
        }
    }

    fn duration(&mut self, scalar: &Option<Scalar>) -> Option<Duration> {
        let text = self.text(scalar)?;
        if text.is_empty() && self.dialect == Dialect::Manifest {
            return None;
        }
        match parse_duration(&text) {
            Ok(d) => Some(d),
            Err(e) => {
                let at = scalar.as_ref().map(|s| Position::of(&s.referenced)).unwrap_or_default();
                self.bad_durations.push((at, e));
                None
            }
        }
    }

    fn int(&mut self, scalar: &Option<Scalar>) -> i64 {
        let Some(s) = scalar else {
            return 0;
        };
        match &s.value {
            Value::Null => 0,
            Value::Str(t) | Value::Plain { rendered: t, .. } => match parse_go_int(t) {
                Some(v) => v,
                None => {
                    self.mismatch(&s.referenced, &s.value, "int");
                    0
                }
            },
            Value::Seq | Value::Map => {
                self.mismatch(&s.referenced, &s.value, "int");
                0
            }
        }
    }

    fn map(&mut self, node: &Option<Spanned<Node<StringMap>>>) -> Vec<(String, String)> {
        let Some(node) = node else {
            return Vec::new();
        };
        self.issues(&node.value.issues);
        if let Some(found) = &node.value.mismatch {
            self.mismatch(&node.referenced, found, "map[string]string");
        }
        let mut out = Vec::new();
        for (key, value) in &node.value.value.entries {
            let value = self.text(&Some(value.clone())).unwrap_or_default();
            out.push((key.value.clone(), value));
        }
        out
    }
}

/// Turns the raw document into values, or returns the decoding errors promtool reports before any
/// check: the first bad duration alone (Go's YAML decoder stops there), else every unmarshal error.
fn decode(
    groups: &[Spanned<Node<RawGroup>>],
    outer_issues: Vec<Issue>,
    origin: &Origin<'_>,
    options: &LoadOptions,
) -> Result<Vec<DecodedGroup>, Vec<RuleError>> {
    let mut d = Decoder {
        source: origin.source,
        dialect: origin.dialect,
        ignore_unknown_fields: options.ignore_unknown_fields,
        issues: Vec::new(),
        bad_durations: Vec::new(),
    };
    d.issues(&outer_issues);
    let mut out = Vec::with_capacity(groups.len());
    for g in groups {
        d.issues(&g.value.issues);
        if let Some(found) = &g.value.mismatch {
            d.mismatch(&g.referenced, found, "rulefmt.RuleGroup");
        }
        let raw = &g.value.value;
        if let (Some(at), Dialect::RuleFile) = (raw.partial_response_strategy, origin.dialect) {
            d.issues(&[Issue::UnknownField {
                at,
                field: "partial_response_strategy".to_string(),
                type_name: "rulefmt.RuleGroup",
            }]);
        }
        let name = d.text(&raw.name).unwrap_or_default();
        let interval = d.duration(&raw.interval);
        let query_offset = d.duration(&raw.query_offset);
        let limit = d.int(&raw.limit);
        let labels = d.map(&raw.labels);
        let mut rules = Vec::new();
        if let Some(list) = &raw.rules {
            if let Some(found) = &list.value.mismatch {
                d.mismatch(&list.referenced, found, "[]rulefmt.Rule");
            }
            for r in &list.value.items {
                d.issues(&r.value.issues);
                if let Some(found) = &r.value.mismatch {
                    d.mismatch(&r.referenced, found, "rulefmt.Rule");
                }
                let rr = &r.value.value;
                let record = d.text(&rr.record).filter(|s| !s.is_empty());
                let alert = d.text(&rr.alert).filter(|s| !s.is_empty());
                rules.push(DecodedRule {
                    name: alert.clone().or_else(|| record.clone()).unwrap_or_default(),
                    record,
                    alert,
                    expr: d.text(&rr.expr).unwrap_or_default(),
                    hold: d.duration(&rr.for_).unwrap_or_default(),
                    keep_firing_for: d.duration(&rr.keep_firing_for).unwrap_or_default(),
                    labels: d.map(&rr.labels),
                    annotations: d.map(&rr.annotations),
                    at: Position::of(&r.referenced),
                });
            }
        }
        out.push(DecodedGroup {
            name,
            file: origin.group_file.to_string(),
            at: Position::of(&g.referenced),
            interval: interval.filter(|d| !d.is_zero()),
            query_offset,
            limit,
            labels,
            rules,
        });
    }
    d.bad_durations.sort();
    if let Some((_, message)) = d.bad_durations.into_iter().next() {
        return Err(vec![origin.error(ErrorDetail::Yaml(message))]);
    }
    if !d.issues.is_empty() {
        d.issues.sort_by_key(Issue::position);
        let mut message = "yaml: unmarshal errors:".to_string();
        for issue in &d.issues {
            message.push_str("\n  ");
            message.push_str(&issue.message());
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
fn check_rule(
    raw: &RawRule,
    rule: &DecodedRule,
    options: &LoadOptions,
    source: &str,
) -> (Vec<(Vec<Position>, String)>, Option<Expr>) {
    let mut out = Vec::new();
    let mut parsed = None;
    let record_at = position(&raw.record, source);
    let alert_at = position(&raw.alert, source);
    match (&rule.record, &rule.alert) {
        (Some(_), Some(_)) => {
            out.push((vec![record_at, alert_at], "only one of 'record' and 'alert' must be set".to_string()))
        }
        (None, None) => {
            out.push((vec![record_at, alert_at], "one of 'record' or 'alert' must be set".to_string()))
        }
        _ => {}
    }
    let expr_at = position(&raw.expr, source);
    if rule.expr.is_empty() {
        out.push((vec![expr_at], "field 'expr' must be set in rule".to_string()));
    } else {
        match expr::check(&rule.expr, &options.parse) {
            Ok(e) => parsed = Some(e),
            Err(e) => out.push((vec![expr_at], format!("could not parse expression: {e}"))),
        }
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
    (out, parsed)
}
