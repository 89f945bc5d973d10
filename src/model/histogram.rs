//! Native histograms as PromQL sees them: float counts, absolute (not delta-encoded) buckets.
//!
//! [`FloatHistogram`] mirrors the fields of Prometheus's `model/histogram.FloatHistogram` so that
//! evaluation can follow upstream rule for rule. Buckets are sparse: the populated bucket indices
//! are described by a list of [`BucketSpan`]s, and the bucket counts are listed in index order.

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
}
