//! Label sets: the identity of a series.
//!
//! A [`Labels`] value is an immutable, name-sorted list of `name="value"` pairs behind one
//! reference-counted allocation, so cloning it is a counter increment. The 64-bit hashes
//! ([`Labels::fingerprint`], [`Labels::hash_for_labels`], [`Labels::hash_without_labels`]) follow
//! Prometheus's `Hash`, `HashForLabels` and `HashWithoutLabels`: every included pair is fed as
//! `name 0xff value 0xff` into one xxHash (XXH3-64 here; the numbers differ from Go's, the
//! equalities do not).

use std::fmt;
use std::sync::Arc;

use smallvec::SmallVec;
use xxhash_rust::xxh3::xxh3_64;

use super::matcher::{is_legacy_label_name, write_quoted};

/// The label that holds the metric name.
pub const METRIC_NAME: &str = "__name__";

/// The separator fed between names and values when hashing.
const SEP: u8 = 0xff;

/// One `name="value"` pair.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Label {
    /// The label name.
    pub name: Arc<str>,
    /// The label value.
    pub value: Arc<str>,
}

impl Label {
    /// A pair from anything that converts into shared strings.
    pub fn new(name: impl Into<Arc<str>>, value: impl Into<Arc<str>>) -> Label {
        Label { name: name.into(), value: value.into() }
    }
}

/// An immutable label set, sorted by name, names unique.
///
/// Ordering (`Ord`) is Prometheus's `labels.Compare`: pairwise by name, then value, the shorter set
/// first when one is a prefix of the other. `Display` prints Prometheus's `Labels.String()` form,
/// `{__name__="up", job="node"}`, which is what engine error messages quote; [`Labels::metric_display`]
/// gives the `up{job="node"}` form.
///
/// ```
/// use ferroprom::model::Labels;
/// let ls = Labels::from_pairs([("job", "node"), ("__name__", "up"), ("instance", "a:9100")]);
/// assert_eq!(ls.get("job"), Some("node"));
/// assert_eq!(ls.metric_name(), Some("up"));
/// assert_eq!(ls.to_string(), r#"{__name__="up", instance="a:9100", job="node"}"#);
/// assert_eq!(ls.metric_display().to_string(), r#"up{instance="a:9100", job="node"}"#);
/// let without_instance = ls.builder().del("instance").labels();
/// assert_eq!(without_instance.len(), 2);
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Labels(Arc<[Label]>);

impl Default for Labels {
    fn default() -> Labels {
        Labels::empty()
    }
}

impl Labels {
    /// The empty label set.
    pub fn empty() -> Labels {
        Labels(Arc::from(Vec::new()))
    }

    /// A label set from pairs in any order. When a name repeats, the last pair wins. Pairs with an
    /// empty value are kept (use the builder to drop them, as Prometheus's builder does).
    pub fn from_pairs<N, V>(pairs: impl IntoIterator<Item = (N, V)>) -> Labels
    where
        N: Into<Arc<str>>,
        V: Into<Arc<str>>,
    {
        Labels::from_vec(pairs.into_iter().map(|(n, v)| Label::new(n, v)).collect())
    }

    /// A label set from labels in any order; when a name repeats, the last one wins.
    pub fn from_vec(mut labels: Vec<Label>) -> Labels {
        if !labels.is_sorted_by(|a, b| a.name < b.name) {
            // Stable sort keeps input order among equal names, so "last wins" below is well defined.
            labels.sort_by(|a, b| a.name.cmp(&b.name));
            let mut out: Vec<Label> = Vec::with_capacity(labels.len());
            for l in labels {
                match out.last_mut() {
                    Some(prev) if prev.name == l.name => *prev = l,
                    _ => out.push(l),
                }
            }
            labels = out;
        }
        Labels(Arc::from(labels))
    }

