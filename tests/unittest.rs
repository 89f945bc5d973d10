//! Rule unit tests (`ferroprom::unittest`, promtool's `test rules`).
//!
//! 1. promtool's own fixtures (read from `../shared/conformance/promtool/`, never copied) give the
//!    verdicts upstream's `unittest_test.go` expects: `testdata/unittest/promtool_fixtures.txt`.
//! 2. Our cases, `testdata/unittest/cases/*.txtar`: each holds the files of a test (`test.yml`
//!    is the one run, others are rule files) and the expected outcome: `-- stdout --`,
//!    `-- stderr --` (promtool's output for the file; the case directory shows as `$DIR`),
//!    optionally `-- junit.xml --` (timestamps as `$TS`). The header lines before the first file
//!    set the options: `run: <regex>`, `diff`, `debug`, `ignore-unknown-fields`, `no-at`,
//!    `no-negative-offset`, and `exit: <status>`.
//!
//! `UNITTEST_BLESS=1` rewrites the expected sections of the cases with what was got.

use std::path::{Path, PathBuf};

use ferroprom::unittest::{FileReport, Options, Report, run};

fn shared(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared").join(path)
}

fn options(words: &[&str]) -> Options {
    let mut opts = Options { enable_at_modifier: false, enable_negative_offset: false, ..Options::default() };
    for w in words {
        match *w {
            "at" => opts.enable_at_modifier = true,
            "negoffset" => opts.enable_negative_offset = true,
            "ignore-unknown-fields" => opts.ignore_unknown_fields = true,
            other => match other.strip_prefix("run=") {
                Some(r) => opts.run.push(r.to_string()),
                None => panic!("unknown fixture option {other:?}"),
            },
        }
    }
    opts
}

#[test]
fn promtool_fixtures_give_upstream_verdicts() {
    let dir = shared("conformance/promtool");
    assert!(dir.is_dir(), "{} is missing", dir.display());
    let table = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/unittest/promtool_fixtures.txt"),
    )
    .unwrap();
    let (mut passed, mut failures) = (0, Vec::new());
    for line in table.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')) {
        let words: Vec<&str> = line.split_whitespace().collect();
        let (file, want) = (words[0], words[1].parse::<u8>().unwrap());
        let report = run(&[dir.join(file)], &options(&words[2..])).unwrap();
        if report.exit_code() == want {
            passed += 1;
        } else {
            failures.push(format!("{line}: got {}\n{}", report.exit_code(), report.files[0]));
        }
    }
    eprintln!("promtool fixtures: {passed} passed, {} failed", failures.len());
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

/// upstream's JUnit check: the fixtures that pass with `@`/negative offsets enabled, run with both
/// disabled, fail, and every suite has at least one case.
#[test]
fn promtool_fixtures_junit() {
    let dir = shared("conformance/promtool");
    let files: Vec<PathBuf> = [
        "at-modifier-test.yml",
        "negative-offset-test.yml",
        "no-test-group-interval.yml",
        "start-time-test.yml",
    ]
    .iter()
    .map(|f| dir.join(f))
    .collect();
    let report = run(&files, &options(&[])).unwrap();
    assert_eq!(report.exit_code(), 1);
    let xml = report.junit_xml();
    assert_eq!(xml.matches("<testsuite ").count(), 4, "{xml}");
    assert!(xml.matches("<testcase ").count() >= 4, "{xml}");
    assert!(xml.starts_with("<testsuites><testsuite name=\""), "{xml}");
}

/// A case: header options and named files.
struct Case {
    header: Vec<String>,
    files: Vec<(String, String)>,
}

fn parse_txtar(text: &str) -> Case {
    let mut header = Vec::new();
    let mut files: Vec<(String, String)> = Vec::new();
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_end_matches('\n');
        if let Some(name) = trimmed.strip_prefix("-- ").and_then(|r| r.strip_suffix(" --")) {
            files.push((name.to_string(), String::new()));
        } else if let Some((_, body)) = files.last_mut() {
            body.push_str(line);
        } else if !trimmed.trim().is_empty() {
            header.push(trimmed.to_string());
        }
    }
    Case { header, files }
}

fn render_txtar(case: &Case) -> String {
    let mut out = String::new();
    for h in &case.header {
        out.push_str(h);
        out.push('\n');
    }
    for (name, body) in &case.files {
        out.push_str(&format!("-- {name} --\n{body}"));
    }
    out
}

