//! The common kinds of Prometheus relabeling, for `alert_relabel_configs`.

use std::collections::BTreeMap;

/// What a relabel step does (Prometheus's `action`). `hashmod` is not supported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RelabelAction {
    /// Set `target_label` to the expanded `replacement` when `regex` matches the source value.
    #[default]
    Replace,
    /// Drop the alert unless `regex` matches the source value.
    Keep,
    /// Drop the alert when `regex` matches the source value.
    Drop,
    /// Drop the alert unless the source value equals the value of `target_label`.
    KeepEqual,
    /// Drop the alert when the source value equals the value of `target_label`.
    DropEqual,
    /// Copy every label whose name matches `regex` to the name given by `replacement`.
    LabelMap,
    /// Remove every label whose name matches `regex`.
    LabelDrop,
    /// Remove every label whose name does not match `regex`.
    LabelKeep,
    /// Set `target_label` to the lower-cased source value.
    Lowercase,
    /// Set `target_label` to the upper-cased source value.
    Uppercase,
}

impl std::str::FromStr for RelabelAction {
    type Err = RelabelError;

    fn from_str(s: &str) -> Result<RelabelAction, RelabelError> {
        Ok(match s.to_ascii_lowercase().as_str() {
            "replace" => RelabelAction::Replace,
            "keep" => RelabelAction::Keep,
            "drop" => RelabelAction::Drop,
            "keepequal" => RelabelAction::KeepEqual,
            "dropequal" => RelabelAction::DropEqual,
            "labelmap" => RelabelAction::LabelMap,
            "labeldrop" => RelabelAction::LabelDrop,
            "labelkeep" => RelabelAction::LabelKeep,
            "lowercase" => RelabelAction::Lowercase,
            "uppercase" => RelabelAction::Uppercase,
            other => return Err(RelabelError(format!("unknown or unsupported relabel action {other:?}"))),
        })
    }
}

/// An invalid relabel configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RelabelError(pub String);

/// One relabel step, with Prometheus's defaults from [`RelabelConfig::new`].
#[derive(Debug, Clone)]
pub struct RelabelConfig {
    /// Labels whose values are joined with `separator` to form the source value.
    pub source_labels: Vec<String>,
    /// Separator of the source values (`;`).
    pub separator: String,
    /// The label written by `replace`, `lowercase`, `uppercase` (may use `$1`), or compared by
    /// `keepequal`/`dropequal`.
    pub target_label: String,
    /// The regular expression, fully anchored (default `(.*)`).
    pub regex: regex::Regex,
    /// The replacement with `$1`/`${name}` references (default `$1`).
    pub replacement: String,
    /// The action.
    pub action: RelabelAction,
}

impl RelabelConfig {
    /// A step with `action` and Prometheus's defaults for everything else; `regex` is anchored.
    pub fn new(action: RelabelAction, regex: &str) -> Result<RelabelConfig, RelabelError> {
        Ok(RelabelConfig {
            source_labels: Vec::new(),
            separator: ";".into(),
            target_label: String::new(),
            regex: anchored(regex)?,
            replacement: "$1".into(),
            action,
        })
    }

    /// Checks the fields an action needs, with Prometheus's messages.
    pub fn validate(&self) -> Result<(), RelabelError> {
        use RelabelAction::*;
        if matches!(self.action, Replace | Lowercase | Uppercase | KeepEqual | DropEqual)
            && self.target_label.is_empty()
        {
            return Err(RelabelError(format!(
                "relabel configuration for {} action requires 'target_label' value",
                action_name(self.action)
            )));
        }
        if matches!(self.action, KeepEqual | DropEqual) && self.source_labels.is_empty() {
            return Err(RelabelError(format!(
                "relabel configuration for {} action requires 'source_labels' value",
                action_name(self.action)
            )));
        }
        Ok(())
    }
}

fn action_name(a: RelabelAction) -> &'static str {
    match a {
        RelabelAction::Replace => "replace",
        RelabelAction::Keep => "keep",
        RelabelAction::Drop => "drop",
        RelabelAction::KeepEqual => "keepequal",
        RelabelAction::DropEqual => "dropequal",
        RelabelAction::LabelMap => "labelmap",
        RelabelAction::LabelDrop => "labeldrop",
        RelabelAction::LabelKeep => "labelkeep",
        RelabelAction::Lowercase => "lowercase",
        RelabelAction::Uppercase => "uppercase",
    }
}

fn anchored(re: &str) -> Result<regex::Regex, RelabelError> {
    regex::Regex::new(&format!("^(?s:{re})$")).map_err(|e| RelabelError(format!("invalid regex {re:?}: {e}")))
}

/// Applies `configs` in order; `None` when the alert is dropped.
pub(crate) fn process(
    labels: &BTreeMap<String, String>,
    configs: &[RelabelConfig],
) -> Option<BTreeMap<String, String>> {
    let mut lb = labels.clone();
    for c in configs {
        let val = c
            .source_labels
            .iter()
            .map(|n| lb.get(n).map_or("", String::as_str))
            .collect::<Vec<_>>()
            .join(&c.separator);
        match c.action {
            RelabelAction::Keep if !c.regex.is_match(&val) => return None,
            RelabelAction::Drop if c.regex.is_match(&val) => return None,
            RelabelAction::KeepEqual if lb.get(&c.target_label).map_or("", String::as_str) != val => {
                return None;
            }
            RelabelAction::DropEqual if lb.get(&c.target_label).map_or("", String::as_str) == val => {
                return None;
            }
            RelabelAction::Replace => {
                let Some(caps) = c.regex.captures(&val) else { continue };
                let mut target = String::new();
                caps.expand(&c.target_label, &mut target);
                if target.is_empty() {
                    continue;
                }
                let mut res = String::new();
                caps.expand(&c.replacement, &mut res);
                if res.is_empty() {
                    lb.remove(&target);
                } else {
                    lb.insert(target, res);
                }
            }
            RelabelAction::Lowercase => {
                lb.insert(c.target_label.clone(), val.to_lowercase());
            }
            RelabelAction::Uppercase => {
                lb.insert(c.target_label.clone(), val.to_uppercase());
            }
            RelabelAction::LabelMap => {
                let mut add = Vec::new();
                for (k, v) in &lb {
                    if c.regex.is_match(k) {
                        add.push((c.regex.replace_all(k, c.replacement.as_str()).into_owned(), v.clone()));
                    }
                }
                lb.extend(add);
            }
            RelabelAction::LabelDrop => lb.retain(|k, _| !c.regex.is_match(k)),
            RelabelAction::LabelKeep => lb.retain(|k, _| c.regex.is_match(k)),
            _ => {}
        }
    }
    Some(lb)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn actions() {
        let mut replace = RelabelConfig::new(RelabelAction::Replace, "(.*):.*").unwrap();
        replace.source_labels = vec!["instance".into()];
        replace.target_label = "host".into();
        let mut drop = RelabelConfig::new(RelabelAction::Drop, "info").unwrap();
        drop.source_labels = vec!["severity".into()];
        let labeldrop = RelabelConfig::new(RelabelAction::LabelDrop, "tmp_.*").unwrap();
        let cfgs = [replace, drop, labeldrop];
        let out = process(&labels(&[("instance", "a:1"), ("tmp_x", "1"), ("severity", "page")]), &cfgs);
        assert_eq!(out, Some(labels(&[("host", "a"), ("instance", "a:1"), ("severity", "page")])));
        assert_eq!(process(&labels(&[("severity", "info")]), &cfgs), None);
    }
}
