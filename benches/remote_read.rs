//! Remote-read decoding throughput: a prebuilt response of 100 series × 7,200 samples (10 s
//! interval, 20 h; 120-sample XOR chunks as the TSDB cuts them) decoded into sample columns,
//! streamed (`STREAMED_XOR_CHUNKS`, CRC-checked frames) and as a snappy `SAMPLES` response.
//! Throughput is reported in samples decoded per second.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ferroprom::remote::chunk::XorEncoder;
use ferroprom::remote::frame::write_frame;
use ferroprom::remote::proto;
use ferroprom::remote::read::{RemoteReadOptions, STREAMED_CONTENT_TYPE, decode_response};
use prost::Message;

const SERIES: usize = 100;
const SAMPLES: i64 = 7_200;
const END: i64 = (SAMPLES - 1) * 10_000;

fn labels(i: usize) -> Vec<proto::Label> {
    let l = |n: &str, v: String| proto::Label { name: n.into(), value: v };
    vec![
        l("__name__", "node_cpu_seconds_total".into()),
        l("cpu", (i % 8).to_string()),
        l("instance", format!("host-{}", i / 8)),
    ]
}

/// A counter with scrape jitter: a value that grows by irregular amounts, timestamps off by a few ms.
fn sample(i: usize, s: i64) -> (i64, f64) {
    let jitter = (s * 7 + i as i64) % 5 - 2;
    (s * 10_000 + jitter, (s as f64) * 1.5 + ((s * 31 + i as i64) % 17) as f64 * 0.01)
}

fn streamed() -> Vec<u8> {
    let mut out = Vec::new();
    for i in 0..SERIES {
        let mut chunks = Vec::new();
        for start in (0..SAMPLES).step_by(120) {
            let mut enc = XorEncoder::new();
            for s in start..(start + 120).min(SAMPLES) {
                let (t, v) = sample(i, s);
                let _ = enc.append(t, v);
            }
            chunks.push(proto::Chunk {
                min_time_ms: sample(i, start).0,
                max_time_ms: sample(i, (start + 119).min(SAMPLES - 1)).0,
                r#type: proto::ChunkEncoding::Xor as i32,
                data: enc.finish(),
            });
        }
        let msg = proto::ChunkedReadResponse {
            chunked_series: vec![proto::ChunkedSeries { labels: labels(i), chunks }],
            query_index: 0,
        };
        write_frame(&mut out, &msg.encode_to_vec());
    }
    out
}

fn samples() -> Vec<u8> {
    let timeseries = (0..SERIES)
        .map(|i| proto::TimeSeries {
            labels: labels(i),
            samples: (0..SAMPLES)
                .map(|s| {
                    let (timestamp, value) = sample(i, s);
                    proto::Sample { value, timestamp }
                })
                .collect(),
            histograms: Vec::new(),
        })
        .collect();
    let resp = proto::ReadResponse { results: vec![proto::QueryResult { timeseries }] };
    snap::raw::Encoder::new().compress_vec(&resp.encode_to_vec()).unwrap_or_default()
}

fn decode(c: &mut Criterion) {
    let opts = RemoteReadOptions::default();
    let mut group = c.benchmark_group("remote_read/decode 100 series x 7200 samples");
    group.throughput(Throughput::Elements(SERIES as u64 * SAMPLES as u64));
    let body = streamed();
    group.bench_function(format!("streamed XOR chunks ({} KiB)", body.len() / 1024), |b| {
        b.iter(|| black_box(decode_response(&body[..], STREAMED_CONTENT_TYPE, -10, END + 10, &opts)))
    });
    let body = samples();
    group.bench_function(format!("snappy samples ({} KiB)", body.len() / 1024), |b| {
        b.iter(|| black_box(decode_response(&body[..], "application/x-protobuf", -10, END + 10, &opts)))
    });
    group.finish();
}

criterion_group!(benches, decode);
criterion_main!(benches);
