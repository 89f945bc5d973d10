//! The PromQL lexer: input text to a stream of tokens.
//!
//! Which token shapes may start at a position depends on the lexer's state, exactly as in
//! Prometheus's `lex.go`: inside `{...}` only label names, strings and matching operators are valid;
//! right after a `[` only the pieces of a duration expression; inside a bracket after its first
//! number, words must be `:` or a duration keyword. The state machine is the code below; it is what
//! gives errors their upstream wording ("unexpected character inside braces: ':'").
//!
//! The shapes themselves are scanned directly over the bytes of the input. They are one-liners
//! (white space, `#` comments, words of `[A-Za-z0-9_:]`, fixed operators), except numbers and
//! strings, whose scanners follow upstream's algorithms because its error messages quote exactly
//! the text its scanner had consumed when it gave up (`bad number or duration syntax: "0de"`) or
//! name the first bad escape (`unknown escape sequence U+0071 'q'`). This lexer used to match each
//! token with a pest grammar; one `pest::Parser::parse` call per token (a fresh parser state, a
//! token queue, a line index of the rest of the input) cost more than the rest of parsing together,
//! and the string rules duplicated the escape checks the error messages need anyway.

use crate::model::write_quoted;
use crate::parser::ast::AggregateOp;

/// The kind of a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Eof,
    /// A lexical error; the message is in [`Lexed::error`].
    Error,
    Comma,
    LeftParen,
    RightParen,
    LeftBrace,
    RightBrace,
    LeftBracket,
    RightBracket,
    Colon,
    /// `=`
    Eql,
    Number,
    Duration,
    Str,
    Identifier,
    MetricIdentifier,
    // Operators.
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Pow,
    Eqlc,
    Neq,
    Lss,
    Lte,
    Gtr,
    Gte,
    TrimUpper,
    TrimLower,
    EqlRegex,
    NeqRegex,
    At,
    Land,
    Lor,
    Lunless,
    Atan2,
    /// An aggregation operator.
    Agg(AggregateOp),
    // Keywords.
    Bool,
    By,
    GroupLeft,
    GroupRight,
    Fill,
    FillLeft,
    FillRight,
    Ignoring,
    Offset,
    Smoothed,
    Anchored,
    On,
    Without,
    // Preprocessors.
    Start,
    End,
    Step,
    Range,
    MaxOf,
    MinOf,
}

impl Kind {
    fn is_operator(self) -> bool {
        use Kind::*;
        matches!(
            self,
            Add | Sub
                | Mul
                | Div
                | Mod
                | Pow
                | Eqlc
                | Neq
                | Lss
                | Lte
                | Gtr
                | Gte
                | TrimUpper
                | TrimLower
                | EqlRegex
                | NeqRegex
                | At
                | Land
                | Lor
                | Lunless
                | Atan2
        )
    }

    fn is_keyword(self) -> bool {
        use Kind::*;
        matches!(
            self,
            Bool | By
                | GroupLeft
                | GroupRight
                | Fill
                | FillLeft
                | FillRight
                | Ignoring
                | Offset
                | Smoothed
                | Anchored
                | On
                | Without
        )
    }
}

/// A token: its kind and the byte range of its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Token {
    pub kind: Kind,
    pub start: usize,
    pub end: usize,
}

impl Token {
    /// The token's text.
    pub fn text<'a>(&self, input: &'a str) -> &'a str {
        input.get(self.start..self.end).unwrap_or("")
    }

    /// How error messages name the token (upstream's `Item.desc`): `end of input`, `<op:*>`,
    /// `identifier "foo"`, `"("`, ...
    pub fn describe(&self, input: &str) -> String {
        let text = self.text(input);
        match self.kind {
            Kind::Eof => "end of input".to_string(),
            Kind::Error => text.to_string(),
            Kind::Identifier => format!("identifier {}", go_quote(text)),
            Kind::MetricIdentifier => format!("metric identifier {}", go_quote(text)),
            Kind::Str => format!("string {}", short_quote(text)),
            Kind::Number => format!("number {}", short_quote(text)),
            Kind::Duration => format!("duration {}", short_quote(text)),
            k if k.is_keyword() => format!("<{text}>"),
            k if k.is_operator() => format!("<op:{text}>"),
            Kind::Agg(_) => format!("<aggr:{text}>"),
            // Punctuation and the preprocessor keywords (`step`, `start`, ...): quoted text.
            _ => short_quote(text),
        }
    }
}

