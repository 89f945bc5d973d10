//! The logical plan: a PromQL syntax tree with time made absolute.
//!
//! [`plan`] turns an [`Expr`](crate::parser::Expr) into a [`Node`] tree for one query (its start,
//! end and step): duration expressions and `start()`/`end()`/`step()`/`range()` become numbers,
//! every selector gets its offset, `@` time and the absolute `[mint, maxt]` it reads, subqueries get
//! their step, and step-invariant subtrees are marked so they are evaluated once. Engine-level
//! semantic checks (disabled `@`, negative offsets) happen here. Result-preserving rewrites live in
//! [`optimize`], one rule per file; `Display` on a [`Plan`] is the `EXPLAIN` text.
//!
//! Architecture invariant: the plan knows nothing about storage or evaluation; operators in
//! `exec` never see the syntax tree.

mod explain;
mod node;
pub mod optimize;
mod time;

pub use node::{AggregateNode, BinaryNode, CallNode, MatrixSelector, Node, Selector, Subquery};
pub(crate) use time::AT_UNSAFE;
pub use time::QueryParams;

use crate::parser::{Expr, ValueType};

/// A planned query.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// The root node.
    pub root: Node,
    /// The query's time parameters.
    pub params: QueryParams,
}

/// Planning failed; the message is Prometheus's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PlanError(pub String);

/// Switches of the planner that come from engine options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PlanOptions {
    /// Accept the `@` modifier.
    pub enable_at_modifier: bool,
    /// Accept negative offsets.
    pub enable_negative_offset: bool,
    /// Run the result-preserving optimiser rules.
    pub optimize: bool,
}

impl Default for PlanOptions {
    fn default() -> PlanOptions {
        PlanOptions { enable_at_modifier: true, enable_negative_offset: true, optimize: true }
    }
}

/// Plans `expr` for a query with the given time parameters.
///
/// # Errors
///
/// A [`PlanError`] with Prometheus's text when a duration expression is invalid or a disabled
/// feature is used.
///
/// ```
/// use ferroprom::plan::{plan, PlanOptions, QueryParams};
/// let expr = ferroprom::parser::parse("rate(x[5m] offset 1m)").unwrap();
/// let p = plan(&expr, QueryParams::instant(600_000), PlanOptions::default()).unwrap();
/// assert!(p.to_string().contains("offset=60000"));
/// ```
pub fn plan(expr: &Expr, params: QueryParams, opts: PlanOptions) -> Result<Plan, PlanError> {
    let mut planner = time::Planner::new(params, opts);
    let root = planner.lower(expr)?;
    let root = time::resolve_ranges(root, &params);
    let root = time::wrap_step_invariant(root);
    let root = if opts.optimize { optimize::optimize(root) } else { root };
    Ok(Plan { root, params })
}

impl Plan {
    /// The type of the query's result.
    pub fn value_type(&self) -> ValueType {
        self.root.value_type()
    }
}
