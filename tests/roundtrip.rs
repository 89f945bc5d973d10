//! The round-trip property: printing a tree the parser can produce and parsing the text gives the
//! tree back, for the one-line and for the pretty form.
//!
//! Two sources of trees: random well-typed trees (a proptest strategy that builds only shapes the
//! parser produces: parentheses where precedence needs them, negative numbers folded, matchers in
//! printed order) and every valid expression of the upstream parser test table in
//! `../shared/conformance/parser-cases.jsonl`.

mod support;

use ferroprom::model::{MatchOp, Matcher};
use ferroprom::parser::{
    AggregateExpr, AggregateOp, AtModifier, BinaryExpr, BinaryOp, Call, Cardinality, DurationExpr,
    DurationSpec, Expr, FUNCTIONS, FillValues, MatrixSelector, NumberLiteral, ParenExpr, ParseOptions, Span,
    StringLiteral, SubqueryExpr, UnaryExpr, UnaryOp, ValueType, VectorMatching, VectorSelector, parse_with,
};
use proptest::prelude::Rng;
use proptest::strategy::{Just, NewTree, Strategy};
use proptest::test_runner::{Config, TestRunner};
use support::roundtrip_check::check_tree;
use support::{Report, expected_failures, root};

const S: Span = Span { start: 0, end: 0 };

/// Random trees of every value type, at most `depth` levels of operators deep.
#[derive(Debug, Clone, Copy)]
struct Trees {
    depth: u32,
}

impl Strategy for Trees {
    type Tree = Just<Expr>;
    type Value = Expr;

    fn new_tree(&self, runner: &mut TestRunner) -> NewTree<Self> {
        let mut g = Gen { rng: runner.rng() };
        let ty = g.pick(&[ValueType::Vector, ValueType::Vector, ValueType::Scalar, ValueType::Matrix]);
        Ok(Just(g.expr(ty, self.depth)))
    }
}

struct Gen<'a, R: Rng> {
    rng: &'a mut R,
}

/// Which operand of a binary operator a tree becomes.
#[derive(Clone, Copy, PartialEq)]
enum Side {
    Left,
    Right,
}

const METRICS: &[&str] = &["foo", "bar_total", "job:rate5m", "_x", "A1", "http_requests_total", "a:b:c"];
const LABELS: &[&str] = &[
    "a",
    "job",
    "instance",
    "le",
    "_x",
    "A1",
    "on",
    "bool",
    "offset",
    "by",
    "start",
    "group_left",
    "sum",
    "a.b",
    "ü",
    "0x",
    "with space",
    "quote\"d",
    "back\\slash",
    "new\nline",
    "emoji😀",
    "-dash",
    "__meta",
];
const VALUES: &[&str] = &[
    "",
    "x",
    "prod",
    "a b",
    "quote\"d",
    "single'q",
    "back`tick",
    "back\\slash",
    "tab\t",
    "new\nline",
    "ä",
    "日本",
    "😀",
    "\u{0}",
    "\u{7}",
    "\u{7f}",
    "\u{85}",
    "\u{a0}",
    "\u{ad}",
    "\u{200b}",
    "\u{2028}",
    "\u{feff}",
    "\u{fffd}",
    "\u{e000}",
    "\u{10ffff}",
    "$1",
    "{}",
    "}",
    "=~",
];
const REGEXES: &[&str] = &[".*", ".+", "a|b", "x+", "[0-9]{2}", "\\d+", "(?i)foo", "", "ä.*", "a\\.b"];

