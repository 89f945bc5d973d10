//! `remote_read`/`remote_write` sections of Prometheus configuration files: each
//! `testdata/remote/config/NAME.yml` must read into what `NAME.out` shows (the options' debug form,
//! or `error: ` and the message). `UPDATE_EXPECT=1` rewrites the `.out` files.

mod support;

use std::path::Path;

use ferroprom::remote::config::parse_remote_config;

fn render(input: &str) -> String {
    match parse_remote_config(input) {
        Ok(cfg) => format!("{cfg:#?}\n"),
        Err(e) => format!("error: {e}\n"),
    }
}

fn check(input: &Path, expected: &Path) -> Result<(), String> {
    let got = render(&std::fs::read_to_string(input).map_err(|e| e.to_string())?);
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(expected, &got).map_err(|e| e.to_string())?;
    }
    let want = std::fs::read_to_string(expected).map_err(|e| format!("{}: {e}", expected.display()))?;
    if got == want { Ok(()) } else { Err(format!("{}: got\n{got}want\n{want}", input.display())) }
}

#[test]
fn remote_config_files() {
    let dir = support::root().join("testdata/remote/config");
    let files = support::files_in(&dir, |p| support::has_extension(p, "yml"));
    let failures: Vec<String> =
        files.iter().filter_map(|p| check(p, &p.with_extension("out")).err()).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(files.len() >= 6);
}
