//! Values shared by every stage: labels, label matchers, samples, native histograms, query
//! results.

mod fast_regex;
mod float_index;
mod histogram;
mod kahan;
mod labels;
mod matcher;
mod stale;
mod value;

pub(crate) use fast_regex::{FastRegex, cached_regex};
pub use float_index::{CHANGE_STRIDE, FloatIndex};
pub use histogram::exponential_bound;
pub use histogram::{
    BucketSpan, CUSTOM_BUCKETS_SCHEMA, Combined, CounterResetHint, EXPONENTIAL_SCHEMA_MAX,
    EXPONENTIAL_SCHEMA_MIN, FloatHistogram, HistogramError,
};
pub use kahan::kahan_inc;
pub use labels::{Label, Labels, LabelsBuilder, METRIC_NAME, MetricDisplay, is_legacy_metric_name};
pub use matcher::{MatchOp, Matcher, MatcherError};
pub(crate) use matcher::{go_quote, is_legacy_label_name, write_quoted, write_quoted_bytes};
pub use stale::{NORMAL_NAN_BITS, STALE_NAN, STALE_NAN_BITS, is_stale_nan};
pub use value::{
    FPoint, HPoint, Sample, Series, Value, format_api_float, format_api_timestamp, format_float,
    format_go_exp, format_go_g,
};
