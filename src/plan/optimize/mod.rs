//! Result-preserving plan rewrites, one rule per file behind [`OptimizeRule`].
//!
//! Every rule must give exactly the same answer (to the bit) as the unoptimised plan; the
//! conformance test runs the corpus with the optimiser on and off.

mod fold_constants;

pub use fold_constants::FoldConstants;

use crate::plan::Node;

/// One rewrite rule.
pub trait OptimizeRule {
    /// The rule's name, shown by `EXPLAIN` tooling and in tests.
    fn name(&self) -> &'static str;
    /// Rewrites `node` (the whole tree); must preserve results exactly.
    fn rewrite(&self, node: Node) -> Node;
}

/// The rules run by default, in order.
pub fn default_rules() -> Vec<Box<dyn OptimizeRule>> {
    vec![Box::new(FoldConstants)]
}

/// Runs the default rules over `root`.
pub fn optimize(root: Node) -> Node {
    default_rules().iter().fold(root, |node, rule| rule.rewrite(node))
}
