//! The engine against Prometheus's own promqltest scripts (`../shared/conformance/promqltest/`,
//! read from there) and ours (`testdata/promql/`), with one thread and with several.
//!
//! Evals that do not pass yet are listed in `testdata/engine/expected-failures.txt`, one
//! `file:line<TAB>reason` per line. The test fails when an unlisted eval fails and when a listed
//! eval passes (so the list only shrinks). `UPDATE_EXPECT=1` rewrites the list, keeping the
//! reasons already written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ferroprom::engine::{Engine, EngineOptions};
use ferroprom::promqltest::{FileReport, RunOptions, run_text, summary};

mod support;

fn run_all(threads: usize, optimize: bool) -> Vec<FileReport> {
    let engine = Engine::new(EngineOptions { threads, optimize, ..EngineOptions::promqltest() });
    support::promqltest_files()
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f).unwrap_or_default();
            let name = f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            run_text(&name, &text, &engine, &RunOptions::default())
        })
        .collect()
}

fn expected_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/engine/expected-failures.txt")
}

fn read_expected() -> BTreeMap<String, String> {
    let text = std::fs::read_to_string(expected_path()).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once('\t') {
            Some((k, r)) => (k.to_string(), r.to_string()),
            None => (l.to_string(), String::new()),
        })
        .collect()
}

/// A reason for a new entry, from the failure text.
fn reason_for(file: &str, failure: &str) -> String {
    let f = failure.to_lowercase();
    if f.contains("histogram") || file == "native_histograms.test" {
        "native histogram evaluation is a later issue".to_string()
    } else if file == "info.test" || f.contains("function info") {
        "info() is not implemented yet".to_string()
    } else if file == "start_timestamps.test" {
        "start timestamps (UseStartTimestamps) are not implemented yet".to_string()
    } else {
        failure.chars().take(160).collect()
    }
}

fn failures(reports: &[FileReport]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for r in reports {
        for o in &r.outcomes {
            if let Some(f) = &o.failure {
                out.insert(format!("{}:{}", r.name, o.line), reason_for(&r.name, f));
            }
        }
    }
    out
}

fn check(threads: usize, optimize: bool) {
    let reports = run_all(threads, optimize);
    eprintln!("threads={threads} optimize={optimize}\n{}", summary(&reports));
    let actual = failures(&reports);
    let expected = read_expected();
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        let mut text =
            String::from("# Evals of the promqltest corpus that do not pass yet: file:line<TAB>reason.\n");
        for (k, r) in &actual {
            let reason = expected.get(k).filter(|r| !r.is_empty()).unwrap_or(r);
            text.push_str(&format!("{k}\t{reason}\n"));
        }
        std::fs::write(expected_path(), text).unwrap();
        return;
    }
    let mut problems = Vec::new();
    for r in &reports {
        for o in &r.outcomes {
            let key = format!("{}:{}", r.name, o.line);
            if let Some(f) = &o.failure
                && !expected.contains_key(&key)
            {
                problems.push(format!("unexpected failure {key}: {f}"));
            }
        }
    }
    for k in expected.keys() {
        if !actual.contains_key(k) {
            problems.push(format!("{k} passes now: remove it from expected-failures.txt"));
        }
    }
    assert!(problems.is_empty(), "threads={threads}:\n{}", problems.join("\n"));
}

#[test]
fn corpus_single_thread() {
    check(1, true);
}

#[test]
fn corpus_parallel() {
    check(4, true);
}

#[test]
fn corpus_without_optimizer() {
    check(1, false);
}
