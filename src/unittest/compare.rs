//! What expectations are compared as, and how promtool prints both sides of a mismatch.

use crate::model::{Labels, format_go_exp};

/// An alert as compared: its labels and annotations, each sorted by name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct AlertEntry {
    pub labels: Vec<(String, String)>,
    pub annotations: Vec<(String, String)>,
}

/// A sample as compared: labels, float value and the histogram's series notation (empty for floats).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SampleEntry {
    pub labels: Labels,
    pub value: f64,
    pub histogram: String,
}

/// Float equality as promtool compares: `==` (NaN never equals NaN), or within one ULP with
/// `fuzzy_compare`.
pub(crate) fn floats_equal(x: f64, y: f64, fuzzy: bool) -> bool {
    x == y || (fuzzy && (next_after(x, f64::NEG_INFINITY) == y || next_after(x, f64::INFINITY) == y))
}

/// Go's `math.Nextafter`.
fn next_after(x: f64, y: f64) -> f64 {
    if x.is_nan() || y.is_nan() {
        return f64::NAN;
    }
    if x == y {
        return x;
    }
    if x == 0.0 {
        let tiny = f64::from_bits(1);
        return if y > 0.0 { tiny } else { -tiny };
    }
    let bits = x.to_bits();
    let up = (y > x) == (x > 0.0);
    f64::from_bits(if up { bits + 1 } else { bits - 1 })
}

/// Prometheus's `labels.String()` of name/value pairs: `{a="b", c="d"}`.
pub(crate) fn pairs_text(pairs: &[(String, String)]) -> String {
    // `Labels` prints exactly this; empty values are kept by `from_pairs`.
    Labels::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))).to_string()
}

/// promtool's list of alerts: `[]`, or `[\n0:\n  Labels:{…}\n  Annotations:{…},\n1:…\n]`.
pub(crate) fn alerts_text(alerts: &[AlertEntry]) -> String {
    if alerts.is_empty() {
        return "[]".into();
    }
    let mut s = String::from("[\n");
    for (i, a) in alerts.iter().enumerate() {
        if i > 0 {
            s.push_str(",\n");
        }
        let item = format!("\nLabels:{}\nAnnotations:{}", pairs_text(&a.labels), pairs_text(&a.annotations));
        s.push_str(&format!("{i}:{}", indent_lines(&item, "  ")));
    }
    s.push_str("\n]");
    s
}

/// promtool's list of samples: `{labels} 1E+00, {labels} {{histogram}}`, or `nil`.
pub(crate) fn samples_text(samples: &[SampleEntry]) -> String {
    if samples.is_empty() {
        return "nil".into();
    }
    let items: Vec<String> = samples
        .iter()
        .map(|s| {
            if s.histogram.is_empty() {
                format!("{} {}", s.labels, format_go_upper_exp(s.value))
            } else {
                format!("{} {}", s.labels, s.histogram)
            }
        })
        .collect();
    items.join(", ")
}

/// Go's `strconv.FormatFloat(v, 'E', -1, 64)`: `1E+00`, `3.999999999999991E-01`, `NaN`, `+Inf`.
pub(crate) fn format_go_upper_exp(v: f64) -> String {
    format_go_exp(v).replace('e', "E")
}

/// Prefixes every line but the first with `indent`.
pub(crate) fn indent_lines(lines: &str, indent: &str) -> String {
    lines.split('\n').collect::<Vec<_>>().join(&format!("\n{indent}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_print_as_go() {
        assert_eq!(format_go_upper_exp(1.0), "1E+00");
        assert_eq!(format_go_upper_exp(0.3999999999999991), "3.999999999999991E-01");
        assert_eq!(format_go_upper_exp(f64::NAN), "NaN");
        assert_eq!(format_go_upper_exp(f64::NEG_INFINITY), "-Inf");
    }

    #[test]
    fn one_ulp() {
        assert!(floats_equal(3.0, 2.9999999999999996, true));
        assert!(floats_equal(3.0, 3.0000000000000004, true));
        assert!(!floats_equal(3.0, 3.0000000000000004, false));
        assert!(!floats_equal(3.0, 3.0000000000000013, true));
        assert!(!floats_equal(f64::NAN, f64::NAN, true));
    }
}
