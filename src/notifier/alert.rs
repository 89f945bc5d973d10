//! The alert as it is sent to Alertmanager, and its API v2 JSON form.

use std::collections::BTreeMap;

use serde::Serialize;

/// One alert to deliver: what Prometheus's notifier sends to `POST /api/v2/alerts`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Alert {
    /// Alert labels, `alertname` included.
    pub labels: BTreeMap<String, String>,
    /// Expanded annotations.
    pub annotations: BTreeMap<String, String>,
    /// When the alert started firing (Unix milliseconds).
    pub starts_at: i64,
    /// When the alert is resolved (Unix milliseconds): the resolution time for a resolved alert, or
    /// the time until which a firing alert stays valid without being re-sent.
    pub ends_at: i64,
    /// Link back to the expression that produced the alert.
    pub generator_url: String,
}

impl Alert {
    /// The alert name (`alertname` label), or `""`.
    pub fn name(&self) -> &str {
        self.labels.get("alertname").map_or("", String::as_str)
    }

    /// Whether the alert is resolved at `now_ms` (its `ends_at` is not after `now_ms`).
    pub fn resolved_at(&self, now_ms: i64) -> bool {
        self.ends_at != 0 && self.ends_at <= now_ms
    }
}

#[derive(Serialize)]
struct PostableAlert<'a> {
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: &'a BTreeMap<String, String>,
    #[serde(rename = "endsAt")]
    ends_at: String,
    #[serde(rename = "startsAt")]
    starts_at: String,
    #[serde(rename = "generatorURL")]
    generator_url: &'a str,
    labels: &'a BTreeMap<String, String>,
}

/// The JSON body of `POST /api/v2/alerts` for `alerts`, with the keys and time format Prometheus
/// uses (`annotations` (omitted when empty), `endsAt`, `startsAt`, `generatorURL`, `labels`;
/// times as `2006-01-02T15:04:05.000Z`).
pub fn alerts_to_json(alerts: &[Alert]) -> String {
    let postable: Vec<PostableAlert<'_>> = alerts
        .iter()
        .map(|a| PostableAlert {
            annotations: &a.annotations,
            ends_at: rfc3339_millis(a.ends_at),
            starts_at: rfc3339_millis(a.starts_at),
            generator_url: &a.generator_url,
            labels: &a.labels,
        })
        .collect();
    serde_json::to_string(&postable).unwrap_or_else(|_| "[]".to_string())
}

/// A Unix millisecond timestamp as RFC 3339 with milliseconds in UTC (`2026-08-22T10:04:00.000Z`).
pub fn rfc3339_millis(ms: i64) -> String {
    let ((y, mo, d), (h, mi, s), frac) = crate::rules::expansion::split_ms(ms);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{frac:03}Z")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_shape() {
        let mut a = Alert { starts_at: 1_755_856_800_000, ends_at: 1_755_857_040_000, ..Alert::default() };
        a.labels.insert("alertname".into(), "X".into());
        a.generator_url = "http://p/graph".into();
        assert_eq!(
            alerts_to_json(&[a.clone()]),
            r#"[{"endsAt":"2025-08-22T10:04:00.000Z","startsAt":"2025-08-22T10:00:00.000Z","generatorURL":"http://p/graph","labels":{"alertname":"X"}}]"#
        );
        a.annotations.insert("summary".into(), "s".into());
        assert!(alerts_to_json(&[a]).starts_with(r#"[{"annotations":{"summary":"s"},"endsAt""#));
        assert_eq!(rfc3339_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339_millis(-1), "1969-12-31T23:59:59.999Z");
    }
}