/// The result of lexing: every token up to and including the final [`Kind::Eof`] or
/// [`Kind::Error`].
#[derive(Debug)]
pub(crate) struct Lexed {
    pub tokens: Vec<Token>,
    /// The message of the lexical error the token stream ends with, if any.
    pub error: Option<String>,
}

/// Splits `input` into tokens, in `tokens` (cleared first, so that a buffer can be reused).
/// Comments are dropped.
pub(crate) fn tokenize_into(input: &str, mut tokens: Vec<Token>) -> Lexed {
    let mut lexer = Lexer {
        input,
        pos: 0,
        paren_depth: 0,
        brace_open: false,
        bracket_open: false,
        got_colon: false,
        got_duration: false,
        in_duration_expr: false,
    };
    tokens.clear();
    // Tokens are at least a byte long; queries rarely have more than one per two bytes.
    tokens.reserve(input.len() / 2 + 2);
    loop {
        match lexer.next_token() {
            Ok(Some(tok)) => {
                let last = tok.kind == Kind::Eof;
                tokens.push(tok);
                if last {
                    return Lexed { tokens, error: None };
                }
            }
            Ok(None) => {}
            Err((message, start)) => {
                tokens.push(Token { kind: Kind::Error, start, end: input.len() });
                return Lexed { tokens, error: Some(message) };
            }
        }
    }
}

type Step = Result<Option<Token>, (String, usize)>;

struct Lexer<'a> {
    input: &'a str,
    pos: usize,
    paren_depth: i64,
    brace_open: bool,
    bracket_open: bool,
    got_colon: bool,
    got_duration: bool,
    /// Right after a `[`, until the first number: upstream's `lexDurationExpr` state.
    in_duration_expr: bool,
}

fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

fn is_alpha(c: char) -> bool {
    c == '_' || c.is_ascii_alphabetic()
}

fn is_alnum(c: char) -> bool {
    is_alpha(c) || c.is_ascii_digit()
}

/// Whether `b` is in the short set `valid` (inlined: `contains` would call `memchr` for each byte).
fn one_of(valid: &[u8], b: u8) -> bool {
    for &v in valid {
        if v == b {
            return true;
        }
    }
    false
}