const EXPECTED: [&str; 3] = ["stdout", "stderr", "junit.xml"];

/// Runs a case; returns the outputs by section name.
fn got_for(case: &Case, dir: &Path) -> Vec<(String, String)> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    for (name, body) in case.files.iter().filter(|(n, _)| !EXPECTED.contains(&n.as_str())) {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
    let mut opts = Options::default();
    for h in &case.header {
        let (key, value) = h.split_once(':').map_or((h.as_str(), ""), |(k, v)| (k.trim(), v.trim()));
        match key {
            "run" => opts.run.push(value.to_string()),
            "diff" => opts.diff = true,
            "debug" => opts.debug = true,
            "ignore-unknown-fields" => opts.ignore_unknown_fields = true,
            "no-at" => opts.enable_at_modifier = false,
            "no-negative-offset" => opts.enable_negative_offset = false,
            "exit" | "#" => {}
            k if k.starts_with('#') => {}
            other => panic!("unknown case option {other:?}"),
        }
    }
    let report: Report = run(&[dir.join("test.yml")], &opts).unwrap();
    let file: &FileReport = &report.files[0];
    let (mut out, mut err) = (Vec::new(), Vec::new());
    file.write_to(&mut out, &mut err).unwrap();
    let dir_text = dir.to_string_lossy().to_string();
    let norm = |b: Vec<u8>| {
        let s = String::from_utf8(b).unwrap().replace(&dir_text, "$DIR");
        // Durations of --debug runs vary.
        s.lines()
            .map(|l| match l.split_once(" finished, took ") {
                Some((head, _)) => format!("{head} finished, took $DURATION\n"),
                None => format!("{l}\n"),
            })
            .collect::<String>()
    };
    let mut got = vec![
        ("exit".to_string(), report.exit_code().to_string()),
        ("stdout".to_string(), norm(out)),
        ("stderr".to_string(), norm(err)),
    ];
    if case.files.iter().any(|(n, _)| n == "junit.xml") {
        let xml = report.junit_xml().replace(&dir_text, "$DIR").replace(&file.timestamp, "$TS");
        got.push(("junit.xml".to_string(), format!("{xml}\n")));
    }
    got
}

fn check(name: &str, input: &str) -> Result<(), String> {
    let mut case = parse_txtar(input);
    let dir = std::env::temp_dir().join(format!("ferroprom-unittest-{}-{name}", std::process::id()));
    let got = got_for(&case, &dir);
    let _ = std::fs::remove_dir_all(&dir);
    let want_exit = case.header.iter().find_map(|h| h.strip_prefix("exit:")).map(|s| s.trim().to_string());
    let mut problems = Vec::new();
    for (section, text) in &got {
        let want = if section == "exit" {
            want_exit.clone()
        } else {
            case.files.iter().find(|(n, _)| n == section).map(|(_, b)| b.clone())
        };
        if want.as_deref() != Some(text.as_str()) {
            problems.push(format!("{section}: want\n{}\ngot\n{text}", want.unwrap_or_default()));
        }
    }
    if problems.is_empty() {
        return Ok(());
    }
    if std::env::var("UNITTEST_BLESS").is_ok() {
        case.header.retain(|h| !h.starts_with("exit:"));
        for (section, text) in got {
            if section == "exit" {
                case.header.push(format!("exit: {text}"));
            } else {
                case.files.retain(|(n, _)| *n != section);
                case.files.push((section, text));
            }
        }
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/unittest/cases")
            .join(format!("{name}.txtar"));
        std::fs::write(path, render_txtar(&case)).unwrap();
    }
    Err(problems.join("\n"))
}

#[test]
fn own_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/unittest/cases");
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    let (mut passed, mut failures) = (0, Vec::new());
    for path in names.iter().filter(|p| p.extension().is_some_and(|e| e == "txtar")) {
        let name = path.file_stem().unwrap().to_string_lossy().to_string();
        match check(&name, &std::fs::read_to_string(path).unwrap()) {
            Ok(()) => passed += 1,
            Err(e) => failures.push(format!("{name}:\n{e}")),
        }
    }
    eprintln!("unittest cases: {passed} passed, {} failed", failures.len());
    assert!(passed > 0);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
