//! `--diff`: expected and got alerts as JSON, with the differences marked the way the `jsondiff`
//! package promtool uses marks them: the whole document pretty-printed with four-space indents,
//! added parts in green, removed parts in red, changed values as `old => new` in yellow. Without a
//! terminal the markers are jsondiff's JSON ones (`{"prop-added":…}`, `{"changed":[old, new]}`).

use std::fmt::Write as _;

use serde_json::{Map, Value};

use super::compare::AlertEntry;

struct Tags {
    added: (&'static str, &'static str),
    removed: (&'static str, &'static str),
    changed: (&'static str, &'static str),
    separator: &'static str,
    /// Close and reopen a tag around every line break (colours), as jsondiff does, so that each
    /// line stands alone.
    per_line: bool,
}

/// `text` inside a tag.
fn wrap(tag: (&str, &str), text: &str, per_line: bool) -> String {
    if !per_line {
        return format!("{}{text}{}", tag.0, tag.1);
    }
    let lines: Vec<String> = text
        .split('\n')
        .enumerate()
        .map(|(i, line)| {
            if i == 0 {
                format!("{}{line}", tag.0)
            } else {
                let body = line.trim_start_matches(' ');
                format!("{}{}{body}", &line[..line.len() - body.len()], tag.0)
            }
        })
        .collect();
    format!("{}{}", lines.join(&format!("{}\n", tag.1)), tag.1)
}

const CONSOLE: Tags = Tags {
    added: ("\x1b[0;32m", "\x1b[0m"),
    removed: ("\x1b[0;31m", "\x1b[0m"),
    changed: ("\x1b[0;33m", "\x1b[0m"),
    separator: " => ",
    per_line: true,
};

const PLAIN: Tags = Tags {
    added: ("{\"prop-added\":", "}"),
    removed: ("{\"prop-removed\":", "}"),
    changed: ("{\"changed\":[", "]}"),
    separator: ", ",
    per_line: false,
};

const INDENT: &str = "    ";

fn to_json(alerts: &[AlertEntry]) -> Value {
    let obj = |pairs: &[(String, String)]| {
        Value::Object(pairs.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect::<Map<_, _>>())
    };
    let mut items: Vec<Value> = alerts
        .iter()
        .map(|a| {
            let mut m = Map::new();
            m.insert("Labels".into(), obj(&a.labels));
            m.insert("Annotations".into(), obj(&a.annotations));
            Value::Object(m)
        })
        .collect();
    if items.is_empty() {
        // promtool compares an empty side as one alert without labels and annotations.
        items.push(to_json(&[AlertEntry { labels: vec![], annotations: vec![] }])[0].clone());
    }
    Value::Array(items)
}

/// The diff of two alert lists, or `None` when their JSON forms are equal.
pub(crate) fn diff_alerts(exp: &[AlertEntry], got: &[AlertEntry], color: bool) -> Option<String> {
    let (a, b) = (to_json(exp), to_json(got));
    if a == b {
        return None;
    }
    let tags = if color { &CONSOLE } else { &PLAIN };
    let mut out = String::new();
    write_diff(&mut out, &a, &b, 0, tags);
    Some(out)
}

fn pretty(v: &Value, level: usize) -> String {
    let pad = INDENT.repeat(level);
    match v {
        Value::Array(items) if !items.is_empty() => {
            let inner: Vec<String> =
                items.iter().map(|i| format!("{pad}{INDENT}{}", pretty(i, level + 1))).collect();
            format!("[\n{}\n{pad}]", inner.join(",\n"))
        }
        Value::Object(m) if !m.is_empty() => {
            let inner: Vec<String> = m
                .iter()
                .map(|(k, v)| format!("{pad}{INDENT}{}: {}", Value::String(k.clone()), pretty(v, level + 1)))
                .collect();
            format!("{{\n{}\n{pad}}}", inner.join(",\n"))
        }
        other => other.to_string(),
    }
}

fn write_diff(out: &mut String, a: &Value, b: &Value, level: usize, t: &Tags) {
    let pad = INDENT.repeat(level);
    let inner_pad = format!("{pad}{INDENT}");
    match (a, b) {
        (Value::Object(x), Value::Object(y)) if x.is_empty() && y.is_empty() => out.push_str("{}"),
        (Value::Object(x), Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            out.push_str("{\n");
            for (i, k) in keys.iter().enumerate() {
                let key = Value::String((*k).clone());
                match (x.get(*k), y.get(*k)) {
                    (Some(va), Some(vb)) => {
                        let _ = write!(out, "{inner_pad}{key}: ");
                        write_diff(out, va, vb, level + 1, t);
                    }
                    (Some(va), None) => {
                        let _ = write!(
                            out,
                            "{inner_pad}{}{key}: {}{}",
                            t.removed.0,
                            pretty(va, level + 1),
                            t.removed.1
                        );
                    }
                    (None, Some(vb)) => {
                        let _ = write!(
                            out,
                            "{inner_pad}{}{key}: {}{}",
                            t.added.0,
                            pretty(vb, level + 1),
                            t.added.1
                        );
                    }
                    (None, None) => {}
                }
                out.push_str(if i + 1 < keys.len() { ",\n" } else { "\n" });
            }
            let _ = write!(out, "{pad}}}");
        }
        (Value::Array(x), Value::Array(y)) => {
            out.push_str("[\n");
            let n = x.len().max(y.len());
            for i in 0..n {
                out.push_str(&inner_pad);
                match (x.get(i), y.get(i)) {
                    (Some(va), Some(vb)) => write_diff(out, va, vb, level + 1, t),
                    (Some(va), None) => {
                        out.push_str(&wrap(t.removed, &pretty(va, level + 1), t.per_line));
                    }
                    (None, Some(vb)) => out.push_str(&wrap(t.added, &pretty(vb, level + 1), t.per_line)),
                    (None, None) => {}
                }
                out.push_str(if i + 1 < n { ",\n" } else { "\n" });
            }
            let _ = write!(out, "{pad}]");
        }
        _ if a == b => out.push_str(&pretty(a, level)),
        _ => {
            let _ = write!(
                out,
                "{}{}{}{}{}",
                t.changed.0,
                pretty(a, level),
                t.separator,
                pretty(b, level),
                t.changed.1
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alert(labels: &[(&str, &str)]) -> AlertEntry {
        AlertEntry {
            labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            annotations: vec![],
        }
    }

    #[test]
    fn colours_reopen_on_every_line() {
        let d =
            diff_alerts(&[], &[alert(&[("alertname", "A")]), alert(&[("alertname", "B")])], true).unwrap();
        assert!(d.contains("\x1b[0;32m{\x1b[0m\n        \x1b[0;32m\"Annotations\": {},\x1b[0m"), "{d:?}");
    }

    #[test]
    fn plain_markers() {
        let d = diff_alerts(
            &[alert(&[("alertname", "A"), ("x", "1")])],
            &[alert(&[("alertname", "A"), ("x", "2")])],
            false,
        )
        .unwrap();
        assert_eq!(
            d,
            "[\n    {\n        \"Annotations\": {},\n        \"Labels\": {\n            \"alertname\": \"A\",\n            \"x\": {\"changed\":[\"1\", \"2\"]}\n        }\n    }\n]"
        );
        assert!(diff_alerts(&[], &[], false).is_none());
    }
}
