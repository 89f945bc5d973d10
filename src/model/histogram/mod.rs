//! Native histograms as PromQL sees them: float counts, absolute (not delta-encoded) buckets.
//!
//! [`FloatHistogram`] mirrors the fields of Prometheus's `model/histogram.FloatHistogram` so that
//! evaluation can follow upstream rule for rule. Buckets are sparse: the populated bucket indices
//! are described by a list of [`BucketSpan`]s, and the bucket counts are listed in index order.

mod bounds;
mod combine;
mod kahan;
mod layout;
mod reset;

pub use bounds::exponential_bound;

/// What is known about a counter reset at a histogram sample (or that it is a gauge histogram).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum CounterResetHint {
    /// Nothing is known: a reset has to be detected by comparing with the previous sample.
    #[default]
    Unknown,
    /// A counter reset happened right before this sample.
    CounterReset,
    /// No counter reset happened right before this sample.
    NotCounterReset,
    /// A gauge histogram: counter resets do not apply.
    Gauge,
}

/// A run of consecutive populated buckets.
///
/// The first span's `offset` is the index of its first bucket (it may be negative); every later
/// span's `offset` is the gap of unpopulated buckets since the end of the previous span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BucketSpan {
    /// The starting index (first span) or the gap to the previous span (later spans).
    pub offset: i32,
    /// The number of consecutive buckets in the span.
    pub length: u32,
}

impl BucketSpan {
    /// A span of `length` buckets starting `offset` after the previous one.
    pub const fn new(offset: i32, length: u32) -> BucketSpan {
        BucketSpan { offset, length }
    }
}

/// The schema number of histograms with custom bucket bounds (classic-style buckets).
pub const CUSTOM_BUCKETS_SCHEMA: i32 = -53;
/// The smallest schema number of exponential bucketing.
pub const EXPONENTIAL_SCHEMA_MIN: i32 = -4;
/// The largest schema number of exponential bucketing.
pub const EXPONENTIAL_SCHEMA_MAX: i32 = 8;

/// A native histogram with float counts.
///
/// For exponential schemas (`-4..=8`) bucket boundaries are powers of `2^(2^-schema)`, with a
/// zero bucket of half-width `zero_threshold`. For [`CUSTOM_BUCKETS_SCHEMA`] the upper bounds of
/// the buckets are `custom_values` (the zero bucket and negative buckets are unused).
///
/// Equality is structural: two histograms describing the same distribution with different span
/// layouts compare unequal.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FloatHistogram {
    /// What is known about a counter reset at this sample.
    pub counter_reset_hint: CounterResetHint,
    /// The bucketing schema.
    pub schema: i32,
    /// Half-width of the zero bucket.
    pub zero_threshold: f64,
    /// Observations that fell into the zero bucket.
    pub zero_count: f64,
    /// Total number of observations.
    pub count: f64,
    /// Sum of all observations.
    pub sum: f64,
    /// Layout of the positive buckets.
    pub positive_spans: Vec<BucketSpan>,
    /// Layout of the negative buckets.
    pub negative_spans: Vec<BucketSpan>,
    /// Absolute counts of the positive buckets, in index order.
    pub positive_buckets: Vec<f64>,
    /// Absolute counts of the negative buckets, in index order.
    pub negative_buckets: Vec<f64>,
    /// Upper bounds of the custom buckets (only for [`CUSTOM_BUCKETS_SCHEMA`]), strictly increasing.
    pub custom_values: Vec<f64>,
}

impl FloatHistogram {
    /// Whether this histogram uses custom bucket bounds rather than exponential ones.
    pub fn uses_custom_buckets(&self) -> bool {
        self.schema == CUSTOM_BUCKETS_SCHEMA
    }

    /// Scales every count and the sum by `factor` in place (Prometheus's `FloatHistogram.Mul`);
    /// a negative factor makes the result a gauge.
    pub fn mul(&mut self, factor: f64) -> &mut FloatHistogram {
        self.zero_count *= factor;
        self.count *= factor;
        self.sum *= factor;
        self.positive_buckets.iter_mut().for_each(|b| *b *= factor);
        self.negative_buckets.iter_mut().for_each(|b| *b *= factor);
        if factor < 0.0 {
            self.counter_reset_hint = CounterResetHint::Gauge;
        }
        self
    }

    /// Divides every count and the sum by `divisor` in place (Prometheus's `FloatHistogram.Div`);
    /// dividing by 0 removes all buckets, a negative divisor makes the result a gauge.
    pub fn div(&mut self, divisor: f64) -> &mut FloatHistogram {
        self.zero_count /= divisor;
        self.count /= divisor;
        self.sum /= divisor;
        if divisor == 0.0 {
            self.positive_buckets.clear();
            self.negative_buckets.clear();
            self.positive_spans.clear();
            self.negative_spans.clear();
            return self;
        }
        self.positive_buckets.iter_mut().for_each(|b| *b /= divisor);
        self.negative_buckets.iter_mut().for_each(|b| *b /= divisor);
        if divisor < 0.0 {
            self.counter_reset_hint = CounterResetHint::Gauge;
        }
        self
    }
}

/// Errors of histogram operations.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HistogramError {
    /// An operation on one histogram with custom buckets and one with exponential buckets.
    #[error("cannot apply this operation on histograms with a mix of exponential and custom bucket schemas")]
    IncompatibleSchema,
}

/// What [`FloatHistogram::add`] and [`FloatHistogram::sub`] had to reconcile.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Combined {
    /// One operand said "counter reset", the other "no counter reset"; the result's hint is
    /// unknown.
    pub counter_reset_collision: bool,
    /// The operands had different custom bucket bounds; the result uses the bounds common to
    /// both.
    pub custom_bounds_reconciled: bool,
}

