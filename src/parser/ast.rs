//! The PromQL syntax tree.
//!
//! The tree mirrors the shape of Prometheus's `promql/parser` AST so that printing, type checking and
//! planning follow upstream rule for rule. It is a plain value type: no node refers to storage, time
//! of evaluation or engine state.
//!
//! Durations and timestamps are in milliseconds, as everywhere in ferroprom. Spans are byte offsets
//! into the parsed input; equality of nodes ignores spans (see [`Span`]).

use std::fmt;

use crate::model::Matcher;
use crate::parser::functions::Function;

/// A half-open byte range `[start, end)` into the parsed input.
///
/// Two spans always compare equal so that trees parsed from differently formatted inputs compare
/// equal when their structure is the same (the property `parse(print(e)) == e` relies on this).
#[derive(Debug, Clone, Copy, Default, Eq, PartialOrd, Ord)]
pub struct Span {
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset one past the last byte.
    pub end: usize,
}

impl Span {
    /// A span from `start` (inclusive) to `end` (exclusive).
    pub const fn new(start: usize, end: usize) -> Span {
        Span { start, end }
    }

    /// The smallest span covering both `self` and `other`.
    pub fn to(self, other: Span) -> Span {
        Span { start: self.start.min(other.start), end: self.end.max(other.end) }
    }
}

impl PartialEq for Span {
    fn eq(&self, _: &Span) -> bool {
        true
    }
}

impl std::hash::Hash for Span {
    /// Hashes nothing, consistently with equality (all spans are equal).
    fn hash<H: std::hash::Hasher>(&self, _: &mut H) {}
}

/// The type of value an expression evaluates to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueType {
    /// A single float with no labels.
    Scalar,
    /// A set of series with one sample each.
    Vector,
    /// A set of series with a window of samples each.
    Matrix,
    /// A string.
    String,
}

impl ValueType {
    /// The name Prometheus uses in its documentation and error messages
    /// (`"scalar"`, `"instant vector"`, `"range vector"`, `"string"`).
    pub fn document_name(self) -> &'static str {
        match self {
            ValueType::Scalar => "scalar",
            ValueType::Vector => "instant vector",
            ValueType::Matrix => "range vector",
            ValueType::String => "string",
        }
    }

    /// The name Prometheus uses in API responses (`"scalar"`, `"vector"`, `"matrix"`, `"string"`).
    pub fn api_name(self) -> &'static str {
        match self {
            ValueType::Scalar => "scalar",
            ValueType::Vector => "vector",
            ValueType::Matrix => "matrix",
            ValueType::String => "string",
        }
    }
}

impl fmt::Display for ValueType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.document_name())
    }
}

/// A PromQL expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A number literal, `1`, `0x1f`, `Inf`, or a duration used as a number (`5m`).
    Number(NumberLiteral),
    /// A string literal.
    String(StringLiteral),
    /// An instant vector selector, `foo{a="b"} offset 5m @ 100`.
    VectorSelector(VectorSelector),
    /// A range vector selector, `foo[5m]`.
    MatrixSelector(MatrixSelector),
    /// A subquery, `expr[1h:5m]`.
    Subquery(SubqueryExpr),
    /// A parenthesised expression.
    Paren(ParenExpr),
    /// A unary `-` or `+`.
    Unary(UnaryExpr),
    /// A binary operation.
    Binary(BinaryExpr),
    /// An aggregation, `sum by (a) (x)`.
    Aggregate(AggregateExpr),
    /// A function call.
    Call(Call),
}

impl Expr {
    /// The type this expression evaluates to.
    pub fn value_type(&self) -> ValueType {
        match self {
            Expr::Number(_) => ValueType::Scalar,
            Expr::String(_) => ValueType::String,
            Expr::VectorSelector(_) => ValueType::Vector,
            Expr::MatrixSelector(_) | Expr::Subquery(_) => ValueType::Matrix,
            Expr::Paren(p) => p.expr.value_type(),
            Expr::Unary(u) => u.expr.value_type(),
            Expr::Binary(b) => {
                if b.lhs.value_type() == ValueType::Scalar && b.rhs.value_type() == ValueType::Scalar {
                    ValueType::Scalar
                } else {
                    ValueType::Vector
                }
            }
            Expr::Aggregate(_) => ValueType::Vector,
            Expr::Call(c) => c.func.return_type,
        }
    }

