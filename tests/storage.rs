//! Runs the MemStorage cases of `testdata/storage/*.txt` (format described at the top of each
//! file).

use std::sync::Arc;

use ferroprom::model::{Labels, MatchOp, Matcher, STALE_NAN, format_float, is_stale_nan};
use ferroprom::storage::{MemStorage, MemStorageOptions, SelectHints, SeriesData, Storage};

/// `name{a="b",c="d"}` (no escapes inside values) → labels.
fn parse_series(s: &str) -> Labels {
    let (name, rest) = match s.find('{') {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, "{}"),
    };
    let mut pairs: Vec<(String, String)> = Vec::new();
    if !name.is_empty() {
        pairs.push(("__name__".into(), name.into()));
    }
    for (n, op, v) in parse_pairs(rest) {
        assert_eq!(op, "=", "series labels use =: {s}");
        pairs.push((n, v));
    }
    Labels::from_pairs(pairs)
}

/// `{a="b",c=~"x"}` → (name, op, value) triples.
fn parse_pairs(s: &str) -> Vec<(String, String, String)> {
    let inner = s.trim().trim_start_matches('{').trim_end_matches('}');
    let mut out = Vec::new();
    let mut rest = inner;
    while !rest.trim().is_empty() {
        let q = rest.find('"').unwrap_or_else(|| panic!("no value in {s}"));
        let head = rest[..q].trim().trim_start_matches(',').trim();
        let op_start = head.find(['=', '!']).unwrap_or_else(|| panic!("no operator in {s}"));
        let (name, op) = head.split_at(op_start);
        let end = q + 1 + rest[q + 1..].find('"').unwrap_or_else(|| panic!("unterminated value in {s}"));
        out.push((name.trim().to_string(), op.to_string(), rest[q + 1..end].to_string()));
        rest = &rest[end + 1..];
    }
    out
}

fn parse_matchers(s: &str) -> Vec<Matcher> {
    parse_pairs(s)
        .into_iter()
        .map(|(n, op, v)| {
            let op = match op.as_str() {
                "=" => MatchOp::Equal,
                "!=" => MatchOp::NotEqual,
                "=~" => MatchOp::Regex,
                "!~" => MatchOp::NotRegex,
                other => panic!("bad operator {other}"),
            };
            Matcher::new(op, n, v).unwrap()
        })
        .collect()
}

fn parse_value(s: &str) -> f64 {
    match s {
        "stale" => STALE_NAN,
        "NaN" => f64::NAN,
        "Inf" | "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        _ => s.parse().unwrap_or_else(|_| panic!("bad value {s}")),
    }
}

fn show_value(v: f64) -> String {
    if is_stale_nan(v) { "stale".into() } else { format_float(v) }
}

fn show_series(s: &SeriesData) -> String {
    let mut out = s.labels.metric_display().to_string().replace(", ", ",");
    for (t, f) in s.floats.iter().map(|p| (&p.t, &p.f)) {
        out.push_str(&format!(" {t}:{}", show_value(*f)));
    }
    out
}

