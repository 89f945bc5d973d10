//! A [`Storage`] answered by a remote endpoint speaking Prometheus's remote-read protocol
//! (Prometheus itself, Thanos, Mimir, VictoriaMetrics, …).
//!
//! Every [`Storage::select`] becomes one `POST` of a snappy-compressed `ReadRequest` holding one
//! query: the selector's matchers, its `[start, end]` and the planner's hints (step, function,
//! grouping, range). The client accepts the streamed chunk response first and plain samples
//! second; the server picks. Streamed answers are length- and CRC32C-framed `ChunkedReadResponse`
//! messages whose `XOR`, `HISTOGRAM` and `FLOAT_HISTOGRAM` chunks are decoded here; should a server
//! stream chunks of an encoding this client does not decode (the start-timestamp variants), the
//! query is asked again for plain samples. Chunks may overlap and reach outside the range, so samples
//! are merged by timestamp and cut to `[start, end]`.
//!
//! Remote read has no label API: [`Storage::label_names`] and [`Storage::label_values`] select
//! the matching series and collect their labels (with no matchers, `__name__=~".+"` selects all
//! named series).

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use prost::Message;

use crate::model::{
    CounterResetHint, FPoint, FloatHistogram, HPoint, Label as ModelLabel, Labels, MatchOp, Matcher,
};
use crate::remote::chunk::{ChunkError, decode_histogram, decode_xor};
use crate::remote::client::{Client, ClientError, ClientOptions, body_excerpt, check_url};
use crate::remote::frame::{FrameError, FrameReader};
use crate::remote::proto;
use crate::storage::{SelectHints, SeriesData, Storage, StorageError};

/// The content type of a streamed chunk response.
pub const STREAMED_CONTENT_TYPE: &str =
    "application/x-streamed-protobuf; proto=prometheus.ChunkedReadResponse";

/// Settings of a [`RemoteReadStorage`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteReadOptions {
    /// Authentication, TLS and timeout (default timeout 1m, as Prometheus's `remote_timeout`).
    pub client: ClientOptions,
    /// Accept streamed chunk responses (first choice) as well as plain samples.
    pub streamed: bool,
    /// Largest frame of a streamed response accepted.
    pub max_frame_bytes: usize,
    /// Largest (decompressed) samples response accepted.
    pub max_response_bytes: usize,
}

impl Default for RemoteReadOptions {
    fn default() -> RemoteReadOptions {
        RemoteReadOptions {
            client: ClientOptions::default(),
            streamed: true,
            max_frame_bytes: 64 << 20,
            max_response_bytes: 1 << 30,
        }
    }
}

/// Why a remote read failed.
#[derive(Debug, thiserror::Error)]
pub enum RemoteReadError {
    /// The client could not be configured.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The request could not be sent or the response not received.
    #[error("{0}")]
    Transport(String),
    /// The server answered with an error status.
    #[error("server returned HTTP status {status}: {body}")]
    Status {
        /// The status line's code and reason.
        status: String,
        /// The start of the response body.
        body: String,
    },
    /// The response violates the protocol.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// A stream frame was bad.
    #[error("streamed response: {0}")]
    Frame(#[from] FrameError),
    /// A chunk could not be decoded.
    #[error("series {labels}: {error}")]
    Chunk {
        /// The series' labels.
        labels: String,
        /// The failure.
        error: ChunkError,
    },
}

/// A store whose data lives behind a remote-read endpoint.
///
/// ```no_run
/// use ferroprom::engine::{Engine, EngineOptions};
/// use ferroprom::remote::read::{RemoteReadOptions, RemoteReadStorage};
///
/// let store = RemoteReadStorage::new("http://127.0.0.1:9090/api/v1/read", RemoteReadOptions::default())?;
/// let engine = Engine::new(EngineOptions::default());
/// let result = engine.instant_query(&store, "sum by (job) (rate(http_requests_total[5m]))", 1_700_000_000_000)?;
/// println!("{:?}", result.value);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct RemoteReadStorage {
    url: String,
    client: Client,
    opts: RemoteReadOptions,
}

impl std::fmt::Debug for RemoteReadStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteReadStorage").field("url", &self.url).finish_non_exhaustive()
    }
}

/// The accumulated samples of one series while a response is decoded.
#[derive(Default)]
struct Collected {
    t: Vec<i64>,
    f: Vec<f64>,
    ht: Vec<i64>,
    h: Vec<Arc<FloatHistogram>>,
}

