//! The HTTP endpoints of `ferroprom run`: Prometheus's `/api/v1/rules` and `/api/v1/alerts` (in its
//! `{"status":"success","data":…}` envelope), `/metrics`, `/-/ready` and `/-/healthy`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use ferroprom::notifier::Notifier;
use ferroprom::remote::RemoteWriter;
use ferroprom::rules::api::{RuleType, RulesFilter, alerts_json, metrics_text, rules_json_filtered};
use ferroprom::rules::manager::Manager;
use tiny_http::{Header, Method, Request, Response, Server};

/// What the endpoints read.
pub(super) struct Served {
    manager: Arc<Manager>,
    notifier: Option<Arc<Notifier>>,
    queue_capacity: usize,
    writer: Option<Arc<RemoteWriter>>,
    /// Set when shutdown starts: `/-/ready` answers 503 from then on.
    pub(super) stopping: AtomicBool,
}

impl Served {
    pub(super) fn new(
        manager: Arc<Manager>,
        notifier: Option<Arc<Notifier>>,
        queue_capacity: usize,
        writer: Option<Arc<RemoteWriter>>,
    ) -> Served {
        Served { manager, notifier, queue_capacity, writer, stopping: AtomicBool::new(false) }
    }
}

/// Answers requests until the server is unblocked.
pub(super) fn serve(server: &Server, state: &Served) {
    for request in server.incoming_requests() {
        respond(request, state);
    }
}

/// A response before it is written: status, content type, extra headers and body.
struct Reply {
    status: u16,
    content_type: &'static str,
    headers: Vec<(&'static str, &'static str)>,
    body: String,
}

const TEXT: &str = "text/plain; charset=utf-8";
const JSON: &str = "application/json";

impl Reply {
    fn text(status: u16, body: impl Into<String>) -> Reply {
        Reply { status, content_type: TEXT, headers: Vec::new(), body: body.into() }
    }

    fn json_data(data: &str) -> Reply {
        Reply {
            status: 200,
            content_type: JSON,
            headers: Vec::new(),
            body: format!(r#"{{"status":"success","data":{data}}}"#),
        }
    }

    /// Prometheus's error envelope with `errorType` `bad_data` (HTTP 400).
    fn bad_data(message: &str) -> Reply {
        let message = serde_json::Value::from(message);
        let body = format!(r#"{{"status":"error","errorType":"bad_data","error":{message}}}"#);
        Reply { status: 400, content_type: JSON, headers: Vec::new(), body }
    }
}

fn respond(request: Request, state: &Served) {
    let head = *request.method() == Method::Head;
    let reply = if matches!(request.method(), Method::Get | Method::Head) {
        let (path, query) = request.url().split_once('?').unwrap_or((request.url(), ""));
        route(path, query, state)
    } else {
        Reply::text(405, "Method Not Allowed\n")
    };
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

fn route(path: &str, query: &str, state: &Served) -> Reply {
    match path {
        "/-/healthy" => Reply::text(200, "ferroprom is Healthy.\n"),
        "/-/ready" if state.stopping.load(Ordering::SeqCst) => Reply {
            headers: vec![("X-Prometheus-Stopping", "true")],
            ..Reply::text(503, "Service Unavailable")
        },
        "/-/ready" => Reply::text(200, "ferroprom is Ready.\n"),
        "/api/v1/rules" => match rules_filter(query) {
            Ok(filter) => {
                Reply::json_data(&state.manager.with_groups(|groups| rules_json_filtered(groups, &filter)))
            }
            Err(message) => Reply::bad_data(&message),
        },
        "/api/v1/alerts" => Reply::json_data(&state.manager.with_groups(alerts_json)),
        "/metrics" => {
            let mut body = state.manager.with_groups(metrics_text);
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

/// The query parameters of `/api/v1/rules`, with Prometheus's error texts.
fn rules_filter(query: &str) -> Result<RulesFilter, String> {
    let invalid = |param: &str, why: String| format!("invalid parameter {param:?}: {why}");
    let mut filter = RulesFilter::default();
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match &*key {
            "type" => {
                filter.kind = match value.to_lowercase().as_str() {
                    "" => None,
                    "alert" => Some(RuleType::Alerting),
                    "record" => Some(RuleType::Recording),
                    other => return Err(invalid("type", format!("not supported value {other:?}"))),
                }
            }
            "rule_name[]" => {
                filter.rule_names.insert(value.into_owned());
            }
            "rule_group[]" => {
                filter.rule_groups.insert(value.into_owned());
            }
            "file[]" => {
                filter.files.insert(value.into_owned());
            }
            "exclude_alerts" => {
                filter.exclude_alerts = match value.to_lowercase().as_str() {
                    "" | "0" | "f" | "false" => false,
                    "1" | "t" | "true" => true,
                    other => {
                        let why = format!(
                            "error converting exclude_alerts: strconv.ParseBool: parsing {other:?}: invalid syntax"
                        );
                        return Err(invalid("exclude_alerts", why));
                    }
                }
            }
            "match[]" | "group_limit" | "group_next_token" => {
                return Err(invalid(&key, "not supported by ferroprom".to_string()));
            }
            _ => {}
        }
    }
    Ok(filter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_filter_parameters() {
        let f = rules_filter("type=ALERT&rule_name[]=a%20b&rule_group[]=g&file[]=f.yml&exclude_alerts=true")
            .unwrap_or_default();
        assert_eq!(f.kind, Some(RuleType::Alerting));
        assert!(f.rule_names.contains("a b") && f.rule_groups.contains("g") && f.files.contains("f.yml"));
        assert!(f.exclude_alerts);
        assert_eq!(
            rules_filter("type=x").err().as_deref(),
            Some(r#"invalid parameter "type": not supported value "x""#)
        );
        assert!(rules_filter("match[]=up").is_err());
    }
}
