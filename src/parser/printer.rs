//! The canonical one-line form of a syntax tree, as Prometheus's `String()` methods print it.
//!
//! Printing normalises spelling, not structure: parentheses appear only where the tree has a
//! [`ParenExpr`], numbers print in Go's shortest decimal form, durations in Prometheus's
//! `1h30m` form, label matchers sorted, names quoted when they are not legacy identifiers.
//! For every tree the parser can produce, parsing the printed form gives the same tree back.
//!
//! The output is Prometheus 3.14's, character for character, except where Prometheus's own print
//! would not read back as the same query:
//!
//! * a duration literal is converted to milliseconds by rounding, not by truncating through
//!   nanoseconds (Prometheus prints `1s1ms` as `1s`);
//! * a negative-zero duration literal keeps its sign (`-0s`; Prometheus prints `0s`);
//! * `offset +(…)` keeps its `+` (Prometheus drops it, but `offset (…)` may go on with further
//!   operators where `offset +(…)` ends, so `foo offset +(5) - foo` would not read back);
//! * a literal `+Inf` as the base of `^` prints as `Inf` (Prometheus prints `+Inf ^ 0`, whose `+`
//!   reads back as a unary operator around the whole power);
//! * U+FFFD in a string or name is escaped as `\ufffd` (Prometheus prints it raw, and its lexer
//!   then rejects it);
//! * a metric name that cannot stand before the braces (never produced by the parser) is printed
//!   as a `__name__` matcher inside them.

use std::fmt::{self, Display, Formatter, Write};

use crate::model::{MatchOp, is_legacy_label_name, write_quoted, write_quoted_bytes};
use crate::parser::ast::{
    AggregateExpr, AtModifier, BinaryExpr, BinaryOp, Call, Cardinality, DurationExpr, DurationSpec, Expr,
    FillValues, MatrixSelector, NumberLiteral, ParenExpr, StringLiteral, SubqueryExpr, UnaryExpr, UnaryOp,
    VectorSelector,
};

/// The label name Prometheus stores the metric name under.
const METRIC_NAME: &str = "__name__";

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Number(n) => n.fmt(f),
            Expr::String(s) => s.fmt(f),
            Expr::VectorSelector(v) => v.fmt(f),
            Expr::MatrixSelector(m) => m.fmt(f),
            Expr::Subquery(s) => s.fmt(f),
            Expr::Paren(p) => p.fmt(f),
            Expr::Unary(u) => u.fmt(f),
            Expr::Binary(b) => b.fmt(f),
            Expr::Aggregate(a) => a.fmt(f),
            Expr::Call(c) => c.fmt(f),
        }
    }
}

impl Display for NumberLiteral {
    /// A duration literal prints as a duration (`5m`, `-1h30m`); any other number in Go's
    /// shortest decimal form without exponent (`1000000`, `0.001`, `NaN`, `+Inf`).
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if self.duration {
            // Deliberate deviation: Prometheus tests `< 0` and prints `-0s` as `0s`, which reads
            // back as a different number (`1 / -0s` is `-Inf`, `1 / 0s` is `+Inf`).
            if self.value.is_sign_negative() {
                f.write_char('-')?;
                write_duration(f, seconds_to_millis(-self.value))
            } else {
                write_duration(f, seconds_to_millis(self.value))
            }
        } else {
            write_decimal(f, self.value)
        }
    }
}

impl Display for StringLiteral {
    /// The literal double-quoted as Go's `strconv.Quote` does, bytes that are not UTF-8 as `\xNN`.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.bytes {
            Some(bytes) => write_quoted_bytes(f, bytes),
            None => write_quoted(f, &self.value),
        }
    }
}

impl Display for VectorSelector {
    /// `name{matchers} @ t anchored offset d`; the matcher implied by the name is left out and
    /// the others are sorted by their printed form.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write_selector_body(f, self)?;
        write_at(f, self.at)?;
        write_extended(f, self)?;
        write_offset(f, self.offset.as_ref())
    }
}

impl Display for MatrixSelector {
    /// `name{matchers}[range] anchored @ t offset d`: the modifiers of the selector follow the
    /// range.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write_selector_body(f, &self.vector)?;
        f.write_char('[')?;
        self.range.fmt(f)?;
        f.write_char(']')?;
        write_extended(f, &self.vector)?;
        write_at(f, self.vector.at)?;
        write_offset(f, self.vector.offset.as_ref())
    }
}

