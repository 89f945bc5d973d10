//! Reading a `.test` script into commands, with the line rules of Prometheus's `promqltest`
//! (every line trimmed, `#` lines blank, a blank line ends a block, commands chosen by their first
//! word).

use std::sync::{Arc, LazyLock};

use regex::Regex;

use super::duration::parse_duration;
use crate::model::{FloatHistogram, Labels, STALE_NAN};
use crate::parser::series::{SequenceValue, parse_series_desc};

/// A parsed script.
#[derive(Debug, Clone, Default)]
pub struct Script {
    /// The commands in file order.
    pub commands: Vec<Command>,
}

/// One command of a script.
#[derive(Debug, Clone)]
pub enum Command {
    /// `load <interval>` or `load_with_nhcb <interval>` and its series lines.
    Load(Load),
    /// `clear`: start again with an empty store.
    Clear {
        /// 1-based line of the command.
        line: usize,
    },
    /// An `eval ...` block.
    Eval(Box<Eval>),
}

/// A `load` block.
#[derive(Debug, Clone)]
pub struct Load {
    /// 1-based line of the `load` header.
    pub line: usize,
    /// Milliseconds between consecutive values of a series line.
    pub interval: i64,
    /// `load_with_nhcb`: classic histogram series are also loaded as native histograms with
    /// custom buckets.
    pub with_nhcb: bool,
    /// The series, one per distinct label set (a repeated label set replaces the earlier line, as
    /// upstream's map does), in order of first appearance.
    pub series: Vec<LoadSeries>,
}

/// One series of a `load` block.
#[derive(Debug, Clone)]
pub struct LoadSeries {
    /// 1-based line of the series line.
    pub line: usize,
    /// The labels.
    pub labels: Labels,
    /// Value `i` belongs to timestamp `i * interval`.
    pub values: Vec<SequenceValue>,
    /// From an `@st` line: per value, the start timestamp's offset from the sample's timestamp in
    /// milliseconds (`None` = no start timestamp). Empty when there was no `@st` line.
    pub st_offsets: Vec<Option<i64>>,
}

/// A sample a load produces.
#[derive(Debug, Clone, PartialEq)]
pub enum LoadValue {
    /// A float (staleness markers included).
    Float(f64),
    /// A native histogram.
    Histogram(Arc<FloatHistogram>),
}

impl LoadSeries {
    /// The samples of the series for a load interval: `(timestamp, start timestamp or 0, value)`.
    pub fn samples(&self, interval: i64) -> Vec<(i64, i64, LoadValue)> {
        let mut out = Vec::with_capacity(self.values.len());
        for (i, v) in self.values.iter().enumerate() {
            let t = (i as i64).saturating_mul(interval);
            let value = match v {
                SequenceValue::Omitted => continue,
                SequenceValue::Float(f) => LoadValue::Float(*f),
                SequenceValue::Stale => LoadValue::Float(STALE_NAN),
                SequenceValue::Histogram { histogram, .. } => {
                    LoadValue::Histogram(Arc::new((**histogram).clone()))
                }
            };
            let st = match self.st_offsets.get(i) {
                Some(Some(off)) => t.saturating_add(*off),
                _ => 0,
            };
            out.push((t, st, value));
        }
        out
    }
}

/// An `eval` block.
#[derive(Debug, Clone)]
pub struct Eval {
    /// 1-based line of the `eval` header.
    pub line: usize,
    /// The PromQL expression as written.
    pub expr: String,
    /// Byte offset of the expression within its (trimmed) header line.
    pub expr_offset: usize,
    /// `eval range ...` (true) or `eval instant ...` (false).
    pub is_range: bool,
    /// Evaluation time of an instant eval (milliseconds); for `expect range vector`, its end.
    pub eval_time: i64,
    /// Range start (range evals and `expect range vector`).
    pub start: i64,
    /// Range end.
    pub end: i64,
    /// Range step.
    pub step: i64,
    /// `eval_fail`.
    pub fail: bool,
    /// `eval_warn`: at least one warning.
    pub warn: bool,
    /// `eval_info`: at least one info annotation.
    pub info: bool,
    /// `eval_ordered`.
    pub ordered: bool,
    /// `expected_fail_message` of an `eval_fail`.
    pub expected_fail_message: Option<String>,
    /// `expected_fail_regexp` of an `eval_fail`.
    pub expected_fail_regexp: Option<Regex>,
    /// The `expect ...` lines.
    pub expects: Vec<Expect>,
    /// A scalar expectation line.
    pub scalar: Option<f64>,
    /// The expected series, one per distinct label set (a repeat replaces the earlier line).
    pub expected: Vec<ExpectedSeries>,
    /// `expect string "..."` (default empty).
    pub expected_string: String,
    /// `expect range vector ...` was given: the instant query's result is a matrix.
    pub expect_range_vector: bool,
    /// Not re-checked as a range query (`expect range vector`, `expect string`).
    pub exclude_from_range_query: bool,
}

