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

mod properties {
    use std::collections::BTreeMap;

    use ferroprom::model::{BucketSpan, FloatHistogram};
    use proptest::prelude::*;

    /// Histograms with integer counts, a zero threshold of 0 and up to three spans per sign.
    fn histogram(schema: std::ops::RangeInclusive<i32>) -> impl Strategy<Value = FloatHistogram> {
        let spans = prop::collection::vec((0i32..4, 1u32..4), 0..4);
        (schema, -6i32..6, spans.clone(), -6i32..6, spans).prop_flat_map(|(schema, p0, ps, n0, ns)| {
            let layout = |first: i32, spans: Vec<(i32, u32)>| -> Vec<BucketSpan> {
                spans
                    .iter()
                    .enumerate()
                    .map(|(i, &(gap, len))| BucketSpan::new(if i == 0 { first } else { gap }, len))
                    .collect()
            };
            let (pos, neg) = (layout(p0, ps), layout(n0, ns));
            let np: usize = pos.iter().map(|s| s.length as usize).sum();
            let nn: usize = neg.iter().map(|s| s.length as usize).sum();
            (
                Just(schema),
                Just(pos),
                Just(neg),
                prop::collection::vec((0u8..20).prop_map(f64::from), np),
                prop::collection::vec((0u8..20).prop_map(f64::from), nn),
            )
                .prop_map(
                    |(schema, positive_spans, negative_spans, positive_buckets, negative_buckets)| {
                        FloatHistogram {
                            schema,
                            count: positive_buckets.iter().chain(&negative_buckets).sum(),
                            positive_spans,
                            negative_spans,
                            positive_buckets,
                            negative_buckets,
                            ..FloatHistogram::default()
                        }
                    },
                )
        })
    }

    /// Bucket index → count of one sign, with indices reduced to `schema`.
    fn buckets(spans: &[BucketSpan], counts: &[f64], from: i32, to: i32) -> BTreeMap<i64, f64> {
        let mut out = BTreeMap::new();
        let mut index = 0i64;
        let mut counts = counts.iter();
        for (i, s) in spans.iter().enumerate() {
            index = if i == 0 { i64::from(s.offset) } else { index + i64::from(s.offset) };
            for _ in 0..s.length {
                let target = ((index - 1) >> (from - to)) + 1;
                *out.entry(target).or_insert(0.0) += counts.next().copied().unwrap_or(0.0);
                index += 1;
            }
        }
        out
    }

    fn merged(a: &BTreeMap<i64, f64>, b: &BTreeMap<i64, f64>, sign: f64) -> BTreeMap<i64, f64> {
        let mut out = a.clone();
        for (k, v) in b {
            *out.entry(*k).or_insert(0.0) += sign * v;
        }
        out
    }

    proptest! {
        /// Adding or subtracting keeps every bucket of both operands (at the coarser schema) and
        /// combines the counts of equal buckets; spans stay well-formed.
        #[test]
        fn add_and_sub_combine_buckets(a in histogram(0..=3), b in histogram(0..=3), negate in any::<bool>()) {
            let schema = a.schema.min(b.schema);
            let sign = if negate { -1.0 } else { 1.0 };
            let want_pos = merged(
                &buckets(&a.positive_spans, &a.positive_buckets, a.schema, schema),
                &buckets(&b.positive_spans, &b.positive_buckets, b.schema, schema),
                sign,
            );
            let want_neg = merged(
                &buckets(&a.negative_spans, &a.negative_buckets, a.schema, schema),
                &buckets(&b.negative_spans, &b.negative_buckets, b.schema, schema),
                sign,
            );
            let mut got = a.clone();
            let result = if negate { got.sub(&b) } else { got.add(&b) };
            prop_assert!(result.is_ok());
            prop_assert_eq!(got.schema, schema);
            prop_assert_eq!(got.count, a.count + sign * b.count);
            prop_assert_eq!(buckets(&got.positive_spans, &got.positive_buckets, schema, schema), want_pos);
            prop_assert_eq!(buckets(&got.negative_spans, &got.negative_buckets, schema, schema), want_neg);
            for spans in [&got.positive_spans, &got.negative_spans] {
                prop_assert!(spans.iter().skip(1).all(|s| s.offset >= 0), "{:?}", spans);
                prop_assert!(spans.iter().all(|s| s.length > 0), "{:?}", spans);
            }
            let total = |s: &[BucketSpan]| s.iter().map(|s| s.length as usize).sum::<usize>();
            prop_assert_eq!(total(&got.positive_spans), got.positive_buckets.len());
            prop_assert_eq!(total(&got.negative_spans), got.negative_buckets.len());
        }

        /// Compacting drops empty buckets (all of them with no gap allowance) and keeps the others.
        #[test]
        fn compact_keeps_populated_buckets(h in histogram(0..=0)) {
            let mut c = h.clone();
            c.compact(0);
            let mut want = buckets(&h.positive_spans, &h.positive_buckets, 0, 0);
            want.retain(|_, v| *v != 0.0);
            prop_assert_eq!(buckets(&c.positive_spans, &c.positive_buckets, 0, 0), want);
            prop_assert!(c.positive_buckets.iter().all(|&v| v != 0.0));
        }
    }
}
