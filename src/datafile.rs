//! Data files: samples read from text into a [`MemStorage`], for the CLI's `--data FILE`.
//!
//! Two formats are recognised by their first meaningful line:
//!
//! * **promqltest load text**: one or more `load <interval>` blocks exactly as in `.test` scripts
//!   (series notation, `_`, `stale`, native histogram literals, `load_with_nhcb`), timestamps from
//!   the epoch;
//! * **text exposition** (Prometheus 0.0.4 or OpenMetrics) where every sample carries a
//!   timestamp: `name{label="value"} 1.5 1700000000000`. Prometheus text timestamps are
//!   milliseconds; when the file ends with OpenMetrics' `# EOF` they are seconds (fractions
//!   allowed). `# HELP`/`# TYPE`/`# UNIT` and other comments are skipped, as are OpenMetrics
//!   exemplars (`# {...} v ts` after a sample). Samples may come in any order: each series is
//!   sorted by time before it is stored.
//!
//! ```
//! use ferroprom::datafile::load_text;
//! use ferroprom::storage::MemStorage;
//!
//! let store = MemStorage::new();
//! let stats = load_text("up{job=\"node\"} 1 60000\nup{job=\"node\"} 0 0\n", &store)?;
//! assert_eq!((stats.series, stats.samples), (1, 2));
//! assert_eq!(store.time_bounds(), Some((0, 60_000)));
//! # Ok::<(), ferroprom::datafile::DataFileError>(())
//! ```

use std::path::Path;

use hashbrown::HashMap;

use crate::model::Labels;
use crate::parser::series::parse_series_desc;
use crate::promqltest::{Command, DEFAULT_MAX_VALUES, Script, apply_load};
use crate::storage::MemStorage;

/// A data file that could not be loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DataFileError {
    /// The file could not be read.
    #[error("{path}: {message}")]
    Io {
        /// The path.
        path: String,
        /// The operating system's reason.
        message: String,
    },
    /// A line is malformed or its sample was rejected.
    #[error("{}", crate::promqltest::with_line(*line, message))]
    Line {
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

fn line_err(line: usize, message: impl Into<String>) -> DataFileError {
    DataFileError::Line { line, message: message.into() }
}

/// What a load stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoadStats {
    /// Series in the store afterwards.
    pub series: usize,
    /// Samples in the store afterwards.
    pub samples: usize,
}

/// Reads `path` into a new store.
pub fn load_file(path: &Path) -> Result<MemStorage, DataFileError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| DataFileError::Io { path: path.display().to_string(), message: e.to_string() })?;
    let store = MemStorage::new();
    load_text(&text, &store)?;
    Ok(store)
}

/// Reads data text (either format) into `store`.
pub fn load_text(text: &str, store: &MemStorage) -> Result<LoadStats, DataFileError> {
    load_text_limited(text, store, DEFAULT_MAX_VALUES)
}

/// Like [`load_text`], with a bound on the values promqltest load text may expand to (see
/// [`Script::parse_limited`]); exposition text needs none (one sample per line).
pub fn load_text_limited(
    text: &str,
    store: &MemStorage,
    max_values: usize,
) -> Result<LoadStats, DataFileError> {
    let first = text.lines().map(str::trim).find(|l| !l.is_empty() && !l.starts_with('#'));
    let is_load = first.is_some_and(|l| l.to_ascii_lowercase().starts_with("load"));
    if is_load {
        load_promqltest(text, store, max_values)?;
    } else {
        load_exposition(text, store)?;
    }
    Ok(LoadStats { series: store.series_count(), samples: store.sample_count() })
}

fn load_promqltest(text: &str, store: &MemStorage, max_values: usize) -> Result<(), DataFileError> {
    let script = Script::parse_limited(text, max_values).map_err(|e| line_err(e.line, e.message))?;
    for cmd in &script.commands {
        match cmd {
            Command::Load(load) => apply_load(store, load).map_err(|e| line_err(load.line, e))?,
            Command::Clear { line } => {
                return Err(line_err(*line, "only load blocks are allowed in a data file, found clear"));
            }
            Command::Eval(ev) => {
                return Err(line_err(ev.line, "only load blocks are allowed in a data file, found eval"));
            }
        }
    }
    Ok(())
}

/// One sample of an exposition file before it is stored.
struct Pending {
    t: i64,
    v: f64,
    line: usize,
}

