//! A fast reader for the plain subset of series values that generated test files are made of:
//! `_`, `_xN`, `stale`, decimal numbers (`-12`, `0.5`, no leading zeros, no exponents) and their
//! expansions `AxN`, `A+BxN`, `A-BxN`. The values are exactly those of
//! [`parse_series_desc`](crate::parser::series::parse_series_desc) (a test checks this on random
//! lines); anything else — histograms, `Inf`, octal or hex numbers, errors — is left to it by
//! returning `None`.

use crate::model::STALE_NAN;
use crate::parser::series::{MAX_SEQUENCE_VALUES, SequenceValue};

/// An unsigned decimal: `0` or `[1-9][0-9]*`, optionally `.` and digits.
fn decimal(s: &str) -> Option<f64> {
    let (int, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    let int_ok = int == "0" || (int.starts_with(|c: char| matches!(c, '1'..='9')) && all_digits(int));
    let frac_ok = frac.is_none_or(|f| !f.is_empty() && all_digits(f));
    if !int_ok || !frac_ok {
        return None;
    }
    s.parse().ok()
}

fn all_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// A decimal with an optional leading `-`.
fn signed(s: &str) -> Option<f64> {
    match s.strip_prefix('-') {
        Some(rest) => decimal(rest).map(|v| -v),
        None => decimal(s),
    }
}

/// A repetition count: decimal digits.
fn count(s: &str) -> Option<usize> {
    if !all_digits(s) {
        return None;
    }
    s.parse::<usize>().ok()
}

/// Reads the values part of a series line, or `None` when it is not in the plain subset.
pub(crate) fn parse_plain_values(text: &str) -> Option<Vec<SequenceValue>> {
    let items = text.split([' ', '\t']).filter(|s| !s.is_empty());
    let mut out = Vec::with_capacity(items.clone().count());
    for item in items {
        match item {
            "_" => out.push(SequenceValue::Omitted),
            "stale" => out.push(SequenceValue::Stale),
            _ => {
                let (head, n) = match item.split_once('x') {
                    Some((head, n)) => (head, Some(count(n)?)),
                    None => (item, None),
                };
                if head == "_" {
                    let n = n?;
                    if out.len().checked_add(n)? > MAX_SEQUENCE_VALUES {
                        return None;
                    }
                    out.extend(std::iter::repeat_n(SequenceValue::Omitted, n));
                    continue;
                }
                // `A+B` / `A-B`: the operator is the first sign after the first character.
                let op = head.get(1..).and_then(|rest| rest.find(['+', '-']).map(|i| i + 1));
                let (start, step) = match op {
                    Some(i) => {
                        let b = decimal(&head[i + 1..])?;
                        let step = if &head[i..=i] == "-" { -b } else { b };
                        (signed(&head[..i])?, Some(step))
                    }
                    None => (signed(head)?, None),
                };
                let Some(n) = n else {
                    if step.is_some() {
                        return None;
                    }
                    out.push(SequenceValue::Float(start));
                    continue;
                };
                let total = n.checked_add(1)?;
                if out.len().checked_add(total)? > MAX_SEQUENCE_VALUES {
                    return None;
                }
                let step = step.unwrap_or(0.0);
                let mut value = start;
                for _ in 0..total {
                    out.push(if value.to_bits() == STALE_NAN.to_bits() {
                        SequenceValue::Stale
                    } else {
                        SequenceValue::Float(value)
                    });
                    value += step;
                }
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::series::parse_series_desc;
    use proptest::prelude::*;

    fn same_as_grammar(values: &str) {
        if let Some(fast) = parse_plain_values(values) {
            let full = parse_series_desc(&format!("m {values}")).unwrap();
            assert_eq!(fast.len(), full.values.len(), "{values}");
            for (a, b) in fast.iter().zip(&full.values) {
                match (a, b) {
                    (SequenceValue::Float(x), SequenceValue::Float(y)) => {
                        assert_eq!(x.to_bits(), y.to_bits(), "{values}")
                    }
                    _ => assert_eq!(a, b, "{values}"),
                }
            }
        }
    }

    #[test]
    fn plain_items() {
        assert_eq!(
            parse_plain_values("1 _ stale"),
            Some(vec![SequenceValue::Float(1.0), SequenceValue::Omitted, SequenceValue::Stale])
        );
        assert_eq!(parse_plain_values("_x2").map(|v| v.len()), Some(2));
        assert_eq!(parse_plain_values("1x2").map(|v| v.len()), Some(3));
        for v in ["0x10", "0+0.1x20", "-1-2x3", "-0 0.5", "3-1x5 7", "1 2 3"] {
            same_as_grammar(v);
        }
        for other in ["010", "1e3", "Inf", "{{count:1}}", "1+", "+1", "1x", "x3", "1.", ".5", "1+-1x2"] {
            assert_eq!(parse_plain_values(other), None, "{other}");
        }
    }

    proptest! {
        #[test]
        fn agrees_with_the_grammar(items in prop::collection::vec(
            "(_|stale|-?(0|[1-9][0-9]{0,3})(\\.[0-9]{1,4})?([+-](0|[1-9][0-9]{0,2})(\\.[0-9]{1,3})?)?(x[0-9]{1,2})?|_x[0-9]{1,2})",
            1..8,
        )) {
            same_as_grammar(&items.join(" "));
        }
    }
}
