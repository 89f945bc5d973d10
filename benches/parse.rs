//! Parser benchmarks (filled in with the parser; for now the staleness check).
use criterion::{Criterion, criterion_group, criterion_main};

fn stale(c: &mut Criterion) {
    c.bench_function("is_stale_nan", |b| {
        b.iter(|| ferroprom::model::is_stale_nan(std::hint::black_box(1.0)))
    });
}

criterion_group!(benches, stale);
criterion_main!(benches);