fn load_exposition(text: &str, store: &MemStorage) -> Result<(), DataFileError> {
    let openmetrics = text.lines().rev().map(str::trim).find(|l| !l.is_empty()) == Some("# EOF");
    let mut by_series: HashMap<Labels, Vec<Pending>> = HashMap::new();
    let mut order: Vec<Labels> = Vec::new();
    let mut seen_eof = false;
    for (i, raw) in text.lines().enumerate() {
        let line = i + 1;
        let l = raw.trim();
        if l.is_empty() {
            continue;
        }
        if seen_eof {
            return Err(line_err(line, "content after # EOF"));
        }
        if l == "# EOF" {
            seen_eof = true;
            continue;
        }
        if l.starts_with('#') {
            continue;
        }
        let (labels, t, v) = parse_sample_line(l, openmetrics).map_err(|m| line_err(line, m))?;
        let list = by_series.entry(labels.clone()).or_insert_with(|| {
            order.push(labels);
            Vec::new()
        });
        list.push(Pending { t, v, line });
    }
    for labels in order {
        let Some(mut samples) = by_series.remove(&labels) else {
            continue;
        };
        samples.sort_by_key(|s| s.t);
        let mut prev: Option<&Pending> = None;
        for s in &samples {
            if let Some(p) = prev
                && p.t == s.t
            {
                if p.v.to_bits() == s.v.to_bits() {
                    continue;
                }
                return Err(line_err(
                    s.line,
                    format!(
                        "duplicate sample for {} at timestamp {} (first on line {})",
                        labels, s.t, p.line
                    ),
                ));
            }
            store.append(&labels, s.t, s.v).map_err(|e| line_err(s.line, e.to_string()))?;
            prev = Some(s);
        }
    }
    Ok(())
}

/// The byte index just after the metric part of a sample line: the end of its `{...}` (quotes
/// respected) or the first whitespace.
fn metric_end(l: &str) -> Result<usize, String> {
    let bytes = l.as_bytes();
    let Some(open) = l.find(['{', ' ', '\t']) else {
        return Err("expected a value after the metric".to_string());
    };
    if bytes[open] != b'{' {
        return Ok(open);
    }
    let mut in_quote = false;
    let mut escaped = false;
    for (i, &b) in bytes.iter().enumerate().skip(open + 1) {
        if in_quote {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_quote = false;
            }
        } else if b == b'"' {
            in_quote = true;
        } else if b == b'}' {
            return Ok(i + 1);
        }
    }
    Err("unterminated label set".to_string())
}

/// A sample value as Go's `ParseFloat` reads it (`NaN`, `+Inf`, `-Inf`, `1e3`, ...).
fn parse_value(s: &str) -> Option<f64> {
    s.parse::<f64>().ok()
}

fn parse_sample_line(l: &str, openmetrics: bool) -> Result<(Labels, i64, f64), String> {
    let end = metric_end(l)?;
    let metric = &l[..end];
    let labels = match simple_metric(metric) {
        Some(pairs) => Labels::from_pairs(pairs),
        None => {
            let desc =
                parse_series_desc(metric).map_err(|e| format!("bad metric {metric:?}: {}", e.message))?;
            Labels::from_pairs(desc.labels)
        }
    };
    if labels.is_empty() {
        return Err(format!("bad metric {metric:?}: no name and no labels"));
    }
    let rest = l[end..].split(" # ").next().unwrap_or("");
    let mut fields = rest.split_whitespace();
    let value = fields.next().ok_or("expected a value after the metric")?;
    let v = parse_value(value).ok_or_else(|| format!("bad value {value:?}"))?;
    let ts = fields.next().ok_or("sample has no timestamp (data files need one on every sample)")?;
    if let Some(extra) = fields.next() {
        return Err(format!("unexpected {extra:?} after the timestamp"));
    }
    let t = if openmetrics {
        let secs: f64 = ts.parse().map_err(|_| format!("bad timestamp {ts:?}"))?;
        let ms = (secs * 1000.0).round();
        if !ms.is_finite() || ms.abs() >= 9.2e18 {
            return Err(format!("timestamp {ts:?} out of range"));
        }
        ms as i64
    } else {
        ts.parse::<i64>().map_err(|_| format!("bad timestamp {ts:?} (milliseconds expected)"))?
    };
    Ok((labels, t, v))
}

