//! Random small stores and random queries: evaluation returns a value or an error, never a panic,
//! a hang (the engine's timeout bounds it) or runaway memory (the sample limit bounds it).
#![no_main]

use std::time::Duration;

use ferroprom::engine::{Engine, EngineOptions};
use ferroprom::model::Labels;
use ferroprom::parser::ParseOptions;
use ferroprom::storage::MemStorage;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte says how many of the following bytes describe samples; the rest is the query.
    let Some((&n, rest)) = data.split_first() else { return };
    let n = (n as usize).min(rest.len()) & !1;
    let (samples, query) = rest.split_at(n);
    let Ok(query) = std::str::from_utf8(query) else { return };
    let store = MemStorage::new();
    for (i, pair) in samples.chunks(2).enumerate() {
        let name = ["a", "b", "c_total", "d_bucket"][(pair[0] & 3) as usize];
        let labels = Labels::from_pairs([
            ("__name__", name.to_string()),
            ("i", (pair[0] >> 2 & 3).to_string()),
            ("le", ["0.1", "1", "+Inf", "x"][(pair[0] >> 4 & 3) as usize].to_string()),
        ]);
        let _ = store.append(&labels, i as i64 * 15_000, f64::from(pair[1]) - 8.0);
    }
    let engine = Engine::new(EngineOptions {
        max_samples: 100_000,
        timeout: Some(Duration::from_secs(1)),
        parser: ParseOptions::all_features(),
        delayed_name_removal: true,
        ..EngineOptions::default()
    });
    let _ = engine.instant_query(&store, query, 300_000);
    let _ = engine.range_query(&store, query, 0, 600_000, 60_000);
});
