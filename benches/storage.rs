//! MemStorage: in-order appends, and selects shaped like the engine's (one metric name, a regex
//! matcher, a window of samples), on the layout of Prometheus's BenchmarkRangeQuery data
//! (`a_hundred{l="0".."99"}`, 10 s interval).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use ferroprom::model::{Labels, MatchOp, Matcher};
use ferroprom::storage::{MemStorage, SelectHints, Storage};

const SERIES: usize = 100;
const SAMPLES: i64 = 8640;

fn labels() -> Vec<Labels> {
    (0..SERIES)
        .map(|l| Labels::from_pairs([("__name__", "a_hundred".to_string()), ("l", l.to_string())]))
        .collect()
}

fn filled() -> MemStorage {
    let store = MemStorage::new();
    let ls = labels();
    let mut app = store.appender();
    for s in 0..SAMPLES {
        for (i, l) in ls.iter().enumerate() {
            app.add(l.clone(), s * 10_000, s as f64 + i as f64 / 1443.0);
        }
    }
    let _ = app.commit();
    store
}

fn append(c: &mut Criterion) {
    let ls = labels();
    c.bench_function("memstorage/append 100 series x 1000 samples", |b| {
        b.iter(|| {
            let store = MemStorage::new();
            let mut app = store.appender();
            for s in 0..1000i64 {
                for l in &ls {
                    app.add(l.clone(), s * 10_000, s as f64);
                }
            }
            black_box(app.commit())
        })
    });
}

fn select(c: &mut Criterion) {
    let store = filled();
    let name = Matcher::new(MatchOp::Equal, "__name__", "a_hundred").unwrap();
    let re = Matcher::new(MatchOp::Regex, "l", "1.*").unwrap();
    let hints = SelectHints::range(SAMPLES * 10_000 - 3_600_000, SAMPLES * 10_000);
    c.bench_function("memstorage/select 100 series, 1h window", |b| {
        b.iter(|| black_box(store.select(std::slice::from_ref(&name), &hints).map(|v| v.len())))
    });
    c.bench_function("memstorage/select regex 11 series, whole range", |b| {
        let all = SelectHints::range(0, i64::MAX);
        b.iter(|| black_box(store.select(&[name.clone(), re.clone()], &all).map(|v| v.len())))
    });
}

criterion_group!(benches, append, select);
criterion_main!(benches);
