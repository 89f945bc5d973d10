//! Binary operators on floats.

use super::gomath;
use crate::parser::BinaryOp;

/// 1 for true, 0 for false.
pub fn btos(b: bool) -> f64 {
    if b { 1.0 } else { 0.0 }
}

/// A binary operation between two scalars (comparisons give 0 or 1).
pub fn scalar_binop(op: BinaryOp, l: f64, r: f64) -> f64 {
    match op {
        BinaryOp::Add => l + r,
        BinaryOp::Sub => l - r,
        BinaryOp::Mul => l * r,
        BinaryOp::Div => l / r,
        BinaryOp::Pow => gomath::pow(l, r),
        BinaryOp::Mod => gomath::fmod(l, r),
        BinaryOp::Atan2 => gomath::atan2(l, r),
        BinaryOp::Eql => btos(l == r),
        BinaryOp::Neq => btos(l != r),
        BinaryOp::Gtr => btos(l > r),
        BinaryOp::Lss => btos(l < r),
        BinaryOp::Gte => btos(l >= r),
        BinaryOp::Lte => btos(l <= r),
        // Set and histogram-trim operators never reach scalars (the parser rejects them).
        _ => f64::NAN,
    }
}

/// A binary operation between two vector elements: the value and whether the element is kept
/// (comparisons filter, keeping the left value).
pub fn vector_elem_binop(op: BinaryOp, l: f64, r: f64) -> (f64, bool) {
    match op {
        BinaryOp::Eql => (l, l == r),
        BinaryOp::Neq => (l, l != r),
        BinaryOp::Gtr => (l, l > r),
        BinaryOp::Lss => (l, l < r),
        BinaryOp::Gte => (l, l >= r),
        BinaryOp::Lte => (l, l <= r),
        other => (scalar_binop(other, l, r), true),
    }
}
