//! PromQL's math functions and operators against a real Prometheus, bit for bit: every case of
//! `testdata/gomath/*.txt` (`fn(x) = result` or `fn(x, y) = result`, exact decimal floats, see the
//! README there) is evaluated through the engine's own entry points (`simple_float_fn`,
//! `scalar_binop`) and must give the same float64 (any NaN matches NaN).
//!
//! `exp.txt` holds Go's `Exp` as a CPU with AVX2 and FMA computes it and `exp-nofma.txt` as one
//! without; both variants are checked whatever this CPU has. `sinh`, `cosh`, `tanh` and `pow` call
//! `exp`, and their files were made on an FMA machine, so they are checked with the fused variant's
//! answers only where this CPU selects it (as Go does).

use std::path::Path;

use ferroprom::functions::{gomath, scalar_binop, simple_float_fn};
use ferroprom::parser::BinaryOp;

mod support;

use support::root;

/// A float as the case files write it: Rust's/Python's shortest round-trip decimal, `NaN`, `±Inf`.
fn num(s: &str) -> Result<f64, String> {
    match s {
        "NaN" => Ok(f64::NAN),
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        _ => s.parse().map_err(|e| format!("bad number {s:?}: {e}")),
    }
}

/// One case line `name(args) = result` → (name, args, result).
fn parse_case(line: &str) -> Result<(&str, Vec<f64>, f64), String> {
    let (call, want) = line.split_once(" = ").ok_or("no ' = '")?;
    let (name, args) = call.strip_suffix(')').and_then(|c| c.split_once('(')).ok_or("no call")?;
    let args = args.split(", ").map(num).collect::<Result<Vec<_>, _>>()?;
    Ok((name, args, num(want)?))
}

/// Whether the CPU takes Go's fused `Exp` path (AVX2 and FMA on amd64).
fn cpu_fuses() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("fma") && std::arch::is_x86_feature_detected!("avx2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        true
    }
}

/// Evaluates one case as the engine does (`file` picks the `Exp` variant for the exp files).
fn eval(file: &str, name: &str, args: &[f64]) -> Result<f64, String> {
    let op = |op: BinaryOp| match args {
        [x, y] => Ok(scalar_binop(op, *x, *y)),
        _ => Err(format!("{name} takes two arguments")),
    };
    match (file, name, args) {
        ("exp", "exp", [x]) => Ok(gomath::exp_variant(*x, true)),
        ("exp-nofma", "exp", [x]) => Ok(gomath::exp_variant(*x, false)),
        (_, "pow", _) => op(BinaryOp::Pow),
        (_, "atan2", _) => op(BinaryOp::Atan2),
        (_, "mod", _) => op(BinaryOp::Mod),
        (_, _, [x]) => simple_float_fn(name).map(|f| f(*x)).ok_or_else(|| format!("no function {name}")),
        _ => Err(format!("bad case for {name}")),
    }
}

/// `None` when `got` is `want` to the bit (or both are NaN), else the mismatch.
fn check(input: &str, got: f64, want: f64) -> Option<String> {
    if got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan()) {
        return None;
    }
    Some(format!("{input}: got {got:?} ({:#018x}), want {want:?} ({:#018x})", got.to_bits(), want.to_bits()))
}

#[test]
fn math_matches_prometheus_bit_for_bit() {
    let dir = root().join("testdata/gomath");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    let uses_exp = ["sinh", "cosh", "tanh", "pow"];
    let fuses = cpu_fuses();
    let (mut total, mut skipped) = (0usize, 0usize);
    let mut failures = Vec::new();
    for path in &files {
        let file = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for (n, line) in text.lines().enumerate() {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let at = format!("{}:{}", rel(path), n + 1);
            let (name, args, want) = parse_case(line).unwrap_or_else(|e| panic!("{at}: {e}: {line}"));
            if !fuses && uses_exp.contains(&name) {
                skipped += 1;
                continue;
            }
            total += 1;
            let got = eval(file, name, &args).unwrap_or_else(|e| panic!("{at}: {e}"));
            if let Some(msg) = check(line.split(" = ").next().unwrap_or(line), got, want) {
                failures.push(format!("{at}: {msg}"));
            }
        }
    }
    if skipped > 0 {
        eprintln!(
            "{skipped} cases of {uses_exp:?} not checked: this CPU lacks AVX2/FMA, the files assume them"
        );
    }
    assert!(total > 30_000, "only {total} cases read from {}", dir.display());
    assert!(
        failures.is_empty(),
        "{} of {total} cases differ from Prometheus:\n{}",
        failures.len(),
        failures.iter().take(40).cloned().collect::<Vec<_>>().join("\n")
    );
}

fn rel(p: &Path) -> String {
    p.strip_prefix(root()).unwrap_or(p).display().to_string()
}
