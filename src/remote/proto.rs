//! The protobuf messages of Prometheus's remote read and write 1.0 protocols (`prompb`), declared
//! by hand with `prost` derives so no `protoc` is needed. Field numbers and types follow
//! `prompb/types.proto` and `prompb/remote.proto`; only the fields ferroprom reads or writes are
//! declared (prost skips unknown fields when decoding).

use prost::{Enumeration, Message, Oneof};

/// `prometheus.WriteRequest`: the body of a remote-write POST.
#[derive(Clone, PartialEq, Message)]
pub struct WriteRequest {
    /// The series with their samples.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// `prometheus.TimeSeries`: labels with float samples and/or native histograms.
#[derive(Clone, PartialEq, Message)]
pub struct TimeSeries {
    /// Labels, sorted by name.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// Float samples, ascending by timestamp.
    #[prost(message, repeated, tag = "2")]
    pub samples: Vec<Sample>,
    /// Native histogram samples, ascending by timestamp.
    #[prost(message, repeated, tag = "4")]
    pub histograms: Vec<Histogram>,
}

/// `prometheus.Label`.
#[derive(Clone, PartialEq, Eq, Message)]
pub struct Label {
    /// Label name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// Label value.
    #[prost(string, tag = "2")]
    pub value: String,
}

/// `prometheus.Sample`: a float at a millisecond timestamp.
#[derive(Clone, Copy, PartialEq, Message)]
pub struct Sample {
    /// The value.
    #[prost(double, tag = "1")]
    pub value: f64,
    /// Milliseconds since the epoch.
    #[prost(int64, tag = "2")]
    pub timestamp: i64,
}

/// `prometheus.BucketSpan`.
#[derive(Clone, Copy, PartialEq, Eq, Message)]
pub struct BucketSpan {
    /// Gap to the previous span (or the first index).
    #[prost(sint32, tag = "1")]
    pub offset: i32,
    /// Number of consecutive buckets.
    #[prost(uint32, tag = "2")]
    pub length: u32,
}

/// The `count` oneof of [`Histogram`].
#[derive(Clone, Copy, PartialEq, Oneof)]
pub enum HistogramCount {
    /// Integer count (integer histograms).
    #[prost(uint64, tag = "1")]
    Int(u64),
    /// Float count (float histograms).
    #[prost(double, tag = "2")]
    Float(f64),
}

/// The `zero_count` oneof of [`Histogram`].
#[derive(Clone, Copy, PartialEq, Oneof)]
pub enum HistogramZeroCount {
    /// Integer zero-bucket count.
    #[prost(uint64, tag = "6")]
    Int(u64),
    /// Float zero-bucket count.
    #[prost(double, tag = "7")]
    Float(f64),
}

/// `prometheus.Histogram.ResetHint`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Enumeration)]
#[repr(i32)]
pub enum ResetHint {
    /// Unknown: compare with the previous sample.
    Unknown = 0,
    /// A counter reset happened.
    Yes = 1,
    /// No counter reset happened.
    No = 2,
    /// A gauge histogram.
    Gauge = 3,
}

/// `prometheus.Histogram`: a native histogram sample, integer (delta-encoded bucket counts) or
/// float (absolute counts).
#[derive(Clone, PartialEq, Message)]
pub struct Histogram {
    /// Observation count.
    #[prost(oneof = "HistogramCount", tags = "1, 2")]
    pub count: Option<HistogramCount>,
    /// Sum of observations.
    #[prost(double, tag = "3")]
    pub sum: f64,
    /// Bucket schema.
    #[prost(sint32, tag = "4")]
    pub schema: i32,
    /// Half-width of the zero bucket.
    #[prost(double, tag = "5")]
    pub zero_threshold: f64,
    /// Zero-bucket count.
    #[prost(oneof = "HistogramZeroCount", tags = "6, 7")]
    pub zero_count: Option<HistogramZeroCount>,
    /// Negative bucket layout.
    #[prost(message, repeated, tag = "8")]
    pub negative_spans: Vec<BucketSpan>,
    /// Negative bucket counts as deltas (integer histograms).
    #[prost(sint64, repeated, tag = "9")]
    pub negative_deltas: Vec<i64>,
    /// Negative bucket counts (float histograms).
    #[prost(double, repeated, tag = "10")]
    pub negative_counts: Vec<f64>,
    /// Positive bucket layout.
    #[prost(message, repeated, tag = "11")]
    pub positive_spans: Vec<BucketSpan>,
    /// Positive bucket counts as deltas (integer histograms).
    #[prost(sint64, repeated, tag = "12")]
    pub positive_deltas: Vec<i64>,
    /// Positive bucket counts (float histograms).
    #[prost(double, repeated, tag = "13")]
    pub positive_counts: Vec<f64>,
    /// Counter-reset hint.
    #[prost(enumeration = "ResetHint", tag = "14")]
    pub reset_hint: i32,
    /// Milliseconds since the epoch.
    #[prost(int64, tag = "15")]
    pub timestamp: i64,
    /// Custom bucket bounds (schema -53).
    #[prost(double, repeated, tag = "16")]
    pub custom_values: Vec<f64>,
}

/// `prometheus.LabelMatcher.Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Enumeration)]
#[repr(i32)]
pub enum MatcherType {
    /// `=`
    Eq = 0,
    /// `!=`
    Neq = 1,
    /// `=~`
    Re = 2,
    /// `!~`
    Nre = 3,
}

/// `prometheus.LabelMatcher`.
#[derive(Clone, PartialEq, Eq, Message)]
pub struct LabelMatcher {
    /// The operator.
    #[prost(enumeration = "MatcherType", tag = "1")]
    pub r#type: i32,
    /// Label name.
    #[prost(string, tag = "2")]
    pub name: String,
    /// Value or regular expression.
    #[prost(string, tag = "3")]
    pub value: String,
}

/// `prometheus.ReadHints`: advisory information about the query a read serves.
#[derive(Clone, PartialEq, Eq, Message)]
pub struct ReadHints {
    /// Query step in milliseconds.
    #[prost(int64, tag = "1")]
    pub step_ms: i64,
    /// The surrounding function or aggregation.
    #[prost(string, tag = "2")]
    pub func: String,
    /// Start in milliseconds.
    #[prost(int64, tag = "3")]
    pub start_ms: i64,
    /// End in milliseconds.
    #[prost(int64, tag = "4")]
    pub end_ms: i64,
    /// Grouping labels of the aggregation.
    #[prost(string, repeated, tag = "5")]
    pub grouping: Vec<String>,
    /// Whether `grouping` is a `by` list.
    #[prost(bool, tag = "6")]
    pub by: bool,
    /// Range of the matrix selector in milliseconds.
    #[prost(int64, tag = "7")]
    pub range_ms: i64,
}

/// `prometheus.Query`: one selector over a time range.
#[derive(Clone, PartialEq, Eq, Message)]
pub struct Query {
    /// First millisecond (inclusive).
    #[prost(int64, tag = "1")]
    pub start_timestamp_ms: i64,
    /// Last millisecond (inclusive).
    #[prost(int64, tag = "2")]
    pub end_timestamp_ms: i64,
    /// Label matchers, all of which must match.
    #[prost(message, repeated, tag = "3")]
    pub matchers: Vec<LabelMatcher>,
    /// Hints.
    #[prost(message, optional, tag = "4")]
    pub hints: Option<ReadHints>,
}

/// `prometheus.ReadRequest.ResponseType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Enumeration)]
#[repr(i32)]
pub enum ResponseType {
    /// One snappy-compressed [`ReadResponse`] with raw samples.
    Samples = 0,
    /// A stream of [`ChunkedReadResponse`] frames carrying encoded chunks.
    StreamedXorChunks = 1,
}

/// `prometheus.ReadRequest`: the body of a remote-read POST.
#[derive(Clone, PartialEq, Eq, Message)]
pub struct ReadRequest {
    /// The queries.
    #[prost(message, repeated, tag = "1")]
    pub queries: Vec<Query>,
    /// Response types the client accepts, preferred first.
    #[prost(enumeration = "ResponseType", repeated, tag = "2")]
    pub accepted_response_types: Vec<i32>,
}

/// `prometheus.ReadResponse`: the `SAMPLES` answer, one result per query.
#[derive(Clone, PartialEq, Message)]
pub struct ReadResponse {
    /// Results in query order.
    #[prost(message, repeated, tag = "1")]
    pub results: Vec<QueryResult>,
}

/// `prometheus.QueryResult`.
#[derive(Clone, PartialEq, Message)]
pub struct QueryResult {
    /// The matching series.
    #[prost(message, repeated, tag = "1")]
    pub timeseries: Vec<TimeSeries>,
}

/// `prometheus.Chunk.Encoding` (mirrors the TSDB's chunk encodings).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Enumeration)]
#[repr(i32)]
pub enum ChunkEncoding {
    /// Unknown.
    Unknown = 0,
    /// Gorilla XOR floats.
    Xor = 1,
    /// Integer native histograms.
    Histogram = 2,
    /// Float native histograms.
    FloatHistogram = 3,
    /// Floats with start timestamps.
    Xor2 = 4,
    /// Integer native histograms with start timestamps.
    HistogramSt = 5,
    /// Float native histograms with start timestamps.
    FloatHistogramSt = 6,
}

impl ChunkEncoding {
    /// The name in the protocol definition (`XOR`, `HISTOGRAM`, …).
    pub fn name(self) -> &'static str {
        match self {
            ChunkEncoding::Unknown => "UNKNOWN",
            ChunkEncoding::Xor => "XOR",
            ChunkEncoding::Histogram => "HISTOGRAM",
            ChunkEncoding::FloatHistogram => "FLOAT_HISTOGRAM",
            ChunkEncoding::Xor2 => "XOR2",
            ChunkEncoding::HistogramSt => "HISTOGRAM_ST",
            ChunkEncoding::FloatHistogramSt => "FLOAT_HISTOGRAM_ST",
        }
    }
}