impl Eval {
    /// Whether the eval expects an error.
    pub fn is_fail(&self) -> bool {
        self.fail || self.expects.iter().any(|e| e.kind == ExpectKind::Fail)
    }

    /// Whether the result's order matters.
    pub fn is_ordered(&self) -> bool {
        self.ordered || self.expects.iter().any(|e| e.kind == ExpectKind::Ordered)
    }

    /// The `expect` lines of one kind.
    pub fn expects_of(&self, kind: ExpectKind) -> impl Iterator<Item = &Expect> {
        self.expects.iter().filter(move |e| e.kind == kind)
    }

    fn has(&self, kind: ExpectKind) -> bool {
        self.expects_of(kind).next().is_some()
    }
}

/// An expected series of an eval.
#[derive(Debug, Clone)]
pub struct ExpectedSeries {
    /// 1-based position among the eval's result lines (for `expect ordered`).
    pub pos: usize,
    /// The labels.
    pub labels: Labels,
    /// The expected values: one for an instant vector, value `i` at `start + i*step` for a matrix.
    pub values: Vec<SequenceValue>,
}

/// The kind of an `expect` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpectKind {
    /// `expect ordered`
    Ordered,
    /// `expect fail`
    Fail,
    /// `expect warn`
    Warn,
    /// `expect no_warn`
    NoWarn,
    /// `expect info`
    Info,
    /// `expect no_info`
    NoInfo,
}

/// An `expect` line: its kind and what the error or annotation text must match.
#[derive(Debug, Clone)]
pub struct Expect {
    /// The kind.
    pub kind: ExpectKind,
    /// The text condition.
    pub matcher: ExpectMatch,
}

/// The text condition of an `expect` line.
#[derive(Debug, Clone)]
pub enum ExpectMatch {
    /// `msg:<text>`: exactly this text.
    Message(String),
    /// `regex:<re>` (unanchored), or any text when neither was given.
    Regex(Regex),
}

impl ExpectMatch {
    /// Whether `s` satisfies the condition.
    pub fn matches(&self, s: &str) -> bool {
        match self {
            ExpectMatch::Message(m) => m == s,
            ExpectMatch::Regex(r) => r.is_match(s),
        }
    }

    /// `message` or `pattern`, as upstream's failure texts call them.
    pub fn kind_name(&self) -> &'static str {
        match self {
            ExpectMatch::Message(_) => "message",
            ExpectMatch::Regex(_) => "pattern",
        }
    }

    /// The text or pattern.
    pub fn text(&self) -> &str {
        match self {
            ExpectMatch::Message(m) => m,
            ExpectMatch::Regex(r) => r.as_str(),
        }
    }
}

/// A script that could not be read: its 1-based line and the reason. Displays as
/// `line N: reason`, or as the reason alone when it already starts with its position (`N:C: parse
/// error: ...`, upstream's form for series lines).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", with_line(*line, message))]
pub struct ScriptError {
    /// 1-based line.
    pub line: usize,
    /// What is wrong, in upstream's words where it has them.
    pub message: String,
}

/// `line N: message`, unless `message` already starts with `N:`.
pub(crate) fn with_line(line: usize, message: &str) -> String {
    if message.strip_prefix(&line.to_string()).is_some_and(|rest| rest.starts_with(':')) {
        message.to_string()
    } else {
        format!("line {line}: {message}")
    }
}