fn is_space_byte(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn is_alpha_byte(b: u8) -> bool {
    b == b'_' || b.is_ascii_alphabetic()
}

fn is_alnum_byte(b: u8) -> bool {
    is_alpha_byte(b) || b.is_ascii_digit()
}

/// The operator or punctuation token (outside braces) at the start of `s`, and its length.
fn operator(s: &[u8]) -> Option<(Kind, usize)> {
    let second = s.get(1).copied();
    Some(match (*s.first()?, second) {
        (b'=', Some(b'=')) => (Kind::Eqlc, 2),
        (b'!', Some(b'=')) => (Kind::Neq, 2),
        (b'<', Some(b'=')) => (Kind::Lte, 2),
        (b'<', Some(b'/')) => (Kind::TrimUpper, 2),
        (b'>', Some(b'=')) => (Kind::Gte, 2),
        (b'>', Some(b'/')) => (Kind::TrimLower, 2),
        (b'<', _) => (Kind::Lss, 1),
        (b'>', _) => (Kind::Gtr, 1),
        (b'=', _) => (Kind::Eql, 1),
        (b'+', _) => (Kind::Add, 1),
        (b'-', _) => (Kind::Sub, 1),
        (b'*', _) => (Kind::Mul, 1),
        (b'/', _) => (Kind::Div, 1),
        (b'%', _) => (Kind::Mod, 1),
        (b'^', _) => (Kind::Pow, 1),
        (b'@', _) => (Kind::At, 1),
        (b',', _) => (Kind::Comma, 1),
        (b'(', _) => (Kind::LeftParen, 1),
        (b')', _) => (Kind::RightParen, 1),
        (b'{', _) => (Kind::LeftBrace, 1),
        (b'[', _) => (Kind::LeftBracket, 1),
        (b']', _) => (Kind::RightBracket, 1),
        _ => return None,
    })
}

/// The matching operator or punctuation token (inside braces) at the start of `s`, and its length.
fn brace_operator(s: &[u8]) -> Option<(Kind, usize)> {
    let second = s.get(1).copied();
    Some(match (*s.first()?, second) {
        (b'=', Some(b'~')) => (Kind::EqlRegex, 2),
        (b'!', Some(b'~')) => (Kind::NeqRegex, 2),
        (b'!', Some(b'=')) => (Kind::Neq, 2),
        (b'=', _) => (Kind::Eql, 1),
        (b',', _) => (Kind::Comma, 1),
        (b'}', _) => (Kind::RightBrace, 1),
        _ => return None,
    })
}

impl<'a> Lexer<'a> {
    fn rest(&self) -> &'a str {
        self.input.get(self.pos..).unwrap_or("")
    }

    fn peek(&self) -> Option<char> {
        match self.peek_byte()? {
            b if b.is_ascii() => Some(char::from(b)),
            _ => self.rest().chars().next(),
        }
    }

    fn peek2(&self) -> Option<char> {
        match self.peek_byte()? {
            b if b.is_ascii() => match *self.input.as_bytes().get(self.pos + 1)? {
                c if c.is_ascii() => Some(char::from(c)),
                _ => self.input.get(self.pos + 1..)?.chars().next(),
            },
            _ => {
                let mut it = self.rest().chars();
                it.next();
                it.next()
            }
        }
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    /// The bytes from the current position on.
    fn rest_bytes(&self) -> &'a [u8] {
        self.input.as_bytes().get(self.pos..).unwrap_or(&[])
    }

    fn peek_byte(&self) -> Option<u8> {
        self.input.as_bytes().get(self.pos).copied()
    }

    /// Consumes the next byte if it is one of `valid` (ASCII bytes).
    fn accept(&mut self, valid: &[u8]) -> bool {
        match self.peek_byte() {
            Some(b) if one_of(valid, b) => {
                self.pos += 1;
                true
            }
            _ => false,
        }
    }

    fn is(&self, valid: &[u8]) -> bool {
        matches!(self.peek_byte(), Some(b) if one_of(valid, b))
    }

    /// The length of the run of bytes satisfying `f` from the current position.
    fn run(&self, f: impl Fn(u8) -> bool) -> usize {
        self.rest_bytes().iter().take_while(|&&b| f(b)).count()
    }

    fn token(&mut self, kind: Kind, start: usize) -> Step {
        Ok(Some(Token { kind, start, end: self.pos }))
    }

    /// Skips a run of white space.
    fn skip_space(&mut self) -> Step {
        self.pos += self.run(is_space_byte).max(1);
        Ok(None)
    }

    /// Skips a comment: from its `#` up to (not including) the end of the line.
    fn skip_comment(&mut self) -> Step {
        self.pos += 1;
        self.pos += self.run(|b| b != b'\n' && b != b'\r');
        Ok(None)
    }

    fn next_token(&mut self) -> Step {
        if self.in_duration_expr {
            self.lex_duration_expr()
        } else if self.brace_open {
            self.lex_inside_braces()
        } else {
            self.lex_statements()
        }
    }

    fn lex_statements(&mut self) -> Step {
        let start = self.pos;
        let Some(c) = self.peek() else {
            if self.paren_depth != 0 {
                return Err(("unclosed left parenthesis".into(), start));
            }
            if self.bracket_open {
                return Err(("unclosed left bracket".into(), start));
            }
            return self.token(Kind::Eof, start);
        };
        if c == '#' {
            return self.skip_comment();
        }
        if is_space(c) {
            return self.skip_space();
        }
        if c.is_ascii_digit() || (c == '.' && self.peek2().is_some_and(|d| d.is_ascii_digit())) {
            return self.lex_number_or_duration();
        }
        match c {
            '"' | '\'' | '`' => return self.lex_string(c),
            '=' if self.peek2() == Some('~') => {
                return Err(("unexpected character after '=': '~'".into(), start));
            }
            '!' if self.peek2() != Some('=') => {
                let t = self.peek2().map_or_else(|| "'\u{FFFD}'".to_string(), go_quote_rune);
                return Err((format!("unexpected character after '!': {t}"), start));
            }
            ':' if self.bracket_open => {
                self.bump();
                if self.got_colon {
                    return Err(("unexpected colon ':'".into(), start));
                }
                self.got_colon = true;
                return self.token(Kind::Colon, start);
            }
            c if is_alpha(c) || c == ':' => {
                if !self.bracket_open {
                    return self.lex_keyword_or_identifier();
                }
                if is_duration_keyword_start(c)
                    && let Some(tok) = self.scan_duration_keyword()
                {
                    return Ok(Some(tok));
                }
                return Err((format!("unexpected character: {}, expected ':'", go_quote_rune(c)), start));
            }
            _ => {}
        }
        let Some((kind, n)) = operator(self.rest_bytes()) else {
            return Err((format!("unexpected character: {}", go_quote_rune(c)), start));
        };
        self.pos += n;
        match kind {
            Kind::LeftParen => self.paren_depth += 1,
            Kind::RightParen => {
                self.paren_depth -= 1;
                if self.paren_depth < 0 {
                    return Err(("unexpected right parenthesis ')'".into(), self.pos));
                }
            }
            Kind::LeftBrace => self.brace_open = true,
            Kind::LeftBracket => {
                if self.bracket_open {
                    return Err(("unexpected left bracket '['".into(), start));
                }
                self.got_colon = false;
                self.bracket_open = true;
                self.in_duration_expr = true;
            }
            Kind::RightBracket => {
                if !self.bracket_open {
                    return Err(("unexpected right bracket ']'".into(), start));
                }
                self.bracket_open = false;
            }
            _ => {}
        }
        self.token(kind, start)
    }

    fn lex_inside_braces(&mut self) -> Step {
        let start = self.pos;
        let Some(c) = self.peek() else {
            return Err(("unexpected end of input inside braces".into(), start));
        };
        if c == '#' {
            return self.skip_comment();
        }
        if is_space(c) {
            return self.skip_space();
        }
        if is_alpha(c) {
            self.pos += self.run(is_alnum_byte);
            return self.token(Kind::Identifier, start);
        }
        match c {
            '"' | '\'' | '`' => return self.lex_string(c),
            '!' if !matches!(self.peek2(), Some('~' | '=')) => {
                let t = self.peek2().map_or_else(|| "'\u{FFFD}'".to_string(), go_quote_rune);
                return Err((format!("unexpected character after '!' inside braces: {t}"), start));
            }
            '{' => return Err(("unexpected left brace '{'".into(), start)),
            _ => {}
        }
        let Some((kind, n)) = brace_operator(self.rest_bytes()) else {
            return Err((format!("unexpected character inside braces: {}", go_quote_rune(c)), start));
        };
        self.pos += n;
        if kind == Kind::RightBrace {
            self.brace_open = false;
        }
        self.token(kind, start)
    }

    fn lex_duration_expr(&mut self) -> Step {
        let start = self.pos;
        let Some(c) = self.peek() else {
            return Err(("unexpected end of input in duration expression".into(), start));
        };
        if is_space(c) {
            return self.skip_space();
        }
        if is_duration_keyword_start(c) {
            return match self.scan_duration_keyword() {
                Some(tok) => Ok(Some(tok)),
                None => {
                    Err((format!("unexpected character in duration expression: {}", go_quote_rune(c)), start))
                }
            };
        }
        if c.is_ascii_digit() || (c == '.' && self.peek2().is_some_and(|d| d.is_ascii_digit())) {
            self.got_duration = true;
            self.in_duration_expr = false;
            return self.lex_number_or_duration();
        }
        self.bump();
        let kind = match c {
            ']' => {
                self.bracket_open = false;
                self.got_colon = false;
                self.in_duration_expr = false;
                Kind::RightBracket
            }
            ':' => {
                if !self.got_duration {
                    return Err(("unexpected colon before duration in duration expression".into(), self.pos));
                }
                if self.got_colon {
                    return Err(("unexpected repeated colon in duration expression".into(), self.pos));
                }
                self.got_colon = true;
                Kind::Colon
            }
            '(' => {
                self.paren_depth += 1;
                Kind::LeftParen
            }
            ')' => {
                self.paren_depth -= 1;
                if self.paren_depth < 0 {
                    return Err(("unexpected right parenthesis ')'".into(), self.pos));
                }
                Kind::RightParen
            }
            '+' => Kind::Add,
            '-' => Kind::Sub,
            '*' => Kind::Mul,
            '/' => Kind::Div,
            '%' => Kind::Mod,
            '^' => Kind::Pow,
            ',' => Kind::Comma,
            _ => {
                return Err((
                    format!("unexpected character in duration expression: {}", go_quote_rune(c)),
                    start,
                ));
            }
        };
        self.token(kind, start)
    }

    /// Scans a run of letters; a token when it spells a duration keyword (case-insensitively).
    fn scan_duration_keyword(&mut self) -> Option<Token> {
        let start = self.pos;
        let n = self.run(is_alpha_byte);
        let word = self.rest_bytes().get(..n)?;
        let kind = if word.eq_ignore_ascii_case(b"step") {
            Kind::Step
        } else if word.eq_ignore_ascii_case(b"range") {
            Kind::Range
        } else if word.eq_ignore_ascii_case(b"max_of") {
            Kind::MaxOf
        } else if word.eq_ignore_ascii_case(b"min_of") {
            Kind::MinOf
        } else {
            return None;
        };
        self.pos += n;
        Some(Token { kind, start, end: self.pos })
    }

    fn lex_keyword_or_identifier(&mut self) -> Step {
        let start = self.pos;
        self.pos += self.run(|b| is_alnum_byte(b) || b == b':').max(1);
        let word = &self.input[start..self.pos];
        let kind = match keyword(word) {
            Some(Kind::Fill | Kind::FillLeft | Kind::FillRight) if !self.followed_by_left_paren() => {
                Kind::Identifier
            }
            Some(k) => k,
            None if word.bytes().any(|b| b == b':') => Kind::MetricIdentifier,
            None => Kind::Identifier,
        };
        self.token(kind, start)
    }

    fn followed_by_left_paren(&self) -> bool {
        self.rest().trim_start_matches(is_space).starts_with('(')
    }

    fn lex_number_or_duration(&mut self) -> Step {
        let start = self.pos;
        // The common case, a plain run of decimal digits ending the number (not followed by a
        // letter, digit, `_` or `.`), is what the full scanner below would accept too.
        let digits = self.run(|b| b.is_ascii_digit());
        if digits > 0
            && !self.rest_bytes().get(digits).is_some_and(|&b| is_alnum_byte(b) || b == b'.' || b == b'_')
        {
            self.pos += digits;
            return self.token(Kind::Number, start);
        }
        if self.scan_number() {
            return self.token(Kind::Number, start);
        }
        if self.accept_remaining_duration() {
            return self.token(Kind::Duration, start);
        }
        Err((format!("bad number or duration syntax: {}", go_quote(&self.input[start..self.pos])), start))
    }

    /// Upstream's number scanner: decimal, hexadecimal (`0x`), with `.`, exponent and `_`
    /// separators; consumes the same text upstream's does, also when it fails.
    fn scan_number(&mut self) -> bool {
        const DEC: &[u8] = b"0123456789";
        const HEX: &[u8] = b"0123456789abcdefABCDEF";
        let initial = self.pos;
        let mut digits = DEC;
        if self.accept(b"0") && self.accept(b"xX") {
            self.accept(b"_");
            digits = HEX;
        }
        self.accept(b".");
        self.accept(digits);
        let (mut dot, mut exp) = (false, false);
        while self.is(digits) || self.is(b"._eE") {
            if self.is(b".") && dot {
                self.accept(b".");
                return false;
            }
            if self.is(b"eE") && exp {
                self.accept(b"eE");
                return false;
            }
            if self.accept(b".") {
                dot = true;
                if self.accept(b"_.") || digits.len() > 10 {
                    return false;
                }
                continue;
            }
            if self.accept(b"eE") {
                exp = true;
                self.accept(b"+-");
                if self.accept(b"._eE") || self.peek().is_none() {
                    return false;
                }
                continue;
            }
            if self.accept(b"_") {
                if self.accept(b"._eE") || self.peek().is_none() {
                    return false;
                }
                continue;
            }
            while self.accept(digits) {}
        }
        if self.pos == initial {
            return false;
        }
        !self.peek().is_some_and(is_alnum)
    }

    /// The unit part of a duration after a number: `m`, `ms`, `h30m`, ...
    fn accept_remaining_duration(&mut self) -> bool {
        if !self.accept(b"smhdwy") {
            return false;
        }
        self.accept(b"s");
        while self.accept(b"0123456789") {
            while self.accept(b"0123456789") {}
            if !self.accept(b"smhdw") {
                return false;
            }
            self.accept(b"s");
        }
        if self.peek().is_some_and(is_alnum) {
            self.bump();
            return false;
        }
        true
    }

    fn lex_string(&mut self, quote: char) -> Step {
        let start = self.pos;
        match scan_string(self.rest(), quote) {
            Ok(n) => {
                self.pos += n;
                self.token(Kind::Str, start)
            }
            Err(message) => Err((message, start)),
        }
    }
}

