//! Label matchers: `name="v"`, `name!="v"`, `name=~"re"`, `name!~"re"`.

use std::fmt;

use regex::Regex;

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
/// ```
/// use ferroprom::model::{MatchOp, Matcher};
/// let m = Matcher::new(MatchOp::Regex, "job", "node.*")?;
/// assert!(m.matches("node-exporter"));
/// assert!(!m.matches("my-node"));
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
    re: Option<Regex>,
}

impl Matcher {
    /// Builds a matcher, compiling the regular expression of `=~`/`!~`.
    pub fn new(
        op: MatchOp,
        name: impl Into<String>,
        value: impl Into<String>,
    ) -> Result<Matcher, MatcherError> {
        let value = value.into();
        let re = match op {
            MatchOp::Regex | MatchOp::NotRegex => {
                Some(Regex::new(&format!("^(?s:{value})$")).map_err(|e| MatcherError(regex_error_text(&e)))?)
            }
            MatchOp::Equal | MatchOp::NotEqual => None,
        };
        Ok(Matcher { name: name.into(), op, value, re })
    }

    /// Whether the label value `v` satisfies the matcher. An absent label has the value `""`.
    pub fn matches(&self, v: &str) -> bool {
        match (self.op, &self.re) {
            (MatchOp::Equal, _) => self.value == v,
            (MatchOp::NotEqual, _) => self.value != v,
            (MatchOp::Regex, Some(re)) => re.is_match(v),
            (MatchOp::NotRegex, Some(re)) => !re.is_match(v),
            // `new` compiles a regex for both regex operators.
            (MatchOp::Regex | MatchOp::NotRegex, None) => false,
        }
    }

    /// Whether the matcher matches the empty string (and so series without the label).
    pub fn matches_empty(&self) -> bool {
        self.matches("")
    }
}

fn regex_error_text(e: &regex::Error) -> String {
    match e {
        regex::Error::Syntax(s) => format!("invalid regular expression: {}", s.lines().last().unwrap_or(s)),
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