fn check(path: &std::path::Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut failures = Vec::new();
    let mut store = MemStorage::new();
    let ooo = MemStorageOptions { out_of_order_window: 600_000 };
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].trim();
        let lineno = i + 1;
        i += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (cmd, rest) = line.split_once(' ').unwrap_or((line, ""));
        let mut fail = |msg: String| failures.push(format!("{}:{lineno}: {msg}", path.display()));
        match cmd {
            "reset" => store = MemStorage::new(),
            "append" | "append_ooo" => {
                if cmd == "append_ooo" && store.sample_count() == 0 {
                    store = MemStorage::with_options(ooo);
                }
                let (sample, want_err) = match rest.split_once(" ! ") {
                    Some((s, e)) => (s, Some(e.trim())),
                    None => (rest, None),
                };
                let parts: Vec<&str> = sample.split_whitespace().collect();
                let labels = parse_series(parts[0]);
                let got = store.append(&labels, parts[1].parse().unwrap(), parse_value(parts[2]));
                let got = got.err().map(|e| e.to_string());
                if got.as_deref() != want_err {
                    fail(format!("append: want {want_err:?}, got {got:?}"));
                }
            }
            "select" => {
                let parts: Vec<&str> = rest.rsplitn(3, ' ').collect();
                let (maxt, mint, ms) = (parts[0].parse().unwrap(), parts[1].parse().unwrap(), parts[2]);
                let mut want = Vec::new();
                while i < lines.len() && !lines[i].trim().is_empty() {
                    want.push(lines[i].trim().to_string());
                    i += 1;
                }
                let got = store.select(&parse_matchers(ms), &SelectHints::range(mint, maxt)).unwrap();
                let got: Vec<String> = got.iter().map(show_series).collect();
                if got != want {
                    fail(format!("select {rest}:\n  want {want:#?}\n  got {got:#?}"));
                }
            }
            "names" | "values" => {
                let (query, want) = rest.split_once("=>").unwrap();
                let want: Vec<String> = want.split_whitespace().map(str::to_string).collect();
                let mut parts: Vec<&str> = query.trim().rsplitn(3, ' ').collect();
                parts.reverse();
                let (head, mint, maxt) = (parts[0], parts[1].parse().unwrap(), parts[2].parse().unwrap());
                let got = if cmd == "names" {
                    store.label_names(&parse_matchers(head), mint, maxt).unwrap()
                } else {
                    let (name, ms) = head.split_once(' ').unwrap();
                    store.label_values(name, &parse_matchers(ms), mint, maxt).unwrap()
                };
                if got != want {
                    fail(format!("{cmd} {query}: want {want:?}, got {got:?}"));
                }
            }
            other => fail(format!("unknown command {other}")),
        }
    }
    failures
}

#[test]
fn memstore_cases() {
    let mut failures = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir("testdata/storage")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    for f in files {
        failures.extend(check(&f));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn concurrent_readers_and_writer() {
    let store = Arc::new(MemStorage::new());
    let writer = {
        let store = store.clone();
        std::thread::spawn(move || {
            for t in 0..2000i64 {
                let mut app = store.appender();
                for j in 0..10 {
                    app.add(
                        Labels::from_pairs([("__name__", "m"), ("j", &*j.to_string())]),
                        t * 1000,
                        t as f64,
                    );
                }
                app.commit().unwrap();
            }
        })
    };
    let m = Matcher::new(MatchOp::Equal, "__name__", "m").unwrap();
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let store = store.clone();
            let m = m.clone();
            std::thread::spawn(move || {
                for _ in 0..200 {
                    let got =
                        store.select(std::slice::from_ref(&m), &SelectHints::range(0, i64::MAX)).unwrap();
                    // A commit is seen whole: every series has the same number of samples.
                    let lens: Vec<usize> = got.iter().map(|s| s.floats.len()).collect();
                    assert!(lens.windows(2).all(|w| w[0] == w[1]), "{lens:?}");
                    assert!(got.windows(2).all(|w| w[0].labels < w[1].labels));
                }
            })
        })
        .collect();
    writer.join().unwrap();
    for r in readers {
        r.join().unwrap();
    }
    assert_eq!(store.sample_count(), 20_000);
}

