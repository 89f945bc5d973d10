//! PromQL text to syntax tree, and back.
//!
//! [`parse`] accepts exactly the language Prometheus 3.x accepts (with the feature switches of
//! [`ParseOptions`]) and type-checks the result as Prometheus does. Printing an [`Expr`] with
//! `Display` gives Prometheus's canonical form.

pub mod ast;
mod functions;
pub mod series;

pub use ast::*;
pub use functions::{FUNCTIONS, Function, function};

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
    /// The deepest nesting of expressions accepted; deeper input is rejected with an error.
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
