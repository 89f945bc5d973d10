//! Series descriptions: the value notation of promqltest `load` blocks, promqltest expected
//! results and promtool `input_series`.
//!
//! ```text
//! metric{a="b"} 0+10x100 _ _x3 stale 1-1x5 -2 {{schema:0 sum:5 count:4 buckets:[1 2 1]}}x2
//! ```
//!
//! A description is a metric (name and/or label set) followed by space-separated items, each
//! expanding to one or more values:
//!
//! | item | values |
//! |---|---|
//! | `_` / `_xN` | one / `N` omitted values |
//! | `V` / `VxN` | `V` once / `N+1` times |
//! | `V+DxN` / `V-DxN` | `N+1` values `V, V±D, …` (repeated float addition) |
//! | `stale` | the staleness marker |
//! | `{{…}}` / `{{…}}xN` | a native histogram once / `N+1` times |
//! | `{{A}}+{{B}}xN` / `{{A}}-{{B}}xN` | `N+1` histograms `A, A±B, …` |
//!
//! The accepted language, the values and the error messages are those of Prometheus's
//! `ParseSeriesDesc`: numbers convert as Go's `strconv` does (a leading `0` means octal, `1e400`
//! is an error), `NaN` is Go's NaN bit pattern, strings take PromQL's escapes. Expansions are
//! bounded by [`MAX_SEQUENCE_VALUES`].
//!
//! Known differences from upstream, all in rejected input: upstream's lexer silently skips
//! letters other than `Inf`/`NaN` inside a bucket list (`[1 foo]` reads as `[1]`), which is
//! rejected here; and for input with several problems the reported one can differ from upstream's
//! when they lie within one item (upstream's error recovery is yacc's, ours is a grammar failure
//! plus a check of the complete items before it).
//!
//! ```
//! use ferroprom::parser::series::{SequenceValue, parse_series_desc};
//!
//! let desc = parse_series_desc(r#"up{job="api"} 1+1x2 _ stale"#)?;
//! assert_eq!(desc.labels, vec![
//!     ("__name__".to_string(), "up".to_string()),
//!     ("job".to_string(), "api".to_string()),
//! ]);
//! assert_eq!(desc.values, vec![
//!     SequenceValue::Float(1.0),
//!     SequenceValue::Float(2.0),
//!     SequenceValue::Float(3.0),
//!     SequenceValue::Omitted,
//!     SequenceValue::Stale,
//! ]);
//! # Ok::<(), ferroprom::parser::series::SeriesError>(())
//! ```

mod lexical;

use pest::Parser as _;
use pest::error::{ErrorVariant, InputLocation};
use pest::iterators::Pair;

use crate::model::{BucketSpan, CounterResetHint, FloatHistogram, STALE_NAN, is_stale_nan};
use lexical::{Mode, Token};

mod grammar {
    #[derive(pest_derive::Parser)]
    #[grammar = "parser/series/grammar.pest"]
    pub(super) struct SeriesGrammar;
}
use grammar::{Rule, SeriesGrammar};

/// The most values one description may expand to; longer expansions are rejected with an error
/// instead of allocating without bound (`1x9999999999999`).
pub const MAX_SEQUENCE_VALUES: usize = 1_000_000;

/// The name of the label holding the metric name.
const METRIC_NAME: &str = "__name__";

/// A parsed series description.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesDesc {
    /// The labels, sorted by name, including `__name__` when a metric name was given.
    pub labels: Vec<(String, String)>,
    /// The expanded values, one per step of the loading interval.
    pub values: Vec<SequenceValue>,
}

/// One value of an expanded series description.
#[derive(Debug, Clone, PartialEq)]
pub enum SequenceValue {
    /// `_`: no sample at this step.
    Omitted,
    /// A float sample.
    Float(f64),
    /// A native histogram sample.
    Histogram {
        /// The histogram.
        histogram: Box<FloatHistogram>,
        /// Whether `counter_reset_hint` was written explicitly. When it was not, a test
        /// comparing against this value ignores the hint. For `A+BxN`, taken from `B`.
        hint_set: bool,
    },
    /// `stale`: a staleness marker ([`crate::model::STALE_NAN`]).
    Stale,
}

