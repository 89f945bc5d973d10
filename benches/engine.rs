//! Engine benchmarks: range queries over 300 series of 2,161 samples (6 h at 10 s), in the
//! spirit of Prometheus's `BenchmarkRangeQuery`. Kept short because the machine is shared:
//! `cargo bench --bench engine`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use ferroprom::engine::{Engine, EngineOptions};
use ferroprom::model::Labels;
use ferroprom::storage::MemStorage;

fn store() -> MemStorage {
    let s = MemStorage::new();
    for (metric, n) in [("a", 100), ("b", 100), ("c", 100)] {
        for i in 0..n {
            let l = Labels::from_pairs([
                ("__name__", metric.to_string()),
                ("i", i.to_string()),
                ("g", (i % 10).to_string()),
            ]);
            let mut app = s.appender();
            for k in 0..2161i64 {
                app.add(l.clone(), k * 10_000, (k * (i + 1)) as f64);
            }
            app.commit().unwrap();
        }
    }
    s
}

const QUERIES: &[&str] = &[
    "a",
    "rate(a[5m])",
    "sum(rate(a[5m]))",
    "sum by (g) (rate(a[5m]))",
    "a * 2",
    "a / on(i) b",
    "max_over_time(a[1h])",
    "histogram_quantile(0.9, sum by (g) (rate(a[5m])))",
    "sum_over_time(rate(a[1m])[10m:1m])",
    "topk(5, a)",
];

fn range_queries(c: &mut Criterion) {
    let s = store();
    let mut group = c.benchmark_group("range_6h_step_1m");
    group.sample_size(10).measurement_time(Duration::from_secs(2)).warm_up_time(Duration::from_millis(300));
    for threads in [1, 2] {
        let engine = Engine::new(EngineOptions { threads, ..EngineOptions::default() });
        for q in QUERIES {
            group.bench_function(format!("{q} threads={threads}"), |b| {
                b.iter(|| black_box(engine.range_query(&s, q, 0, 21_600_000, 60_000).unwrap()))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, range_queries);
criterion_main!(benches);
