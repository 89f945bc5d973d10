//! Request parameters as Prometheus's API handlers read them: form values (body first, then URL),
//! times, durations, limits and `match[]` selectors, with upstream's error texts.

use crate::model::{Matcher, go_quote};
use crate::parser::{Expr, ParseOptions, parse_with};

/// Prometheus's `MinTime` (the default `start` of `/series` and `/labels`) in milliseconds.
pub const MIN_TIME: i64 = -9_223_309_901_257_974_000;
/// Prometheus's `MaxTime` (the default `end`) in milliseconds.
pub const MAX_TIME: i64 = 9_223_309_901_257_974_999;
const MIN_TIME_TEXT: &str = "-292273086-05-16T16:47:06Z";
const MAX_TIME_TEXT: &str = "292277025-08-18T07:12:54.999999999Z";

/// The form values of one request, in Go's `r.Form` order: the form-encoded body's pairs, then the
/// URL query's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Reads a URL query string and a form-encoded body (either may be empty).
    pub fn from_query_and_body(query: &str, body: &[u8]) -> Params {
        let pairs = form_urlencoded::parse(body)
            .chain(form_urlencoded::parse(query.as_bytes()))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        Params(pairs)
    }

    /// Parameters from pairs.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(pairs: impl IntoIterator<Item = (K, V)>) -> Params {
        Params(pairs.into_iter().map(|(k, v)| (k.into(), v.into())).collect())
    }

    /// The first value of `name`, or `""` (Go's `FormValue`).
    pub fn get(&self, name: &str) -> &str {
        self.0.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str())
    }

    /// Every value of `name`, in order.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == name).map(|(_, v)| v.as_str()).collect()
    }
}

/// A float as Go's `strconv.ParseFloat` reads a decimal one (hexadecimal floats are not accepted).
fn go_float(s: &str) -> Option<f64> {
    let t = s.strip_prefix(['+', '-']).unwrap_or(s);
    let plain = t.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    let special = ["inf", "infinity", "nan"].iter().any(|w| t.eq_ignore_ascii_case(w));
    if (!plain && !special) || t.is_empty() {
        return None;
    }
    s.parse().ok()
}

/// A time as Prometheus's `parseTime` reads it (Unix seconds with up to millisecond precision, or
/// RFC 3339), in milliseconds.
///
/// # Errors
///
/// Upstream's `cannot parse "…" to a valid timestamp`.
pub fn parse_time(s: &str) -> Result<i64, String> {
    if let Some(t) = go_float(s) {
        let (secs, frac) = (t.trunc(), t.fract());
        let frac = (frac * 1000.0).round() / 1000.0;
        let nanos = (frac * 1e9) as i64;
        return Ok((secs as i64).saturating_mul(1000).saturating_add(nanos.div_euclid(1_000_000)));
    }
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_millis());
    }
    match s {
        MIN_TIME_TEXT => Ok(MIN_TIME),
        MAX_TIME_TEXT => Ok(MAX_TIME),
        _ => Err(format!("cannot parse {} to a valid timestamp", go_quote(s))),
    }
}

/// An optional time parameter (`parseTimeParam`): `default` when absent.
///
/// # Errors
///
/// `invalid time value for '<name>': …`.
pub fn time_param(params: &Params, name: &str, default: i64) -> Result<i64, String> {
    match params.get(name) {
        "" => Ok(default),
        v => parse_time(v).map_err(|e| format!("invalid time value for '{name}': {e}")),
    }
}

/// A duration as Prometheus's API `parseDuration` reads it (float seconds or a Prometheus duration
/// such as `1m30s`), in nanoseconds; may be negative when given as a number.
///
/// # Errors
///
/// `cannot parse "…" to a valid duration` (with `. It overflows int64` for huge numbers).
pub fn parse_duration_nanos(s: &str) -> Result<i64, String> {
    if let Some(d) = go_float(s) {
        let ns = d * 1e9;
        if ns > i64::MAX as f64 || ns < i64::MIN as f64 {
            return Err(format!("cannot parse {} to a valid duration. It overflows int64", go_quote(s)));
        }
        return Ok(ns as i64);
    }
    crate::promqltest::parse_duration(s)
        .ok()
        .and_then(|ms| ms.checked_mul(1_000_000))
        .ok_or_else(|| format!("cannot parse {} to a valid duration", go_quote(s)))
}

