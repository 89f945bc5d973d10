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

/// The paths in `dir` that `keep` accepts, sorted (entries that cannot be read are skipped).
pub fn sorted_files(dir: &Path, keep: impl Fn(&Path) -> bool) -> std::io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(dir)?.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| keep(p)).collect();
    files.sort();
    Ok(files)
}

/// [`sorted_files`], failing the test when `dir` cannot be read.
pub fn files_in(dir: &Path, keep: impl Fn(&Path) -> bool) -> Vec<PathBuf> {
    sorted_files(dir, keep).unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
}

/// Whether `p` has the extension `ext`.
pub fn has_extension(p: &Path, ext: &str) -> bool {
    p.extension().is_some_and(|e| e == ext)
}

/// Every promqltest script: upstream's (`../shared/conformance/promqltest/`), then ours
/// (`testdata/promql/`). A directory that cannot be read contributes none.
pub fn promqltest_files() -> Vec<PathBuf> {
    let scripts =
        |dir: &str| sorted_files(&root().join(dir), |p| has_extension(p, "test")).unwrap_or_default();
    let mut files = scripts("../shared/conformance/promqltest");
    files.extend(scripts("testdata/promql"));
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
    files_in(dir, |p| has_extension(p, "txt") && !p.ends_with("expected-failures.txt"))
}
