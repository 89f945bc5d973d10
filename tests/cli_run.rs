//! `ferroprom run` as a process: it starts on a free loopback port, serves `/-/ready`,
//! `/api/v1/rules`, `/api/v1/alerts` and `/metrics`, keeps evaluating through failing rules, bad
//! templates and an unreachable Alertmanager, delivers alerts to a reachable one, reloads its rules
//! on SIGHUP, and stops cleanly on SIGTERM.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

const RULES: &str = r#"groups:
- name: story
  rules:
  - record: job:m:sum
    expr: sum by (job) (m)
  - record: clash
    expr: m
    labels:
      instance: same
  - alert: WebhookAlert
    expr: vector(1)
    labels:
      job: interop
      severity: page
    annotations:
      summary: "value is {{ $value }}"
      broken: '{{ humanize "not a number" }}'
"#;

/// A scratch directory removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("ferroprom-cli-run-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The running binary, its stderr lines as they come, and its listen address.
struct Running {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    addr: String,
}

impl Running {
    fn start(args: &[&str]) -> Running {
        let mut child = Command::new(env!("CARGO_BIN_EXE_ferroprom"))
            .arg("run")
            .args(args)
            .args(["--listen", "127.0.0.1:0"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = channel();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split_once("msg=\"Listening on\" address=\"").map(|(_, r)| r) {
                    let _ = tx.send(rest.trim_end_matches('"').to_string());
                }
                sink.lock().unwrap().push(line);
            }
        });
        let addr = wait_addr(&rx, &mut child, &log);
        Running { child, log, addr }
    }

    fn get(&self, path: &str) -> (u16, String) {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let mut resp = agent.get(&format!("http://{}{path}", self.addr)).call().unwrap();
        (resp.status().as_u16(), resp.body_mut().read_to_string().unwrap())
    }

    fn json(&self, path: &str) -> Value {
        let (status, body) = self.get(path);
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    fn logged(&self, needle: &str) -> bool {
        self.log.lock().unwrap().iter().any(|l| l.contains(needle))
    }

    fn log_text(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Sends a signal (`-HUP`, `-TERM`) with kill(1).
    fn signal(&self, which: &str) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args([which, &pid]).status().unwrap().success());
    }

    /// Sends SIGTERM and waits for the exit status.
    fn terminate(mut self) -> (std::process::ExitStatus, String) {
        self.signal("-TERM");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(100)); // let the reader take the last lines
                return (status, self.log_text());
            }
            assert!(Instant::now() < deadline, "no exit after SIGTERM:\n{}", self.log_text());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_addr(rx: &Receiver<String>, child: &mut Child, log: &Mutex<Vec<String>>) -> String {
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(addr) => addr,
        Err(_) => {
            let _ = child.kill();
            panic!("ferroprom run did not start listening:\n{}", log.lock().unwrap().join("\n"));
        }
    }
}

/// Polls `cond` every 100 ms until it holds; fails with `what` after 30 s.
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Two series of `m` at the current time, so that the rules see them live.
fn live_data(dir: &Scratch) -> PathBuf {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis();
    let mut text = String::new();
    for back in 0..5u128 {
        let t = now - back * 15_000;
        text.push_str(&format!("m{{job=\"a\",instance=\"1\"}} 1 {t}\nm{{job=\"a\",instance=\"2\"}} 2 {t}\n"));
    }
    dir.write("data.prom", &text)
}

/// A fake Alertmanager: records the bodies posted to `/api/v2/alerts`.
fn fake_alertmanager() -> (String, Arc<Mutex<Vec<Value>>>) {
    let server = tiny_http::Server::http("127.0.0.1:0").unwrap();
    let addr = server.server_addr().to_ip().unwrap().to_string();
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&got);
    std::thread::spawn(move || {
        for mut req in server.incoming_requests() {
            let mut body = String::new();
            let _ = req.as_reader().read_to_string(&mut body);
            if req.url() == "/api/v2/alerts"
                && let Ok(v) = serde_json::from_str(&body)
            {
                sink.lock().unwrap().push(v);
            }
            let _ = req.respond(tiny_http::Response::empty(200));
        }
    });
    (format!("http://{addr}"), got)
}

fn rule<'a>(rules: &'a Value, group: &str, name: &str) -> &'a Value {
    let groups = rules["data"]["groups"].as_array().unwrap();
    let g = groups.iter().find(|g| g["name"] == group).unwrap();
    g["rules"].as_array().unwrap().iter().find(|r| r["name"] == name).unwrap()
}

