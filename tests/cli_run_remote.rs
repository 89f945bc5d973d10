//! `ferroprom run --remote-read URL --remote-write URL` as a process, against a loopback server
//! written here that answers remote reads from an in-memory store and records remote writes: the
//! rules read the remote data, their results (recorded series, `ALERTS`) arrive by remote write,
//! `/metrics` counts them, and SIGTERM flushes and exits 0. Bad remote settings stop it at start.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ferroprom::model::{Labels, MatchOp, Matcher};
use ferroprom::remote::proto;
use ferroprom::storage::{MemStorage, SelectHints, Storage};
use prost::Message;

const RULES: &str = r#"groups:
- name: remote
  interval: 1s
  rules:
  - record: job:m:sum
    expr: sum by (job) (m)
  - alert: Always
    expr: vector(1)
"#;

/// Series names and values received by remote write.
type Written = Arc<Mutex<Vec<(String, f64)>>>;

/// Answers `/api/v1/read` from `store` (SAMPLES) and records the series names written to
/// `/api/v1/write` with their values.
fn fake_prometheus(store: Arc<MemStorage>) -> (String, Written, Arc<tiny_http::Server>) {
    let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
    let base = format!("http://{}", server.server_addr().to_ip().unwrap());
    let written = Arc::new(Mutex::new(Vec::new()));
    let (srv, log) = (Arc::clone(&server), Arc::clone(&written));
    std::thread::spawn(move || {
        for mut req in srv.incoming_requests() {
            let mut body = Vec::new();
            std::io::Read::read_to_end(req.as_reader(), &mut body).unwrap();
            let raw = snap::raw::Decoder::new().decompress_vec(&body).unwrap_or_default();
            let reply = match req.url() {
                "/api/v1/read" => {
                    let q = proto::ReadRequest::decode(&raw[..]).unwrap().queries.remove(0);
                    let matchers: Vec<Matcher> = q
                        .matchers
                        .iter()
                        .map(|m| {
                            let op = [MatchOp::Equal, MatchOp::NotEqual, MatchOp::Regex, MatchOp::NotRegex]
                                [m.r#type as usize];
                            Matcher::new(op, m.name.as_str(), m.value.as_str()).unwrap()
                        })
                        .collect();
                    let hints = SelectHints::range(q.start_timestamp_ms, q.end_timestamp_ms);
                    let timeseries = store
                        .select(&matchers, &hints)
                        .unwrap()
                        .into_iter()
                        .map(|s| proto::TimeSeries {
                            labels: s
                                .labels
                                .iter()
                                .map(|l| proto::Label {
                                    name: l.name.to_string(),
                                    value: l.value.to_string(),
                                })
                                .collect(),
                            samples: s
                                .floats
                                .iter()
                                .map(|p| proto::Sample { value: p.f, timestamp: p.t })
                                .collect(),
                            histograms: Vec::new(),
                        })
                        .collect();
                    let resp = proto::ReadResponse { results: vec![proto::QueryResult { timeseries }] };
                    tiny_http::Response::from_data(
                        snap::raw::Encoder::new().compress_vec(&resp.encode_to_vec()).unwrap(),
                    )
                }
                "/api/v1/write" => {
                    let wr = proto::WriteRequest::decode(&raw[..]).unwrap();
                    for ts in wr.timeseries {
                        let name = ts.labels.iter().find(|l| l.name == "__name__").map(|l| l.value.clone());
                        for s in ts.samples {
                            log.lock().unwrap().push((name.clone().unwrap_or_default(), s.value));
                        }
                    }
                    tiny_http::Response::from_data(Vec::new()).with_status_code(204)
                }
                _ => tiny_http::Response::from_data(Vec::new()).with_status_code(404),
            };
            let _ = req.respond(reply);
        }
    });
    (base, written, server)
}

#[test]
fn rules_read_remote_data_and_write_results() {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
    let store = Arc::new(MemStorage::new());
    for (job, v) in [("a", 1.0), ("a", 2.0), ("b", 5.0)].iter().enumerate().map(|(i, (j, v))| ((*j, i), *v)) {
        let labels = Labels::from_pairs([("__name__", "m"), ("job", job.0), ("i", &job.1.to_string())]);
        for t in (now - 60_000..now + 600_000).step_by(15_000) {
            store.append(&labels, t, v).unwrap();
        }
    }
    let (base, written, server) = fake_prometheus(store);
    let dir = std::env::temp_dir().join(format!("ferroprom-cli-run-remote-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rules = dir.join("rules.yml");
    std::fs::write(&rules, RULES).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferroprom"))
        .args(["run", "--listen", "127.0.0.1:0", "--external-label", "ruler=test", "--rules"])
        .arg(&rules)
        .args([
            "--remote-read",
            &format!("{base}/api/v1/read"),
            "--remote-write",
            &format!("{base}/api/v1/write"),
        ])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let log = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&log);
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    let has = |name: &str, v: f64| written.lock().unwrap().iter().any(|(n, x)| n == name && *x == v);
    while !(has("job:m:sum", 3.0) && has("job:m:sum", 5.0) && has("ALERTS", 1.0)) {
        assert!(
            Instant::now() < deadline,
            "no results written: {:?}\n{:?}",
            written.lock().unwrap(),
            log.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let listen = log
        .lock()
        .unwrap()
        .iter()
        .find_map(|l| {
            l.split_once("msg=\"Listening on\" address=\"").map(|(_, r)| r.trim_end_matches('"').to_string())
        })
        .unwrap();
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let metrics =
        agent.get(&format!("http://{listen}/metrics")).call().unwrap().body_mut().read_to_string().unwrap();
    assert!(metrics.contains("prometheus_remote_storage_samples_total{url=\""), "{metrics}");
    assert!(metrics.contains("prometheus_remote_storage_samples_failed_total{url=\""), "{metrics}");
    assert!(Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap().success());
    let status = child.wait().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    let log = log.lock().unwrap().join("\n");
    assert!(status.success(), "{log}");
    assert!(log.contains("msg=\"Evaluating rules against remote read\""), "{log}");
    assert!(log.contains("msg=\"Writing rule results to remote write\""), "{log}");
    server.unblock();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_remote_settings_fail_at_start() {
    let dir = std::env::temp_dir().join(format!("ferroprom-cli-run-remote-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rules = dir.join("rules.yml");
    std::fs::write(&rules, RULES).unwrap();
    let config = dir.join("remote.yml");
    std::fs::write(&config, "remote_write:\n  - url: http://127.0.0.1:1/api/v1/write\n    queue_confg: {}\n")
        .unwrap();
    let run = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_ferroprom"))
            .args(["run", "--listen", "127.0.0.1:0", "--rules"])
            .arg(&rules)
            .args(extra)
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8_lossy(&out.stderr).to_string())
    };
    let (code, err) = run(&["--remote-read", "ftp://x/api/v1/read"]);
    assert_eq!(
        (code, err.trim()),
        (Some(1), "error: invalid remote URL \"ftp://x/api/v1/read\": expected http:// or https://")
    );
    let (code, err) = run(&["--remote-config", config.to_str().unwrap()]);
    assert_eq!(code, Some(1));
    assert!(err.contains("remote.yml: yaml: line 3: column 5: unknown field `queue_confg`"), "{err}");
    let (code, err) = run(&["--remote-read", "http://x/api/v1/read", "--data", "example/node-exporter.data"]);
    assert_eq!(code, Some(2), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}
