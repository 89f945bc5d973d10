//! Our own parser cases, for what the upstream tables do not cover: the nesting guard, feature
//! switches, positions in multi-line queries, and assorted corners. Data: `testdata/parser/cases.txt`.
//!
//! Each line is `ok|err <TAB> options <TAB> input [<TAB> expected error]`. `options` is a comma list
//! of `default`, `all` (every feature on) and `depth=N`. In `input`, `\n`, `\t` and `\\` are escapes
//! and `«N*text»` stands for `text` repeated `N` times. The expected error is the whole rendering
//! (`L:C: parse error: msg`), or `~text` for "the rendering contains text".

use std::path::PathBuf;

use ferroprom::parser::{ParseOptions, parse_with};

fn options(spec: &str) -> ParseOptions {
    let mut o = ParseOptions::default();
    for part in spec.split(',') {
        match part.trim() {
            "default" => {}
            "all" => o = ParseOptions { max_depth: o.max_depth, ..ParseOptions::all_features() },
            p => {
                let n = p.strip_prefix("depth=").and_then(|n| n.parse().ok());
                o.max_depth = n.unwrap_or_else(|| panic!("unknown option {p:?}"));
            }
        }
    }
    o
}

/// Expands escapes and `«N*text»` repetitions.
fn expand(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('«') {
        out.push_str(&rest[..i]);
        let after = &rest[i + '«'.len_utf8()..];
        let j = after.find('»').expect("unclosed «");
        let (n, text) = after[..j].split_once('*').expect("«N*text»");
        out.push_str(&text.repeat(n.parse().expect("repeat count")));
        rest = &after[j + '»'.len_utf8()..];
    }
    out.push_str(rest);
    out.replace("\\n", "\n").replace("\\t", "\t").replace("\\\\", "\\")
}

/// Parses `input` and compares with `expected` (`None`: must parse).
fn check(input: &str, opts: &ParseOptions, expected: Option<&str>) -> Result<(), String> {
    match (parse_with(input, opts), expected) {
        (Ok(_), None) => Ok(()),
        (Ok(_), Some(want)) => Err(format!("parsed, want error {want:?}")),
        (Err(e), None) => Err(format!("rejected: {e}")),
        (Err(e), Some(want)) => {
            let got = e.to_string();
            let ok = match want.strip_prefix('~') {
                Some(part) => got.contains(part),
                None => got == want,
            };
            if ok { Ok(()) } else { Err(format!("got {got:?}, want {want:?}")) }
        }
    }
}

/// Cases with a raised `max_depth` accept trees deeper than the default limit allows; the parser
/// itself needs no extra stack for them, but dropping such a tree recurses through it (as any code
/// walking it does), so the cases run on a thread with a large stack.
#[test]
fn own_parser_cases() {
    let worker = std::thread::Builder::new().stack_size(512 << 20).spawn(run_cases).expect("spawn");
    worker.join().expect("cases thread");
}

fn run_cases() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/parser/cases.txt");
    let text = std::fs::read_to_string(&path).expect("cases file");
    let mut problems = Vec::new();
    let mut n = 0;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        n += 1;
        let fields: Vec<&str> = line.split('\t').collect();
        let (kind, opts, input) = (fields[0], options(fields[1]), expand(fields[2]));
        let expected = match kind {
            "ok" => None,
            "err" => Some(*fields.get(3).expect("err case needs an expected error")),
            k => panic!("line {}: unknown kind {k:?}", i + 1),
        };
        if let Err(why) = check(&input, &opts, expected) {
            problems.push(format!("cases.txt:{}: {}: {why}", i + 1, fields[2]));
        }
    }
    println!("own parser cases: {n} run, {} failing", problems.len());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Every error is kept, in upstream's order, with its span, line and column.
#[test]
fn every_error_is_kept() {
    let err = parse_with("1 or on(bar)\n foo", &ParseOptions::default()).expect_err("must fail");
    let got: Vec<(String, usize, usize, usize, usize)> =
        err.errors.iter().map(|d| (d.message.clone(), d.span.start, d.span.end, d.line, d.column)).collect();
    assert_eq!(
        got,
        [
            ("vector matching only allowed between instant vectors".to_string(), 0, 17, 1, 1),
            ("set operator \"or\" not allowed in binary scalar expression".to_string(), 0, 17, 1, 1),
        ]
    );
}
