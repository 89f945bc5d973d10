//! Query results: scalars, strings, instant vectors and range vectors (matrices), and the number
//! formats Prometheus's HTTP API uses for them.

use std::sync::Arc;

use super::histogram::FloatHistogram;
use super::labels::Labels;

/// One sample of an instant vector: a float (`h` is `None`) or a native histogram (`h` is set and
/// `f` is unused, 0).
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The series' labels.
    pub labels: Labels,
    /// Timestamp in milliseconds since the epoch.
    pub t: i64,
    /// The float value (meaningless when `h` is set).
    pub f: f64,
    /// The histogram value, for histogram samples.
    pub h: Option<Arc<FloatHistogram>>,
}

/// A float point of a range vector series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FPoint {
    /// Timestamp in milliseconds since the epoch.
    pub t: i64,
    /// The value.
    pub f: f64,
}

/// A histogram point of a range vector series.
#[derive(Debug, Clone, PartialEq)]
pub struct HPoint {
    /// Timestamp in milliseconds since the epoch.
    pub t: i64,
    /// The value.
    pub h: Arc<FloatHistogram>,
}

/// One series of a range vector: its float points and histogram points, each in time order (a
/// timestamp has at most one point across both lists).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// The series' labels.
    pub labels: Labels,
    /// Float points, ascending by time.
    pub floats: Vec<FPoint>,
    /// Histogram points, ascending by time.
    pub histograms: Vec<HPoint>,
}

/// The result of a query.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A scalar at an evaluation time.
    Scalar {
        /// Evaluation timestamp in milliseconds.
        t: i64,
        /// The value.
        v: f64,
    },
    /// A string at an evaluation time.
    String {
        /// Evaluation timestamp in milliseconds.
        t: i64,
        /// The value.
        v: String,
    },
    /// An instant vector.
    Vector(Vec<Sample>),
    /// A range vector (a matrix): range selectors' results and every range query result.
    Matrix(Vec<Series>),
}

impl Value {
    /// The result type as the HTTP API names it: `scalar`, `string`, `vector` or `matrix`.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Scalar { .. } => "scalar",
            Value::String { .. } => "string",
            Value::Vector(_) => "vector",
            Value::Matrix(_) => "matrix",
        }
    }
}

/// Formats a float as Go's `strconv.FormatFloat(v, 'f', -1, 64)`: the shortest decimal that reads
/// back to the same value, never with an exponent; `NaN`, `+Inf`, `-Inf`.
///
/// ```
/// use ferroprom::model::format_float;
/// assert_eq!(format_float(0.1), "0.1");
/// assert_eq!(format_float(1e21), "1000000000000000000000");
/// assert_eq!(format_float(f64::INFINITY), "+Inf");
/// assert_eq!(format_float(-0.0), "-0");
/// ```
pub fn format_float(v: f64) -> String {
    if let Some(s) = special(v) {
        return s.to_string();
    }
    // Rust's `Display` for f64 is the shortest round-trip representation without an exponent.
    format!("{v}")
}

/// Formats a sample value as Prometheus's HTTP API does (`jsonutil.MarshalFloat`, without the
/// quotes): like [`format_float`], but with Go's exponent form (`1e-07`, `1.5e+21`) when
/// `|v| < 1e-6` or `|v| >= 1e21` (and `v != 0`).
///
/// ```
/// use ferroprom::model::format_api_float;
/// assert_eq!(format_api_float(1234.5), "1234.5");
/// assert_eq!(format_api_float(1e-7), "1e-07");
/// assert_eq!(format_api_float(1.5e21), "1.5e+21");
/// assert_eq!(format_api_float(f64::NAN), "NaN");
/// ```
pub fn format_api_float(v: f64) -> String {
    if let Some(s) = special(v) {
        return s.to_string();
    }
    let a = v.abs();
    if a != 0.0 && !(1e-6..1e21).contains(&a) { format_go_exp(v) } else { format!("{v}") }
}

/// Formats a float as Go's `strconv.FormatFloat(v, 'e', -1, 64)`: shortest round-trip mantissa, an
/// exponent with sign and at least two digits (`1e+06`, `2.5e-10`).
pub fn format_go_exp(v: f64) -> String {
    if let Some(s) = special(v) {
        return s.to_string();
    }
    let s = format!("{v:e}");
    match s.split_once('e') {
        Some((mant, exp)) => {
            let (sign, digits) = match exp.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', exp),
            };
            if digits.len() < 2 {
                format!("{mant}e{sign}0{digits}")
            } else {
                format!("{mant}e{sign}{digits}")
            }
        }
        None => s,
    }
}

/// Formats a float as Go's `%g` (`strconv.FormatFloat(v, 'g', -1, 64)`): the shortest round-trip
/// digits, in exponent form (`1e+06`, `1.5e-07`) when the decimal exponent is below -4 or at least
/// 6, otherwise plain (`123456`, `0.0001`).
///
/// ```
/// use ferroprom::model::format_go_g;
/// assert_eq!(format_go_g(123456.0), "123456");
/// assert_eq!(format_go_g(1234567.0), "1.234567e+06");
/// assert_eq!(format_go_g(0.0001), "0.0001");
/// assert_eq!(format_go_g(0.00001), "1e-05");
/// ```
pub fn format_go_g(v: f64) -> String {
    if let Some(s) = special(v) {
        return s.to_string();
    }
    if v == 0.0 {
        return format!("{v}");
    }
    let e = format!("{v:e}");
    let exp: i32 = e.split_once('e').and_then(|(_, x)| x.parse().ok()).unwrap_or(0);
    if !(-4..6).contains(&exp) { format_go_exp(v) } else { format!("{v}") }
}

fn special(v: f64) -> Option<&'static str> {
    if v.is_nan() {
        Some("NaN")
    } else if v == f64::INFINITY {
        Some("+Inf")
    } else if v == f64::NEG_INFINITY {
        Some("-Inf")
    } else {
        None
    }
}

/// Formats a millisecond timestamp as Prometheus's HTTP API does (`jsonutil.MarshalTimestamp`):
/// seconds, with the millisecond fraction written as three digits when non-zero (`1.500`, `-0.005`).
///
/// ```
/// use ferroprom::model::format_api_timestamp;
/// assert_eq!(format_api_timestamp(1500), "1.500");
/// assert_eq!(format_api_timestamp(60000), "60");
/// assert_eq!(format_api_timestamp(-5), "-0.005");
/// ```
pub fn format_api_timestamp(t: i64) -> String {
    let neg = t < 0;
    let u = t.unsigned_abs();
    let (secs, frac) = (u / 1000, u % 1000);
    let sign = if neg { "-" } else { "" };
    if frac == 0 { format!("{sign}{secs}") } else { format!("{sign}{secs}.{frac:03}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_floats() {
        assert_eq!(format_api_float(0.0), "0");
        assert_eq!(format_api_float(1e-6), "0.000001");
        assert_eq!(format_api_float(123456789.0), "123456789");
        assert_eq!(format_api_float(-2.5e-300), "-2.5e-300");
        assert_eq!(format_api_float(f64::NEG_INFINITY), "-Inf");
        assert_eq!(format_go_exp(1e100), "1e+100");
        assert_eq!(format_float(1e-7), "0.0000001");
        assert_eq!(format_go_g(-0.0), "-0");
        assert_eq!(format_go_g(100.5), "100.5");
        assert_eq!(format_go_g(f64::MAX), "1.7976931348623157e+308");
    }
}