impl Display for SubqueryExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        self.expr.fmt(f)?;
        write_subquery_suffix(f, self)
    }
}

impl Display for ParenExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "({})", self.expr)
    }
}

impl Display for UnaryExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.op.as_str(), self.expr)
    }
}

impl Display for BinaryExpr {
    /// `lhs op bool on (a) group_left (b) fill (0) rhs`.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if is_plus_inf_pow_base(self) {
            f.write_str("Inf ")?;
        } else {
            write!(f, "{} ", self.lhs)?;
        }
        write_binary_operator(f, self)?;
        write!(f, " {}", self.rhs)
    }
}

impl Display for AggregateExpr {
    /// `op by (labels) (param, expr)`; an empty `by ()` is left out, an empty `without ()` is not.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write_aggregate_head(f, self)?;
        f.write_char('(')?;
        if let Some(param) = &self.param {
            write!(f, "{param}, ")?;
        }
        write!(f, "{})", self.expr)
    }
}

impl Display for Call {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.func.name)?;
        f.write_char('(')?;
        for (i, arg) in self.args.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            arg.fmt(f)?;
        }
        f.write_char(')')
    }
}

impl Display for DurationSpec {
    /// A fixed duration in Prometheus's duration form (`1h30m`, `-5m`, `0s`), an expression as
    /// written.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            DurationSpec::Fixed(ms) => write_signed_duration(f, *ms),
            DurationSpec::Expr(e) => e.fmt(f),
        }
    }
}

impl Display for DurationExpr {
    /// Binary operators with single spaces, `min_of(a, b)`, `step()`; a unary `+` is not printed.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            DurationExpr::Number(n) => n.fmt(f),
            DurationExpr::Unary { op: UnaryOp::Neg, expr, .. } => write!(f, "-{expr}"),
            // Only `offset +(…)` keeps a unary `+` in the tree (see the parser); it is printed so that
            // the offset ends where it ended.
            DurationExpr::Unary { op: UnaryOp::Pos, expr, .. } => write!(f, "+{expr}"),
            DurationExpr::Binary { op, lhs, rhs } => write!(f, "{lhs} {} {rhs}", op.as_str()),
            DurationExpr::Step(_) => f.write_str("step()"),
            DurationExpr::Range(_) => f.write_str("range()"),
            DurationExpr::Min { lhs, rhs, .. } => write!(f, "min_of({lhs}, {rhs})"),
            DurationExpr::Max { lhs, rhs, .. } => write!(f, "max_of({lhs}, {rhs})"),
            DurationExpr::Paren { expr, .. } => write!(f, "({expr})"),
        }
    }
}

impl Display for AtModifier {
    /// `@ 10.000` (seconds with three decimals), `@ start()`, `@ end()`.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            AtModifier::Timestamp(ms) => write!(f, "@ {:.3}", *ms as f64 / 1000.0),
            AtModifier::Start => f.write_str("@ start()"),
            AtModifier::End => f.write_str("@ end()"),
        }
    }
}

/// Writes the metric name and the braces of a selector, without any modifier.
fn write_selector_body(f: &mut impl Write, v: &VectorSelector) -> fmt::Result {
    let name = v.name.as_deref().unwrap_or("");
    // Only a name that can stand outside the braces is written there.
    let outside = if is_legacy_metric_name(name) { name } else { "" };
    let mut parts: Vec<String> = v
        .matchers
        .iter()
        .filter(|m| {
            !(m.name == METRIC_NAME && m.op == MatchOp::Equal && m.value == outside && !outside.is_empty())
        })
        .map(|m| m.to_string())
        .collect();
    f.write_str(outside)?;
    if !parts.is_empty() {
        parts.sort_unstable();
        f.write_char('{')?;
        f.write_str(&parts.join(","))?;
        f.write_char('}')?;
    }
    Ok(())
}

fn write_at(f: &mut impl Write, at: Option<AtModifier>) -> fmt::Result {
    match at {
        Some(at) => write!(f, " {at}"),
        None => Ok(()),
    }
}

fn write_extended(f: &mut impl Write, v: &VectorSelector) -> fmt::Result {
    if v.anchored {
        f.write_str(" anchored")
    } else if v.smoothed {
        f.write_str(" smoothed")
    } else {
        Ok(())
    }
}

