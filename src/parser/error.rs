//! Parse errors, printed as Prometheus prints them: `L:C: parse error: <message>`.

use std::fmt;

use crate::parser::ast::Span;

/// One problem found in a query: what is wrong and where.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ParseErrorDetail {
    /// The message, in Prometheus's words (`unexpected end of input`).
    pub message: String,
    /// The byte range of the input the message is about.
    pub span: Span,
    /// 1-based line of `span.start`; `0` when the position is unknown (the query is empty).
    pub line: usize,
    /// 1-based column of `span.start`, counted in bytes; `0` when the position is unknown.
    pub column: usize,
}

/// Line and column lookup for byte offsets of one input.
pub(crate) struct Positions<'a> {
    input: &'a str,
    /// Byte offsets of every `\n`.
    newlines: Vec<usize>,
}

impl<'a> Positions<'a> {
    pub(crate) fn new(input: &'a str) -> Positions<'a> {
        Positions {
            input,
            newlines: input.bytes().enumerate().filter(|(_, b)| *b == b'\n').map(|(i, _)| i).collect(),
        }
    }

    /// A detail for `message` at `start..end`, with line and column computed as Prometheus
    /// computes them.
    pub(crate) fn detail(&self, message: String, start: usize, end: usize) -> ParseErrorDetail {
        let (line, column) = if self.input.is_empty() {
            (0, 0)
        } else {
            let start = start.min(self.input.len());
            let breaks = self.newlines.partition_point(|&i| i < start);
            let column = match breaks.checked_sub(1).and_then(|k| self.newlines.get(k)) {
                Some(&nl) => start - nl,
                None => start + 1,
            };
            (1 + breaks, column)
        };
        ParseErrorDetail { message, span: Span::new(start, end), line, column }
    }
}

impl fmt::Display for ParseErrorDetail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "unknown position: parse error: {}", self.message)
        } else {
            write!(f, "{}:{}: parse error: {}", self.line, self.column, self.message)
        }
    }
}

/// Why a query could not be parsed: every problem found, in the order Prometheus finds them.
///
/// It displays as its first problem, as Prometheus does:
///
/// ```
/// let err = ferroprom::parser::parse("sum(rate(x[5m])").unwrap_err();
/// assert_eq!(err.to_string(), "1:16: parse error: unclosed left parenthesis");
/// assert_eq!(err.message(), "unclosed left parenthesis");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub struct ParseError {
    /// Every problem, first found first; never empty.
    pub errors: Vec<ParseErrorDetail>,
}

impl ParseError {
    /// The first problem.
    pub fn first(&self) -> Option<&ParseErrorDetail> {
        self.errors.first()
    }

    /// The message of the first problem.
    pub fn message(&self) -> &str {
        self.first().map_or("", |d| d.message.as_str())
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.first() {
            Some(d) => d.fmt(f),
            None => f.write_str("error contains no error message"),
        }
    }
}