impl RemoteReadStorage {
    /// A store reading from `url` (the full endpoint, e.g. `http://host:9090/api/v1/read`).
    pub fn new(url: &str, opts: RemoteReadOptions) -> Result<RemoteReadStorage, RemoteReadError> {
        check_url(url)?;
        let client = Client::new(&opts.client, Duration::from_secs(60))?;
        Ok(RemoteReadStorage { url: url.to_string(), client, opts })
    }

    /// The endpoint URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Runs one remote query: the series matching `matchers` with their samples in
    /// `[hints.start, hints.end]`, sorted by labels.
    pub fn read(
        &self,
        matchers: &[Matcher],
        hints: &SelectHints,
    ) -> Result<Vec<SeriesData>, RemoteReadError> {
        let query = query_message(matchers, hints);
        if self.opts.streamed {
            match self.read_with(&query, true) {
                Err(RemoteReadError::Chunk { error: ChunkError::Unsupported(_), .. }) => {}
                other => return other,
            }
        }
        self.read_with(&query, false)
    }

    fn read_with(&self, query: &proto::Query, streamed: bool) -> Result<Vec<SeriesData>, RemoteReadError> {
        let mut accepted = Vec::new();
        if streamed {
            accepted.push(proto::ResponseType::StreamedXorChunks as i32);
        }
        accepted.push(proto::ResponseType::Samples as i32);
        let request = proto::ReadRequest { queries: vec![query.clone()], accepted_response_types: accepted };
        let body = snap::raw::Encoder::new()
            .compress_vec(&request.encode_to_vec())
            .map_err(|e| RemoteReadError::Protocol(format!("compressing the request: {e}")))?;
        let transport = |e: String| RemoteReadError::Transport(format!("POST {}: {e}", self.url));
        let mut resp = self
            .client
            .post(&self.url)
            .map_err(transport)?
            .header("Content-Type", "application/x-protobuf")
            .header("Content-Encoding", "snappy")
            .header("Accept-Encoding", "snappy")
            .header("X-Prometheus-Remote-Read-Version", "0.1.0")
            .send(&body[..])
            .map_err(|e| transport(e.to_string()))?;
        let status = resp.status();
        if !status.is_success() {
            let status = format!("{} {}", status.as_u16(), status.canonical_reason().unwrap_or(""));
            return Err(RemoteReadError::Status {
                status: status.trim().to_string(),
                body: body_excerpt(&mut resp),
            });
        }
        let content_type =
            resp.headers().get("Content-Type").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let (start, end) = (query.start_timestamp_ms, query.end_timestamp_ms);
        decode_response(resp.body_mut().as_reader(), &content_type, start, end, &self.opts)
    }
}

/// Decodes a remote-read response body to one query: a frame stream when `content_type` is the
/// streamed one, a snappy-compressed `ReadResponse` otherwise. Samples are cut to `[start, end]`
/// and series come back sorted by labels, as [`Storage::select`] returns them.
pub fn decode_response(
    mut body: impl Read,
    content_type: &str,
    start: i64,
    end: i64,
    opts: &RemoteReadOptions,
) -> Result<Vec<SeriesData>, RemoteReadError> {
    let mut series: BTreeMap<Labels, Collected> = BTreeMap::new();
    if content_type.starts_with("application/x-streamed-protobuf") {
        if !content_type.contains("proto=prometheus.ChunkedReadResponse") {
            return Err(RemoteReadError::Protocol(format!("unexpected content type {content_type:?}")));
        }
        decode_stream(body, opts.max_frame_bytes, &mut series)?;
    } else {
        let mut raw = Vec::new();
        body.by_ref()
            .take(opts.max_response_bytes as u64 + 1)
            .read_to_end(&mut raw)
            .map_err(|e| RemoteReadError::Transport(format!("reading the response: {e}")))?;
        decode_samples_response(&raw, opts.max_response_bytes, &mut series)?;
    }
    Ok(finish(series, start, end))
}

/// The `Query` message for a selection.
pub fn query_message(matchers: &[Matcher], hints: &SelectHints) -> proto::Query {
    let mut matchers: Vec<proto::LabelMatcher> = matchers
        .iter()
        .map(|m| proto::LabelMatcher {
            r#type: match m.op {
                MatchOp::Equal => proto::MatcherType::Eq,
                MatchOp::NotEqual => proto::MatcherType::Neq,
                MatchOp::Regex => proto::MatcherType::Re,
                MatchOp::NotRegex => proto::MatcherType::Nre,
            } as i32,
            name: m.name.clone(),
            value: m.value.clone(),
        })
        .collect();
    if matchers.is_empty() {
        matchers.push(proto::LabelMatcher {
            r#type: proto::MatcherType::Re as i32,
            name: "__name__".into(),
            value: ".+".into(),
        });
    }
    proto::Query {
        start_timestamp_ms: hints.start,
        end_timestamp_ms: hints.end,
        matchers,
        hints: Some(proto::ReadHints {
            step_ms: hints.step,
            func: hints.func.clone().unwrap_or_default(),
            start_ms: hints.start,
            end_ms: hints.end,
            grouping: hints.grouping.clone(),
            by: hints.by,
            range_ms: hints.range,
        }),
    }
}

