//! Calendar functions over Unix seconds (UTC), as Go's `time` package computes them.

/// A calendar function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateFn {
    /// `days_in_month`
    DaysInMonth,
    /// `day_of_month`
    DayOfMonth,
    /// `day_of_week`
    DayOfWeek,
    /// `day_of_year`
    DayOfYear,
    /// `hour`
    Hour,
    /// `minute`
    Minute,
    /// `month`
    Month,
    /// `year`
    Year,
}

impl DateFn {
    /// The calendar function called `name`.
    pub fn from_name(name: &str) -> Option<DateFn> {
        Some(match name {
            "days_in_month" => DateFn::DaysInMonth,
            "day_of_month" => DateFn::DayOfMonth,
            "day_of_week" => DateFn::DayOfWeek,
            "day_of_year" => DateFn::DayOfYear,
            "hour" => DateFn::Hour,
            "minute" => DateFn::Minute,
            "month" => DateFn::Month,
            "year" => DateFn::Year,
            _ => return None,
        })
    }
}

/// Go's float to int64 conversion on amd64: out-of-range values and NaN give `i64::MIN`.
fn go_f64_to_i64(v: f64) -> i64 {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if v.is_nan() || !(-LIMIT..LIMIT).contains(&v) { i64::MIN } else { v as i64 }
}

fn is_leap(y: i64) -> bool {
    y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)
}

/// Civil date (year, month, day) from days since 1970-01-01, proleptic Gregorian.
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The calendar value of `f` for the Unix time `secs` (truncated to whole seconds).
pub fn date_value(f: DateFn, secs: f64) -> f64 {
    let s = go_f64_to_i64(secs);
    let days = s.div_euclid(86_400);
    let sod = s.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    match f {
        DateFn::Hour => (sod / 3600) as f64,
        DateFn::Minute => ((sod % 3600) / 60) as f64,
        DateFn::Year => y as f64,
        DateFn::Month => m as f64,
        DateFn::DayOfMonth => d as f64,
        DateFn::DayOfWeek => (days + 4).rem_euclid(7) as f64,
        DateFn::DayOfYear => {
            const CUM: [u32; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
            let leap = if m > 2 && is_leap(y) { 1 } else { 0 };
            (CUM[(m - 1) as usize] + d + leap) as f64
        }
        DateFn::DaysInMonth => {
            const DAYS: [u32; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
            let extra = if m == 2 && is_leap(y) { 1 } else { 0 };
            (DAYS[(m - 1) as usize] + extra) as f64
        }
    }
}
