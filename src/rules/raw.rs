//! The YAML shape of rule groups, as written, with the source position of every node that an error
//! may point at.
//!
//! Deserialization here never fails on a well-formed YAML mapping of the wrong shape for a field it
//! knows: unknown and repeated keys are recorded as [`Issue`]s (promtool reports them all together as
//! "unmarshal errors"), and scalar values are kept as text so that durations are checked later in
//! document order. Only YAML syntax errors and values of the wrong kind (a list where a string belongs)
//! stop the decoder.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{Location, Spanned};

/// A position in a YAML document, 1-based; `0:0` stands for "no such node" as in promtool's output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default, Hash)]
pub struct Position {
    /// Line, 1-based (0 when the node is absent).
    pub line: u64,
    /// Column, 1-based (0 when the node is absent).
    pub column: u64,
}

impl Position {
    pub(crate) fn of(location: &Location) -> Position {
        Position { line: location.line(), column: location.column() }
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A scalar value kept as written (`null` and an empty value are `None`), with its position.
pub(crate) type Scalar = Spanned<Option<String>>;

/// A problem found while decoding that does not stop the decoder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Issue {
    /// A key the target type does not have (`field X not found in type T`).
    UnknownField { at: Position, field: String, type_name: &'static str },
    /// A key that appears twice in one mapping.
    RepeatedKey { at: Position, key: String, first_line: u64 },
}

impl Issue {
    pub(crate) fn position(&self) -> Position {
        match self {
            Issue::UnknownField { at, .. } | Issue::RepeatedKey { at, .. } => *at,
        }
    }

    /// The line promtool prints for this issue inside `yaml: unmarshal errors:`.
    pub(crate) fn message(&self) -> String {
        match self {
            Issue::UnknownField { at, field, type_name } => {
                format!("line {}: field {field} not found in type {type_name}", at.line)
            }
            Issue::RepeatedKey { at, key, first_line } => {
                format!(
                    "line {}: mapping key {} already defined at line {first_line}",
                    at.line,
                    go_quoted(key)
                )
            }
        }
    }
}

fn go_quoted(text: &str) -> String {
    super::duration::go_quote(text)
}

/// Tracks the keys of one mapping to report repeated ones.
#[derive(Default)]
struct SeenKeys(Vec<(String, u64)>);

impl SeenKeys {
    fn check(&mut self, key: &Spanned<String>, issues: &mut Vec<Issue>) -> bool {
        if let Some((_, first_line)) = self.0.iter().find(|(k, _)| *k == key.value) {
            issues.push(Issue::RepeatedKey {
                at: Position::of(&key.referenced),
                key: key.value.clone(),
                first_line: *first_line,
            });
            return false;
        }
        self.0.push((key.value.clone(), key.referenced.line()));
        true
    }
}

/// A string-to-string mapping (`labels`, `annotations`) in document order.
#[derive(Debug, Default, Clone)]
pub(crate) struct StringMap {
    pub entries: Vec<(Spanned<String>, Scalar)>,
    pub issues: Vec<Issue>,
}

impl<'de> Deserialize<'de> for StringMap {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<StringMap, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StringMap;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping of strings to strings")
            }
            fn visit_unit<E: de::Error>(self) -> Result<StringMap, E> {
                Ok(StringMap::default())
            }
            fn visit_none<E: de::Error>(self) -> Result<StringMap, E> {
                Ok(StringMap::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StringMap, A::Error> {
                let mut out = StringMap::default();
                let mut seen = SeenKeys::default();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    let value: Scalar = map.next_value()?;
                    if seen.check(&key, &mut out.issues) {
                        out.entries.push((key, value));
                    }
                }
                Ok(out)
            }
        }
        deserializer.deserialize_any(V)
    }
}

/// One rule as written.
#[derive(Debug, Default, Clone)]
pub(crate) struct RawRule {
    pub record: Option<Scalar>,
    pub alert: Option<Scalar>,
    pub expr: Option<Scalar>,
    pub for_: Option<Scalar>,
    pub keep_firing_for: Option<Scalar>,
    pub labels: Option<StringMap>,
    pub annotations: Option<StringMap>,
    pub issues: Vec<Issue>,
}

/// One rule group as written.
#[derive(Debug, Default, Clone)]
pub(crate) struct RawGroup {
    pub name: Option<Scalar>,
    pub interval: Option<Scalar>,
    pub query_offset: Option<Scalar>,
    pub limit: Option<Scalar>,
    pub labels: Option<StringMap>,
    pub rules: Vec<Spanned<RawRule>>,
    /// `partial_response_strategy` (Thanos only; accepted in PrometheusRule manifests).
    pub partial_response_strategy: Option<Scalar>,
    pub issues: Vec<Issue>,
}

