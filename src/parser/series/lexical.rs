//! The lexical rules of Prometheus's PromQL lexer that series descriptions depend on: number
//! scanning and conversion, string unquoting, and the description of a token in an error message.
//!
//! The grammar (`grammar.pest`) decides what is valid; this module reproduces what Prometheus's
//! lexer and number conversion do with a piece of input, so that values and error messages match
//! upstream.

pub(crate) use crate::model::go_quote;
use crate::parser::lexer::unescape;

/// A rune quoted as Go's `%q` quotes a rune: `'+'`.
pub(crate) fn go_quote_rune(c: char) -> String {
    match c {
        '\'' => "'\\''".to_string(),
        '\\' => "'\\\\'".to_string(),
        '\n' => "'\\n'".to_string(),
        '\r' => "'\\r'".to_string(),
        '\t' => "'\\t'".to_string(),
        c if c.is_control() => format!("'\\x{:02x}'", c as u32),
        c => format!("'{c}'"),
    }
}

/// A rune as Go's `%#U` prints it: `U+0061 'a'`.
fn go_unicode(c: char) -> String {
    if c.is_control() { format!("U+{:04X}", c as u32) } else { format!("U+{:04X} '{c}'", c as u32) }
}

/// Whether `c` is a space in the lexer's sense.
pub(crate) fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

/// Whether `c` is a letter or underscore in the lexer's sense.
pub(crate) fn is_alpha(c: char) -> bool {
    c == '_' || c.is_ascii_alphabetic()
}

fn is_alphanumeric(c: char) -> bool {
    is_alpha(c) || c.is_ascii_digit()
}

/// Scans a number the way the lexer does inside a series description (no hexadecimal).
///
/// Returns `Ok(len)` for an accepted number and `Err(len)` with the length consumed when the
/// lexer would report `bad number syntax` for the first `len` bytes.
pub(crate) fn scan_number(s: &str) -> Result<usize, usize> {
    let b = s.as_bytes();
    let mut pos = 0;
    let at = |p: usize| b.get(p).copied();
    let is_digit = |c: Option<u8>| c.is_some_and(|c| c.is_ascii_digit());
    if at(pos) == Some(b'.') {
        pos += 1;
    }
    if is_digit(at(pos)) {
        pos += 1;
    }
    let mut dot = false;
    let mut exponent = false;
    while let Some(c) = at(pos) {
        match c {
            b'.' => {
                pos += 1;
                if dot {
                    return Err(pos);
                }
                dot = true;
                if matches!(at(pos), Some(b'_' | b'.')) {
                    return Err(pos + 1);
                }
            }
            b'e' | b'E' => {
                pos += 1;
                if exponent {
                    return Err(pos);
                }
                exponent = true;
                if matches!(at(pos), Some(b'+' | b'-')) {
                    pos += 1;
                }
                match at(pos) {
                    Some(b'.' | b'_' | b'e' | b'E') => return Err(pos + 1),
                    None => return Err(pos),
                    _ => {}
                }
            }
            b'_' => {
                pos += 1;
                match at(pos) {
                    Some(b'.' | b'_' | b'e' | b'E') => return Err(pos + 1),
                    None => return Err(pos),
                    _ => {}
                }
            }
            c if c.is_ascii_digit() => {
                while is_digit(at(pos)) {
                    pos += 1;
                }
            }
            _ => break,
        }
    }
    if pos == 0 {
        return Err(0);
    }
    match s[pos..].chars().next() {
        Some('x') => Ok(pos),
        Some(c) if is_alphanumeric(c) => Err(pos),
        _ => Ok(pos),
    }
}

/// Converts a number token as the parser does: as a Go integer literal first (so a leading `0`
/// means octal), then as a float. Errors carry Go's `strconv` wording.
pub(crate) fn parse_number(text: &str) -> Result<f64, String> {
    let lower = text.to_ascii_lowercase();
    if lower == "inf" {
        return Ok(f64::INFINITY);
    }
    if lower == "nan" {
        return Ok(f64::from_bits(crate::model::NORMAL_NAN_BITS));
    }
    let plain: String = text.chars().filter(|&c| c != '_').collect();
    if !plain.is_empty() && plain.bytes().all(|c| c.is_ascii_digit()) {
        let parsed = if plain.len() > 1 && plain.starts_with('0') {
            i64::from_str_radix(&plain[1..], 8).ok()
        } else {
            plain.parse::<i64>().ok()
        };
        if let Some(n) = parsed {
            return Ok(n as f64);
        }
    }
    match plain.parse::<f64>() {
        Ok(v) if v.is_infinite() => {
            Err(format!("strconv.ParseFloat: parsing {}: value out of range", go_quote(text)))
        }
        Ok(v) => Ok(v),
        Err(_) => Err(format!("strconv.ParseFloat: parsing {}: invalid syntax", go_quote(text))),
    }
}