fn is_duration_keyword_start(c: char) -> bool {
    matches!(c.to_ascii_lowercase(), 's' | 'r' | 'm')
}

/// The token kind of a keyword (matched case-insensitively).
fn keyword(word: &str) -> Option<Kind> {
    use Kind::*;
    const LONGEST: usize = 12;
    let mut buf = [0u8; LONGEST];
    let lower = buf.get_mut(..word.len())?;
    lower.copy_from_slice(word.as_bytes());
    lower.make_ascii_lowercase();
    Some(match &*lower {
        b"and" => Land,
        b"or" => Lor,
        b"unless" => Lunless,
        b"atan2" => Atan2,
        b"sum" => Agg(AggregateOp::Sum),
        b"avg" => Agg(AggregateOp::Avg),
        b"count" => Agg(AggregateOp::Count),
        b"min" => Agg(AggregateOp::Min),
        b"max" => Agg(AggregateOp::Max),
        b"group" => Agg(AggregateOp::Group),
        b"stddev" => Agg(AggregateOp::Stddev),
        b"stdvar" => Agg(AggregateOp::Stdvar),
        b"topk" => Agg(AggregateOp::Topk),
        b"bottomk" => Agg(AggregateOp::Bottomk),
        b"count_values" => Agg(AggregateOp::CountValues),
        b"quantile" => Agg(AggregateOp::Quantile),
        b"limitk" => Agg(AggregateOp::Limitk),
        b"limit_ratio" => Agg(AggregateOp::LimitRatio),
        b"offset" => Offset,
        b"smoothed" => Smoothed,
        b"anchored" => Anchored,
        b"by" => By,
        b"without" => Without,
        b"on" => On,
        b"ignoring" => Ignoring,
        b"group_left" => GroupLeft,
        b"group_right" => GroupRight,
        b"fill" => Fill,
        b"fill_left" => FillLeft,
        b"fill_right" => FillRight,
        b"bool" => Bool,
        b"start" => Start,
        b"end" => End,
        b"step" => Step,
        b"range" => Range,
        b"max_of" => MaxOf,
        b"min_of" => MinOf,
        b"inf" | b"nan" => Number,
        _ => return None,
    })
}