impl<R: Rng> Gen<'_, R> {
    fn below(&mut self, n: usize) -> usize {
        (self.rng.next_u64() % n as u64) as usize
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len())]
    }

    fn expr(&mut self, ty: ValueType, depth: u32) -> Expr {
        let leaf = depth == 0 || self.chance(25);
        match ty {
            ValueType::Scalar if leaf => match self.below(6) {
                0 => self.call(ValueType::Scalar, 0),
                1 => self.duration_number(),
                _ => self.number(),
            },
            ValueType::Scalar => match self.below(6) {
                0 | 1 => self.binary(ValueType::Scalar, depth),
                2 => self.paren(ValueType::Scalar, depth),
                3 => self.unary(ValueType::Scalar, depth),
                4 => self.call(ValueType::Scalar, depth),
                _ => self.number(),
            },
            ValueType::Vector if leaf => Expr::VectorSelector(self.vector_selector(true)),
            ValueType::Vector => match self.below(8) {
                0 => Expr::VectorSelector(self.vector_selector(true)),
                1 | 2 => self.call(ValueType::Vector, depth),
                3 => self.aggregate(depth),
                4 | 5 => self.binary(ValueType::Vector, depth),
                6 => self.paren(ValueType::Vector, depth),
                _ => self.unary(ValueType::Vector, depth),
            },
            ValueType::Matrix if leaf || self.chance(50) => self.matrix_selector(),
            ValueType::Matrix => self.subquery(depth),
            ValueType::String => {
                let value = self.value();
                Expr::String(StringLiteral::new(value, S))
            }
        }
    }

    fn number(&mut self) -> Expr {
        let value = match self.below(12) {
            0 => f64::NAN,
            1 => f64::INFINITY,
            2 => f64::NEG_INFINITY,
            3 => -0.0,
            4 => self.pick(&[1e300, 5e-324, 1e-7, 1e21, 123456789.125, f64::MAX, f64::MIN_POSITIVE]),
            5 => {
                // Any finite float, from its bits.
                let v = f64::from_bits(self.rng.next_u64());
                if v.is_finite() { v } else { 1.5 }
            }
            6 => -(self.below(1000) as f64) / 8.0,
            _ => self.below(1000) as f64 / 4.0,
        };
        Expr::Number(NumberLiteral { value, duration: false, span: S })
    }

    /// A duration literal used as a number, with the value the parser gives its text.
    fn duration_number(&mut self) -> Expr {
        let ms = self.duration_ms();
        let sign = if self.chance(30) { "-" } else { "" };
        let text = format!("{sign}{}", DurationSpec::Fixed(ms));
        parse_with(&text, &ParseOptions::all_features())
            .unwrap_or_else(|e| panic!("duration literal {text:?} does not parse: {e}"))
    }

    fn duration_ms(&mut self) -> i64 {
        match self.below(4) {
            0 => 1 + self.below(5000) as i64,
            1 => 1000 * (1 + self.below(100_000) as i64),
            2 => 60_000 * (1 + self.below(10_000) as i64),
            _ => self.pick(&[300_000, 3_600_000, 86_400_000, 604_800_000, 31_536_000_000, 90_061_001]),
        }
    }

    fn value(&mut self) -> String {
        if self.chance(70) {
            return self.pick(VALUES).to_string();
        }
        let n = self.below(6);
        (0..n).map(|_| self.pick(VALUES)).collect()
    }

    fn label(&mut self) -> String {
        self.pick(LABELS).to_string()
    }

    fn matcher(&mut self, allow_name: bool) -> Matcher {
        let name = if allow_name && self.chance(15) {
            "__name__".to_string()
        } else if self.chance(3) {
            String::new()
        } else {
            self.label()
        };
        let op = self.pick(&[MatchOp::Equal, MatchOp::NotEqual, MatchOp::Regex, MatchOp::NotRegex]);
        let value = match op {
            MatchOp::Equal | MatchOp::NotEqual => self.value(),
            MatchOp::Regex | MatchOp::NotRegex if self.chance(50) => self.pick(REGEXES).to_string(),
            MatchOp::Regex | MatchOp::NotRegex => regex::escape(&self.value()),
        };
        Matcher::new(op, name, value).unwrap_or_else(|e| panic!("generated a bad regex: {e}"))
    }

    /// A selector's name and matchers, in the order the parser produces from the printed form.
    fn selector_body(&mut self) -> (Option<String>, Vec<Matcher>) {
        let name = self.chance(70).then(|| self.pick(METRICS).to_string());
        let n = self.below(4);
        let mut matchers: Vec<Matcher> = (0..n).map(|_| self.matcher(name.is_none())).collect();
        if name.is_none() && matchers.iter().all(|m| m.matches_empty()) {
            let m = if self.chance(50) {
                let weird = self.pick(&["my.metric", "ü", "foo", "with space", "0"]);
                Matcher::new(MatchOp::Equal, "__name__", weird)
            } else {
                Matcher::new(MatchOp::Equal, "job", "x")
            };
            matchers.push(m.unwrap_or_else(|e| panic!("{e}")));
        }
        matchers.sort_by_cached_key(|m| m.to_string());
        if let Some(name) = &name {
            let m = Matcher::new(MatchOp::Equal, "__name__", name.as_str());
            matchers.push(m.unwrap_or_else(|e| panic!("{e}")));
        }
        (name, matchers)
    }

    fn vector_selector(&mut self, modifiers: bool) -> VectorSelector {
        let (name, matchers) = self.selector_body();
        let mut v = VectorSelector::new(name, matchers, S);
        if modifiers {
            self.modifiers(&mut v);
        }
        v
    }

    fn modifiers(&mut self, v: &mut VectorSelector) {
        if self.chance(20) {
            v.offset = Some(self.offset());
        }
        if self.chance(15) {
            v.at = Some(self.at());
        }
        if self.chance(10) {
            if self.chance(50) {
                v.anchored = true;
            } else {
                v.smoothed = true;
            }
        }
    }

    fn at(&mut self) -> AtModifier {
        match self.below(4) {
            0 => AtModifier::Start,
            1 => AtModifier::End,
            2 => AtModifier::Timestamp(self.rng.next_u64() as i64 % 10_000_000_000_000),
            _ => AtModifier::Timestamp(1000 * (self.below(2_000_000_000) as i64 - 100)),
        }
    }

    /// An offset: a non-zero fixed duration, or one of the duration expressions an offset takes
    /// without parentheses.
    fn offset(&mut self) -> DurationSpec {
        if self.chance(70) {
            let ms = self.duration_ms();
            return DurationSpec::Fixed(if self.chance(30) { -ms } else { ms });
        }
        let e = match self.below(6) {
            0 => DurationExpr::Step(S),
            1 => DurationExpr::Range(S),
            2 => self.min_max(2),
            3 => self.duration_paren(2),
            _ => {
                let inner = match self.below(4) {
                    0 => DurationExpr::Step(S),
                    1 => DurationExpr::Range(S),
                    2 => self.min_max(2),
                    _ => self.duration_paren(2),
                };
                DurationExpr::Unary { op: UnaryOp::Neg, expr: Box::new(inner), span: S }
            }
        };
        DurationSpec::Expr(Box::new(e))
    }

    /// A range or subquery step: a positive fixed duration or a duration expression.
    fn range(&mut self) -> DurationSpec {
        if self.chance(70) {
            return DurationSpec::Fixed(self.duration_ms());
        }
        let e = loop {
            let e = self.duration_expr(3);
            // A lone literal is a fixed duration, not an expression.
            if !matches!(e, DurationExpr::Number(_)) {
                break e;
            }
        };
        DurationSpec::Expr(Box::new(e))
    }

    fn duration_literal(&mut self) -> DurationExpr {
        if self.chance(50)
            && let Expr::Number(n) = self.duration_number()
        {
            return DurationExpr::Number(n);
        }
        let value = self.pick(&[0.0, 1.0, 2.0, 10.0, 60.0, 0.5, 1.5, 3600.0, 7.25]);
        DurationExpr::Number(NumberLiteral { value, duration: false, span: S })
    }

    fn duration_expr(&mut self, depth: u32) -> DurationExpr {
        if depth == 0 || self.chance(30) {
            return match self.below(4) {
                0 => DurationExpr::Step(S),
                1 => DurationExpr::Range(S),
                _ => self.duration_literal(),
            };
        }
        match self.below(8) {
            0 => self.min_max(depth),
            1 => self.duration_paren(depth),
            2 => {
                let inner = self.duration_expr(depth - 1);
                self.duration_neg(inner)
            }
            _ => {
                let op = self.pick(&[
                    BinaryOp::Add,
                    BinaryOp::Sub,
                    BinaryOp::Mul,
                    BinaryOp::Div,
                    BinaryOp::Mod,
                    BinaryOp::Pow,
                ]);
                let lhs = self.duration_expr(depth - 1);
                let lhs = duration_operand(lhs, op, Side::Left);
                let mut rhs = self.duration_expr(depth - 1);
                if matches!(op, BinaryOp::Div | BinaryOp::Mod)
                    && matches!(&rhs, DurationExpr::Number(n) if n.value == 0.0)
                {
                    rhs = DurationExpr::Step(S);
                }
                let rhs = duration_operand(rhs, op, Side::Right);
                DurationExpr::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs) }
            }
        }
    }

    /// `-e` as the parser builds it: a literal is negated in place.
    fn duration_neg(&mut self, e: DurationExpr) -> DurationExpr {
        match e {
            DurationExpr::Number(mut n) => {
                n.value = -n.value;
                DurationExpr::Number(n)
            }
            DurationExpr::Binary { op, .. } if op != BinaryOp::Pow => {
                DurationExpr::Unary { op: UnaryOp::Neg, expr: Box::new(paren_d(e)), span: S }
            }
            e => DurationExpr::Unary { op: UnaryOp::Neg, expr: Box::new(e), span: S },
        }
    }

    fn min_max(&mut self, depth: u32) -> DurationExpr {
        let lhs = Box::new(self.duration_expr(depth.saturating_sub(1)));
        let rhs = Box::new(self.duration_expr(depth.saturating_sub(1)));
        if self.chance(50) {
            DurationExpr::Min { lhs, rhs, span: S }
        } else {
            DurationExpr::Max { lhs, rhs, span: S }
        }
    }

    fn duration_paren(&mut self, depth: u32) -> DurationExpr {
        let inner = self.duration_expr(depth.saturating_sub(1));
        paren_d(inner)
    }

    fn matrix_selector(&mut self) -> Expr {
        let mut vector = self.vector_selector(false);
        self.modifiers(&mut vector);
        let range = self.range();
        Expr::MatrixSelector(MatrixSelector { vector: Box::new(vector), range, span: S })
    }

    fn subquery(&mut self, depth: u32) -> Expr {
        // The inner expression must bind tighter than the brackets.
        let inner = match self.below(4) {
            0 => Expr::VectorSelector(self.vector_selector(true)),
            1 => self.call(ValueType::Vector, depth.saturating_sub(1)),
            2 => self.aggregate(depth.saturating_sub(1)),
            _ => self.paren(ValueType::Vector, depth.saturating_sub(1)),
        };
        let inner = match inner {
            e @ (Expr::VectorSelector(_) | Expr::Call(_) | Expr::Aggregate(_) | Expr::Paren(_)) => e,
            e => paren(e),
        };
        // The lexer accepts the colon only after a number literal (as upstream's does).
        let range = match self.range() {
            DurationSpec::Expr(e) if !has_literal(&e) => DurationSpec::Fixed(self.duration_ms()),
            r => r,
        };
        let step = self.chance(70).then(|| self.range());
        let offset = self.chance(20).then(|| self.offset());
        let at = self.chance(15).then(|| self.at());
        Expr::Subquery(SubqueryExpr { expr: Box::new(inner), range, step, offset, at, span: S })
    }

    fn paren(&mut self, ty: ValueType, depth: u32) -> Expr {
        let inner = self.expr(ty, depth.saturating_sub(1));
        paren(inner)
    }

    fn unary(&mut self, ty: ValueType, depth: u32) -> Expr {
        let op = if self.chance(70) { UnaryOp::Neg } else { UnaryOp::Pos };
        let inner = self.expr(ty, depth.saturating_sub(1));
        // `-1` is a negative number and `-a * b` is `(-a) * b`: such operands need parentheses.
        let inner = match inner {
            e @ Expr::Number(_) => paren(e),
            Expr::Binary(b) if b.op != BinaryOp::Pow => paren(Expr::Binary(b)),
            e => e,
        };
        Expr::Unary(UnaryExpr { op, expr: Box::new(inner), span: S })
    }

    fn binary(&mut self, ty: ValueType, depth: u32) -> Expr {
        use BinaryOp::*;
        let ops: &[BinaryOp] = if ty == ValueType::Scalar {
            &[Add, Sub, Mul, Div, Mod, Pow, Atan2, Eql, Neq, Gtr, Lss, Gte, Lte, TrimUpper, TrimLower]
        } else {
            &[
                Add, Sub, Mul, Div, Mod, Pow, Atan2, Eql, Neq, Gtr, Lss, Gte, Lte, TrimUpper, TrimLower, And,
                Or, Unless,
            ]
        };
        let op = self.pick(ops);
        let (lt, rt) = if ty == ValueType::Scalar {
            (ValueType::Scalar, ValueType::Scalar)
        } else if op.is_set() {
            (ValueType::Vector, ValueType::Vector)
        } else {
            self.pick(&[
                (ValueType::Vector, ValueType::Vector),
                (ValueType::Vector, ValueType::Vector),
                (ValueType::Vector, ValueType::Scalar),
                (ValueType::Scalar, ValueType::Vector),
            ])
        };
        let lhs = operand(self.expr(lt, depth.saturating_sub(1)), op, Side::Left);
        let rhs = operand(self.expr(rt, depth.saturating_sub(1)), op, Side::Right);
        let both_vectors = lt == ValueType::Vector && rt == ValueType::Vector;
        let return_bool = op.is_comparison() && (!both_vectors && lt == rt || self.chance(40));
        let matching = both_vectors.then(|| self.matching(op));
        Expr::Binary(BinaryExpr {
            op,
            lhs: Box::new(lhs),
            rhs: Box::new(rhs),
            return_bool,
            matching,
            span: Span::default(),
        })
    }

    fn labels(&mut self, max: usize) -> Vec<String> {
        let n = self.below(max + 1);
        (0..n).map(|_| self.label()).collect()
    }

    fn matching(&mut self, op: BinaryOp) -> VectorMatching {
        let mut vm = VectorMatching {
            card: if op.is_set() { Cardinality::ManyToMany } else { Cardinality::OneToOne },
            labels: Vec::new(),
            on: false,
            include: Vec::new(),
            fill: FillValues::default(),
        };
        match self.below(3) {
            0 => {}
            1 => {
                vm.on = true;
                vm.labels = self.labels(3);
            }
            _ => vm.labels = self.labels(3),
        }
        if op.is_set() {
            return vm;
        }
        if self.chance(30) {
            vm.card = if self.chance(50) { Cardinality::ManyToOne } else { Cardinality::OneToMany };
            vm.include = self.labels(2);
            vm.include.retain(|l| !vm.labels.contains(l));
        }
        if self.chance(20) {
            let fill = |g: &mut Self| match g.below(6) {
                0 => f64::NAN,
                1 => f64::NEG_INFINITY,
                2 => 1e6,
                3 => -0.0,
                _ => (g.below(200) as f64 - 100.0) / 4.0,
            };
            match self.below(3) {
                0 => {
                    let v = fill(self);
                    vm.fill = FillValues { lhs: Some(v), rhs: Some(v) };
                }
                1 => vm.fill.lhs = Some(fill(self)),
                _ => vm.fill.rhs = Some(fill(self)),
            }
            if self.chance(30) {
                vm.fill.rhs = Some(fill(self));
            }
            // Equal fills print as one `fill`, which reads back the left value for both sides.
            if let FillValues { lhs: Some(l), rhs: Some(r) } = vm.fill
                && l == r
            {
                vm.fill.rhs = Some(l);
            }
        }
        vm
    }

    fn aggregate(&mut self, depth: u32) -> Expr {
        let op = self.pick(&AggregateOp::ALL);
        let param = match op {
            AggregateOp::CountValues => Some(Box::new(self.expr(ValueType::String, 0))),
            op if op.takes_param() => Some(Box::new(self.expr(ValueType::Scalar, depth.saturating_sub(1)))),
            _ => None,
        };
        let expr = Box::new(self.expr(ValueType::Vector, depth.saturating_sub(1)));
        let (grouping, without) = match self.below(3) {
            0 => (Vec::new(), false),
            1 => (self.labels(3), false),
            _ => (self.labels(3), true),
        };
        Expr::Aggregate(AggregateExpr { op, expr, param, grouping, without, span: S })
    }

    fn call(&mut self, ty: ValueType, depth: u32) -> Expr {
        let candidates: Vec<_> =
            FUNCTIONS.iter().filter(|f| f.return_type == ty && f.name != "info").collect();
        let func = candidates[self.below(candidates.len())];
        let n = func.arg_types.len();
        let count = match func.variadic {
            0 => n,
            -1 => n - 1 + self.below(3),
            v => n - 1 + self.below(v as usize + 1),
        };
        let args = (0..count)
            .map(|i| {
                let t = func.arg_types[i.min(n - 1)];
                self.expr(t, depth.saturating_sub(1))
            })
            .collect();
        Expr::Call(Call { func, args, span: S })
    }
}

