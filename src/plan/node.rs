//! Plan nodes: the AST with time resolved.
//!
//! Every selector carries its offset and `@` time in milliseconds and the absolute
//! `[mint, maxt]` it reads from storage; subqueries carry their range, step and offset; duration
//! expressions, `start()`, `end()`, `step()` and `range()` have become numbers.

use crate::model::Matcher;
use crate::parser::{AggregateOp, BinaryOp, Function, Span, StringLiteral, ValueType, VectorMatching};

/// A node of the logical plan.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// A number.
    Number(f64),
    /// A string.
    String(StringLiteral),
    /// An instant vector selector.
    VectorSelector(Selector),
    /// A range vector selector.
    MatrixSelector(MatrixSelector),
    /// A subquery.
    Subquery(Box<Subquery>),
    /// A function call.
    Call(Box<CallNode>),
    /// An aggregation.
    Aggregate(Box<AggregateNode>),
    /// A binary operation.
    Binary(Box<BinaryNode>),
    /// Unary minus.
    Negate(Box<Node>, Span),
    /// A subtree whose value is the same at every step: evaluated once, at the first step.
    StepInvariant(Box<Node>),
}

/// An instant vector selector with its time resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Selector {
    /// The metric name, if written.
    pub name: Option<String>,
    /// All label matchers.
    pub matchers: Vec<Matcher>,
    /// The offset in milliseconds (negative looks ahead).
    pub offset: i64,
    /// The absolute `@` time in milliseconds, if any (`start()`/`end()` resolved).
    pub at: Option<i64>,
    /// The `anchored` modifier.
    pub anchored: bool,
    /// The `smoothed` modifier.
    pub smoothed: bool,
    /// Only the count and sum of native histograms are needed (the selector is inside
    /// `histogram_count`, `histogram_sum` or `histogram_avg`): histograms are read without
    /// buckets, with counter-reset hints detected from consecutive samples as Prometheus's
    /// `HistogramStatsIterator` does.
    pub stats_only: bool,
    /// The earliest sample time this selector can read, inclusive.
    pub mint: i64,
    /// The latest sample time this selector can read, inclusive.
    pub maxt: i64,
    /// Where the selector was written.
    pub span: Span,
}

/// A range vector selector.
#[derive(Debug, Clone, PartialEq)]
pub struct MatrixSelector {
    /// The selector; its offset and `@` apply to the end of the window.
    pub selector: Selector,
    /// The window length in milliseconds.
    pub range: i64,
    /// Where it was written.
    pub span: Span,
}

/// A subquery with its time resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Subquery {
    /// The inner expression.
    pub expr: Node,
    /// The window length in milliseconds.
    pub range: i64,
    /// The resolution in milliseconds (the default interval when not written).
    pub step: i64,
    /// The offset in milliseconds.
    pub offset: i64,
    /// The absolute `@` time in milliseconds, if any.
    pub at: Option<i64>,
    /// Where it was written.
    pub span: Span,
}

/// A function call.
#[derive(Debug, Clone, PartialEq)]
pub struct CallNode {
    /// The function.
    pub func: &'static Function,
    /// The arguments.
    pub args: Vec<Node>,
    /// Where the call was written.
    pub span: Span,
    /// Where each argument was written.
    pub arg_spans: Vec<Span>,
}

/// An aggregation.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateNode {
    /// The operator.
    pub op: AggregateOp,
    /// The aggregated expression.
    pub expr: Node,
    /// The parameter (`k`, `q`, the label of `count_values`).
    pub param: Option<Node>,
    /// Grouping labels, sorted.
    pub grouping: Vec<String>,
    /// `without` rather than `by`.
    pub without: bool,
    /// Where the aggregation was written.
    pub span: Span,
    /// Where the aggregated expression was written.
    pub expr_span: Span,
    /// Where the parameter was written.
    pub param_span: Span,
}

/// A binary operation.
#[derive(Debug, Clone, PartialEq)]
pub struct BinaryNode {
    /// The operator.
    pub op: BinaryOp,
    /// Left operand.
    pub lhs: Node,
    /// Right operand.
    pub rhs: Node,
    /// The type of the left operand.
    pub lhs_type: ValueType,
    /// The type of the right operand.
    pub rhs_type: ValueType,
    /// The `bool` modifier.
    pub return_bool: bool,
    /// Vector matching, for operations between two instant vectors.
    pub matching: Option<VectorMatching>,
    /// Where the operation was written.
    pub span: Span,
}

impl Node {
    /// The type of value the node evaluates to.
    pub fn value_type(&self) -> ValueType {
        match self {
            Node::Number(_) => ValueType::Scalar,
            Node::String(_) => ValueType::String,
            Node::VectorSelector(_) => ValueType::Vector,
            Node::MatrixSelector(_) | Node::Subquery(_) => ValueType::Matrix,
            Node::Call(c) => c.func.return_type,
            Node::Aggregate(_) => ValueType::Vector,
            Node::Binary(b) => {
                if b.lhs_type == ValueType::Scalar && b.rhs_type == ValueType::Scalar {
                    ValueType::Scalar
                } else {
                    ValueType::Vector
                }
            }
            Node::Negate(e, _) | Node::StepInvariant(e) => e.value_type(),
        }
    }

    /// The children of the node, in evaluation order.
    pub fn children(&self) -> Vec<&Node> {
        match self {
            Node::Number(_) | Node::String(_) | Node::VectorSelector(_) | Node::MatrixSelector(_) => vec![],
            Node::Subquery(s) => vec![&s.expr],
            Node::Call(c) => c.args.iter().collect(),
            Node::Aggregate(a) => a.param.iter().chain(std::iter::once(&a.expr)).collect(),
            Node::Binary(b) => vec![&b.lhs, &b.rhs],
            Node::Negate(e, _) | Node::StepInvariant(e) => vec![e],
        }
    }

    /// Applies `f` to every child, bottom-up, rebuilding the node.
    pub fn map_children(self, f: &mut dyn FnMut(Node) -> Node) -> Node {
        match self {
            Node::Subquery(mut s) => {
                s.expr = f(s.expr);
                Node::Subquery(s)
            }
            Node::Call(mut c) => {
                c.args = std::mem::take(&mut c.args).into_iter().map(&mut *f).collect();
                Node::Call(c)
            }
            Node::Aggregate(mut a) => {
                a.param = a.param.take().map(&mut *f);
                a.expr = f(a.expr);
                Node::Aggregate(a)
            }
            Node::Binary(mut b) => {
                b.lhs = f(b.lhs);
                b.rhs = f(b.rhs);
                Node::Binary(b)
            }
            Node::Negate(e, span) => Node::Negate(Box::new(f(*e)), span),
            Node::StepInvariant(e) => Node::StepInvariant(Box::new(f(*e))),
            leaf => leaf,
        }
    }
}
