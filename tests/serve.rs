//! `ferroprom serve` as a process: requests from `testdata/serve/cases.txt` against a server on a free
//! loopback port, over `testdata/serve/data.load` with the rules of `testdata/serve/rules.yml`.
//!
//! A case is a block of lines separated by a blank line:
//!
//! ```text
//! # comment
//! GET /api/v1/query?query=up&time=100
//! [body: form-encoded POST body]
//! 200
//! {"status":"success",...}
//! ```
//!
//! The expected body is matched exactly, except that `<n>` stands for any JSON number and `<s>`
//! for any string content (timings and evaluation times).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A case: the request and the expected answer.
struct Case {
    line: usize,
    method: String,
    target: String,
    body: Option<String>,
    status: u16,
    expected: String,
}

fn cases() -> Vec<Case> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/serve/cases.txt");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut out = Vec::new();
    let mut block: Vec<(usize, &str)> = Vec::new();
    for (i, line) in text.lines().chain(std::iter::once("")).enumerate() {
        if !line.trim().is_empty() {
            if !line.starts_with('#') {
                block.push((i + 1, line));
            }
            continue;
        }
        if block.is_empty() {
            continue;
        }
        let (line_no, request) = block[0];
        let (method, target) = request.split_once(' ').unwrap_or_else(|| panic!("line {line_no}: request"));
        let mut rest = &block[1..];
        let body = rest.first().and_then(|(_, l)| l.strip_prefix("body: ")).map(String::from);
        if body.is_some() {
            rest = &rest[1..];
        }
        let status = rest[0].1.parse().unwrap_or_else(|_| panic!("line {line_no}: status"));
        let expected = rest[1..].iter().map(|(_, l)| *l).collect::<Vec<_>>().join("\n");
        out.push(Case {
            line: line_no,
            method: method.into(),
            target: target.into(),
            body,
            status,
            expected,
        });
        block.clear();
    }
    out
}

/// The running server; killed on drop.
struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start() -> Server {
    // Relative paths: `/api/v1/rules` reports the rule file as given.
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferroprom"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["serve", "--data", "testdata/serve/data.load", "--rules", "testdata/serve/rules.yml"])
        .args(["--listen", "127.0.0.1:0", "--query.max-samples", "500", "--workers", "2"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some((_, rest)) = line.split_once("msg=\"Listening on\" address=\"") {
                let _ = tx.send(rest.trim_end_matches('"').to_string());
            }
        }
    });
    let addr = rx.recv_timeout(Duration::from_secs(30)).expect("the server did not start");
    Server { child, base: format!("http://{addr}") }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder().http_status_as_error(false).build().into()
}

/// Sends `method target` with an optional form body; the status and body.
fn request(agent: &ureq::Agent, base: &str, method: &str, target: &str, body: Option<&str>) -> (u16, String) {
    let url = format!("{base}{target}");
    let response = match (method, body) {
        ("GET", _) => agent.get(&url).call(),
        ("POST", Some(b)) => {
            agent.post(&url).header("Content-Type", "application/x-www-form-urlencoded").send(b.as_bytes())
        }
        ("POST", None) => agent.post(&url).send_empty(),
        ("PUT", _) => agent.put(&url).send_empty(),
        ("OPTIONS", _) => agent.options(&url).call(),
        (m, _) => panic!("unsupported method {m}"),
    };
    let mut response = response.unwrap();
    let status = response.status().as_u16();
    (status, response.body_mut().read_to_string().unwrap_or_default())
}

/// Whether `got` is `expected` with `<n>` and `<s>` filled in.
fn matches(expected: &str, got: &str) -> bool {
    let mut pattern = String::from("^");
    let mut rest = expected;
    while let Some(i) = rest.find('<') {
        let (lit, tail) = rest.split_at(i);
        pattern.push_str(&regex::escape(lit));
        if let Some(t) = tail.strip_prefix("<n>") {
            pattern.push_str(r"-?[0-9][0-9.e+\-]*");
            rest = t;
        } else if let Some(t) = tail.strip_prefix("<s>") {
            pattern.push_str(r#"[^"]*"#);
            rest = t;
        } else {
            pattern.push('<');
            rest = &tail[1..];
        }
    }
    pattern.push_str(&regex::escape(rest));
    pattern.push('$');
    regex::Regex::new(&pattern).unwrap().is_match(got)
}

fn check(agent: &ureq::Agent, base: &str, case: &Case) -> Option<String> {
    let (status, body) = request(agent, base, &case.method, &case.target, case.body.as_deref());
    if status == case.status && matches(&case.expected, body.trim_end()) {
        return None;
    }
    Some(format!(
        "line {}: {} {}\n  expected {} {}\n  got      {} {}",
        case.line,
        case.method,
        case.target,
        case.status,
        case.expected,
        status,
        body.trim_end()
    ))
}

#[test]
fn serve_answers_as_prometheus() {
    let server = start();
    let agent = agent();
    // The rule group runs every second: wait until its first results are in the store.
    let deadline = Instant::now() + Duration::from_secs(30);
    let both = "/api/v1/query?query=count(ALERTS)%20%2B%20count(serve%3Aone)";
    loop {
        let (_, answer) = request(&agent, &server.base, "GET", both, None);
        if answer.contains("\"value\"") {
            break;
        }
        assert!(Instant::now() < deadline, "the rules never evaluated: {answer}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let cases = cases();
    assert!(cases.len() > 40, "only {} cases", cases.len());
    let failures: Vec<String> = cases.iter().filter_map(|c| check(&agent, &server.base, c)).collect();
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
