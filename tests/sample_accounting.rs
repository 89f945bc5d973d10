//! Prometheus's sample accounting (peak and total samples, the max-samples limit), case by case
//! from `testdata/engine/sample_accounting.txt` (its header describes the format).

use std::path::Path;

use ferroprom::engine::{Engine, EngineOptions, QueryRequest, QueryStats};
use ferroprom::exec::CancelToken;
use ferroprom::promqltest::{Command, Script, apply_load};
use ferroprom::storage::MemStorage;

/// A query and its times (ms): `step` 0 for an instant query.
struct Case {
    line: usize,
    query: String,
    start: i64,
    end: i64,
    step: i64,
}

fn run(store: &MemStorage, c: &Case, max_samples: usize, threads: usize) -> Result<QueryStats, String> {
    let engine = Engine::new(EngineOptions { max_samples, threads, ..EngineOptions::promqltest() });
    let expr =
        ferroprom::parser::parse_with(&c.query, &engine.options().parser).map_err(|e| e.to_string())?;
    let req = QueryRequest {
        expr: &expr,
        text: &c.query,
        start: c.start,
        end: c.end,
        step: c.step,
        lookback_delta: None,
        deadline: None,
        cancel: CancelToken::new(),
        sample_stats: true,
    };
    engine.execute(store, &req).map(|(_, s)| s).map_err(|e| e.to_string())
}

/// Checks one case: its peak and total, and that the limit bites exactly above the peak.
fn check(store: &MemStorage, c: &Case, peak: i64, total: Option<i64>) -> Vec<String> {
    let at = format!("line {}: {}", c.line, c.query);
    let mut errors = Vec::new();
    // The counts do not depend on how many threads evaluate the query.
    for threads in [1, 2] {
        match run(store, c, 50_000_000, threads) {
            Ok(s) => {
                if s.peak_samples != peak || total.is_some_and(|t| t != s.total_samples) {
                    errors.push(format!(
                        "{at} ({threads} threads): got peak {} total {}, want peak {peak} total {total:?}",
                        s.peak_samples, s.total_samples
                    ));
                }
            }
            Err(e) => errors.push(format!("{at}: {e}")),
        }
    }
    if let Err(e) = run(store, c, peak as usize, 1) {
        errors.push(format!("{at}: with the limit at the peak: {e}"));
    }
    if peak > 0 {
        let want = "query processing would load too many samples into memory in query execution";
        match run(store, c, peak as usize - 1, 1) {
            Err(e) if e == want => {}
            other => errors.push(format!("{at}: with the limit below the peak: {other:?}")),
        }
    }
    errors
}

fn secs(s: &str) -> i64 {
    s.parse::<i64>().unwrap() * 1000
}

#[test]
fn sample_accounting_cases() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/engine/sample_accounting.txt");
    let text = std::fs::read_to_string(path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut store = MemStorage::new();
    let mut errors = Vec::new();
    let mut cases = 0;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim_end();
        i += 1;
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if line.starts_with("load ") {
            let mut block = line.to_string();
            while i < lines.len() && lines[i].starts_with(' ') {
                block = format!("{block}\n{}", lines[i]);
                i += 1;
            }
            store = MemStorage::new();
            for cmd in Script::parse(&block).unwrap().commands {
                if let Command::Load(l) = cmd {
                    apply_load(&store, &l).unwrap();
                }
            }
            continue;
        }
        let (head, want) = line.split_once(" => ").unwrap();
        let (kind, rest) = head.split_once(' ').unwrap();
        let (start, end, step, query) = if kind == "instant" {
            let (t, q) = rest.split_once(' ').unwrap();
            (secs(t), secs(t), 0, q)
        } else {
            let parts: Vec<&str> = rest.splitn(4, ' ').collect();
            (secs(parts[0]), secs(parts[1]), secs(parts[2]), parts[3])
        };
        let nums: Vec<&str> = want.split_whitespace().collect();
        let peak = nums[1].parse().unwrap();
        let total = nums.get(3).map(|t| t.parse().unwrap());
        let case = Case { line: i, query: query.to_string(), start, end, step };
        errors.extend(check(&store, &case, peak, total));
        cases += 1;
    }
    assert!(cases > 0);
    assert!(errors.is_empty(), "{} of {cases} cases failed:\n{}", errors.len(), errors.join("\n"));
}
