//! `check rules` over our own rule files (testdata/rules/{ok,bad}) and the promtool fixtures in
//! ../shared/conformance/promtool, compared with expected reports (exit code, stdout, stderr).
//!
//! A second test dumps the groups loaded from each testdata/rules/ok file (`<name>.groups`).
//!
//! Options of a case come from a `# check: <flags>` first line of our own inputs, or from
//! testdata/rules/shared/cases.txt for the shared fixtures. `UPDATE_EXPECTED=1` rewrites the expected
//! files from the actual output (review the diff before committing). Known gaps are listed, with
//! their reasons, in testdata/rules/expected-failures.txt; an entry that starts passing fails the test.

use std::fs;
use std::path::{Path, PathBuf};

use ferroprom::parser::ParseOptions;
use ferroprom::rules::check::{CheckInput, CheckOptions, check_rules};
use ferroprom::rules::duration::format_duration;
use ferroprom::rules::{LoadOptions, RuleGroup, RuleKind, load_files};

const SHARED: &str = "../shared/conformance/promtool";

/// promtool's flags, as far as `check rules` takes them.
fn options(flags: &str) -> CheckOptions {
    let mut options = CheckOptions {
        load: LoadOptions {
            parse: ParseOptions { duration_expressions: true, ..ParseOptions::default() },
            ..LoadOptions::default()
        },
        ..CheckOptions::default()
    };
    for flag in flags.split_whitespace() {
        let (name, value) = flag.split_once('=').unwrap_or((flag, ""));
        match name {
            "--lint" => {
                options.lint_duplicates = value.split(',').any(|v| v == "all" || v == "duplicate-rules")
            }
            "--lint-fatal" => options.lint_fatal = true,
            "--ignore-unknown-fields" => options.load.ignore_unknown_fields = true,
            // Not a promtool flag: the library's legacy (pre-UTF-8) name checks.
            "--legacy-names" => options.load.legacy_names = true,
            "--rule-selector" => options.load.selector = Some(value.parse().unwrap()),
            "--enable-feature" => {
                for f in value.split(',') {
                    match f {
                        "promql-experimental-functions" => options.load.parse.experimental_functions = true,
                        "promql-extended-range-selectors" => {
                            options.load.parse.extended_range_selectors = true
                        }
                        "promql-binop-fill-modifiers" => options.load.parse.binop_fill_modifiers = true,
                        other => panic!("unknown feature {other}"),
                    }
                }
            }
            other => panic!("unknown flag {other}"),
        }
    }
    options
}

/// Runs the check and renders the report as the expected files hold it.
fn report(files: &[PathBuf], flags: &str) -> String {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let inputs: Vec<CheckInput> = files.iter().cloned().map(CheckInput::File).collect();
    let outcome = check_rules(&inputs, &options(flags), &mut out, &mut err).unwrap();
    format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        outcome.exit_code(),
        String::from_utf8_lossy(&out),
        String::from_utf8_lossy(&err)
    )
}

/// Compares a case's report with its expected file; returns a description of the mismatch.
fn check(name: &str, files: &[PathBuf], flags: &str, expected_path: &Path) -> Result<(), String> {
    let actual = report(files, flags);
    if std::env::var_os("UPDATE_EXPECTED").is_some() {
        fs::write(expected_path, &actual).unwrap();
        return Ok(());
    }
    let expected = fs::read_to_string(expected_path).unwrap_or_default();
    if actual == expected {
        Ok(())
    } else {
        Err(format!("{name}: report differs\n--- expected\n{expected}\n--- actual\n{actual}"))
    }
}

fn expected_failures() -> Vec<String> {
    fs::read_to_string("testdata/rules/expected-failures.txt")
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split('|').next().unwrap().trim().to_string())
        .collect()
}

