//! promqltest scripts: every file of `../shared/conformance/promqltest/` (read from there) and of
//! `testdata/promql/` must be readable, and the runner must give the expected outcomes.

use std::path::{Path, PathBuf};

use ferroprom::parser::{ParseOptions, parse_with};
use ferroprom::promqltest::{Command, Script};

mod support;

fn own_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/promql")
}

/// Engine-less mode: every script reads, every command and expected line is understood.
#[test]
fn every_script_reads() {
    let mut failures = Vec::new();
    let mut evals = 0;
    let files = support::promqltest_files();
    assert!(!files.is_empty());
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        match Script::parse(&text) {
            Ok(s) => {
                for c in &s.commands {
                    if let Command::Eval(ev) = c {
                        evals += 1;
                        // Upstream parses every expression when it reads the file.
                        if let Err(e) = parse_with(&ev.expr, &ParseOptions::all_features()) {
                            failures.push(format!("{}:{}: {e}", f.display(), ev.line));
                        }
                    }
                }
            }
            Err(e) => failures.push(format!("{}: {e}", f.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    eprintln!("{} scripts, {evals} evals read", files.len());
}

mod selector_engine {
    //! A minimal engine for testing the runner on its own: number and string literals, and plain
    //! selectors `name{a="b"}` (equality matchers only, optional `@ <seconds>`), with the 5m
    //! left-open lookback and staleness.

    use ferroprom::model::{FPoint, Labels, MatchOp, Matcher, Sample, Series, Value, is_stale_nan};
    use ferroprom::parser::series::parse_series_desc;
    use ferroprom::parser::{Expr, NumberLiteral, Span, StringLiteral, VectorSelector};
    use ferroprom::promqltest::{QueryEngine, QueryOutput, parse_number};
    use ferroprom::storage::{SelectHints, Storage};

    pub struct SelectorEngine;

    const LOOKBACK: i64 = 300_000;

    fn eval(storage: &dyn Storage, expr: &str, t: i64) -> Result<Value, String> {
        let expr = expr.trim();
        if let Some(v) = parse_number(expr) {
            return Ok(Value::Scalar { t, v });
        }
        if let Some(s) = expr.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
            return Ok(Value::String { t, v: s.to_string() });
        }
        let (sel, at) = match expr.split_once(" @ ") {
            Some((sel, at)) => {
                let secs: f64 = at.trim().parse().map_err(|_| format!("bad @ in {expr}"))?;
                (sel, (secs * 1000.0).round() as i64)
            }
            None => (expr, t),
        };
        let desc = parse_series_desc(sel).map_err(|e| e.to_string())?;
        let matchers: Vec<Matcher> = desc
            .labels
            .iter()
            .map(|(n, v)| Matcher::new(MatchOp::Equal, n.clone(), v.clone()).map_err(|e| e.to_string()))
            .collect::<Result<_, _>>()?;
        let series = storage
            .select(&matchers, &SelectHints::range(at - LOOKBACK + 1, at))
            .map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        for s in series {
            if let Some(&FPoint { t: ts, f }) = s.floats.last()
                && !is_stale_nan(f)
                && s.histograms.last().is_none_or(|h| h.t < ts)
            {
                out.push(Sample { labels: s.labels, t, f, h: None });
            }
        }
        Ok(Value::Vector(out))
    }

    fn output(value: Value) -> QueryOutput {
        QueryOutput { value, warnings: Vec::new(), infos: Vec::new() }
    }

    /// `fail_with{msg="X"}` fails with X; `warn_with{msg="X"}` / `info_with{msg="X"}` return an
    /// empty vector with the annotation `PromQL warning: X (1:1)` / `PromQL info: X (1:1)`.
    fn special(expr: &str, matrix: bool) -> Option<Result<QueryOutput, String>> {
        let sel = expr.split(" @ ").next().unwrap_or(expr);
        let desc = parse_series_desc(sel).ok()?;
        let get = |n: &str| desc.labels.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        let msg = get("msg").unwrap_or_default();
        let empty = if matrix { Value::Matrix(Vec::new()) } else { Value::Vector(Vec::new()) };
        match get("__name__")?.as_str() {
            "fail_with" => Some(Err(msg)),
            "warn_with" => Some(Ok(QueryOutput {
                value: empty,
                warnings: vec![format!("PromQL warning: {msg} (1:1)")],
                infos: Vec::new(),
            })),
            "info_with" => Some(Ok(QueryOutput {
                value: empty,
                warnings: Vec::new(),
                infos: vec![format!("PromQL info: {msg} (1:1)")],
            })),
            _ => None,
        }
    }

    impl QueryEngine for SelectorEngine {
        fn parse(&self, expr: &str) -> Result<Expr, String> {
            let span = Span::new(0, expr.len());
            if let Some(value) = parse_number(expr) {
                return Ok(Expr::Number(NumberLiteral { value, duration: false, span }));
            }
            if let Some(s) = expr.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
                return Ok(Expr::String(StringLiteral::new(s, span)));
            }
            let desc = parse_series_desc(expr).map_err(|e| e.to_string())?;
            let name = desc.labels.iter().find(|(n, _)| n == "__name__").map(|(_, v)| v.clone());
            let matchers = desc
                .labels
                .iter()
                .map(|(n, v)| Matcher::new(MatchOp::Equal, n.clone(), v.clone()).map_err(|e| e.to_string()))
                .collect::<Result<_, _>>()?;
            Ok(Expr::VectorSelector(VectorSelector::new(name, matchers, span)))
        }

        fn instant_query(&self, storage: &dyn Storage, expr: &str, t: i64) -> Result<QueryOutput, String> {
            if let Some(r) = special(expr, false) {
                return r;
            }
            eval(storage, expr, t).map(output)
        }

        fn range_query(
            &self,
            storage: &dyn Storage,
            expr: &str,
            start: i64,
            end: i64,
            step: i64,
        ) -> Result<QueryOutput, String> {
            if let Some(r) = special(expr, true) {
                return r;
            }
            let mut series: Vec<Series> = Vec::new();
            let mut t = start;
            while t <= end {
                let points: Vec<(Labels, f64)> = match eval(storage, expr, t)? {
                    Value::Scalar { v, .. } => vec![(Labels::empty(), v)],
                    Value::Vector(v) => v.into_iter().map(|s| (s.labels, s.f)).collect(),
                    other => return Err(format!("range query of a {}", other.type_name())),
                };
                for (labels, f) in points {
                    match series.iter_mut().find(|s| s.labels == labels) {
                        Some(s) => s.floats.push(FPoint { t, f }),
                        None => {
                            series.push(Series { labels, floats: vec![FPoint { t, f }], histograms: vec![] })
                        }
                    }
                }
                t += step.max(1);
            }
            series.sort_by(|a, b| a.labels.cmp(&b.labels));
            Ok(output(Value::Matrix(series)))
        }
    }
}

/// The report of running the script at `path` against the selector-only engine.
fn run_with_selector_engine(path: &Path) -> ferroprom::promqltest::FileReport {
    use ferroprom::promqltest::{RunOptions, run_text};
    let text = std::fs::read_to_string(path).unwrap();
    let name = path.file_name().unwrap().to_str().unwrap();
    run_text(name, &text, &selector_engine::SelectorEngine, &RunOptions::default())
}

/// The failed evaluations of `report`, as `line N: reason`.
fn failures(report: &ferroprom::promqltest::FileReport) -> Vec<String> {
    report
        .outcomes
        .iter()
        .filter_map(|o| o.failure.as_ref().map(|f| format!("line {}: {f}", o.line)))
        .collect()
}

/// The runner against the selector-only engine on `testdata/promql/runner.test`: every eval there
/// passes, and deliberately wrong expectations fail with upstream's texts.
#[test]
fn runner_with_selector_engine() {
    let report = run_with_selector_engine(&own_dir().join("runner.test"));
    let failed = failures(&report);
    assert!(failed.is_empty(), "{}", failed.join("\n"));
    assert!(report.passed() >= 10, "{report:?}");
}

/// Deliberately wrong expectations fail with upstream's texts
/// (`testdata/promqltest-runner/failures.test`, reasons in `failures.expected`).
#[test]
fn runner_failure_texts() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/promqltest-runner");
    let expected = std::fs::read_to_string(dir.join("failures.expected")).unwrap();
    let report = run_with_selector_engine(&dir.join("failures.test"));
    let got: Vec<String> = report
        .outcomes
        .iter()
        .map(|o| format!("{}\t{}", o.line, o.failure.as_deref().unwrap_or("passed")))
        .collect();
    let want: Vec<&str> = expected.lines().collect();
    assert_eq!(got, want);
}

/// Expectations on errors and annotations that hold (`testdata/promqltest-runner/passes.test`).
#[test]
fn runner_passing_expectations() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/promqltest-runner");
    let report = run_with_selector_engine(&dir.join("passes.test"));
    let failed = failures(&report);
    assert!(failed.is_empty(), "{}", failed.join("\n"));
    assert_eq!(report.passed(), 11);
}
