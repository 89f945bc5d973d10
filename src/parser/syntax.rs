//! The syntax layer: tokens to a syntax tree, by recursive descent with precedence climbing.
//!
//! The grammar and its conflict resolutions are Prometheus's (`generated_parser.y`): binary
//! operators by the precedence table of [`BinaryOp::precedence`] (`^` right-associative), unary
//! `+`/`-` binding like `*` (so `-2^2` is `-(2^2)`), postfix modifiers (`[...]`, `offset`, `@`,
//! `anchored`, `smoothed`) binding tighter than any operator. Where the yacc grammar reports a
//! syntax error through one of its `error` productions, the same message is produced here by the
//! construct that owns that production (label matching, grouping options, offset, `@`, subquery
//! brackets, aggregations); anything else is reported as `unexpected <token>`.
//!
//! Semantic problems found while building nodes (unknown functions, bad durations, ...) are
//! recorded and parsing goes on, as upstream does; a syntax error stops parsing.

use crate::model::{MatchOp, Matcher};
use crate::parser::ParseOptions;
use crate::parser::ast::*;
use crate::parser::functions::function;
use crate::parser::lexer::{Kind, Lexed, Token, go_quote, unquote, unquote_bytes};
use crate::parser::literal;

/// An error recorded while parsing: message and byte range.
#[derive(Debug, Clone)]
pub(crate) struct RawError {
    pub message: String,
    pub start: usize,
    pub end: usize,
}

/// Parsing stopped at a syntax error (already recorded).
#[derive(Debug)]
pub(crate) struct Abort;

type PResult<T> = Result<T, Abort>;

/// An expression with the depth of its tree. The expression is boxed: nodes pass up through
/// several levels of the descent, and operators and calls keep their operands boxed anyway.
struct Node {
    expr: Box<Expr>,
    depth: usize,
    /// Set when `expr` stands for upstream's range selector around something that is not a
    /// selector (`rate(x[1m])[5m]`, already reported): the span upstream gives that node, whose
    /// modifiers are then refused as upstream refuses them.
    bad_range: Option<Span>,
}

/// Where the modifiers of a selector or subquery go, and the end of its span.
struct ModifierTarget<'n> {
    offset: &'n mut Option<DurationSpec>,
    at: &'n mut Option<AtModifier>,
    end: &'n mut usize,
}

impl Node {
    fn new(expr: Expr, depth: usize) -> Node {
        Node { expr: Box::new(expr), depth, bad_range: None }
    }
}

/// Stack kept free for recursion; more is allocated on the heap when less is left. The stack is
/// looked at every `STACK_CHECK_EVERY` levels, so the zone covers that many levels' frames.
const RED_ZONE: usize = 256 * 1024;
const STACK_CHECK_EVERY: usize = 4;
const STACK_GROWTH: usize = 1024 * 1024;

pub(crate) struct Parser<'a> {
    input: &'a str,
    tokens: Vec<Token>,
    lex_error: Option<String>,
    pos: usize,
    opts: &'a ParseOptions,
    pub errors: Vec<RawError>,
    depth: usize,
    in_aggregation: bool,
    /// A syntax error was reported "in aggregation": the aggregation owes upstream's follow-up error.
    aggregation_caught: bool,
    /// Operators, parentheses and functions in the duration expression being parsed.
    duration_nodes: usize,
}

/// The most operators, parentheses and functions one duration expression may have (whatever
/// `max_depth` is): their trees are walked recursively.
const MAX_DURATION_NODES: usize = 1000;

/// Duration contexts: (what, expected) of upstream's error productions.
type Ctx = (&'static str, &'static str);
const RANGE_CTX: Ctx = ("subquery or range selector", "number, duration, step(), or range()");
const STEP_CTX: Ctx = ("subquery selector", "number, duration, step(), range(), or \"]\"");
const OFFSET_CTX: Ctx = ("offset", "number, duration, step(), or range()");
const AT_CTX: Ctx = ("@", "timestamp");

fn binary_op(kind: Kind) -> Option<BinaryOp> {
    Some(match kind {
        Kind::Add => BinaryOp::Add,
        Kind::Sub => BinaryOp::Sub,
        Kind::Mul => BinaryOp::Mul,
        Kind::Div => BinaryOp::Div,
        Kind::Mod => BinaryOp::Mod,
        Kind::Pow => BinaryOp::Pow,
        Kind::Atan2 => BinaryOp::Atan2,
        Kind::Eqlc => BinaryOp::Eql,
        Kind::Neq => BinaryOp::Neq,
        Kind::Gtr => BinaryOp::Gtr,
        Kind::Lss => BinaryOp::Lss,
        Kind::Gte => BinaryOp::Gte,
        Kind::Lte => BinaryOp::Lte,
        Kind::TrimUpper => BinaryOp::TrimUpper,
        Kind::TrimLower => BinaryOp::TrimLower,
        Kind::Land => BinaryOp::And,
        Kind::Lor => BinaryOp::Or,
        Kind::Lunless => BinaryOp::Unless,
        _ => return None,
    })
}

fn duration_op(kind: Kind) -> Option<BinaryOp> {
    match kind {
        Kind::Add | Kind::Sub | Kind::Mul | Kind::Div | Kind::Mod | Kind::Pow => binary_op(kind),
        _ => None,
    }
}

/// Tokens that may name a metric (upstream's `metric_identifier`).
fn is_metric_identifier(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::Identifier
            | Kind::MetricIdentifier
            | Kind::Agg(_)
            | Kind::By
            | Kind::Without
            | Kind::Fill
            | Kind::FillLeft
            | Kind::FillRight
            | Kind::Land
            | Kind::Lor
            | Kind::Lunless
            | Kind::Offset
            | Kind::Start
            | Kind::End
            | Kind::Step
            | Kind::Range
            | Kind::Anchored
            | Kind::Smoothed
            | Kind::MaxOf
            | Kind::MinOf
    )
}