fn paren(e: Expr) -> Expr {
    Expr::Paren(ParenExpr { expr: Box::new(e), span: S })
}

fn paren_d(e: DurationExpr) -> DurationExpr {
    DurationExpr::Paren { expr: Box::new(e), span: S }
}

/// Whether `a` (the operator of an operand) must be parenthesised as the `side` operand of `op`.
fn needs_parens(a: BinaryOp, op: BinaryOp, side: Side) -> bool {
    a.precedence() < op.precedence()
        || (a.precedence() == op.precedence() && (side == Side::Left) == op.is_right_associative())
}

/// `e` as the `side` operand of `op`, parenthesised where the parser would otherwise group
/// differently.
fn operand(e: Expr, op: BinaryOp, side: Side) -> Expr {
    let wrap = match &e {
        Expr::Binary(b) => needs_parens(b.op, op, side),
        // `-a ^ b` is `-(a ^ b)`.
        Expr::Unary(_) => side == Side::Left && op == BinaryOp::Pow,
        // Signed literals (`-1`, `+Inf`) are unary operators applied to a literal, as `-a` is.
        Expr::Number(n) => {
            side == Side::Left
                && op == BinaryOp::Pow
                && (n.value.is_sign_negative() || n.value == f64::INFINITY)
        }
        _ => false,
    } || (side == Side::Left && ends_with_open_offset(&e));
    if wrap { paren(e) } else { e }
}