/// A series description that does not parse, with its position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{column}: parse error: {message}")]
pub struct SeriesError {
    /// The message, worded as Prometheus words it.
    pub message: String,
    /// Byte offset of the error in the input.
    pub offset: usize,
    /// 1-based line of the error.
    pub line: usize,
    /// 1-based column (in bytes) of the error.
    pub column: usize,
}

impl SeriesError {
    fn at(input: &str, offset: usize, message: impl Into<String>) -> SeriesError {
        let offset = offset.min(input.len());
        let before = &input.as_bytes()[..offset];
        let line = 1 + before.iter().filter(|&&b| b == b'\n').count();
        let line_start = before.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        SeriesError { message: message.into(), offset, line, column: offset - line_start + 1 }
    }
}

/// Parses a series description and expands its values.
///
/// # Errors
///
/// A [`SeriesError`] with Prometheus's message and the position of the first problem, also when
/// the expansion would exceed [`MAX_SEQUENCE_VALUES`].
pub fn parse_series_desc(input: &str) -> Result<SeriesDesc, SeriesError> {
    match SeriesGrammar::parse(Rule::series_desc, input) {
        Ok(mut pairs) => build(input, pairs.next()),
        Err(e) => {
            let err = syntax_error(input, &e);
            Err(earlier_error(input, err.offset).unwrap_or(err))
        }
    }
}

/// Upstream's parser reports a problem in a complete item (a bad repetition count, a duplicate
/// histogram key, …) as soon as the item ends, so before a syntax error further on. This finds
/// such an error in the items before `offset` by building the input up to an item boundary.
fn earlier_error(input: &str, offset: usize) -> Option<SeriesError> {
    let mut end = offset;
    // A few item boundaries back are enough: an item boundary is a space outside braces, and a
    // cut inside a label set or histogram does not parse.
    for _ in 0..8 {
        end = input[..end].rfind(lexical::is_space)?;
        if let Ok(mut pairs) = SeriesGrammar::parse(Rule::series_desc, &input[..end]) {
            return build(input, pairs.next()).err().filter(|e| e.offset < offset);
        }
    }
    None
}

/// Builds the description from the parse tree.
fn build(input: &str, top: Option<Pair<'_, Rule>>) -> Result<SeriesDesc, SeriesError> {
    let mut desc = SeriesDesc { labels: Vec::new(), values: Vec::new() };
    let Some(top) = top else {
        return Ok(desc);
    };
    let mut builder = Builder { input, values: Vec::new(), cells: 0 };
    for pair in top.into_inner() {
        match pair.as_rule() {
            Rule::metric => desc.labels = builder.metric(pair)?,
            Rule::values => builder.values(pair)?,
            _ => {}
        }
    }
    desc.values = builder.values;
    Ok(desc)
}

struct Builder<'i> {
    input: &'i str,
    values: Vec<SequenceValue>,
    /// Numbers held by `values` so far (a histogram counts its fields and buckets).
    cells: usize,
}

impl<'i> Builder<'i> {
    fn error(&self, offset: usize, message: impl Into<String>) -> SeriesError {
        SeriesError::at(self.input, offset, message)
    }

