//! Loading and linting a large rule file (promtool's `rules_large.yml`: one group, 10 002 recording
//! rules, 1.1 MB), as upstream benchmarks `checkDuplicates`.

use criterion::{Criterion, criterion_group, criterion_main};
use ferroprom::rules::{LoadOptions, lint::duplicate_rules, load_text};

const LARGE: &str = "../shared/conformance/promtool/rules_large.yml";

fn bench(c: &mut Criterion) {
    let Ok(text) = std::fs::read_to_string(LARGE) else {
        eprintln!("{LARGE} not found; skipping the rules benches");
        return;
    };
    let options = LoadOptions::default();
    c.bench_function("rules/load_large", |b| b.iter(|| load_text(&text, Some("rules_large.yml"), &options)));
    if let Ok(loaded) = load_text(&text, Some("rules_large.yml"), &options) {
        c.bench_function("rules/duplicates_large", |b| b.iter(|| duplicate_rules(&loaded.groups)));
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(10);
    targets = bench
}
criterion_main!(benches);