/// Every case: (name, input files, flags, expected file).
fn cases() -> Vec<(String, Vec<PathBuf>, String, PathBuf)> {
    let mut cases = Vec::new();
    for dir in ["ok", "bad"] {
        let mut entries: Vec<PathBuf> = fs::read_dir(format!("testdata/rules/{dir}"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml")))
            .collect();
        entries.sort();
        for path in entries {
            let text = fs::read_to_string(&path).unwrap();
            let flags = text.lines().next().and_then(|l| l.strip_prefix("# check:")).unwrap_or("").trim();
            let stem = path.file_stem().unwrap().to_str().unwrap().to_string();
            let expected = path.with_file_name(format!("{stem}.expected"));
            cases.push((format!("{dir}/{stem}"), vec![path.clone()], flags.to_string(), expected));
        }
    }
    for line in fs::read_to_string("testdata/rules/shared/cases.txt").unwrap().lines() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.split('|').map(str::trim);
        let (name, files, flags) = (parts.next().unwrap(), parts.next().unwrap(), parts.next().unwrap_or(""));
        let files = files.split_whitespace().map(|f| Path::new(SHARED).join(f)).collect();
        let expected = PathBuf::from(format!("testdata/rules/shared/{name}.expected"));
        cases.push((format!("shared/{name}"), files, flags.to_string(), expected));
    }
    cases
}

/// The `ferroprom check rules` binary's report for a case, when the binary is built.
fn cli_report(files: &[PathBuf], flags: &str) -> Option<String> {
    let binary = option_env!("CARGO_BIN_EXE_ferroprom")?;
    let output = std::process::Command::new(binary)
        .args(["check", "rules"])
        .args(flags.split_whitespace())
        .args(files)
        .output()
        .ok()?;
    Some(format!(
        "exit: {}\n--- stdout\n{}--- stderr\n{}",
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ))
}

/// The binary gives the same reports as the library (cases using library-only options excepted).
#[test]
fn cli_reports_match() {
    let known = expected_failures().contains(&"cli".to_string());
    let mut problems = Vec::new();
    for (name, files, flags, expected) in cases() {
        if flags.contains("--legacy-names") {
            continue;
        }
        // The binary may answer differently (it refuses missing paths up front, as promtool does).
        let cli_expected = expected.with_extension("cli.expected");
        let want =
            fs::read_to_string(&cli_expected).or_else(|_| fs::read_to_string(&expected)).unwrap_or_default();
        match cli_report(&files, &flags) {
            Some(actual) if actual == want => {}
            Some(actual) => problems
                .push(format!("{name}: CLI report differs\n--- expected\n{want}\n--- actual\n{actual}")),
            None => problems.push(format!("{name}: the ferroprom binary is not built")),
        }
    }
    match (problems.is_empty(), known) {
        (true, true) => panic!("the CLI passes now; remove `cli` from expected-failures.txt"),
        (false, false) => panic!("{}", problems.join("\n\n")),
        (false, true) => eprintln!("{}", problems.join("\n\n")),
        _ => {}
    }
}

#[test]
fn check_rules_reports_match() {
    let known = expected_failures();
    let mut problems = Vec::new();
    let mut passed = 0;
    let all = cases();
    for (name, files, flags, expected) in &all {
        match (check(name, files, flags, expected), known.contains(name)) {
            (Ok(()), false) => passed += 1,
            (Err(e), false) => problems.push(e),
            (Ok(()), true) => {
                problems.push(format!("{name}: passes now; remove it from expected-failures.txt"))
            }
            (Err(_), true) => {}
        }
    }
    for name in known.iter().filter(|n| *n != "cli") {
        assert!(all.iter().any(|(n, ..)| n == name), "expected-failures.txt names unknown case {name}");
    }
    eprintln!("check rules: {passed} of {} cases pass, {} known failures", all.len(), known.len());
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// A readable dump of loaded groups: every field a rule manager will use.
fn dump(groups: &[RuleGroup]) -> String {
    let map = |m: &std::collections::BTreeMap<String, String>| {
        let items: Vec<String> = m.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
        format!("{{{}}}", items.join(", "))
    };
    let mut out = String::new();
    for g in groups {
        out.push_str(&format!(
            "group {:?} key={:?} at={}
",
            g.name,
            g.key(),
            g.position
        ));
        out.push_str(&format!(
            "  interval={} query_offset={} limit={} labels={}
",
            g.interval.map_or("default".to_string(), format_duration),
            g.query_offset.map_or("default".to_string(), format_duration),
            g.limit,
            map(&g.labels)
        ));
        for r in &g.rules {
            match &r.kind {
                RuleKind::Recording => out.push_str(&format!(
                    "  record {:?} at={}
",
                    r.name, r.position
                )),
                RuleKind::Alerting { hold, keep_firing_for, annotations } => out.push_str(&format!(
                    "  alert {:?} at={} for={} keep_firing_for={} annotations={}\n",
                    r.name,
                    r.position,
                    format_duration(*hold),
                    format_duration(*keep_firing_for),
                    map(annotations)
                )),
            }
            out.push_str(&format!(
                "    expr={:?}\n    parsed={}\n    labels={} merged={}\n",
                r.expr,
                r.parsed,
                map(&r.labels),
                map(&g.rule_labels(r))
            ));
        }
    }
    out
}

#[test]
fn loaded_groups_match() {
    let mut problems = Vec::new();
    for (name, files, flags, expected) in cases().into_iter().filter(|(n, ..)| n.starts_with("ok/")) {
        let actual = match load_files(&files, &options(&flags).load) {
            Ok(groups) => dump(&groups),
            Err(errors) => errors.iter().map(|e| format!("{e}\n")).collect(),
        };
        let expected = expected.with_extension("groups");
        if std::env::var_os("UPDATE_EXPECTED").is_some() {
            fs::write(&expected, &actual).unwrap();
            continue;
        }
        let want = fs::read_to_string(&expected).unwrap_or_default();
        if want != actual {
            problems.push(format!("{name}: groups differ\n--- expected\n{want}\n--- actual\n{actual}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// Every input file of the cases, as text.
fn corpus() -> Vec<String> {
    cases()
        .into_iter()
        .flat_map(|(_, files, ..)| files)
        .filter_map(|f| fs::read_to_string(f).ok())
        .filter(|t| t.len() < 10_000)
        .collect()
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(300))]

    /// Damaged rule files and manifests give errors, never a panic.
    #[test]
    fn damaged_inputs_never_panic(
        pick in 0usize..1000,
        cut in 0usize..10_000,
        junk in "[ -~\n\t]{0,12}",
        keep in 0usize..10_000,
    ) {
        let corpus = corpus();
        let text = &corpus[pick % corpus.len()];
        let cut = floor_char_boundary(text, cut % (text.len() + 1));
        let keep = floor_char_boundary(text, (cut + keep % (text.len() + 1)).min(text.len()));
        let damaged = format!("{}{}{}", &text[..cut], junk, &text[keep..]);
        let _ = ferroprom::rules::load_text(&damaged, Some("fuzz.yml"), &options("").load);
    }
}

fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}
