//! Measures the bucket bounds of exponential native histograms from a real Prometheus (a black box,
//! like the oracle data) and regenerates the files that pin them:
//!
//! ```text
//! cargo run --example histogram_bounds -- [--prometheus /usr/bin/prometheus]
//! ```
//!
//! It starts `prometheus --enable-feature=native-histograms --web.enable-remote-write-receiver` on a
//! free port of 127.0.0.1 with an empty storage in a temporary directory, remote-writes integer native
//! histograms into it, reads them back through `/api/v1/query` (the JSON lists every bucket as
//! `[rule, "lower", "upper", "count"]`, the bounds printed with shortest round-trip digits, so they
//! parse back exactly) and stops the process by its PID. Every bucket has its own count, which maps
//! the JSON buckets back to the indexes written.
//!
//! Written files (relative to the repository root):
//! - `src/model/histogram/bounds_table.rs`: the 256 fractions of schema 8, the upper bounds of
//!   positive buckets 0..=255 halved. The smaller schemas 0..=7 must be the subsets at stride
//!   `256 >> schema`; that is checked here (the run fails otherwise).
//! - `testdata/histogram-bounds/cases.txt`: buckets at chosen indexes of schemas -4..=8 (negative and
//!   positive, near the smallest subnormal and near the largest float), `sign schema index lower upper`.
//! - `testdata/histogram-bounds/schema3.load` and `schema3.json`: a schema-3 histogram as promqltest
//!   `load` text and Prometheus's JSON answer to an instant query for it.

use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use ferroprom::remote::proto::{
    BucketSpan, Histogram, HistogramCount, HistogramZeroCount, Label, TimeSeries, WriteRequest,
};
use prost::Message;
use serde_json::Value as Json;

/// The sample timestamp (ms) of every written histogram, and the query time (s).
const T_MS: i64 = 60_000;

/// One histogram to write: its schema and bucket indexes (ascending), negative and positive.
struct Spec {
    name: String,
    schema: i32,
    negative: Vec<i32>,
    positive: Vec<i32>,
}

/// A measured bucket: sign (-1/+1), index, lower and upper bound.
struct Measured {
    sign: i32,
    index: i32,
    lower: f64,
    upper: f64,
}

