//! The HTTP server of `ferroprom serve` and `ferroprom run`: a tiny_http listener whose requests a
//! small pool of worker threads answers. Prometheus's `/api/v1/…` goes to the library's
//! [`ferroprom::http_api::Api`]; `/-/healthy`, `/-/ready` and `/metrics` are answered here.

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Instant;

use ferroprom::exec::CancelToken;
use ferroprom::http_api::{Api, Params, RequestContext};
use ferroprom::notifier::Notifier;
use ferroprom::remote::RemoteWriter;
use ferroprom::rules::api::metrics_text;
use ferroprom::rules::manager::Manager;
use tiny_http::{Header, Request, Response, Server};

/// The largest request body read (a form-encoded POST); longer bodies are cut here.
const MAX_BODY: u64 = 16 << 20;

/// What the endpoints read.
pub(super) struct Served {
    api: Api,
    manager: Option<Arc<Manager>>,
    notifier: Option<Arc<Notifier>>,
    queue_capacity: usize,
    writer: Option<Arc<RemoteWriter>>,
    log_requests: bool,
    /// Set when shutdown starts: `/-/ready` answers 503 from then on.
    stopping: AtomicBool,
    /// Cancels the queries still running when shutdown starts.
    cancel: CancelToken,
}

impl Served {
    /// Endpoints over `api`; `/metrics` reports `manager`'s and `notifier`'s counters.
    pub(super) fn new(api: Api, manager: Option<Arc<Manager>>, log_requests: bool) -> Served {
        Served {
            api,
            manager,
            notifier: None,
            queue_capacity: 0,
            writer: None,
            log_requests,
            stopping: AtomicBool::new(false),
            cancel: CancelToken::new(),
        }
    }

    /// Also reports the notifier's counters at `/metrics`.
    pub(super) fn with_notifier(mut self, notifier: Option<Arc<Notifier>>, queue_capacity: usize) -> Served {
        self.notifier = notifier;
        self.queue_capacity = queue_capacity;
        self
    }

    /// Also reports the remote-write queue's counters at `/metrics`.
    pub(super) fn with_writer(mut self, writer: Option<Arc<RemoteWriter>>) -> Served {
        self.writer = writer;
        self
    }

    /// Starts shutdown: `/-/ready` answers 503 and running queries are canceled.
    pub(super) fn stop(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.cancel.cancel();
    }
}

/// A server listening on `addr` (`host:port`). Its socket has `TCP_NODELAY` (accepted connections
/// inherit it), as Go's servers do: without it a response written in several pieces waits for the
/// client's delayed acknowledgement (about 40 ms on Linux).
pub(super) fn listen(addr: &str) -> Result<Server, String> {
    use std::net::ToSocketAddrs;
    let fail = |e: &dyn std::fmt::Display| format!("cannot listen on {addr}: {e}");
    let sockaddr = addr.to_socket_addrs().map_err(|e| fail(&e))?.next().ok_or_else(|| fail(&"no address"))?;
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(sockaddr),
        socket2::Type::STREAM,
        Some(socket2::Protocol::TCP),
    )
    .map_err(|e| fail(&e))?;
    socket.set_reuse_address(true).map_err(|e| fail(&e))?;
    socket.set_tcp_nodelay(true).map_err(|e| fail(&e))?;
    socket.bind(&sockaddr.into()).map_err(|e| fail(&e))?;
    socket.listen(1024).map_err(|e| fail(&e))?;
    let listener: std::net::TcpListener = socket.into();
    Server::from_listener(listener, None).map_err(|e| fail(&e))
}

/// Answers requests on `workers` threads until [`shutdown`].
pub(super) fn start(server: &Arc<Server>, state: &Arc<Served>, workers: usize) -> Vec<JoinHandle<()>> {
    (0..workers.max(1))
        .filter_map(|i| {
            let (server, state) = (Arc::clone(server), Arc::clone(state));
            std::thread::Builder::new()
                .name(format!("http-{i}"))
                .stack_size(16 << 20)
                .spawn(move || {
                    loop {
                        match server.recv() {
                            Ok(request) => respond(request, &state),
                            Err(_) if state.stopping.load(Ordering::SeqCst) => return,
                            Err(_) => {}
                        }
                    }
                })
                .ok()
        })
        .collect()
}

