//! Prometheus rules: rule files and PrometheusRule manifests, loaded and checked as Prometheus and
//! promtool do.
//!
//! [`load_files`] reads rule files (`groups:` documents) and Kubernetes `PrometheusRule` manifests
//! (single or multi-document, `List` kinds too) into [`RuleGroup`]s, applying every check of
//! Prometheus's loader with its messages ([`RuleError`] prints promtool's lines). Manifests are chosen
//! by a label [`Selector`](manifest::Selector), as the Prometheus Operator's `ruleSelector` does.
//!
//! ```
//! use ferroprom::rules::{LoadOptions, RuleKind, load_files};
//!
//! let dir = std::env::temp_dir().join(format!("ferroprom-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! let path = dir.join("node.rules.yml");
//! std::fs::write(&path, "groups:\n- name: node.rules\n  interval: 30s\n  rules:\n  - alert: WebhookAlert\n    expr: vector(1)\n    for: 1m\n")?;
//!
//! let groups = load_files(&[&path], &LoadOptions::default()).map_err(|e| e[0].to_string())?;
//! assert_eq!(groups[0].name, "node.rules");
//! assert_eq!(groups[0].interval, Some(std::time::Duration::from_secs(30)));
//! assert!(matches!(groups[0].rules[0].kind, RuleKind::Alerting { .. }));
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The types here describe rules as configured; the rule manager keeps evaluation state (health, last
//! error, active alerts) beside them, keyed by group `file;name` and rule index.

pub mod alerting;
pub mod api;
pub mod check;
pub mod duration;
mod error;
pub mod expansion;
mod expr;
pub mod file;
pub mod group;
pub mod lint;
pub mod manager;
pub mod manifest;
mod raw;
pub mod recording;
pub mod template;
mod validate;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

pub use error::{ErrorDetail, RuleError};
pub use raw::Position;

use crate::parser::{Expr, ParseOptions};

/// How rule files are read.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Accept keys the format does not know (promtool's `--ignore-unknown-fields`).
    pub ignore_unknown_fields: bool,
    /// PromQL features rule expressions may use.
    pub parse: ParseOptions,
    /// Check metric and label names against the legacy `[a-zA-Z_:][a-zA-Z0-9_:]*` scheme instead of
    /// Prometheus 3's UTF-8 scheme.
    pub legacy_names: bool,
    /// Which PrometheusRule manifests load (all when `None`). Plain rule files always load.
    pub selector: Option<manifest::Selector>,
}

/// A rule group: rules evaluated in order, at one interval.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleGroup {
    /// The group's name, unique within its file.
    pub name: String,
    /// The file the group belongs to: the path it was loaded from, or for a PrometheusRule the file
    /// name the operator would write (`<namespace>-<name>[-<uid>].yaml`). Groups are keyed by
    /// `file;name`.
    pub file: String,
    /// Where the group starts in its source.
    pub position: Position,
    /// Evaluation interval; `None` means the global evaluation interval.
    pub interval: Option<Duration>,
    /// How far in the past rules query; `None` means the global rule query offset.
    pub query_offset: Option<Duration>,
    /// Most series (alerts) one rule may produce per evaluation; 0 means no limit.
    pub limit: usize,
    /// Labels added to every rule's output (rule labels win on conflicts).
    pub labels: BTreeMap<String, String>,
    /// The rules, in evaluation order.
    pub rules: Vec<Rule>,
}

impl RuleGroup {
    /// The key the rule manager identifies the group by: `file;name`.
    pub fn key(&self) -> String {
        group::group_key(&self.file, &self.name)
    }

    /// The labels a rule adds to its output: the group's labels overridden by the rule's.
    pub fn rule_labels(&self, rule: &Rule) -> BTreeMap<String, String> {
        let mut out = self.labels.clone();
        out.extend(rule.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
        out
    }
}

/// One recording or alerting rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    /// The recorded metric name, or the alert name.
    pub name: String,
    /// Recording or alerting, with the alerting rule's settings.
    pub kind: RuleKind,
    /// The PromQL expression as written.
    pub expr: String,
    /// The expression, parsed with the load options' PromQL features.
    pub parsed: Expr,
    /// The rule's own labels (templates, for alerting rules).
    pub labels: BTreeMap<String, String>,
    /// Where the rule starts in its source.
    pub position: Position,
}

/// What a rule does with its result.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleKind {
    /// Stores the result under the rule's name.
    Recording,
    /// Raises an alert per result series.
    Alerting {
        /// How long a series must be present before the alert fires (`for`).
        hold: Duration,
        /// How long the alert keeps firing after its series disappear (`keep_firing_for`).
        keep_firing_for: Duration,
        /// Annotation templates.
        annotations: BTreeMap<String, String>,
    },
}

/// Loads rule files and PrometheusRule manifests, in order. A file whose first document has a `kind`
/// (or `apiVersion`) key is read as manifests, anything else as a rule file. On failure, every error
/// of every file is returned.
pub fn load_files<P: AsRef<Path>>(
    paths: &[P],
    options: &LoadOptions,
) -> Result<Vec<RuleGroup>, Vec<RuleError>> {
    let mut groups = Vec::new();
    let mut errors = Vec::new();
    for path in paths {
        match load_file(path.as_ref(), options) {
            Ok(loaded) => groups.extend(loaded.groups),
            Err(e) => errors.extend(e),
        }
    }
    if errors.is_empty() { Ok(groups) } else { Err(errors) }
}

/// What one file held.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedFile {
    /// The groups loaded from the file.
    pub groups: Vec<RuleGroup>,
    /// Problems that did not stop loading.
    pub warnings: Vec<String>,
    /// For manifest files: the selected PrometheusRule objects (`namespace/name`), and the ones the
    /// selector skipped.
    pub manifests: Option<manifest::Selection>,
}

/// Loads one file (see [`load_files`]).
pub fn load_file(path: &Path, options: &LoadOptions) -> Result<LoadedFile, Vec<RuleError>> {
    let name = path.display().to_string();
    let content = std::fs::read_to_string(path)
        .map_err(|e| vec![RuleError::new(Some(&name), ErrorDetail::Read(io_message(&name, &e)))])?;
    load_text(&content, Some(&name), options)
}

/// Loads rule-file or manifest text; `file` names it in errors (`None` for standard input).
pub fn load_text(
    content: &str,
    file: Option<&str>,
    options: &LoadOptions,
) -> Result<LoadedFile, Vec<RuleError>> {
    if manifest::looks_like_manifest(content) {
        let loaded = manifest::parse_manifests(content, file, options)?;
        Ok(LoadedFile { groups: loaded.groups, warnings: Vec::new(), manifests: Some(loaded.selection) })
    } else {
        let parsed = file::parse_rule_file(content, file, options)?;
        Ok(LoadedFile { groups: parsed.groups, warnings: parsed.warnings, manifests: None })
    }
}

/// An I/O error in Go's words (`open rules.yml: no such file or directory`).
fn io_message(name: &str, e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => format!("open {name}: no such file or directory"),
        std::io::ErrorKind::PermissionDenied => format!("open {name}: permission denied"),
        std::io::ErrorKind::IsADirectory => format!("read {name}: is a directory"),
        std::io::ErrorKind::InvalidData => format!("read {name}: invalid UTF-8"),
        _ => format!("open {name}: {e}"),
    }
}
