//! The syntax tree as `/api/v1/parse_query` returns it (Prometheus's `translateAST`, the shape its
//! UI's tree view reads): one object per node with a `type`, keys in sorted order as Go writes maps.

use serde_json::{Map, Value as Json, json};

use crate::parser::{AtModifier, DurationExpr, DurationSpec, Expr, NumberLiteral, VectorSelector};

/// The JSON tree of `expr`.
///
/// ```
/// let e = ferroprom::parser::parse("sum(up)")?;
/// assert_eq!(
///     ferroprom::http_api::parse_query_json(&e),
///     r#"{"expr":{"anchored":false,"matchers":[{"name":"__name__","type":"=","value":"up"}],"name":"up","offset":0,"offsetExpr":null,"smoothed":false,"startOrEnd":null,"timestamp":null,"type":"vectorSelector"},"grouping":[],"op":"sum","param":null,"type":"aggregation","without":false}"#
/// );
/// # Ok::<(), ferroprom::parser::ParseError>(())
/// ```
pub fn parse_query_json(expr: &Expr) -> String {
    let text = node(expr).to_string();
    // Go's encoder escapes these inside strings (the only place they can occur in JSON text).
    text.replace('<', "\\u003c")
        .replace('>', "\\u003e")
        .replace('&', "\\u0026")
        .replace('\u{2028}', "\\u2028")
        .replace('\u{2029}', "\\u2029")
}

/// A float as Go's `strconv.FormatFloat(v, 'f', -1, 64)`.
fn go_fixed(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "+Inf".into() } else { "-Inf".into() }
    } else {
        format!("{v}")
    }
}

fn object(pairs: Vec<(&str, Json)>) -> Json {
    let mut m = Map::new();
    for (k, v) in pairs {
        m.insert(k.to_string(), v);
    }
    Json::Object(m)
}

fn node(expr: &Expr) -> Json {
    match expr {
        Expr::Aggregate(a) => object(vec![
            ("type", json!("aggregation")),
            ("op", json!(a.op.as_str())),
            ("expr", node(&a.expr)),
            ("param", a.param.as_deref().map_or(Json::Null, node)),
            ("grouping", json!(a.grouping)),
            ("without", json!(a.without)),
        ]),
        Expr::Binary(b) => {
            let matching = b.matching.as_ref().map_or(Json::Null, |m| {
                object(vec![
                    ("card", json!(m.card.as_str())),
                    ("labels", json!(m.labels)),
                    ("on", json!(m.on)),
                    ("include", json!(m.include)),
                    ("fillValues", json!({"lhs": m.fill.lhs, "rhs": m.fill.rhs})),
                ])
            });
            object(vec![
                ("type", json!("binaryExpr")),
                ("op", json!(b.op.as_str())),
                ("lhs", node(&b.lhs)),
                ("rhs", node(&b.rhs)),
                ("matching", matching),
                ("bool", json!(b.return_bool)),
            ])
        }
        Expr::Call(c) => {
            let arg_types: Vec<&str> = c.func.arg_types.iter().map(|t| t.api_name()).collect();
            object(vec![
                ("type", json!("call")),
                (
                    "func",
                    json!({
                        "name": c.func.name,
                        "argTypes": arg_types,
                        "variadic": c.func.variadic,
                        "returnType": c.func.return_type.api_name(),
                    }),
                ),
                ("args", Json::Array(c.args.iter().map(node).collect())),
            ])
        }
        Expr::MatrixSelector(m) => {
            let mut pairs = selector(&m.vector);
            let (range, range_expr) = duration(Some(&m.range));
            pairs.push(("type", json!("matrixSelector")));
            pairs.push(("range", range));
            pairs.push(("rangeExpr", range_expr));
            object(pairs)
        }
        Expr::Subquery(s) => {
            let (range, range_expr) = duration(Some(&s.range));
            let (offset, offset_expr) = duration(s.offset.as_ref());
            let (step, step_expr) = duration(s.step.as_ref());
            let (timestamp, start_or_end) = at(s.at);
            object(vec![
                ("type", json!("subquery")),
                ("expr", node(&s.expr)),
                ("range", range),
                ("rangeExpr", range_expr),
                ("offset", offset),
                ("offsetExpr", offset_expr),
                ("step", step),
                ("stepExpr", step_expr),
                ("timestamp", timestamp),
                ("startOrEnd", start_or_end),
            ])
        }
        Expr::Number(n) => object(vec![("type", json!("numberLiteral")), ("val", json!(go_fixed(n.value)))]),
        Expr::Paren(p) => object(vec![("type", json!("parenExpr")), ("expr", node(&p.expr))]),
        Expr::String(s) => object(vec![("type", json!("stringLiteral")), ("val", json!(s.value))]),
        Expr::Unary(u) => {
            object(vec![("type", json!("unaryExpr")), ("op", json!(u.op.as_str())), ("expr", node(&u.expr))])
        }
        Expr::VectorSelector(v) => {
            let mut pairs = selector(v);
            pairs.push(("type", json!("vectorSelector")));
            object(pairs)
        }
    }
}

