//! Type checking of a parsed tree, rule for rule as Prometheus's `checkAST`: argument counts and
//! types of calls, operand types of operators, vector matching, selectors that select nothing.
//!
//! It also settles the vector matching of binary expressions as upstream does: set operators are
//! many-to-many, and operations with a scalar side have no matching.

use crate::model::MatchOp;
use crate::parser::ast::*;
use crate::parser::lexer::go_quote;
use crate::parser::syntax::RawError;

const RED_ZONE: usize = 64 * 1024;
const STACK_GROWTH: usize = 1024 * 1024;

pub(crate) struct Checker<'a> {
    input: &'a str,
    pub errors: Vec<RawError>,
}

impl<'a> Checker<'a> {
    pub(crate) fn new(input: &'a str) -> Checker<'a> {
        Checker { input, errors: Vec::new() }
    }

    fn error(&mut self, span: Span, message: impl Into<String>) {
        self.errors.push(RawError { message: message.into(), start: span.start, end: span.end });
    }

    /// Checks `e` and returns its type.
    pub(crate) fn check(&mut self, e: &mut Expr) -> ValueType {
        stacker::maybe_grow(RED_ZONE, STACK_GROWTH, || self.check_node(e, false))
    }

    fn expect_type(&mut self, e: &mut Expr, want: ValueType, context: &str) {
        let t = self.check(e);
        if t != want {
            self.error(
                e.span(),
                format!("expected type {} in {context}, got {}", want.document_name(), t.document_name()),
            );
        }
    }

    /// The range of a binary expression's operator (and modifiers): from the end of the left
    /// operand to the start of the right one, white space trimmed.
    fn op_range(&self, b: &BinaryExpr) -> Span {
        let bytes = self.input.as_bytes();
        let is_space = |i: usize| bytes.get(i).is_some_and(|c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'));
        let mut start = b.lhs.span().end;
        while is_space(start) {
            start += 1;
        }
        let mut end = b.rhs.span().start.saturating_sub(1);
        while end > start && is_space(end) {
            end -= 1;
        }
        Span::new(start, end)
    }

    fn check_node(&mut self, e: &mut Expr, bypass_empty_check: bool) -> ValueType {
        let span = e.span();
        // The type is worked out from the children's (already computed) types: asking a deep tree
        // for its type would recurse down all of it again.
        match e {
            Expr::Aggregate(a) => {
                self.expect_type(&mut a.expr, ValueType::Vector, "aggregation expression");
                let want = match a.op {
                    AggregateOp::Topk
                    | AggregateOp::Bottomk
                    | AggregateOp::Quantile
                    | AggregateOp::Limitk
                    | AggregateOp::LimitRatio => Some(ValueType::Scalar),
                    AggregateOp::CountValues => Some(ValueType::String),
                    _ => None,
                };
                if let (Some(want), Some(p)) = (want, a.param.as_mut()) {
                    self.expect_type(p, want, "aggregation parameter");
                }
            }
            Expr::Binary(b) => return self.check_binary(b, span),
            Expr::Call(c) => self.check_call(c),
            Expr::Paren(p) => return self.check(&mut p.expr),
            Expr::Unary(u) => {
                let t = self.check(&mut u.expr);
                if t != ValueType::Scalar && t != ValueType::Vector {
                    self.error(
                        span,
                        format!(
                            "unary expression only allowed on expressions of type scalar or instant vector, got {}",
                            go_quote(t.document_name())
                        ),
                    );
                }
                return t;
            }
            Expr::Subquery(s) => {
                let t = self.check(&mut s.expr);
                if t != ValueType::Vector {
                    self.error(
                        span,
                        format!("subquery is only allowed on instant vector, got {} instead", t.api_name()),
                    );
                }
            }
            Expr::MatrixSelector(m) => self.check_selector(&m.vector, false),
            Expr::VectorSelector(vs) => self.check_selector(vs, bypass_empty_check),
            Expr::Number(_) | Expr::String(_) => {}
        }
        e.value_type()
    }

    fn check_selector(&mut self, vs: &VectorSelector, bypass_empty_check: bool) {
        if let Some(name) = &vs.name {
            let others = &vs.matchers[..vs.matchers.len().saturating_sub(1)];
            for m in others.iter().filter(|m| m.name == "__name__") {
                let msg = format!(
                    "metric name must not be set twice: {} or {}",
                    go_quote(name),
                    go_quote(&m.value)
                );
                self.error(vs.span, msg);
            }
            return;
        }
        // Plain matchers first: a regex is compiled (on its first use) only when they all match
        // the empty string.
        let is_regex = |m: &&crate::model::Matcher| matches!(m.op, MatchOp::Regex | MatchOp::NotRegex);
        if !bypass_empty_check
            && vs.matchers.iter().filter(|m| !is_regex(m)).all(|m| m.matches_empty())
            && vs.matchers.iter().filter(is_regex).all(|m| m.matches_empty())
        {
            self.error(vs.span, "vector selector must contain at least one non-empty matcher");
        }
    }

    fn check_binary(&mut self, b: &mut BinaryExpr, span: Span) -> ValueType {
        let lt = self.check(&mut b.lhs);
        let rt = self.check(&mut b.rhs);
        let op = b.op;
        if b.return_bool && !op.is_comparison() {
            let r = self.op_range(b);
            self.error(r, "bool modifier can only be used on comparison operators");
        }
        if op.is_comparison() && !b.return_bool && lt == ValueType::Scalar && rt == ValueType::Scalar {
            let r = self.op_range(b);
            self.error(r, "comparisons between scalars must use BOOL modifier");
        }
        let r = self.op_range(b);
        if let Some(m) = b.matching.as_mut() {
            if op.is_set() && m.card == Cardinality::OneToOne {
                m.card = Cardinality::ManyToMany;
            }
            if m.on {
                for l1 in &m.labels {
                    if m.include.contains(l1) {
                        let msg =
                            format!("label {} must not occur in ON and GROUP clause at once", go_quote(l1));
                        self.errors.push(RawError { message: msg, start: r.start, end: r.end });
                    }
                }
            }
        }
        if lt != ValueType::Scalar && lt != ValueType::Vector {
            self.error(b.lhs.span(), "binary expression must contain only scalar and instant vector types");
        }
        if rt != ValueType::Scalar && rt != ValueType::Vector {
            self.error(b.rhs.span(), "binary expression must contain only scalar and instant vector types");
        }
        let has_fill = |m: &VectorMatching| m.fill.lhs.is_some() || m.fill.rhs.is_some();
        if (lt != ValueType::Vector || rt != ValueType::Vector) && b.matching.is_some() {
            if let Some(m) = &b.matching {
                if !m.labels.is_empty() {
                    self.error(span, "vector matching only allowed between instant vectors");
                }
                if has_fill(m) {
                    self.error(span, "filling in missing series only allowed between instant vectors");
                }
            }
            b.matching = None;
        } else if op.is_set()
            && let Some(m) = &b.matching
        {
            if matches!(m.card, Cardinality::OneToMany | Cardinality::ManyToOne) {
                self.error(span, format!("no grouping allowed for {} operation", go_quote(op.as_str())));
            }
            if m.card != Cardinality::ManyToMany {
                self.error(span, "set operations must always be many-to-many");
            }
            if has_fill(m) {
                self.error(span, "filling in missing series not allowed for set operators");
            }
        }
        if (lt == ValueType::Scalar || rt == ValueType::Scalar) && op.is_set() {
            self.error(
                span,
                format!("set operator {} not allowed in binary scalar expression", go_quote(op.as_str())),
            );
        }
        if lt == ValueType::Scalar && rt == ValueType::Scalar { ValueType::Scalar } else { ValueType::Vector }
    }

    fn check_call(&mut self, c: &mut Call) {
        let f = c.func;
        let nargs = f.arg_types.len();
        // Formatted only when an error needs it: calls are common, errors are not.
        let name = || go_quote(f.name);
        if f.variadic == 0 {
            if nargs != c.args.len() {
                self.error(
                    c.span,
                    format!("expected {nargs} argument(s) in call to {}, got {}", name(), c.args.len()),
                );
            }
        } else {
            let na = nargs.saturating_sub(1);
            if na > c.args.len() {
                self.error(
                    c.span,
                    format!("expected at least {na} argument(s) in call to {}, got {}", name(), c.args.len()),
                );
            } else if f.variadic > 0 {
                let max = na + f.variadic as usize;
                if max < c.args.len() {
                    self.error(
                        c.span,
                        format!(
                            "expected at most {max} argument(s) in call to {}, got {}",
                            name(),
                            c.args.len()
                        ),
                    );
                }
            }
        }
        let mut bypass_second = false;
        if f.name == "info" && c.args.len() > 1 {
            let t = type_of(&c.args[1]);
            if t != ValueType::Vector {
                self.error(
                    c.span,
                    format!(
                        "expected type instant vector in call to function {}, got {}",
                        name(),
                        t.document_name()
                    ),
                );
            }
            match &c.args[1] {
                Expr::VectorSelector(vs) if vs.name.is_some() => {
                    let s = vs.span;
                    self.error(s, "expected label selectors only, got vector selector instead");
                }
                Expr::VectorSelector(_) => bypass_second = true,
                other => {
                    let s = other.span();
                    self.error(s, "expected label selectors only");
                }
            }
        }
        for (i, arg) in c.args.iter_mut().enumerate() {
            let idx = if i >= nargs {
                if f.variadic == 0 || nargs == 0 {
                    break;
                }
                nargs - 1
            } else {
                i
            };
            let t =
                stacker::maybe_grow(RED_ZONE, STACK_GROWTH, || self.check_node(arg, bypass_second && i == 1));
            let want = f.arg_types[idx];
            if t != want {
                self.error(
                    arg.span(),
                    format!(
                        "expected type {} in call to function {}, got {}",
                        want.document_name(),
                        name(),
                        t.document_name()
                    ),
                );
            }
        }
    }
}

/// The type of `e`, without risking the stack on deep trees.
fn type_of(e: &Expr) -> ValueType {
    stacker::maybe_grow(RED_ZONE, STACK_GROWTH, || match e {
        Expr::Paren(p) => type_of(&p.expr),
        Expr::Unary(u) => type_of(&u.expr),
        Expr::Binary(b) => {
            if type_of(&b.lhs) == ValueType::Scalar && type_of(&b.rhs) == ValueType::Scalar {
                ValueType::Scalar
            } else {
                ValueType::Vector
            }
        }
        other => other.value_type(),
    })
}