#[test]
fn serves_evaluates_notifies_and_stops_on_sigterm() {
    let dir = Scratch::new("serve");
    let rules = dir.write("rules.yml", RULES);
    let data = live_data(&dir);
    let (am, posted) = fake_alertmanager();
    let run = Running::start(&[
        "--rules",
        rules.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--evaluation-interval",
        "1s",
        "--alertmanager",
        &am,
        "--alertmanager",
        "http://127.0.0.1:9", // nothing listens on the discard port: logged, never fatal
        "--external-label",
        "cluster=test",
        "--external-url",
        "http://ferroprom.example:9099/",
    ]);

    assert_eq!(run.get("/-/ready"), (200, "ferroprom is Ready.\n".to_string()));
    assert_eq!(run.get("/-/healthy").0, 200);
    assert_eq!(run.get("/nope").0, 404);

    // Two evaluations, so that every rule has run and the failing one has failed twice.
    eventually("two evaluations", || {
        let v = run.json("/api/v1/rules");
        rule(&v, "story", "WebhookAlert")["lastEvaluation"] != "0001-01-01T00:00:00Z"
            && run.get("/metrics").1.contains("prometheus_rule_evaluation_failures_total{rule_group=\"")
            && run.get("/metrics").1.lines().any(|l| {
                l.starts_with("prometheus_rule_group_iterations_total")
                    && !l.ends_with(" 0")
                    && !l.ends_with(" 1")
            })
    });
    let v = run.json("/api/v1/rules");
    assert_eq!(v["status"], "success");
    let groups = v["data"]["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0]["file"], rules.to_str().unwrap());
    assert_eq!(groups[0]["interval"], 1);
    let sum = rule(&v, "story", "job:m:sum");
    assert_eq!((&sum["type"], &sum["health"]), (&Value::from("recording"), &Value::from("ok")));
    assert_eq!(sum["query"], "sum by (job) (m)");
    let clash = rule(&v, "story", "clash");
    assert_eq!(clash["health"], "err");
    assert_eq!(
        clash["lastError"],
        "vector contains metrics with the same labelset after applying rule labels"
    );
    let alert = rule(&v, "story", "WebhookAlert");
    assert_eq!((&alert["type"], &alert["state"]), (&Value::from("alerting"), &Value::from("firing")));
    let alerts = alert["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        alerts[0]["labels"],
        serde_json::json!({"alertname": "WebhookAlert", "job": "interop", "severity": "page"})
    );
    assert_eq!(alerts[0]["annotations"]["summary"], "value is 1");
    let broken = alerts[0]["annotations"]["broken"].as_str().unwrap();
    assert!(broken.starts_with("<error expanding template:"), "{broken}");
    assert_eq!(alerts[0]["value"], "1e+00");

    // Filters: only recording rules, alerts left out, unknown type refused.
    let recording = run.json("/api/v1/rules?type=record");
    let names: Vec<&Value> =
        recording["data"]["groups"][0]["rules"].as_array().unwrap().iter().map(|r| &r["name"]).collect();
    assert_eq!(names, ["job:m:sum", "clash"]);
    let excluded = run.json("/api/v1/rules?exclude_alerts=true&rule_name[]=WebhookAlert");
    assert_eq!(excluded["data"]["groups"][0]["rules"][0]["alerts"], Value::Null);
    let (status, body) = run.get("/api/v1/rules?type=bogus");
    assert_eq!(status, 400);
    assert_eq!(
        body,
        r#"{"status":"error","errorType":"bad_data","error":"invalid parameter \"type\": not supported value \"bogus\""}"#
    );

    let alerts = run.json("/api/v1/alerts");
    assert_eq!(alerts["status"], "success");
    assert_eq!(alerts["data"]["alerts"][0]["labels"]["alertname"], "WebhookAlert");
    assert_eq!(alerts["data"]["alerts"][0]["state"], "firing");

    let (status, metrics) = run.get("/metrics");
    assert_eq!(status, 200);
    let key = format!("{};story", rules.display());
    for line in [
        format!("prometheus_rule_group_rules{{rule_group=\"{key}\"}} 3"),
        format!("prometheus_rule_group_interval_seconds{{rule_group=\"{key}\"}} 1"),
        "prometheus_notifications_alertmanagers_discovered 2".to_string(),
        "# TYPE prometheus_rule_evaluations_total counter".to_string(),
    ] {
        assert!(metrics.lines().any(|l| l == line), "missing {line:?} in\n{metrics}");
    }
    assert!(
        metrics
            .contains(&format!("prometheus_notifications_sent_total{{alertmanager=\"{am}/api/v2/alerts\"}}"))
    );

    // The reachable Alertmanager got the alert with the external label and generator URL.
    eventually("the alert at the fake Alertmanager", || !posted.lock().unwrap().is_empty());
    let first = posted.lock().unwrap()[0].clone();
    let a = first
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["labels"]["alertname"] == "WebhookAlert")
        .unwrap()
        .clone();
    assert_eq!(
        a["labels"],
        serde_json::json!({"alertname": "WebhookAlert", "job": "interop", "severity": "page", "cluster": "test"})
    );
    assert_eq!(a["generatorURL"], "http://ferroprom.example:9099/graph?g0.expr=vector%281%29&g0.tab=1");

    // Failures were logged while evaluation went on.
    eventually("log lines for the failures", || {
        run.logged(r#"msg="Evaluating rule failed""#)
            && run.logged(r#"msg="Expanding alert template failed""#)
            && run.logged(
                r#"msg="Error sending alerts, dropped" alertmanager="http://127.0.0.1:9/api/v2/alerts""#,
            )
    });

    // SIGHUP reloads the rule file: a broken one is logged and the running rules stay; a good one
    // replaces them, keeping the alert's state.
    let active_at = run.json("/api/v1/alerts")["data"]["alerts"][0]["activeAt"].clone();
    std::fs::write(&rules, "groups:\n- name: story\n  rules:\n  - record: r\n    expr: sum(\n").unwrap();
    run.signal("-HUP");
    eventually("the failed reload logged", || {
        run.logged(r#"msg="Reloading rules failed; keeping the running ones""#)
    });
    let count = |v: &Value| v["data"]["groups"][0]["rules"].as_array().map_or(0, Vec::len);
    assert_eq!(count(&run.json("/api/v1/rules")), 3);
    std::fs::write(
        &rules,
        RULES.replace("  - record: clash\n    expr: m\n    labels:\n      instance: same\n", ""),
    )
    .unwrap();
    run.signal("-HUP");
    eventually("the reloaded rules", || count(&run.json("/api/v1/rules")) == 2);
    let alerts = run.json("/api/v1/alerts");
    assert_eq!(alerts["data"]["alerts"][0]["activeAt"], active_at, "{alerts}");

    let (status, log) = run.terminate();
    assert!(status.success(), "exit status {status:?}\n{log}");
    assert!(log.contains(r#"msg="Received shutdown signal, stopping" signal="SIGTERM""#), "{log}");
    assert!(log.contains("See you next time!"), "{log}");
}

#[test]
fn bad_rule_file_fails_at_start() {
    let dir = Scratch::new("bad");
    let rules = dir.write("bad.yml", "groups:\n- name: g\n  rules:\n  - record: r\n    expr: sum(\n");
    let out = Command::new(env!("CARGO_BIN_EXE_ferroprom"))
        .args(["run", "--rules"])
        .arg(&rules)
        .args(["--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("{}: 5:11: group \"g\", rule 1, \"r\"", rules.display())), "{stderr}");
    assert!(stderr.contains("error: the rule files could not be loaded"), "{stderr}");
}

#[test]
fn replay_prints_recorded_series_and_alerts() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO_BIN_EXE_ferroprom"))
        .current_dir(root)
        .args(["run", "--rules", "example/story/prometheusrule.yaml"])
        .args(["--rule-selector", "role=alert-rules,prometheus=main"])
        .args(["--data", "example/node-exporter.data", "--replay-until", "1h"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    for line in [
        "Evaluated 2 rule group(s) from 1970-01-01T00:00:00Z to 1970-01-01T01:00:00Z.",
        "  cluster:node_memory_available:sum{cluster=\"eu1\"} 16676552704 @ 1970-01-01T01:00:00Z",
        "  1970-01-01T00:00:00Z firing {alertname=\"WebhookAlert\", job=\"interop\", severity=\"page\"} summary=\"value is 1\"",
    ] {
        assert!(stdout.lines().any(|l| l == line), "missing {line:?} in\n{stdout}");
    }
}
