//! Durations as promqltest scripts write them (Prometheus's `model.ParseDuration`): `0`, or unit
//! groups in the order `y w d h m s ms`, each at most once (`1h30m`, `10s53ms`), no sign, no
//! fraction.

/// Parses a duration into milliseconds.
///
/// ```
/// use ferroprom::promqltest::parse_duration;
/// assert_eq!(parse_duration("1h30m"), Ok(5_400_000));
/// assert_eq!(parse_duration("0"), Ok(0));
/// assert!(parse_duration("30m1h").is_err());
/// ```
pub fn parse_duration(s: &str) -> Result<i64, String> {
    if s.is_empty() {
        return Err("empty duration string".to_string());
    }
    if s == "0" {
        return Ok(0);
    }
    let invalid = || format!("not a valid duration string: {s:?}");
    const UNITS: [(&str, i64); 7] = [
        ("y", 365 * 24 * 3_600_000),
        ("w", 7 * 24 * 3_600_000),
        ("d", 24 * 3_600_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ];
    let bytes = s.as_bytes();
    let mut pos = 0;
    let mut next_unit = 0;
    let mut total: i64 = 0;
    while pos < bytes.len() {
        let digits_start = pos;
        while pos < bytes.len() && bytes[pos].is_ascii_digit() {
            pos += 1;
        }
        if pos == digits_start {
            return Err(invalid());
        }
        let n: i64 = s[digits_start..pos].parse().map_err(|_| "duration out of range".to_string())?;
        let unit_start = pos;
        while pos < bytes.len() && bytes[pos].is_ascii_alphabetic() {
            pos += 1;
        }
        let unit = &s[unit_start..pos];
        let Some(idx) = UNITS.iter().position(|(u, _)| *u == unit) else {
            return Err(invalid());
        };
        if idx < next_unit {
            return Err(invalid());
        }
        next_unit = idx + 1;
        let ms = n.checked_mul(UNITS[idx].1).ok_or_else(|| "duration out of range".to_string())?;
        total = total.checked_add(ms).ok_or_else(|| "duration out of range".to_string())?;
    }
    // Go's time.Duration is in nanoseconds: the total must fit in an i64 of nanoseconds.
    if total.checked_mul(1_000_000).is_none() {
        return Err("duration out of range".to_string());
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        for (s, ms) in
            [("5m", 300_000), ("10s53ms", 10_053), ("1y", 31_536_000_000), ("2m1s", 121_000), ("0s", 0)]
        {
            assert_eq!(parse_duration(s), Ok(ms), "{s}");
        }
        for s in ["", "1.5m", "-1m", "90", "5x", "1m1m", "ms", "m5"] {
            assert!(parse_duration(s).is_err(), "{s}");
        }
    }
}
