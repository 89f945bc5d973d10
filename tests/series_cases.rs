//! Series descriptions against Prometheus's own parser tests (tables `testSeries`,
//! `TestParseSeriesDesc` and `TestParseHistogramSeries` of `promql/parser/parse_test.go`, read
//! from `../shared/conformance/parser-cases.jsonl`), and against our cases in
//! `testdata/series/*.txt`.
//!
//! Cases that cannot pass yet are listed in `testdata/series/expected-failures.txt` with the
//! reason; an entry that starts passing fails the test so the list stays honest.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use ferroprom::model::{CounterResetHint, FloatHistogram};
use ferroprom::parser::series::{SequenceValue, SeriesDesc, parse_series_desc};
use serde::Deserialize;

mod support;

use support::root;

const TABLES: &[&str] = &["testSeries", "TestParseSeriesDesc", "TestParseHistogramSeries"];

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Case {
    table: String,
    line: u32,
    input: String,
    fail: bool,
    err_msg: Option<String>,
    err_match: Option<String>,
    labels: Option<BTreeMap<String, String>>,
    values: Option<Vec<Option<f64>>>,
}

/// `table:line` keys of cases expected to fail, from the checked-in list.
fn expected_failures() -> Vec<String> {
    let text =
        std::fs::read_to_string(root().join("testdata/series/expected-failures.txt")).unwrap_or_default();
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

/// Checks one upstream case; `Err` describes the mismatch.
fn check_upstream(case: &Case) -> Result<(), String> {
    let result = parse_series_desc(&case.input);
    if case.fail {
        let err = match result {
            Ok(desc) => return Err(format!("accepted, expected an error: {desc:?}")),
            Err(e) => e.to_string(),
        };
        return match (&case.err_msg, case.err_match.as_deref()) {
            (Some(want), Some("contains")) if !err.contains(want.as_str()) => {
                Err(format!("error {err:?} does not contain {want:?}"))
            }
            (Some(want), Some("exact") | None) if &err != want => {
                Err(format!("error {err:?}, want {want:?}"))
            }
            _ => Ok(()),
        };
    }
    let desc = result.map_err(|e| format!("rejected: {e}"))?;
    if let Some(want) = &case.labels {
        let want: Vec<(String, String)> = want.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        if desc.labels != want {
            return Err(format!("labels {:?}, want {want:?}", desc.labels));
        }
    }
    if let Some(want) = &case.values {
        let same = desc.values.len() == want.len()
            && desc.values.iter().zip(want).all(|(got, want)| match (got, want) {
                (SequenceValue::Omitted, None) => true,
                (SequenceValue::Float(g), Some(w)) => {
                    g.to_bits() == w.to_bits() || (g.is_nan() && w.is_nan())
                }
                _ => false,
            });
        if !same {
            return Err(format!("values {:?}, want {want:?}", desc.values));
        }
    }
    Ok(())
}

#[test]
fn upstream_parser_cases() {
    let path = root().join("../shared/conformance/parser-cases.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let known = expected_failures();
    let mut problems = Vec::new();
    let mut passed = 0;
    let mut total = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let case: Case = serde_json::from_str(line).unwrap_or_else(|e| panic!("bad case {line}: {e}"));
        if !TABLES.contains(&case.table.as_str()) {
            continue;
        }
        total += 1;
        let key = format!("{}:{}", case.table, case.line);
        let outcome = check_upstream(&case);
        match (outcome, known.contains(&key)) {
            (Ok(()), false) => passed += 1,
            (Ok(()), true) => {
                problems.push(format!("{key} passes now: remove it from expected-failures.txt"))
            }
            (Err(_), true) => {}
            (Err(e), false) => problems.push(format!("{key} {:?}: {e}", case.input)),
        }
    }
    eprintln!("series cases: {passed} of {total} pass");
    assert!(total >= 54, "expected the 54 series cases, found {total}");
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));
}

/// Renders a parse result in the notation of `testdata/series/*.txt`: the labels on one line,
/// then one value per line; histograms list every non-default field, spans included.
fn render(result: &Result<SeriesDesc, ferroprom::parser::series::SeriesError>) -> String {
    let desc = match result {
        Ok(d) => d,
        Err(e) => return format!("error: {e}\n"),
    };
    let mut out = String::new();
    let labels: Vec<String> = desc.labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    let _ = writeln!(out, "labels: {{{}}}", labels.join(", "));
    for v in &desc.values {
        match v {
            SequenceValue::Omitted => out.push_str("_\n"),
            SequenceValue::Stale => out.push_str("stale\n"),
            SequenceValue::Float(f) => {
                let _ = writeln!(out, "{}", float(*f));
            }
            SequenceValue::Histogram { histogram, hint_set } => {
                let _ = writeln!(
                    out,
                    "{}{}",
                    histogram_text(histogram),
                    if *hint_set { " hint_set" } else { "" }
                );
            }
        }
    }
    out
}

