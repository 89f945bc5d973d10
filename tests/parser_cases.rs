//! Prometheus's parser test tables (`promql/parser/parse_test.go`), read from
//! `../shared/conformance/parser-cases.jsonl`: every `testExpr` case must be accepted or rejected as
//! upstream does, with upstream's first error message and its `L:C: parse error: ...` rendering;
//! `TestExtractSelectors` must extract the same selectors.
//!
//! Known gaps are listed in `testdata/parser/expected-failures.txt` (`<line> <reason>`, `line` being
//! the case's line in parse_test.go); the test fails when a listed case starts passing.

use std::collections::BTreeMap;
use std::path::PathBuf;

use ferroprom::parser::{ParseOptions, extract_selectors, parse_with};
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The options upstream's testExpr runs with: experimental functions, duration expressions and
/// extended range selectors on, binop fill modifiers off. Upstream has no nesting limit, and one case
/// is a chain of 20,000 operations checked for its type errors, so the limit is raised here.
fn options() -> ParseOptions {
    ParseOptions {
        experimental_functions: true,
        duration_expressions: true,
        extended_range_selectors: true,
        binop_fill_modifiers: false,
        max_depth: 100_000,
    }
}

fn expected_failures() -> BTreeMap<u64, String> {
    let path = root().join("testdata/parser/expected-failures.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (n, reason) = l.split_once(' ').unwrap_or((l, ""));
            (n.parse().expect("expected-failures: line number"), reason.to_string())
        })
        .collect()
}

/// Whether every error upstream reports (message and byte range, in order) is reported; `None`
/// when the case lists no errors or lists them by repetition.
fn all_errors_match(case: &Value, err: &ferroprom::parser::ParseError) -> Option<bool> {
    let want = case["errors"].as_array()?;
    if want.iter().any(|e| e.get("repeat").is_some()) {
        return None;
    }
    let want: Vec<(String, u64, u64)> = want
        .iter()
        .map(|e| {
            (
                e["msg"].as_str().unwrap_or("").to_string(),
                e["start"].as_u64().unwrap_or(0),
                e["end"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    let got: Vec<(String, u64, u64)> =
        err.errors.iter().map(|d| (d.message.clone(), d.span.start as u64, d.span.end as u64)).collect();
    Some(got == want)
}

/// Checks one testExpr case; `Err` describes the mismatch. `exact` is set when the first error
/// message matched exactly, `all` when every error (with its range) matched.
fn check(case: &Value, exact: &mut bool, all: &mut Option<bool>) -> Result<(), String> {
    let input = case["input"].as_str().ok_or("no input")?;
    let fail = case["fail"].as_bool().unwrap_or(false);
    let got = parse_with(input, &options());
    if let Err(e) = &got {
        *all = all_errors_match(case, e);
    }
    match (fail, got) {
        (false, Ok(_)) => Ok(()),
        (false, Err(e)) => Err(format!("rejected: {e}")),
        (true, Ok(e)) => Err(format!("accepted: {e:?}")),
        (true, Err(e)) => {
            let Some(want) = case["errMsg"].as_str() else { return Ok(()) };
            let contains = case["errMatch"].as_str() == Some("contains");
            let msg = e.message();
            if msg == want {
                *exact = true;
            }
            if !(msg == want || (contains && msg.contains(want))) {
                return Err(format!("message: got {msg:?}, want {want:?}"));
            }
            if let Some(want_s) = case["errString"].as_str()
                && e.to_string() != want_s
            {
                return Err(format!("rendering: got {:?}, want {want_s:?}", e.to_string()));
            }
            Ok(())
        }
    }
}

fn selector_strings(input: &str) -> Result<Vec<String>, String> {
    let e = parse_with(input, &options()).map_err(|e| e.to_string())?;
    Ok(extract_selectors(&e)
        .iter()
        .map(|ms| format!("{{{}}}", ms.iter().map(|m| m.to_string()).collect::<Vec<_>>().join(", ")))
        .collect())
}

#[test]
fn upstream_parser_cases() {
    let path = root().join("../shared/conformance/parser-cases.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let known = expected_failures();
    let (mut total, mut failing, mut with_msg, mut exact_msgs) = (0, 0, 0, 0);
    let (mut with_errors, mut all_errors) = (0, 0);
    let mut problems = Vec::new();
    let mut seen_known = Vec::new();
    for line in text.lines() {
        let case: Value = serde_json::from_str(line).expect("valid JSON line");
        let table = case["table"].as_str().unwrap_or("");
        let n = case["line"].as_u64().unwrap_or(0);
        let result = match table {
            "testExpr" => {
                total += 1;
                let mut exact = false;
                let mut all = None;
                let r = check(&case, &mut exact, &mut all);
                if let Some(all) = all {
                    with_errors += 1;
                    all_errors += usize::from(all);
                }
                if case["errMsg"].is_string() {
                    with_msg += 1;
                    exact_msgs += usize::from(exact);
                }
                r
            }
            "TestExtractSelectors" => {
                total += 1;
                let want: Vec<String> = case["selectors"]
                    .as_array()
                    .map(|a| a.iter().filter_map(|s| s.as_str().map(String::from)).collect())
                    .unwrap_or_default();
                match selector_strings(case["input"].as_str().unwrap_or("")) {
                    Ok(got) if got == want => Ok(()),
                    Ok(got) => Err(format!("selectors: got {got:?}, want {want:?}")),
                    Err(e) => Err(e),
                }
            }
            _ => continue,
        };
        match (result, known.get(&n)) {
            (Ok(()), Some(reason)) => {
                problems.push(format!("line {n}: passes now but is listed as expected failure ({reason})"))
            }
            (Ok(()), None) => {}
            (Err(_), Some(_)) => {
                failing += 1;
                seen_known.push(n);
            }
            (Err(why), None) => {
                failing += 1;
                let input: String = case["input"].as_str().unwrap_or("").chars().take(120).collect();
                problems.push(format!("line {n}: {input:?}: {why}"));
            }
        }
    }
    for n in known.keys().filter(|n| !seen_known.contains(n)) {
        if !problems.iter().any(|p| p.starts_with(&format!("line {n}:"))) {
            problems.push(format!("line {n}: listed as expected failure but no such failing case"));
        }
    }
    println!(
        "parser cases: {total} run, {failing} failing ({} expected); first error message matching exactly: \
         {exact_msgs}/{with_msg}; every error with its range: {all_errors}/{with_errors}",
        known.len()
    );
    assert!(problems.is_empty(), "{} problem(s):\n{}", problems.len(), problems.join("\n"));
}