fn err(index: usize, message: impl Into<String>) -> ScriptError {
    ScriptError { line: index + 1, message: message.into() }
}

/// Compiles one of the constant patterns below.
#[allow(clippy::expect_used)]
fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("constant pattern compiles")
}

static PAT_SPACE: LazyLock<Regex> = LazyLock::new(|| re("[\t ]+"));
static PAT_LOAD: LazyLock<Regex> = LazyLock::new(|| re(r"^load(?:_(with_nhcb))?\s+(.+?)$"));
static PAT_EVAL_INSTANT: LazyLock<Regex> =
    LazyLock::new(|| re(r"^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$"));
static PAT_EVAL_RANGE: LazyLock<Regex> = LazyLock::new(|| {
    re(r"^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$")
});
static PAT_EXPECT: LazyLock<Regex> =
    LazyLock::new(|| re(r"^expect\s+(ordered|fail|warn|no_warn|info|no_info)(?:\s+(regex|msg):(.+))?$"));
static PAT_EXPECT_RANGE: LazyLock<Regex> =
    LazyLock::new(|| re(r"^expect range vector\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+)$"));
static PAT_MATCH_ANY: LazyLock<Regex> = LazyLock::new(|| re("^.*$"));

const RANGE_VECTOR_PREFIX: &str = "expect range vector";
const EXPECT_STRING_PREFIX: &str = "expect string";

/// The lines of a script: trimmed, comment lines blank.
fn lines(input: &str) -> Vec<&str> {
    input
        .split('\n')
        .map(|l| {
            let l = l.trim();
            if l.starts_with('#') { "" } else { l }
        })
        .collect()
}

impl Script {
    /// Reads a script. The PromQL expressions are not parsed here (the runner does that).
    ///
    /// ```
    /// use ferroprom::promqltest::{Command, Script};
    /// let s = Script::parse("load 1m\n  up{job=\"a\"} 1 2 3\n\neval instant at 2m up\n  up{job=\"a\"} 3\n")?;
    /// assert_eq!(s.commands.len(), 2);
    /// let Command::Eval(e) = &s.commands[1] else { unreachable!() };
    /// assert_eq!((e.line, e.eval_time, e.expected.len()), (4, 120_000, 1));
    /// # Ok::<(), ferroprom::promqltest::ScriptError>(())
    /// ```
    pub fn parse(input: &str) -> Result<Script, ScriptError> {
        Script::parse_limited(input, DEFAULT_MAX_VALUES)
    }

    /// Like [`Script::parse`], with a bound on the number of values all series lines (`load`,
    /// `@st` and expected lines) may expand to: `0+1x99999999` lines could otherwise ask for any
    /// amount of memory.
    pub fn parse_limited(input: &str, max_values: usize) -> Result<Script, ScriptError> {
        let mut budget = Budget { left: max_values, max: max_values };
        let lines = lines(input);
        let mut commands = Vec::new();
        let mut i = 0;
        while i < lines.len() {
            let l = lines[i];
            if l.is_empty() {
                i += 1;
                continue;
            }
            let first = PAT_SPACE.split(l).next().unwrap_or("").to_lowercase();
            if first == "clear" {
                commands.push(Command::Clear { line: i + 1 });
            } else if first.starts_with("load") {
                let (next, load) = parse_load(&lines, i, &mut budget)?;
                commands.push(Command::Load(load));
                i = next;
            } else if first.starts_with("eval") {
                let (next, eval) = parse_eval(&lines, i, &mut budget)?;
                commands.push(Command::Eval(Box::new(eval)));
                i = next;
            } else {
                return Err(err(i, format!("invalid command {l:?}")));
            }
            i += 1;
        }
        Ok(Script { commands })
    }
}

/// How many values a script may expand to by default (100 million, about 1.6 GB once expanded).
pub const DEFAULT_MAX_VALUES: usize = 100_000_000;

/// The values a script may still expand to.
struct Budget {
    left: usize,
    max: usize,
}

