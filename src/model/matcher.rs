//! Label matchers: `name="v"`, `name!="v"`, `name=~"re"`, `name!~"re"`.

use std::fmt;
use std::fmt::Write as _;

use std::sync::{Arc, OnceLock};

use regex::Regex;
use regex_syntax::hir::{Class, Hir, HirKind};

use super::fast_regex::{self, FastRegex, anchored};

/// The operator of a label matcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MatchOp {
    /// `=`
    Equal,
    /// `!=`
    NotEqual,
    /// `=~`
    Regex,
    /// `!~`
    NotRegex,
}

impl MatchOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            MatchOp::Equal => "=",
            MatchOp::NotEqual => "!=",
            MatchOp::Regex => "=~",
            MatchOp::NotRegex => "!~",
        }
    }
}

/// A regular expression a matcher could not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MatcherError(pub String);

/// A label matcher. Regular expressions are fully anchored, as in Prometheus.
///
/// A regular expression is checked when the matcher is built (so that a query with a bad one is
/// refused at parse time) but, unless it is large, compiled only when the matcher is first used:
/// compiling costs far more than parsing the query around it, and many parsed queries never match
/// (rule files being checked, printed, or rejected later). Most patterns are never compiled at all
/// but matched by fast paths (literals, alternations of literals, `.*`/`.+` around text), and what
/// was built for a pattern is shared process-wide through a bounded cache (see
/// `model/fast_regex.rs`), since rule groups re-run the same queries every interval.
///
/// ```
/// use ferroprom::model::{MatchOp, Matcher};
/// let m = Matcher::new(MatchOp::Regex, "job", "node.*")?;
/// assert!(m.matches("node-exporter"));
/// assert!(!m.matches("my-node"));
/// assert!(Matcher::new(MatchOp::Regex, "job", "(").is_err());
/// # Ok::<(), ferroprom::model::MatcherError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Matcher {
    /// The label name.
    pub name: String,
    /// The operator.
    pub op: MatchOp,
    /// The value or the regular expression, as written (unescaped).
    pub value: String,
    /// The built regular expression of `=~`/`!~`, once built. `None` inside only if a pattern
    /// that passed the check could not be parsed again, which cannot happen.
    re: OnceLock<Option<Arc<FastRegex>>>,
}

/// The largest estimated size (roughly, NFA states) of a regular expression whose compilation is
/// deferred to its first use. The regex crate refuses programs over 10 MiB; anything near that is
/// compiled at once, so that the error still comes from `Matcher::new`.
const DEFERRED_SIZE: u64 = 20_000;

/// Whether `hir` is small enough that compiling it cannot fail, so that compiling may wait.
pub(super) fn defer_compiling(hir: &Hir) -> bool {
    fn size(h: &Hir) -> u64 {
        match h.kind() {
            HirKind::Empty | HirKind::Look(_) => 1,
            HirKind::Literal(l) => l.0.len() as u64,
            // A Unicode range becomes a few UTF-8 byte-sequence states.
            HirKind::Class(Class::Unicode(c)) => (c.ranges().len() as u64).saturating_mul(16),
            HirKind::Class(Class::Bytes(c)) => c.ranges().len() as u64,
            HirKind::Repetition(r) => {
                let times = u64::from(r.max.unwrap_or(r.min).max(1));
                size(&r.sub).saturating_mul(times).saturating_add(1)
            }
            HirKind::Capture(c) => size(&c.sub).saturating_add(1),
            HirKind::Concat(hs) | HirKind::Alternation(hs) => {
                hs.iter().fold(1u64, |acc, h| acc.saturating_add(size(h)))
            }
        }
    }
    size(hir) <= DEFERRED_SIZE
}

/// Whether `value` is a regular expression that is valid and small by its looks alone: literal
/// characters, `.`, alternatives (`|`) and `*`/`+`/`?` right after a character or `.` (`foo|bar`,
/// `.*-prod`, `test`); checking those with a full regex parse would cost more than the rest of
/// parsing the query.
fn is_simple_pattern(value: &str) -> bool {
    const MAX_LEN: usize = 1000;
    let mut after_atom = false;
    value.len() <= MAX_LEN
        && value.chars().all(|c| {
            let ok = match c {
                '*' | '+' | '?' => after_atom,
                '.' | '|' | '-' => true,
                c => !regex_syntax::is_meta_character(c),
            };
            after_atom = !matches!(c, '*' | '+' | '?' | '|');
            ok
        })
}

