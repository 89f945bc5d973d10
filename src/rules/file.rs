//! Prometheus rule files: `groups:` documents as `rule_files` loads them and `promtool check rules`
//! checks them.

use serde_saphyr::{DuplicateKeyPolicy, Options};

use super::error::{ErrorDetail, RuleError};
use super::raw::RuleFileDoc;
use super::validate::{Dialect, Origin, check_groups};
use super::{LoadOptions, RuleGroup};

/// The warning promtool logs when a rule file has more than one YAML document.
pub const MULTIPLE_DOCUMENTS_WARNING: &str =
    "Multiple document yaml rules files are not supported, only the first document is processed";

/// A rule file's groups, with the warnings found while reading it.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleFile {
    /// The groups, in file order.
    pub groups: Vec<RuleGroup>,
    /// Problems that do not stop loading (a second YAML document, ignored).
    pub warnings: Vec<String>,
}

/// The YAML decoder options rule files are read with: repeated keys are reported by our own decoder
/// (as Go's does), everything else is YAML 1.2 with Go-compatible scalars.
pub(crate) fn yaml_options() -> Options {
    let mut options = Options::default();
    options.duplicate_keys = DuplicateKeyPolicy::PassThrough;
    options.with_snippet = false;
    options
}

/// Formats a YAML syntax or shape error as `yaml: line L: column C: message`.
pub(crate) fn yaml_error(e: &serde_saphyr::Error) -> String {
    let text = e.to_string();
    let text = text.strip_prefix("error: ").unwrap_or(&text).trim_end();
    match e.location() {
        Some(loc) if loc.line() > 0 => {
            let (line, column) = (loc.line(), loc.column());
            let message = text.strip_prefix(&format!("line {line} column {column}: ")).unwrap_or(text);
            let message = message.replace(&format!(" at line {line}, column {column}"), "");
            format!("yaml: line {line}: column {column}: {message}")
        }
        _ => format!("yaml: {text}"),
    }
}

/// Reads a rule file's text. `file` names it in errors (`None` for standard input: no prefix, as
/// promtool prints). The groups are keyed by `file` (or `-`).
///
/// ```
/// use ferroprom::rules::{LoadOptions, file::parse_rule_file};
///
/// let text = "groups:\n- name: g\n  rules:\n  - record: job:up:sum\n    expr: sum by (job) (up)\n";
/// let parsed = parse_rule_file(text, Some("rules.yml"), &LoadOptions::default()).unwrap();
/// assert_eq!(parsed.groups[0].rules[0].name, "job:up:sum");
///
/// let errors = parse_rule_file("groups:\n- name: g\n  rules:\n  - expr: up\n", Some("r.yml"), &LoadOptions::default())
///     .unwrap_err();
/// assert_eq!(errors[0].to_string(), "r.yml: 0:0: 0:0: group \"g\", rule 1, \"\": one of 'record' or 'alert' must be set");
/// ```
pub fn parse_rule_file(
    content: &str,
    file: Option<&str>,
    options: &LoadOptions,
) -> Result<RuleFile, Vec<RuleError>> {
    let mut warnings = Vec::new();
    let doc = match serde_saphyr::from_str_with_options::<Option<RuleFileDoc>>(content, yaml_options()) {
        Ok(doc) => doc,
        Err(serde_saphyr::Error::MultipleDocuments { .. }) => {
            warnings.push(MULTIPLE_DOCUMENTS_WARNING.to_string());
            first_document(content).map_err(|e| vec![RuleError::new(file, ErrorDetail::Yaml(e))])?
        }
        Err(e) => return Err(vec![RuleError::new(file, ErrorDetail::Yaml(yaml_error(&e)))]),
    };
    let origin = Origin {
        file,
        group_file: file.unwrap_or("-"),
        object: None,
        dialect: Dialect::RuleFile,
        source: content,
    };
    let groups = check_groups(doc.as_ref(), &origin, options)?;
    Ok(RuleFile { groups, warnings })
}

/// Decodes only the first document of a multi-document stream; later documents are not looked at.
fn first_document(content: &str) -> Result<Option<RuleFileDoc>, String> {
    let mut reader = content.as_bytes();
    let mut docs = serde_saphyr::read_with_options::<_, RuleFileDoc>(&mut reader, yaml_options());
    match docs.next() {
        Some(Ok(doc)) => Ok(Some(doc)),
        Some(Err(e)) => Err(yaml_error(&e)),
        None => Ok(None),
    }
}