/// Tokens that may name a label in grouping options (upstream's `maybe_label`).
fn is_maybe_label(kind: Kind) -> bool {
    (is_metric_identifier(kind) && kind != Kind::Without)
        || matches!(
            kind,
            Kind::Bool | Kind::GroupLeft | Kind::GroupRight | Kind::Ignoring | Kind::On | Kind::Atan2
        )
}

fn match_op(kind: Kind) -> Option<MatchOp> {
    Some(match kind {
        Kind::Eql => MatchOp::Equal,
        Kind::Neq => MatchOp::NotEqual,
        Kind::EqlRegex => MatchOp::Regex,
        Kind::NeqRegex => MatchOp::NotRegex,
        _ => return None,
    })
}

fn duration_expr_span(d: &DurationExpr) -> Span {
    match d {
        DurationExpr::Number(n) => n.span,
        DurationExpr::Unary { span, .. }
        | DurationExpr::Min { span, .. }
        | DurationExpr::Max { span, .. }
        | DurationExpr::Paren { span, .. } => *span,
        DurationExpr::Binary { lhs, rhs, .. } => duration_expr_span(lhs).to(duration_expr_span(rhs)),
        DurationExpr::Step(s) | DurationExpr::Range(s) => *s,
    }
}

/// The parts of a binary operator's modifiers.
struct BinModifiers {
    return_bool: bool,
    matching: VectorMatching,
}