impl Matcher {
    /// Builds a matcher, checking the regular expression of `=~`/`!~`.
    pub fn new(
        op: MatchOp,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Matcher, MatcherError> {
        let value = value.into();
        let re = OnceLock::new();
        if matches!(op, MatchOp::Regex | MatchOp::NotRegex) {
            // The cache only ever holds valid patterns.
            if let Some(hit) = fast_regex::lookup(&value) {
                let _ = re.set(Some(hit));
            } else if !is_simple_pattern(&value) {
                let pattern = anchored(&value);
                // The regex crate's own syntax settings are regex-syntax's defaults, and its
                // syntax errors are these errors' text.
                let hir = regex_syntax::Parser::new()
                    .parse(&pattern)
                    .map_err(|e| MatcherError(syntax_error_text(&e.to_string())))?;
                let compiled = if defer_compiling(&hir) {
                    None
                } else {
                    Some(Regex::new(&pattern).map_err(|e| MatcherError(regex_error_text(&e)))?)
                };
                let built = fast_regex::cached(&value, Some(&hir))
                    .map_err(|e| MatcherError(syntax_error_text(&e)))?;
                if let Some(compiled) = compiled {
                    fast_regex::set_compiled(&built, compiled);
                }
                let _ = re.set(Some(built));
            }
        }
        Ok(Matcher { name: name.into(), op, value, re })
    }

    /// Whether the label value `v` satisfies the matcher. An absent label has the value `""`.
    pub fn matches(&self, v: &str) -> bool {
        match self.op {
            MatchOp::Equal => self.value == v,
            MatchOp::NotEqual => self.value != v,
            MatchOp::Regex => self.regex().is_some_and(|re| re.is_match(v)),
            MatchOp::NotRegex => self.regex().is_some_and(|re| !re.is_match(v)),
        }
    }

    /// The built regular expression (built, or taken from the cache, on first use).
    fn regex(&self) -> Option<&FastRegex> {
        self.re.get_or_init(|| fast_regex::cached(&self.value, None).ok()).as_deref()
    }

    /// For `=~` with an alternation of plain literals (`a|b|c`, `(?i)` excluded), the values it
    /// matches, so that an index can look them up instead of testing every value.
    pub fn literal_values(&self) -> Option<impl Iterator<Item = &str>> {
        if self.op != MatchOp::Regex {
            return None;
        }
        self.regex()?.literal_values()
    }

    /// Whether the matcher matches the empty string (and so series without the label).
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }
}

fn syntax_error_text(s: &str) -> String {
    format!("invalid regular expression: {}", s.lines().last().unwrap_or(s))
}

fn regex_error_text(e: &regex::Error) -> String {
    match e {
        regex::Error::Syntax(s) => syntax_error_text(s),
        other => format!("invalid regular expression: {other}"),
    }
}

impl PartialEq for Matcher {
    fn eq(&self, other: &Matcher) -> bool {
        self.name == other.name && self.op == other.op && self.value == other.value
    }
}

impl Eq for Matcher {}

impl fmt::Display for Matcher {
    /// Prints the matcher as PromQL writes it; names that are not valid legacy label names are
    /// quoted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if is_legacy_label_name(&self.name) {
            f.write_str(&self.name)?;
        } else {
            write_quoted(f, &self.name)?;
        }
        f.write_str(self.op.as_str())?;
        write_quoted(f, &self.value)
    }
}

/// Whether `s` matches `[a-zA-Z_][a-zA-Z0-9_]*`.
pub(crate) fn is_legacy_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Writes `s` as a double-quoted string the way Go's `strconv.Quote` does.
pub(crate) fn write_quoted(f: &mut impl fmt::Write, s: &str) -> fmt::Result {
    f.write_char('"')?;
    write_quoted_body(f, s)?;
    f.write_char('"')
}