    fn metric(&self, pair: Pair<'i, Rule>) -> Result<Vec<(String, String)>, SeriesError> {
        let mut name = None;
        let mut labels = Vec::new();
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::metric_name => {
                    let word = part.as_str();
                    if is_reserved_word(word) {
                        return Err(self.unexpected(part.as_span().start(), Mode::Start));
                    }
                    name = Some(word.to_string());
                }
                Rule::label_set => {
                    for item in part.into_inner().filter(|p| p.as_rule() == Rule::label_item) {
                        labels.push(self.label(item)?);
                    }
                }
                _ => {}
            }
        }
        if let Some(name) = name {
            labels.retain(|(n, _)| n != METRIC_NAME);
            labels.push((METRIC_NAME.to_string(), name));
        }
        labels.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(labels)
    }

    fn label(&self, item: Pair<'i, Rule>) -> Result<(String, String), SeriesError> {
        let mut name = None;
        let mut value = None;
        for part in item.into_inner() {
            match part.as_rule() {
                Rule::label_key => {
                    let key = part.into_inner().next();
                    name = match key {
                        Some(k) if k.as_rule() == Rule::quoted => Some(self.string(&k)?),
                        Some(k) => Some(k.as_str().to_string()),
                        None => None,
                    };
                }
                Rule::label_value => value = Some(self.string(&part)?),
                Rule::quoted => {
                    // A bare string: the metric name.
                    return Ok((METRIC_NAME.to_string(), self.string(&part)?));
                }
                _ => {}
            }
        }
        Ok((name.unwrap_or_default(), value.unwrap_or_default()))
    }

    fn string(&self, token: &Pair<'i, Rule>) -> Result<String, SeriesError> {
        let text = token.as_str();
        let start = token.as_span().start();
        lexical::scan_string(text).map_err(|e| self.error(start, e))?;
        lexical::unquote(text).map_err(|e| {
            self.error(start, format!("error unquoting string {}: {e}", lexical::go_quote(text)))
        })
    }

    /// An `unexpected …` error for the token at `offset`, as the parser's error recovery words it.
    fn unexpected(&self, offset: usize, mode: Mode) -> SeriesError {
        match lexical::token_at(&self.input[offset..], mode) {
            Token::Error(e) => self.error(offset, e),
            Token::Token { desc, .. } => self.error(offset, format!("unexpected {desc} in series values")),
        }
    }

    fn values(&mut self, pair: Pair<'i, Rule>) -> Result<(), SeriesError> {
        for item in pair.into_inner() {
            match item.as_rule() {
                Rule::blank_item => self.blank_item(item)?,
                Rule::float_item => self.float_item(item)?,
                Rule::hist_item => self.hist_item(item)?,
                _ => {}
            }
        }
        Ok(())
    }

    /// The repetition count of a `xN` suffix.
    fn count(&self, token: &Pair<'i, Rule>) -> Result<u64, SeriesError> {
        lexical::parse_uint(token.as_str()).map_err(|e| {
            self.error(token.as_span().start(), format!("invalid repetition in series values: {e}"))
        })
    }

    /// Checks that `n` more values, each holding `weight` numbers, fit under
    /// [`MAX_SEQUENCE_VALUES`] (which bounds the numbers held, so that a histogram with many
    /// buckets repeated many times is refused too), and returns `n` as a length.
    fn reserve(&mut self, n: u64, weight: usize, offset: usize) -> Result<usize, SeriesError> {
        let fits = usize::try_from(n).ok().and_then(|n| {
            let cells = n.checked_mul(weight.max(1))?.checked_add(self.cells)?;
            (cells <= MAX_SEQUENCE_VALUES).then_some((n, cells))
        });
        let Some((n, cells)) = fits else {
            return Err(self.error(
                offset,
                format!(
                    "too many values in series description: the expansion exceeds the limit of \
                     {MAX_SEQUENCE_VALUES} values"
                ),
            ));
        };
        self.cells = cells;
        self.values.reserve(n);
        Ok(n)
    }

    fn blank_item(&mut self, item: Pair<'i, Rule>) -> Result<(), SeriesError> {
        let mut n = 1;
        let mut offset = item.as_span().start();
        for part in item.into_inner() {
            if part.as_rule() == Rule::count {
                n = self.count(&part)?;
                offset = part.as_span().start();
            }
        }
        let n = self.reserve(n, 1, offset)?;
        self.values.extend(std::iter::repeat_n(SequenceValue::Omitted, n));
        Ok(())
    }

    fn number(&self, token: &Pair<'i, Rule>) -> Result<f64, SeriesError> {
        lexical::parse_number(token.as_str())
            .map_err(|e| self.error(token.as_span().start(), format!("error parsing number: {e}")))
    }

    /// A `[+|-]number` pair (`signed_number` or `step`).
    fn signed(&self, pair: Pair<'i, Rule>) -> Result<f64, SeriesError> {
        let mut negative = false;
        let mut value = 0.0;
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::sign | Rule::minus => negative = part.as_str() == "-",
                Rule::number | Rule::h_number | Rule::count_number => value = self.number(&part)?,
                _ => {}
            }
        }
        Ok(if negative { -value } else { value })
    }

    fn float_item(&mut self, item: Pair<'i, Rule>) -> Result<(), SeriesError> {
        let start = item.as_span().start();
        let mut value = 0.0;
        let mut step = None;
        let mut count = None;
        for part in item.into_inner() {
            match part.as_rule() {
                Rule::series_value => {
                    let Some(inner) = part.into_inner().next() else { continue };
                    value = match inner.as_rule() {
                        Rule::stale => STALE_NAN,
                        Rule::number => self.number(&inner)?,
                        _ => self.signed(inner)?,
                    };
                }
                Rule::step => step = Some(self.signed(part)?),
                Rule::count => count = Some((self.count(&part)?, part.as_span().start())),
                _ => {}
            }
        }
        let Some((n, offset)) = count else {
            self.reserve(1, 1, start)?;
            self.values.push(float_value(value));
            return Ok(());
        };
        let total = self.reserve(n.saturating_add(1), 1, offset)?;
        let step = step.unwrap_or(0.0);
        for _ in 0..total {
            self.values.push(float_value(value));
            value += step;
        }
        Ok(())
    }

    fn hist_item(&mut self, item: Pair<'i, Rule>) -> Result<(), SeriesError> {
        let start = item.as_span().start();
        let mut base: Option<(FloatHistogram, bool)> = None;
        let mut increment: Option<(FloatHistogram, bool)> = None;
        let mut subtract = false;
        for part in item.into_inner() {
            match part.as_rule() {
                Rule::hist if base.is_none() => base = Some(self.histogram(part)?),
                Rule::hist => increment = Some(self.histogram(part)?),
                Rule::hist_op => subtract = part.as_str() == "-",
                Rule::count => {
                    let n = self.count(&part)?;
                    let offset = part.as_span().start();
                    let Some((base, base_hint_set)) = base.take() else { return Ok(()) };
                    match increment.take() {
                        None => {
                            let total = self.reserve(n.saturating_add(1), weight(&base, None), offset)?;
                            let value = histogram_value(base, base_hint_set);
                            self.values.extend(std::iter::repeat_n(value, total));
                        }
                        Some((inc, hint_set)) => {
                            self.histogram_series(base, &inc, hint_set, subtract, n, offset)?;
                        }
                    }
                    return Ok(());
                }
                _ => {}
            }
        }
        if let Some((h, hint_set)) = base {
            self.reserve(1, weight(&h, None), start)?;
            self.values.push(histogram_value(h, hint_set));
        }
        Ok(())
    }

    /// `A+BxN` / `A-BxN`: `A`, then `N` times the previous value plus (minus) `B`.
    fn histogram_series(
        &mut self,
        base: FloatHistogram,
        inc: &FloatHistogram,
        hint_set: bool,
        subtract: bool,
        n: u64,
        offset: usize,
    ) -> Result<(), SeriesError> {
        let total = self.reserve(n.saturating_add(1), weight(&base, Some(inc)), offset)?;
        let mut current = base;
        self.values.push(histogram_value(current.clone(), hint_set));
        for _ in 1..total {
            if current.schema > inc.schema {
                return Err(self.error(
                    offset,
                    format!(
                        "error combining histograms: cannot merge from schema {} to {}",
                        inc.schema, current.schema
                    ),
                ));
            }
            let combined = if subtract { current.sub(inc) } else { current.add(inc) };
            combined.map_err(|e| self.error(offset, e.to_string()))?;
            self.values.push(histogram_value(current.clone(), hint_set));
        }
        Ok(())
    }

    /// Builds a histogram literal; the flag tells whether `counter_reset_hint` was written.
    fn histogram(&self, pair: Pair<'i, Rule>) -> Result<(FloatHistogram, bool), SeriesError> {
        let mut h = FloatHistogram::default();
        let mut seen: Vec<&'static str> = Vec::new();
        let mut hint_set = false;
        let mut positive = (Vec::new(), 0i32);
        let mut negative = (Vec::new(), 0i32);
        let Some(map) = pair.into_inner().find(|p| p.as_rule() == Rule::hist_map) else {
            return Ok((h, false));
        };
        for desc in map.into_inner().filter(|p| p.as_rule() != Rule::sp) {
            let key = descriptor_key(desc.as_rule());
            if seen.contains(&key) {
                return Err(self.error(0, format!("duplicate key {} in histogram", lexical::go_quote(key))));
            }
            seen.push(key);
            let Some(value) = desc.into_inner().next() else { continue };
            match key {
                "schema" => h.schema = self.integer(value)?,
                "sum" => h.sum = self.signed(value)?,
                "count" => h.count = self.signed(value)?,
                "z_bucket" => h.zero_count = self.signed(value)?,
                "z_bucket_w" => h.zero_threshold = self.number(&value)?,
                "custom_values" => h.custom_values = self.bucket_set(value)?,
                "buckets" => positive.0 = self.bucket_set(value)?,
                "offset" => positive.1 = self.integer(value)?,
                "n_buckets" => negative.0 = self.bucket_set(value)?,
                "n_offset" => negative.1 = self.integer(value)?,
                _ => {
                    hint_set = true;
                    h.counter_reset_hint = match value.as_str().to_ascii_lowercase().as_str() {
                        "reset" => CounterResetHint::CounterReset,
                        "not_reset" => CounterResetHint::NotCounterReset,
                        "gauge" => CounterResetHint::Gauge,
                        _ => CounterResetHint::Unknown,
                    };
                }
            }
        }
        (h.positive_spans, h.positive_buckets) = single_span(positive);
        (h.negative_spans, h.negative_buckets) = single_span(negative);
        Ok((h, hint_set))
    }

    /// A histogram integer (`schema`, `offset`): `[-]uint`, narrowed to 32 bits as upstream does.
    fn integer(&self, pair: Pair<'i, Rule>) -> Result<i32, SeriesError> {
        let mut negative = false;
        let mut value = 0u64;
        for part in pair.into_inner() {
            match part.as_rule() {
                Rule::minus => negative = true,
                Rule::count => value = self.count(&part)?,
                _ => {}
            }
        }
        let v = value as i64;
        Ok(if negative { v.wrapping_neg() as i32 } else { v as i32 })
    }

    fn bucket_set(&self, pair: Pair<'i, Rule>) -> Result<Vec<f64>, SeriesError> {
        pair.into_inner().filter(|p| p.as_rule() == Rule::bucket_value).map(|p| self.signed(p)).collect()
    }
}