    /// Whether both values share one allocation (then they are equal; the converse does not
    /// hold). A cheap first check before comparing or hashing.
    pub fn ptr_eq(&self, other: &Labels) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }

    /// The number of labels.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the set has no labels.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The labels, sorted by name.
    pub fn as_slice(&self) -> &[Label] {
        &self.0
    }

    /// Iterates over the labels in name order.
    pub fn iter(&self) -> std::slice::Iter<'_, Label> {
        self.0.iter()
    }

    /// The value of label `name`, if present.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.position(name).ok().map(|i| &*self.0[i].value)
    }

    /// The value of label `name`, or `""` when absent (Prometheus's `Get`).
    pub fn value(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }

    /// Whether label `name` is present.
    pub fn has(&self, name: &str) -> bool {
        self.position(name).is_ok()
    }

    fn position(&self, name: &str) -> Result<usize, usize> {
        // Small sets are the norm: a linear scan beats the binary search's branches.
        if self.0.len() <= 8 {
            for (i, l) in self.0.iter().enumerate() {
                match (*l.name).cmp(name) {
                    std::cmp::Ordering::Less => {}
                    std::cmp::Ordering::Equal => return Ok(i),
                    std::cmp::Ordering::Greater => return Err(i),
                }
            }
            return Err(self.0.len());
        }
        self.0.binary_search_by(|l| (*l.name).cmp(name))
    }

    /// The metric name (the `__name__` label), if present.
    pub fn metric_name(&self) -> Option<&str> {
        self.get(METRIC_NAME)
    }

    /// The set without `__name__` (shares the allocation when there is none).
    pub fn without_metric_name(&self) -> Labels {
        if self.has(METRIC_NAME) { self.builder().del(METRIC_NAME).labels() } else { self.clone() }
    }

    /// Prometheus's `MatchLabels`: with `on`, only the labels named in `names`; otherwise all labels
    /// except those named and except `__name__`.
    pub fn match_labels(&self, on: bool, names: &[impl AsRef<str>]) -> Labels {
        let keep = |l: &Label| {
            let named = names.iter().any(|n| n.as_ref() == &*l.name);
            if on { named } else { !named && &*l.name != METRIC_NAME }
        };
        Labels(self.0.iter().filter(|l| keep(l)).cloned().collect())
    }

    /// A builder that starts from this set.
    pub fn builder(&self) -> LabelsBuilder {
        LabelsBuilder { base: self.clone(), del: SmallVec::new(), add: SmallVec::new() }
    }

    /// The hash of the whole set (Prometheus's `Hash`).
    pub fn fingerprint(&self) -> u64 {
        hash_labels(self.0.iter())
    }

    /// The hash of only the labels named in `names` (Prometheus's `HashForLabels`); `names` may be in
    /// any order.
    pub fn hash_for_labels(&self, names: &[impl AsRef<str>]) -> u64 {
        hash_labels(self.0.iter().filter(|l| names.iter().any(|n| n.as_ref() == &*l.name)))
    }

    /// The hash of all labels except those named in `names` and except `__name__` (Prometheus's
    /// `HashWithoutLabels`); `names` may be in any order.
    pub fn hash_without_labels(&self, names: &[impl AsRef<str>]) -> u64 {
        hash_labels(
            self.0
                .iter()
                .filter(|l| &*l.name != METRIC_NAME && !names.iter().any(|n| n.as_ref() == &*l.name)),
        )
    }

    /// The first label name that occurs twice, if any. Sets built here never have one; this exists
    /// for callers that check foreign data.
    pub fn duplicate_name(&self) -> Option<&str> {
        self.0.windows(2).find(|w| w[0].name == w[1].name).map(|w| &*w[0].name)
    }

    /// A value that prints the set as a metric, `name{a="b", c="d"}`: the name in front when it is a
    /// valid legacy metric name, otherwise quoted inside the braces as PromQL writes it
    /// (`{"http.requests", a="b"}`); `{}` for the empty set.
    pub fn metric_display(&self) -> MetricDisplay<'_> {
        MetricDisplay(self)
    }
}

fn hash_labels<'a>(labels: impl Iterator<Item = &'a Label>) -> u64 {
    let mut buf: SmallVec<[u8; 512]> = SmallVec::new();
    for l in labels {
        buf.extend_from_slice(l.name.as_bytes());
        buf.push(SEP);
        buf.extend_from_slice(l.value.as_bytes());
        buf.push(SEP);
    }
    xxh3_64(&buf)
}