/// The fields a vector selector and a matrix selector share.
fn selector(v: &VectorSelector) -> Vec<(&'static str, Json)> {
    let (offset, offset_expr) = duration(v.offset.as_ref());
    let (timestamp, start_or_end) = at(v.at);
    let matchers: Vec<Json> =
        v.matchers.iter().map(|m| json!({"name": m.name, "value": m.value, "type": m.op.as_str()})).collect();
    vec![
        ("name", json!(v.name.as_deref().unwrap_or(""))),
        ("offset", offset),
        ("offsetExpr", offset_expr),
        ("matchers", Json::Array(matchers)),
        ("timestamp", timestamp),
        ("startOrEnd", start_or_end),
        ("anchored", json!(v.anchored)),
        ("smoothed", json!(v.smoothed)),
    ]
}

/// A fixed duration's milliseconds (0 for an expression), and the expression's tree (`null` for
/// a fixed one).
fn duration(d: Option<&DurationSpec>) -> (Json, Json) {
    match d {
        None => (json!(0), Json::Null),
        Some(DurationSpec::Fixed(ms)) => (json!(ms), Json::Null),
        Some(DurationSpec::Expr(e)) => (json!(0), duration_expr(e, false)),
    }
}

fn at(a: Option<AtModifier>) -> (Json, Json) {
    match a {
        None => (Json::Null, Json::Null),
        Some(AtModifier::Timestamp(ms)) => (json!(ms), Json::Null),
        Some(AtModifier::Start) => (Json::Null, json!("start")),
        Some(AtModifier::End) => (Json::Null, json!("end")),
    }
}

fn number(n: &NumberLiteral) -> Json {
    object(vec![
        ("type", json!("numberLiteral")),
        ("val", json!(go_fixed(n.value))),
        ("duration", json!(n.duration)),
    ])
}

fn duration_node(op: &str, lhs: Json, rhs: Json, wrapped: bool) -> Json {
    object(vec![
        ("type", json!("durationExpr")),
        ("op", json!(op)),
        ("lhs", lhs),
        ("rhs", rhs),
        ("wrapped", json!(wrapped)),
    ])
}

fn duration_expr(e: &DurationExpr, wrapped: bool) -> Json {
    match e {
        DurationExpr::Number(n) => number(n),
        DurationExpr::Unary { op, expr, .. } => {
            duration_node(op.as_str(), Json::Null, duration_expr(expr, false), wrapped)
        }
        DurationExpr::Binary { op, lhs, rhs } => {
            duration_node(op.as_str(), duration_expr(lhs, false), duration_expr(rhs, false), wrapped)
        }
        DurationExpr::Step(_) => duration_node("step", Json::Null, Json::Null, wrapped),
        DurationExpr::Range(_) => duration_node("range", Json::Null, Json::Null, wrapped),
        DurationExpr::Min { lhs, rhs, .. } => {
            duration_node("min", duration_expr(lhs, false), duration_expr(rhs, false), wrapped)
        }
        DurationExpr::Max { lhs, rhs, .. } => {
            duration_node("max", duration_expr(lhs, false), duration_expr(rhs, false), wrapped)
        }
        DurationExpr::Paren { expr, .. } => duration_expr(expr, true),
    }
}
