//! Data files (`testdata/datafile/NAME.data`) loaded into a store: `NAME.expected` lists every
//! series with its samples (`t:v`), or the error (`error: ...`).

use std::path::Path;

use ferroprom::datafile::load_text;
use ferroprom::model::{MatchOp, Matcher, format_float, is_stale_nan};
use ferroprom::storage::{MemStorage, SelectHints, Storage};

fn dump(store: &MemStorage) -> String {
    let all = Matcher::new(MatchOp::Regex, "__name__", ".*").unwrap();
    let series = store.select(&[all], &SelectHints::range(i64::MIN, i64::MAX)).unwrap();
    let mut out = String::new();
    for s in series {
        out.push_str(&s.labels.metric_display().to_string());
        for (t, f) in s.floats.iter().map(|p| (&p.t, &p.f)) {
            let v = if is_stale_nan(*f) { "stale".to_string() } else { format_float(*f) };
            out.push_str(&format!(" {t}:{v}"));
        }
        out.push('\n');
    }
    out
}

fn check(input: &str, expected: &str) -> Option<String> {
    let store = MemStorage::new();
    let got = match load_text(input, &store) {
        Ok(_) => dump(&store),
        Err(e) => format!("error: {e}\n"),
    };
    (got != expected).then_some(got)
}

#[test]
fn data_files() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/datafile");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "data"))
        .collect();
    names.sort();
    assert!(!names.is_empty());
    let mut failures = Vec::new();
    for data in names {
        let input = std::fs::read_to_string(&data).unwrap();
        let expected = std::fs::read_to_string(data.with_extension("expected")).unwrap_or_default();
        if let Some(got) = check(&input, &expected) {
            failures.push(format!("{}:\n--- want\n{expected}--- got\n{got}", data.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every input of the `datafile` fuzz target (`testdata/fuzz/datafile/`) loads or fails cleanly.
#[test]
fn fuzz_inputs_do_not_panic() {
    use ferroprom::datafile::load_text_limited;
    use ferroprom::promqltest::Script;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/fuzz/datafile");
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.ends_with("README.md") {
            continue;
        }
        let data = std::fs::read(&path).unwrap();
        let Ok(text) = std::str::from_utf8(&data) else { continue };
        let outcome = std::panic::catch_unwind(|| {
            let _ = Script::parse_limited(text, 1_000_000);
            let _ = load_text_limited(text, &MemStorage::new(), 1_000_000);
        });
        assert!(outcome.is_ok(), "{}: panicked", path.display());
    }
}