impl<'a> IntoIterator for &'a Labels {
    type Item = &'a Label;
    type IntoIter = std::slice::Iter<'a, Label>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl fmt::Display for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, l) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write_name(f, &l.name)?;
            f.write_str("=")?;
            write_quoted(f, &l.value)?;
        }
        f.write_str("}")
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

fn write_name(f: &mut fmt::Formatter<'_>, name: &str) -> fmt::Result {
    if is_legacy_label_name(name) { f.write_str(name) } else { write_quoted(f, name) }
}

/// Whether `s` is a valid legacy metric name, `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub fn is_legacy_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Prints a label set as a metric; see [`Labels::metric_display`].
pub struct MetricDisplay<'a>(&'a Labels);

impl fmt::Display for MetricDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.0.metric_name();
        let name_outside = name.filter(|n| is_legacy_metric_name(n));
        if let Some(n) = name_outside {
            f.write_str(n)?;
        }
        let rest = self.0.iter().filter(|l| &*l.name != METRIC_NAME);
        let quoted_name = if name_outside.is_none() { name } else { None };
        if name_outside.is_some() && self.0.len() == 1 {
            return Ok(());
        }
        f.write_str("{")?;
        let mut first = true;
        if let Some(n) = quoted_name {
            write_quoted(f, n)?;
            first = false;
        }
        for l in rest {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write_name(f, &l.name)?;
            f.write_str("=")?;
            write_quoted(f, &l.value)?;
        }
        f.write_str("}")
    }
}

/// Builds a new label set from a base set plus changes, as Prometheus's `labels.Builder` does.
///
/// `set` with an empty value deletes the label. Changes are applied in order.
///
/// ```
/// use ferroprom::model::Labels;
/// let base = Labels::from_pairs([("__name__", "up"), ("job", "node"), ("env", "prod")]);
/// let ls = base.builder().set("job", "api").set("env", "").keep(&["job"]).labels();
/// assert_eq!(ls.to_string(), r#"{job="api"}"#);
/// ```
#[derive(Debug, Clone)]
pub struct LabelsBuilder {
    base: Labels,
    del: SmallVec<[Arc<str>; 4]>,
    add: SmallVec<[Label; 4]>,
}

impl LabelsBuilder {
    /// A builder starting from the empty set.
    pub fn new() -> LabelsBuilder {
        Labels::empty().builder()
    }

    /// Sets `name` to `value`; an empty value deletes the label.
    pub fn set(mut self, name: impl Into<Arc<str>>, value: impl Into<Arc<str>>) -> LabelsBuilder {
        self.set_mut(name, value);
        self
    }

    /// In-place form of [`LabelsBuilder::set`].
    pub fn set_mut(&mut self, name: impl Into<Arc<str>>, value: impl Into<Arc<str>>) {
        let (name, value) = (name.into(), value.into());
        if value.is_empty() {
            self.del_mut(&name);
            return;
        }
        self.del.retain(|d| *d != name);
        match self.add.iter_mut().find(|l| l.name == name) {
            Some(l) => l.value = value,
            None => self.add.push(Label { name, value }),
        }
    }

    /// Deletes label `name`.
    pub fn del(mut self, name: &str) -> LabelsBuilder {
        self.del_mut(name);
        self
    }

    /// In-place form of [`LabelsBuilder::del`].
    pub fn del_mut(&mut self, name: &str) {
        self.add.retain(|l| &*l.name != name);
        if !self.del.iter().any(|d| &**d == name) {
            self.del.push(Arc::from(name));
        }
    }

    /// Keeps only the labels named in `names` (Prometheus's `Keep`).
    pub fn keep(mut self, names: &[impl AsRef<str>]) -> LabelsBuilder {
        self.keep_mut(names);
        self
    }