/// Writes ` offset d`; a zero fixed offset is no offset and prints nothing.
fn write_offset(f: &mut impl Write, offset: Option<&DurationSpec>) -> fmt::Result {
    match offset {
        None | Some(DurationSpec::Fixed(0)) => Ok(()),
        Some(d) => write!(f, " offset {d}"),
    }
}

/// Writes the `[range:step] @ t offset d` that follows a subquery's inner expression.
pub(crate) fn write_subquery_suffix(f: &mut impl Write, s: &SubqueryExpr) -> fmt::Result {
    write!(f, "[{}:", s.range)?;
    if let Some(step) = &s.step {
        write!(f, "{step}")?;
    }
    f.write_char(']')?;
    write_at(f, s.at)?;
    write_offset(f, s.offset.as_ref())
}

/// Whether `b` is `+Inf ^ …` with a literal `+Inf` base, which must print as `Inf`: the sign would
/// lex as a unary `+`, which binds looser than `^` and reads back as `+(Inf ^ …)`. (Upstream prints
/// `+Inf ^ 0`, which does not parse back to itself; a fuzz find.)
pub(crate) fn is_plus_inf_pow_base(b: &BinaryExpr) -> bool {
    b.op == BinaryOp::Pow && matches!(&*b.lhs, Expr::Number(n) if !n.duration && n.value == f64::INFINITY)
}

/// Writes the operator of a binary expression with its modifiers: `+`, `> bool`,
/// `* on (a) group_left (b) fill_left (0)`.
pub(crate) fn write_binary_operator(f: &mut impl Write, b: &BinaryExpr) -> fmt::Result {
    f.write_str(b.op.as_str())?;
    if b.return_bool {
        f.write_str(" bool")?;
    }
    let Some(vm) = &b.matching else {
        return Ok(());
    };
    let grouped = matches!(vm.card, Cardinality::ManyToOne | Cardinality::OneToMany);
    if !vm.labels.is_empty() || vm.on || grouped {
        f.write_str(if vm.on { " on (" } else { " ignoring (" })?;
        write_label_list(f, &vm.labels)?;
        f.write_char(')')?;
    }
    if grouped {
        let side = if vm.card == Cardinality::ManyToOne { "left" } else { "right" };
        write!(f, " group_{side} (")?;
        write_label_list(f, &vm.include)?;
        f.write_char(')')?;
    }
    write_fill(f, vm.fill)
}

fn write_fill(f: &mut impl Write, fill: FillValues) -> fmt::Result {
    match (fill.lhs, fill.rhs) {
        // Go compares the two values with `==`, so two NaNs print separately.
        (Some(l), Some(r)) if l == r => write!(f, " fill ({})", GoFloat(l)),
        (l, r) => {
            if let Some(l) = l {
                write!(f, " fill_left ({})", GoFloat(l))?;
            }
            if let Some(r) = r {
                write!(f, " fill_right ({})", GoFloat(r))?;
            }
            Ok(())
        }
    }
}

/// Writes an aggregation up to its argument list: `sum`, `sum by (a) `, `max without () `.
pub(crate) fn write_aggregate_head(f: &mut impl Write, a: &AggregateExpr) -> fmt::Result {
    f.write_str(a.op.as_str())?;
    if a.without || !a.grouping.is_empty() {
        f.write_str(if a.without { " without (" } else { " by (" })?;
        write_label_list(f, &a.grouping)?;
        f.write_str(") ")?;
    }
    Ok(())
}

/// Writes label names separated by `, `, quoting those that are not legacy label names.
fn write_label_list(f: &mut impl Write, labels: &[String]) -> fmt::Result {
    for (i, l) in labels.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        if is_legacy_label_name(l) {
            f.write_str(l)?;
        } else {
            write_quoted(f, l)?;
        }
    }
    Ok(())
}

/// Whether `s` matches `[a-zA-Z_:][a-zA-Z0-9_:]*`, the names that may precede the braces.
fn is_legacy_metric_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Converts the seconds of a duration literal to whole milliseconds, rounding to the nearest.
///
/// Deliberate deviation: Prometheus truncates through whole nanoseconds, which prints `1s1ms`
/// (1.001 s, just below in binary) as `1s`, so its print of about 3% of millisecond durations
/// does not read back. Rounding prints every duration literal as written.
fn seconds_to_millis(seconds: f64) -> i64 {
    // `as` saturates out-of-range values and maps NaN to 0.
    (seconds * 1000.0).round() as i64
}