/// The `limit` parameter (`parseLimitParam`): 0 means no limit.
///
/// # Errors
///
/// Go's `strconv.Atoi` message, or `limit must be non-negative`.
pub fn parse_limit(s: &str) -> Result<usize, String> {
    if s.is_empty() {
        return Ok(0);
    }
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("strconv.Atoi: parsing {}: invalid syntax", go_quote(s)));
    }
    let n: i64 =
        s.parse().map_err(|_| format!("strconv.Atoi: parsing {}: value out of range", go_quote(s)))?;
    if n < 0 {
        return Err("limit must be non-negative".to_string());
    }
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// The `match[]` selectors (`parseMatchersParam`): each must be a vector selector with at least
/// one matcher that does not match the empty string.
///
/// # Errors
///
/// The parse error, or `match[] must contain at least one non-empty matcher`.
pub fn parse_match_sets(values: &[&str], opts: &ParseOptions) -> Result<Vec<Vec<Matcher>>, String> {
    let mut sets = Vec::with_capacity(values.len());
    let empty = "match[] must contain at least one non-empty matcher";
    for v in values {
        let parsed = parse_with(v, opts).map_err(|e| {
            // Prometheus's selector parser leaves this check to the API, which words it so.
            if e.message() == "vector selector must contain at least one non-empty matcher" {
                empty.to_string()
            } else {
                e.to_string()
            }
        })?;
        match parsed {
            Expr::VectorSelector(vs) if vs.offset.is_none() && vs.at.is_none() => sets.push(vs.matchers),
            _ => return Err(format!("1:1: parse error: {} is not a vector selector", go_quote(v))),
        }
    }
    for set in &sets {
        if set.iter().all(Matcher::matches_empty) {
            return Err(empty.to_string());
        }
    }
    Ok(sets)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_as_prometheus_reads_them() {
        assert_eq!(parse_time("1.5"), Ok(1500));
        assert_eq!(parse_time("-1.5"), Ok(-1500));
        assert_eq!(parse_time("0.0005"), Ok(1));
        assert_eq!(parse_time("1700000000.123"), Ok(1_700_000_000_123));
        assert_eq!(parse_time("1970-01-01T00:01:00.5Z"), Ok(60_500));
        assert_eq!(parse_time("1970-01-01T01:00:00+01:00"), Ok(0));
        assert_eq!(parse_time(MAX_TIME_TEXT), Ok(MAX_TIME));
        assert_eq!(parse_time("x").unwrap_err(), r#"cannot parse "x" to a valid timestamp"#);
        assert_eq!(parse_time("").unwrap_err(), r#"cannot parse "" to a valid timestamp"#);
    }

    #[test]
    fn durations_and_limits() {
        assert_eq!(parse_duration_nanos("15"), Ok(15_000_000_000));
        assert_eq!(parse_duration_nanos("0.5"), Ok(500_000_000));
        assert_eq!(parse_duration_nanos("1m30s"), Ok(90_000_000_000));
        assert_eq!(parse_duration_nanos("-1"), Ok(-1_000_000_000));
        assert!(parse_duration_nanos("1e300").unwrap_err().ends_with("It overflows int64"));
        assert_eq!(parse_duration_nanos("x").unwrap_err(), r#"cannot parse "x" to a valid duration"#);
        assert_eq!(parse_limit(""), Ok(0));
        assert_eq!(parse_limit("7"), Ok(7));
        assert_eq!(parse_limit("-1").unwrap_err(), "limit must be non-negative");
        assert_eq!(parse_limit("x").unwrap_err(), r#"strconv.Atoi: parsing "x": invalid syntax"#);
    }

    #[test]
    fn form_values_body_first() {
        let p = Params::from_query_and_body("a=url&b=2", b"a=body&m%5B%5D=x");
        assert_eq!(p.get("a"), "body");
        assert_eq!(p.get("b"), "2");
        assert_eq!(p.all("m[]"), ["x"]);
        assert_eq!(p.get("none"), "");
    }
}