    /// In-place form of [`LabelsBuilder::keep`].
    pub fn keep_mut(&mut self, names: &[impl AsRef<str>]) {
        let kept = |n: &str| names.iter().any(|k| k.as_ref() == n);
        self.add.retain(|l| kept(&l.name));
        let dropped: SmallVec<[Arc<str>; 4]> =
            self.base.iter().filter(|l| !kept(&l.name)).map(|l| l.name.clone()).collect();
        for d in dropped {
            if !self.del.contains(&d) {
                self.del.push(d);
            }
        }
    }

    /// Deletes every label named in `names` (the `without` of aggregations, which in PromQL also
    /// drops `__name__`; pass it explicitly when wanted).
    pub fn without(mut self, names: &[impl AsRef<str>]) -> LabelsBuilder {
        for n in names {
            self.del_mut(n.as_ref());
        }
        self
    }

    /// The value `name` has in the set being built.
    pub fn get(&self, name: &str) -> Option<&str> {
        if let Some(l) = self.add.iter().find(|l| &*l.name == name) {
            return Some(&l.value);
        }
        if self.del.iter().any(|d| &**d == name) {
            return None;
        }
        self.base.get(name)
    }

    /// The resulting label set. Returns the base set itself (no allocation) when nothing changed.
    pub fn labels(&self) -> Labels {
        if self.del.is_empty() && self.add.is_empty() {
            return self.base.clone();
        }
        let mut out: Vec<Label> = Vec::with_capacity(self.base.len() + self.add.len());
        out.extend(
            self.base
                .iter()
                .filter(|l| !self.del.contains(&l.name) && !self.add.iter().any(|a| a.name == l.name))
                .cloned(),
        );
        out.extend(self.add.iter().cloned());
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Labels(Arc::from(out))
    }
}

impl Default for LabelsBuilder {
    fn default() -> LabelsBuilder {
        LabelsBuilder::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_and_last_wins() {
        let ls = Labels::from_pairs([("b", "1"), ("a", "2"), ("b", "3")]);
        assert_eq!(ls.to_string(), r#"{a="2", b="3"}"#);
    }

    #[test]
    fn hashes() {
        let a = Labels::from_pairs([("__name__", "x"), ("a", "1"), ("b", "2")]);
        let b = Labels::from_pairs([("__name__", "y"), ("a", "1"), ("b", "3")]);
        assert_eq!(a.hash_for_labels(&["a"]), b.hash_for_labels(&["a"]));
        assert_ne!(a.hash_for_labels(&["a", "b"]), b.hash_for_labels(&["b", "a"]));
        assert_eq!(a.hash_without_labels(&["b"]), b.hash_without_labels(&["b"]));
        assert_ne!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.hash_without_labels(&[] as &[&str]), a.without_metric_name().fingerprint());
    }

    #[test]
    fn ordering_is_prometheus_compare() {
        let a = Labels::from_pairs([("a", "1")]);
        let b = Labels::from_pairs([("a", "1"), ("b", "1")]);
        let c = Labels::from_pairs([("a", "2")]);
        assert!(a < b && b < c);
    }

    #[test]
    fn metric_display() {
        let q = Labels::from_pairs([("__name__", "http.requests"), ("service.name", "x")]);
        assert_eq!(q.metric_display().to_string(), r#"{"http.requests", "service.name"="x"}"#);
        assert_eq!(q.to_string(), r#"{__name__="http.requests", "service.name"="x"}"#);
        assert_eq!(Labels::empty().metric_display().to_string(), "{}");
        assert_eq!(Labels::from_pairs([("__name__", "up")]).metric_display().to_string(), "up");
    }

    #[test]
    fn builder() {
        let base = Labels::from_pairs([("__name__", "up"), ("job", "node")]);
        assert_eq!(base.builder().set("a", "b").del("a").labels(), base);
        let ls = base.builder().del("job").set("job", "x").labels();
        assert_eq!(ls.value("job"), "x");
        assert_eq!(base.builder().without(&["__name__", "job"]).labels(), Labels::empty());
        assert_eq!(base.match_labels(false, &["job"]), Labels::empty());
        assert_eq!(base.match_labels(true, &["job"]).to_string(), r#"{job="node"}"#);
    }
}
