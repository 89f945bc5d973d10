//! Replays every input the fuzzers once failed on (`testdata/fuzz/<target>/*`) through the checks
//! of its fuzz target, as an ordinary test.

mod support;

use std::path::PathBuf;

use support::{eval_check, parse_check, root, roundtrip_check};

fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = root().join("testdata/fuzz").join(target);
    support::files_in(&dir, |p| p.is_file() && !p.ends_with("README.md"))
        .into_iter()
        .map(|p| {
            let data = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, data)
        })
        .collect()
}

#[test]
fn parse_inputs_do_not_panic() {
    for (path, data) in inputs("parse") {
        let outcome = std::panic::catch_unwind(|| parse_check::check_bytes(&data));
        assert!(outcome.is_ok(), "{}: parsing panicked", path.display());
    }
}

#[test]
fn roundtrip_inputs_round_trip() {
    let mut failures = Vec::new();
    for (path, data) in inputs("roundtrip") {
        let Ok(input) = std::str::from_utf8(&data) else { continue };
        if let Err(msg) = roundtrip_check::check_input(input) {
            failures.push(format!("{}: {input:?}\n{msg}", path.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn eval_inputs_do_not_panic() {
    for (path, data) in inputs("eval") {
        let outcome = std::panic::catch_unwind(|| eval_check::check_bytes(&data));
        assert!(outcome.is_ok(), "{}: evaluation panicked", path.display());
    }
}
