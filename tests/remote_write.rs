//! The remote-write sink against loopback receivers written here: the scenarios of
//! `testdata/remote/write/` (retries, rejections, a full queue, external labels), a receiver that
//! is down and comes back (nothing lost or repeated), and the rule manager writing recording-rule
//! results and `ALERTS`/`ALERTS_FOR_STATE` through [`RemoteRuleStore`].

mod support;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferroprom::engine::{Engine, EngineOptions};
use ferroprom::model::{Label, Labels};
use ferroprom::parser::ast::Expr;
use ferroprom::remote::proto;
use ferroprom::remote::{RemoteRuleStore, RemoteWriteOptions, RemoteWriteStats, RemoteWriter};
use ferroprom::rules::group::{EngineQueryFunc, EvalEnv, Group, GroupSpec, RuleStore};
use ferroprom::storage::{MemStorage, SelectHints, Storage};
use prost::Message;

/// A sample as received: labels text, timestamp, value bits.
type Got = (String, i64, u64);

/// A loopback remote-write receiver answering each POST with the next of `statuses` (204 after).
/// Requests it accepts (2xx) are decoded and recorded in order.
struct Receiver {
    url: String,
    accepted: Arc<Mutex<Vec<Got>>>,
    headers: Arc<Mutex<Vec<BTreeMap<String, String>>>>,
    server: Arc<tiny_http::Server>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn labels_text(labels: &[proto::Label]) -> String {
    Labels::from_vec(labels.iter().map(|l| Label::new(l.name.as_str(), l.value.as_str())).collect())
        .to_string()
}

impl Receiver {
    fn start_on(addr: &str, statuses: Vec<(u16, Option<u64>)>) -> Receiver {
        let server = Arc::new(tiny_http::Server::http(addr).unwrap());
        let url = format!("http://{}/api/v1/write", server.server_addr().to_ip().unwrap());
        let accepted = Arc::new(Mutex::new(Vec::new()));
        let headers = Arc::new(Mutex::new(Vec::new()));
        let (srv, acc, hdr) = (Arc::clone(&server), Arc::clone(&accepted), Arc::clone(&headers));
        let thread = std::thread::spawn(move || {
            let mut statuses = statuses.into_iter();
            for mut req in srv.incoming_requests() {
                let mut body = Vec::new();
                std::io::Read::read_to_end(req.as_reader(), &mut body).unwrap();
                hdr.lock()
                    .unwrap()
                    .push(req.headers().iter().map(|h| (h.field.to_string(), h.value.to_string())).collect());
                let (status, retry_after) = statuses.next().unwrap_or((204, None));
                if (200..300).contains(&status) {
                    let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap();
                    let wr = proto::WriteRequest::decode(&raw[..]).unwrap();
                    let mut acc = acc.lock().unwrap();
                    for ts in wr.timeseries {
                        let l = labels_text(&ts.labels);
                        for s in ts.samples {
                            acc.push((l.clone(), s.timestamp, s.value.to_bits()));
                        }
                    }
                }
                let mut resp =
                    tiny_http::Response::from_string(format!("status {status}")).with_status_code(status);
                if let Some(secs) = retry_after {
                    resp.add_header(tiny_http::Header::from_bytes("Retry-After", secs.to_string()).unwrap());
                }
                let _ = req.respond(resp);
            }
        });
        Receiver { url, accepted, headers, server, thread: Some(thread) }
    }