/// `prometheus.Chunk`: encoded samples of one series.
#[derive(Clone, PartialEq, Eq, Message)]
pub struct Chunk {
    /// First sample's timestamp.
    #[prost(int64, tag = "1")]
    pub min_time_ms: i64,
    /// Last sample's timestamp.
    #[prost(int64, tag = "2")]
    pub max_time_ms: i64,
    /// The encoding of `data`.
    #[prost(enumeration = "ChunkEncoding", tag = "3")]
    pub r#type: i32,
    /// The encoded chunk.
    #[prost(bytes = "vec", tag = "4")]
    pub data: Vec<u8>,
}

/// `prometheus.ChunkedSeries`.
#[derive(Clone, PartialEq, Eq, Message)]
pub struct ChunkedSeries {
    /// Labels, sorted.
    #[prost(message, repeated, tag = "1")]
    pub labels: Vec<Label>,
    /// Chunks in start-time order (they may overlap).
    #[prost(message, repeated, tag = "2")]
    pub chunks: Vec<Chunk>,
}

/// `prometheus.ChunkedReadResponse`: one frame of a `STREAMED_XOR_CHUNKS` answer.
#[derive(Clone, PartialEq, Eq, Message)]
pub struct ChunkedReadResponse {
    /// Series (usually one per frame).
    #[prost(message, repeated, tag = "1")]
    pub chunked_series: Vec<ChunkedSeries>,
    /// The index of the query this frame answers.
    #[prost(int64, tag = "2")]
    pub query_index: i64,
}