/// Writes a duration in milliseconds with a leading `-` when negative.
fn write_signed_duration(f: &mut impl Write, ms: i64) -> fmt::Result {
    if ms < 0 {
        f.write_char('-')?;
    }
    write_duration_abs(f, ms.unsigned_abs())
}

/// Writes a non-negative duration in milliseconds as Prometheus's `model.Duration` does.
fn write_duration(f: &mut impl Write, ms: i64) -> fmt::Result {
    write_signed_duration(f, ms)
}

/// `1y`, `2w`, `1d2h3m4s5ms`, `0s`: years and weeks only when they divide the duration exactly.
fn write_duration_abs(f: &mut impl Write, mut ms: u64) -> fmt::Result {
    if ms == 0 {
        return f.write_str("0s");
    }
    const SECOND: u64 = 1000;
    const MINUTE: u64 = 60 * SECOND;
    const HOUR: u64 = 60 * MINUTE;
    const DAY: u64 = 24 * HOUR;
    const UNITS: [(&str, u64, bool); 7] = [
        ("y", 365 * DAY, true),
        ("w", 7 * DAY, true),
        ("d", DAY, false),
        ("h", HOUR, false),
        ("m", MINUTE, false),
        ("s", SECOND, false),
        ("ms", 1, false),
    ];
    for (unit, size, only_exact) in UNITS {
        if only_exact && !ms.is_multiple_of(size) {
            continue;
        }
        let n = ms / size;
        if n > 0 {
            write!(f, "{n}{unit}")?;
            ms -= n * size;
        }
    }
    Ok(())
}

/// Writes `v` as Go's `strconv.FormatFloat(v, 'f', -1, 64)`: the shortest decimal that reads back
/// as `v`, never with an exponent; `NaN`, `+Inf`, `-Inf` for the special values.
fn write_decimal(f: &mut impl Write, v: f64) -> fmt::Result {
    if v.is_nan() {
        f.write_str("NaN")
    } else if v.is_infinite() {
        f.write_str(if v > 0.0 { "+Inf" } else { "-Inf" })
    } else {
        // Rust's `Display` for floats is the shortest round-trip form without exponent, as Go's.
        write!(f, "{v}")
    }
}

/// A float printed as Go's `%v` prints it: the shortest round-trip digits, in exponent form
/// (`1e+06`, `1.5e-07`) when the decimal exponent is below -4 or at least 6.
pub(crate) struct GoFloat(pub f64);