    /// The span of input this expression was parsed from.
    pub fn span(&self) -> Span {
        match self {
            Expr::Number(n) => n.span,
            Expr::String(s) => s.span,
            Expr::VectorSelector(v) => v.span,
            Expr::MatrixSelector(m) => m.span,
            Expr::Subquery(s) => s.span,
            Expr::Paren(p) => p.span,
            Expr::Unary(u) => u.span,
            Expr::Binary(b) => b.span,
            Expr::Aggregate(a) => a.span,
            Expr::Call(c) => c.span,
        }
    }
}

/// A number literal.
#[derive(Debug, Clone)]
pub struct NumberLiteral {
    /// The value.
    pub value: f64,
    /// Whether the literal was written as a duration (`5m`); it prints as one.
    pub duration: bool,
    /// Where it was written.
    pub span: Span,
}

impl PartialEq for NumberLiteral {
    /// Bitwise equality of the values (so `NaN == NaN`), plus the duration flag.
    fn eq(&self, other: &NumberLiteral) -> bool {
        (self.value.to_bits() == other.value.to_bits() || (self.value.is_nan() && other.value.is_nan()))
            && self.duration == other.duration
    }
}

/// A string literal (all three quote styles produce the same node).
///
/// Go strings are byte strings, so a PromQL literal may spell bytes that are not UTF-8 (`"a\xc5z"`).
/// `value` is always UTF-8 (each invalid sequence replaced by U+FFFD); the exact bytes are kept in
/// `bytes` for the few places where upstream's behaviour depends on them: label-name validity and
/// the quoting of the literal in messages and in the printed form.
#[derive(Debug, Clone, PartialEq)]
pub struct StringLiteral {
    /// The unescaped value, as UTF-8.
    pub value: String,
    /// The exact unescaped bytes when they are not valid UTF-8; `None` when `value` is exact.
    pub bytes: Option<Box<[u8]>>,
    /// Where it was written.
    pub span: Span,
}

impl StringLiteral {
    /// A literal whose value is valid UTF-8.
    pub fn new(value: impl Into<String>, span: Span) -> StringLiteral {
        StringLiteral { value: value.into(), bytes: None, span }
    }

    /// A literal with the given unescaped bytes, which need not be UTF-8.
    pub fn from_bytes(bytes: Vec<u8>, span: Span) -> StringLiteral {
        match String::from_utf8(bytes) {
            Ok(value) => StringLiteral { value, bytes: None, span },
            Err(e) => {
                let value = String::from_utf8_lossy(e.as_bytes()).into_owned();
                StringLiteral { value, bytes: Some(e.into_bytes().into_boxed_slice()), span }
            }
        }
    }

    /// The exact unescaped bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.bytes.as_deref().unwrap_or(self.value.as_bytes())
    }

    /// Whether the value is valid UTF-8 (Go's `utf8.ValidString`).
    pub fn is_utf8(&self) -> bool {
        self.bytes.is_none()
    }
}

/// The `@` modifier of a selector or subquery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AtModifier {
    /// `@ <unix seconds>`, held in milliseconds.
    Timestamp(i64),
    /// `@ start()`.
    Start,
    /// `@ end()`.
    End,
}

/// A duration written in a range, offset or subquery step.
///
/// A plain duration (`5m`, `300`) is held as a fixed number of milliseconds; anything else
/// (`5m+1m`, `step()`, `(1h*2)`) stays an expression until the planner knows the query's step and
/// range.
#[derive(Debug, Clone, PartialEq)]
pub enum DurationSpec {
    /// A fixed duration in milliseconds; may be negative for offsets.
    Fixed(i64),
    /// A duration expression, evaluated by the planner.
    Expr(Box<DurationExpr>),
}

