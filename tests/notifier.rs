//! The Alertmanager client against a loopback HTTP server written here: the JSON Prometheus posts,
//! batching, external labels, relabeling, retries, dropping, and a server that is not there.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ferroprom::notifier::{Alert, Notifier, NotifierOptions, RelabelAction, RelabelConfig};

struct Received {
    path: String,
    content_type: String,
    body: String,
}

/// A loopback Alertmanager stand-in answering each POST with the next status of `statuses`
/// (200 once they run out).
struct Server {
    url: String,
    received: Arc<Mutex<Vec<Received>>>,
    server: Arc<tiny_http::Server>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    fn start(statuses: Vec<u16>) -> Server {
        let server = Arc::new(tiny_http::Server::http("127.0.0.1:0").unwrap());
        let url = format!("http://{}", server.server_addr().to_ip().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let (srv, rec) = (Arc::clone(&server), Arc::clone(&received));
        let thread = std::thread::spawn(move || {
            let mut statuses = statuses.into_iter();
            for mut req in srv.incoming_requests() {
                let mut body = String::new();
                req.as_reader().read_to_string(&mut body).unwrap();
                let content_type = req
                    .headers()
                    .iter()
                    .find(|h| h.field.equiv("Content-Type"))
                    .map(|h| h.value.to_string())
                    .unwrap_or_default();
                rec.lock().unwrap().push(Received { path: req.url().to_string(), content_type, body });
                let status = statuses.next().unwrap_or(200);
                let _ = req.respond(tiny_http::Response::empty(status));
            }
        });
        Server { url, received, server, thread: Some(thread) }
    }

    fn bodies(&self) -> Vec<String> {
        self.received.lock().unwrap().iter().map(|r| r.body.clone()).collect()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn alert(name: &str, extra: &[(&str, &str)]) -> Alert {
    let mut labels: BTreeMap<String, String> = BTreeMap::new();
    labels.insert("alertname".into(), name.into());
    for (k, v) in extra {
        labels.insert(k.to_string(), v.to_string());
    }
    Alert {
        labels,
        annotations: BTreeMap::new(),
        starts_at: 1_764_000_000_000,
        ends_at: 1_764_000_240_000,
        generator_url: "http://prom.example:9090/graph?g0.expr=vector%281%29&g0.tab=1".into(),
    }
}

fn opts() -> NotifierOptions {
    NotifierOptions { retry_backoff: Duration::from_millis(10), ..NotifierOptions::default() }
}

/// Sends `alerts` through a notifier with `opts` to a server answering `statuses`, and compares the
/// bodies the server received with `expected`.
fn check(opts: NotifierOptions, statuses: Vec<u16>, alerts: Vec<Alert>, expected: &[&str]) -> Notifier {
    let server = Server::start(statuses);
    let n = Notifier::new(std::slice::from_ref(&server.url), opts).unwrap();
    n.send(alerts);
    assert!(n.flush(Duration::from_secs(10)), "queue not drained");
    let bodies = server.bodies();
    assert_eq!(bodies, expected);
    let r = server.received.lock().unwrap();
    assert!(r.iter().all(|r| r.path == "/api/v2/alerts" && r.content_type == "application/json"));
    n
}

#[test]
fn posts_prometheus_json() {
    let mut a = alert("WebhookAlert", &[("job", "interop"), ("severity", "page")]);
    a.annotations.insert("summary".into(), "value is 1".into());
    let n = check(
        opts(),
        vec![],
        vec![a],
        &[
            r#"[{"annotations":{"summary":"value is 1"},"endsAt":"2025-11-24T16:04:00.000Z","startsAt":"2025-11-24T16:00:00.000Z","generatorURL":"http://prom.example:9090/graph?g0.expr=vector%281%29&g0.tab=1","labels":{"alertname":"WebhookAlert","job":"interop","severity":"page"}}]"#,
        ],
    );
    let s = &n.stats()[0];
    assert_eq!((s.sent, s.errors, s.dropped, s.queue_length), (1, 0, 0, 0));
}

#[test]
fn batches_external_labels_and_relabeling() {
    let mut o = opts();
    o.max_batch_size = 2;
    o.external_labels.insert("cluster".into(), "eu1".into());
    let mut drop = RelabelConfig::new(RelabelAction::Drop, "info").unwrap();
    drop.source_labels = vec!["severity".into()];
    o.relabel_configs = vec![drop];
    let alerts = vec![
        alert("A", &[]),
        alert("B", &[("cluster", "us1")]),
        alert("C", &[("severity", "info")]),
        alert("D", &[]),
    ];
    let n = check(
        o,
        vec![],
        alerts,
        &[
            r#"[{"endsAt":"2025-11-24T16:04:00.000Z","startsAt":"2025-11-24T16:00:00.000Z","generatorURL":"http://prom.example:9090/graph?g0.expr=vector%281%29&g0.tab=1","labels":{"alertname":"A","cluster":"eu1"}},{"endsAt":"2025-11-24T16:04:00.000Z","startsAt":"2025-11-24T16:00:00.000Z","generatorURL":"http://prom.example:9090/graph?g0.expr=vector%281%29&g0.tab=1","labels":{"alertname":"B","cluster":"us1"}}]"#,
            r#"[{"endsAt":"2025-11-24T16:04:00.000Z","startsAt":"2025-11-24T16:00:00.000Z","generatorURL":"http://prom.example:9090/graph?g0.expr=vector%281%29&g0.tab=1","labels":{"alertname":"D","cluster":"eu1"}}]"#,
        ],
    );
    assert_eq!(n.stats()[0].sent, 3);
}

#[test]
fn retries_then_delivers() {
    let body = r#"[{"endsAt":"2025-11-24T16:04:00.000Z","startsAt":"2025-11-24T16:00:00.000Z","generatorURL":"http://prom.example:9090/graph?g0.expr=vector%281%29&g0.tab=1","labels":{"alertname":"A"}}]"#;
    let n = check(opts(), vec![500, 503], vec![alert("A", &[])], &[body, body, body]);
    let s = &n.stats()[0];
    assert_eq!((s.sent, s.errors, s.dropped), (1, 2, 0));
}

#[test]
fn gives_up_after_retries_and_counts_drops() {
    let mut o = opts();
    o.max_retries = 1;
    let body = r#"[{"endsAt":"2025-11-24T16:04:00.000Z","startsAt":"2025-11-24T16:00:00.000Z","generatorURL":"http://prom.example:9090/graph?g0.expr=vector%281%29&g0.tab=1","labels":{"alertname":"A"}}]"#;
    let n = check(o, vec![500, 500], vec![alert("A", &[])], &[body, body]);
    let s = &n.stats()[0];
    assert_eq!((s.sent, s.errors, s.dropped), (0, 2, 1));
    assert_eq!(s.last_error.as_deref(), Some("bad response status 500 Internal Server Error"));
}

#[test]
fn oversized_batch_keeps_the_newest() {
    let mut o = opts();
    o.queue_capacity = 2;
    let n = check(
        o,
        vec![],
        vec![alert("A", &[]), alert("B", &[]), alert("C", &[])],
        &[
            r#"[{"endsAt":"2025-11-24T16:04:00.000Z","startsAt":"2025-11-24T16:00:00.000Z","generatorURL":"http://prom.example:9090/graph?g0.expr=vector%281%29&g0.tab=1","labels":{"alertname":"B"}},{"endsAt":"2025-11-24T16:04:00.000Z","startsAt":"2025-11-24T16:00:00.000Z","generatorURL":"http://prom.example:9090/graph?g0.expr=vector%281%29&g0.tab=1","labels":{"alertname":"C"}}]"#,
        ],
    );
    assert_eq!(n.stats()[0].dropped, 1);
}

#[test]
fn unreachable_alertmanager_never_blocks() {
    // A port that was free a moment ago: connections are refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut o = opts();
    o.max_retries = 0;
    o.timeout = Duration::from_secs(2);
    let n = Notifier::new(&[format!("http://127.0.0.1:{port}")], o).unwrap();
    n.send(vec![alert("A", &[])]);
    assert!(n.flush(Duration::from_secs(10)));
    let s = &n.stats()[0];
    assert_eq!((s.sent, s.dropped), (0, 1));
    assert!(s.last_error.as_deref().unwrap_or("").starts_with("error sending alerts to http://127.0.0.1:"));
    n.stop();
}

#[test]
fn rejects_bad_urls() {
    for bad in ["https://am:9093", "am:9093", "http://", "http:///x"] {
        assert!(Notifier::new(&[bad.to_string()], opts()).is_err(), "{bad}");
    }
    let n = Notifier::new(&["http://127.0.0.1:9093/prefix/".to_string()], opts()).unwrap();
    assert_eq!(n.alertmanagers(), vec!["http://127.0.0.1:9093/prefix/api/v2/alerts".to_string()]);
}

#[test]
fn exposes_metrics() {
    let n = check(
        opts(),
        vec![],
        vec![alert("A", &[])],
        &[
            r#"[{"endsAt":"2025-11-24T16:04:00.000Z","startsAt":"2025-11-24T16:00:00.000Z","generatorURL":"http://prom.example:9090/graph?g0.expr=vector%281%29&g0.tab=1","labels":{"alertname":"A"}}]"#,
        ],
    );
    let stats = n.stats();
    let text = ferroprom::notifier::metrics_text(&stats, 10_000);
    let url = &stats[0].url;
    for line in [
        format!("prometheus_notifications_sent_total{{alertmanager=\"{url}\"}} 1"),
        format!("prometheus_notifications_dropped_total{{alertmanager=\"{url}\"}} 0"),
        "prometheus_notifications_queue_capacity 10000".to_string(),
        "prometheus_notifications_alertmanagers_discovered 1".to_string(),
    ] {
        assert!(text.lines().any(|l| l == line), "missing {line:?} in\n{text}");
    }
}

#[test]
fn one_queue_per_alertmanager() {
    let up = Server::start(vec![]);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut o = opts();
    o.max_retries = 0;
    let n = Notifier::new(&[format!("http://127.0.0.1:{port}"), up.url.clone()], o).unwrap();
    n.send(vec![alert("A", &[]), alert("B", &[])]);
    assert!(n.flush(Duration::from_secs(10)));
    let stats = n.stats();
    assert_eq!((stats[0].sent, stats[0].dropped), (0, 2));
    assert_eq!((stats[1].sent, stats[1].dropped), (2, 0));
    assert_eq!(up.bodies().len(), 1);
}
