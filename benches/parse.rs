//! Parser benchmarks: Prometheus's `BenchmarkParser` cases, `BenchmarkExprString`-style printing,
//! the eval expressions of the promqltest corpus as a throughput (MB/s) benchmark, and the series
//! descriptions of that corpus.
//!
//! Kept short (small samples) because the build machine is shared; run with
//! `cargo bench --bench parse`.

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ferroprom::engine::{Engine, EngineOptions};
use ferroprom::parser::{self, ParseOptions, series};

/// The valid inputs of Prometheus's `BenchmarkParser` (`promql/bench_test.go`).
const VALID: &[&str] = &[
    "a",
    "metric",
    "1",
    "1 >= bool 1",
    "1 + 2/(3*1)",
    "foo or bar",
    "foo and bar unless baz or qux",
    "bar + on(foo) bla / on(baz, buz) group_right(test) blub",
    "foo / ignoring(test,blub) group_left(blub) bar",
    "foo - ignoring(test,blub) group_right(bar,foo) bar",
    r#"foo{a="b", foo!="bar", test=~"test", bar!~"baz"}"#,
    "min_over_time(rate(foo{bar=\"baz\"}[2s])[5m:])[4m:3s]",
    "sum without(and, by, avg, count, alert, annotations)(some_metric) [30m:10s]",
    r#"sort_by_label(metric, "foo", "bar")"#,
];

/// The invalid inputs of `BenchmarkParser`: the time to produce the error.
const INVALID: &[&str] = &[
    "(",
    "}",
    "1 or 1",
    "1 or on(bar) foo",
    "foo unless on(bar) group_left(baz) bar",
    "test[5d] OFFSET 10s [10m:5s]",
];

/// The inputs of Prometheus's `BenchmarkExprString` (`promql/parser/printer_test.go`).
const PRINTED: &[&str] = &[
    r#"sum by(code) (task:errors:rate10s{job="s"})"#,
    r#"max( 100 * (1 - avg by(instance) (irate(node_cpu_seconds_total{instance=~".*cust01.prd.*",mode="idle"}[86400s]))))"#,
    r#"http_requests_total{job="api-server", group="canary"} + rate(http_requests_total{job="api-server"}[10m]) * 5 * 60"#,
    r#"sum by (pod) ((kube_pod_container_status_restarts_total{namespace="mynamespace",cluster="mycluster"} - kube_pod_container_status_restarts_total{namespace="mynamespace}",cluster="mycluster}"} offset 10m) >= 1 and ignoring (reason) min_over_time(kube_pod_container_status_last_terminated_reason{namespace="mynamespace",cluster="mycluster",reason="OOMKilled"}[10m]) == 1)"#,
    r#"label_replace(testmetric, "dst", "destination-value-$1", "src", "source-value-(.*)")"#,
];

fn configure() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
}

/// Prometheus's `BenchmarkParser`, case for case and with its names: `Parser/<expr>` parses,
/// `Parser/preprocess <expr>` plans the parsed tree over the last hour (upstream's `PreprocessExpr`
/// with step 0; our planner resolves all of time in the same pass), `Parser/<expr> (should fail)`
/// produces the error.
fn parser_cases(c: &mut Criterion) {
    let opts = ParseOptions::all_features();
    let engine = Engine::new(EngineOptions::default());
    let mut group = c.benchmark_group("Parser");
    for input in VALID {
        group.bench_function(*input, |b| b.iter(|| parser::parse_with(black_box(input), &opts)));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    for input in VALID {
        let Ok(expr) = parser::parse_with(input, &opts) else { continue };
        group.bench_function(format!("preprocess {input}"), |b| {
            b.iter(|| engine.plan(black_box(&expr), now - 3_600_000, now, 0).is_ok())
        });
    }
    for input in INVALID {
        group.bench_function(format!("{input} (should fail)"), |b| {
            b.iter(|| parser::parse_with(black_box(input), &opts).is_err())
        });
    }
    group.finish();
}

fn printer_cases(c: &mut Criterion) {
    let opts = ParseOptions::all_features();
    let mut group = c.benchmark_group("print");
    for input in PRINTED {
        let Ok(expr) = parser::parse_with(input, &opts) else {
            eprintln!("skipping print bench: {input} does not parse");
            continue;
        };
        group.bench_with_input(BenchmarkId::from_parameter(input), &expr, |b, expr| {
            b.iter(|| black_box(expr).to_string())
        });
    }
    group.finish();
}

/// The `.test` files of the promqltest corpus.
fn corpus() -> Vec<String> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/conformance/promqltest");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|x| x == "test"));
    files.sort();
    files.iter().filter_map(|p| std::fs::read_to_string(p).ok()).collect()
}

/// The expressions of `eval` commands (instant and range forms, deprecated variants included).
fn eval_expressions(files: &[String]) -> Vec<String> {
    let instant =
        regex::Regex::new(r"^eval(?:_(?:fail|warn|ordered|info))?\s+instant\s+(?:at\s+\S+\s+)?(.+)$");
    let range = regex::Regex::new(
        r"^eval(?:_(?:fail|warn|info))?\s+range\s+from\s+.+\s+to\s+.+\s+step\s+\S+?\s+(.+)$",
    );
    let (Ok(instant), Ok(range)) = (instant, range) else {
        return Vec::new();
    };
    files
        .iter()
        .flat_map(|f| f.lines())
        .map(str::trim)
        .filter_map(|l| instant.captures(l).or_else(|| range.captures(l)))
        .filter_map(|c| c.get(1).map(|m| m.as_str().to_string()))
        .collect()
}

/// Series lines of `load` blocks (without `@st` lines).
fn load_lines(files: &[String]) -> Vec<String> {
    let mut out = Vec::new();
    for file in files {
        let mut in_load = false;
        for line in file.lines() {
            let trimmed = line.trim();
            if !line.starts_with([' ', '\t']) {
                in_load = trimmed.starts_with("load");
                continue;
            }
            let first = trimmed.split_whitespace().next().unwrap_or("");
            if in_load && !trimmed.is_empty() && !trimmed.starts_with('#') && !first.ends_with("@st") {
                out.push(trimmed.to_string());
            }
        }
    }
    out
}

fn corpus_throughput(c: &mut Criterion) {
    let files = corpus();
    let opts = ParseOptions::all_features();
    let exprs = eval_expressions(&files);
    let bytes: usize = exprs.iter().map(String::len).sum();
    let mut group = c.benchmark_group("corpus");
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function(format!("promqltest eval expressions ({} exprs)", exprs.len()), |b| {
        b.iter(|| exprs.iter().filter(|e| parser::parse_with(black_box(e), &opts).is_ok()).count())
    });
    let loads = load_lines(&files);
    let bytes: usize = loads.iter().map(String::len).sum();
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function(format!("promqltest load lines ({} lines)", loads.len()), |b| {
        b.iter(|| loads.iter().filter(|l| series::parse_series_desc(black_box(l)).is_ok()).count())
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = configure();
    targets = parser_cases, printer_cases, corpus_throughput
}
criterion_main!(benches);
