//! The unit-test file format (`rule_files`, `evaluation_interval`, `tests`, ...), decoded strictly:
//! an unknown key is an error, reported in the words of Go's YAML decoder as promtool reports it.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::rules::duration::parse_duration;
use crate::rules::file::{yaml_error, yaml_options};

/// A whole test file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestFile {
    /// Rule files (globs), relative to the test file's directory unless absolute.
    #[serde(default)]
    pub rule_files: Vec<String>,
    /// Time between rule evaluations (default 1m, also when written as 0).
    #[serde(default)]
    pub evaluation_interval: Option<GoDuration>,
    /// Names of rule groups in the order they are evaluated.
    #[serde(default)]
    pub group_eval_order: Vec<String>,
    /// The test groups.
    #[serde(default)]
    pub tests: Vec<TestGroup>,
    /// Accept a one-ULP difference between expected and actual floats.
    #[serde(default)]
    pub fuzzy_compare: bool,
}

/// One item of `tests:`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TestGroup {
    /// Spacing of `input_series` samples (default: the file's `evaluation_interval`).
    #[serde(default)]
    pub interval: Option<GoDuration>,
    /// The input series.
    #[serde(default)]
    pub input_series: Vec<InputSeries>,
    /// Alert expectations.
    #[serde(default)]
    pub alert_rule_test: Vec<AlertTest>,
    /// Expression expectations.
    #[serde(default)]
    pub promql_expr_test: Vec<ExprTest>,
    /// Labels alert templates see as `$externalLabels`.
    #[serde(default)]
    pub external_labels: BTreeMap<String, String>,
    /// The URL alert templates see as `$externalURL`.
    #[serde(default)]
    pub external_url: String,
    /// The group's name (for `--run`, reports and JUnit).
    #[serde(default)]
    pub name: String,
    /// When the test starts: Unix seconds or RFC 3339 (default: the Unix epoch).
    #[serde(default)]
    pub start_timestamp: Option<StartTimestamp>,
}

/// One input series: a metric and its values in series notation.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputSeries {
    /// The metric (`up{job="api"}`).
    #[serde(default)]
    pub series: ScalarText,
    /// The values (`0+1x10 _ stale`).
    #[serde(default)]
    pub values: ScalarText,
}

/// One item of `alert_rule_test:`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertTest {
    /// When to check, relative to the start.
    #[serde(default)]
    pub eval_time: GoDuration,
    /// The alerting rule's name.
    #[serde(default)]
    pub alertname: String,
    /// The complete list of firing alerts expected.
    #[serde(default)]
    pub exp_alerts: Vec<ExpectedAlert>,
}

/// One expected alert.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedAlert {
    /// Its labels, without `alertname` (added automatically).
    #[serde(default)]
    pub exp_labels: BTreeMap<String, String>,
    /// Its expanded annotations.
    #[serde(default)]
    pub exp_annotations: BTreeMap<String, String>,
}

/// One item of `promql_expr_test:`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExprTest {
    /// The expression.
    #[serde(default)]
    pub expr: String,
    /// When to evaluate it, relative to the start.
    #[serde(default)]
    pub eval_time: GoDuration,
    /// The complete expected result.
    #[serde(default)]
    pub exp_samples: Vec<ExpectedSample>,
}

/// One expected sample.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedSample {
    /// The labels in metric notation (`""` = no labels).
    #[serde(default)]
    pub labels: String,
    /// The float value.
    #[serde(default)]
    pub value: f64,
    /// A native histogram in series notation (`{{count:2 sum:3 buckets:[2]}}`).
    #[serde(default)]
    pub histogram: String,
}

/// A scalar read as the text it is written as (`values: 1` is the string `1`), as Go's YAML decoder
/// fills a string field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScalarText(pub String);

impl<'de> Deserialize<'de> for ScalarText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = ScalarText;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<ScalarText, E> {
                Ok(ScalarText(v.to_string()))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<ScalarText, E> {
                Ok(ScalarText(String::new()))
            }
        }
        d.deserialize_str(V)
    }
}

/// A Prometheus duration (`5m`, `1h30m`, `0`), in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct GoDuration(pub i64);

impl<'de> Deserialize<'de> for GoDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = ScalarText::deserialize(d)?.0;
        let parsed = parse_duration(&text).map_err(serde::de::Error::custom)?;
        Ok(GoDuration(i64::try_from(parsed.as_millis()).unwrap_or(i64::MAX)))
    }
}

/// `start_timestamp`: Unix seconds (fractions allowed) or an RFC 3339 time, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StartTimestamp(pub i64);