/// Converts a repetition count (or histogram integer) as `strconv.ParseUint(s, 10, 64)` does.
pub(crate) fn parse_uint(text: &str) -> Result<u64, String> {
    if text.is_empty() || !text.bytes().all(|c| c.is_ascii_digit()) {
        return Err(format!("strconv.ParseUint: parsing {}: invalid syntax", go_quote(text)));
    }
    text.parse::<u64>()
        .map_err(|_| format!("strconv.ParseUint: parsing {}: value out of range", go_quote(text)))
}

/// Scans a quoted string starting at the opening quote, as the lexer does.
///
/// Returns the length of the string token, or the lexer's error message.
pub(crate) fn scan_string(s: &str) -> Result<usize, String> {
    let mut chars = s.char_indices();
    let Some((_, open)) = chars.next() else {
        return Err("unterminated quoted string".to_string());
    };
    if open == '`' {
        return match s[1..].find('`') {
            Some(i) => Ok(i + 2),
            None => Err("unterminated raw string".to_string()),
        };
    }
    while let Some((i, c)) = chars.next() {
        match c {
            '\n' => return Err("unterminated quoted string".to_string()),
            '\\' => check_escape(&mut chars, open)?,
            c if c == open => return Ok(i + c.len_utf8()),
            _ => {}
        }
    }
    Err("unterminated quoted string".to_string())
}

fn check_escape(chars: &mut std::str::CharIndices<'_>, open: char) -> Result<(), String> {
    let Some((_, c)) = chars.next() else {
        return Err("escape sequence not terminated".to_string());
    };
    let (digits, base, max) = match c {
        'a' | 'b' | 'f' | 'n' | 'r' | 't' | 'v' | '\\' => return Ok(()),
        c if c == open => return Ok(()),
        '0'..='7' => (2, 8, 255),
        'x' => (2, 16, 255),
        'u' => (4, 16, 0x10ffff),
        'U' => (8, 16, 0x10ffff),
        c => return Err(format!("unknown escape sequence {}", go_unicode(c))),
    };
    let mut value: u32 = if c.is_ascii_digit() { c as u32 - '0' as u32 } else { 0 };
    for _ in 0..digits {
        let Some((_, d)) = chars.next() else {
            return Err("escape sequence not terminated".to_string());
        };
        match d.to_digit(base) {
            Some(v) => value = value.wrapping_mul(base).wrapping_add(v),
            None => return Err(format!("illegal character {} in escape sequence", go_unicode(d))),
        }
    }
    if value > max || (0xd800..0xe000).contains(&value) {
        return Err("escape sequence is an invalid Unicode code point".to_string());
    }
    Ok(())
}

/// Decodes a string token (quotes included) as Prometheus's `strutil.Unquote` does.
///
/// The token has already passed [`scan_string`]. `\x` and octal escapes denote bytes; the result
/// must be valid UTF-8.
pub(crate) fn unquote(token: &str) -> Result<String, String> {
    let Some(open) = token.chars().next() else {
        return Err("invalid syntax".to_string());
    };
    let inner = &token[open.len_utf8()..token.len() - open.len_utf8()];
    if open == '`' {
        return Ok(inner.to_string());
    }
    let out = unescape(inner, |c| c == open).map_err(|()| "invalid syntax".to_string())?;
    String::from_utf8(out).map_err(|_| "invalid UTF-8".to_string())
}

/// The lexer mode a token is read in; it decides how the text at an error is described.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Before the metric.
    Start,
    /// In the value sequence.
    Values,
    /// Inside a label set.
    Braces,
    /// Inside `{{ … }}`.
    Histogram,
    /// Inside a bucket list `[ … ]` of a histogram.
    Buckets,
}

/// What the lexer makes of the text at an error position.
pub(crate) enum Token {
    /// A token, described as in upstream's `unexpected …` messages; `identifier` tells whether
    /// it is a plain identifier (which a value sequence rejects with `expected number or "stale"`).
    Token { desc: String, identifier: bool },
    /// A lexer error message.
    Error(String),
}

fn token(desc: String) -> Token {
    Token::Token { desc, identifier: false }
}

// Token numbers of the histogram-description items in upstream's generated parser; they have no
// printable name there, so messages show them as `"<Item N>"`.
fn histogram_item_number(word: &str) -> Option<u32> {
    Some(match word {
        "sum" => 57370,
        "count" => 57371,
        "schema" => 57372,
        "offset" => 57373,
        "n_offset" => 57374,
        "buckets" => 57375,
        "n_buckets" => 57376,
        "z_bucket" => 57377,
        "z_bucket_w" => 57378,
        "custom_values" => 57379,
        "counter_reset_hint" => 57380,
        "unknown" => 57445,
        "reset" => 57446,
        "not_reset" => 57447,
        "gauge" => 57448,
        _ => return None,
    })
}

