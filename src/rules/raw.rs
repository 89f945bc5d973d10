//! The YAML shape of rule groups, as written, with the source position of every node that an error
//! may point at.
//!
//! Decoding here only stops on broken YAML. Everything Go's YAML decoder reports as "unmarshal
//! errors" (unknown keys, repeated keys, a node of the wrong kind) is kept for the caller to report
//! together, in document order, as promtool does. Scalars are kept as written so that durations and
//! numbers are interpreted later.

use std::fmt;
use std::marker::PhantomData;

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

impl Position {
    /// Where Go's YAML parser places a scalar node: for a block scalar (`|`, `>`) that is its indicator
    /// on the line above the content, not the content itself.
    pub(crate) fn of_scalar(location: &Location, source: &str) -> Position {
        let at = Position::of(location);
        block_indicator(location, source).unwrap_or(at)
    }
}

/// The position of the `|`/`>` header of the block scalar whose content starts at `location`.
fn block_indicator(location: &Location, source: &str) -> Option<Position> {
    let offset = usize::try_from(location.span().byte_offset()?).ok()?;
    let before = source.get(..offset)?;
    // Only leading whitespace may precede block content on its line.
    let line_start = before.rfind('\n')? + 1;
    if !before[line_start..].chars().all(|c| c == ' ' || c == '\t') {
        return None;
    }
    // Skip blank lines between the header and the content.
    let mut header_end = line_start - 1;
    loop {
        let header_start = source[..header_end].rfind('\n').map_or(0, |i| i + 1);
        let header = &source[header_start..header_end];
        if header.trim().is_empty() {
            if header_start == 0 {
                return None;
            }
            header_end = header_start - 1;
            continue;
        }
        let code = header.split(" #").next().unwrap_or(header).trim_end();
        let indicator = code.rfind(['|', '>'])?;
        let tail = &code[indicator + 1..];
        let preceded_ok = code[..indicator].ends_with([' ', ':', '\t', '-']) || indicator == 0;
        if !preceded_ok || !tail.chars().all(|c| matches!(c, '-' | '+' | '0'..='9')) {
            return None;
        }
        let line = u64::try_from(source[..header_start].matches('\n').count() + 1).ok()?;
        let column = u64::try_from(header[..indicator].chars().count() + 1).ok()?;
        return Some(Position { line, column });
    }
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// A problem found while decoding that does not stop the decoder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Issue {
    /// A key the target type does not have (`field X not found in type T`).
    UnknownField { at: Position, field: String, type_name: &'static str },
    /// A key that appears twice in one mapping.
    RepeatedKey { at: Position, key: String, first_line: u64 },
    /// A node of the wrong kind (`cannot unmarshal !!seq into string`).
    Mismatch { at: Position, found: String, target: &'static str },
}

impl Issue {
    pub(crate) fn position(&self) -> Position {
        match self {
            Issue::UnknownField { at, .. } | Issue::RepeatedKey { at, .. } | Issue::Mismatch { at, .. } => {
                *at
            }
        }
    }

    /// The line promtool prints for this issue inside `yaml: unmarshal errors:`.
    pub(crate) fn message(&self) -> String {
        match self {
            Issue::UnknownField { at, field, type_name } => {
                format!("line {}: field {field} not found in type {type_name}", at.line)
            }
            Issue::RepeatedKey { at, key, first_line } => format!(
                "line {}: mapping key {} already defined at line {first_line}",
                at.line,
                crate::model::go_quote(key)
            ),
            Issue::Mismatch { at, found, target } => {
                format!("line {}: cannot unmarshal {found} into {target}", at.line)
            }
        }
    }
}

/// Any YAML node, reduced to what decoding needs: scalars as written (the text of a number or a
/// boolean is recovered from the source by [`Value::text`]), collections only by kind.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    /// `null`, `~` or nothing.
    Null,
    /// A string scalar.
    Str(String),
    /// A scalar YAML resolved to another type (`!!int`, `!!float`, `!!bool`), rendered.
    Plain { rendered: String, tag: &'static str },
    /// A sequence (its content is skipped).
    Seq,
    /// A mapping (its content is skipped).
    Map,
}

/// A node's value with its position.
pub(crate) type Scalar = Spanned<Value>;

impl Value {
    /// How Go's YAML decoder names this node in a type error: `!!seq`, ``!!str `abc` ``.
    pub(crate) fn describe(&self, source: &str, location: &Location) -> String {
        let shown = |text: &str| {
            if text.chars().count() > 10 {
                format!("`{}...`", text.chars().take(7).collect::<String>())
            } else {
                format!("`{text}`")
            }
        };
        match self {
            Value::Null => "!!null".to_string(),
            Value::Str(s) => format!("!!str {}", shown(s)),
            Value::Plain { tag, .. } => {
                format!("{tag} {}", shown(&Value::source_text(source, location).unwrap_or_default()))
            }
            Value::Seq => "!!seq".to_string(),
            Value::Map => "!!map".to_string(),
        }
    }

    /// The scalar as text, as Go decodes any scalar into a string field; `Err` for a collection.
    pub(crate) fn text(&self, source: &str, location: &Location) -> Result<Option<String>, ()> {
        match self {
            Value::Null => Ok(None),
            Value::Str(s) => Ok(Some(s.clone())),
            Value::Plain { rendered, .. } => {
                Ok(Some(Value::source_text(source, location).unwrap_or_else(|| rendered.clone())))
            }
            Value::Seq | Value::Map => Err(()),
        }
    }

    /// The source text under a plain scalar's span.
    fn source_text(source: &str, location: &Location) -> Option<String> {
        let span = location.span();
        let start = usize::try_from(span.byte_offset()?).ok()?;
        let len = usize::try_from(span.byte_len()?).ok()?;
        let text = source.get(start..start.checked_add(len)?)?;
        (!text.is_empty() && !text.contains(['\n', '#'])).then(|| text.trim().to_string())
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

/// Reduces any node to a [`Value`]; also names the scalar a mapping or list node turned out to be.
struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_string()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Plain { rendered: v.to_string(), tag: "!!int" })
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Plain { rendered: v.to_string(), tag: "!!int" })
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        Ok(Value::Plain { rendered: v.to_string(), tag: "!!int" })
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        Ok(Value::Plain { rendered: v.to_string(), tag: "!!int" })
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Plain { rendered: v.to_string(), tag: "!!float" })
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Plain { rendered: v.to_string(), tag: "!!bool" })
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Value::Seq)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Value::Map)
    }
}