struct Server {
    child: Child,
    dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("histogram_bounds: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut prometheus = PathBuf::from("/usr/bin/prometheus");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--prometheus" => prometheus = args.next().ok_or("--prometheus needs a path")?.into(),
            _ => return Err(format!("unknown argument {a:?}")),
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let version = Command::new(&prometheus)
        .arg("--version")
        .output()
        .map_err(|e| format!("{}: {e}", prometheus.display()))?;
    let version = String::from_utf8_lossy(&version.stdout).lines().next().unwrap_or("").to_string()
        + String::from_utf8_lossy(&version.stderr).lines().next().unwrap_or("");
    let (server, url) = start(&prometheus)?;

    let specs = specs();
    let mut timeseries: Vec<TimeSeries> = specs.iter().map(series).collect();
    timeseries.push(schema3_series());
    let request = WriteRequest { timeseries };
    let body = snap::raw::Encoder::new()
        .compress_vec(&request.encode_to_vec())
        .map_err(|e| format!("snappy: {e}"))?;
    let resp = ureq::post(format!("{url}/api/v1/write"))
        .header("Content-Type", "application/x-protobuf")
        .header("Content-Encoding", "snappy")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .send(&body[..])
        .map_err(|e| format!("remote write: {e}"))?;
    if !resp.status().is_success() {
        return Err(format!("remote write: HTTP {}", resp.status()));
    }

    let mut measured = Vec::new();
    for spec in &specs {
        let (_, buckets) = query(&url, &format!("bounds{{case=\"{}\"}}", spec.name))?;
        measured.push(match_buckets(spec, &buckets)?);
    }
    let (schema3_json, _) = query(&url, "schema3")?;
    drop(server);

    // Schema s (0..=8) positive buckets 0..2^s: upper bound = 2 * fraction.
    let mut tables: Vec<Vec<f64>> = Vec::new();
    for s in 0..=8 {
        let m = &measured[s as usize];
        let t: Vec<f64> = m.iter().map(|b| b.upper / 2.0).collect();
        if t.len() != 1 << s || m.iter().enumerate().any(|(i, b)| b.index != i as i32) {
            return Err(format!("schema {s}: buckets 0..{} not all in the answer", 1 << s));
        }
        tables.push(t);
    }
    let fractions = &tables[8];
    if fractions.len() != 256 || fractions[0] != 0.5 {
        return Err("schema 8 did not give 256 fractions starting at 0.5".into());
    }
    for (s, t) in tables.iter().enumerate() {
        let stride = 256 >> s;
        for (i, f) in t.iter().enumerate() {
            if f.to_bits() != fractions[i * stride].to_bits() {
                return Err(format!("schema {s} fraction {i} = {f:e} is not schema 8's {}", i * stride));
            }
        }
    }
    write(&root.join("src/model/histogram/bounds_table.rs"), &table_source(fractions, &version))?;

    let mut cases = String::from(
        "# Exponential native-histogram bucket bounds measured from Prometheus\n\
         # (examples/histogram_bounds.rs; regenerate with `cargo run --example histogram_bounds`).\n",
    );
    cases.push_str(&format!("# Measured from: {version}\n"));
    cases.push_str(
        "# `sign schema index lower upper`: bucket `index` of the positive (+) or negative (-) side of\n\
         # a histogram with that schema, and its bounds as /api/v1/query printed them (here in\n\
         # shortest round-trip exponent form). Prometheus leaves out positive buckets whose bounds\n\
         # are both 0, so some written indexes have no line.\n",
    );
    for (spec, m) in specs.iter().zip(&measured).skip(9) {
        for b in m {
            cases.push_str(&format!(
                "{} {} {} {} {}\n",
                if b.sign < 0 { '-' } else { '+' },
                spec.schema,
                b.index,
                fmt(b.lower),
                fmt(b.upper)
            ));
        }
    }
    let dir = root.join("testdata/histogram-bounds");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    write(&dir.join("cases.txt"), &cases)?;
    write(&dir.join("schema3.load"), &schema3_load())?;
    write(&dir.join("schema3.json"), &format!("{schema3_json}\n"))?;
    eprintln!(
        "measured {} fractions and {} bucket cases from {version}",
        fractions.len(),
        cases.lines().filter(|l| !l.starts_with('#')).count()
    );
    Ok(())
}

/// A bound in shortest round-trip exponent form (`1.0905077326652577e0`), the infinities as
/// `+Inf`/`-Inf`.
fn fmt(v: f64) -> String {
    if v.is_infinite() {
        return if v > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    format!("{v:e}")
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

fn table_source(fractions: &[f64], version: &str) -> String {
    let mut out = String::from(
        "// @generated by examples/histogram_bounds.rs: do not edit by hand.\n\
         // Regenerate with `cargo run --example histogram_bounds` (needs a `prometheus` binary).\n\
         //\n\
         // The fractions in [0.5, 1) of the exponential native-histogram bucket bounds of schema 8:\n\
         // entry i is half the upper bound of positive bucket i. Prometheus does not compute these as\n\
         // the correctly rounded 2^(i/256)/2 (most entries differ in the last bits), so they were\n\
         // measured from a running Prometheus as a black box: integer native histograms with\n\
         // buckets 0..=255 written by remote write, read back through /api/v1/query, whose JSON\n\
         // prints every bound with shortest round-trip digits. Schemas 0..=7 were checked to be the\n\
         // subsets of this table at stride 256 >> schema.\n",
    );
    out.push_str(&format!("// Measured from: {version}\n\n"));
    out.push_str("/// Fractions of the schema-8 bucket bounds (see the header of this file).\n");
    out.push_str("#[rustfmt::skip]\npub(super) const FRACTIONS: [f64; 256] = [\n");
    for (i, f) in fractions.iter().enumerate() {
        out.push_str(&format!("    f64::from_bits(0x{:016x}), // {i:3}: {f}\n", f.to_bits()));
    }
    out.push_str("];\n");
    out
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    l.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

fn start(prometheus: &Path) -> Result<(Server, String), String> {
    let dir = std::env::temp_dir().join(format!("histogram-bounds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let config = dir.join("prometheus.yml");
    write(&config, "global:\n  scrape_interval: 1h\n")?;
    let port = free_port()?;
    let log = std::fs::File::create(dir.join("prometheus.log")).map_err(|e| e.to_string())?;
    let child = Command::new(prometheus)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", dir.join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--web.enable-remote-write-receiver")
        .arg("--enable-feature=native-histograms")
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("{}: {e}", prometheus.display()))?;
    let mut server = Server { child, dir };
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(Some(status)) = server.child.try_wait() {
            let log = std::fs::read_to_string(server.dir.join("prometheus.log")).unwrap_or_default();
            return Err(format!("prometheus exited ({status}):\n{log}"));
        }
        let ready = ureq::get(format!("{url}/-/ready")).call().is_ok_and(|r| r.status().is_success());
        // The log line proves that this process (not another one) serves the port.
        let log = std::fs::read_to_string(server.dir.join("prometheus.log")).unwrap_or_default();
        if ready && log.contains("Server is ready to receive web requests") {
            return Ok((server, url));
        }
        if Instant::now() > deadline {
            server.child.kill().ok();
            return Err("prometheus did not get ready within 60 s".into());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Runs an instant query at [`T_MS`]; returns the raw JSON body and the buckets of the first result.
fn query(url: &str, expr: &str) -> Result<(String, Vec<Json>), String> {
    let mut resp = ureq::get(format!("{url}/api/v1/query"))
        .query("query", expr)
        .query("time", (T_MS / 1000).to_string())
        .call()
        .map_err(|e| format!("query {expr}: {e}"))?;
    let mut body = String::new();
    resp.body_mut().as_reader().read_to_string(&mut body).map_err(|e| format!("query {expr}: {e}"))?;
    let json: Json = serde_json::from_str(&body).map_err(|e| format!("query {expr}: {e}"))?;
    let buckets = json["data"]["result"][0]["histogram"][1]["buckets"]
        .as_array()
        .cloned()
        .ok_or_else(|| format!("query {expr}: no histogram buckets in {body}"))?;
    Ok((body, buckets))
}

fn number(v: &Json) -> Result<f64, String> {
    let s = v.as_str().ok_or_else(|| format!("{v} is not a string"))?;
    match s {
        "+Inf" | "Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        _ => s.parse().map_err(|_| format!("{s:?} is not a number")),
    }
}

/// Maps the JSON buckets back to the indexes written: bucket k of the spec (negative indexes first,
/// then positive) has count k + 1. Buckets missing from the answer are left out.
fn match_buckets(spec: &Spec, buckets: &[Json]) -> Result<Vec<Measured>, String> {
    let written: Vec<(i32, i32)> =
        spec.negative.iter().map(|&i| (-1, i)).chain(spec.positive.iter().map(|&i| (1, i))).collect();
    let mut out: Vec<Option<Measured>> = written.iter().map(|_| None).collect();
    for b in buckets {
        let count = number(&b[3])?;
        let k = count as usize - 1;
        let &(sign, index) = written.get(k).ok_or_else(|| format!("{}: unexpected bucket {b}", spec.name))?;
        out[k] = Some(Measured { sign, index, lower: number(&b[1])?, upper: number(&b[2])? });
    }
    // Prometheus leaves out some buckets (positive ones whose bounds are both 0); keep what it printed.
    Ok(out.into_iter().flatten().collect())
}

/// The histograms: schemas 0..=8 with positive buckets 0..2^schema (the fractions), then the chosen
/// cases of schemas -4..=8, then the schema-3 fixture.
fn specs() -> Vec<Spec> {
    let mut out = Vec::new();
    for s in 0..=8 {
        out.push(Spec {
            name: format!("frac{s}"),
            schema: s,
            negative: vec![],
            positive: (0..1 << s).collect(),
        });
    }
    for s in [-4, -2, -1, 0, 1, 3, 5, 8] {
        // Index of the first bucket whose upper bound is 2^e, and the buckets per power of two.
        let per = if s >= 0 { 1i64 << s } else { 1 };
        let at = |e: i64| if s >= 0 { e << s } else { e >> -s };
        let mut idx: Vec<i64> = Vec::new();
        for e in [1025, 1024, 1023, 1000, 1, 0, -1, -1021, -1022, -1023, -1050, -1073, -1074, -1075, -1076] {
            let i = at(e);
            idx.extend([i, i - 1, i + 1, i + per / 2, i + per - 1]);
        }
        idx.sort_unstable();
        idx.dedup();
        let idx: Vec<i32> = idx.into_iter().map(|i| i as i32).collect();
        let positive = idx.clone();
        let negative: Vec<i32> = idx.iter().copied().filter(|i| i % 3 == 0 || i.abs() < 3).collect();
        out.push(Spec { name: format!("case{s}"), schema: s, negative, positive });
    }
    out
}

fn schema3_spec() -> (Vec<i32>, Vec<i32>) {
    (vec![-3, -2, 0, 5], vec![-9, -8, -1, 0, 1, 2, 7, 13])
}

fn schema3_load() -> String {
    let (neg, pos) = schema3_spec();
    // Counts k + 1 in the order negative then positive, as in `series`.
    let n = neg.len();
    let fmt_side = |v: &[i32], base: usize| -> (i32, String) {
        let start = v[0];
        let mut counts = Vec::new();
        for i in start..=*v.last().unwrap_or(&start) {
            counts.push(v.iter().position(|&x| x == i).map_or(0, |p| base + p + 1).to_string());
        }
        (start, counts.join(" "))
    };
    let (noff, nb) = fmt_side(&neg, 0);
    let (poff, pb) = fmt_side(&pos, n);
    let total: usize = (1..=neg.len() + pos.len()).sum();
    format!(
        "# A schema-3 native histogram; its /api/v1/query answer from Prometheus is schema3.json\n\
         # (both written by examples/histogram_bounds.rs).\n\
         load 1m\n  \
         schema3 _ {{{{schema:3 sum:12.5 count:{} z_bucket:2 z_bucket_w:0.001 offset:{poff} buckets:[{pb}] n_offset:{noff} n_buckets:[{nb}]}}}}\n",
        total + 2
    )
}

fn spans_deltas(idx: &[i32], first_count: i64) -> (Vec<BucketSpan>, Vec<i64>) {
    let mut spans: Vec<BucketSpan> = Vec::new();
    let mut deltas = Vec::new();
    let mut prev_count = 0i64;
    let mut next: Option<i32> = None;
    for (k, &i) in idx.iter().enumerate() {
        match (next, spans.last_mut()) {
            (Some(n), Some(last)) if n == i => last.length += 1,
            (Some(n), _) => spans.push(BucketSpan { offset: i - n, length: 1 }),
            (None, _) => spans.push(BucketSpan { offset: i, length: 1 }),
        }
        next = Some(i + 1);
        let c = first_count + k as i64;
        deltas.push(c - prev_count);
        prev_count = c;
    }
    (spans, deltas)
}

fn series(spec: &Spec) -> TimeSeries {
    let (neg, pos) = (&spec.negative, &spec.positive);
    let (negative_spans, negative_deltas) = spans_deltas(neg, 1);
    let (positive_spans, positive_deltas) = spans_deltas(pos, neg.len() as i64 + 1);
    let n = (neg.len() + pos.len()) as u64;
    let h = Histogram {
        count: Some(HistogramCount::Int(n * (n + 1) / 2)),
        sum: 0.0,
        schema: spec.schema,
        zero_threshold: 0.0,
        zero_count: Some(HistogramZeroCount::Int(0)),
        negative_spans,
        negative_deltas,
        negative_counts: vec![],
        positive_spans,
        positive_deltas,
        positive_counts: vec![],
        reset_hint: 0,
        timestamp: T_MS,
        custom_values: vec![],
    };
    let labels = vec![
        Label { name: "__name__".into(), value: "bounds".into() },
        Label { name: "case".into(), value: spec.name.clone() },
    ];
    TimeSeries { labels, samples: vec![], histograms: vec![h] }
}

/// The schema-3 fixture series: counts as in [`series`], a zero bucket and a sum.
fn schema3_series() -> TimeSeries {
    let (negative, positive) = schema3_spec();
    let spec = Spec { name: String::new(), schema: 3, negative, positive };
    let mut ts = series(&spec);
    ts.labels = vec![Label { name: "__name__".into(), value: "schema3".into() }];
    let n = (spec.negative.len() + spec.positive.len()) as u64;
    let h = &mut ts.histograms[0];
    h.count = Some(HistogramCount::Int(n * (n + 1) / 2 + 2));
    h.sum = 12.5;
    h.zero_threshold = 0.001;
    h.zero_count = Some(HistogramZeroCount::Int(2));
    ts
}