/// `s` quoted as Go's `%q` quotes text for messages: double quotes, Go's escapes for quotes,
/// backslashes and control characters, everything else as it is (unlike [`write_quoted`], which
/// also escapes what Go deems unprintable and U+FFFD, so that printed PromQL parses back).
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if c.is_control() => {
                let v = c as u32;
                if v < 0x80 {
                    let _ = write!(out, "\\x{v:02x}");
                } else if v <= 0xffff {
                    let _ = write!(out, "\\u{v:04x}");
                } else {
                    let _ = write!(out, "\\U{v:08x}");
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Writes the byte string `bytes` double-quoted as Go's `strconv.Quote` does: like
/// [`write_quoted`], and each byte that is not part of valid UTF-8 as `\xNN`.
pub(crate) fn write_quoted_bytes(f: &mut impl fmt::Write, bytes: &[u8]) -> fmt::Result {
    f.write_char('"')?;
    for chunk in bytes.utf8_chunks() {
        write_quoted_body(f, chunk.valid())?;
        for b in chunk.invalid() {
            write!(f, "\\x{b:02x}")?;
        }
    }
    f.write_char('"')
}

fn write_quoted_body(f: &mut impl fmt::Write, s: &str) -> fmt::Result {
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            '\u{7}' => f.write_str("\\a")?,
            '\u{8}' => f.write_str("\\b")?,
            '\u{c}' => f.write_str("\\f")?,
            '\u{b}' => f.write_str("\\v")?,
            // PromQL's lexer rejects a literal U+FFFD (it cannot tell it from invalid UTF-8), and
            // the parser decodes byte escapes that are not UTF-8 (`\xff`) to it: escape it so that
            // printed strings parse back.
            '\u{FFFD}' => f.write_str("\\ufffd")?,
            c if (c as u32) < 0x20 || c as u32 == 0x7f => write!(f, "\\x{:02x}", c as u32)?,
            c if is_go_printable(c) => f.write_char(c)?,
            c if (c as u32) < 0x10000 => write!(f, "\\u{:04x}", c as u32)?,
            c => write!(f, "\\U{:08x}", c as u32)?,
        }
    }
    Ok(())
}

/// An approximation of Go's `unicode.IsPrint` good for the characters PromQL names and values use:
/// control and format characters, unassigned surrogates and non-characters are not printable.
fn is_go_printable(c: char) -> bool {
    let u = c as u32;
    !(c.is_control()
        || (0x80..0xa0).contains(&u)
        || u == 0xad
        || u == 0xa0
        || u == 0x1680
        || (0x2000..=0x200f).contains(&u)
        || u == 0x202f
        || u == 0x205f
        || u == 0x3000
        || (0x2028..=0x202e).contains(&u)
        || (0x2060..=0x206f).contains(&u)
        || u == 0xfeff
        || (0xfff9..=0xfffb).contains(&u)
        || u == 0xfffe
        || u == 0xffff)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The error `Matcher::new` gives equals the one compiling at once gives, deferred or not.
    #[test]
    fn checked_regex_errors_equal_compile_errors() {
        for pattern in
            ["(", "a)", "[z-a]", "x{2,1}", r"\p{Nope}", "(?<n>a)(?<n>b)", "*", r"\", "a{1000}{1000}"]
        {
            let eager = Regex::new(&anchored(pattern)).map_err(|e| regex_error_text(&e));
            let got = Matcher::new(MatchOp::Regex, "l", pattern).map(|_| ()).map_err(|e| e.0);
            assert_eq!(got, eager.map(|_| ()), "{pattern}");
        }
    }

    /// Patterns the quick check accepts are valid and deferred; the full check agrees.
    #[test]
    fn simple_patterns_are_valid() {
        for pattern in ["test", "foo|bar", ".*-prod", "a+b?c*", "|", "a|", ".", "ä.*ö", "x y"] {
            assert!(is_simple_pattern(pattern), "{pattern}");
            let hir = regex_syntax::Parser::new().parse(&anchored(pattern)).unwrap();
            assert!(defer_compiling(&hir), "{pattern}");
        }
        for pattern in ["*", "a**", "|+", "(a)", "[a]", "a{2}", "^a", r"\d", "a$"] {
            assert!(!is_simple_pattern(pattern), "{pattern}");
        }
    }

    #[test]
    fn literal_alternations_are_listed() {
        let lit = Matcher::new(MatchOp::Regex, "a", "x|y_z|").unwrap();
        assert_eq!(lit.literal_values().map(Iterator::collect::<Vec<_>>), Some(vec!["", "x", "y_z"]));
        let escaped = Matcher::new(MatchOp::Regex, "a", r"a\.b|c").unwrap();
        assert_eq!(escaped.literal_values().map(Iterator::collect::<Vec<_>>), Some(vec!["a.b", "c"]));
        let re = Matcher::new(MatchOp::Regex, "a", "x.*").unwrap();
        assert!(re.literal_values().is_none());
        assert!(Matcher::new(MatchOp::NotRegex, "a", "x").unwrap().literal_values().is_none());
    }

    #[test]
    fn deferred_regex_matches() {
        let m = Matcher::new(MatchOp::NotRegex, "l", ".*[0-4]$").unwrap();
        assert!(m.re.get().is_some_and(Option::is_some));
        assert!(!m.matches("x3") && m.matches("x5"));
        assert!(m.clone().matches("x7"));
        assert!(!defer_compiling(&regex_syntax::Parser::new().parse(r"\w{100}").unwrap()));
    }
}
