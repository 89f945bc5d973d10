//! The JSON bodies of Prometheus's query API.

use std::fmt::Write;

use crate::engine::{QueryError, QueryResult};
use crate::model::{Labels, Value, format_api_float, format_api_timestamp};

/// A value the JSON encoding does not support yet.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported: {0}")]
pub struct UnsupportedValue(pub &'static str);

/// The success body for a query result:
/// `{"status":"success","data":{"resultType":…,"result":…}}`, plus `warnings`/`infos` when present.
///
/// # Errors
///
/// Native histogram samples, whose JSON form is not written yet.
///
/// # Example
///
/// ```
/// use ferroprom::engine::QueryResult;
/// use ferroprom::model::Value;
/// let r = QueryResult { value: Value::Scalar { t: 1500, v: 2.5 }, warnings: vec![], infos: vec![] };
/// assert_eq!(
///     ferroprom::api::query_json(&r)?,
///     r#"{"status":"success","data":{"resultType":"scalar","result":[1.5,"2.5"]}}"#
/// );
/// # Ok::<(), ferroprom::api::UnsupportedValue>(())
/// ```
pub fn query_json(result: &QueryResult) -> Result<String, UnsupportedValue> {
    let mut out = String::with_capacity(256);
    out.push_str(r#"{"status":"success","data":{"resultType":""#);
    out.push_str(result.value.type_name());
    out.push_str(r#"","result":"#);
    match &result.value {
        Value::Scalar { t, v } => point(&mut out, *t, *v),
        Value::String { t, v } => {
            out.push('[');
            out.push_str(&format_api_timestamp(*t));
            out.push(',');
            string(&mut out, v);
            out.push(']');
        }
        Value::Vector(samples) => {
            out.push('[');
            for (i, s) in samples.iter().enumerate() {
                if s.h.is_some() {
                    return Err(UnsupportedValue("JSON encoding of native histogram samples"));
                }
                if i > 0 {
                    out.push(',');
                }
                out.push_str(r#"{"metric":"#);
                metric(&mut out, &s.labels);
                out.push_str(r#","value":"#);
                point(&mut out, s.t, s.f);
                out.push('}');
            }
            out.push(']');
        }
        Value::Matrix(series) => {
            out.push('[');
            for (i, s) in series.iter().enumerate() {
                if !s.histograms.is_empty() {
                    return Err(UnsupportedValue("JSON encoding of native histogram samples"));
                }
                if i > 0 {
                    out.push(',');
                }
                out.push_str(r#"{"metric":"#);
                metric(&mut out, &s.labels);
                out.push_str(r#","values":["#);
                for (j, p) in s.floats.iter().enumerate() {
                    if j > 0 {
                        out.push(',');
                    }
                    point(&mut out, p.t, p.f);
                }
                out.push_str("]}");
            }
            out.push(']');
        }
    }
    out.push('}');
    annotations(&mut out, "warnings", &result.warnings);
    annotations(&mut out, "infos", &result.infos);
    out.push('}');
    Ok(out)
}

/// The error body: `{"status":"error","errorType":…,"error":…}`.
///
/// ```
/// let err = ferroprom::engine::QueryError::Invalid("bad".into());
/// assert_eq!(ferroprom::api::error_json(&err), r#"{"status":"error","errorType":"bad_data","error":"bad"}"#);
/// ```
pub fn error_json(err: &QueryError) -> String {
    let mut out = String::from(r#"{"status":"error","errorType":""#);
    out.push_str(err.error_type());
    out.push_str(r#"","error":"#);
    string(&mut out, &err.to_string());
    out.push('}');
    out
}

fn point(out: &mut String, t: i64, v: f64) {
    out.push('[');
    out.push_str(&format_api_timestamp(t));
    out.push_str(",\"");
    out.push_str(&format_api_float(v));
    out.push_str("\"]");
}

fn metric(out: &mut String, labels: &Labels) {
    out.push('{');
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        string(out, &l.name);
        out.push(':');
        string(out, &l.value);
    }
    out.push('}');
}

fn annotations(out: &mut String, key: &str, texts: &[String]) {
    if texts.is_empty() {
        return;
    }
    let _ = write!(out, r#","{key}":["#);
    for (i, t) in texts.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        string(out, t);
    }
    out.push(']');
}

/// A JSON string literal, escaped as Go's encoder escapes it (`<`, `>` and `&` as `\u00XX`).
fn string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}
