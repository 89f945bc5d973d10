//! Query results as Prometheus's HTTP API writes them (`/api/v1/query`, `/api/v1/query_range`):
//! the exact JSON body, byte for byte, for results and errors.
//!
//! ```
//! use ferroprom::api::{error_body, success_body};
//! use ferroprom::model::{Labels, Sample, Value};
//!
//! let v = Value::Vector(vec![Sample { labels: Labels::from_pairs([("job", "a<b")]), t: 1500, f: 2.0, h: None }]);
//! assert_eq!(
//!     success_body(&v, &[], &[]),
//!     r#"{"status":"success","data":{"resultType":"vector","result":[{"metric":{"job":"a\u003cb"},"value":[1.500,"2"]}]}}"#
//! );
//! assert_eq!(
//!     error_body("bad_data", "parse error", &[]),
//!     r#"{"status":"error","errorType":"bad_data","error":"parse error"}"#
//! );
//! ```
//!
//! Numbers follow Prometheus's `jsonutil`: timestamps as seconds with the millisecond fraction
//! (`1.500`), values as strings in Go's shortest form (exponent outside `[1e-6, 1e21)`). Scalars and
//! strings are written by their own `MarshalJSON` upstream: the timestamp as a Go float (`1.5`), a
//! scalar's value without exponent (`0.0000001`). Strings are
//! escaped as Go's JSON encoder does with HTML escaping (`<`, `>`, `&`, U+2028, U+2029 as `\uXXXX`).
//! Native histograms are written as `{"count","sum","buckets":[[boundaries,lower,upper,count],...]}`
//! with empty buckets left out. Bucket bounds of custom-bucket histograms and of exponential schemas
//! ≤ 0 are exact; for schemas > 0 they are computed here and may differ from Prometheus's table in
//! the last digit.

use std::fmt::Write as _;

use crate::model::{
    FloatHistogram, Labels, Value, exponential_bound, format_api_float, format_api_timestamp,
};

/// A JSON string literal, escaped as Go's `encoding/json` (HTML-safe) does.
fn json_string(out: &mut String, s: &str) {
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

/// Writes `items` between `open` and `close`, separated by commas, each as `item` writes it.
fn json_list<T>(
    out: &mut String,
    (open, close): (char, char),
    items: impl IntoIterator<Item = T>,
    mut item: impl FnMut(&mut String, T),
) {
    out.push(open);
    for (i, x) in items.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        item(out, x);
    }
    out.push(close);
}

fn labels_json(out: &mut String, labels: &Labels) {
    json_list(out, ('{', '}'), labels.iter(), |out, l| {
        json_string(out, &l.name);
        out.push(':');
        json_string(out, &l.value);
    });
}

fn float_json(out: &mut String, v: f64) {
    out.push('"');
    out.push_str(&format_api_float(v));
    out.push('"');
}

/// One bucket of the API's histogram form: boundary rule, lower, upper, count.
struct Bucket {
    rule: u8,
    lower: f64,
    upper: f64,
    count: f64,
}

/// Every bucket in ascending order of bounds: negative, zero, positive.
fn buckets(h: &FloatHistogram) -> Vec<Bucket> {
    let mut out = Vec::new();
    let indexed = |spans: &[crate::model::BucketSpan], counts: &[f64]| {
        let mut v = Vec::new();
        let mut idx: i32 = 0;
        let mut it = counts.iter();
        for s in spans {
            idx = idx.saturating_add(s.offset);
            for _ in 0..s.length {
                if let Some(&c) = it.next() {
                    v.push((idx, c));
                }
                idx = idx.saturating_add(1);
            }
        }
        v
    };
    if h.uses_custom_buckets() {
        for (idx, c) in indexed(&h.positive_spans, &h.positive_buckets) {
            let i = usize::try_from(idx).unwrap_or(usize::MAX);
            let lower = if i == 0 {
                f64::NEG_INFINITY
            } else {
                h.custom_values.get(i - 1).copied().unwrap_or(f64::INFINITY)
            };
            let upper = h.custom_values.get(i).copied().unwrap_or(f64::INFINITY);
            out.push(Bucket { rule: 0, lower, upper, count: c });
        }
        return out;
    }
    let zt = h.zero_threshold;
    for (idx, c) in indexed(&h.negative_spans, &h.negative_buckets).into_iter().rev() {
        let mut upper = -exponential_bound(i64::from(idx) - 1, h.schema);
        if upper < 0.0 && upper > -zt {
            upper = -zt;
        }
        out.push(Bucket { rule: 1, lower: -exponential_bound(i64::from(idx), h.schema), upper, count: c });
    }
    if h.zero_count > 0.0 {
        out.push(Bucket { rule: 3, lower: -zt, upper: zt, count: h.zero_count });
    }
    for (idx, c) in indexed(&h.positive_spans, &h.positive_buckets) {
        let mut lower = exponential_bound(i64::from(idx) - 1, h.schema);
        if lower > 0.0 && lower < zt {
            lower = zt;
        }
        out.push(Bucket { rule: 0, lower, upper: exponential_bound(i64::from(idx), h.schema), count: c });
    }
    out
}