/// The length of the string literal at the start of `s` (opened by `quote`), or why it is invalid
/// in upstream's words. Escapes are those of Go's string literals; a quote character may be escaped
/// only inside a string delimited by it; raw strings (backquotes) have no escapes and may span lines.
fn scan_string(s: &str, quote: char) -> Result<usize, String> {
    let mut chars = s.chars();
    chars.next();
    if quote == '`' {
        for c in chars.by_ref() {
            match c {
                '\u{FFFD}' => return Err("invalid UTF-8 rune".into()),
                '`' => return Ok(s.len() - chars.as_str().len()),
                _ => {}
            }
        }
        return Err("unterminated raw string".into());
    }
    loop {
        match chars.next() {
            None | Some('\n') => return Err("unterminated quoted string".into()),
            Some('\u{FFFD}') => return Err("invalid UTF-8 rune".into()),
            Some(c) if c == quote => return Ok(s.len() - chars.as_str().len()),
            Some('\\') => check_escape(&mut chars, quote)?,
            Some(_) => {}
        }
    }
}

/// Checks one escape sequence after its backslash, as upstream's `lexEscape` does.
fn check_escape(chars: &mut std::str::Chars<'_>, quote: char) -> Result<(), String> {
    let first = chars.next();
    let (mut n, base, max) = match first {
        Some('a' | 'b' | 'f' | 'n' | 'r' | 't' | 'v' | '\\') => return Ok(()),
        Some(c) if c == quote => return Ok(()),
        Some('0'..='7') => (3, 8, 255),
        Some('x') => (2, 16, 255),
        Some('u') => (4, 16, 0x10FFFF),
        Some('U') => (8, 16, 0x10FFFF),
        None => return Err("escape sequence not terminated".into()),
        Some(c) => return Err(format!("unknown escape sequence {}", go_unicode(c))),
    };
    let mut ch = if matches!(first, Some('0'..='7')) { first } else { chars.next() };
    let mut x: u32 = 0;
    while n > 0 {
        let d = ch.and_then(|c| c.to_digit(16)).unwrap_or(16);
        if d >= base {
            return Err(match ch {
                None => "escape sequence not terminated".into(),
                Some(c) => format!("illegal character {} in escape sequence", go_unicode(c)),
            });
        }
        x = x * base + d;
        n -= 1;
        if n > 0 {
            ch = chars.next();
        }
    }
    if x > max || (0xD800..0xE000).contains(&x) {
        return Err("escape sequence is an invalid Unicode code point".into());
    }
    Ok(())
}