#[test]
fn histograms_and_start_timestamps() {
    use ferroprom::model::FloatHistogram;
    let store = MemStorage::new();
    let l = Labels::from_pairs([("__name__", "h")]);
    let h = Arc::new(FloatHistogram { count: 3.0, sum: 5.0, ..FloatHistogram::default() });
    store.append_histogram_with_st(&l, 1000, h.clone(), 500).unwrap();
    store.append_histogram(&l, 1000, h.clone()).unwrap();
    let other = Arc::new(FloatHistogram { count: 4.0, ..FloatHistogram::default() });
    assert_eq!(
        store.append_histogram(&l, 1000, other).unwrap_err().to_string(),
        "duplicate sample for timestamp"
    );
    assert_eq!(
        store.append(&l, 1000, 1.0).unwrap_err().to_string(),
        "duplicate sample for timestamp 1000; overrides not allowed: existing is a histogram, new value 1"
    );
    store.append(&l, 2000, 1.5).unwrap();
    let stale_h = Arc::new(FloatHistogram { sum: STALE_NAN, ..FloatHistogram::default() });
    store.append_histogram(&l, 3000, stale_h).unwrap();
    let got = store.select(&parse_matchers(r#"{__name__="h"}"#), &SelectHints::range(0, 5000)).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].histograms.iter().map(|p| p.t).collect::<Vec<_>>(), [1000]);
    assert_eq!(got[0].histogram_st, [500]);
    assert_eq!(got[0].floats.iter().map(|p| p.t).collect::<Vec<_>>(), [2000, 3000]);
    assert!(is_stale_nan(got[0].floats[1].f));
    assert!(got[0].float_st.is_empty());
}

/// Histograms read back with the counter-reset hints a Prometheus TSDB chunk gives them.
#[test]
fn histogram_read_hints() {
    use ferroprom::model::{CounterResetHint as H, FloatHistogram};
    let store = MemStorage::new();
    let l = Labels::from_pairs([("__name__", "h")]);
    let hist = |count: f64, hint: H| {
        Arc::new(FloatHistogram { count, counter_reset_hint: hint, ..FloatHistogram::default() })
    };
    let appends = [
        (3.0, H::Unknown),
        (4.0, H::Unknown),
        (4.0, H::NotCounterReset),
        (2.0, H::NotCounterReset), // count went down: a reset, new chunk
        (5.0, H::CounterReset),    // explicit reset hint
        (6.0, H::Unknown),
        (1.0, H::Gauge),
        (0.5, H::Gauge),
        (7.0, H::Unknown), // counter after gauge: new chunk
    ];
    for (i, (c, hint)) in appends.iter().enumerate() {
        store.append_histogram(&l, i as i64 * 1000, hist(*c, *hint)).unwrap();
    }
    store.append(&l, 9000, 1.0).unwrap();
    store.append_histogram(&l, 10_000, hist(8.0, H::Unknown)).unwrap();
    store.append_histogram(&l, 11_000, hist(9.0, H::Unknown)).unwrap();
    let got = store.select(&parse_matchers(r#"{__name__="h"}"#), &SelectHints::range(0, 20_000)).unwrap();
    let hints: Vec<H> = got[0].histograms.iter().map(|p| p.h.counter_reset_hint).collect();
    use H::*;
    assert_eq!(
        hints,
        [
            Unknown,
            NotCounterReset,
            NotCounterReset,
            Unknown,
            Unknown,
            NotCounterReset,
            Gauge,
            Gauge,
            Unknown,
            Unknown,
            NotCounterReset
        ]
    );
    // An identical duplicate is accepted whatever its hint.
    store.append_histogram(&l, 11_000, hist(9.0, H::NotCounterReset)).unwrap();
    // Out of order with a window: hints are recomputed for the whole series.
    let ooo = MemStorage::with_options(MemStorageOptions { out_of_order_window: 60_000 });
    ooo.append_histogram(&l, 0, hist(1.0, H::Unknown)).unwrap();
    ooo.append_histogram(&l, 2000, hist(3.0, H::Unknown)).unwrap();
    ooo.append_histogram(&l, 1000, hist(2.0, H::Unknown)).unwrap();
    let got = ooo.select(&parse_matchers(r#"{__name__="h"}"#), &SelectHints::range(0, 20_000)).unwrap();
    let hints: Vec<H> = got[0].histograms.iter().map(|p| p.h.counter_reset_hint).collect();
    assert_eq!(hints, [Unknown, NotCounterReset, NotCounterReset]);
}
