//! Exponential native-histogram bucket bounds against the ones measured from Prometheus
//! (`testdata/histogram-bounds/cases.txt`, written by `examples/histogram_bounds.rs`): every line
//! `sign schema index lower upper` must be what [`exponential_bound`] gives, bit for bit.

use ferroprom::model::exponential_bound;

fn parse(s: &str) -> f64 {
    match s {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        _ => s.parse().unwrap(),
    }
}

/// The bounds of bucket `index` of one side of a histogram with `schema`: positive buckets are
/// `(bound(index - 1), bound(index)]`, negative ones their mirror image.
fn check(sign: &str, schema: i32, index: i64, lower: f64, upper: f64) -> Option<String> {
    let (lo, hi) = match sign {
        "+" => (exponential_bound(index - 1, schema), exponential_bound(index, schema)),
        _ => (-exponential_bound(index, schema), -exponential_bound(index - 1, schema)),
    };
    (lo.to_bits() != lower.to_bits() || hi.to_bits() != upper.to_bits()).then(|| {
        format!("{sign} schema {schema} index {index}: want ({lower:e}, {upper:e}), got ({lo:e}, {hi:e})")
    })
}

#[test]
fn bounds_measured_from_prometheus() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/histogram-bounds/cases.txt"))
            .unwrap();
    let mut cases = 0;
    let mut failures = Vec::new();
    for line in text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty()) {
        let f: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(f.len(), 5, "bad line {line:?}");
        cases += 1;
        failures.extend(check(f[0], f[1].parse().unwrap(), f[2].parse().unwrap(), parse(f[3]), parse(f[4])));
    }
    assert!(cases > 300, "only {cases} cases");
    assert!(failures.is_empty(), "{} of {cases} cases differ:\n{}", failures.len(), failures.join("\n"));
}

/// `ferroprom query --format json` for a schema-3 histogram (`schema3.load`) answers exactly what
/// Prometheus answered to `/api/v1/query` for the same histogram (`schema3.json`).
#[test]
fn api_json_matches_prometheus() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/histogram-bounds");
    let want = std::fs::read_to_string(format!("{dir}/schema3.json")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_ferroprom"))
        .args(["query", "--data", &format!("{dir}/schema3.load"), "--time", "60", "--format", "json"])
        .arg("schema3")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim_end(), want.trim_end());
}
