//! The round-trip checks shared by the property test, the conformance replay, the fuzz targets and
//! the fuzz regression test.
//!
//! For a tree `e` the parser produced: the canonical print parses back to `e`, printing that again
//! gives the same text, and the pretty form (at the default width and at a narrow one) parses
//! back to `e` too. Trees are compared after sorting each selector's matchers, because printing
//! sorts them.

#![allow(dead_code)]

use ferroprom::parser::{Expr, ParseOptions, parse_with, prettify, prettify_width};

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
    // The default width, and a narrow one that splits nearly every node.
    for pretty in [prettify(e), prettify_width(e, 10)] {
        let back = parse_with(&pretty, &opts)
            .map_err(|err| format!("pretty form does not parse back\n  pretty:\n{pretty}\n  error: {err}"))?;
        if normalized(&back) != normalized(e) {
            return Err(format!(
                "pretty form parses back to a different tree\n  pretty:\n{pretty}\n  reprint: {back}\n  print:   {printed}"
            ));
        }
    }
    Ok(())
}

/// `e` with every selector's matchers sorted by their printed form.
pub fn normalized(e: &Expr) -> Expr {
    let mut e = e.clone();
    normalize(&mut e);
    e
}

fn normalize(e: &mut Expr) {
    match e {
        Expr::Number(_) | Expr::String(_) => {}
        Expr::VectorSelector(v) => v.matchers.sort_by_cached_key(|m| m.to_string()),
        Expr::MatrixSelector(m) => m.vector.matchers.sort_by_cached_key(|m| m.to_string()),
        Expr::Subquery(s) => normalize(&mut s.expr),
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
