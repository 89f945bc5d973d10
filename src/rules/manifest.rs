//! Kubernetes `PrometheusRule` manifests (`monitoring.coreos.com/v1`), as the Prometheus Operator
//! turns them into rule files.
//!
//! A manifest file holds one or more YAML documents; each is a `PrometheusRule`, a `List` (or
//! `PrometheusRuleList`) whose `items` are, or an object of another kind, which is skipped. A
//! [`Selector`] (the operator's `ruleSelector`) picks the PrometheusRules to load by their
//! `metadata.labels`. The `spec` of each is a rule file (`groups:`) and is checked as strictly as the
//! operator checks it; its groups keep their names and belong to the file the operator would write,
//! `<namespace>-<name>-<uid>.yaml` (without `-<uid>` when the manifest has none).
//!
//! ```
//! use ferroprom::rules::LoadOptions;
//! use ferroprom::rules::manifest::{Selector, parse_manifests};
//!
//! let text = r#"
//! apiVersion: monitoring.coreos.com/v1
//! kind: PrometheusRule
//! metadata:
//!   name: node-rules
//!   namespace: monitoring
//!   labels: {role: alert-rules, prometheus: main}
//! spec:
//!   groups:
//!   - name: node.rules
//!     rules:
//!     - alert: WebhookAlert
//!       expr: vector(1)
//! "#;
//! let options = LoadOptions { selector: Some("role=alert-rules,prometheus=main".parse()?), ..Default::default() };
//! let loaded = parse_manifests(text, Some("rules.yaml"), &options).map_err(|e| e[0].to_string())?;
//! assert_eq!(loaded.groups[0].file, "monitoring-node-rules.yaml");
//! assert_eq!(loaded.selection.selected, ["monitoring/node-rules"]);
//!
//! let other: Selector = "prometheus=other".parse()?;
//! let options = LoadOptions { selector: Some(other), ..Default::default() };
//! let loaded = parse_manifests(text, Some("rules.yaml"), &options).map_err(|e| e[0].to_string())?;
//! assert!(loaded.groups.is_empty());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::de::{Deserialize, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_saphyr::Spanned;

use super::error::{ErrorDetail, RuleError};
use super::file::{yaml_error, yaml_options};
use super::raw::{Node, Position, RawGroups, Record, Value};
use super::validate::{Dialect, Origin, check_group_list};
use super::{LoadOptions, RuleGroup};

/// The API group of PrometheusRule objects.
pub const API_GROUP: &str = "monitoring.coreos.com";

/// What a manifest file held.
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestFile {
    /// The groups of every selected PrometheusRule, in file order.
    pub groups: Vec<RuleGroup>,
    /// Which PrometheusRules were selected and which were not.
    pub selection: Selection,
}

/// The PrometheusRule objects of a file, as `namespace/name`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Objects the selector chose (all of them without a selector).
    pub selected: Vec<String>,
    /// Objects the selector did not choose.
    pub skipped: Vec<String>,
}

/// Whether `content` holds Kubernetes objects (some document has both `apiVersion` and `kind` at its
/// top level) rather than a rule file. This looks at the text only, so that large rule files are not
/// decoded twice.
pub fn looks_like_manifest(content: &str) -> bool {
    let top_level_key = |key: &str| {
        content.lines().any(|line| {
            let line = line.trim_end();
            [key.to_string(), format!("\"{key}\""), format!("'{key}'")]
                .iter()
                .any(|k| line.strip_prefix(k.as_str()).is_some_and(|rest| rest.trim_start().starts_with(':')))
        })
    };
    top_level_key("apiVersion") && top_level_key("kind")
}

