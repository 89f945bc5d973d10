//! Errors found while loading rule files and manifests, printed the way promtool prints them.

use std::fmt;

use super::raw::Position;

/// One problem with a rule file or manifest. `Display` gives promtool's line, e.g.
/// `rules.yml: 6:15: group "g", rule 1, "x": could not parse expression: ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    /// The file the error is about; `None` for standard input (promtool prints no prefix then).
    pub file: Option<String>,
    /// The manifest object the error is about (`PrometheusRule monitoring/example`), if any.
    pub object: Option<String>,
    /// What is wrong.
    pub detail: ErrorDetail,
}

/// What is wrong, with the positions promtool prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorDetail {
    /// The file could not be read.
    Read(String),
    /// The YAML could not be decoded into rule groups (syntax errors, unknown or repeated keys, values
    /// of the wrong type, bad durations). The text is complete, e.g.
    /// `yaml: unmarshal errors:\n  line 8: field annotation not found in type rulefmt.Rule`.
    Yaml(String),
    /// A problem with a group as a whole (`Groupname must not be empty`, repeated group names, group
    /// labels), optionally at the group's position.
    Group {
        /// Position of the group's mapping, when promtool prints one.
        at: Option<Position>,
        /// The message.
        message: String,
    },
    /// A problem with one rule.
    Rule {
        /// Group name.
        group: String,
        /// 1-based index of the rule in its group.
        index: usize,
        /// The rule's `alert` or `record` name (empty when neither is set).
        name: String,
        /// The YAML node(s) the problem is at; promtool prints `0:0` for an absent node.
        at: Vec<Position>,
        /// The message.
        message: String,
    },
    /// A problem with a manifest that is not about its rule groups (bad selector input, a
    /// `PrometheusRule` without a name, ...).
    Manifest(String),
}

impl RuleError {
    pub(crate) fn new(file: Option<&str>, detail: ErrorDetail) -> RuleError {
        RuleError { file: file.map(str::to_string), object: None, detail }
    }
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{file}: ")?;
        }
        if let Some(object) = &self.object {
            write!(f, "{object}: ")?;
        }
        match &self.detail {
            ErrorDetail::Read(m) | ErrorDetail::Yaml(m) | ErrorDetail::Manifest(m) => f.write_str(m),
            ErrorDetail::Group { at: Some(at), message } => write!(f, "{at}: {message}"),
            ErrorDetail::Group { at: None, message } => f.write_str(message),
            ErrorDetail::Rule { group, index, name, at, message } => {
                for p in at {
                    write!(f, "{p}: ")?;
                }
                write!(
                    f,
                    "group {}, rule {index}, {}: {message}",
                    crate::model::go_quote(group),
                    crate::model::go_quote(name)
                )
            }
        }
    }
}

impl std::error::Error for RuleError {}