/// The value of a string token (quotes removed, escapes resolved). Byte escapes (`\xFF`, `\377`)
/// that do not form valid UTF-8 become U+FFFD.
pub(crate) fn unquote(text: &str) -> Result<String, ()> {
    let (quote, body) = split_quotes(text)?;
    if quote == '`' || !body.contains('\\') {
        return Ok(body.to_string());
    }
    let out = unescape(body, |e| e == '\'' || e == '"')?;
    Ok(match String::from_utf8(out) {
        Ok(s) => s,
        Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
    })
}

/// The bytes a string token stands for (quotes removed, escapes resolved); byte escapes (`\xc5`)
/// may make them invalid UTF-8, as in Go.
pub(crate) fn unquote_bytes(text: &str) -> Result<Vec<u8>, ()> {
    let (quote, body) = split_quotes(text)?;
    if quote == '`' || !body.contains('\\') {
        return Ok(body.as_bytes().to_vec());
    }
    unescape(body, |e| e == '\'' || e == '"')
}

/// A string token's opening quote and its body between the quotes.
fn split_quotes(text: &str) -> Result<(char, &str), ()> {
    let mut chars = text.chars();
    let quote = chars.next().ok_or(())?;
    let body = chars.as_str().strip_suffix(quote).ok_or(())?;
    Ok((quote, body))
}