    fn accepted(&self) -> Vec<Got> {
        self.accepted.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn fast_options() -> RemoteWriteOptions {
    RemoteWriteOptions {
        min_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(5),
        ..RemoteWriteOptions::default()
    }
}

fn parse_labels(text: &str) -> Labels {
    let Expr::VectorSelector(vs) = ferroprom::parser::parse(text).unwrap() else {
        panic!("{text}: not a selector")
    };
    Labels::from_vec(vs.matchers.iter().map(|m| Label::new(m.name.as_str(), m.value.as_str())).collect())
}

fn parse_value(text: &str) -> f64 {
    match text {
        "NaN" => f64::NAN,
        "Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        v => v.parse().unwrap(),
    }
}

/// Samples grouped by series, each series in the order received.
fn by_series(samples: &[Got]) -> BTreeMap<String, Vec<(i64, u64)>> {
    let mut out: BTreeMap<String, Vec<(i64, u64)>> = BTreeMap::new();
    for (l, t, v) in samples {
        out.entry(l.clone()).or_default().push((*t, *v));
    }
    out
}

fn stat(s: &RemoteWriteStats, name: &str) -> u64 {
    match name {
        "sent" => s.sent,
        "failed" => s.failed,
        "dropped" => s.dropped,
        "retried" => s.retried,
        "pending" => s.pending as u64,
        other => panic!("unknown counter {other}"),
    }
}

/// Runs a scenario file; `Err` describes the first difference.
fn check(path: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(path).unwrap();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty() && !l.starts_with('#')).collect();
    let mut receiver = None;
    let mut writer = None;
    let mut opts = fast_options();
    let mut expected = Vec::new();
    for line in lines {
        let (cmd, rest) = line.split_once(' ').unwrap_or((line, ""));
        match cmd {
            "receiver" => {
                let statuses = rest
                    .split_whitespace()
                    .map(|s| match s.split_once(':') {
                        Some((st, ra)) => (st.parse().unwrap(), Some(ra.parse().unwrap())),
                        None => (s.parse().unwrap(), None),
                    })
                    .collect();
                receiver = Some(Receiver::start_on("127.0.0.1:0", statuses));
            }
            "options" => {
                for kv in rest.split_whitespace() {
                    let (k, v) = kv.split_once('=').unwrap();
                    match k {
                        "batch" => opts.max_samples_per_send = v.parse().unwrap(),
                        "capacity" => opts.capacity = v.parse().unwrap(),
                        "external" => {
                            opts.external_labels = v
                                .split(',')
                                .map(|p| {
                                    p.split_once(':').map(|(a, b)| (a.to_string(), b.to_string())).unwrap()
                                })
                                .collect()
                        }
                        other => panic!("unknown option {other}"),
                    }
                }
            }
            "append" => {
                let w = writer.get_or_insert_with(|| {
                    RemoteWriter::new(&receiver.as_ref().unwrap().url, opts.clone()).unwrap()
                });
                let (rest, v) = rest.rsplit_once(' ').unwrap();
                let (series, t) = rest.rsplit_once(' ').unwrap();
                w.append(&parse_labels(series), t.parse().unwrap(), parse_value(v));
            }
            "flush" => {
                if !writer.as_ref().unwrap().flush(Duration::from_secs(20)) {
                    return Err(format!("flush timed out: {:?}", writer.as_ref().unwrap().stats()));
                }
            }
            "accepted" => {
                let (rest, v) = rest.rsplit_once(' ').unwrap();
                let (series, t) = rest.rsplit_once(' ').unwrap();
                expected.push((
                    parse_labels(series).to_string(),
                    t.parse().unwrap(),
                    parse_value(v).to_bits(),
                ));
            }
            "stats" => {
                let s = writer.as_ref().unwrap().stats();
                for kv in rest.split_whitespace() {
                    let ok = if let Some((k, v)) = kv.split_once(">=") {
                        stat(&s, k) >= v.parse().unwrap()
                    } else {
                        let (k, v) = kv.split_once('=').unwrap();
                        stat(&s, k) == v.parse::<u64>().unwrap()
                    };
                    if !ok {
                        return Err(format!("counter {kv} does not hold: {s:?}"));
                    }
                }
            }
            other => panic!("{}: unknown line {other}", path.display()),
        }
    }
    let got = receiver.as_ref().unwrap().accepted();
    if by_series(&got) != by_series(&expected) {
        return Err(format!("accepted {got:?}\nexpected {expected:?}"));
    }
    Ok(())
}

#[test]
fn write_scenarios() {
    let files = support::files_in(&support::root().join("testdata/remote/write"), |p| {
        support::has_extension(p, "txt")
    });
    let failures: Vec<String> =
        files.iter().filter_map(|p| check(p).err().map(|e| format!("{}: {e}", p.display()))).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(files.len() >= 4);
}

#[test]
fn protocol_headers() {
    let receiver = Receiver::start_on("127.0.0.1:0", vec![]);
    let writer = RemoteWriter::new(&receiver.url, fast_options()).unwrap();
    writer.append(&parse_labels("up{job=\"x\"}"), 1, 1.0);
    assert!(writer.flush(Duration::from_secs(10)));
    let h = receiver.headers.lock().unwrap()[0].clone();
    let get = |k: &str| h.iter().find(|(n, _)| n.eq_ignore_ascii_case(k)).map(|(_, v)| v.as_str());
    assert_eq!(get("Content-Encoding"), Some("snappy"));
    assert_eq!(get("Content-Type"), Some("application/x-protobuf"));
    assert_eq!(get("X-Prometheus-Remote-Write-Version"), Some("0.1.0"));
    assert!(get("User-Agent").is_some_and(|u| u.starts_with("ferroprom/")));
}

/// The receiver is down (connection refused) while samples are queued, then comes back on the
/// same address: every sample arrives exactly once, each series in order.
#[test]
fn receiver_restart_loses_nothing() {
    let first = Receiver::start_on("127.0.0.1:0", vec![]);
    let addr = first.url.trim_start_matches("http://").trim_end_matches("/api/v1/write").to_string();
    // A stopped stand-in leaves its kept-alive connection unanswered (a stopped Prometheus resets
    // it); the request timeout turns that into a retry.
    let client =
        ferroprom::remote::ClientOptions { timeout: Some(Duration::from_millis(500)), ..Default::default() };
    let opts = RemoteWriteOptions { max_samples_per_send: 7, client, ..fast_options() };
    let writer = RemoteWriter::new(&first.url, opts).unwrap();
    let series: Vec<Labels> = (0..5).map(|i| parse_labels(&format!("s{{i=\"{i}\"}}"))).collect();
    let mut expected = Vec::new();
    let mut push = |from: i64, to: i64| {
        for t in from..to {
            for s in &series {
                writer.append(s, t * 1000, t as f64);
                expected.push((s.to_string(), t * 1000, (t as f64).to_bits()));
            }
        }
    };
    push(0, 10);
    assert!(writer.flush(Duration::from_secs(10)));
    let before = first.accepted();
    drop(first);
    push(10, 40);
    std::thread::sleep(Duration::from_millis(100));
    let second = Receiver::start_on(&addr, vec![(503, None), (500, None)]);
    assert!(writer.flush(Duration::from_secs(20)), "{:?}", writer.stats());
    let mut got = before;
    got.extend(second.accepted());
    assert_eq!(by_series(&got), by_series(&expected));
    let s = writer.stats();
    assert_eq!((s.sent, s.failed, s.dropped, s.pending), (200, 0, 0, 0), "{s:?}");
    assert!(s.retried > 0, "{s:?}");
    assert!(s.last_error.is_none(), "{s:?}");
}

/// The rules of `testdata/remote/rules.yml` replayed over a data set write through
/// [`RemoteRuleStore`] exactly the samples they write into a local store.
#[test]
fn rule_results_are_written() {
    let dir = support::root().join("testdata/remote");
    let data = ferroprom::datafile::load_file(&dir.join("rules.data")).unwrap();
    let data = Arc::new(data);
    let loaded = ferroprom::rules::load_file(&dir.join("rules.yml"), &Default::default()).unwrap();
    let specs: Vec<GroupSpec> = ferroprom::rules::manager::group_specs(&loaded.groups, 60_000);
    let engine = Arc::new(Engine::new(EngineOptions::default()));
    let run = |store: Arc<dyn RuleStore>| {
        let env = EvalEnv {
            query: Arc::new(EngineQueryFunc { engine: Arc::clone(&engine), storage: Arc::clone(&data) }),
            store,
            notify: None,
            resend_delay: 60_000,
            default_query_offset: 0,
        };
        let mut groups: Vec<Group> =
            specs.iter().map(|s| Group::new(s.clone(), &BTreeMap::new(), "http://ferroprom", true)).collect();
        ferroprom::rules::manager::replay(&mut groups, &env, 0, 1_200_000);
    };
    let local = Arc::new(MemStorage::new());
    run(local.clone());
    let receiver = Receiver::start_on("127.0.0.1:0", vec![(503, None)]);
    let writer = Arc::new(RemoteWriter::new(&receiver.url, fast_options()).unwrap());
    run(Arc::new(RemoteRuleStore::new(Arc::clone(&writer), Arc::new(MemStorage::new()))));
    assert!(writer.flush(Duration::from_secs(20)));
    let mut expected = Vec::new();
    let all = ferroprom::model::Matcher::new(ferroprom::model::MatchOp::Regex, "__name__", ".+").unwrap();
    for s in local.select(&[all], &SelectHints::range(i64::MIN, i64::MAX)).unwrap() {
        for (t, f) in s.floats.iter().map(|p| (&p.t, &p.f)) {
            expected.push((s.labels.to_string(), *t, f.to_bits()));
        }
    }
    let got = by_series(&receiver.accepted());
    assert_eq!(got, by_series(&expected));
    for name in ["job:requests:rate1m", "ALERTS", "ALERTS_FOR_STATE"] {
        let key = format!("__name__=\"{name}\"");
        assert!(got.keys().any(|k| k.contains(&key)), "{name} missing from {:?}", got.keys());
    }
}