fn single_span((buckets, offset): (Vec<f64>, i32)) -> (Vec<BucketSpan>, Vec<f64>) {
    if buckets.is_empty() {
        return (Vec::new(), buckets);
    }
    let length = u32::try_from(buckets.len()).unwrap_or(u32::MAX);
    (vec![BucketSpan::new(offset, length)], buckets)
}

fn descriptor_key(rule: Rule) -> &'static str {
    match rule {
        Rule::d_schema => "schema",
        Rule::d_sum => "sum",
        Rule::d_count => "count",
        Rule::d_z_bucket => "z_bucket",
        Rule::d_z_bucket_w => "z_bucket_w",
        Rule::d_custom_values => "custom_values",
        Rule::d_buckets => "buckets",
        Rule::d_offset => "offset",
        Rule::d_n_buckets => "n_buckets",
        Rule::d_n_offset => "n_offset",
        _ => "counter_reset_hint",
    }
}

/// An upper bound of the numbers one histogram value holds: its fields and buckets, plus the
/// buckets an increment may add.
fn weight(h: &FloatHistogram, inc: Option<&FloatHistogram>) -> usize {
    let size = |h: &FloatHistogram| {
        h.positive_buckets.len()
            + h.negative_buckets.len()
            + h.custom_values.len()
            + 2 * h.positive_spans.len()
    };
    8 + size(h) + inc.map_or(0, size)
}

