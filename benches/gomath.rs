//! Go's math functions (`functions::gomath`, what PromQL's math functions and `^`/`atan2` run) next to
//! Rust's `f64` methods (the platform libm) over 1,024 inputs each; they run once per sample.
//!
//! Kept short (small samples) because the build machine is shared; run with
//! `cargo bench --bench gomath`.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ferroprom::functions::gomath;

/// 1,024 deterministic inputs in `[lo, hi)`.
fn inputs(lo: f64, hi: f64) -> Vec<f64> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    (0..1024)
        .map(|_| {
            state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            lo + (hi - lo) * ((state >> 11) as f64 / (1u64 << 53) as f64)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    type Unary = (&'static str, fn(f64) -> f64, fn(f64) -> f64, f64, f64);
    let unary: &[Unary] = &[
        ("exp", gomath::exp, f64::exp, -50.0, 50.0),
        ("ln", gomath::ln, f64::ln, 1e-3, 1e9),
        ("log2", gomath::log2, f64::log2, 1e-3, 1e9),
        ("sin", gomath::sin, f64::sin, -100.0, 100.0),
        ("sin_huge", gomath::sin, f64::sin, 1e9, 1e12),
        ("tan", gomath::tan, f64::tan, -100.0, 100.0),
        ("atan", gomath::atan, f64::atan, -100.0, 100.0),
        ("asin", gomath::asin, f64::asin, -1.0, 1.0),
        ("tanh", gomath::tanh, f64::tanh, -5.0, 5.0),
        ("acosh", gomath::acosh, f64::acosh, 1.0, 100.0),
    ];
    let mut g = c.benchmark_group("gomath");
    g.sample_size(20).warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1));
    g.throughput(Throughput::Elements(1024));
    for &(name, go, std, lo, hi) in unary {
        let xs = inputs(lo, hi);
        g.bench_function(format!("{name}/go"), |b| {
            b.iter(|| xs.iter().map(|&x| go(black_box(x))).sum::<f64>())
        });
        g.bench_function(format!("{name}/std"), |b| {
            b.iter(|| xs.iter().map(|&x| std(black_box(x))).sum::<f64>())
        });
    }
    let (xs, ys) = (inputs(0.0, 10.0), inputs(-10.0, 10.0));
    g.bench_function("pow/go", |b| {
        b.iter(|| xs.iter().zip(&ys).map(|(&x, &y)| gomath::pow(black_box(x), y)).sum::<f64>())
    });
    g.bench_function("pow/std", |b| {
        b.iter(|| xs.iter().zip(&ys).map(|(&x, &y)| black_box(x).powf(y)).sum::<f64>())
    });
    g.bench_function("atan2/go", |b| {
        b.iter(|| xs.iter().zip(&ys).map(|(&x, &y)| gomath::atan2(black_box(y), x)).sum::<f64>())
    });
    g.bench_function("atan2/std", |b| {
        b.iter(|| xs.iter().zip(&ys).map(|(&x, &y)| black_box(y).atan2(x)).sum::<f64>())
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
