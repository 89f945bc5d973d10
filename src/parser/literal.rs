//! Values of number and duration tokens, converted exactly as Prometheus converts them (Go's
//! `strconv.ParseInt(s, 0, 64)`, then `strconv.ParseFloat`; `model.ParseDuration`), with the same
//! error texts.

use crate::parser::lexer::go_quote;

/// The value of a number token, or upstream's error message for it.
pub(crate) fn number(text: &str) -> Result<f64, String> {
    if let Some(i) = go_parse_int(text) {
        return Ok(i as f64);
    }
    go_parse_float(text)
        .map_err(|why| format!("error parsing number: strconv.ParseFloat: parsing {}: {why}", go_quote(text)))
}

/// Go's `underscoreOK`: underscores only between digits (or after a base prefix).
fn underscores_ok(s: &str) -> bool {
    let b = s.as_bytes();
    let mut saw = b'^';
    let mut i = 0;
    let mut hex = false;
    if b.len() >= 2 && b[0] == b'0' && matches!(b[1].to_ascii_lowercase(), b'b' | b'o' | b'x') {
        i = 2;
        saw = b'0';
        hex = b[1].eq_ignore_ascii_case(&b'x');
    }
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_digit() || (hex && c.is_ascii_hexdigit()) {
            saw = b'0';
        } else if c == b'_' {
            if saw != b'0' {
                return false;
            }
            saw = b'_';
        } else {
            if saw == b'_' {
                return false;
            }
            saw = b'!';
        }
        i += 1;
    }
    saw != b'_'
}

/// Go's `strconv.ParseInt(s, 0, 64)`; `None` on any error.
fn go_parse_int(s: &str) -> Option<i64> {
    if s.is_empty() {
        return None;
    }
    let b = s.as_bytes();
    let prefixed = |p: u8| b.len() >= 3 && b[0] == b'0' && b[1].eq_ignore_ascii_case(&p);
    let (base, digits) = if prefixed(b'b') {
        (2, &s[2..])
    } else if prefixed(b'o') {
        (8, &s[2..])
    } else if prefixed(b'x') {
        (16, &s[2..])
    } else if let Some(rest) = s.strip_prefix('0') {
        (8, rest)
    } else {
        (10, s)
    };
    if s.contains('_') && !underscores_ok(s) {
        return None;
    }
    let mut v: u64 = 0;
    for c in digits.chars() {
        if c == '_' {
            continue;
        }
        let d = c.to_digit(base)?;
        v = v.checked_mul(u64::from(base))?.checked_add(u64::from(d))?;
    }
    i64::try_from(v).ok()
}

/// Go's `strconv.ParseFloat(s, 64)` for the texts the lexer produces; the error is Go's reason.
fn go_parse_float(s: &str) -> Result<f64, &'static str> {
    const SYNTAX: &str = "invalid syntax";
    match s.to_ascii_lowercase().as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => return Ok(f64::INFINITY),
        "-inf" | "-infinity" => return Ok(f64::NEG_INFINITY),
        "nan" => return Ok(f64::NAN),
        _ => {}
    }
    let lower = s.to_ascii_lowercase();
    // Hexadecimal floats need a `p` exponent, which PromQL's lexer never produces.
    if lower.starts_with("0x") || lower.contains("inf") || lower.contains("nan") {
        return Err(SYNTAX);
    }
    if s.contains('_') && !underscores_ok(s) {
        return Err(SYNTAX);
    }
    let cleaned: String = s.chars().filter(|&c| c != '_').collect();
    if !cleaned.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-')) {
        return Err(SYNTAX);
    }
    let v: f64 = cleaned.parse().map_err(|_| SYNTAX)?;
    if v.is_infinite() {
        return Err("value out of range");
    }
    Ok(v)
}

/// Nanoseconds per unit, and the unit's rank (units must appear from largest to smallest).
fn unit(u: &str) -> Option<(u64, u8)> {
    const S: u64 = 1_000_000_000;
    Some(match u {
        "y" => (365 * 24 * 3600 * S, 1),
        "w" => (7 * 24 * 3600 * S, 2),
        "d" => (24 * 3600 * S, 3),
        "h" => (3600 * S, 4),
        "m" => (60 * S, 5),
        "s" => (S, 6),
        "ms" => (1_000_000, 7),
        _ => return None,
    })
}