impl Display for GoFloat {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let v = self.0;
        if !v.is_finite() {
            return write_decimal(f, v);
        }
        // `{:e}` gives the shortest round-trip digits as `d.ddde<exp>`.
        let sci = format!("{v:e}");
        let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        if (-4..6).contains(&exp) {
            write_decimal(f, v)
        } else {
            let sign = if exp < 0 { '-' } else { '+' };
            write!(f, "{mantissa}e{sign}{:02}", exp.unsigned_abs())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Matcher;
    use crate::parser::FUNCTIONS;
    use crate::parser::ast::{AggregateOp, BinaryOp, Span, VectorMatching};

    const S: Span = Span { start: 0, end: 0 };

    fn m(op: MatchOp, name: &str, value: &str) -> Matcher {
        Matcher::new(op, name, value).unwrap()
    }

    fn selector(name: Option<&str>, mut matchers: Vec<Matcher>) -> VectorSelector {
        if let Some(n) = name {
            matchers.push(m(MatchOp::Equal, METRIC_NAME, n));
        }
        VectorSelector::new(name.map(str::to_string), matchers, S)
    }

    fn num(value: f64) -> Expr {
        Expr::Number(NumberLiteral { value, duration: false, span: S })
    }

    #[test]
    fn selectors_sort_matchers_and_hide_the_name_matcher() {
        let v = selector(Some("foo"), vec![m(MatchOp::Regex, "b", "x.*"), m(MatchOp::NotEqual, "a.b", "1")]);
        assert_eq!(v.to_string(), r#"foo{"a.b"!="1",b=~"x.*"}"#);
        let v = selector(None, vec![m(MatchOp::Equal, METRIC_NAME, "my.metric")]);
        assert_eq!(v.to_string(), r#"{__name__="my.metric"}"#);
        let mut v = selector(Some("foo"), vec![]);
        v.at = Some(AtModifier::Timestamp(-1500));
        v.offset = Some(DurationSpec::Fixed(-90_000));
        v.anchored = true;
        assert_eq!(v.to_string(), "foo @ -1.500 anchored offset -1m30s");
        let range = DurationSpec::Expr(Box::new(DurationExpr::Binary {
            op: BinaryOp::Add,
            lhs: Box::new(DurationExpr::Step(S)),
            rhs: Box::new(DurationExpr::Number(NumberLiteral { value: 60.0, duration: true, span: S })),
        }));
        let mx = MatrixSelector { vector: Box::new(v), range, span: S };
        assert_eq!(mx.to_string(), "foo[step() + 1m] anchored @ -1.500 offset -1m30s");
    }

    #[test]
    fn operators_aggregations_calls_and_subqueries() {
        let foo = Expr::VectorSelector(selector(Some("foo"), vec![]));
        let bar = Expr::VectorSelector(selector(Some("bar"), vec![]));
        let b = BinaryExpr {
            op: BinaryOp::Gtr,
            lhs: Box::new(foo.clone()),
            rhs: Box::new(bar.clone()),
            return_bool: true,
            matching: Some(VectorMatching {
                card: Cardinality::ManyToOne,
                labels: vec![],
                on: false,
                include: vec!["ü".into()],
                fill: FillValues { lhs: Some(1e6), rhs: Some(f64::NAN) },
            }),
            span: S,
        };
        assert_eq!(
            b.to_string(),
            r#"foo > bool ignoring () group_left ("ü") fill_left (1e+06) fill_right (NaN) bar"#
        );
        let a = AggregateExpr {
            op: AggregateOp::Topk,
            expr: Box::new(foo.clone()),
            param: Some(Box::new(num(-3.0))),
            grouping: vec!["job".into()],
            without: true,
            span: S,
        };
        assert_eq!(a.to_string(), "topk without (job) (-3, foo)");
        let rate = FUNCTIONS.iter().find(|f| f.name == "rate").unwrap();
        let c = Call { func: rate, args: vec![], span: S };
        let sq = SubqueryExpr {
            expr: Box::new(Expr::Call(c)),
            range: DurationSpec::Fixed(3_600_000),
            step: None,
            offset: Some(DurationSpec::Fixed(0)),
            at: Some(AtModifier::End),
            span: S,
        };
        assert_eq!(sq.to_string(), "rate()[1h:] @ end()");
        assert_eq!(num(1e21).to_string(), "1000000000000000000000");
        assert_eq!(num(-0.0).to_string(), "-0");
        assert_eq!(num(f64::INFINITY).to_string(), "+Inf");
        let d = Expr::Number(NumberLiteral { value: -5400.0, duration: true, span: S });
        assert_eq!(d.to_string(), "-1h30m");
        let d = Expr::Number(NumberLiteral { value: 1.001, duration: true, span: S });
        assert_eq!(d.to_string(), "1s1ms");
    }

    fn dur(ms: i64) -> String {
        let mut s = String::new();
        write_signed_duration(&mut s, ms).unwrap();
        s
    }

    #[test]
    fn durations_print_as_prometheus_does() {
        assert_eq!(dur(0), "0s");
        assert_eq!(dur(90_000), "1m30s");
        assert_eq!(dur(-300_000), "-5m");
        assert_eq!(dur(1500), "1s500ms");
        assert_eq!(dur(86_400_000 * 14), "2w");
        assert_eq!(dur(86_400_000 * 15), "15d");
        assert_eq!(dur(86_400_000 * 365), "1y");
        assert_eq!(dur(86_400_000 * 366), "366d");
        assert_eq!(dur(i64::MIN), "-106751991167d7h12m55s808ms");
    }

    #[test]
    fn go_float_uses_exponent_outside_the_decimal_range() {
        let g = |v: f64| GoFloat(v).to_string();
        assert_eq!(g(-23.0), "-23");
        assert_eq!(g(1e6), "1e+06");
        assert_eq!(g(123456.0), "123456");
        assert_eq!(g(1234567.0), "1.234567e+06");
        assert_eq!(g(0.0001), "0.0001");
        assert_eq!(g(0.00001), "1e-05");
        assert_eq!(g(1e100), "1e+100");
        assert_eq!(g(f64::NAN), "NaN");
        assert_eq!(g(f64::NEG_INFINITY), "-Inf");
    }
}
