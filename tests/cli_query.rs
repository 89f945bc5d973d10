//! `ferroprom query`: the cases of `testdata/cli/query.txt` (arguments, exit status, standard
//! output).

use std::process::Command;

fn check(args: &[&str], exit: i32, stdout: &str) -> Option<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_ferroprom")).args(args).output().unwrap();
    let got = String::from_utf8_lossy(&out.stdout);
    (out.status.code() != Some(exit) || got != stdout).then(|| {
        format!(
            "{args:?}: want exit {exit} and\n{stdout}got exit {:?} and\n{got}stderr: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn query_cases() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/cli/query.txt")).unwrap();
    let mut lines = text.lines();
    let mut failures = Vec::new();
    let mut cases = 0;
    while let Some(line) = lines.next() {
        let Some(args) = line.strip_prefix("args: ") else { continue };
        let args: Vec<&str> = args.split(" | ").collect();
        let exit: i32 = lines.next().and_then(|l| l.strip_prefix("exit: ")).unwrap().parse().unwrap();
        let mut stdout = String::new();
        for l in lines.by_ref() {
            if l == "end" {
                break;
            }
            stdout.push_str(l);
            stdout.push('\n');
        }
        cases += 1;
        failures.extend(check(&args, exit, &stdout));
    }
    assert!(cases > 0);
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