/// Whether the printed form of `e` ends with an offset whose duration expression would absorb a
/// following binary operator (`foo offset (1m) * 2` is `foo offset ((1m) * 2)`).
fn ends_with_open_offset(e: &Expr) -> bool {
    fn open(d: Option<&DurationSpec>) -> bool {
        match d {
            Some(DurationSpec::Expr(e)) => match &**e {
                DurationExpr::Paren { .. } => true,
                DurationExpr::Unary { expr, .. } => matches!(**expr, DurationExpr::Paren { .. }),
                _ => false,
            },
            _ => false,
        }
    }
    match e {
        Expr::VectorSelector(v) => open(v.offset.as_ref()),
        Expr::MatrixSelector(m) => open(m.vector.offset.as_ref()),
        Expr::Subquery(s) => open(s.offset.as_ref()),
        Expr::Binary(b) => ends_with_open_offset(&b.rhs),
        Expr::Unary(u) => ends_with_open_offset(&u.expr),
        _ => false,
    }
}

/// Whether a duration expression contains a number or duration literal.
fn has_literal(e: &DurationExpr) -> bool {
    match e {
        DurationExpr::Number(_) => true,
        DurationExpr::Step(_) | DurationExpr::Range(_) => false,
        DurationExpr::Unary { expr, .. } | DurationExpr::Paren { expr, .. } => has_literal(expr),
        DurationExpr::Binary { lhs, rhs, .. }
        | DurationExpr::Min { lhs, rhs, .. }
        | DurationExpr::Max { lhs, rhs, .. } => has_literal(lhs) || has_literal(rhs),
    }
}