const AGGREGATORS: &[&str] = &[
    "avg",
    "bottomk",
    "count",
    "count_values",
    "group",
    "max",
    "min",
    "quantile",
    "stddev",
    "stdvar",
    "sum",
    "topk",
    "limitk",
    "limit_ratio",
];
const OPERATOR_WORDS: &[&str] = &["and", "or", "unless", "atan2"];
const KEYWORDS: &[&str] = &[
    "offset",
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "start",
    "end",
    "step",
    "range",
    "anchored",
    "smoothed",
    "max_of",
    "min_of",
];

/// Describes a keyword or identifier token the way upstream's `Item.desc()` does.
fn describe_word(word: &str) -> Token {
    let lower = word.to_ascii_lowercase();
    let l = lower.as_str();
    if l == "inf" || l == "nan" {
        token(format!("number {}", go_quote(word)))
    } else if AGGREGATORS.contains(&l) {
        token(format!("<aggr:{word}>"))
    } else if OPERATOR_WORDS.contains(&l) {
        token(format!("<op:{word}>"))
    } else if KEYWORDS.contains(&l) {
        token(format!("<{word}>"))
    } else if word.contains(':') {
        token(format!("metric identifier {}", go_quote(word)))
    } else {
        Token::Token { desc: format!("identifier {}", go_quote(word)), identifier: true }
    }
}

fn describe_number(s: &str) -> Token {
    match scan_number(s) {
        Ok(n) => {
            let text = &s[..n];
            if let Err(e) = parse_number(text) {
                return Token::Error(format!("error parsing number: {e}"));
            }
            token(format!("number {}", short_quote(text)))
        }
        Err(n) => Token::Error(format!("bad number syntax: {}", go_quote(&s[..n.min(s.len())]))),
    }
}

/// Go's `%q` of an item value, cut to ten characters with `...` when longer.
fn short_quote(text: &str) -> String {
    if text.len() > 10 {
        let cut: String = text.chars().take(10).collect();
        format!("{}...", go_quote(&cut))
    } else {
        go_quote(text)
    }
}

fn word_end(s: &str, pred: impl Fn(char) -> bool) -> usize {
    s.char_indices().find(|&(_, c)| !pred(c)).map_or(s.len(), |(i, _)| i)
}

/// Reads the token at the start of `s` in lexer mode `mode`.
pub(crate) fn token_at(s: &str, mode: Mode) -> Token {
    let Some(c) = s.chars().next() else {
        return match mode {
            Mode::Braces => Token::Error("unexpected end of input inside braces".to_string()),
            _ => token("end of input".to_string()),
        };
    };
    if is_space(c) {
        return token(go_quote(&c.to_string()));
    }
    match mode {
        Mode::Values => match c {
            '{' if s[1..].starts_with('{') => token("\"{{\"".to_string()),
            '+' | '-' | 'x' | '_' => token(go_quote(&c.to_string())),
            c if c.is_ascii_digit() || (c == '.' && s[1..].starts_with(|d: char| d.is_ascii_digit())) => {
                describe_number(s)
            }
            c if is_alpha(c) || c == ':' => {
                describe_word(&s[..word_end(s, |c| is_alphanumeric(c) || c == ':')])
            }
            c => Token::Error(format!("unexpected character in series sequence: {}", go_quote_rune(c))),
        },
        Mode::Start => match c {
            '"' | '\'' | '`' => describe_string(s),
            c if c.is_ascii_digit() || (c == '.' && s[1..].starts_with(|d: char| d.is_ascii_digit())) => {
                match duration_len(s) {
                    Some(n) if scan_number(s).is_err() => token(format!("duration {}", short_quote(&s[..n]))),
                    _ => describe_number(s),
                }
            }
            c if is_alpha(c) || c == ':' => {
                describe_word(&s[..word_end(s, |c| is_alphanumeric(c) || c == ':')])
            }
            c => token(go_quote(&c.to_string())),
        },
        Mode::Braces => match c {
            c if is_alpha(c) => {
                let word = &s[..word_end(s, is_alphanumeric)];
                Token::Token { desc: format!("identifier {}", go_quote(word)), identifier: true }
            }
            ',' | '}' => token(go_quote(&c.to_string())),
            '"' | '\'' | '`' => describe_string(s),
            '=' if s[1..].starts_with('~') => token("\"=~\"".to_string()),
            '=' => token("\"=\"".to_string()),
            '!' => match s[1..].chars().next() {
                Some('~') => token("\"!~\"".to_string()),
                Some('=') => token("\"!=\"".to_string()),
                Some(n) => Token::Error(format!(
                    "unexpected character after '!' inside braces: {}",
                    go_quote_rune(n)
                )),
                None => Token::Error("unexpected character after '!' inside braces: U+FFFFFFFF".to_string()),
            },
            '{' => Token::Error("unexpected left brace '{'".to_string()),
            c => Token::Error(format!("unexpected character inside braces: {}", go_quote_rune(c))),
        },
        Mode::Histogram => match c {
            c if is_alpha(c) => {
                let word = &s[..word_end(s, is_alpha)];
                let lower = word.to_ascii_lowercase();
                let rest = &s[word.len()..];
                match histogram_item_number(&lower) {
                    Some(_)
                        if lower == "unknown"
                            || lower == "reset"
                            || lower == "not_reset"
                            || lower == "gauge" =>
                    {
                        histogram_item(word, &lower)
                    }
                    Some(_) if rest.starts_with(':') => histogram_item(word, &lower),
                    Some(_) => Token::Error("missing `:` for histogram descriptor".to_string()),
                    None if lower == "inf" || lower == "nan" => token(format!("number {}", go_quote(word))),
                    None => Token::Error(format!("bad histogram descriptor found: {}", go_quote(word))),
                }
            }
            ':' | '-' | '[' => token(go_quote(&c.to_string())),
            c if c.is_ascii_digit() => describe_number(s),
            '}' if s[1..].starts_with('}') => token("\"}}\"".to_string()),
            c => Token::Error(format!("histogram description incomplete unexpected: {}", go_quote_rune(c))),
        },
        Mode::Buckets => match c {
            '-' | ']' => token(go_quote(&c.to_string())),
            c if c.is_ascii_digit() => describe_number(s),
            c if is_alpha(c) => {
                let word = &s[..word_end(s, is_alpha)];
                match word.to_ascii_lowercase().as_str() {
                    "inf" | "nan" => token(format!("number {}", go_quote(word))),
                    _ => Token::Error(format!(
                        "invalid character in buckets description: {}",
                        go_quote_rune(c)
                    )),
                }
            }
            c => Token::Error(format!("invalid character in buckets description: {}", go_quote_rune(c))),
        },
    }
}