/// The top level of a rule file: `groups:`.
#[derive(Debug, Default, Clone)]
pub(crate) struct RawGroups {
    pub groups: Vec<Spanned<RawGroup>>,
    pub issues: Vec<Issue>,
}

/// Which dialect a group is read in: a rule file (promtool's type names in messages) or the `spec` of a
/// PrometheusRule manifest (which also knows `partial_response_strategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    RuleFile,
    Manifest,
}

impl Dialect {
    fn type_names(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Dialect::RuleFile => ("rulefmt.RuleGroups", "rulefmt.RuleGroup", "rulefmt.Rule"),
            Dialect::Manifest => ("v1.PrometheusRuleSpec", "v1.RuleGroup", "v1.Rule"),
        }
    }
}

fn next_scalar<'de, A: MapAccess<'de>>(map: &mut A) -> Result<Option<Scalar>, A::Error> {
    map.next_value::<Scalar>().map(Some)
}

fn skip_value<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    map.next_value::<IgnoredAny>().map(|_| ())
}

fn unknown(key: &Spanned<String>, type_name: &'static str) -> Issue {
    Issue::UnknownField { at: Position::of(&key.referenced), field: key.value.clone(), type_name }
}

/// A list that may also be written as `null` or left empty.
struct OptionalList<T>(Vec<T>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OptionalList<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<OptionalList<T>, D::Error> {
        struct V<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = OptionalList<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(OptionalList(Vec::new()))
            }
            fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(OptionalList(Vec::new()))
            }
            fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<Self::Value, S::Error> {
                let mut out = Vec::new();
                while let Some(item) = seq.next_element()? {
                    out.push(item);
                }
                Ok(OptionalList(out))
            }
        }
        deserializer.deserialize_any(V(std::marker::PhantomData))
    }
}

/// A value decoded in the dialect named by the marker type `M`.
struct InDialect<T, M>(T, std::marker::PhantomData<M>);

trait DialectMarker {
    const DIALECT: Dialect;
}
struct FileMarker;
struct ManifestMarker;
impl DialectMarker for FileMarker {
    const DIALECT: Dialect = Dialect::RuleFile;
}
impl DialectMarker for ManifestMarker {
    const DIALECT: Dialect = Dialect::Manifest;
}

impl<'de, M: DialectMarker> Deserialize<'de> for InDialect<RawRule, M> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V(Dialect);
        impl<'de> Visitor<'de> for V {
            type Value = RawRule;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a rule (a mapping with record or alert, and expr)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawRule, A::Error> {
                let (_, _, type_name) = self.0.type_names();
                let mut rule = RawRule::default();
                let mut seen = SeenKeys::default();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    if !seen.check(&key, &mut rule.issues) {
                        skip_value(&mut map)?;
                        continue;
                    }
                    match key.value.as_str() {
                        "record" => rule.record = next_scalar(&mut map)?,
                        "alert" => rule.alert = next_scalar(&mut map)?,
                        "expr" => rule.expr = next_scalar(&mut map)?,
                        "for" => rule.for_ = next_scalar(&mut map)?,
                        "keep_firing_for" => rule.keep_firing_for = next_scalar(&mut map)?,
                        "labels" => rule.labels = Some(map.next_value()?),
                        "annotations" => rule.annotations = Some(map.next_value()?),
                        _ => {
                            rule.issues.push(unknown(&key, type_name));
                            skip_value(&mut map)?;
                        }
                    }
                }
                Ok(rule)
            }
        }
        deserializer.deserialize_map(V(M::DIALECT)).map(|r| InDialect(r, std::marker::PhantomData))
    }
}