fn histogram_json(out: &mut String, h: &FloatHistogram) {
    out.push_str("{\"count\":");
    float_json(out, h.count);
    out.push_str(",\"sum\":");
    float_json(out, h.sum);
    let bs: Vec<Bucket> = buckets(h).into_iter().filter(|b| b.count != 0.0).collect();
    if !bs.is_empty() {
        out.push_str(",\"buckets\":");
        json_list(out, ('[', ']'), &bs, |out, b| {
            let _ = write!(out, "[{},", b.rule);
            float_json(out, b.lower);
            out.push(',');
            float_json(out, b.upper);
            out.push(',');
            float_json(out, b.count);
            out.push(']');
        });
    }
    out.push('}');
}

fn point_json(out: &mut String, t: i64, f: Option<f64>, h: Option<&FloatHistogram>) {
    out.push('[');
    out.push_str(&format_api_timestamp(t));
    out.push(',');
    match h {
        Some(h) => histogram_json(out, h),
        None => float_json(out, f.unwrap_or(0.0)),
    }
    out.push(']');
}

/// A scalar's or string's timestamp: Go's `encoding/json` form of `float64(t)/1000` (`1.5`, `60`),
/// as Prometheus's `Scalar`/`String` `MarshalJSON` writes it (vectors and matrices use `1.500`).
fn go_seconds(t: i64) -> String {
    format!("{}", t as f64 / 1000.0)
}

fn result_json(out: &mut String, v: &Value) {
    match v {
        Value::Scalar { t, v } => {
            // `strconv.FormatFloat(v, 'f', -1, 64)`: never an exponent.
            let value = if v.is_nan() {
                "NaN".to_string()
            } else if v.is_infinite() {
                if *v > 0.0 { "+Inf".to_string() } else { "-Inf".to_string() }
            } else {
                format!("{v}")
            };
            let _ = write!(out, "[{},\"{value}\"]", go_seconds(*t));
        }
        Value::String { t, v } => {
            out.push('[');
            out.push_str(&go_seconds(*t));
            out.push(',');
            json_string(out, v);
            out.push(']');
        }
        Value::Vector(samples) => json_list(out, ('[', ']'), samples, |out, s| {
            out.push_str("{\"metric\":");
            labels_json(out, &s.labels);
            match &s.h {
                Some(h) => {
                    out.push_str(",\"histogram\":");
                    point_json(out, s.t, None, Some(h));
                }
                None => {
                    out.push_str(",\"value\":");
                    point_json(out, s.t, Some(s.f), None);
                }
            }
            out.push('}');
        }),
        Value::Matrix(series) => json_list(out, ('[', ']'), series, |out, s| {
            out.push_str("{\"metric\":");
            labels_json(out, &s.labels);
            if !s.floats.is_empty() {
                out.push_str(",\"values\":");
                json_list(out, ('[', ']'), &s.floats, |out, p| point_json(out, p.t, Some(p.f), None));
            }
            if !s.histograms.is_empty() {
                out.push_str(",\"histograms\":");
                json_list(out, ('[', ']'), &s.histograms, |out, p| point_json(out, p.t, None, Some(&p.h)));
            }
            out.push('}');
        }),
    }
}

