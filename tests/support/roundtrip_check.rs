//! The round-trip checks shared by the property test, the conformance replay, the fuzz targets and
//! the fuzz regression test.
//!
//! For a tree `e` the parser produced: the canonical print parses back to `e`, printing that again
//! gives the same text, and the pretty form parses back to `e` too. Trees are compared after sorting
//! each selector's matchers, because printing sorts them, and after dropping unary `+` from
//! duration expressions, because printing leaves it out (as upstream's does) while the parser keeps
//! it in `offset +min_of(…)` (as upstream's does).

#![allow(dead_code)]

use ferroprom::parser::{
    DurationExpr, DurationSpec, Expr, ParseOptions, UnaryOp, VectorSelector, parse_with, prettify,
};

/// Parses `input` with every feature on and, when it parses, checks that its prints round-trip.
pub fn check_input(input: &str) -> Result<(), String> {
    match parse_with(input, &ParseOptions::all_features()) {
        Ok(e) => check_tree(&e),
        Err(_) => Ok(()),
    }
}

/// Checks that both prints of `e` parse back to `e` and that printing is idempotent.
pub fn check_tree(e: &Expr) -> Result<(), String> {
    let opts = ParseOptions::all_features();
    let printed = e.to_string();
    let back = parse_with(&printed, &opts)
        .map_err(|err| format!("print does not parse back\n  print: {printed}\n  error: {err}"))?;
    if normalized(&back) != normalized(e) {
        return Err(format!(
            "print parses back to a different tree\n  print:   {printed}\n  reprint: {back}\n  tree:    {e:?}\n  back:    {back:?}"
        ));
    }
    let reprinted = back.to_string();
    if reprinted != printed {
        return Err(format!("printing is not idempotent\n  print:   {printed}\n  reprint: {reprinted}"));
    }
    let pretty = prettify(e);
    let back = parse_with(&pretty, &opts)
        .map_err(|err| format!("pretty form does not parse back\n  pretty:\n{pretty}\n  error: {err}"))?;
    if normalized(&back) != normalized(e) {
        return Err(format!(
            "pretty form parses back to a different tree\n  pretty:\n{pretty}\n  reprint: {back}\n  print:   {printed}"
        ));
    }
    Ok(())
}

/// `e` with every selector's matchers sorted by their printed form and no unary `+` in duration
/// expressions.
pub fn normalized(e: &Expr) -> Expr {
    let mut e = e.clone();
    normalize(&mut e);
    e
}

fn normalize(e: &mut Expr) {
    match e {
        Expr::Number(_) | Expr::String(_) => {}
        Expr::VectorSelector(v) => normalize_selector(v),
        Expr::MatrixSelector(m) => {
            normalize_selector(&mut m.vector);
            normalize_duration(&mut m.range);
        }
        Expr::Subquery(s) => {
            normalize(&mut s.expr);
            normalize_duration(&mut s.range);
            s.step.iter_mut().chain(s.offset.iter_mut()).for_each(normalize_duration);
        }
        Expr::Paren(p) => normalize(&mut p.expr),
        Expr::Unary(u) => normalize(&mut u.expr),
        Expr::Binary(b) => {
            normalize(&mut b.lhs);
            normalize(&mut b.rhs);
        }
        Expr::Aggregate(a) => {
            normalize(&mut a.expr);
            if let Some(p) = &mut a.param {
                normalize(p);
            }
        }
        Expr::Call(c) => c.args.iter_mut().for_each(normalize),
    }
}

fn normalize_selector(v: &mut VectorSelector) {
    v.matchers.sort_by_cached_key(|m| m.to_string());
    v.offset.iter_mut().for_each(normalize_duration);
}

fn normalize_duration(d: &mut DurationSpec) {
    if let DurationSpec::Expr(e) = d {
        normalize_duration_expr(e);
    }
}

fn normalize_duration_expr(e: &mut DurationExpr) {
    while let DurationExpr::Unary { op: UnaryOp::Pos, expr, .. } = e {
        let inner = std::mem::replace(&mut **expr, DurationExpr::Step(Default::default()));
        *e = inner;
    }
    match e {
        DurationExpr::Number(_) | DurationExpr::Step(_) | DurationExpr::Range(_) => {}
        DurationExpr::Unary { expr, .. } | DurationExpr::Paren { expr, .. } => normalize_duration_expr(expr),
        DurationExpr::Binary { lhs, rhs, .. }
        | DurationExpr::Min { lhs, rhs, .. }
        | DurationExpr::Max { lhs, rhs, .. } => {
            normalize_duration_expr(lhs);
            normalize_duration_expr(rhs);
        }
    }
}