impl Budget {
    fn take(&mut self, n: usize, index: usize) -> Result<(), ScriptError> {
        match self.left.checked_sub(n) {
            Some(left) => {
                self.left = left;
                Ok(())
            }
            None => Err(err(index, format!("the script's series expand to more than {} values", self.max))),
        }
    }
}

/// A series line's labels and values, or its error re-based onto the file line.
fn parse_series(line: &str, index: usize) -> Result<(Labels, Vec<SequenceValue>), ScriptError> {
    let desc = parse_series_desc(line)
        .map_err(|e| err(index, format!("{}:{}: parse error: {}", index + 1, e.column, e.message)))?;
    // Upstream's series parser builds a named metric's labels with a label builder, which drops
    // labels with empty values (and storage drops them on append): `metric{a=""}` is `metric`.
    let labels = desc.labels.into_iter().filter(|(_, v)| !v.is_empty());
    Ok((Labels::from_pairs(labels), desc.values))
}

/// The line after `i` when it continues the command's block (is not blank), moving `i` to it;
/// `None`, leaving `i`, at a blank line or the end of the input.
fn next_block_line<'a>(lines: &[&'a str], i: &mut usize) -> Option<&'a str> {
    let next = *lines.get(*i + 1)?;
    if next.is_empty() {
        return None;
    }
    *i += 1;
    Some(next)
}

/// Parses a `load` block starting at line index `i`; returns the index of its last line.
fn parse_load(lines: &[&str], mut i: usize, budget: &mut Budget) -> Result<(usize, Load), ScriptError> {
    let Some(caps) = PAT_LOAD.captures(lines[i]) else {
        return Err(err(i, "invalid load command. (load[_with_nhcb] <step:duration>)"));
    };
    let with_nhcb = caps.get(1).is_some_and(|m| m.as_str() == "with_nhcb");
    let step = caps.get(2).map_or("", |m| m.as_str());
    let interval =
        parse_duration(step).map_err(|e| err(i, format!("invalid step definition {step:?}: {e}")))?;
    let mut load = Load { line: i + 1, interval, with_nhcb, series: Vec::new() };
    let mut pending_st: Option<(Labels, Vec<Option<i64>>, usize)> = None;
    while let Some(def) = next_block_line(lines, &mut i) {
        if is_st_line(def) {
            if let Some((_, _, st_line)) = pending_st {
                return Err(err(st_line, "@st line has no following sample line"));
            }
            let (labels, offsets) = parse_st_line(def, i, budget)?;
            pending_st = Some((labels, offsets, i));
            continue;
        }
        let (labels, values) = parse_series(def, i)?;
        budget.take(values.len(), i)?;
        let mut st_offsets = Vec::new();
        if let Some((st_labels, offsets, st_line)) = pending_st.take() {
            if st_labels != labels {
                return Err(err(st_line, "@st metric does not match the following sample line metric"));
            }
            if offsets.len() != values.len() {
                return Err(err(
                    st_line,
                    format!("@st line has {} values but sample line has {}", offsets.len(), values.len()),
                ));
            }
            st_offsets = offsets;
        }
        let series = LoadSeries { line: i + 1, labels, values, st_offsets };
        match load.series.iter_mut().find(|s| s.labels == series.labels) {
            Some(existing) => *existing = series,
            None => load.series.push(series),
        }
    }
    if let Some((_, _, st_line)) = pending_st {
        return Err(err(st_line, "@st line has no following sample line"));
    }
    Ok((i, load))
}

/// Whether the first whitespace-separated token ends with `@st`.
fn is_st_line(def: &str) -> bool {
    def.find([' ', '\t']).is_some_and(|sp| def[..sp].ends_with("@st"))
}

fn parse_st_line(
    def: &str,
    i: usize,
    budget: &mut Budget,
) -> Result<(Labels, Vec<Option<i64>>), ScriptError> {
    let Some(sp) = def.find([' ', '\t']) else {
        return Err(err(i, "invalid @st line: missing value sequence"));
    };
    let metric = def[..sp].trim_end_matches("@st");
    let (labels, _) = parse_series(&format!("{metric} _"), i)
        .map_err(|e| err(i, format!("invalid @st line metric {metric:?}: {}", e.message)))?;
    let mut offsets = Vec::new();
    for item in def[sp + 1..].split_whitespace() {
        let vals = parse_st_item(item)
            .map_err(|e| err(i, format!("invalid @st sequence: invalid ST item {item:?}: {e}")))?;
        budget.take(vals.len(), i)?;
        offsets.extend(vals);
    }
    Ok((labels, offsets))
}

