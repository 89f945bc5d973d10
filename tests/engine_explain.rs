//! `EXPLAIN` text of planned queries: `testdata/engine/explain.txt` holds cases separated by
//! blank lines, each a query line followed by its expected plan (for an instant query at 600 s).
//! `UPDATE_EXPECT=1` rewrites the expected plans.

use std::path::Path;

use ferroprom::engine::{Engine, EngineOptions};
use ferroprom::parser::{ParseOptions, parse_with};

fn explain(query: &str) -> String {
    let engine =
        Engine::new(EngineOptions { parser: ParseOptions::all_features(), ..EngineOptions::default() });
    let expr = parse_with(query, &engine.options().parser).unwrap();
    engine.plan(&expr, 600_000, 600_000, 0).unwrap().to_string()
}

#[test]
fn explain_cases() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/engine/explain.txt");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut header = String::new();
    let mut blocks: Vec<(String, String)> = Vec::new();
    for block in text.split("\n\n") {
        let lines: Vec<&str> = block.lines().filter(|l| !l.starts_with('#')).collect();
        for l in block.lines().filter(|l| l.starts_with('#')) {
            header.push_str(l);
            header.push('\n');
        }
        let Some((q, plan)) = lines.split_first() else { continue };
        blocks.push((q.to_string(), plan.join("\n")));
    }
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        let mut out = header;
        for (q, _) in &blocks {
            out.push_str(&format!("{q}\n{}\n", explain(q)));
        }
        std::fs::write(&path, out.trim_end().to_string() + "\n").unwrap();
        return;
    }
    assert!(!blocks.is_empty());
    for (q, expected) in &blocks {
        assert_eq!(explain(q).trim_end(), expected.trim_end(), "plan of {q}");
    }
}