fn labels_of(labels: &[proto::Label]) -> Labels {
    Labels::from_vec(labels.iter().map(|l| ModelLabel::new(l.name.as_str(), l.value.as_str())).collect())
}

/// Decodes the frames of a `STREAMED_XOR_CHUNKS` response into `series`.
fn decode_stream(
    reader: impl Read,
    max_frame_bytes: usize,
    series: &mut BTreeMap<Labels, Collected>,
) -> Result<(), RemoteReadError> {
    let mut frames = FrameReader::new(reader, max_frame_bytes);
    let mut frame_no = 0usize;
    while let Some(frame) = frames.next_frame()? {
        let msg = proto::ChunkedReadResponse::decode(&frame[..]).map_err(|e| {
            RemoteReadError::Protocol(format!("frame {frame_no}: decoding ChunkedReadResponse: {e}"))
        })?;
        if msg.query_index != 0 {
            return Err(RemoteReadError::Protocol(format!(
                "frame {frame_no}: query_index {} but only query 0 was sent",
                msg.query_index
            )));
        }
        for s in msg.chunked_series {
            let labels = labels_of(&s.labels);
            let entry = series.entry(labels.clone()).or_default();
            for c in &s.chunks {
                let fail = |error| RemoteReadError::Chunk { labels: labels.to_string(), error };
                match proto::ChunkEncoding::try_from(c.r#type) {
                    Ok(proto::ChunkEncoding::Xor) => {
                        decode_xor(&c.data, &mut entry.t, &mut entry.f).map_err(fail)?;
                    }
                    Ok(e @ (proto::ChunkEncoding::Histogram | proto::ChunkEncoding::FloatHistogram)) => {
                        let float = e == proto::ChunkEncoding::FloatHistogram;
                        let Collected { t, f, ht, h } = entry;
                        decode_histogram(&c.data, float, ht, h, t, f).map_err(fail)?;
                    }
                    Ok(other) => return Err(fail(ChunkError::Unsupported(other.name().into()))),
                    Err(_) => return Err(fail(ChunkError::Unsupported(format!("#{}", c.r#type)))),
                }
            }
        }
        frame_no += 1;
    }
    Ok(())
}

/// Decodes a snappy-compressed `ReadResponse` (the `SAMPLES` answer to one query) into `series`.
fn decode_samples_response(
    compressed: &[u8],
    max_bytes: usize,
    series: &mut BTreeMap<Labels, Collected>,
) -> Result<(), RemoteReadError> {
    let len = snap::raw::decompress_len(compressed)
        .map_err(|e| RemoteReadError::Protocol(format!("snappy: {e}")))?;
    if len > max_bytes {
        return Err(RemoteReadError::Protocol(format!(
            "response of {len} bytes exceeds the limit of {max_bytes} bytes"
        )));
    }
    let raw = snap::raw::Decoder::new()
        .decompress_vec(compressed)
        .map_err(|e| RemoteReadError::Protocol(format!("snappy: {e}")))?;
    let resp = proto::ReadResponse::decode(&raw[..])
        .map_err(|e| RemoteReadError::Protocol(format!("decoding ReadResponse: {e}")))?;
    if resp.results.len() != 1 {
        return Err(RemoteReadError::Protocol(format!("{} results for 1 query", resp.results.len())));
    }
    for ts in resp.results.into_iter().flat_map(|r| r.timeseries) {
        let entry = series.entry(labels_of(&ts.labels)).or_default();
        for s in &ts.samples {
            entry.t.push(s.timestamp);
            entry.f.push(s.value);
        }
        for h in &ts.histograms {
            entry.ht.push(h.timestamp);
            entry.h.push(Arc::new(histogram_from_proto(h)));
        }
    }
    Ok(())
}

/// A protobuf histogram (integer with delta-encoded buckets, or float) as a [`FloatHistogram`].
pub fn histogram_from_proto(h: &proto::Histogram) -> FloatHistogram {
    let absolute = |deltas: &[i64]| -> Vec<f64> {
        let mut acc = 0i64;
        deltas
            .iter()
            .map(|d| {
                acc = acc.wrapping_add(*d);
                acc as f64
            })
            .collect()
    };
    let spans = |s: &[proto::BucketSpan]| {
        s.iter().map(|s| crate::model::BucketSpan::new(s.offset, s.length)).collect::<Vec<_>>()
    };
    let is_float = matches!(h.count, Some(proto::HistogramCount::Float(_)));
    FloatHistogram {
        counter_reset_hint: match proto::ResetHint::try_from(h.reset_hint) {
            Ok(proto::ResetHint::Yes) => CounterResetHint::CounterReset,
            Ok(proto::ResetHint::No) => CounterResetHint::NotCounterReset,
            Ok(proto::ResetHint::Gauge) => CounterResetHint::Gauge,
            _ => CounterResetHint::Unknown,
        },
        schema: h.schema,
        zero_threshold: h.zero_threshold,
        zero_count: match h.zero_count {
            Some(proto::HistogramZeroCount::Int(n)) => n as f64,
            Some(proto::HistogramZeroCount::Float(f)) => f,
            None => 0.0,
        },
        count: match h.count {
            Some(proto::HistogramCount::Int(n)) => n as f64,
            Some(proto::HistogramCount::Float(f)) => f,
            None => 0.0,
        },
        sum: h.sum,
        positive_spans: spans(&h.positive_spans),
        negative_spans: spans(&h.negative_spans),
        positive_buckets: if is_float { h.positive_counts.clone() } else { absolute(&h.positive_deltas) },
        negative_buckets: if is_float { h.negative_counts.clone() } else { absolute(&h.negative_deltas) },
        custom_values: h.custom_values.clone(),
    }
}

/// Sorts each series' samples by time (chunks may overlap: the first sample at a timestamp wins),
/// cuts them to `[start, end]` and drops series left without samples.
fn finish(series: BTreeMap<Labels, Collected>, start: i64, end: i64) -> Vec<SeriesData> {
    series
        .into_iter()
        .filter_map(|(labels, c)| {
            let (t, f) = merge(c.t, c.f, start, end);
            let (ht, h) = merge(c.ht, c.h, start, end);
            let s = SeriesData {
                labels,
                floats: t.into_iter().zip(f).map(|(t, f)| FPoint { t, f }).collect(),
                histograms: ht.into_iter().zip(h).map(|(t, h)| HPoint { t, h }).collect(),
                ..SeriesData::default()
            };
            (!s.is_empty()).then_some(s)
        })
        .collect()
}

fn merge<V>(t: Vec<i64>, v: Vec<V>, start: i64, end: i64) -> (Vec<i64>, Vec<V>) {
    let sorted = t.windows(2).all(|w| w[0] < w[1]);
    let in_range = |t: &i64| (start..=end).contains(t);
    if sorted {
        if t.first().is_some_and(in_range) && t.last().is_some_and(in_range) {
            return (t, v);
        }
        return t.into_iter().zip(v).filter(|(t, _)| in_range(t)).unzip();
    }
    let mut pairs: Vec<(i64, V)> = t.into_iter().zip(v).filter(|(t, _)| in_range(t)).collect();
    pairs.sort_by_key(|p| p.0);
    pairs.dedup_by_key(|p| p.0);
    pairs.into_iter().unzip()
}

impl Storage for RemoteReadStorage {
    fn select(&self, matchers: &[Matcher], hints: &SelectHints) -> Result<Vec<SeriesData>, StorageError> {
        self.read(matchers, hints)
            .map_err(|e| StorageError::Backend(format!("remote read {}: {e}", self.url)))
    }

    fn label_names(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<String>, StorageError> {
        let series = self.select(matchers, &SelectHints::range(mint, maxt))?;
        let mut names: Vec<String> =
            series.iter().flat_map(|s| s.labels.iter().map(|l| l.name.to_string())).collect();
        names.sort();
        names.dedup();
        Ok(names)
    }

    fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, StorageError> {
        let mut matchers = matchers.to_vec();
        if let Ok(m) = Matcher::new(MatchOp::Regex, name, ".+") {
            matchers.push(m);
        }
        let series = self.select(&matchers, &SelectHints::range(mint, maxt))?;
        let mut values: Vec<String> = series
            .iter()
            .filter_map(|s| s.labels.get(name))
            .filter(|v| !v.is_empty())
            .map(String::from)
            .collect();
        values.sort();
        values.dedup();
        Ok(values)
    }
}