/// Most values one `@st` item may expand to (the series parser has the same bound).
const MAX_ST_VALUES: u64 = 1_000_000;

fn repeat_count(s: &str) -> Result<u64, String> {
    let n: u64 = s.parse().map_err(|_| "invalid repeat count".to_string())?;
    if n >= MAX_ST_VALUES { Err("invalid repeat count".to_string()) } else { Ok(n) }
}

fn parse_st_item(item: &str) -> Result<Vec<Option<i64>>, String> {
    if item == "_" {
        return Ok(vec![None]);
    }
    if let Some(n) = item.strip_prefix("_x") {
        let n = repeat_count(n)?;
        if n == 0 {
            return Err("invalid repeat count".to_string());
        }
        return Ok(vec![None; n as usize]);
    }
    let (base, rest) = duration_prefix(item)?;
    if rest.is_empty() {
        return Ok(vec![Some(base)]);
    }
    if let Some(n) = rest.strip_prefix('x') {
        let n = repeat_count(n)?;
        return Ok(vec![Some(base); n as usize + 1]);
    }
    let negative = match rest.as_bytes()[0] {
        b'+' => false,
        b'-' => true,
        c => return Err(format!("unexpected character '{}' after duration", c as char)),
    };
    let (delta, rest) = duration_prefix(&rest[1..]).map_err(|e| format!("invalid step duration: {e}"))?;
    let delta = if negative { -delta } else { delta };
    let Some(n) = rest.strip_prefix('x') else {
        return Err("expected 'x<count>' after step duration".to_string());
    };
    let n = repeat_count(n).map_err(|e| format!("invalid repeat count: {e}"))?;
    let mut out = Vec::with_capacity(n as usize + 1);
    let mut off = base;
    for _ in 0..=n {
        out.push(Some(off));
        off = off.saturating_add(delta);
    }
    Ok(out)
}

/// A signed duration at the start of `s` (milliseconds) and the rest of `s`.
fn duration_prefix(s: &str) -> Result<(i64, &str), String> {
    if s.is_empty() {
        return Err("empty duration".to_string());
    }
    let b = s.as_bytes();
    let mut i = 0;
    let negative = b[0] == b'-';
    if b[0] == b'-' || b[0] == b'+' {
        i += 1;
    }
    let start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i == start {
        return Err(format!("expected digits in duration {s:?}"));
    }
    while i < b.len() && b[i].is_ascii_alphabetic() && b[i] != b'x' {
        i += 1;
    }
    let d = &s[start..i];
    let ms = parse_duration(d).map_err(|e| format!("invalid duration {d:?}: {e}"))?;
    Ok((if negative { -ms } else { ms }, &s[i..]))
}

/// Go's `strconv.ParseInt(s, 0, 64)` then `strconv.ParseFloat(s, 64)`, as upstream reads scalar
/// expectation lines: `0x1f` is hex, `010` octal, `Inf`/`NaN`/`infinity` in any case.
pub fn parse_number(s: &str) -> Option<f64> {
    if let Some(i) = parse_go_int(s) {
        return Some(i as f64);
    }
    parse_go_float(s)
}