fn annotations_json(out: &mut String, key: &str, items: &[String]) {
    if items.is_empty() {
        return;
    }
    let _ = write!(out, ",\"{key}\":");
    json_list(out, ('[', ']'), items, |out, w| json_string(out, w));
}

/// The body of a successful query: `{"status":"success","data":{"resultType":...,"result":...}}`,
/// with `warnings` and `infos` when there are any.
pub fn success_body(value: &Value, warnings: &[String], infos: &[String]) -> String {
    query_body(value, None, warnings, infos)
}

/// Like [`success_body`], with the `stats` object (already JSON) after `result` in `data`, as
/// Prometheus writes it for `stats=all`.
pub fn query_body(value: &Value, stats: Option<&str>, warnings: &[String], infos: &[String]) -> String {
    let mut out = String::from("{\"status\":\"success\",\"data\":{\"resultType\":\"");
    out.push_str(value.type_name());
    out.push_str("\",\"result\":");
    result_json(&mut out, value);
    if let Some(stats) = stats {
        out.push_str(",\"stats\":");
        out.push_str(stats);
    }
    out.push('}');
    annotations_json(&mut out, "warnings", warnings);
    annotations_json(&mut out, "infos", infos);
    out.push('}');
    out
}

/// The body of any other successful API call: `{"status":"success","data":<data>}` with `data`
/// already JSON, and `warnings` when there are any.
pub fn data_body(data: &str, warnings: &[String]) -> String {
    let mut out = String::from("{\"status\":\"success\",\"data\":");
    out.push_str(data);
    annotations_json(&mut out, "warnings", warnings);
    out.push('}');
    out
}

/// A JSON string literal escaped as Go's `encoding/json` does (HTML-safe).
pub fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    json_string(&mut out, s);
    out
}

/// A label set as a JSON object, in label order, escaped as Go does.
pub fn labels_object(labels: &Labels) -> String {
    let mut out = String::new();
    labels_json(&mut out, labels);
    out
}

/// The body of a failed query: `{"status":"error","errorType":...,"error":...}` (`errorType` as
/// Prometheus names it: `bad_data`, `execution`, `timeout`, `canceled`, ...), with `warnings` when
/// there are any.
pub fn error_body(error_type: &str, error: &str, warnings: &[String]) -> String {
    let mut out = String::from("{\"status\":\"error\",\"errorType\":");
    json_string(&mut out, error_type);
    out.push_str(",\"error\":");
    json_string(&mut out, error);
    annotations_json(&mut out, "warnings", warnings);
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BucketSpan, FPoint, Series};

    #[test]
    fn matrix_and_scalar() {
        let m = Value::Matrix(vec![Series {
            labels: Labels::from_pairs([("__name__", "up")]),
            floats: vec![FPoint { t: 0, f: 1.0 }, FPoint { t: 60_000, f: f64::NAN }],
            histograms: vec![],
        }]);
        assert_eq!(
            success_body(&m, &["PromQL warning: x (1:1)".into()], &[]),
            r#"{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"up"},"values":[[0,"1"],[60,"NaN"]]}]},"warnings":["PromQL warning: x (1:1)"]}"#
        );
        assert_eq!(
            success_body(&Value::Scalar { t: -1500, v: 1e-7 }, &[], &[]),
            r#"{"status":"success","data":{"resultType":"scalar","result":[-1.5,"0.0000001"]}}"#
        );
    }

    #[test]
    fn histogram_buckets() {
        let h = FloatHistogram {
            schema: 0,
            count: 5.0,
            sum: 10.0,
            zero_threshold: 0.001,
            zero_count: 1.0,
            positive_spans: vec![BucketSpan::new(0, 2)],
            positive_buckets: vec![1.0, 2.0],
            negative_spans: vec![BucketSpan::new(1, 1)],
            negative_buckets: vec![1.0],
            ..FloatHistogram::default()
        };
        let mut out = String::new();
        histogram_json(&mut out, &h);
        assert_eq!(
            out,
            r#"{"count":"5","sum":"10","buckets":[[1,"-2","-1","1"],[3,"-0.001","0.001","1"],[0,"0.5","1","1"],[0,"1","2","2"]]}"#
        );
    }
}
