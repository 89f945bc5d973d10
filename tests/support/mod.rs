//! Helpers shared by the printer, round-trip, fuzz-regression and promqltest-script tests.

#![allow(dead_code)]

pub mod eval_check;
pub mod parse_check;
pub mod roundtrip_check;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `.test` files directly in `dir`, sorted (none when `dir` cannot be read).
fn test_files(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "test"))
        .collect();
    files.sort();
    files
}

/// Every promqltest script: upstream's (`../shared/conformance/promqltest/`), then ours
/// (`testdata/promql/`).
pub fn promqltest_files() -> Vec<PathBuf> {
    let mut files = test_files(&root().join("../shared/conformance/promqltest"));
    files.extend(test_files(&root().join("testdata/promql")));
    files
}

/// Known gaps: `(kind, input) -> reason`, from `testdata/printer/expected-failures.txt`.
pub fn expected_failures() -> BTreeMap<(String, String), String> {
    let path = root().join("testdata/printer/expected-failures.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let mut out = BTreeMap::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let mut parts = line.splitn(3, '\t');
        let (Some(kind), Some(input)) = (parts.next(), parts.next()) else {
            panic!("{}: malformed line {line:?}", path.display());
        };
        let reason = parts.next().unwrap_or("").to_string();
        out.insert((kind.to_string(), input.to_string()), reason);
    }
    out
}

/// Outcome of a batch of checks, failing with one report that lists every unexpected result.
#[derive(Default)]
pub struct Report {
    pub passed: usize,
    pub known: usize,
    pub failures: Vec<String>,
}

impl Report {
    /// Records the result of checking `input` as `kind`, against the expected-failures list.
    pub fn record(
        &mut self,
        known: &BTreeMap<(String, String), String>,
        kind: &str,
        input: &str,
        where_: &str,
        result: Result<(), String>,
    ) {
        let listed = known.get(&(kind.to_string(), input.to_string()));
        match (result, listed) {
            (Ok(()), None) => self.passed += 1,
            (Err(_), Some(_)) => self.known += 1,
            (Ok(()), Some(reason)) => self.failures.push(format!(
                "{where_}: {input:?} passes but is listed as a known {kind} failure ({reason}); remove the entry"
            )),
            (Err(msg), None) => self.failures.push(format!("{where_}: {input:?}\n{msg}")),
        }
    }

    /// Panics with every failure, if any.
    pub fn finish(self, what: &str) {
        eprintln!("{what}: {} passed, {} known failures", self.passed, self.known);
        if !self.failures.is_empty() {
            panic!("{what}: {} failures\n\n{}", self.failures.len(), self.failures.join("\n\n"));
        }
    }
}

/// The `.txt` files of a directory, sorted.
pub fn txt_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt") && !p.ends_with("expected-failures.txt"))
        .collect();
    files.sort();
    files
}
