//! Lint checks over loaded rule groups (promtool's `--lint`).

use std::collections::BTreeMap;

use super::RuleGroup;

/// Rules that share a name and a label set (group labels merged with rule labels): their results
/// would collide.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct DuplicateRule {
    /// The recorded metric or alert name.
    pub name: String,
    /// The merged labels.
    pub labels: BTreeMap<String, String>,
}

/// Finds duplicated rules across `groups`, each reported once, sorted by name then labels.
pub fn duplicate_rules(groups: &[RuleGroup]) -> Vec<DuplicateRule> {
    let mut all: Vec<DuplicateRule> = groups
        .iter()
        .flat_map(|g| {
            g.rules.iter().map(|r| DuplicateRule { name: r.name.clone(), labels: g.rule_labels(r) })
        })
        .collect();
    all.sort();
    let mut out: Vec<DuplicateRule> = Vec::new();
    for pair in all.windows(2) {
        if pair[0] == pair[1] && out.last() != Some(&pair[1]) {
            out.push(pair[1].clone());
        }
    }
    out
}

/// promtool's text for duplicated rules (without the `lint error ` prefix).
pub fn duplicates_message(duplicates: &[DuplicateRule]) -> String {
    let mut out = format!("{} duplicate rule(s) found.\n", duplicates.len());
    for d in duplicates {
        out.push_str(&format!("Metric: {}\nLabel(s):\n", d.name));
        for (k, v) in &d.labels {
            out.push_str(&format!("\t{k}: {v}\n"));
        }
    }
    out.push_str("Might cause inconsistency while recording expressions");
    out
}