impl<'a> Parser<'a> {
    pub(crate) fn new(input: &'a str, lexed: Lexed, opts: &'a ParseOptions) -> Parser<'a> {
        Parser {
            input,
            tokens: lexed.tokens,
            lex_error: lexed.error,
            pos: 0,
            opts,
            errors: Vec::new(),
            depth: 0,
            in_aggregation: false,
            aggregation_caught: false,
            duration_nodes: 0,
        }
    }

    // ----- token access and errors -----

    /// The token buffer, for reuse.
    pub(crate) fn into_tokens(self) -> Vec<Token> {
        self.tokens
    }

    fn cur(&self) -> Token {
        let i = self.pos.min(self.tokens.len().saturating_sub(1));
        self.tokens.get(i).copied().unwrap_or(Token {
            kind: Kind::Eof,
            start: self.input.len(),
            end: self.input.len(),
        })
    }

    fn kind(&self) -> Kind {
        self.cur().kind
    }

    fn peek_kind(&self) -> Kind {
        let i = (self.pos + 1).min(self.tokens.len().saturating_sub(1));
        self.tokens.get(i).map_or(Kind::Eof, |t| t.kind)
    }

    fn advance(&mut self) -> Token {
        let t = self.cur();
        if self.pos + 1 < self.tokens.len() {
            self.pos += 1;
        }
        t
    }

    fn text(&self, t: Token) -> &'a str {
        t.text(self.input)
    }

    /// Records an error. When the token after the construct (upstream's lookahead) is a lexical
    /// error, upstream has usually read it, and so reported it, before acting on the construct:
    /// the lexical error goes first.
    fn error(&mut self, start: usize, end: usize, message: impl Into<String>) {
        self.lex_error_first();
        self.errors.push(RawError { message: message.into(), start, end });
    }

    /// Records the lexical error once, if the current token is one.
    fn lex_error_first(&mut self) {
        let t = self.cur();
        if t.kind == Kind::Error
            && let Some(msg) = self.lex_error.take()
        {
            self.errors.push(RawError { message: msg, start: t.start, end: t.end });
        }
    }

    fn error_at(&mut self, span: Span, message: impl Into<String>) {
        self.error(span.start, span.end, message);
    }

    /// Records upstream's `unexpected <token> in <context>, expected <expected>` for the current
    /// token (or the lexical error, when the current token is one) and stops.
    fn unexpected(&mut self, context: &str, expected: &str) -> Abort {
        let t = self.cur();
        if t.kind == Kind::Error {
            self.lex_error_first();
            return Abort;
        }
        let mut msg = format!("unexpected {}", t.describe(self.input));
        if !context.is_empty() {
            msg.push_str(" in ");
            msg.push_str(context);
        }
        if !expected.is_empty() {
            msg.push_str(", expected ");
            msg.push_str(expected);
        }
        self.error(t.start, t.end, msg);
        Abort
    }

    /// A syntax error inside an expression: within an aggregation's arguments upstream's
    /// `aggregate_op error` production names the context.
    fn unexpected_in_expr(&mut self) -> Abort {
        let ctx = if self.in_aggregation { "aggregation" } else { "" };
        self.aggregation_caught = self.in_aggregation;
        self.unexpected(ctx, "")
    }

    /// The end of the last closing token (`)`, `}`, `]`, number, duration) read so far, the
    /// end upstream gives nodes it builds while recovering from an error.
    fn last_closing(&self) -> usize {
        let upto = self.pos.min(self.tokens.len().saturating_sub(1));
        self.tokens[..=upto]
            .iter()
            .rev()
            .find(|t| {
                matches!(
                    t.kind,
                    Kind::RightBrace | Kind::RightParen | Kind::RightBracket | Kind::Duration | Kind::Number
                )
            })
            .map_or(0, |t| t.end)
    }

    fn expect(&mut self, kind: Kind, ctx: Ctx) -> PResult<Token> {
        if self.kind() == kind { Ok(self.advance()) } else { Err(self.unexpected(ctx.0, ctx.1)) }
    }

    fn expect_in_expr(&mut self, kind: Kind) -> PResult<Token> {
        if self.kind() == kind { Ok(self.advance()) } else { Err(self.unexpected_in_expr()) }
    }

    fn too_deep(&mut self, at: usize) -> Abort {
        let max = self.opts.max_depth;
        self.error(at, at, format!("expression nesting is too deep (the limit is {max} levels)"));
        Abort
    }

    /// Runs `f` one nesting level deeper, refusing to go past `max_depth`.
    fn nested<T>(&mut self, f: impl FnOnce(&mut Self) -> PResult<T>) -> PResult<T> {
        if self.depth >= self.opts.max_depth {
            let at = self.cur().start;
            return Err(self.too_deep(at));
        }
        self.depth += 1;
        let r = if self.depth.is_multiple_of(STACK_CHECK_EVERY) {
            stacker::maybe_grow(RED_ZONE, STACK_GROWTH, || f(self))
        } else {
            f(self)
        };
        self.depth -= 1;
        r
    }

    fn node(&mut self, expr: Expr, depth: usize) -> PResult<Node> {
        if depth > self.opts.max_depth {
            return Err(self.too_deep(expr.span().start));
        }
        Ok(Node::new(expr, depth))
    }

    /// A stand-in for a node that could not be built; an error has been recorded.
    fn placeholder(span: Span) -> Expr {
        Expr::Number(NumberLiteral { value: 0.0, duration: false, span })
    }

    // ----- entry -----

    /// Parses the whole input as one expression.
    pub(crate) fn parse_query(&mut self) -> PResult<Expr> {
        match self.kind() {
            Kind::Eof => {
                self.error(0, 0, "no expression found in input");
                return Err(Abort);
            }
            Kind::Error => return Err(self.unexpected("", "")),
            _ => {}
        }
        let n = self.parse_expr()?;
        if self.kind() != Kind::Eof {
            return Err(self.unexpected("", ""));
        }
        Ok(*n.expr)
    }

    fn parse_expr(&mut self) -> PResult<Node> {
        self.nested(|p| p.parse_binary(0))
    }

    fn parse_binary(&mut self, min_prec: u8) -> PResult<Node> {
        let mut lhs = self.parse_unary()?;
        while let Some(op) = binary_op(self.kind()) {
            let prec = op.precedence();
            if prec < min_prec {
                break;
            }
            self.advance();
            let mods = self.parse_bin_modifiers()?;
            let next = if op.is_right_associative() { prec } else { prec + 1 };
            let rhs = self.nested(|p| p.parse_binary(next))?;
            let fill = mods.matching.fill;
            let span = Span::new(lhs.expr.span().start, rhs.expr.span().end);
            let expr = Expr::Binary(BinaryExpr {
                span,
                op,
                lhs: lhs.expr,
                rhs: rhs.expr,
                return_bool: mods.return_bool,
                matching: Some(mods.matching),
            });
            if !self.opts.binop_fill_modifiers && (fill.lhs.is_some() || fill.rhs.is_some()) {
                self.error_at(expr.span(), "binop fill modifiers are experimental and not enabled");
            }
            lhs = self.node(expr, 1 + lhs.depth.max(rhs.depth))?;
        }
        Ok(lhs)
    }

    fn parse_unary(&mut self) -> PResult<Node> {
        let op = match self.kind() {
            Kind::Add => UnaryOp::Pos,
            Kind::Sub => UnaryOp::Neg,
            _ => return self.parse_postfix(),
        };
        let op_tok = self.advance();
        // The operand binds like `*`: it takes in `^` but no other operator.
        let mut operand = self.nested(|p| p.parse_binary(BinaryOp::Pow.precedence()))?;
        if let Expr::Number(n) = &mut *operand.expr {
            if op == UnaryOp::Neg {
                n.value = -n.value;
            }
            n.span.start = op_tok.start;
            return Ok(Node { expr: operand.expr, depth: operand.depth, bad_range: None });
        }
        let span = Span::new(op_tok.start, operand.expr.span().end);
        self.node(Expr::Unary(UnaryExpr { op, expr: operand.expr, span }), operand.depth + 1)
    }

    fn parse_postfix(&mut self) -> PResult<Node> {
        let mut n = self.parse_primary()?;
        loop {
            n = match self.kind() {
                Kind::LeftBracket => self.parse_bracket(n)?,
                Kind::Offset => self.parse_offset(n)?,
                Kind::At => self.parse_at(n)?,
                Kind::Anchored | Kind::Smoothed => {
                    let anchored = self.advance().kind == Kind::Anchored;
                    self.set_extended(n, anchored)
                }
                _ => return Ok(n),
            };
        }
    }

    fn parse_primary(&mut self) -> PResult<Node> {
        let t = self.cur();
        match t.kind {
            Kind::Number | Kind::Duration => {
                self.advance();
                let n = self.number_literal(t);
                Ok(Node::new(Expr::Number(n), 1))
            }
            Kind::Str => {
                self.advance();
                let text = self.text(t);
                let bytes = unquote_bytes(text).unwrap_or_else(|()| {
                    self.error(t.start, t.end, format!("error unquoting string {}", go_quote(text)));
                    Vec::new()
                });
                Ok(Node::new(Expr::String(StringLiteral::from_bytes(bytes, Span::new(t.start, t.end))), 1))
            }
            Kind::LeftParen => {
                self.advance();
                let inner = self.parse_expr()?;
                let close = self.expect_in_expr(Kind::RightParen)?;
                let span = Span::new(t.start, close.end);
                self.node(Expr::Paren(ParenExpr { expr: inner.expr, span }), inner.depth + 1)
            }
            Kind::LeftBrace => {
                let (matchers, span) = self.parse_label_matchers()?;
                Ok(Node::new(Expr::VectorSelector(VectorSelector::new(None, matchers, span)), 1))
            }
            Kind::Agg(op) if matches!(self.peek_kind(), Kind::LeftParen | Kind::By | Kind::Without) => {
                self.parse_aggregation(op)
            }
            Kind::Identifier
            | Kind::Start
            | Kind::End
            | Kind::Step
            | Kind::Range
            | Kind::MaxOf
            | Kind::MinOf
                if self.peek_kind() == Kind::LeftParen =>
            {
                self.parse_call()
            }
            k if is_metric_identifier(k) => {
                self.advance();
                let name = self.text(t).to_string();
                let (mut matchers, span) = if self.kind() == Kind::LeftBrace {
                    let (m, s) = self.parse_label_matchers()?;
                    (m, Span::new(t.start, s.end))
                } else {
                    (Vec::with_capacity(1), Span::new(t.start, t.end))
                };
                match Matcher::new(MatchOp::Equal, "__name__", name.clone()) {
                    Ok(m) => matchers.push(m),
                    Err(e) => self.error(t.start, t.end, e.0),
                }
                Ok(Node::new(Expr::VectorSelector(VectorSelector::new(Some(name), matchers, span)), 1))
            }
            _ => Err(self.unexpected_in_expr()),
        }
    }

    fn number_literal(&mut self, t: Token) -> NumberLiteral {
        let text = self.text(t);
        let duration = t.kind == Kind::Duration;
        let value = if duration { literal::duration_seconds(text) } else { literal::number(text) };
        let value = value.unwrap_or_else(|msg| {
            self.error(t.start, t.end, msg);
            0.0
        });
        NumberLiteral { value, duration, span: Span::new(t.start, t.end) }
    }

    fn unquote(&mut self, t: Token) -> String {
        let text = self.text(t);
        unquote(text).unwrap_or_else(|()| {
            self.error(t.start, t.end, format!("error unquoting string {}", go_quote(text)));
            String::new()
        })
    }

    // ----- vector selectors -----

    /// `{ matcher, ... }`; returns the matchers and the span of the braces.
    fn parse_label_matchers(&mut self) -> PResult<(Vec<Matcher>, Span)> {
        const CTX: &str = "label matching";
        let open = self.advance();
        let mut matchers = Vec::new();
        if self.kind() == Kind::RightBrace {
            let close = self.advance();
            return Ok((matchers, Span::new(open.start, close.end)));
        }
        loop {
            let name_tok = self.cur();
            let name = match name_tok.kind {
                Kind::Identifier => self.text(name_tok).to_string(),
                Kind::Str => self.unquote(name_tok),
                _ => return Err(self.unexpected(CTX, "identifier or \"}\"")),
            };
            self.advance();
            if let Some(op) = match_op(self.kind()) {
                self.advance();
                if self.kind() != Kind::Str {
                    return Err(self.unexpected(CTX, "string"));
                }
                let value_tok = self.advance();
                let value = self.unquote(value_tok);
                match Matcher::new(op, name, value) {
                    Ok(m) => matchers.push(m),
                    Err(e) => self.error(name_tok.start, value_tok.end, e.0),
                }
            } else if name_tok.kind == Kind::Str {
                match Matcher::new(MatchOp::Equal, "__name__", name) {
                    Ok(m) => matchers.push(m),
                    Err(e) => self.error(name_tok.start, name_tok.end, e.0),
                }
            } else {
                return Err(self.unexpected(CTX, "label matching operator"));
            }
            match self.kind() {
                Kind::Comma => {
                    self.advance();
                    if self.kind() == Kind::RightBrace {
                        let close = self.advance();
                        return Ok((matchers, Span::new(open.start, close.end)));
                    }
                }
                Kind::RightBrace => {
                    let close = self.advance();
                    return Ok((matchers, Span::new(open.start, close.end)));
                }
                _ => return Err(self.unexpected(CTX, "\",\" or \"}\"")),
            }
        }
    }

    // ----- calls and aggregations -----

    /// `( expr, ... )`: the arguments and the closing parenthesis.
    fn parse_call_body(&mut self) -> PResult<(Vec<Expr>, usize, Token)> {
        self.expect_in_expr(Kind::LeftParen)?;
        let mut args = Vec::new();
        let mut depth = 0;
        if self.kind() != Kind::RightParen {
            loop {
                let arg = self.parse_expr()?;
                depth = depth.max(arg.depth);
                args.push(*arg.expr);
                if self.kind() != Kind::Comma {
                    break;
                }
                let comma = self.advance();
                if self.kind() == Kind::RightParen {
                    self.error(comma.start, comma.end, "trailing commas not allowed in function call args");
                    break;
                }
                if self.kind() == Kind::Error {
                    // Upstream's parser sees the end of input after the comma.
                    self.error(comma.start, comma.end, "trailing commas not allowed in function call args");
                    return Err(Abort);
                }
            }
        }
        let close = self.expect_in_expr(Kind::RightParen)?;
        Ok((args, depth, close))
    }

    fn parse_call(&mut self) -> PResult<Node> {
        let name_tok = self.advance();
        let name = self.text(name_tok);
        let (args, depth, close) = self.parse_call_body()?;
        let span = Span::new(name_tok.start, close.end);
        let Some(func) = function(name) else {
            self.error(
                name_tok.start,
                name_tok.end,
                format!("unknown function with name {}", go_quote(name)),
            );
            return Ok(Node::new(Self::placeholder(span), depth + 1));
        };
        if func.experimental && !self.opts.experimental_functions {
            self.error(name_tok.start, name_tok.end, format!("function {} is not enabled", go_quote(name)));
        }
        self.node(Expr::Call(Call { func, args, span }), depth + 1)
    }

    fn parse_aggregation(&mut self, op: AggregateOp) -> PResult<Node> {
        let op_tok = self.advance();
        let outer = std::mem::replace(&mut self.in_aggregation, true);
        let r = self.parse_aggregation_parts();
        self.in_aggregation = outer;
        if r.is_err() && std::mem::take(&mut self.aggregation_caught) {
            let end = self.last_closing();
            self.error(op_tok.start, end, "no arguments for aggregate expression provided");
        }
        let (grouping, without, args, depth, end) = r?;
        let span = Span::new(op_tok.start, end);
        let placeholder = Node::new(Self::placeholder(span), depth + 1);
        if args.is_empty() {
            self.error_at(span, "no arguments for aggregate expression provided");
            return Ok(placeholder);
        }
        let desired = if op.takes_param() {
            if op.is_experimental() && !self.opts.experimental_functions {
                self.error_at(
                    span,
                    format!(
                        "{}() is experimental and must be enabled with --enable-feature=promql-experimental-functions",
                        op.as_str()
                    ),
                );
                return Ok(placeholder);
            }
            2
        } else {
            1
        };
        if args.len() != desired {
            self.error_at(
                span,
                format!(
                    "wrong number of arguments for aggregate expression provided, expected {desired}, got {}",
                    args.len()
                ),
            );
            return Ok(placeholder);
        }
        let mut args = args.into_iter();
        let param = if desired == 2 { args.next().map(Box::new) } else { None };
        let Some(expr) = args.next() else { return Ok(placeholder) };
        let agg = AggregateExpr { op, expr: Box::new(expr), param, grouping, without, span };
        self.node(Expr::Aggregate(agg), depth + 1)
    }

    #[allow(clippy::type_complexity)]
    fn parse_aggregation_parts(&mut self) -> PResult<(Vec<String>, bool, Vec<Expr>, usize, usize)> {
        let mut grouping = Vec::new();
        let mut without = false;
        let mut end = 0;
        let modifier_first = matches!(self.kind(), Kind::By | Kind::Without);
        if modifier_first {
            without = self.advance().kind == Kind::Without;
            let (labels, close) = self.parse_grouping_labels()?;
            grouping = labels;
            end = close;
        }
        let (args, depth, close) = self.parse_call_body()?;
        end = end.max(close.end);
        if !modifier_first && matches!(self.kind(), Kind::By | Kind::Without) {
            self.in_aggregation = false;
            without = self.advance().kind == Kind::Without;
            let (labels, close) = self.parse_grouping_labels()?;
            grouping = labels;
            end = close;
        }
        Ok((grouping, without, args, depth, end))
    }

    /// `( label, ... )`: the labels and the end of the closing parenthesis.
    fn parse_grouping_labels(&mut self) -> PResult<(Vec<String>, usize)> {
        const CTX: &str = "grouping opts";
        if self.kind() != Kind::LeftParen {
            return Err(self.unexpected(CTX, "\"(\""));
        }
        self.advance();
        let mut labels = Vec::new();
        if self.kind() == Kind::RightParen {
            return Ok((labels, self.advance().end));
        }
        loop {
            let t = self.cur();
            let label = if t.kind == Kind::Str {
                self.unquote(t)
            } else if is_maybe_label(t.kind) {
                self.text(t).to_string()
            } else {
                return Err(self.unexpected(CTX, "label"));
            };
            self.advance();
            if label.is_empty() {
                self.error(t.start, t.end, format!("invalid label name for grouping: {}", go_quote(&label)));
            }
            labels.push(label);
            match self.kind() {
                Kind::Comma => {
                    self.advance();
                    if self.kind() == Kind::RightParen {
                        return Ok((labels, self.advance().end));
                    }
                }
                Kind::RightParen => return Ok((labels, self.advance().end)),
                _ => return Err(self.unexpected(CTX, "\",\" or \")\"")),
            }
        }
    }

    // ----- binary operator modifiers -----

    fn parse_bin_modifiers(&mut self) -> PResult<BinModifiers> {
        let mut mods = BinModifiers {
            return_bool: false,
            matching: VectorMatching {
                card: Cardinality::OneToOne,
                labels: Vec::new(),
                on: false,
                include: Vec::new(),
                fill: FillValues::default(),
            },
        };
        if self.kind() == Kind::Bool {
            self.advance();
            mods.return_bool = true;
        }
        if matches!(self.kind(), Kind::On | Kind::Ignoring) {
            mods.matching.on = self.advance().kind == Kind::On;
            mods.matching.labels = self.parse_grouping_labels()?.0;
            if matches!(self.kind(), Kind::GroupLeft | Kind::GroupRight) {
                mods.matching.card = if self.advance().kind == Kind::GroupLeft {
                    Cardinality::ManyToOne
                } else {
                    Cardinality::OneToMany
                };
                if self.kind() == Kind::LeftParen {
                    mods.matching.include = self.parse_grouping_labels()?.0;
                }
            }
        }
        let fill = &mut mods.matching.fill;
        match self.kind() {
            Kind::Fill => {
                self.advance();
                let v = self.parse_fill_value()?;
                fill.lhs = Some(v);
                fill.rhs = Some(v);
            }
            Kind::FillLeft => {
                self.advance();
                fill.lhs = Some(self.parse_fill_value()?);
                if self.kind() == Kind::FillRight {
                    self.advance();
                    fill.rhs = Some(self.parse_fill_value()?);
                }
            }
            Kind::FillRight => {
                self.advance();
                fill.rhs = Some(self.parse_fill_value()?);
                if self.kind() == Kind::FillLeft {
                    self.advance();
                    fill.lhs = Some(self.parse_fill_value()?);
                }
            }
            _ => {}
        }
        Ok(mods)
    }

    /// `( [+-] number )`.
    fn parse_fill_value(&mut self) -> PResult<f64> {
        self.expect_in_expr(Kind::LeftParen)?;
        let negate = match self.kind() {
            Kind::Add => {
                self.advance();
                false
            }
            Kind::Sub => {
                self.advance();
                true
            }
            _ => false,
        };
        let t = self.cur();
        if !matches!(t.kind, Kind::Number | Kind::Duration) {
            return Err(self.unexpected_in_expr());
        }
        self.advance();
        let v = self.number_literal(t).value;
        self.expect_in_expr(Kind::RightParen)?;
        Ok(if negate { -v } else { v })
    }

    // ----- postfix modifiers -----

    /// `expr [range]` or `expr [range:step]`.
    fn parse_bracket(&mut self, inner: Node) -> PResult<Node> {
        let open = self.advance();
        let range = self.parse_positive_duration(RANGE_CTX)?;
        match self.kind() {
            Kind::RightBracket => {
                let close = self.advance();
                let span = Span::new(inner.expr.span().start, close.end);
                let err_span = Span::new(open.start, close.end);
                match *inner.expr {
                    Expr::VectorSelector(vs) => {
                        if vs.offset.is_some() {
                            self.error_at(err_span, "no offset modifiers allowed before range");
                        } else if vs.at.is_some() {
                            self.error_at(err_span, "no @ modifiers allowed before range");
                        }
                        let m = MatrixSelector { vector: Box::new(vs), range, span };
                        self.node(Expr::MatrixSelector(m), 2)
                    }
                    e => {
                        self.error_at(err_span, "ranges only allowed for vector selectors");
                        Ok(Node { expr: Box::new(e), depth: inner.depth, bad_range: Some(span) })
                    }
                }
            }
            Kind::Colon => {
                self.advance();
                let step = if self.kind() == Kind::RightBracket {
                    None
                } else {
                    let step = self.parse_positive_duration(STEP_CTX)?;
                    if self.kind() != Kind::RightBracket {
                        return Err(self.unexpected("subquery selector", "\"]\""));
                    }
                    Some(step)
                };
                let close = self.advance();
                let span = Span::new(inner.expr.span().start, close.end);
                let sq = SubqueryExpr { expr: inner.expr, range, step, offset: None, at: None, span };
                self.node(Expr::Subquery(sq), inner.depth + 1)
            }
            _ => Err(self.unexpected("subquery or range", "\":\" or \"]\"")),
        }
    }

    /// Counts one more node of the current duration expression, refusing too many.
    fn duration_node(&mut self, at: usize) -> PResult<()> {
        self.duration_nodes += 1;
        if self.duration_nodes > self.opts.max_depth.min(MAX_DURATION_NODES) {
            return Err(self.too_deep(at));
        }
        Ok(())
    }

    /// A duration that must be greater than zero when it is a plain number.
    fn parse_positive_duration(&mut self, ctx: Ctx) -> PResult<DurationSpec> {
        self.duration_nodes = 0;
        let d = self.parse_duration_expr(ctx, None)?;
        if let DurationExpr::Number(n) = &d
            && n.value <= 0.0
        {
            let span = n.span;
            self.error_at(span, "duration must be greater than 0");
            return Ok(DurationSpec::Fixed(0));
        }
        Ok(Self::duration_spec(d))
    }

    fn duration_spec(d: DurationExpr) -> DurationSpec {
        match d {
            DurationExpr::Number(n) => DurationSpec::Fixed(literal::seconds_to_ms(n.value)),
            other => DurationSpec::Expr(Box::new(other)),
        }
    }

    fn duration_gate(&mut self, span: Span) {
        if !self.opts.duration_expressions {
            self.error_at(span, "experimental duration expression is not enabled");
        }
    }

    /// A duration expression; `lhs` is an already parsed first operand.
    fn parse_duration_expr(&mut self, ctx: Ctx, lhs: Option<DurationExpr>) -> PResult<DurationExpr> {
        self.nested(|p| p.duration_binary(0, ctx, lhs))
    }

    fn duration_binary(
        &mut self,
        min_prec: u8,
        ctx: Ctx,
        lhs: Option<DurationExpr>,
    ) -> PResult<DurationExpr> {
        let mut lhs = match lhs {
            Some(l) => l,
            None => self.duration_unary(ctx)?,
        };
        while let Some(op) = duration_op(self.kind()) {
            let prec = op.precedence();
            if prec < min_prec {
                break;
            }
            let op_tok = self.advance();
            self.duration_node(op_tok.start)?;
            let next = if op.is_right_associative() { prec } else { prec + 1 };
            let rhs = self.nested(|p| p.duration_binary(next, ctx, None))?;
            self.duration_gate(duration_expr_span(&lhs));
            let zero_rhs = matches!(&rhs, DurationExpr::Number(n) if n.value == 0.0);
            lhs = match op {
                BinaryOp::Div if zero_rhs => {
                    self.error(op_tok.start, op_tok.end, "division by zero");
                    DurationExpr::Number(NumberLiteral { value: 0.0, duration: false, span: Span::default() })
                }
                BinaryOp::Mod if zero_rhs => {
                    self.error(op_tok.start, op_tok.end, "modulo by zero");
                    DurationExpr::Number(NumberLiteral { value: 0.0, duration: false, span: Span::default() })
                }
                _ => DurationExpr::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) },
            };
        }
        Ok(lhs)
    }

    fn duration_unary(&mut self, ctx: Ctx) -> PResult<DurationExpr> {
        let op = match self.kind() {
            Kind::Add => UnaryOp::Pos,
            Kind::Sub => UnaryOp::Neg,
            _ => return self.duration_primary(ctx),
        };
        let op_tok = self.advance();
        self.duration_node(op_tok.start)?;
        let operand = self.nested(|p| p.duration_binary(BinaryOp::Pow.precedence(), ctx, None))?;
        Ok(self.apply_duration_unary(op, op_tok, operand))
    }

    /// Upstream's `applyUnaryOpToDurationExpr`: folds into a number literal, or wraps.
    fn apply_duration_unary(&mut self, op: UnaryOp, op_tok: Token, operand: DurationExpr) -> DurationExpr {
        match operand {
            DurationExpr::Number(mut n) => {
                if op == UnaryOp::Neg {
                    n.value = -n.value;
                }
                if literal::duration_out_of_range(n.value) {
                    self.error(op_tok.start, op_tok.end, "duration out of range");
                    return DurationExpr::Number(NumberLiteral {
                        value: 0.0,
                        duration: false,
                        span: Span::default(),
                    });
                }
                n.span.start = op_tok.start;
                DurationExpr::Number(n)
            }
            e if op == UnaryOp::Neg => {
                let span = Span::new(op_tok.start, duration_expr_span(&e).end);
                DurationExpr::Unary { op, expr: Box::new(e), span }
            }
            e => e,
        }
    }

    /// A duration literal, range-checked.
    fn duration_literal(&mut self, t: Token) -> DurationExpr {
        self.advance();
        let n = self.number_literal(t);
        if literal::duration_out_of_range(n.value) {
            self.error(t.start, t.end, "duration out of range");
            return DurationExpr::Number(NumberLiteral {
                value: 0.0,
                duration: false,
                span: Span::default(),
            });
        }
        DurationExpr::Number(n)
    }

    fn duration_primary(&mut self, ctx: Ctx) -> PResult<DurationExpr> {
        let t = self.cur();
        match t.kind {
            Kind::Number | Kind::Duration => Ok(self.duration_literal(t)),
            Kind::Step | Kind::Range | Kind::MaxOf | Kind::MinOf => {
                let d = self.duration_function(ctx)?;
                self.duration_gate(duration_expr_span(&d));
                Ok(d)
            }
            Kind::LeftParen => {
                self.advance();
                self.duration_node(t.start)?;
                let inner = self.parse_duration_expr(ctx, None)?;
                let close = self.expect(Kind::RightParen, ctx)?;
                self.duration_gate(duration_expr_span(&inner));
                Ok(DurationExpr::Paren { expr: Box::new(inner), span: Span::new(t.start, close.end) })
            }
            _ => Err(self.unexpected(ctx.0, ctx.1)),
        }
    }

    /// `step()`, `range()`, `max_of(a, b)`, `min_of(a, b)` (not gated; the caller gates).
    fn duration_function(&mut self, ctx: Ctx) -> PResult<DurationExpr> {
        let t = self.advance();
        self.duration_node(t.start)?;
        self.expect(Kind::LeftParen, ctx)?;
        match t.kind {
            Kind::Step | Kind::Range => {
                let close = self.expect(Kind::RightParen, ctx)?;
                let span = Span::new(t.start, close.end);
                Ok(if t.kind == Kind::Step { DurationExpr::Step(span) } else { DurationExpr::Range(span) })
            }
            _ => {
                let lhs = self.parse_duration_expr(ctx, None)?;
                self.expect(Kind::Comma, ctx)?;
                let rhs = self.parse_duration_expr(ctx, None)?;
                let close = self.expect(Kind::RightParen, ctx)?;
                let span = Span::new(t.start, close.end);
                let (lhs, rhs) = (Box::new(lhs), Box::new(rhs));
                Ok(if t.kind == Kind::MaxOf {
                    DurationExpr::Max { lhs, rhs, span }
                } else {
                    DurationExpr::Min { lhs, rhs, span }
                })
            }
        }
    }

    /// The duration after `offset` (upstream's `offset_duration_expr`): a literal, a signed
    /// literal or a duration function ends it; a parenthesised expression may go on with further
    /// duration operators.
    fn parse_offset_duration(&mut self) -> PResult<DurationExpr> {
        self.duration_nodes = 0;
        let t = self.cur();
        match t.kind {
            Kind::Number | Kind::Duration => Ok(self.duration_literal(t)),
            Kind::Add | Kind::Sub => {
                let op = if t.kind == Kind::Add { UnaryOp::Pos } else { UnaryOp::Neg };
                self.advance();
                let next = self.cur();
                match next.kind {
                    Kind::Number | Kind::Duration => {
                        self.advance();
                        let mut n = self.number_literal(next);
                        if op == UnaryOp::Neg {
                            n.value = -n.value;
                        }
                        if literal::duration_out_of_range(n.value) {
                            self.error(t.start, t.end, "duration out of range");
                            return Ok(DurationExpr::Number(NumberLiteral {
                                value: 0.0,
                                duration: false,
                                span: Span::default(),
                            }));
                        }
                        n.span.start = t.start;
                        Ok(DurationExpr::Number(n))
                    }
                    Kind::Step | Kind::Range | Kind::MaxOf | Kind::MinOf => {
                        let f = self.duration_function(OFFSET_CTX)?;
                        let span = Span::new(t.start, duration_expr_span(&f).end);
                        self.duration_gate(span);
                        // A unary `+` changes nothing and is not printed: leave it out of the tree
                        // (as `apply_duration_unary` does) so that the print parses back the same.
                        Ok(if op == UnaryOp::Neg {
                            DurationExpr::Unary { op, expr: Box::new(f), span }
                        } else {
                            f
                        })
                    }
                    Kind::LeftParen => {
                        self.advance();
                        let inner = self.parse_duration_expr(OFFSET_CTX, None)?;
                        let close = self.expect(Kind::RightParen, OFFSET_CTX)?;
                        let wrapped = DurationExpr::Paren {
                            expr: Box::new(inner),
                            span: Span::new(next.start, close.end),
                        };
                        // Unlike elsewhere, a unary `+` stays in the tree here: `offset +(…)` ends the
                        // offset while `offset (…)` may go on with further operators, so the sign is
                        // what makes `foo offset +(5) - foo` print back as itself.
                        Ok(if op == UnaryOp::Pos {
                            let span = Span::new(t.start, close.end);
                            DurationExpr::Unary { op, expr: Box::new(wrapped), span }
                        } else {
                            self.apply_duration_unary(op, t, wrapped)
                        })
                    }
                    _ => Err(self.unexpected(OFFSET_CTX.0, OFFSET_CTX.1)),
                }
            }
            Kind::Step | Kind::Range | Kind::MaxOf | Kind::MinOf => {
                let d = self.duration_function(OFFSET_CTX)?;
                self.duration_gate(duration_expr_span(&d));
                Ok(d)
            }
            Kind::LeftParen => {
                let first = self.duration_primary(OFFSET_CTX)?;
                self.parse_duration_expr(OFFSET_CTX, Some(first))
            }
            _ => Err(self.unexpected(OFFSET_CTX.0, OFFSET_CTX.1)),
        }
    }

    fn parse_offset(&mut self, mut n: Node) -> PResult<Node> {
        self.advance();
        let d = self.parse_offset_duration()?;
        let end = self.tokens.get(self.pos.saturating_sub(1)).map_or(0, |t| t.end);
        let spec = match Self::duration_spec(d) {
            DurationSpec::Fixed(0) => None,
            s => Some(s),
        };
        let span = n.expr.span();
        let Some(target) = self.modifier_target(&mut n, "offset modifier") else {
            return Ok(n);
        };
        *target.end = end;
        if target.offset.is_some() {
            self.error_at(span, "offset may not be set multiple times");
        } else {
            *target.offset = spec;
        }
        Ok(n)
    }

    /// The modifier slots and span end of the node a modifier (`what`, as errors name it) follows:
    /// a vector selector, range selector or subquery. Anything else is reported and gives `None`.
    fn modifier_target<'n>(&mut self, n: &'n mut Node, what: &str) -> Option<ModifierTarget<'n>> {
        if let Some(r) = n.bad_range {
            self.error_at(r, "ranges only allowed for vector selectors");
            return None;
        }
        let span = n.expr.span();
        Some(match &mut *n.expr {
            Expr::VectorSelector(vs) => {
                ModifierTarget { offset: &mut vs.offset, at: &mut vs.at, end: &mut vs.span.end }
            }
            Expr::MatrixSelector(m) => {
                ModifierTarget { offset: &mut m.vector.offset, at: &mut m.vector.at, end: &mut m.span.end }
            }
            Expr::Subquery(s) => {
                ModifierTarget { offset: &mut s.offset, at: &mut s.at, end: &mut s.span.end }
            }
            _ => {
                self.error_at(
                    span,
                    format!(
                        "{what} must be preceded by an instant vector selector or range vector selector or a subquery"
                    ),
                );
                return None;
            }
        })
    }

    fn parse_at(&mut self, mut n: Node) -> PResult<Node> {
        self.advance();
        let t = self.cur();
        let at = match t.kind {
            Kind::Number | Kind::Duration => {
                self.advance();
                Err(self.number_literal(t).value)
            }
            Kind::Add | Kind::Sub => {
                self.advance();
                let v = self.cur();
                if !matches!(v.kind, Kind::Number | Kind::Duration) {
                    return Err(self.unexpected(AT_CTX.0, AT_CTX.1));
                }
                self.advance();
                let x = self.number_literal(v).value;
                Err(if t.kind == Kind::Sub { -x } else { x })
            }
            Kind::Start | Kind::End => {
                self.advance();
                self.expect(Kind::LeftParen, AT_CTX)?;
                self.expect(Kind::RightParen, AT_CTX)?;
                Ok(if t.kind == Kind::Start { AtModifier::Start } else { AtModifier::End })
            }
            _ => return Err(self.unexpected(AT_CTX.0, AT_CTX.1)),
        };
        let end = self.tokens.get(self.pos.saturating_sub(1)).map_or(0, |t| t.end);
        let span = n.bad_range.unwrap_or_else(|| n.expr.span());
        let at = match at {
            Ok(a) => a,
            Err(ts) => {
                if ts.is_infinite() || ts.is_nan() || ts >= i64::MAX as f64 || ts <= i64::MIN as f64 {
                    let shown = if ts.is_nan() {
                        "NaN".to_string()
                    } else if ts.is_infinite() {
                        if ts > 0.0 { "+Inf".to_string() } else { "-Inf".to_string() }
                    } else {
                        format!("{ts:.6}")
                    };
                    self.error_at(span, format!("timestamp out of bounds for @ modifier: {shown}"));
                }
                AtModifier::Timestamp((ts * 1000.0).round() as i64)
            }
        };
        let Some(target) = self.modifier_target(&mut n, "@ modifier") else {
            return Ok(n);
        };
        if target.at.is_some() {
            self.error_at(span, "@ <timestamp> may not be set multiple times");
            return Ok(n);
        }
        *target.at = Some(at);
        *target.end = end;
        Ok(n)
    }

    /// `anchored` / `smoothed`.
    fn set_extended(&mut self, mut n: Node, anchored: bool) -> Node {
        let name = if anchored { "anchored" } else { "smoothed" };
        let span = n.bad_range.unwrap_or_else(|| n.expr.span());
        if !self.opts.extended_range_selectors {
            self.error_at(span, format!("{name} modifier is experimental and not enabled"));
            return n;
        }
        if n.bad_range.is_some() {
            return n;
        }
        let vs = match &mut *n.expr {
            Expr::VectorSelector(vs) => vs,
            Expr::MatrixSelector(m) => &mut m.vector,
            Expr::Subquery(_) => {
                self.error_at(span, format!("{name} modifier is not supported for subqueries"));
                return n;
            }
            _ => {
                self.error_at(span, format!("{name} modifier not implemented"));
                return n;
            }
        };
        if anchored {
            vs.anchored = true;
        } else {
            vs.smoothed = true;
        }
        if vs.anchored && vs.smoothed {
            self.error_at(span, "anchored and smoothed modifiers cannot be used together");
        }
        n
    }
}
