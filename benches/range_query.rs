//! Prometheus's engine benchmarks on our engine: `BenchmarkRangeQuery` (the exact data of
//! upstream's `setupRangeQueryTestData`, its 43 templates expanded to 152 cases),
//! `BenchmarkJoinQuery` (5 cases) and `BenchmarkInfoFunction` (4 cases). Time per query includes
//! parse, plan, evaluation and result assembly, as upstream's does.
//!
//! Besides criterion's time/op (with output points/s as throughput), the bench prints a table per
//! suite from its own runs: median ms, output points/s, input samples/s (samples the store
//! returned), allocated bytes and allocations per query, and peak live bytes above the stored
//! data (a counting global allocator).
//!
//! `cargo bench --bench range_query` (about 3 minutes); environment:
//! * `FERROPROM_BENCH_QUICK=1`: only the 1-step cases and the `_one` cases, shorter measurement;
//! * `FERROPROM_BENCH_THREADS=1,2`: thread counts to run (default 1);
//! * `FERROPROM_BENCH_FILTER=text`: only cases whose expression contains `text`.

use std::hint::black_box;

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ferroprom::benchmark::{self, BenchCase, CountingAlloc};
use ferroprom::engine::Engine;
use ferroprom::model::Value;
use ferroprom::storage::{CountingStorage, MemStorage};

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

fn quick() -> bool {
    std::env::var("FERROPROM_BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0")
}

fn threads() -> Vec<usize> {
    std::env::var("FERROPROM_BENCH_THREADS")
        .ok()
        .map(|v| v.split(',').filter_map(|t| t.trim().parse().ok()).collect())
        .filter(|v: &Vec<usize>| !v.is_empty())
        .unwrap_or_else(|| vec![1])
}

fn selected(cases: Vec<BenchCase>) -> Vec<BenchCase> {
    let filter = std::env::var("FERROPROM_BENCH_FILTER").unwrap_or_default();
    cases
        .into_iter()
        .filter(|c| !quick() || c.steps == 1 || c.expr.contains("_one") || c.suite != "range")
        .filter(|c| c.expr.contains(&filter))
        .collect()
}

fn output_points(v: &Value) -> usize {
    match v {
        Value::Matrix(m) => m.iter().map(|s| s.floats.len() + s.histograms.len()).sum(),
        Value::Vector(v) => v.len(),
        _ => 1,
    }
}

struct Row {
    name: String,
    threads: usize,
    ms: f64,
    points: usize,
    input: usize,
    alloc: u64,
    allocs: u64,
    peak: u64,
}

/// One measured run (allocations and input samples) plus a median of a few timed runs.
fn profile(engine: &Engine, store: &MemStorage, c: &BenchCase, threads: usize) -> Row {
    let counting = CountingStorage::new(store);
    let before = CountingAlloc::reset_peak();
    let r = engine.range_query(&counting, &c.expr, c.start, c.end, c.step);
    let used = CountingAlloc::stats().since(&before);
    let points = r.as_ref().map(|r| output_points(&r.value)).unwrap_or(0);
    drop(r);
    let mut times: Vec<f64> = (0..if quick() { 3 } else { 5 })
        .map(|_| {
            let t0 = Instant::now();
            let _ = black_box(engine.range_query(store, &c.expr, c.start, c.end, c.step));
            t0.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    Row {
        name: c.name(),
        threads,
        ms: times[times.len() / 2],
        points,
        input: counting.samples() as usize,
        alloc: used.allocated,
        allocs: used.allocations,
        peak: used.peak,
    }
}

fn print_table(suite: &str, rows: &[Row]) {
    println!("\n{suite}: median of own runs; input = samples returned by the store");
    println!(
        "{:<90} {:>3} {:>10} {:>9} {:>11} {:>11} {:>12} {:>9} {:>11}",
        "case", "thr", "ms", "points", "points/s", "input", "input/s", "allocs", "alloc B"
    );
    for r in rows {
        let per_s = |n: usize| n as f64 / (r.ms / 1e3);
        println!(
            "{:<90} {:>3} {:>10.3} {:>9} {:>11.3e} {:>11} {:>12.3e} {:>9} {:>11}  peak {} B",
            r.name,
            r.threads,
            r.ms,
            r.points,
            per_s(r.points),
            r.input,
            per_s(r.input),
            r.allocs,
            r.alloc,
            r.peak
        );
    }
}

fn run_suite(c: &mut Criterion, suite: &str, store: &MemStorage, cases: Vec<BenchCase>) {
    let cases = selected(cases);
    if cases.is_empty() {
        return;
    }
    let mut group = c.benchmark_group(suite);
    let (measure, warm) = if quick() { (200, 50) } else { (600, 100) };
    group
        .sample_size(10)
        .measurement_time(Duration::from_millis(measure))
        .warm_up_time(Duration::from_millis(warm));
    let mut rows = Vec::new();
    for threads in threads() {
        let engine = Engine::new(benchmark::engine_options(threads));
        for case in &cases {
            let row = profile(&engine, store, case, threads);
            group.throughput(Throughput::Elements(row.points.max(1) as u64));
            group.bench_function(format!("{},threads={threads}", case.name()), |b| {
                b.iter(|| black_box(engine.range_query(store, &case.expr, case.start, case.end, case.step)))
            });
            rows.push(row);
        }
    }
    group.finish();
    print_table(suite, &rows);
}

fn range_query(c: &mut Criterion) {
    if selected(benchmark::range_query_cases()).is_empty() {
        return;
    }
    let t0 = Instant::now();
    let store = match benchmark::range_query_data(benchmark::RANGE_QUERY_INTERVALS) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("loading the range query data failed: {e}");
            return;
        }
    };
    let live = CountingAlloc::stats().live;
    println!(
        "BenchmarkRangeQuery data: {} series, {} samples, loaded in {:.1} s, {:.0} MiB live",
        store.series_count(),
        store.sample_count(),
        t0.elapsed().as_secs_f64(),
        live as f64 / (1 << 20) as f64
    );
    run_suite(c, "range_query", &store, benchmark::range_query_cases());
}

fn join_query(c: &mut Criterion) {
    if selected(benchmark::join_cases()).is_empty() {
        return;
    }
    match benchmark::join_data(benchmark::JOIN_INSTANCES, benchmark::JOIN_INTERVALS) {
        Ok(store) => run_suite(c, "join_query", &store, benchmark::join_cases()),
        Err(e) => eprintln!("loading the join data failed: {e}"),
    }
}

fn info_function(c: &mut Criterion) {
    if selected(benchmark::info_cases()).is_empty() {
        return;
    }
    match benchmark::info_data() {
        Ok(store) => run_suite(c, "info_function", &store, benchmark::info_cases()),
        Err(e) => eprintln!("loading the info data failed: {e}"),
    }
}

criterion_group!(benches, range_query, join_query, info_function);
criterion_main!(benches);
