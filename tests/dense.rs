//! The series-major evaluator (`exec::dense`) against the operator path: on Prometheus's
//! `BenchmarkRangeQuery` data (few intervals) and templates, every query answers the same to the
//! bit — value, warnings, infos and errors — in range and instant mode, with one
//! and two threads, and under a tight sample limit. The templates the dense path leaves to the
//! operators are listed in `testdata/engine/dense-fallbacks.txt`; the test fails when that list is
//! not exactly the set of fallbacks. A second test runs the promqltest corpus through the engine
//! and checks the dense path answered a good share of its queries.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use ferroprom::benchmark::{RANGE_QUERY_INTERVAL_MS, range_query_cases, range_query_data};
use ferroprom::engine::{Engine, EngineOptions, QueryRequest, QueryStats};
use ferroprom::model::Value;
use ferroprom::parser::Expr;
use ferroprom::promqltest::{QueryEngine, QueryOutput, RunOptions, run_text};
use ferroprom::storage::Storage;

mod support;

/// Samples per series of the test data: enough for `[1d]` windows to hold everything.
const INTERVALS: usize = 120;

/// A value with every float as its bits, so that NaNs and signed zeros compare exactly.
fn canonical(v: &Value) -> String {
    let bits = |f: f64| format!("{:016x}", f.to_bits());
    match v {
        Value::Matrix(m) => m
            .iter()
            .map(|s| {
                let pts: Vec<String> = s.floats.iter().map(|p| format!("{}:{}", p.t, bits(p.f))).collect();
                format!("{} [{}] h{}", s.labels, pts.join(" "), s.histograms.len())
            })
            .collect::<Vec<_>>()
            .join("\n"),
        Value::Vector(v) => v
            .iter()
            .map(|s| format!("{} {}:{} h{}", s.labels, s.t, bits(s.f), s.h.is_some()))
            .collect::<Vec<_>>()
            .join("\n"),
        other => format!("{other:?}"),
    }
}

/// One query's outcome: the canonical value with annotations, or the error.
fn outcome(
    engine: &Engine,
    store: &dyn Storage,
    expr: &str,
    start: i64,
    end: i64,
    step: i64,
) -> (String, bool) {
    let parsed = match ferroprom::parser::parse_with(expr, &engine.options().parser) {
        Ok(e) => e,
        Err(e) => return (format!("parse error {e}"), false),
    };
    let req = QueryRequest::new(&parsed, expr, start, end, step);
    match engine.execute(store, &req) {
        Ok((r, stats)) => {
            (format!("{}\nwarnings {:?}\ninfos {:?}", canonical(&r.value), r.warnings, r.infos), stats.dense)
        }
        Err(e) => (format!("error {e}"), false),
    }
}

fn check(expr: &str, what: &str, dense: &str, operators: &str) {
    assert_eq!(dense, operators, "{expr} ({what}): dense and operator results differ");
}