/// Stops the workers [`start`] started (call [`Served::stop`] first) and waits for them.
pub(super) fn shutdown(server: &Server, workers: Vec<JoinHandle<()>>) {
    for _ in &workers {
        server.unblock();
    }
    for w in workers {
        let _ = w.join();
    }
}

/// A response before it is written.
struct Reply {
    status: u16,
    content_type: &'static str,
    headers: Vec<(&'static str, &'static str)>,
    body: String,
}

const TEXT: &str = "text/plain; charset=utf-8";

impl Reply {
    fn text(status: u16, body: impl Into<String>) -> Reply {
        Reply { status, content_type: TEXT, headers: Vec::new(), body: body.into() }
    }
}

fn header<'a>(request: &'a Request, name: &'static str) -> Option<&'a str> {
    request.headers().iter().find(|h| h.field.equiv(name)).map(|h| h.value.as_str())
}

fn respond(mut request: Request, state: &Served) {
    let received = Instant::now();
    let method = request.method().as_str().to_string();
    let url = request.url().to_string();
    let (path, query) = url.split_once('?').unwrap_or((&url, ""));
    let mut body = Vec::new();
    let form = header(&request, "Content-Type")
        .is_some_and(|t| t.trim_start().starts_with("application/x-www-form-urlencoded"));
    if method == "POST" && form {
        // A body that cannot be read leaves the form empty; the handler then reports the
        // missing parameters.
        let _ = request.as_reader().take(MAX_BODY).read_to_end(&mut body);
    }
    let params = Params::from_query_and_body(query, &body);
    let head = method == "HEAD";
    let reply = route(&method, path, &params, state, received);
    if state.log_requests {
        let status = reply.status.to_string();
        let duration = format!("{:?}", received.elapsed());
        super::log(
            "info",
            "HTTP request",
            &[("method", &method), ("path", path), ("status", &status), ("duration", &duration)],
        );
    }
    let mut response =
        Response::from_string(if head { String::new() } else { reply.body }).with_status_code(reply.status);
    let headers = std::iter::once(("Content-Type", reply.content_type)).chain(reply.headers);
    for (name, value) in headers {
        if let Ok(h) = Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            response.add_header(h);
        }
    }
    // A client that hung up is nothing to report.
    let _ = request.respond(response);
}

fn route(method: &str, path: &str, params: &Params, state: &Served, received: Instant) -> Reply {
    let mut ctx = RequestContext::now();
    ctx.received = received;
    ctx.cancel = state.cancel.clone();
    if let Some(r) = state.api.handle(method, path, params, &ctx) {
        return Reply { status: r.status, content_type: r.content_type, headers: Vec::new(), body: r.body };
    }
    if !matches!(method, "GET" | "HEAD") {
        return Reply::text(405, "Method Not Allowed\n");
    }
    match path {
        "/-/healthy" => Reply::text(200, "ferroprom is Healthy.\n"),
        "/-/ready" if state.stopping.load(Ordering::SeqCst) => Reply {
            headers: vec![("X-Prometheus-Stopping", "true")],
            ..Reply::text(503, "Service Unavailable")
        },
        "/-/ready" => Reply::text(200, "ferroprom is Ready.\n"),
        "/metrics" => {
            let mut body = state.manager.as_ref().map(|m| m.with_groups(metrics_text)).unwrap_or_default();
            if let Some(n) = &state.notifier {
                body.push_str(&ferroprom::notifier::metrics_text(&n.stats(), state.queue_capacity));
            }
            if let Some(w) = &state.writer {
                body.push_str(&ferroprom::remote::write::metrics_text(&[w.stats()], w.capacity()));
            }
            Reply { content_type: "text/plain; version=0.0.4; charset=utf-8", ..Reply::text(200, body) }
        }
        _ => Reply::text(404, "404 page not found\n"),
    }
}