/// The visits of a visitor for a collection node (mapping or list) that find no collection: null
/// is an empty one; a scalar is a mismatch, kept as the [`Value`] it is, wrapped by `$mismatched`.
macro_rules! non_collection_visits {
    ($de:lifetime, $mismatched:expr) => {
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(<Self::Value as Default>::default())
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(<Self::Value as Default>::default())
        }
        fn visit_some<D: Deserializer<$de>>(self, d: D) -> Result<Self::Value, D::Error> {
            <Self::Value as Deserialize<$de>>::deserialize(d)
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            ValueVisitor.visit_str(v).map($mismatched)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            ValueVisitor.visit_i64(v).map($mismatched)
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            ValueVisitor.visit_u64(v).map($mismatched)
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            ValueVisitor.visit_f64(v).map($mismatched)
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            ValueVisitor.visit_bool(v).map($mismatched)
        }
    };
}

/// A type decoded from a YAML mapping, one key at a time.
pub(crate) trait Record: Default {
    /// Go's name of the type, for `field X not found in type T`.
    const TYPE: &'static str;
    /// Decodes the value of `key`; returns `false` (leaving the value unread) for an unknown key.
    fn field<'de, A: MapAccess<'de>>(&mut self, key: &Spanned<String>, map: &mut A)
    -> Result<bool, A::Error>;
}

/// A mapping-shaped node: its value, the node it really was when not a mapping, and the unknown and
/// repeated keys found in it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Node<T> {
    pub value: T,
    pub mismatch: Option<Value>,
    pub issues: Vec<Issue>,
}

impl<'de, T: Record> Deserialize<'de> for Node<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Node<T>, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Record> Visitor<'de> for V<T> {
            type Value = Node<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node<T>, A::Error> {
                let mut node = Node { value: T::default(), mismatch: None, issues: Vec::new() };
                let mut seen: Vec<(String, u64)> = Vec::new();
                while let Some(key) = map.next_key::<Spanned<String>>()? {
                    let at = Position::of(&key.referenced);
                    if let Some((_, first_line)) = seen.iter().find(|(k, _)| *k == key.value) {
                        node.issues.push(Issue::RepeatedKey {
                            at,
                            key: key.value.clone(),
                            first_line: *first_line,
                        });
                        map.next_value::<IgnoredAny>()?;
                        continue;
                    }
                    seen.push((key.value.clone(), at.line));
                    if !node.value.field(&key, &mut map)? {
                        node.issues.push(Issue::UnknownField {
                            at,
                            field: key.value.clone(),
                            type_name: T::TYPE,
                        });
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(node)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Node<T>, A::Error> {
                Value::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(Node::mismatched)
            }
            non_collection_visits!('de, Node::mismatched);
        }
        deserializer.deserialize_any(V(PhantomData))
    }
}

impl<T: Default> Node<T> {
    fn mismatched(found: Value) -> Node<T> {
        Node { value: T::default(), mismatch: Some(found), issues: Vec::new() }
    }
}

/// A list node: its items, or the node it really was when not a list.
#[derive(Debug, Clone)]
pub(crate) struct List<T> {
    pub items: Vec<T>,
    pub mismatch: Option<Value>,
}

impl<T> List<T> {
    fn mismatched(found: Value) -> List<T> {
        List { items: Vec::new(), mismatch: Some(found) }
    }
}

impl<T> Default for List<T> {
    fn default() -> List<T> {
        List { items: Vec::new(), mismatch: None }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for List<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<List<T>, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = List<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list")
            }
            fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<List<T>, S::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(List { items, mismatch: None })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<List<T>, A::Error> {
                Value::deserialize(de::value::MapAccessDeserializer::new(map)).map(List::mismatched)
            }
            non_collection_visits!('de, List::mismatched);
        }
        deserializer.deserialize_any(V(PhantomData))
    }
}

