//! `FloatHistogram::add` / `sub` against the cases in `testdata/histogram/add.txt` (expected
//! values from Prometheus's own histogram tests), and `compact` / `test_expression` spot checks.

use std::path::PathBuf;

use ferroprom::model::{BucketSpan, CounterResetHint, FloatHistogram};

/// Parses the `{{key:value ...}}` notation of the test file (explicit spans, see the file header).
fn histogram(text: &str) -> Result<FloatHistogram, String> {
    let inner = text
        .trim()
        .strip_prefix("{{")
        .and_then(|t| t.strip_suffix("}}"))
        .ok_or_else(|| format!("not a histogram: {text}"))?;
    let item = regex::Regex::new(r"(\w+):(\[[^\]]*\]|\S+)").map_err(|e| e.to_string())?;
    let mut h = FloatHistogram::default();
    for c in item.captures_iter(inner) {
        let (key, value) = (&c[1], &c[2]);
        let list = || -> Result<Vec<String>, String> {
            Ok(value
                .strip_prefix('[')
                .and_then(|v| v.strip_suffix(']'))
                .ok_or_else(|| format!("{key}: not a list"))?
                .split_whitespace()
                .map(str::to_string)
                .collect())
        };
        let floats = || -> Result<Vec<f64>, String> {
            list()?.iter().map(|v| v.parse::<f64>().map_err(|e| format!("{key}: {e}"))).collect()
        };
        let spans = || -> Result<Vec<BucketSpan>, String> {
            list()?
                .iter()
                .map(|s| {
                    let (o, l) = s.split_once(':').ok_or_else(|| format!("bad span {s}"))?;
                    Ok(BucketSpan::new(o.parse().map_err(|_| s.clone())?, l.parse().map_err(|_| s.clone())?))
                })
                .collect()
        };
        let float = || value.parse::<f64>().map_err(|e| format!("{key}: {e}"));
        match key {
            "schema" => h.schema = value.parse().map_err(|_| format!("bad schema {value}"))?,
            "count" => h.count = float()?,
            "sum" => h.sum = float()?,
            "z_bucket" => h.zero_count = float()?,
            "z_bucket_w" => h.zero_threshold = float()?,
            "custom_values" => h.custom_values = floats()?,
            "spans" => h.positive_spans = spans()?,
            "buckets" => h.positive_buckets = floats()?,
            "n_spans" => h.negative_spans = spans()?,
            "n_buckets" => h.negative_buckets = floats()?,
            "counter_reset_hint" => {
                h.counter_reset_hint = match value {
                    "reset" => CounterResetHint::CounterReset,
                    "not_reset" => CounterResetHint::NotCounterReset,
                    "gauge" => CounterResetHint::Gauge,
                    _ => CounterResetHint::Unknown,
                }
            }
            _ => return Err(format!("unknown key {key}")),
        }
    }
    Ok(h)
}

/// Applies the operation of a case and compares with the expectation.
fn check(a: &str, b: &str, op: &str, expected: &str) -> Result<(), String> {
    let (mut a, b) = (histogram(a)?, histogram(b)?);
    let result = match op {
        "add" | "error" => a.add(&b),
        "sub" => a.sub(&b),
        _ => return Err(format!("unknown operation {op}")),
    };
    match (op, result) {
        ("error", Err(e)) if e.to_string() == expected => Ok(()),
        ("error", other) => Err(format!("got {other:?}, want error {expected}")),
        (_, Err(e)) => Err(format!("error {e}")),
        (_, Ok(_)) => {
            let want = histogram(expected)?;
            if a == want { Ok(()) } else { Err(format!("got  {a:?}\nwant {want:?}")) }
        }
    }
}

#[test]
fn add_and_sub_cases() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/histogram/add.txt");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let mut failures = Vec::new();
    let mut count = 0;
    let (mut a, mut b, mut name) = (None, None, String::new());
    for line in text.lines() {
        if let Some(n) = line.strip_prefix("# ") {
            name = n.to_string();
        } else if let Some(v) = line.strip_prefix("a: ") {
            a = Some(v.to_string());
        } else if let Some(v) = line.strip_prefix("b: ") {
            b = Some(v.to_string());
        } else if let Some((op, expected)) = line.split_once(": ") {
            count += 1;
            let (Some(a), Some(b)) = (a.take(), b.take()) else {
                failures.push(format!("{name}: operands missing"));
                continue;
            };
            if let Err(e) = check(&a, &b, op, expected) {
                failures.push(format!("{name} ({op}):\n{e}"));
            }
        }
    }
    assert!(count > 20, "only {count} cases read");
    assert!(failures.is_empty(), "{} of {count} fail:\n{}", failures.len(), failures.join("\n\n"));
}
