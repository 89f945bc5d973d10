//! PromQL text to syntax tree, and back.
//!
//! [`parse`] accepts exactly the language Prometheus 3.x accepts (with the feature switches of
//! [`ParseOptions`]) and type-checks the result as Prometheus does. Printing an [`Expr`] with
//! `Display` gives Prometheus's canonical form.
//!
//! # Design
//!
//! Parsing has three stages, each mirroring a part of Prometheus's parser so that errors come out
//! with the same words at the same positions:
//!
//! 1. **Lexing** (`lexer.rs`). A state machine like upstream's `lex.go` decides which token shapes
//!    are valid where (inside braces, right after `[`, inside a bracket), which is what makes lexical
//!    errors read `unexpected character inside braces: ':'`; the shapes are scanned over the bytes.
//! 2. **Syntax** (`syntax.rs`). Recursive descent with precedence climbing over the token stream.
//!    Upstream's grammar is yacc, and its syntax-error messages (`unexpected <op:*>`,
//!    `unexpected identifier "b" in label matching, expected string`) are defined in terms of its
//!    token stream and its `error` productions; a hand-written descent over the same tokens can
//!    reproduce them construct by construct, which a PEG over characters cannot.
//! 3. **Checking** (`check.rs`). Upstream's `checkAST`: argument counts and types, operand types,
//!    vector matching.
//!
//! # Limits
//!
//! Nesting deeper than [`ParseOptions::max_depth`] (parentheses, calls, operator chains: the depth
//! of the resulting tree) is rejected with an error, so that no input can exhaust the stack of the
//! parser or of code walking the tree; parsing takes time linear in the input.

mod check;
mod error;
mod lexer;
mod literal;
mod syntax;

pub mod ast;
mod functions;
mod prettier;
mod printer;
pub mod series;

pub use ast::*;
pub use error::{ParseError, ParseErrorDetail};
pub use functions::{FUNCTIONS, Function, function};
pub use prettier::{prettify, prettify_width};

use crate::model::Matcher;

/// Parses a PromQL expression with the default [`ParseOptions`] (no experimental features).
///
/// ```
/// use ferroprom::parser::{Expr, parse};
/// let e = parse("rate(http_requests_total{job=\"api\"}[5m])")?;
/// assert!(matches!(e, Expr::Call(_)));
/// assert_eq!(parse("1 +").unwrap_err().to_string(), "1:4: parse error: unexpected end of input");
/// # Ok::<(), ferroprom::parser::ParseError>(())
/// ```
pub fn parse(input: &str) -> Result<Expr, ParseError> {
    parse_with(input, &ParseOptions::default())
}

/// Parses a PromQL expression with the given options.
///
/// ```
/// use ferroprom::parser::{ParseOptions, parse_with};
/// let opts = ParseOptions { experimental_functions: true, ..ParseOptions::default() };
/// assert!(parse_with("limitk(2, up)", &opts).is_ok());
/// assert!(parse_with("limitk(2, up)", &ParseOptions::default()).is_err());
/// ```
pub fn parse_with(input: &str, opts: &ParseOptions) -> Result<Expr, ParseError> {
    let lexed = lexer::tokenize_into(input, TOKENS.take());
    let mut parser = syntax::Parser::new(input, lexed, opts);
    let parsed = parser.parse_query();
    let mut raw = std::mem::take(&mut parser.errors);
    let tokens = parser.into_tokens();
    if tokens.capacity() <= KEPT_TOKENS {
        TOKENS.set(tokens);
    }
    if let (Ok(mut expr), true) = (parsed, raw.is_empty()) {
        let mut checker = check::Checker::new(input);
        checker.check(&mut expr);
        if checker.errors.is_empty() {
            return Ok(expr);
        }
        raw = checker.errors;
        drop_flat(expr);
    }
    let positions = error::Positions::new(input);
    let errors = raw.into_iter().map(|e| positions.detail(e.message, e.start, e.end)).collect();
    Err(ParseError { errors })
}

thread_local! {
    /// The token buffer of the last parse on this thread, reused by the next one (queries are
    /// parsed over and over by rule groups and APIs; this saves an allocation per parse).
    static TOKENS: std::cell::Cell<Vec<lexer::Token>> = const { std::cell::Cell::new(Vec::new()) };
}

/// The largest token buffer kept for reuse (a few hundred KiB), so that one huge query does not
/// pin its memory.
const KEPT_TOKENS: usize = 16 * 1024;

