//! The multi-line form of a syntax tree, as Prometheus's `promql/parser.Prettify` lays it out.
//!
//! A node whose one-line form fits in the line width is printed on one line; a longer one is split:
//! aggregations, calls and parentheses put their contents on the lines between the opening and
//! the closing bracket, binary operations put each operand and the operator on lines of their own.
//! Each nesting level indents by two spaces. Selectors, literals and the range or subquery suffix
//! are never split.

use std::fmt::Write;

use crate::parser::ast::Expr;
use crate::parser::printer::{
    is_plus_inf_pow_base, write_aggregate_head, write_binary_operator, write_subquery_suffix,
};

/// The line width Prometheus lays queries out for.
const DEFAULT_WIDTH: usize = 100;

/// The multi-line form of `expr`, laid out for lines of 100 columns as Prometheus's `Prettify`.
///
/// ```
/// use ferroprom::parser::{Expr, NumberLiteral, Span, prettify};
/// let one = Expr::Number(NumberLiteral { value: 1.0, duration: false, span: Span::default() });
/// assert_eq!(prettify(&one), "1");
/// ```
pub fn prettify(expr: &Expr) -> String {
    prettify_width(expr, DEFAULT_WIDTH)
}

/// The multi-line form of `expr` for lines of `width` bytes: a node is split when its one-line
/// form is longer than `width`.
pub fn prettify_width(expr: &Expr, width: usize) -> String {
    let mut out = String::new();
    Layout { width, out: &mut out }.node(expr, 0);
    out
}

struct Layout<'a> {
    width: usize,
    out: &'a mut String,
}

impl Layout<'_> {
    /// Whether the one-line form of `e` is too long for a line (measured in bytes, as upstream).
    fn too_long(&self, e: &Expr) -> bool {
        e.to_string().len() > self.width
    }

    fn indent(&mut self, level: usize) {
        for _ in 0..level {
            self.out.push_str("  ");
        }
    }

    /// Appends the one-line form of `e`.
    fn line(&mut self, e: &Expr) {
        // Writing into a `String` cannot fail.
        let _ = write!(self.out, "{e}");
    }

    /// Appends `e` laid out at nesting `level`; the caller has started a new line (or is at the
    /// very start), and `e` writes its own indentation.
    fn node(&mut self, e: &Expr, level: usize) {
        match e {
            Expr::Aggregate(a) if self.too_long(e) => {
                self.indent(level);
                let _ = write_aggregate_head(self.out, a);
                self.out.push_str("(\n");
                if let Some(param) = &a.param {
                    self.node(param, level + 1);
                    self.out.push_str(",\n");
                }
                self.node(&a.expr, level + 1);
                self.out.push('\n');
                self.indent(level);
                self.out.push(')');
            }
            Expr::Binary(b) if self.too_long(e) => {
                if is_plus_inf_pow_base(b) {
                    self.indent(level + 1);
                    self.out.push_str("Inf");
                } else {
                    self.node(&b.lhs, level + 1);
                }
                self.out.push('\n');
                self.indent(level);
                let _ = write_binary_operator(self.out, b);
                self.out.push('\n');
                self.node(&b.rhs, level + 1);
            }
            Expr::Call(c) if self.too_long(e) => {
                self.indent(level);
                self.out.push_str(c.func.name);
                self.out.push_str("(\n");
                for (i, arg) in c.args.iter().enumerate() {
                    if i > 0 {
                        self.out.push_str(",\n");
                    }
                    self.node(arg, level + 1);
                }
                self.out.push('\n');
                self.indent(level);
                self.out.push(')');
            }
            Expr::Paren(p) if self.too_long(e) => {
                self.indent(level);
                self.out.push_str("(\n");
                self.node(&p.expr, level + 1);
                self.out.push('\n');
                self.indent(level);
                self.out.push(')');
            }
            Expr::Subquery(s) => {
                if self.too_long(e) {
                    self.node(&s.expr, level);
                    let _ = write_subquery_suffix(self.out, s);
                } else {
                    // Upstream prints a subquery that fits without indenting it.
                    self.line(e);
                }
            }
            Expr::Unary(u) => {
                // The operand is laid out at the same level, then its leading and trailing
                // whitespace is dropped so that the operator carries the indentation.
                let mut operand = String::new();
                Layout { width: self.width, out: &mut operand }.node(&u.expr, level);
                self.indent(level);
                self.out.push_str(u.op.as_str());
                self.out.push_str(operand.trim());
            }
            _ => {
                self.indent(level);
                self.line(e);
            }
        }
    }
}
