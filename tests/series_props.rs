//! Properties of series descriptions: no input makes the parser panic, errors point into the
//! input, and a histogram printed with `test_expression` parses back to the same histogram.

use ferroprom::model::{BucketSpan, CounterResetHint, FloatHistogram};
use ferroprom::parser::series::{SequenceValue, parse_series_desc};
use proptest::prelude::*;

/// Strings made of the pieces of the notation, so that generated inputs get past the first token.
fn notation() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("{".to_string()),
        Just("}".to_string()),
        Just("{{".to_string()),
        Just("}}".to_string()),
        Just(" ".to_string()),
        Just("\t".to_string()),
        Just("_".to_string()),
        Just("x".to_string()),
        Just("+".to_string()),
        Just("-".to_string()),
        Just(":".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just(",".to_string()),
        Just("=".to_string()),
        Just("\"".to_string()),
        Just("stale".to_string()),
        Just("Inf".to_string()),
        Just("schema".to_string()),
        Just("buckets".to_string()),
        Just("sum".to_string()),
        Just("counter_reset_hint".to_string()),
        Just("gauge".to_string()),
        Just("a".to_string()),
        "[0-9]{1,3}",
        "[0-9]\\.[0-9]e-?[0-9]",
        any::<char>().prop_map(|c| c.to_string()),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|p| p.concat())
}

fn finite() -> impl Strategy<Value = f64> {
    prop_oneof![(-1000i32..1000).prop_map(f64::from), (-1e6f64..1e6)]
}

fn histogram() -> impl Strategy<Value = FloatHistogram> {
    (
        -4i32..=8,
        finite(),
        finite(),
        finite(),
        prop::collection::vec(finite(), 0..6),
        -10i32..10,
        prop::collection::vec(finite(), 0..6),
        -10i32..10,
        0u8..4,
    )
        .prop_map(|(schema, count, sum, zero, pos, pos_offset, neg, neg_offset, hint)| {
            let span = |b: &Vec<f64>, o: i32| {
                if b.is_empty() { vec![] } else { vec![BucketSpan::new(o, b.len() as u32)] }
            };
            FloatHistogram {
                counter_reset_hint: [
                    CounterResetHint::Unknown,
                    CounterResetHint::CounterReset,
                    CounterResetHint::NotCounterReset,
                    CounterResetHint::Gauge,
                ][hint as usize],
                schema,
                zero_threshold: 0.001,
                zero_count: zero,
                count,
                sum,
                positive_spans: span(&pos, pos_offset),
                negative_spans: span(&neg, neg_offset),
                positive_buckets: pos,
                negative_buckets: neg,
                custom_values: vec![],
            }
        })
}

proptest! {
    #[test]
    fn never_panics(input in notation()) {
        if let Err(e) = parse_series_desc(&input) {
            prop_assert!(e.offset <= input.len());
            prop_assert!(e.to_string().contains("parse error: "));
        }
    }

    #[test]
    fn test_expression_parses_back(h in histogram()) {
        let text = format!("{{}} {}", h.test_expression());
        let desc = parse_series_desc(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        let mut want = h.clone();
        want.compact(usize::MAX);
        match desc.values.as_slice() {
            [SequenceValue::Histogram { histogram, .. }] => {
                let mut got = (**histogram).clone();
                got.compact(usize::MAX);
                // `%g` keeps the shortest representation, so numbers survive exactly.
                prop_assert_eq!(got, want, "{}", text);
            }
            other => prop_assert!(false, "{text}: {other:?}"),
        }
    }
}
