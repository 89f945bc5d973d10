//! The PromQL check of rule expressions.

use crate::parser::ParseOptions;

/// Checks that `text` parses as PromQL under `options`; the error is the parser's message
/// (`1:6: parse error: ...`).
pub(crate) fn check(text: &str, options: &ParseOptions) -> Result<(), String> {
    // The PromQL parser is being written on the `parser` branch; until it is merged, expressions are
    // accepted unchecked (a known gap listed in testdata/rules/expected-failures.txt).
    let _ = (text, options);
    Ok(())
}
