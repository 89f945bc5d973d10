//! `ferroprom promqltest`: per-file table and the closing `N passed, N failed` line.

use std::process::Command;

fn check(args: &[&str], want_status: i32, want_tail: &str) {
    let out = Command::new(env!("CARGO_BIN_EXE_ferroprom")).args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(want_status), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.ends_with(want_tail), "{stdout}");
}

#[test]
fn promqltest_command() {
    check(
        &["promqltest", "testdata/promql/runner.test"],
        0,
        "runner.test      12       0      12\n12 passed, 0 failed\n",
    );
    check(
        &["promqltest", "testdata/promqltest-runner/failures.test"],
        1,
        "failures.test       3      19      22\n3 passed, 19 failed\n",
    );
    check(&["promqltest", "does-not-exist.test"], 2, "");
}
