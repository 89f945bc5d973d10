//! Values shared by every stage: label matchers (and, with the engine, labels, samples and
//! histograms).

mod histogram;
mod matcher;
mod stale;

pub use histogram::{
    BucketSpan, CUSTOM_BUCKETS_SCHEMA, Combined, CounterResetHint, EXPONENTIAL_SCHEMA_MAX,
    EXPONENTIAL_SCHEMA_MIN, FloatHistogram, HistogramError,
};
pub use matcher::{MatchOp, Matcher, MatcherError};
pub(crate) use matcher::{is_legacy_label_name, write_quoted};
pub use stale::{NORMAL_NAN_BITS, STALE_NAN, STALE_NAN_BITS, is_stale_nan};