/// An arithmetic expression over durations (Prometheus's experimental duration expressions).
#[derive(Debug, Clone, PartialEq)]
pub enum DurationExpr {
    /// A number or duration literal; the value is in seconds, as written.
    Number(NumberLiteral),
    /// A unary `-` or `+`.
    Unary {
        /// The operator.
        op: UnaryOp,
        /// The operand.
        expr: Box<DurationExpr>,
        /// Where it was written.
        span: Span,
    },
    /// A binary arithmetic operation.
    Binary {
        /// The operator: one of `+ - * / % ^`.
        op: BinaryOp,
        /// Left operand.
        lhs: Box<DurationExpr>,
        /// Right operand.
        rhs: Box<DurationExpr>,
    },
    /// `step()`: the step of the range query (0 for instant queries).
    Step(Span),
    /// `range()`: the range of the range query (0 for instant queries).
    Range(Span),
    /// `min(a, b)`.
    Min {
        /// First operand.
        lhs: Box<DurationExpr>,
        /// Second operand.
        rhs: Box<DurationExpr>,
        /// Where it was written.
        span: Span,
    },
    /// `max(a, b)`.
    Max {
        /// First operand.
        lhs: Box<DurationExpr>,
        /// Second operand.
        rhs: Box<DurationExpr>,
        /// Where it was written.
        span: Span,
    },
    /// A parenthesised duration expression.
    Paren {
        /// The inner expression.
        expr: Box<DurationExpr>,
        /// Where it was written, parentheses included.
        span: Span,
    },
}

/// An instant vector selector.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorSelector {
    /// The metric name when written before the braces (`foo{...}`). A bare quoted name inside the
    /// braces (`{"foo"}`) is only a `__name__` matcher, as in Prometheus, and leaves this `None`.
    pub name: Option<String>,
    /// All matchers, including the `__name__` matcher implied by `name`.
    pub matchers: Vec<Matcher>,
    /// The `offset` modifier; negative offsets look ahead.
    pub offset: Option<DurationSpec>,
    /// The `@` modifier.
    pub at: Option<AtModifier>,
    /// The `anchored` extended range selector modifier.
    pub anchored: bool,
    /// The `smoothed` extended range selector modifier.
    pub smoothed: bool,
    /// Where it was written.
    pub span: Span,
}

impl VectorSelector {
    /// A selector without modifiers: `name` as written before the braces, and all `matchers`
    /// (the `__name__` matcher implied by `name` included).
    pub fn new(name: Option<String>, matchers: Vec<Matcher>, span: Span) -> VectorSelector {
        VectorSelector { name, matchers, offset: None, at: None, anchored: false, smoothed: false, span }
    }
}

/// A range vector selector: an instant selector with a range.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixSelector {
    /// The selector; its offset and `@` apply to the window's end.
    pub vector: Box<VectorSelector>,
    /// The length of the window.
    pub range: DurationSpec,
    /// Where it was written, modifiers included.
    pub span: Span,
}

/// A subquery, `expr[range:step]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SubqueryExpr {
    /// The inner expression; an instant vector.
    pub expr: Box<Expr>,
    /// The length of the window.
    pub range: DurationSpec,
    /// The resolution; `None` when written `[r:]` (the engine's default interval is used).
    pub step: Option<DurationSpec>,
    /// The `offset` modifier.
    pub offset: Option<DurationSpec>,
    /// The `@` modifier.
    pub at: Option<AtModifier>,
    /// Where it was written, modifiers included.
    pub span: Span,
}

/// A parenthesised expression.
#[derive(Debug, Clone, PartialEq)]
pub struct ParenExpr {
    /// The inner expression.
    pub expr: Box<Expr>,
    /// Where it was written, parentheses included.
    pub span: Span,
}

/// A unary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnaryOp {
    /// `-`
    Neg,
    /// `+`
    Pos,
}

impl UnaryOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            UnaryOp::Neg => "-",
            UnaryOp::Pos => "+",
        }
    }
}