fn duration_operand(e: DurationExpr, op: BinaryOp, side: Side) -> DurationExpr {
    let wrap = match &e {
        DurationExpr::Binary { op: a, .. } => needs_parens(*a, op, side),
        DurationExpr::Unary { .. } => side == Side::Left && op == BinaryOp::Pow,
        DurationExpr::Number(n) => side == Side::Left && op == BinaryOp::Pow && n.value.is_sign_negative(),
        _ => false,
    };
    if wrap { paren_d(e) } else { e }
}

#[test]
fn random_trees_round_trip() {
    // `ROUNDTRIP_CASES` and `ROUNDTRIP_DEPTH` make longer runs by hand.
    let env =
        |name: &str, default: u32| std::env::var(name).ok().and_then(|s| s.parse().ok()).unwrap_or(default);
    let mut runner = TestRunner::new(Config {
        cases: env("ROUNDTRIP_CASES", 2000),
        failure_persistence: None,
        ..Config::default()
    });
    let trees = Trees { depth: env("ROUNDTRIP_DEPTH", 4) };
    let result = runner.run(&trees, |e| check_tree(&e).map_err(proptest::test_runner::TestCaseError::fail));
    if let Err(e) = result {
        panic!("{e}");
    }
}

/// Every valid expression of the upstream parser table: its print parses back to the same tree,
/// printing again gives the same text, and its pretty form parses back to the same tree.
#[test]
fn conformance_cases_round_trip() {
    let path = root().join("../shared/conformance/parser-cases.jsonl");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let known = expected_failures();
    let mut report = Report::default();
    for (n, line) in text.lines().enumerate() {
        let case: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: {e}", n + 1));
        if case["kind"] != "expr" || case["fail"] != false || case["invalidUtf8"] == true {
            continue;
        }
        let Some(input) = case["input"].as_str() else { continue };
        let result = match parse_with(input, &ParseOptions::all_features()) {
            Ok(e) => check_tree(&e),
            Err(e) => Err(format!("  does not parse: {e}")),
        };
        report.record(&known, "conformance", input, &format!("parser-cases.jsonl:{}", n + 1), result);
    }
    report.finish("conformance round trip");
}
