//! Canonical and pretty printing of the cases in `testdata/printer/*.txt` (format: its README).

mod support;

use ferroprom::parser::{ParseOptions, parse_with, prettify_width};
use support::{Report, expected_failures, root, txt_files};

/// One case of a `testdata/printer` file.
struct Case {
    place: String,
    input: String,
    out: Option<String>,
    width: usize,
    pretty: Option<String>,
}

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    for path in txt_files(&root().join("testdata/printer")) {
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let mut lines = text.lines().enumerate().peekable();
        while let Some((n, line)) = lines.next() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let place = format!("{name}:{}", n + 1);
            let input = line
                .strip_prefix("in: ")
                .unwrap_or_else(|| panic!("{place}: a case starts with `in: `, got {line:?}"))
                .to_string();
            let mut case = Case { place, input, out: None, width: 100, pretty: None };
            while let Some((n, line)) = lines.next_if(|(_, l)| !l.trim().is_empty()) {
                if let Some(out) = line.strip_prefix("out: ") {
                    case.out = Some(out.to_string());
                } else if let Some(w) = line.strip_prefix("width: ") {
                    case.width = w.parse().unwrap_or_else(|e| panic!("{name}:{}: width: {e}", n + 1));
                } else if line == "pretty:" {
                    let mut pretty = Vec::new();
                    while let Some((_, l)) = lines.next_if(|(_, l)| !l.is_empty()) {
                        pretty.push(l);
                    }
                    case.pretty = Some(pretty.join("\n"));
                } else {
                    panic!("{name}:{}: unexpected line {line:?}", n + 1);
                }
            }
            cases.push(case);
        }
    }
    cases
}

/// Checks that `input` prints as `expected`.
fn check(input: &str, expected: &str) -> Result<(), String> {
    let e = parse_with(input, &ParseOptions::all_features()).map_err(|e| format!("  parse error: {e}"))?;
    let got = e.to_string();
    if got == expected { Ok(()) } else { Err(format!("  expected: {expected}\n  got:      {got}")) }
}

/// Checks that `input` prettifies as `expected` for lines of `width`.
fn check_pretty(input: &str, width: usize, expected: &str) -> Result<(), String> {
    let e = parse_with(input, &ParseOptions::all_features()).map_err(|e| format!("  parse error: {e}"))?;
    let got = prettify_width(&e, width);
    if got == expected { Ok(()) } else { Err(format!("expected:\n{expected}\ngot:\n{got}")) }
}

#[test]
fn canonical_print() {
    let known = expected_failures();
    let mut report = Report::default();
    for c in cases() {
        if c.out.is_some() || c.pretty.is_none() {
            let expected = c.out.as_deref().unwrap_or(&c.input);
            report.record(&known, "print", &c.input, &c.place, check(&c.input, expected));
        }
    }
    report.finish("canonical print");
}

#[test]
fn pretty_print() {
    let known = expected_failures();
    let mut report = Report::default();
    for c in cases() {
        if let Some(expected) = &c.pretty {
            report.record(&known, "pretty", &c.input, &c.place, check_pretty(&c.input, c.width, expected));
        }
    }
    report.finish("pretty print");
}
