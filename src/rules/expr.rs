//! The PromQL check of rule expressions.

use crate::parser::{Expr, ParseOptions, parse_with};

/// Parses a rule's expression under `options`; the error is the parser's first message, as
/// Prometheus prints it (`1:6: parse error: unexpected end of input`).
pub(crate) fn check(text: &str, options: &ParseOptions) -> Result<Expr, String> {
    parse_with(text, options).map_err(|e| e.to_string())
}
