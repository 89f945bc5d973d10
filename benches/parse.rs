//! Parsing throughput: a typical dashboard query, a long flat operator chain and deep nesting at the
//! default nesting limit (both must stay linear in the input length).

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ferroprom::parser::{ParseOptions, parse_with};

fn bench_parse(c: &mut Criterion) {
    let opts = ParseOptions::all_features();
    let typical = include_str!("../example/node-cpu.promql").trim().to_string();
    let chain = format!("a{}", "+a".repeat(999));
    let parens = format!("{}1{}", "(".repeat(999), ")".repeat(999));
    let mut group = c.benchmark_group("parse");
    for (name, input) in [("typical", &typical), ("chain_1000", &chain), ("parens_1000", &parens)] {
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_function(name, |b| b.iter(|| parse_with(black_box(input), &opts)));
    }
    group.finish();
}

criterion_group!(benches, bench_parse);
criterion_main!(benches);