impl<'de> Deserialize<'de> for StartTimestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = ScalarText::deserialize(d)?.0;
        parse_start_timestamp(&text).map(StartTimestamp).map_err(serde::de::Error::custom)
    }
}

/// Parses `start_timestamp` as promtool does: a float of Unix seconds, else RFC 3339.
pub fn parse_start_timestamp(text: &str) -> Result<i64, String> {
    let invalid = || format!("cannot parse {} to a valid timestamp", crate::model::go_quote(text));
    if let Some(secs) = crate::promqltest::parse_number(text) {
        if !secs.is_finite() {
            return Err(invalid());
        }
        // Go converts the seconds to nanoseconds and truncates; milliseconds suffice here.
        return Ok((secs * 1000.0).floor() as i64);
    }
    chrono::DateTime::parse_from_rfc3339(text).map(|t| t.timestamp_millis()).map_err(|_| invalid())
}

/// The Go type each struct stands for in promtool, known by its field list (for error texts).
fn go_type_of(expected: &str) -> &'static str {
    if expected.contains("rule_files") {
        "main.unitTestFile"
    } else if expected.contains("input_series") {
        "main.testGroup"
    } else if expected.contains("values") {
        "main.series"
    } else if expected.contains("alertname") {
        "main.alertTestCase"
    } else if expected.contains("exp_labels") {
        "main.alert"
    } else if expected.contains("exp_samples") {
        "main.promqlTestCase"
    } else {
        "main.sample"
    }
}

/// Decodes a test file strictly. Errors are worded as promtool's (`yaml: unmarshal errors:` with
/// `line N: field X not found in type main.testGroup` for an unknown key).
pub fn decode(text: &str) -> Result<TestFile, String> {
    match serde_saphyr::from_str_with_options::<Option<TestFile>>(text, yaml_options()) {
        Ok(file) => Ok(file.unwrap_or_default()),
        Err(e) => {
            let message = e.to_string();
            if let Some(rest) = message.split("unknown field `").nth(1) {
                let field = rest.split('`').next().unwrap_or_default();
                let expected = rest.split("expected").nth(1).unwrap_or_default();
                let line = e.location().map_or(0, |l| l.line());
                return Err(format!(
                    "yaml: unmarshal errors:\n  line {line}: field {field} not found in type {}",
                    go_type_of(expected)
                ));
            }
            if message.contains("invalid floating point") {
                let line = e.location().map_or(0, |l| l.line());
                let column = e.location().map_or(0, |l| l.column());
                let scalar = text
                    .lines()
                    .nth((line as usize).saturating_sub(1))
                    .and_then(|l| l.get((column as usize).saturating_sub(1)..))
                    .unwrap_or_default()
                    .trim();
                let scalar = scalar.trim_matches(|c| c == '"' || c == '\'');
                return Err(format!(
                    "yaml: unmarshal errors:\n  line {line}: cannot unmarshal !!str `{scalar}` into float64"
                ));
            }
            // Errors of our own scalar parsers (durations, timestamps) are returned bare, as Go's
            // decoder returns an unmarshaler's error.
            let bare = message.strip_prefix("error: ").unwrap_or(&message);
            for known in
                ["not a valid duration string", "unknown unit", "cannot parse \"", "duration out of range"]
            {
                if let Some(at) = bare.find(known) {
                    let tail = &bare[at..];
                    let tail = tail.split(" at line ").next().unwrap_or(tail);
                    return Err(tail.trim_end().to_string());
                }
            }
            Err(yaml_error(&e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scalars_become_text_and_durations_parse() {
        let f = decode("evaluation_interval: 30s\ntests:\n- input_series:\n  - series: x\n    values: 1\n  promql_expr_test:\n  - expr: x\n    eval_time: 0\n").unwrap();
        assert_eq!(f.evaluation_interval, Some(GoDuration(30_000)));
        assert_eq!(f.tests[0].input_series[0].values.0, "1");
        assert_eq!(f.tests[0].promql_expr_test[0].eval_time, GoDuration(0));
    }

    #[test]
    fn unknown_field_in_go_words() {
        let e = decode("tests:\n- name: a\n  foo: 1\n").unwrap_err();
        assert_eq!(e, "yaml: unmarshal errors:\n  line 3: field foo not found in type main.testGroup");
    }

    #[test]
    fn start_timestamps() {
        assert_eq!(parse_start_timestamp("1609459200"), Ok(1_609_459_200_000));
        assert_eq!(parse_start_timestamp("2024-01-01T00:00:00Z"), Ok(1_704_067_200_000));
        assert_eq!(parse_start_timestamp("x").unwrap_err(), "cannot parse \"x\" to a valid timestamp");
    }
}