/// The bytes a quoted string's `body` (quotes removed) stands for, Go's escapes resolved: `\x` and
/// octal escapes give single bytes, so the result need not be UTF-8. `quote_escape` tells which
/// quote characters may follow a backslash.
pub(crate) fn unescape(body: &str, quote_escape: impl Fn(char) -> bool) -> Result<Vec<u8>, ()> {
    let mut out: Vec<u8> = Vec::with_capacity(body.len());
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            let mut buf = [0; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let e = chars.next().ok_or(())?;
        let simple = match e {
            'a' => Some('\u{7}'),
            'b' => Some('\u{8}'),
            'f' => Some('\u{c}'),
            'n' => Some('\n'),
            'r' => Some('\r'),
            't' => Some('\t'),
            'v' => Some('\u{b}'),
            '\\' => Some('\\'),
            c if quote_escape(c) => Some(c),
            _ => None,
        };
        if let Some(s) = simple {
            let mut buf = [0; 4];
            out.extend_from_slice(s.encode_utf8(&mut buf).as_bytes());
            continue;
        }
        let (count, base, byte) = match e {
            '0'..='7' => (3, 8, true),
            'x' => (2, 16, true),
            'u' => (4, 16, false),
            'U' => (8, 16, false),
            _ => return Err(()),
        };
        let (mut v, mut remaining) =
            if base == 8 { (e.to_digit(8).ok_or(())?, count - 1) } else { (0, count) };
        while remaining > 0 {
            v = v * base + chars.next().and_then(|d| d.to_digit(base)).ok_or(())?;
            remaining -= 1;
        }
        if byte {
            out.push(u8::try_from(v).map_err(|_| ())?);
        } else {
            let c = char::from_u32(v).ok_or(())?;
            let mut buf = [0; 4];
            out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        }
    }
    Ok(out)
}

/// `s` quoted as Go's `%q` does.
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    // Writing to a String cannot fail.
    let _ = write_quoted(&mut out, s);
    out
}

/// Go's `%.10q...` for long texts, `%q` otherwise (upstream's `Item.String`).
fn short_quote(s: &str) -> String {
    if s.len() > 10 {
        let head: String = s.chars().take(10).collect();
        format!("{}...", go_quote(&head))
    } else {
        go_quote(s)
    }
}

/// A rune quoted as Go's `%q` does: `'x'`, `'\n'`, `'\x00'`.
pub(crate) fn go_quote_rune(c: char) -> String {
    match c {
        '\'' => "'\\''".to_string(),
        '"' => "'\"'".to_string(),
        _ => {
            let q = go_quote(c.encode_utf8(&mut [0; 4]));
            format!("'{}'", &q[1..q.len() - 1])
        }
    }
}

/// Go's `%#U`: `U+0063 'c'`, or `U+000A` for a character that is not printable.
fn go_unicode(c: char) -> String {
    let q = go_quote(c.encode_utf8(&mut [0; 4]));
    if q.contains('\\') { format!("U+{:04X}", c as u32) } else { format!("U+{:04X} '{c}'", c as u32) }
}