/// The value in seconds of a duration token such as `1h30m` (Prometheus's `model.ParseDuration`),
/// or its error message.
pub(crate) fn duration_seconds(text: &str) -> Result<f64, String> {
    let ns = parse_duration_ns(text)?;
    Ok((ns / 1_000_000_000) as f64 + (ns % 1_000_000_000) as f64 / 1e9)
}

fn parse_duration_ns(orig: &str) -> Result<u64, String> {
    match orig {
        "0" => return Ok(0),
        "" => return Err("empty duration string".into()),
        _ => {}
    }
    let invalid = || format!("not a valid duration string: {}", go_quote(orig));
    let mut s = orig;
    let mut dur: u64 = 0;
    let mut last_rank = 0;
    while !s.is_empty() {
        if !s.as_bytes()[0].is_ascii_digit() {
            return Err(invalid());
        }
        let i = s.bytes().position(|b| !b.is_ascii_digit()).unwrap_or(s.len());
        let v: u64 = s[..i].parse().map_err(|_| invalid())?;
        s = &s[i..];
        let j = s.bytes().position(|b| b.is_ascii_digit()).unwrap_or(s.len());
        if j == 0 {
            return Err(invalid());
        }
        let u = &s[..j];
        s = &s[j..];
        let Some((mult, rank)) = unit(u) else {
            return Err(format!("unknown unit {} in duration {}", go_quote(u), go_quote(orig)));
        };
        if rank <= last_rank {
            return Err(invalid());
        }
        last_rank = rank;
        if v > (1u64 << 63) / mult {
            return Err("duration out of range".into());
        }
        dur = dur.checked_add(v * mult).ok_or_else(|| "duration out of range".to_string())?;
        if dur > (1u64 << 63) - 1 {
            return Err("duration out of range".into());
        }
    }
    Ok(dur)
}

/// Go's `time.Duration(math.Round(seconds * 1e9))` in whole milliseconds, truncated toward zero as
/// the engine converts durations to milliseconds. The caller has checked the range.
pub(crate) fn seconds_to_ms(seconds: f64) -> i64 {
    let ns = (seconds * 1e9).round();
    // Saturating conversion; callers reject values outside ±2^63 ns beforehand.
    (ns as i64) / 1_000_000
}

/// Whether `seconds * 1e9` leaves the range of a signed 64-bit nanosecond count.
pub(crate) fn duration_out_of_range(seconds: f64) -> bool {
    // 2^63 ns in seconds, as Go computes `1<<63/1e9` into a float64.
    const LIMIT: f64 = 9_223_372_036.854_776;
    !(-LIMIT..=LIMIT).contains(&seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_convert_like_go() {
        assert_eq!(number("0755"), Ok(493.0));
        assert_eq!(number("0xc"), Ok(12.0));
        assert_eq!(number("08"), Ok(8.0));
        assert_eq!(number("1_000"), Ok(1000.0));
        assert_eq!(number(".5"), Ok(0.5));
        assert_eq!(number("5."), Ok(5.0));
        assert!(number("NaN").is_ok_and(f64::is_nan));
        assert_eq!(number("Inf"), Ok(f64::INFINITY));
        assert_eq!(number("9223372036854775808"), Ok(9223372036854775808.0));
        assert_eq!(
            number("1e999"),
            Err("error parsing number: strconv.ParseFloat: parsing \"1e999\": value out of range".into())
        );
        assert_eq!(
            number("0x"),
            Err("error parsing number: strconv.ParseFloat: parsing \"0x\": invalid syntax".into())
        );
    }

    #[test]
    fn durations_convert_like_prometheus() {
        assert_eq!(duration_seconds("1h30m"), Ok(5400.0));
        assert_eq!(duration_seconds("1m30ms"), Ok(60.03));
        assert_eq!(duration_seconds("5m1h"), Err("not a valid duration string: \"5m1h\"".into()));
        assert_eq!(duration_seconds("5y1hs"), Err("unknown unit \"hs\" in duration \"5y1hs\"".into()));
        assert_eq!(duration_seconds("300y"), Err("duration out of range".into()));
    }
}