impl<'de, M: DialectMarker> Deserialize<'de> for InDialect<RawGroup, M> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<M>(Dialect, std::marker::PhantomData<M>);
        impl<'de, M: DialectMarker> Visitor<'de> for V<M> {
            type Value = RawGroup;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a rule group (a mapping with name and rules)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawGroup, A::Error> {
                let (_, type_name, _) = self.0.type_names();
                let mut group = RawGroup::default();
                let mut seen = SeenKeys::default();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    if !seen.check(&key, &mut group.issues) {
                        skip_value(&mut map)?;
                        continue;
                    }
                    match key.value.as_str() {
                        "name" => group.name = next_scalar(&mut map)?,
                        "interval" => group.interval = next_scalar(&mut map)?,
                        "query_offset" => group.query_offset = next_scalar(&mut map)?,
                        "limit" => group.limit = next_scalar(&mut map)?,
                        "labels" => group.labels = Some(map.next_value()?),
                        "rules" => {
                            let rules: OptionalList<RuleSlot<M>> = map.next_value()?;
                            group.rules = rules.0.into_iter().map(|r| r.0).collect();
                        }
                        "partial_response_strategy" if self.0 == Dialect::Manifest => {
                            group.partial_response_strategy = next_scalar(&mut map)?
                        }
                        _ => {
                            group.issues.push(unknown(&key, type_name));
                            skip_value(&mut map)?;
                        }
                    }
                }
                Ok(group)
            }
        }
        deserializer
            .deserialize_map(V::<M>(M::DIALECT, std::marker::PhantomData))
            .map(|g| InDialect(g, std::marker::PhantomData))
    }
}

impl<'de, M: DialectMarker> Deserialize<'de> for InDialect<RawGroups, M> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V<M>(Dialect, std::marker::PhantomData<M>);
        impl<'de, M: DialectMarker> Visitor<'de> for V<M> {
            type Value = RawGroups;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping with a groups list")
            }
            fn visit_unit<E: de::Error>(self) -> Result<RawGroups, E> {
                Ok(RawGroups::default())
            }
            fn visit_none<E: de::Error>(self) -> Result<RawGroups, E> {
                Ok(RawGroups::default())
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawGroups, A::Error> {
                let (type_name, _, _) = self.0.type_names();
                let mut groups = RawGroups::default();
                let mut seen = SeenKeys::default();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    if !seen.check(&key, &mut groups.issues) {
                        skip_value(&mut map)?;
                        continue;
                    }
                    match key.value.as_str() {
                        "groups" => {
                            let list: OptionalList<GroupSlot<M>> = map.next_value()?;
                            groups.groups = list.0.into_iter().map(|g| g.0).collect();
                        }
                        _ => {
                            groups.issues.push(unknown(&key, type_name));
                            skip_value(&mut map)?;
                        }
                    }
                }
                Ok(groups)
            }
        }
        deserializer
            .deserialize_any(V::<M>(M::DIALECT, std::marker::PhantomData))
            .map(|g| InDialect(g, std::marker::PhantomData))
    }
}

/// A list element holding a spanned rule in dialect `M`.
struct RuleSlot<M>(Spanned<RawRule>, std::marker::PhantomData<M>);
/// A list element holding a spanned group in dialect `M`.
struct GroupSlot<M>(Spanned<RawGroup>, std::marker::PhantomData<M>);

impl<'de, M: DialectMarker> Deserialize<'de> for RuleSlot<M> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s: Spanned<InDialect<RawRule, M>> = Spanned::deserialize(deserializer)?;
        Ok(RuleSlot(Spanned::new(s.value.0, s.referenced, s.defined), std::marker::PhantomData))
    }
}

impl<'de, M: DialectMarker> Deserialize<'de> for GroupSlot<M> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s: Spanned<InDialect<RawGroup, M>> = Spanned::deserialize(deserializer)?;
        Ok(GroupSlot(Spanned::new(s.value.0, s.referenced, s.defined), std::marker::PhantomData))
    }
}

/// A whole rule file document (`groups: [...]`).
pub(crate) struct RuleFileDoc(pub RawGroups);

impl<'de> Deserialize<'de> for RuleFileDoc {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<RuleFileDoc, D::Error> {
        InDialect::<RawGroups, FileMarker>::deserialize(deserializer).map(|g| RuleFileDoc(g.0))
    }
}

/// The `spec.groups` list of a PrometheusRule manifest.
pub(crate) struct ManifestGroups(pub Vec<Spanned<RawGroup>>);

impl<'de> Deserialize<'de> for ManifestGroups {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ManifestGroups, D::Error> {
        OptionalList::<GroupSlot<ManifestMarker>>::deserialize(deserializer)
            .map(|l| ManifestGroups(l.0.into_iter().map(|g| g.0).collect()))
    }
}

impl RawGroup {
    /// Every issue of the group and its rules (unsorted).
    pub(crate) fn all_issues(&self) -> Vec<Issue> {
        let mut out = self.issues.clone();
        if let Some(labels) = &self.labels {
            out.extend(labels.issues.iter().cloned());
        }
        for rule in &self.rules {
            out.extend(rule.value.issues.iter().cloned());
            for map in [&rule.value.labels, &rule.value.annotations].into_iter().flatten() {
                out.extend(map.issues.iter().cloned());
            }
        }
        out
    }
}