/// The length of a duration literal (`5m`, `1h30m`, `10ms`) at the start of `s`, as the lexer
/// reads one outside a value sequence.
fn duration_len(s: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut pos = 0;
    let mut units = 0;
    while b.get(pos).is_some_and(u8::is_ascii_digit) {
        while b.get(pos).is_some_and(u8::is_ascii_digit) {
            pos += 1;
        }
        match (b.get(pos), b.get(pos + 1)) {
            (Some(b'm'), Some(b's')) => pos += 2,
            (Some(b's' | b'm' | b'h' | b'd' | b'w' | b'y'), _) => pos += 1,
            _ => return None,
        }
        units += 1;
    }
    let next_ok = s[pos..].chars().next().is_none_or(|c| !is_alphanumeric(c));
    (units > 0 && next_ok).then_some(pos)
}

fn histogram_item(word: &str, lower: &str) -> Token {
    match histogram_item_number(lower) {
        Some(n) => token(format!("\"<Item {n}>\" {}", go_quote(word))),
        None => token(go_quote(word)),
    }
}

fn describe_string(s: &str) -> Token {
    match scan_string(s) {
        Ok(n) => token(format!("string {}", short_quote(&s[..n]))),
        Err(e) => Token::Error(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_follow_go_conversion() {
        assert_eq!(parse_number("010"), Ok(8.0));
        assert_eq!(parse_number("09"), Ok(9.0));
        assert_eq!(parse_number("1_000"), Ok(1000.0));
        assert_eq!(parse_number(".5"), Ok(0.5));
        assert_eq!(parse_number("5."), Ok(5.0));
        assert_eq!(parse_number("1.e2"), Ok(100.0));
        assert!(parse_number("1e400").is_err());
        assert_eq!(parse_number("Inf"), Ok(f64::INFINITY));
    }

    #[test]
    fn scanning_matches_the_lexer() {
        assert_eq!(scan_number("1x5"), Ok(1));
        assert_eq!(scan_number("1.5 "), Ok(3));
        assert_eq!(scan_number("1a"), Err(1));
        assert_eq!(scan_number("1__0"), Err(3));
        assert_eq!(scan_number("1.2.3"), Err(4));
    }

    #[test]
    fn strings_unquote_like_prometheus() {
        assert_eq!(unquote("\"\\u70ac\"").as_deref(), Ok("炬"));
        assert_eq!(unquote("'a\\'b'").as_deref(), Ok("a'b"));
        assert_eq!(unquote("`a\\n`").as_deref(), Ok("a\\n"));
        assert_eq!(scan_string("\"abc"), Err("unterminated quoted string".to_string()));
        assert_eq!(scan_string("\"\\q\""), Err("unknown escape sequence U+0071 'q'".to_string()));
    }
}
