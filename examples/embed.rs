//! Embedding ferroprom: store samples, run a query, print the result.
use ferroprom::engine::{Engine, EngineOptions};
use ferroprom::model::Labels;
use ferroprom::storage::MemStorage;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let store = MemStorage::new();
    let series = Labels::from_pairs([("__name__", "http_requests_total"), ("job", "api")]);
    for minute in 0..=10 {
        store.append(&series, minute * 60_000, (minute * 120) as f64)?;
    }
    let engine = Engine::new(EngineOptions::default());
    let result = engine.instant_query(&store, "sum by (job) (rate(http_requests_total[5m]))", 600_000)?;
    println!("{:?}", result.value);
    Ok(())
}