#[test]
fn dense_matches_operators_on_benchmark_templates() {
    let store = match range_query_data(INTERVALS) {
        Ok(s) => s,
        Err(e) => panic!("data: {e}"),
    };
    let end = INTERVALS as i64 * RANGE_QUERY_INTERVAL_MS;
    let options = |threads: usize, max_samples: usize, dense: bool| {
        Engine::new(EngineOptions {
            threads,
            max_samples,
            dense,
            ..ferroprom::benchmark::engine_options(threads)
        })
    };
    let mut exprs: Vec<String> = range_query_cases().into_iter().map(|c| c.expr).collect();
    exprs.dedup();
    // A few more shapes than the templates have.
    exprs.extend(
        [
            "a_hundred * on(l) b_hundred",
            "a_hundred > bool ignoring(l) b_one",
            "2 * a_hundred",
            "a_hundred > 0.5",
            "0.5 < a_hundred",
            "a_hundred == bool 0.5",
            "bottomk(3, a_hundred)",
            "max by (l) (a_hundred)",
            "min without (l) (a_hundred)",
            "count(a_hundred)",
            "group(a_hundred)",
            "sum_over_time(a_hundred[5m])",
            "quantile_over_time(0.3, a_one[5m])",
            "delta(a_one[2m] anchored)",
            "last_over_time(a_hundred[2m])",
            "rate(a_hundred[1m]) and on() a_one",
            "sum(rate(a_hundred[1m]) + 1)",
            "timestamp(-a_one)",
            "a_one offset 5m",
            "a_one @ 600",
        ]
        .map(String::from),
    );
    let mut fallbacks = BTreeSet::new();
    for (threads, max_samples) in [(1, 50_000_000), (2, 50_000_000), (1, 3_000)] {
        let (dense, operators) = (options(threads, max_samples, true), options(threads, max_samples, false));
        for expr in &exprs {
            for (what, start, step) in
                [("range", end - 40 * RANGE_QUERY_INTERVAL_MS, RANGE_QUERY_INTERVAL_MS), ("instant", end, 0)]
            {
                let (d, answered) = outcome(&dense, &store, expr, start, end, step);
                let (o, _) = outcome(&operators, &store, expr, start, end, step);
                check(expr, &format!("{what}, {threads} threads, max {max_samples}"), &d, &o);
                if !answered && what == "range" && max_samples == 50_000_000 {
                    fallbacks.insert(expr.clone());
                }
            }
        }
    }
    let listed = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/engine/dense-fallbacks.txt");
    let text = std::fs::read_to_string(&listed).unwrap_or_default();
    let expected: BTreeSet<String> = text
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| l.split('\t').next().unwrap_or("").to_string())
        .collect();
    let got: Vec<&String> = fallbacks.iter().collect();
    let want: Vec<&String> = expected.iter().collect();
    assert_eq!(got, want, "range queries the dense path left to the operators");
}

/// The engine, counting the queries the dense path answered.
struct Counting {
    engine: Engine,
    dense: AtomicUsize,
    all: AtomicUsize,
}

impl Counting {
    fn run(
        &self,
        store: &dyn Storage,
        expr: &str,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<QueryOutput, String> {
        let parsed: Expr = self.engine.parse(expr)?;
        let req = QueryRequest::new(&parsed, expr, start, end, step);
        let (r, stats): (_, QueryStats) = self.engine.execute(store, &req).map_err(|e| e.to_string())?;
        self.all.fetch_add(1, Ordering::Relaxed);
        if stats.dense {
            self.dense.fetch_add(1, Ordering::Relaxed);
        }
        Ok(QueryOutput { value: r.value, warnings: r.warnings, infos: r.infos })
    }
}

impl QueryEngine for Counting {
    fn parse(&self, expr: &str) -> Result<Expr, String> {
        QueryEngine::parse(&self.engine, expr)
    }

    fn instant_query(&self, storage: &dyn Storage, expr: &str, t: i64) -> Result<QueryOutput, String> {
        self.run(storage, expr, t, t, 0)
    }

    fn range_query(
        &self,
        storage: &dyn Storage,
        expr: &str,
        start: i64,
        end: i64,
        step: i64,
    ) -> Result<QueryOutput, String> {
        self.run(storage, expr, start, end, step)
    }
}

#[test]
fn the_conformance_corpus_exercises_the_dense_path() {
    let counting = Counting {
        engine: Engine::new(EngineOptions::promqltest()),
        dense: AtomicUsize::new(0),
        all: AtomicUsize::new(0),
    };
    for f in support::promqltest_files() {
        let text = std::fs::read_to_string(&f).unwrap_or_default();
        let name = f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        run_text(&name, &text, &counting, &RunOptions::default());
    }
    let (dense, all) = (counting.dense.load(Ordering::Relaxed), counting.all.load(Ordering::Relaxed));
    println!("the dense path answered {dense} of {all} queries");
    assert!(all > 1000, "only {all} queries ran");
    assert!(dense * 4 > all, "the dense path answered only {dense} of {all} queries");
}