/// Drops a tree without recursion, so that a deep tree (possible when `max_depth` is raised) cannot
/// exhaust the stack.
fn drop_flat(e: Expr) {
    let mut stack = vec![e];
    while let Some(e) = stack.pop() {
        match e {
            Expr::Binary(b) => {
                stack.push(*b.lhs);
                stack.push(*b.rhs);
            }
            Expr::Unary(u) => stack.push(*u.expr),
            Expr::Paren(p) => stack.push(*p.expr),
            Expr::Subquery(s) => stack.push(*s.expr),
            Expr::Aggregate(a) => {
                stack.push(*a.expr);
                if let Some(p) = a.param {
                    stack.push(*p);
                }
            }
            Expr::Call(c) => stack.extend(c.args),
            Expr::Number(_) | Expr::String(_) | Expr::VectorSelector(_) | Expr::MatrixSelector(_) => {}
        }
    }
}

/// The label matchers of every vector selector in `expr`, in the order they appear (Prometheus's
/// `ExtractSelectors`). A selector's metric name is its last matcher.
///
/// ```
/// let e = ferroprom::parser::parse("foo{a=\"b\"} / bar")?;
/// let sels: Vec<Vec<String>> = ferroprom::parser::extract_selectors(&e)
///     .iter()
///     .map(|ms| ms.iter().map(|m| m.to_string()).collect())
///     .collect();
/// assert_eq!(sels, [vec!["a=\"b\"", "__name__=\"foo\""], vec!["__name__=\"bar\""]]);
/// let e = ferroprom::parser::parse("topk(scalar(k), x)")?;
/// let names: Vec<String> =
///     ferroprom::parser::extract_selectors(&e).iter().map(|ms| ms[0].value.clone()).collect();
/// assert_eq!(names, ["x", "k"]);
/// # Ok::<(), ferroprom::parser::ParseError>(())
/// ```
pub fn extract_selectors(expr: &Expr) -> Vec<Vec<Matcher>> {
    let mut out = Vec::new();
    let mut stack = vec![expr];
    while let Some(e) = stack.pop() {
        match e {
            Expr::VectorSelector(vs) => out.push(vs.matchers.clone()),
            Expr::MatrixSelector(m) => out.push(m.vector.matchers.clone()),
            Expr::Subquery(s) => stack.push(&s.expr),
            Expr::Paren(p) => stack.push(&p.expr),
            Expr::Unary(u) => stack.push(&u.expr),
            Expr::Binary(b) => {
                stack.push(&b.rhs);
                stack.push(&b.lhs);
            }
            Expr::Aggregate(a) => {
                // Upstream visits the aggregated expression before the parameter.
                if let Some(p) = &a.param {
                    stack.push(p);
                }
                stack.push(&a.expr);
            }
            Expr::Call(c) => stack.extend(c.args.iter().rev()),
            Expr::Number(_) | Expr::String(_) => {}
        }
    }
    out
}

/// Feature switches of the parser, mirroring Prometheus's parser options.
///
/// `Default` gives upstream's defaults (every experimental feature off).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseOptions {
    /// Accept experimental functions and aggregations (`--enable-feature=promql-experimental-functions`).
    pub experimental_functions: bool,
    /// Accept duration expressions (`--enable-feature=promql-duration-expr`).
    pub duration_expressions: bool,
    /// Accept `anchored`/`smoothed` (`--enable-feature=promql-extended-range-selectors`).
    pub extended_range_selectors: bool,
    /// Accept `fill`/`fill_left`/`fill_right` on binary operators (`--enable-feature=promql-binop-fill-modifiers`).
    pub binop_fill_modifiers: bool,
    /// The deepest nesting of expressions accepted (the depth of the tree, counting every node from
    /// the root); deeper input is rejected with an error instead of risking the stack.
    ///
    /// The parser itself copes with any limit, but code that walks or drops the tree recurses
    /// through it: raise the limit far beyond the default only on a thread with a stack to match.
    pub max_depth: usize,
}

impl Default for ParseOptions {
    fn default() -> ParseOptions {
        ParseOptions {
            experimental_functions: false,
            duration_expressions: false,
            extended_range_selectors: false,
            binop_fill_modifiers: false,
            max_depth: 1000,
        }
    }
}

impl ParseOptions {
    /// Every feature switched on, as Prometheus's test engine parses.
    pub fn all_features() -> ParseOptions {
        ParseOptions {
            experimental_functions: true,
            duration_expressions: true,
            extended_range_selectors: true,
            binop_fill_modifiers: true,
            ..ParseOptions::default()
        }
    }
}
