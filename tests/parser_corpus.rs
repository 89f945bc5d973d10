//! Every expression of Prometheus's PromQL test corpus (`../shared/conformance/promqltest/*.test`)
//! parses with every feature switched on, as Prometheus's test runner parses them. An eval whose
//! expected failure is a parse error (`expect fail msg:` / `expected_fail_message` naming one) must be
//! rejected instead.

use std::path::PathBuf;

use ferroprom::parser::{ParseOptions, parse_with};
use regex::Regex;

mod support;

/// One eval command: file, line and expression, and whether a parse error is expected.
struct Eval {
    file: String,
    line: usize,
    expr: String,
    expect_parse_error: bool,
}

fn evals() -> Vec<Eval> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance/promqltest");
    let instant = Regex::new(r"^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$")
        .expect("regex");
    let range =
        Regex::new(r"^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$")
            .expect("regex");
    let files = support::files_in(&dir, |p| support::has_extension(p, "test"));
    let mut out: Vec<Eval> = Vec::new();
    for path in files {
        let text = std::fs::read_to_string(&path).expect("readable test file");
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let mut current: Option<usize> = None;
        for (i, raw) in text.split('\n').enumerate() {
            let line = raw.trim();
            let expr = instant
                .captures(line)
                .and_then(|c| c.get(3))
                .or_else(|| range.captures(line).and_then(|c| c.get(5)));
            if let Some(expr) = expr {
                out.push(Eval {
                    file: name.clone(),
                    line: i + 1,
                    expr: expr.as_str().to_string(),
                    expect_parse_error: false,
                });
                current = Some(out.len() - 1);
                continue;
            }
            if line.is_empty() {
                current = None;
                continue;
            }
            let expected_failure = ["expect fail msg:", "expected_fail_message"]
                .iter()
                .find_map(|p| line.strip_prefix(p))
                .map(str::trim);
            if let (Some(idx), Some(msg)) = (current, expected_failure)
                && msg.contains("parse error")
            {
                out[idx].expect_parse_error = true;
            }
        }
    }
    out
}

#[test]
fn corpus_expressions_parse() {
    let opts = ParseOptions::all_features();
    let evals = evals();
    assert!(evals.len() > 2000, "found only {} eval commands", evals.len());
    let mut problems = Vec::new();
    for e in &evals {
        match (parse_with(&e.expr, &opts), e.expect_parse_error) {
            (Ok(_), false) | (Err(_), true) => {}
            (Ok(_), true) => {
                problems.push(format!("{}:{}: {:?} parsed, want a parse error", e.file, e.line, e.expr))
            }
            (Err(err), false) => problems.push(format!("{}:{}: {:?}: {err}", e.file, e.line, e.expr)),
        }
    }
    println!("promqltest corpus: {} eval expressions, {} problems", evals.len(), problems.len());
    assert!(problems.is_empty(), "{} problem(s):\n{}", problems.len(), problems.join("\n"));
}
