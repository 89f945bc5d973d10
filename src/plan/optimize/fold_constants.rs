//! Folds arithmetic between number literals into one number.

use crate::parser::BinaryOp;
use crate::plan::Node;
use crate::plan::optimize::OptimizeRule;

/// `1 + 2 * 3` becomes `7`; `-(2)` becomes `-2`. The same float operations run once at plan time
/// instead of once per step, so the answer is unchanged.
#[derive(Debug, Clone, Copy, Default)]
pub struct FoldConstants;

impl OptimizeRule for FoldConstants {
    fn name(&self) -> &'static str {
        "fold_constants"
    }

    fn rewrite(&self, node: Node) -> Node {
        let node = node.map_children(&mut |c| self.rewrite(c));
        match node {
            Node::Negate(e, span) => match *e {
                Node::Number(v) => Node::Number(-v),
                other => Node::Negate(Box::new(other), span),
            },
            Node::Binary(b) => match (&b.lhs, &b.rhs) {
                (Node::Number(l), Node::Number(r)) if arithmetic(b.op) || b.return_bool => {
                    Node::Number(crate::functions::scalar_binop(b.op, *l, *r))
                }
                _ => Node::Binary(b),
            },
            Node::StepInvariant(e) if matches!(*e, Node::Number(_)) => *e,
            other => other,
        }
    }
}

fn arithmetic(op: BinaryOp) -> bool {
    matches!(
        op,
        BinaryOp::Add
            | BinaryOp::Sub
            | BinaryOp::Mul
            | BinaryOp::Div
            | BinaryOp::Mod
            | BinaryOp::Pow
            | BinaryOp::Atan2
    )
}
