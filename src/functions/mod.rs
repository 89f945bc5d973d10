//! The arithmetic of PromQL: every function's and aggregation's float math, written to give
//! Prometheus's answers bit for bit (same summation algorithms, same operation order).
//!
//! This module is pure: it sees windows of points and vectors of floats, never operators,
//! storage or labels beyond what a function reads. `exec` calls into it.

mod binop;
mod date;
pub mod gomath;
mod histogram;
mod histogram_range;
mod histogram_trim;
mod quantile;
mod range;
pub(crate) mod sliding;

pub use crate::model::kahan_inc;
pub use binop::{btos, scalar_binop, vector_elem_binop};
pub(crate) use date::civil_from_days;
pub use date::{DateFn, date_value};
pub use histogram::hist_fraction;
pub use histogram::{
    HistBinop, hist_binop, hist_detect_reset, hist_div, hist_equals, hist_mul, hist_quantile, hist_string,
    hist_variance,
};
pub use histogram_range::interpolate_histograms;
pub use histogram_trim::hist_trim;
pub use quantile::{Bucket, BucketQuantile, bucket_fraction, bucket_quantile, quantile};
pub use range::{RangeArgs, RangeFn, RangeOutput, START_TIME_OVERLAP, StartTimestamps, interpolate};

/// Applies an elementwise float function by name (`abs`, `ceil`, `sin`, ...); `None` when `name`
/// is not one.
pub fn simple_float_fn(name: &str) -> Option<fn(f64) -> f64> {
    Some(match name {
        "abs" => f64::abs,
        "ceil" => f64::ceil,
        "floor" => f64::floor,
        "exp" => gomath::exp,
        "sqrt" => f64::sqrt,
        "ln" => gomath::ln,
        "log2" => gomath::log2,
        "log10" => gomath::log10,
        "sin" => gomath::sin,
        "cos" => gomath::cos,
        "tan" => gomath::tan,
        "asin" => gomath::asin,
        "acos" => gomath::acos,
        "atan" => gomath::atan,
        "sinh" => gomath::sinh,
        "cosh" => gomath::cosh,
        "tanh" => gomath::tanh,
        "asinh" => gomath::asinh,
        "acosh" => gomath::acosh,
        "atanh" => gomath::atanh,
        "rad" => |v| v * std::f64::consts::PI / 180.0,
        "deg" => |v| v * 180.0 / std::f64::consts::PI,
        "sgn" => |v: f64| {
            if v < 0.0 {
                -1.0
            } else if v > 0.0 {
                1.0
            } else {
                v
            }
        },
        _ => return None,
    })
}

/// Go's `math.Max`: NaN wins, `+0` beats `-0`.
pub fn go_max(a: f64, b: f64) -> f64 {
    if a.is_infinite() && a > 0.0 || b.is_infinite() && b > 0.0 {
        return f64::INFINITY;
    }
    if a.is_nan() || b.is_nan() {
        return f64::NAN;
    }
    if a == 0.0 && b == 0.0 {
        return if a.is_sign_negative() { b } else { a };
    }
    if a > b { a } else { b }
}

/// Go's `math.Min`: NaN wins, `-0` beats `+0`.
pub fn go_min(a: f64, b: f64) -> f64 {
    if a.is_infinite() && a < 0.0 || b.is_infinite() && b < 0.0 {
        return f64::NEG_INFINITY;
    }
    if a.is_nan() || b.is_nan() {
        return f64::NAN;
    }
    if a == 0.0 && b == 0.0 {
        return if a.is_sign_negative() { a } else { b };
    }
    if a < b { a } else { b }
}

/// `round(v, to_nearest)` as Prometheus computes it.
pub fn round_to(v: f64, to_nearest: f64) -> f64 {
    let inv = 1.0 / to_nearest;
    (v * inv + 0.5).floor() / inv
}

/// Go's `math.Mod` (the sign follows the dividend, as Rust's `%`).
pub fn go_mod(a: f64, b: f64) -> f64 {
    gomath::fmod(a, b)
}
