//! Every query limit, hit on purpose: each case names the limit, the query and the error text
//! Prometheus gives for it.

use std::time::Duration;

use ferroprom::engine::{Engine, EngineOptions, QueryError};
use ferroprom::exec::CancelToken;
use ferroprom::model::Labels;
use ferroprom::storage::MemStorage;

/// 20 series `x{i="0".."19"}`, one sample per minute for an hour.
fn store() -> MemStorage {
    let s = MemStorage::new();
    for i in 0..20 {
        let l = Labels::from_pairs([("__name__", "x".to_string()), ("i", i.to_string())]);
        for m in 0..=60 {
            s.append(&l, m * 60_000, m as f64).unwrap();
        }
    }
    s
}

fn check(result: Result<ferroprom::engine::QueryResult, QueryError>, expected: &str) {
    match result {
        Ok(r) => panic!("expected error {expected:?}, got {:?}", r.value),
        Err(e) => assert_eq!(e.to_string(), expected),
    }
}

#[test]
fn max_samples_instant() {
    let engine = Engine::new(EngineOptions { max_samples: 10, ..EngineOptions::default() });
    check(
        engine.instant_query(&store(), "x", 600_000),
        "query processing would load too many samples into memory in query execution",
    );
}

#[test]
fn max_samples_range_function_window() {
    // Prometheus holds the 30-point window of the series at hand on top of the 19 or 20 outputs of
    // the others: a peak of 50.
    let engine = Engine::new(EngineOptions { max_samples: 49, ..EngineOptions::default() });
    check(
        engine.instant_query(&store(), "sum(count_over_time(x[30m]))", 3_600_000),
        "query processing would load too many samples into memory in query execution",
    );
}

#[test]
fn max_samples_not_hit_below_limit() {
    // The selector's 20 samples are the peak; the limit is not exceeded when equal to it.
    let engine = Engine::new(EngineOptions { max_samples: 20, ..EngineOptions::default() });
    assert!(engine.instant_query(&store(), "sum(x)", 600_000).is_ok());
    assert!(engine.instant_query(&store(), "sum(count_over_time(x[30m]))", 3_600_000).is_err());
}

#[test]
fn max_steps() {
    let engine = Engine::new(EngineOptions::default());
    check(
        engine.range_query(&store(), "x", 0, 11_000_000, 1_000),
        "exceeded maximum resolution of 11000 points per timeseries. Try decreasing the query resolution (?step=XX)",
    );
}

#[test]
fn timeout() {
    let engine = Engine::new(EngineOptions { timeout: Some(Duration::ZERO), ..EngineOptions::default() });
    check(engine.instant_query(&store(), "rate(x[5m])", 600_000), "query timed out in expression evaluation");
}

#[test]
fn cancellation() {
    let engine = Engine::new(EngineOptions::default());
    let token = CancelToken::new();
    token.cancel();
    let expr = ferroprom::parser::parse("sum(x)").unwrap();
    check(
        engine.instant_query_expr(&store(), &expr, "sum(x)", 600_000, &token),
        "query was canceled in expression evaluation",
    );
}

#[test]
fn max_samples_subquery_points() {
    let engine = Engine::new(EngineOptions { max_samples: 1_000, ..EngineOptions::default() });
    check(
        engine.instant_query(&store(), "max_over_time(x[1h:1s])", 3_600_000),
        "query processing would load too many samples into memory in query execution",
    );
}

#[test]
fn timeout_in_a_long_subquery() {
    let engine = Engine::new(EngineOptions { timeout: Some(Duration::ZERO), ..EngineOptions::default() });
    check(
        engine.instant_query(&store(), "max_over_time(vector(1)[1y:1ms])", 0),
        "query timed out in expression evaluation",
    );
}