fn parse_go_int(s: &str) -> Option<i64> {
    let (neg, body) = match s.as_bytes().first()? {
        b'+' => (false, &s[1..]),
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(d) = lower.strip_prefix("0x") {
        (16, d)
    } else if let Some(d) = lower.strip_prefix("0o") {
        (8, d)
    } else if let Some(d) = lower.strip_prefix("0b") {
        (2, d)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    // Go allows `_` between digits only with a base prefix.
    let prefixed = lower.starts_with("0x") || lower.starts_with("0o") || lower.starts_with("0b");
    let digits: String = if prefixed {
        if digits.starts_with('_') || digits.ends_with('_') || digits.contains("__") {
            return None;
        }
        digits.replace('_', "")
    } else {
        digits.to_string()
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u64::from_str_radix(&digits, radix).ok()?;
    if neg {
        if magnitude <= i64::MAX as u64 + 1 { Some((magnitude as i64).wrapping_neg()) } else { None }
    } else {
        i64::try_from(magnitude).ok()
    }
}

fn parse_go_float(s: &str) -> Option<f64> {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let lower = body.to_ascii_lowercase();
    if matches!(lower.as_str(), "inf" | "infinity" | "nan") {
        let v = if lower == "nan" { f64::NAN } else { f64::INFINITY };
        return Some(if s.starts_with('-') { -v } else { v });
    }
    // Decimal literals only: Rust's parser accepts exactly Go's decimal float syntax (digits,
    // optional fraction and exponent), which is what expectation lines use.
    if !body.bytes().all(|c| c.is_ascii_digit() || matches!(c, b'.' | b'e' | b'E' | b'+' | b'-')) {
        return None;
    }
    s.parse::<f64>().ok()
}

/// Go's `strconv.Unquote` for `"..."` and `` `...` `` strings (and one-character `'x'`).
fn go_unquote(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    if bytes.len() < 2 {
        return None;
    }
    let q = bytes[0];
    if bytes[bytes.len() - 1] != q {
        return None;
    }
    let inner = &s[1..s.len() - 1];
    match q {
        b'`' => (!inner.contains('`') && !inner.contains('\r')).then(|| inner.to_string()),
        b'"' | b'\'' => {
            let mut out = String::new();
            let mut chars = inner.chars();
            while let Some(c) = chars.next() {
                if c == q as char || c == '\n' {
                    return None;
                }
                if c != '\\' {
                    out.push(c);
                    continue;
                }
                let e = chars.next()?;
                match e {
                    'a' => out.push('\u{7}'),
                    'b' => out.push('\u{8}'),
                    'f' => out.push('\u{c}'),
                    'n' => out.push('\n'),
                    'r' => out.push('\r'),
                    't' => out.push('\t'),
                    'v' => out.push('\u{b}'),
                    '\\' => out.push('\\'),
                    '"' if q == b'"' => out.push('"'),
                    '\'' if q == b'\'' => out.push('\''),
                    'x' | 'u' | 'U' => {
                        let n = match e {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let hex: String = chars.by_ref().take(n).collect();
                        if hex.len() != n {
                            return None;
                        }
                        let v = u32::from_str_radix(&hex, 16).ok()?;
                        if e == 'x' {
                            // A byte escape; only ASCII keeps the result valid UTF-8.
                            if v >= 0x80 {
                                return None;
                            }
                        }
                        out.push(char::from_u32(v)?);
                    }
                    '0'..='7' => {
                        let rest: String = chars.by_ref().take(2).collect();
                        let v = u32::from_str_radix(&format!("{e}{rest}"), 8).ok()?;
                        if rest.len() != 2 || v >= 0x80 {
                            return None;
                        }
                        out.push(char::from_u32(v)?);
                    }
                    _ => return None,
                }
            }
            if q == b'\'' && out.chars().count() != 1 {
                return None;
            }
            Some(out)
        }
        _ => None,
    }
}

fn parse_string_expectation(line: &str) -> Result<String, String> {
    let missing = "expected string literal not valid - a quoted string literal is required";
    if line == EXPECT_STRING_PREFIX {
        return Err(missing.to_string());
    }
    let s = line.strip_prefix("expect string ").unwrap_or(line);
    if s.is_empty() {
        return Err(missing.to_string());
    }
    go_unquote(s).ok_or_else(|| {
        "expected string literal not valid - check that the string is correctly quoted".to_string()
    })
}

fn parse_expect(line: &str) -> Result<Expect, String> {
    let Some(caps) = PAT_EXPECT.captures(line.trim()) else {
        return Err(
            "invalid expect statement, must match `expect <type> <match_type>: <string>` format".into()
        );
    };
    let kind = match caps.get(1).map_or("", |m| m.as_str()) {
        "ordered" => ExpectKind::Ordered,
        "fail" => ExpectKind::Fail,
        "warn" => ExpectKind::Warn,
        "no_warn" => ExpectKind::NoWarn,
        "info" => ExpectKind::Info,
        _ => ExpectKind::NoInfo,
    };
    let text = caps.get(3).map_or("", |m| m.as_str()).trim();
    let matcher =
        match caps.get(2).map(|m| m.as_str()) {
            Some("msg") => ExpectMatch::Message(text.to_string()),
            Some(_) => ExpectMatch::Regex(Regex::new(text).map_err(|_| {
                format!("invalid regex {text} for {}", caps.get(1).map_or("", |m| m.as_str()))
            })?),
            None => ExpectMatch::Regex(PAT_MATCH_ANY.clone()),
        };
    Ok(Expect { kind, matcher })
}

fn validate_expects(ev: &Eval) -> Result<(), String> {
    if ev.has(ExpectKind::Info) && ev.has(ExpectKind::NoInfo) {
        return Err("invalid expect lines, info and no_info cannot be used together".into());
    }
    if ev.has(ExpectKind::Warn) && ev.has(ExpectKind::NoWarn) {
        return Err("invalid expect lines, warn and no_warn cannot be used together".into());
    }
    if ev.expects_of(ExpectKind::Fail).count() > 1 {
        return Err("invalid expect lines, multiple expect fail lines are not allowed".into());
    }
    Ok(())
}

fn parse_times(from: &str, to: &str, step: &str) -> Result<(i64, i64, i64), String> {
    let start =
        parse_duration(from).map_err(|e| format!("invalid start timestamp definition {from:?}: {e}"))?;
    let end = parse_duration(to).map_err(|e| format!("invalid end timestamp definition {to:?}: {e}"))?;
    if end < start {
        return Err(format!(
            "invalid test definition, end timestamp ({to}) is before start timestamp ({from})"
        ));
    }
    let step = parse_duration(step).map_err(|e| format!("invalid step definition {step:?}: {e}"))?;
    Ok((start, end, step))
}

/// Parses an `eval` block starting at line index `i`; returns the index of its last line.
fn parse_eval(lines: &[&str], mut i: usize, budget: &mut Budget) -> Result<(usize, Eval), ScriptError> {
    let header = lines[i];
    let instant = PAT_EVAL_INSTANT.captures(header);
    let range = PAT_EVAL_RANGE.captures(header);
    let (caps, is_range) = match (instant, range) {
        (Some(c), _) => (c, false),
        (None, Some(c)) => (c, true),
        (None, None) => {
            return Err(err(
                i,
                "invalid evaluation command. Must be either 'eval[_fail|_warn|_ordered] instant [at <offset:duration>] <query>' or 'eval[_fail|_warn] range from <from> to <to> step <step> <query>'",
            ));
        }
    };
    let get = |k: usize| caps.get(k).map_or("", |m| m.as_str());
    let modifier = get(1);
    let expr_match = caps.get(if is_range { 5 } else { 3 });
    let expr = expr_match.map_or("", |m| m.as_str()).to_string();
    let line = i + 1;
    let header_index = i;
    let eval_err = |msg: String| err(header_index, format!("error in eval {expr} (line {line}): {msg}"));
    let mut ev = Eval {
        line,
        expr: expr.clone(),
        expr_offset: expr_match.map_or(0, |m| m.start()),
        is_range,
        eval_time: 0,
        start: 0,
        end: 0,
        step: 0,
        fail: modifier == "fail",
        warn: modifier == "warn",
        info: modifier == "info",
        ordered: modifier == "ordered",
        expected_fail_message: None,
        expected_fail_regexp: None,
        expects: Vec::new(),
        scalar: None,
        expected: Vec::new(),
        expected_string: String::new(),
        expect_range_vector: false,
        exclude_from_range_query: false,
    };
    if is_range {
        let (s, e, st) = parse_times(get(2), get(3), get(4)).map_err(eval_err)?;
        (ev.start, ev.end, ev.step, ev.eval_time) = (s, e, st, s);
    } else {
        let at = get(2);
        let t =
            parse_duration(at).map_err(|e| eval_err(format!("invalid timestamp definition {at:?}: {e}")))?;
        (ev.start, ev.eval_time) = (t, t);
    }

    let mut j = 1usize;
    while let Some(def) = next_block_line(lines, &mut i) {
        if ev.fail && def.starts_with("expected_fail_message") {
            ev.expected_fail_message = Some(def["expected_fail_message".len()..].trim().to_string());
            break;
        }
        if ev.fail && def.starts_with("expected_fail_regexp") {
            let pattern = def["expected_fail_regexp".len()..].trim();
            let r = Regex::new(pattern)
                .map_err(|e| eval_err(format!("invalid regexp '{pattern}' for expected_fail_regexp: {e}")))?;
            ev.expected_fail_regexp = Some(r);
            break;
        }
        if def.starts_with(RANGE_VECTOR_PREFIX) {
            let Some(c) = PAT_EXPECT_RANGE.captures(def) else {
                return Err(eval_err(format!("invalid range vector definition {def:?}")));
            };
            let g = |k: usize| c.get(k).map_or("", |m| m.as_str());
            let (s, e, st) = parse_times(g(1), g(2), g(3)).map_err(eval_err)?;
            (ev.start, ev.end, ev.step, ev.eval_time) = (s, e, st, e);
            ev.expect_range_vector = true;
            ev.exclude_from_range_query = true;
            j += 1;
            continue;
        }
        if def.starts_with(EXPECT_STRING_PREFIX) {
            ev.expected_string = parse_string_expectation(def).map_err(eval_err)?;
            ev.exclude_from_range_query = true;
            j += 1;
            continue;
        }
        if def.split(' ').next() == Some("expect") {
            let e = parse_expect(def).map_err(eval_err)?;
            ev.expects.push(e);
            validate_expects(&ev).map_err(eval_err)?;
            continue;
        }
        if let Some(f) = parse_number(def) {
            ev.scalar = Some(f);
            break;
        }
        let (labels, values) = parse_series(def, i)?;
        budget.take(values.len(), i)?;
        if values.len() > 1 && !is_range && !ev.expect_range_vector {
            return Err(eval_err(
                "expecting multiple values in instant evaluation not allowed. consider using 'expect range vector' directive to enable a range vector result for an instant query".into(),
            ));
        }
        let series = ExpectedSeries { pos: j, labels, values };
        match ev.expected.iter_mut().find(|s| s.labels == series.labels) {
            Some(existing) => *existing = series,
            None => ev.expected.push(series),
        }
        j += 1;
    }
    Ok((i, ev))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers() {
        for (s, v) in
            [("010", 8.0), ("0x1f", 31.0), ("09", 9.0), ("-Inf", f64::NEG_INFINITY), ("1e3", 1000.0)]
        {
            assert_eq!(parse_number(s), Some(v), "{s}");
        }
        assert!(parse_number("NaN").is_some_and(f64::is_nan));
        for s in ["up", "1 2", "{} 1", "0x", "1_000"] {
            assert_eq!(parse_number(s), None, "{s}");
        }
    }

    #[test]
    fn unquote() {
        assert_eq!(go_unquote(r#""a\"b\u00e9""#).as_deref(), Some("a\"bé"));
        assert_eq!(go_unquote("`raw\\n`").as_deref(), Some("raw\\n"));
        assert_eq!(go_unquote(r#""unterminated"#), None);
    }

    #[test]
    fn value_budget() {
        let text = "load 1m\n  x 0x9\n  y 0x9\n";
        assert!(Script::parse_limited(text, 20).is_ok());
        let e = Script::parse_limited(text, 15).unwrap_err();
        assert_eq!(e.to_string(), "line 3: the script's series expand to more than 15 values");
    }

    #[test]
    fn st_items() {
        assert_eq!(parse_st_item("-30s-1mx2"), Ok(vec![Some(-30_000), Some(-90_000), Some(-150_000)]));
        assert_eq!(parse_st_item("_x2"), Ok(vec![None, None]));
        assert_eq!(parse_st_item("-0ms"), Ok(vec![Some(0)]));
        assert!(parse_st_item("5q").is_err());
    }
}
