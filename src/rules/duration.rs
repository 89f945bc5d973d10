//! Prometheus duration strings (`1h30m`, `5m`, `1d`, `0`), as rule files write `interval`, `for`,
//! `keep_firing_for` and `query_offset`.
//!
//! The accepted syntax is Prometheus's `model.Duration`: one or more `<digits><unit>` parts with units
//! `y`, `w`, `d`, `h`, `m`, `s`, `ms` in strictly decreasing order, or the bare `0`. A year is 365 days.

use std::time::Duration;

use crate::model::go_quote;

/// Units in the order they must appear, with their length in nanoseconds.
const UNITS: [(&str, u64); 7] = [
    ("y", 365 * 24 * 3600 * NANOS_PER_SEC),
    ("w", 7 * 24 * 3600 * NANOS_PER_SEC),
    ("d", 24 * 3600 * NANOS_PER_SEC),
    ("h", 3600 * NANOS_PER_SEC),
    ("m", 60 * NANOS_PER_SEC),
    ("s", NANOS_PER_SEC),
    ("ms", 1_000_000),
];

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// The largest duration Go's `time.Duration` holds, in nanoseconds.
const MAX_NANOS: u64 = i64::MAX as u64;

/// Parses a Prometheus duration. Errors carry Prometheus's wording, e.g.
/// `not a valid duration string: "5"`.
///
/// ```
/// use std::time::Duration;
/// use ferroprom::rules::duration::{format_duration, parse_duration};
///
/// assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
/// assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
/// assert_eq!(parse_duration("5").unwrap_err(), "not a valid duration string: \"5\"");
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    match text {
        "0" => return Ok(Duration::ZERO),
        "" => return Err("empty duration string".to_string()),
        _ => {}
    }
    let invalid = || format!("not a valid duration string: {}", go_quote(text));
    let bytes = text.as_bytes();
    let mut pos = 0;
    let mut total: u64 = 0;
    let mut last_unit = None;
    while pos < bytes.len() {
        let digits_end = pos + bytes[pos..].iter().take_while(|b| b.is_ascii_digit()).count();
        if digits_end == pos {
            return Err(invalid());
        }
        let value: u64 = text[pos..digits_end].parse().map_err(|_| invalid())?;
        let unit_end = digits_end + bytes[digits_end..].iter().take_while(|b| !b.is_ascii_digit()).count();
        if unit_end == digits_end {
            return Err(invalid());
        }
        let unit = &text[digits_end..unit_end];
        let Some(index) = UNITS.iter().position(|(name, _)| *name == unit) else {
            return Err(format!("unknown unit {} in duration {}", go_quote(unit), go_quote(text)));
        };
        if last_unit.is_some_and(|last| index <= last) {
            return Err(invalid());
        }
        last_unit = Some(index);
        let mult = UNITS[index].1;
        if value > (1u64 << 63) / mult {
            return Err("duration out of range".to_string());
        }
        total = total.saturating_add(value * mult);
        if total > MAX_NANOS {
            return Err("duration out of range".to_string());
        }
        pos = unit_end;
    }
    Ok(Duration::from_nanos(total))
}

/// Formats a duration the way Prometheus prints `model.Duration`: millisecond precision, largest units
/// first, years and weeks only when they divide the duration exactly (`90d`, not `12w6d`); zero is `0s`.
pub fn format_duration(duration: Duration) -> String {
    let mut ms = duration.as_millis();
    if ms == 0 {
        return "0s".to_string();
    }
    let mut out = String::new();
    for (i, (unit, nanos)) in UNITS.iter().enumerate() {
        let mult = u128::from(nanos / 1_000_000);
        let exact_only = i < 2;
        if exact_only && !ms.is_multiple_of(mult) {
            continue;
        }
        let v = ms / mult;
        if v > 0 {
            out.push_str(&v.to_string());
            out.push_str(unit);
            ms -= v * mult;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_round_trip_like_prometheus() {
        for (text, printed) in
            [("1h30m", "1h30m"), ("90d", "90d"), ("2w", "2w"), ("1y", "1y"), ("500ms", "500ms")]
        {
            let d = parse_duration(text).unwrap();
            assert_eq!(format_duration(d), printed, "{text}");
        }
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("1m1h").unwrap_err(), "not a valid duration string: \"1m1h\"");
        assert_eq!(parse_duration("1x").unwrap_err(), "unknown unit \"x\" in duration \"1x\"");
        assert_eq!(parse_duration("").unwrap_err(), "empty duration string");
        assert_eq!(parse_duration("300y").unwrap_err(), "duration out of range");
    }
}