/// A unary expression, `-x`.
#[derive(Debug, Clone, PartialEq)]
pub struct UnaryExpr {
    /// The operator.
    pub op: UnaryOp,
    /// The operand.
    pub expr: Box<Expr>,
    /// Where it was written, operator included.
    pub span: Span,
}

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `^`
    Pow,
    /// `atan2`
    Atan2,
    /// `==`
    Eql,
    /// `!=`
    Neq,
    /// `>`
    Gtr,
    /// `<`
    Lss,
    /// `>=`
    Gte,
    /// `<=`
    Lte,
    /// `</`: trims the upper part of native histograms (same precedence as comparisons).
    TrimUpper,
    /// `>/`: trims the lower part of native histograms (same precedence as comparisons).
    TrimLower,
    /// `and`
    And,
    /// `or`
    Or,
    /// `unless`
    Unless,
}

impl BinaryOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::Pow => "^",
            BinaryOp::Atan2 => "atan2",
            BinaryOp::Eql => "==",
            BinaryOp::Neq => "!=",
            BinaryOp::Gtr => ">",
            BinaryOp::Lss => "<",
            BinaryOp::Gte => ">=",
            BinaryOp::Lte => "<=",
            BinaryOp::TrimUpper => "</",
            BinaryOp::TrimLower => ">/",
            BinaryOp::And => "and",
            BinaryOp::Or => "or",
            BinaryOp::Unless => "unless",
        }
    }

    /// Whether this is a comparison operator (`==`, `!=`, `>`, `<`, `>=`, `<=`).
    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Eql | BinaryOp::Neq | BinaryOp::Gtr | BinaryOp::Lss | BinaryOp::Gte | BinaryOp::Lte
        )
    }

    /// Whether this is a set operator (`and`, `or`, `unless`).
    pub fn is_set(self) -> bool {
        matches!(self, BinaryOp::And | BinaryOp::Or | BinaryOp::Unless)
    }

    /// Binding strength, higher binds tighter (Prometheus's precedence table).
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => 1,
            BinaryOp::And | BinaryOp::Unless => 2,
            BinaryOp::Eql
            | BinaryOp::Neq
            | BinaryOp::Gtr
            | BinaryOp::Lss
            | BinaryOp::Gte
            | BinaryOp::Lte
            | BinaryOp::TrimUpper
            | BinaryOp::TrimLower => 3,
            BinaryOp::Add | BinaryOp::Sub => 4,
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod | BinaryOp::Atan2 => 5,
            BinaryOp::Pow => 6,
        }
    }

    /// Whether the operator associates to the right (only `^`).
    pub fn is_right_associative(self) -> bool {
        self == BinaryOp::Pow
    }
}

/// How series on the two sides of a binary operation are matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cardinality {
    /// One-to-one (the default for arithmetic and comparisons).
    OneToOne,
    /// `group_left`.
    ManyToOne,
    /// `group_right`.
    OneToMany,
    /// Set operators.
    ManyToMany,
}

impl Cardinality {
    /// The name Prometheus uses in error messages (`"one-to-one"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Cardinality::OneToOne => "one-to-one",
            Cardinality::ManyToOne => "many-to-one",
            Cardinality::OneToMany => "one-to-many",
            Cardinality::ManyToMany => "many-to-many",
        }
    }
}

/// Vector matching of a binary operation between two instant vectors.
#[derive(Debug, Clone, PartialEq)]
pub struct VectorMatching {
    /// The matching cardinality.
    pub card: Cardinality,
    /// The labels of `on(...)` or `ignoring(...)`.
    pub labels: Vec<String>,
    /// `true` for `on`, `false` for `ignoring` (or no clause).
    pub on: bool,
    /// The extra labels of `group_left(...)`/`group_right(...)`.
    pub include: Vec<String>,
    /// Fill values for missing series (`fill`, `fill_left`, `fill_right`).
    pub fill: FillValues,
}

/// Values to fill in for series missing on one side of a binary operation.
#[derive(Debug, Clone, Copy, Default)]
pub struct FillValues {
    /// Fill value used when the left-hand side has no match.
    pub lhs: Option<f64>,
    /// Fill value used when the right-hand side has no match.
    pub rhs: Option<f64>,
}