/// Reads the PrometheusRule objects of a manifest file and checks their groups. `file` names the
/// file in errors.
pub fn parse_manifests(
    content: &str,
    file: Option<&str>,
    options: &LoadOptions,
) -> Result<ManifestFile, Vec<RuleError>> {
    let documents: Vec<Option<Spanned<Object>>> =
        serde_saphyr::from_multiple_with_options(content, yaml_options())
            .map_err(|e| vec![RuleError::new(file, ErrorDetail::Yaml(yaml_error(&e)))])?;
    let mut objects = Vec::new();
    for doc in documents.into_iter().flatten() {
        flatten_lists(doc, &mut objects);
    }
    let mut out = ManifestFile { groups: Vec::new(), selection: Selection::default() };
    let mut errors = Vec::new();
    for object in objects {
        let at = Position::of(&object.referenced);
        let object = object.value;
        if object.kind.as_deref() != Some("PrometheusRule") {
            continue;
        }
        let api_group = object.api_version.as_deref().and_then(|v| v.split('/').next());
        if api_group != Some(API_GROUP) {
            continue;
        }
        let Some(name) = object.metadata.name.clone().filter(|n| !n.is_empty()) else {
            errors.push(RuleError::new(
                file,
                ErrorDetail::Manifest(format!("{at}: PrometheusRule without metadata.name")),
            ));
            continue;
        };
        let namespace = object.metadata.namespace.clone().unwrap_or_else(|| "default".to_string());
        let id = format!("{namespace}/{name}");
        if let Some(selector) = &options.selector
            && !selector.matches(&object.metadata.labels)
        {
            out.selection.skipped.push(id);
            continue;
        }
        let group_file = match &object.metadata.uid {
            Some(uid) if !uid.is_empty() => format!("{namespace}-{name}-{uid}.yaml"),
            _ => format!("{namespace}-{name}.yaml"),
        };
        let object_label = format!("PrometheusRule {id}");
        let origin = Origin {
            file,
            group_file: &group_file,
            object: Some(&object_label),
            dialect: Dialect::Manifest,
            source: content,
        };
        let (groups, issues) = match object.spec {
            Some(spec) => (spec.value.0.groups, spec.issues),
            None => (None, Vec::new()),
        };
        match check_group_list(groups.as_ref(), issues, &origin, options) {
            Ok(groups) => out.groups.extend(groups),
            Err(e) => errors.extend(e),
        }
        out.selection.selected.push(id);
    }
    if errors.is_empty() { Ok(out) } else { Err(errors) }
}

fn flatten_lists(object: Spanned<Object>, out: &mut Vec<Spanned<Object>>) {
    let is_list = object.value.kind.as_deref().is_some_and(|k| k == "List" || k.ends_with("List"));
    if is_list {
        for item in object.value.items {
            flatten_lists(item, out);
        }
    } else {
        out.push(object);
    }
}

/// Any value (a mapping key of any scalar kind, too), keeping it only when it is a string.
struct IgnoredOrString(Option<String>);

impl<'de> Deserialize<'de> for IgnoredOrString {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(IgnoredOrString(match Value::deserialize(deserializer)? {
            Value::Str(s) => Some(s),
            _ => None,
        }))
    }
}

/// A Kubernetes object as far as rule loading cares.
#[derive(Default)]
struct Object {
    api_version: Option<String>,
    kind: Option<String>,
    metadata: Metadata,
    spec: Option<Node<Spec>>,
    items: Vec<Spanned<Object>>,
}

#[derive(Default, serde::Deserialize)]
struct Metadata {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    namespace: Option<String>,
    #[serde(default)]
    uid: Option<String>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

/// A PrometheusRule `spec`: its groups, as in a rule file, under the operator's type name.
#[derive(Default)]
struct Spec(RawGroups);

impl Record for Spec {
    const TYPE: &'static str = "v1.PrometheusRuleSpec";
    fn field<'de, A: MapAccess<'de>>(
        &mut self,
        key: &Spanned<String>,
        map: &mut A,
    ) -> Result<bool, A::Error> {
        self.0.field(key, map)
    }
}

impl<'de> Deserialize<'de> for Object {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Object, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Object;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a Kubernetes object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Object, A::Error> {
                let mut object = Object::default();
                // The spec is decoded as a PrometheusRule spec whatever the kind: for other kinds it
                // only yields unknown-key issues, which are dropped with the object.
                while let Some(key) = map.next_key::<IgnoredOrString>()? {
                    match key.0.as_deref() {
                        Some("apiVersion") => object.api_version = map.next_value::<IgnoredOrString>()?.0,
                        Some("kind") => object.kind = map.next_value::<IgnoredOrString>()?.0,
                        Some("metadata") => {
                            object.metadata = map.next_value::<Option<Metadata>>()?.unwrap_or_default()
                        }
                        Some("spec") => object.spec = Some(map.next_value()?),
                        Some("items") => {
                            object.items =
                                map.next_value::<Option<Vec<Spanned<Object>>>>()?.unwrap_or_default()
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(object)
            }
        }
        deserializer.deserialize_map(V)
    }
}

/// A label selector in Kubernetes' text form, as `kubectl -l` and the operator's `ruleSelector`
/// take it: comma-separated requirements, all of which must hold: `key=value` (or `==`),
/// `key!=value`, `key in (a,b)`, `key notin (a,b)`, `key` (present) and `!key` (absent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    requirements: Vec<Requirement>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
}

/// A selector that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid label selector {text:?}: {reason}")]
pub struct SelectorError {
    text: String,
    reason: String,
}

impl Selector {
    /// Whether an object with these labels is selected.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements.iter().all(|r| match r {
            Requirement::Equals(k, v) => labels.get(k) == Some(v),
            Requirement::NotEquals(k, v) => labels.get(k) != Some(v),
            Requirement::In(k, vs) => labels.get(k).is_some_and(|v| vs.contains(v)),
            Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|v| !vs.contains(v)),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::NotExists(k) => !labels.contains_key(k),
        })
    }
}