fn float_value(v: f64) -> SequenceValue {
    if is_stale_nan(v) { SequenceValue::Stale } else { SequenceValue::Float(v) }
}

fn histogram_value(h: FloatHistogram, hint_set: bool) -> SequenceValue {
    SequenceValue::Histogram { histogram: Box::new(h), hint_set }
}

/// Words the lexer turns into tokens that cannot name a metric.
fn is_reserved_word(word: &str) -> bool {
    matches!(
        word.to_ascii_lowercase().as_str(),
        "bool" | "on" | "ignoring" | "group_left" | "group_right" | "atan2" | "inf" | "nan"
    )
}

/// Turns a grammar failure into the error Prometheus's lexer or parser reports there.
fn syntax_error(input: &str, err: &pest::error::Error<Rule>) -> SeriesError {
    let offset = match err.location {
        InputLocation::Pos(p) => p,
        InputLocation::Span((s, _)) => s,
    };
    let offset = offset.min(input.len());
    let positives: &[Rule] = match &err.variant {
        ErrorVariant::ParsingError { positives, .. } => positives,
        ErrorVariant::CustomError { .. } => &[],
    };
    let has = |rules: &[Rule]| positives.iter().any(|r| rules.contains(r));
    let mode = if has(&[
        Rule::label_item,
        Rule::label_key,
        Rule::label_name,
        Rule::label_eq,
        Rule::label_value,
        Rule::label_comma,
        Rule::label_close,
        Rule::quoted,
    ]) {
        Mode::Braces
    } else if has(&[Rule::bucket_value, Rule::bucket_close, Rule::count_number]) {
        Mode::Buckets
    } else if has(&[
        Rule::hist_close,
        Rule::hist_map,
        Rule::d_schema,
        Rule::d_sum,
        Rule::d_count,
        Rule::d_z_bucket,
        Rule::d_z_bucket_w,
        Rule::d_custom_values,
        Rule::d_buckets,
        Rule::d_offset,
        Rule::d_n_buckets,
        Rule::d_n_offset,
        Rule::d_counter_reset_hint,
        Rule::h_int,
        Rule::h_signed,
        Rule::h_number,
        Rule::hint,
        Rule::bucket_set,
        Rule::bucket_open,
        Rule::minus,
    ]) {
        Mode::Histogram
    } else if input[..offset].trim_start_matches(lexical::is_space).is_empty() {
        Mode::Start
    } else {
        Mode::Values
    };
    let (desc, identifier) = match lexical::token_at(&input[offset..], mode) {
        Token::Error(e) => return SeriesError::at(input, offset, e),
        Token::Token { desc, identifier } => (desc, identifier),
    };
    let message = match mode {
        Mode::Braces => {
            let expected = if has(&[Rule::label_comma]) {
                "\",\" or \"}\""
            } else if has(&[Rule::label_eq]) {
                "\"=\""
            } else if has(&[Rule::label_value]) {
                "string"
            } else {
                "identifier or \"}\""
            };
            format!("unexpected {desc} in label set, expected {expected}")
        }
        Mode::Histogram | Mode::Buckets if histogram_map_started(input, offset) => format!(
            "unexpected {desc} in histogram description, expected histogram description key, e.g. buckets:[5 10 7]"
        ),
        _ if identifier => format!("unexpected {desc} in series values, expected number or \"stale\""),
        _ => format!("unexpected {desc} in series values"),
    };
    SeriesError::at(input, offset, message)
}

/// Whether, at `offset` inside a histogram literal, at least one complete `key:value` item
/// precedes the error (upstream's parser then recovers inside the histogram description rather
/// than in the value sequence, which changes the message).
fn histogram_map_started(input: &str, offset: usize) -> bool {
    let Some(open) = input[..offset].rfind("{{") else {
        return false;
    };
    let inside = &input[open + 2..offset];
    let items: Vec<&str> = inside.split(lexical::is_space).filter(|s| !s.is_empty()).collect();
    let complete = |item: &str| match item.split_once(':') {
        Some((_, value)) if value.starts_with('[') => value.ends_with(']'),
        Some((_, value)) => !value.is_empty() && value != "-",
        None => false,
    };
    match items.split_last() {
        None => false,
        Some((last, rest)) => rest.iter().any(|i| complete(i)) || complete(last),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_position_is_line_and_byte_column() {
        let e = SeriesError::at("ab\ncd", 4, "x");
        assert_eq!((e.line, e.column), (2, 2));
        assert_eq!(e.to_string(), "2:2: parse error: x");
    }
}