impl PartialEq for FillValues {
    fn eq(&self, other: &FillValues) -> bool {
        fn same(a: Option<f64>, b: Option<f64>) -> bool {
            match (a, b) {
                (None, None) => true,
                (Some(x), Some(y)) => x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()),
                _ => false,
            }
        }
        same(self.lhs, other.lhs) && same(self.rhs, other.rhs)
    }
}

/// A binary expression.
#[derive(Debug, Clone, PartialEq)]
pub struct BinaryExpr {
    /// The operator.
    pub op: BinaryOp,
    /// Left operand.
    pub lhs: Box<Expr>,
    /// Right operand.
    pub rhs: Box<Expr>,
    /// The `bool` modifier of a comparison.
    pub return_bool: bool,
    /// Vector matching; `None` when at least one side is a scalar.
    pub matching: Option<VectorMatching>,
    /// Where it was written, from the start of `lhs` to the end of `rhs`.
    pub span: Span,
}

/// An aggregation operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AggregateOp {
    /// `sum`
    Sum,
    /// `avg`
    Avg,
    /// `count`
    Count,
    /// `min`
    Min,
    /// `max`
    Max,
    /// `group`
    Group,
    /// `stddev`
    Stddev,
    /// `stdvar`
    Stdvar,
    /// `topk`
    Topk,
    /// `bottomk`
    Bottomk,
    /// `count_values`
    CountValues,
    /// `quantile`
    Quantile,
    /// `limitk` (experimental)
    Limitk,
    /// `limit_ratio` (experimental)
    LimitRatio,
}

impl AggregateOp {
    /// Every aggregation operator.
    pub const ALL: [AggregateOp; 14] = [
        AggregateOp::Sum,
        AggregateOp::Avg,
        AggregateOp::Count,
        AggregateOp::Min,
        AggregateOp::Max,
        AggregateOp::Group,
        AggregateOp::Stddev,
        AggregateOp::Stdvar,
        AggregateOp::Topk,
        AggregateOp::Bottomk,
        AggregateOp::CountValues,
        AggregateOp::Quantile,
        AggregateOp::Limitk,
        AggregateOp::LimitRatio,
    ];

    /// The operator as written (lower case).
    pub fn as_str(self) -> &'static str {
        match self {
            AggregateOp::Sum => "sum",
            AggregateOp::Avg => "avg",
            AggregateOp::Count => "count",
            AggregateOp::Min => "min",
            AggregateOp::Max => "max",
            AggregateOp::Group => "group",
            AggregateOp::Stddev => "stddev",
            AggregateOp::Stdvar => "stdvar",
            AggregateOp::Topk => "topk",
            AggregateOp::Bottomk => "bottomk",
            AggregateOp::CountValues => "count_values",
            AggregateOp::Quantile => "quantile",
            AggregateOp::Limitk => "limitk",
            AggregateOp::LimitRatio => "limit_ratio",
        }
    }

    /// Whether the operator takes a parameter before the vector (`topk(3, x)`).
    pub fn takes_param(self) -> bool {
        matches!(
            self,
            AggregateOp::Topk
                | AggregateOp::Bottomk
                | AggregateOp::CountValues
                | AggregateOp::Quantile
                | AggregateOp::Limitk
                | AggregateOp::LimitRatio
        )
    }

    /// Whether the operator is experimental (needs experimental functions enabled).
    pub fn is_experimental(self) -> bool {
        matches!(self, AggregateOp::Limitk | AggregateOp::LimitRatio)
    }
}

/// An aggregation.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateExpr {
    /// The operator.
    pub op: AggregateOp,
    /// The aggregated instant vector.
    pub expr: Box<Expr>,
    /// The parameter of `topk`, `quantile`, `count_values`, ...
    pub param: Option<Box<Expr>>,
    /// The labels of `by (...)` or `without (...)`.
    pub grouping: Vec<String>,
    /// `true` for `without`.
    pub without: bool,
    /// Where it was written.
    pub span: Span,
}

/// A function call.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The called function.
    pub func: &'static Function,
    /// The arguments.
    pub args: Vec<Expr>,
    /// Where it was written.
    pub span: Span,
}