/// A string-to-string mapping (`labels`, `annotations`) in document order.
#[derive(Debug, Default, Clone)]
pub(crate) struct StringMap {
    pub entries: Vec<(Spanned<String>, Scalar)>,
}

impl Record for StringMap {
    const TYPE: &'static str = "map[string]string";
    fn field<'de, A: MapAccess<'de>>(
        &mut self,
        key: &Spanned<String>,
        map: &mut A,
    ) -> Result<bool, A::Error> {
        self.entries.push((key.clone(), map.next_value()?));
        Ok(true)
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
    pub labels: Option<Spanned<Node<StringMap>>>,
    pub annotations: Option<Spanned<Node<StringMap>>>,
}

impl Record for RawRule {
    const TYPE: &'static str = "rulefmt.Rule";
    fn field<'de, A: MapAccess<'de>>(
        &mut self,
        key: &Spanned<String>,
        map: &mut A,
    ) -> Result<bool, A::Error> {
        match key.value.as_str() {
            "record" => self.record = Some(map.next_value()?),
            "alert" => self.alert = Some(map.next_value()?),
            "expr" => self.expr = Some(map.next_value()?),
            "for" => self.for_ = Some(map.next_value()?),
            "keep_firing_for" => self.keep_firing_for = Some(map.next_value()?),
            "labels" => self.labels = Some(map.next_value()?),
            "annotations" => self.annotations = Some(map.next_value()?),
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// One rule group as written.
#[derive(Debug, Default, Clone)]
pub(crate) struct RawGroup {
    pub name: Option<Scalar>,
    pub interval: Option<Scalar>,
    pub query_offset: Option<Scalar>,
    pub limit: Option<Scalar>,
    pub labels: Option<Spanned<Node<StringMap>>>,
    pub rules: Option<Spanned<List<Spanned<Node<RawRule>>>>>,
    /// Where `partial_response_strategy` (Thanos only) was given: the operator drops it from
    /// PrometheusRules; a rule file may not have it.
    pub partial_response_strategy: Option<Position>,
}

impl Record for RawGroup {
    const TYPE: &'static str = "rulefmt.RuleGroup";
    fn field<'de, A: MapAccess<'de>>(
        &mut self,
        key: &Spanned<String>,
        map: &mut A,
    ) -> Result<bool, A::Error> {
        match key.value.as_str() {
            "name" => self.name = Some(map.next_value()?),
            "interval" => self.interval = Some(map.next_value()?),
            "query_offset" => self.query_offset = Some(map.next_value()?),
            "limit" => self.limit = Some(map.next_value()?),
            "labels" => self.labels = Some(map.next_value()?),
            "rules" => self.rules = Some(map.next_value()?),
            "partial_response_strategy" => {
                map.next_value::<IgnoredAny>()?;
                self.partial_response_strategy = Some(Position::of(&key.referenced));
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// A list of rule groups as written.
pub(crate) type RawGroupList = Spanned<List<Spanned<Node<RawGroup>>>>;

/// The top level of a rule file: `groups:`.
#[derive(Debug, Default, Clone)]
pub(crate) struct RawGroups {
    pub groups: Option<RawGroupList>,
}

impl Record for RawGroups {
    const TYPE: &'static str = "rulefmt.RuleGroups";
    fn field<'de, A: MapAccess<'de>>(
        &mut self,
        key: &Spanned<String>,
        map: &mut A,
    ) -> Result<bool, A::Error> {
        if key.value == "groups" {
            self.groups = Some(map.next_value()?);
            Ok(true)
        } else {
            Ok(false)
        }
    }
}

/// A whole rule file document.
pub(crate) type RuleFileDoc = Spanned<Node<RawGroups>>;