impl FromStr for Selector {
    type Err = SelectorError;

    fn from_str(text: &str) -> Result<Selector, SelectorError> {
        let fail = |reason: &str| SelectorError { text: text.to_string(), reason: reason.to_string() };
        let mut requirements = Vec::new();
        for part in split_top_level(text).map_err(|r| fail(&r))? {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            requirements.push(parse_requirement(part).map_err(|r| fail(&r))?);
        }
        Ok(Selector { requirements })
    }
}

/// Splits on commas outside parentheses.
fn split_top_level(text: &str) -> Result<Vec<&str>, String> {
    let mut parts = Vec::new();
    let mut depth = 0usize;
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.checked_sub(1).ok_or_else(|| "unbalanced ')'".to_string())?,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err("unbalanced '('".to_string());
    }
    parts.push(&text[start..]);
    Ok(parts)
}

fn valid_key(key: &str) -> Result<String, String> {
    let ok = !key.is_empty()
        && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
    if ok { Ok(key.to_string()) } else { Err(format!("invalid label key {key:?}")) }
}

fn parse_set(rest: &str) -> Result<Vec<String>, String> {
    let inner = rest
        .trim()
        .strip_prefix('(')
        .and_then(|r| r.strip_suffix(')'))
        .ok_or_else(|| "expected a parenthesised set of values".to_string())?;
    Ok(inner.split(',').map(|v| v.trim().to_string()).collect())
}

fn parse_requirement(part: &str) -> Result<Requirement, String> {
    if let Some(key) = part.strip_prefix('!') {
        return Ok(Requirement::NotExists(valid_key(key.trim())?));
    }
    if let Some((k, v)) = part.split_once("!=") {
        return Ok(Requirement::NotEquals(valid_key(k.trim())?, v.trim().to_string()));
    }
    if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
        return Ok(Requirement::Equals(valid_key(k.trim())?, v.trim().to_string()));
    }
    let mut words = part.splitn(2, char::is_whitespace);
    let key = words.next().unwrap_or_default();
    match words.next().map(str::trim_start) {
        None => Ok(Requirement::Exists(valid_key(key)?)),
        Some(rest) => {
            if let Some(set) = rest.strip_prefix("notin") {
                Ok(Requirement::NotIn(valid_key(key)?, parse_set(set)?))
            } else if let Some(set) = rest.strip_prefix("in") {
                Ok(Requirement::In(valid_key(key)?, parse_set(set)?))
            } else {
                Err(format!("unexpected {rest:?}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn selectors_match_like_kubernetes() {
        let l = labels(&[("role", "alert-rules"), ("prometheus", "main")]);
        for (text, expected) in [
            ("role=alert-rules,prometheus=main", true),
            ("role==alert-rules", true),
            ("role=alert-rules,prometheus=other", false),
            ("prometheus in (main, staging)", true),
            ("prometheus notin (main)", false),
            ("team notin (x)", true),
            ("role", true),
            ("!role", false),
            ("!team", true),
            ("role!=alert-rules", false),
            ("", true),
        ] {
            let s: Selector = text.parse().unwrap();
            assert_eq!(s.matches(&l), expected, "{text}");
        }
        assert!("a in (b".parse::<Selector>().is_err());
        assert!("a b".parse::<Selector>().is_err());
    }
}