impl FloatHistogram {
    /// Removes empty buckets: always at the edges of spans, and inside spans where more than
    /// `max_empty_buckets` empty buckets follow each other; then joins spans separated by at most
    /// `max_empty_buckets` buckets (filling the gap with empty buckets).
    ///
    /// `compact(0)` gives the sparsest layout; `compact(usize::MAX)` one span per sign.
    pub fn compact(&mut self, max_empty_buckets: usize) -> &mut FloatHistogram {
        layout::compact(&mut self.positive_spans, &mut self.positive_buckets, max_empty_buckets);
        layout::compact(&mut self.negative_spans, &mut self.negative_buckets, max_empty_buckets);
        self
    }

    /// The histogram in series-description notation, as Prometheus's test framework and promtool
    /// print it: compacted to one span per sign, zero fields left out, numbers as Go's `%g`.
    ///
    /// ```
    /// use ferroprom::model::{BucketSpan, FloatHistogram};
    /// let h = FloatHistogram {
    ///     schema: 1,
    ///     count: 3.0,
    ///     positive_spans: vec![BucketSpan::new(-3, 2)],
    ///     positive_buckets: vec![1.0, 2.0],
    ///     ..FloatHistogram::default()
    /// };
    /// assert_eq!(h.test_expression(), "{{schema:1 count:3 offset:-3 buckets:[1 2]}}");
    /// ```
    pub fn test_expression(&self) -> String {
        let mut m = self.clone();
        m.compact(usize::MAX);
        let mut parts: Vec<String> = Vec::new();
        if m.schema != 0 {
            parts.push(format!("schema:{}", m.schema));
        }
        if m.count != 0.0 {
            parts.push(format!("count:{}", go_g(m.count)));
        }
        if m.sum != 0.0 {
            parts.push(format!("sum:{}", go_g(m.sum)));
        }
        if m.zero_count != 0.0 {
            parts.push(format!("z_bucket:{}", go_g(m.zero_count)));
        }
        if m.zero_threshold != 0.0 {
            parts.push(format!("z_bucket_w:{}", go_g(m.zero_threshold)));
        }
        if m.uses_custom_buckets() {
            parts.push(format!("custom_values:{}", go_g_list(&m.custom_values)));
        }
        match m.counter_reset_hint {
            CounterResetHint::Unknown => {}
            CounterResetHint::CounterReset => parts.push("counter_reset_hint:reset".to_string()),
            CounterResetHint::NotCounterReset => parts.push("counter_reset_hint:not_reset".to_string()),
            CounterResetHint::Gauge => parts.push("counter_reset_hint:gauge".to_string()),
        }
        for (spans, buckets, offset_key, buckets_key) in [
            (&m.positive_spans, &m.positive_buckets, "offset", "buckets"),
            (&m.negative_spans, &m.negative_buckets, "n_offset", "n_buckets"),
        ] {
            // After compacting there is at most one span per sign.
            if let Some(span) = spans.first().filter(|s| s.offset != 0) {
                parts.push(format!("{offset_key}:{}", span.offset));
            }
            if !buckets.is_empty() {
                parts.push(format!("{buckets_key}:{}", go_g_list(buckets)));
            }
        }
        format!("{{{{{}}}}}", parts.join(" "))
    }
}

impl FloatHistogram {
    /// The upper bound of bucket `idx` (Prometheus's `getBound`): exponential, or the custom
    /// bound, with `+Inf` above the last custom bound and `-Inf` below the first bucket.
    pub(crate) fn bucket_bound(&self, idx: i64) -> f64 {
        if !self.uses_custom_buckets() {
            return exponential_bound(idx, self.schema);
        }
        match usize::try_from(idx) {
            Err(_) => f64::NEG_INFINITY,
            Ok(i) => self.custom_values.get(i).copied().unwrap_or(f64::INFINITY),
        }
    }
}

/// A float as Go's `%g` prints it (shortest representation; exponent form below 1e-4 and from
/// 1e+06 on).
pub(crate) fn go_g(v: f64) -> String {
    if v.is_nan() {
        return "NaN".to_string();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    // Shortest round-trip digits and decimal exponent, from Rust's `{:e}`.
    let sci = format!("{v:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((sci.as_str(), "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let (sign, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => ("-", m),
        None => ("", mantissa),
    };
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    if !(-4..6).contains(&exp) {
        let (first, rest) = digits.split_at(1);
        let frac = if rest.is_empty() { String::new() } else { format!(".{rest}") };
        let esign = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{first}{frac}e{esign}{:02}", exp.abs());
    }
    let n = digits.len() as i32;
    let body = if exp < 0 {
        format!("0.{}{}", "0".repeat((-exp - 1) as usize), digits)
    } else if exp + 1 >= n {
        format!("{}{}", digits, "0".repeat((exp + 1 - n) as usize))
    } else {
        let (int, frac) = digits.split_at((exp + 1) as usize);
        format!("{int}.{frac}")
    };
    format!("{sign}{body}")
}

fn go_g_list(values: &[f64]) -> String {
    let items: Vec<String> = values.iter().map(|&v| go_g(v)).collect();
    format!("[{}]", items.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_g_formatting() {
        for (v, s) in [
            (1.0, "1"),
            (0.3, "0.3"),
            (-3.1, "-3.1"),
            (100000.0, "100000"),
            (1e6, "1e+06"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
            (123456789.0, "1.23456789e+08"),
            (f64::INFINITY, "+Inf"),
        ] {
            assert_eq!(go_g(v), s);
        }
    }
}
