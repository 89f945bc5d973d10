//! Native-histogram range queries over the data set of Prometheus's `BenchmarkNativeHistograms`
//! and `BenchmarkNativeHistogramsCustomBuckets`: series of 2,000 histograms 15 s apart, queried
//! from 0 to 2 h at a 30 s step (241 points), one thread per query.
//!
//! Upstream loads 3,000 series of each kind; by default this loads 100, so that a run stays
//! within a minute on a shared machine (`NH_BENCH_SERIES=3000` for upstream's size). Cases the
//! engine cannot evaluate yet are reported and skipped, so the bench runs on every branch:
//! `cargo bench --bench native_histograms`.

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use ferroprom::engine::{Engine, EngineOptions};
use ferroprom::model::{BucketSpan, CUSTOM_BUCKETS_SCHEMA, CounterResetHint, FloatHistogram, Labels};
use ferroprom::storage::MemStorage;

/// Series per metric unless `NH_BENCH_SERIES` says otherwise.
const DEFAULT_SERIES: usize = 100;
const SAMPLES: i64 = 2000;
const INTERVAL_MS: i64 = 15_000;

/// Histogram `k` of upstream's `GenerateTestHistograms`: schema 1, zero bucket of width 0.001,
/// buckets at indices 0, 1, 3, 4 on both sides, growing with `k`.
fn exponential(k: i64) -> FloatHistogram {
    let k = k as f64;
    let spans = vec![BucketSpan::new(0, 2), BucketSpan::new(1, 2)];
    let buckets = vec![k + 1.0, k + 2.0, k + 1.0, k + 1.0];
    FloatHistogram {
        counter_reset_hint: if k > 0.0 {
            CounterResetHint::NotCounterReset
        } else {
            CounterResetHint::Unknown
        },
        schema: 1,
        zero_threshold: 0.001,
        zero_count: 2.0 + k,
        count: 12.0 + 9.0 * k,
        sum: 18.4 * (k + 1.0),
        positive_spans: spans.clone(),
        negative_spans: spans,
        positive_buckets: buckets.clone(),
        negative_buckets: buckets,
        custom_values: Vec::new(),
    }
}

/// Histogram `k` of upstream's `GenerateTestCustomBucketsHistograms`: bounds 0..4.
fn custom(k: i64) -> FloatHistogram {
    let k = k as f64;
    FloatHistogram {
        counter_reset_hint: if k > 0.0 {
            CounterResetHint::NotCounterReset
        } else {
            CounterResetHint::Unknown
        },
        schema: CUSTOM_BUCKETS_SCHEMA,
        count: 5.0 + 4.0 * k,
        sum: 18.4 * (k + 1.0),
        positive_spans: vec![BucketSpan::new(0, 2), BucketSpan::new(1, 2)],
        positive_buckets: vec![k + 1.0, k + 2.0, k + 1.0, k + 1.0],
        custom_values: vec![0.0, 1.0, 2.0, 3.0, 4.0],
        ..FloatHistogram::default()
    }
}

fn load(store: &MemStorage, series: usize, name: &str, make: fn(i64) -> FloatHistogram) {
    // Every series holds the same sequence, as upstream's; the samples share their histograms.
    let histograms: Vec<Arc<FloatHistogram>> = (0..SAMPLES).map(|k| Arc::new(make(k))).collect();
    for i in 0..series {
        let labels = Labels::from_pairs([
            ("__name__", name.to_string()),
            ("foo", "bar".to_string()),
            ("h", i.to_string()),
        ]);
        let mut app = store.appender();
        for (k, h) in histograms.iter().enumerate() {
            app.add_histogram(labels.clone(), k as i64 * INTERVAL_MS, h.clone());
        }
        app.commit().unwrap();
    }
}

const EXPONENTIAL_QUERIES: &[&str] = &[
    "sum(native_histogram_series)",
    "sum(rate(native_histogram_series[2m]))",
    "sum(rate(native_histogram_series[20m]))",
    "histogram_count(sum(rate(native_histogram_series[2m])))",
    "histogram_count(sum(rate(native_histogram_series[20m])))",
    "histogram_count(sum(rate(native_histogram_series[2m]))) + histogram_sum(sum(rate(native_histogram_series[2m])))",
    "histogram_quantile(0.9, sum(rate(native_histogram_series[2m])))",
    "histogram_quantile(0.9, native_histogram_series)",
    "histogram_fraction(0, 2, native_histogram_series)",
    "native_histogram_series </ 2",
];

const CUSTOM_QUERIES: &[&str] = &[
    "sum(native_histogram_custom_bucket_series)",
    "sum(rate(native_histogram_custom_bucket_series[2m]))",
    "histogram_count(sum(rate(native_histogram_custom_bucket_series[20m])))",
    "histogram_fraction(0, 2, native_histogram_custom_bucket_series)",
];

fn native_histograms(c: &mut Criterion) {
    let series = std::env::var("NH_BENCH_SERIES").ok().and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_SERIES);
    let store = MemStorage::new();
    load(&store, series, "native_histogram_series", exponential);
    load(&store, series, "native_histogram_custom_bucket_series", custom);
    let engine =
        Engine::new(EngineOptions { threads: 1, max_samples: 50_000_000, ..EngineOptions::default() });
    let (start, end, step) = (0, 7_200_000, 30_000);
    let mut group = c.benchmark_group(format!("native_histograms_{series}_series_2h_step_30s"));
    group.sample_size(10).measurement_time(Duration::from_secs(1)).warm_up_time(Duration::from_millis(100));
    for q in EXPONENTIAL_QUERIES.iter().chain(CUSTOM_QUERIES) {
        if let Err(e) = engine.range_query(&store, q, start, end, step) {
            eprintln!("skipped {q}: {e}");
            continue;
        }
        group.bench_function(*q, |b| {
            b.iter(|| black_box(engine.range_query(&store, q, start, end, step).unwrap()))
        });
    }
    group.finish();
}

criterion_group!(benches, native_histograms);
criterion_main!(benches);