/// The common case read without the full series grammar: `name` or `name{a="b",c="d"}` with
/// legacy names and values without backslashes. `None` sends anything else to the full parser.
fn simple_metric(m: &str) -> Option<Vec<(&str, &str)>> {
    let is_name_char = |c: u8, first: bool, colon: bool| {
        c.is_ascii_alphabetic() || c == b'_' || (colon && c == b':') || (!first && c.is_ascii_digit())
    };
    let b = m.as_bytes();
    let mut i = 0;
    while i < b.len() && is_name_char(b[i], i == 0, true) {
        i += 1;
    }
    if i == 0 {
        return None;
    }
    let mut pairs = vec![("__name__", &m[..i])];
    if i == b.len() {
        return Some(pairs);
    }
    if b[i] != b'{' || b[b.len() - 1] != b'}' {
        return None;
    }
    i += 1;
    let end = b.len() - 1;
    while i < end {
        let start = i;
        while i < end && is_name_char(b[i], i == start, false) {
            i += 1;
        }
        if i == start || b.get(i) != Some(&b'=') || b.get(i + 1) != Some(&b'"') {
            return None;
        }
        let name = &m[start..i];
        let vstart = i + 2;
        let vend = vstart + m[vstart..end].find('"')?;
        let value = &m[vstart..vend];
        if value.contains('\\') || pairs.iter().any(|(n, _)| *n == name) {
            return None;
        }
        pairs.push((name, value));
        i = vend + 1;
        match b.get(i) {
            Some(b',') => i += 1,
            _ if i == end => {}
            _ => return None,
        }
    }
    Some(pairs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{MatchOp, Matcher};
    use crate::storage::{SelectHints, Storage};

    fn select(store: &MemStorage, name: &str) -> Vec<(i64, f64)> {
        let m = Matcher::new(MatchOp::Equal, "__name__", name).unwrap();
        let got = store.select(&[m], &SelectHints::range(i64::MIN, i64::MAX)).unwrap();
        got.iter().flat_map(|s| s.floats.iter().map(|p| (p.t, p.f))).collect()
    }

    #[test]
    fn simple_metrics() {
        assert_eq!(simple_metric("up"), Some(vec![("__name__", "up")]));
        assert_eq!(
            simple_metric(r#"a:b{x="1",y=""}"#),
            Some(vec![("__name__", "a:b"), ("x", "1"), ("y", "")])
        );
        assert_eq!(simple_metric(r#"a{x="1",}"#), Some(vec![("__name__", "a"), ("x", "1")]));
        for m in [r#"{x="1"}"#, r#"a{x="\n"}"#, r#"a{x="1" }"#, r#"a{"x"="1"}"#, r#"a{x="1",x="2"}"#, "a{}x"]
        {
            assert_eq!(simple_metric(m), None, "{m}");
        }
    }

    #[test]
    fn exposition() {
        let store = MemStorage::new();
        let text = "# HELP x help\n# TYPE x counter\nx{a=\"}\"} 2 2000\nx{a=\"}\"} 1 1000\ny 3 0\n";
        load_text(text, &store).unwrap();
        assert_eq!(select(&store, "x"), [(1000, 1.0), (2000, 2.0)]);
        assert_eq!(select(&store, "y"), [(0, 3.0)]);
    }

    #[test]
    fn openmetrics_seconds() {
        let store = MemStorage::new();
        load_text("x_total 1 1.5 # {trace_id=\"a\"} 1 1.4\n# EOF\n", &store).unwrap();
        assert_eq!(select(&store, "x_total"), [(1500, 1.0)]);
    }

    #[test]
    fn promqltest_load() {
        let store = MemStorage::new();
        load_text("# data\nload 1m\n  x 1 2 _ 4\n\nload 1m\n  y 5\n", &store).unwrap();
        assert_eq!(select(&store, "x"), [(0, 1.0), (60_000, 2.0), (180_000, 4.0)]);
        assert_eq!(select(&store, "y"), [(0, 5.0)]);
    }

    #[test]
    fn errors_have_lines() {
        let store = MemStorage::new();
        let e = load_text("x 1 1000\nx{a=\"b\" 1 2\n", &store).unwrap_err();
        assert_eq!(e.to_string(), "line 2: unterminated label set");
        let e = load_text("x 1\n", &store).unwrap_err();
        assert_eq!(e.to_string(), "line 1: sample has no timestamp (data files need one on every sample)");
        let e = load_text("x 1 5\nx 2 5\n", &MemStorage::new()).unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 2: duplicate sample for {__name__=\"x\"} at timestamp 5 (first on line 1)"
        );
        let e = load_text("load 1m\n  x 1\n\neval instant at 0 x\n", &MemStorage::new()).unwrap_err();
        assert_eq!(e.to_string(), "line 4: only load blocks are allowed in a data file, found eval");
        let e = load_text("x abc 5\n", &MemStorage::new()).unwrap_err();
        assert_eq!(e.to_string(), "line 1: bad value \"abc\"");
    }
}