fn float(f: f64) -> String {
    if f.is_nan() { format!("NaN(0x{:x})", f.to_bits()) } else { format!("{f}") }
}

fn histogram_text(h: &FloatHistogram) -> String {
    let list = |v: &[f64]| v.iter().map(|&f| float(f)).collect::<Vec<_>>().join(" ");
    let spans = |s: &[ferroprom::model::BucketSpan]| {
        s.iter().map(|s| format!("{}:{}", s.offset, s.length)).collect::<Vec<_>>().join(" ")
    };
    let mut parts = Vec::new();
    if h.schema != 0 {
        parts.push(format!("schema:{}", h.schema));
    }
    for (name, v) in
        [("count", h.count), ("sum", h.sum), ("z_bucket", h.zero_count), ("z_bucket_w", h.zero_threshold)]
    {
        if v != 0.0 || v.is_sign_negative() || v.is_nan() {
            parts.push(format!("{name}:{}", float(v)));
        }
    }
    if !h.custom_values.is_empty() {
        parts.push(format!("custom_values:[{}]", list(&h.custom_values)));
    }
    let hint = match h.counter_reset_hint {
        CounterResetHint::Unknown => None,
        CounterResetHint::CounterReset => Some("reset"),
        CounterResetHint::NotCounterReset => Some("not_reset"),
        CounterResetHint::Gauge => Some("gauge"),
    };
    if let Some(hint) = hint {
        parts.push(format!("counter_reset_hint:{hint}"));
    }
    for (name, s, b) in
        [("", &h.positive_spans, &h.positive_buckets), ("n_", &h.negative_spans, &h.negative_buckets)]
    {
        if !s.is_empty() || !b.is_empty() {
            parts.push(format!("{name}spans:[{}] {name}buckets:[{}]", spans(s), list(b)));
        }
    }
    format!("{{{{{}}}}}", parts.join(" "))
}

/// Parses `input` and compares the rendering with `expected`.
fn check(input: &str, expected: &str) -> Result<(), String> {
    let got = render(&parse_series_desc(input));
    if got.trim_end() == expected.trim_end() {
        Ok(())
    } else {
        Err(format!("input: {input}\n--- got:\n{got}--- want:\n{expected}\n"))
    }
}

/// Cases of one file: blocks separated by blank lines; a block's first line is `> input`, the rest
/// is the expected rendering.
fn cases(path: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let mut out = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        if let Some(input) = line.strip_prefix("> ") {
            out.extend(current.take());
            current = Some((input.to_string(), String::new()));
        } else if line.trim().is_empty() {
            out.extend(current.take());
        } else if let Some((_, expected)) = current.as_mut() {
            expected.push_str(line);
            expected.push('\n');
        }
    }
    out.extend(current);
    out
}

#[test]
fn our_series_cases() {
    let dir = root().join("testdata/series");
    let files = support::txt_files(&dir);
    let mut failures = Vec::new();
    let mut count = 0;
    for file in &files {
        for (input, expected) in cases(file) {
            count += 1;
            if let Err(e) = check(&input, &expected) {
                failures.push(format!("{}: {e}", file.display()));
            }
        }
    }
    assert!(count > 0, "no cases in {}", dir.display());
    assert!(failures.is_empty(), "{} of {count} cases fail:\n{}", failures.len(), failures.join("\n"));
}

/// Every series line of the promqltest corpus (`load` blocks and expected results of `eval`
/// blocks) parses. `@st` lines (start timestamps) have their own notation and are left out, as
/// are scalar results and `expect` lines.
#[test]
fn promqltest_corpus_series_lines_parse() {
    let dir = root().join("../shared/conformance/promqltest");
    let files = support::files_in(&dir, |p| support::has_extension(p, "test"));
    let mut failures = Vec::new();
    let mut count = 0;
    for file in &files {
        let text =
            std::fs::read_to_string(file).unwrap_or_else(|e| panic!("reading {}: {e}", file.display()));
        let mut in_block = false;
        for (n, line) in text.lines().enumerate() {
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            if !line.starts_with([' ', '\t']) {
                in_block = trimmed.starts_with("load") || trimmed.starts_with("eval");
                continue;
            }
            let first = trimmed.split_whitespace().next().unwrap_or("");
            if !in_block
                || first.ends_with("@st")
                || first == "expect"
                || first.starts_with("eval")
                || first.starts_with("load")
                || first == "clear"
                || first.starts_with("expected_fail_")
                || trimmed.parse::<f64>().is_ok()
                || ["Inf", "+Inf", "-Inf", "NaN"].contains(&trimmed)
            {
                continue;
            }
            count += 1;
            if let Err(e) = parse_series_desc(trimmed) {
                failures.push(format!("{}:{}: {trimmed}: {e}", file.display(), n + 1));
            }
        }
    }
    eprintln!("promqltest corpus: {count} series lines");
    assert!(count > 1000, "only {count} series lines found");
    assert!(failures.is_empty(), "{} lines fail:\n{}", failures.len(), failures.join("\n"));
}
