//! Fully anchored regular expressions as PromQL applies them to label values, with fast paths for
//! the shapes queries actually use and a process-wide cache of what was built.
//!
//! Prometheus compiles every regex matcher to an anchored Go regexp and, at the same time, looks
//! for shapes it can answer without running it (its `FastRegexMatcher`). This module does the
//! same, decided once when a pattern is first built: patterns made of literal text, character
//! classes, `.` and `.*`/`.+` (`foo`, `foo|bar`, `.*-prod`, `api-.+`, `.*[0-4]$`, `(?i)get`),
//! including alternations of such, become [`Glob`]s, matched by a few prefix, suffix and substring
//! searches; a pure alternation of literals also exposes its values so that an index can look
//! them up directly. Everything else runs the `regex` crate, compiled when first needed.
//!
//! Building a `regex::Regex` costs tens of microseconds and a few hundred KiB for the short
//! patterns of a query, more than evaluating a small query. Rule groups and dashboards re-run the
//! same queries every interval, so built patterns are kept in a process-wide cache keyed by the
//! pattern text ([`cached`]). It holds at most [`CACHE_CAPACITY`] patterns, each at most
//! [`MAX_CACHED_LEN`] bytes with a small program (large ones are built for their matcher alone),
//! and is emptied when full (patterns still in use stay alive in their matchers), so its memory is
//! bounded whatever the queries.

use std::sync::{Arc, Mutex, OnceLock};

use hashbrown::HashMap;
use regex::Regex;
use regex_syntax::hir::{Class, Hir, HirKind, Look};

use super::matcher::defer_compiling;

/// The most patterns the process-wide cache keeps; on overflow it is emptied.
pub(crate) const CACHE_CAPACITY: usize = 1024;

/// The longest pattern the cache keeps (longer ones, and those whose program would be large, are
/// built for their matcher alone).
const MAX_CACHED_LEN: usize = 1024;

/// The most alternatives a pattern may expand to and still be matched as globs.
const MAX_ALTERNATIVES: usize = 64;

/// An anchored regular expression over label values, as a regex matcher or `label_replace` uses
/// it: `value` must match whole (`^(?s:value)$`).
#[derive(Debug)]
pub struct FastRegex {
    /// The pattern as written (unanchored).
    value: String,
    /// How [`FastRegex::is_match`] answers.
    kind: Kind,
    /// The compiled anchored regex, built on first need (`None` inside only if it failed to
    /// compile, which a checked pattern rules out).
    regex: OnceLock<Option<Regex>>,
}

#[derive(Debug)]
enum Kind {
    /// The value matches when one of the globs matches it.
    Globs(Vec<Glob>),
    /// The value matches when it equals one of these (sorted, deduplicated).
    Literals(Vec<Box<str>>),
    /// Only the regex engine can tell.
    Regex,
}

/// A pattern without alternation made of literal text, single characters from a class, and
/// `.*` gaps: `prefix .* middle₁ .* … .* suffix`, or a single exact segment without any gap.
#[derive(Debug, Clone)]
struct Glob {
    /// Whether the pattern has at least one `.*` gap; without one, `segments` has exactly one
    /// element that must match the whole value.
    gapped: bool,
    /// The segments between the gaps (with gaps: the first is a prefix, the last a suffix, and
    /// either may be empty).
    segments: Vec<Segment>,
}

/// A run of fixed-width pieces (no gap inside).
#[derive(Debug, Clone, Default)]
struct Segment {
    pieces: Vec<Piece>,
    /// The number of characters a match of the segment spans.
    chars: usize,
}

#[derive(Debug, Clone)]
enum Piece {
    /// Exactly this text.
    Text(Box<str>),
    /// Any one character.
    AnyChar,
    /// One character within these inclusive ranges (sorted, disjoint).
    Class(Box<[(char, char)]>),
}

/// One element of a pattern expanded into a sequence.
#[derive(Debug, Clone)]
enum Token {
    Text(String),
    AnyChar,
    Class(Box<[(char, char)]>),
    Gap,
    Start,
    End,
}

impl FastRegex {
    /// Builds the matcher of `value` from its parsed anchored form `hir` (`^(?s:value)$`).
    fn from_hir(value: &str, hir: &Hir) -> FastRegex {
        let kind = match expand(hir).and_then(|alts| globs(&alts)) {
            Some(globs) => match literals(&globs) {
                Some(lits) => Kind::Literals(lits),
                None => Kind::Globs(globs),
            },
            None => Kind::Regex,
        };
        FastRegex { value: value.to_owned(), kind, regex: OnceLock::new() }
    }

    /// Whether `s` matches the pattern whole.
    pub fn is_match(&self, s: &str) -> bool {
        match &self.kind {
            Kind::Literals(lits) => lits.binary_search_by(|l| (**l).cmp(s)).is_ok(),
            Kind::Globs(globs) => globs.iter().any(|g| g.is_match(s)),
            Kind::Regex => self.regex().is_some_and(|re| re.is_match(s)),
        }
    }

    /// The values the pattern matches, when it is an alternation of literals (`a|b|c`).
    pub fn literal_values(&self) -> Option<impl Iterator<Item = &str>> {
        match &self.kind {
            Kind::Literals(lits) => Some(lits.iter().map(|l| &**l)),
            _ => None,
        }
    }

    /// The compiled anchored regex (`^(?s:value)$`), for capture groups; compiled on first call.
    pub fn regex(&self) -> Option<&Regex> {
        self.regex.get_or_init(|| Regex::new(&anchored(&self.value)).ok()).as_ref()
    }
}

/// The pattern Prometheus compiles for a regex: anchored at both ends, `.` matching newlines.
pub(crate) fn anchored(value: &str) -> String {
    format!("^(?s:{value})$")
}

/// The process-wide cache: pattern → built matcher.
fn cache() -> &'static Mutex<HashMap<Box<str>, Arc<FastRegex>>> {
    static CACHE: OnceLock<Mutex<HashMap<Box<str>, Arc<FastRegex>>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The cached matcher of `value`, if it was built before.
pub(crate) fn lookup(value: &str) -> Option<Arc<FastRegex>> {
    cache().lock().ok()?.get(value).cloned()
}

/// Builds (or takes from the cache) the matcher of `value`, given its anchored form already parsed
/// (`hir`) or `None` to parse it here; the error is the regex parser's.
pub(crate) fn cached(value: &str, hir: Option<&Hir>) -> Result<Arc<FastRegex>, String> {
    if let Some(hit) = lookup(value) {
        return Ok(hit);
    }
    let parsed;
    let hir = match hir {
        Some(hir) => hir,
        None => {
            parsed = regex_syntax::Parser::new().parse(&anchored(value)).map_err(|e| e.to_string())?;
            &parsed
        }
    };
    let built = Arc::new(FastRegex::from_hir(value, hir));
    // Only small patterns are kept: a compiled regex of a large one can take megabytes.
    if value.len() > MAX_CACHED_LEN || !defer_compiling(hir) {
        return Ok(built);
    }
    if let Ok(mut map) = cache().lock() {
        if map.len() >= CACHE_CAPACITY {
            map.clear();
        }
        map.insert(value.into(), built.clone());
    }
    Ok(built)
}

/// The matcher of `value` through the cache with its anchored regex compiled (for `label_replace`,
/// which needs capture groups): the error is the regex crate's. One shared `Regex` also keeps its
/// search caches warm across queries (a cloned `Regex` starts with empty ones).
pub(crate) fn cached_regex(value: &str) -> Result<Arc<FastRegex>, regex::Error> {
    if let Some(hit) = lookup(value).filter(|f| f.regex().is_some()) {
        return Ok(hit);
    }
    let re = Regex::new(&anchored(value))?;
    match cached(value, None) {
        Ok(built) => {
            let _ = built.regex.set(Some(re));
            Ok(built)
        }
        // Not reached: what compiles also parses.
        Err(_) => Ok(Arc::new(FastRegex {
            value: value.to_owned(),
            kind: Kind::Regex,
            regex: OnceLock::from(Some(re)),
        })),
    }
}

/// Stores an already compiled regex for a built matcher (for large patterns compiled at once).
pub(crate) fn set_compiled(f: &FastRegex, re: Regex) {
    let _ = f.regex.set(Some(re));
}

/// The alternatives of `hir` as token sequences, or `None` if it uses anything globs cannot
/// express or expands to too many alternatives.
fn expand(hir: &Hir) -> Option<Vec<Vec<Token>>> {
    Some(match hir.kind() {
        HirKind::Empty => vec![Vec::new()],
        HirKind::Literal(l) => vec![vec![Token::Text(String::from_utf8(l.0.to_vec()).ok()?)]],
        HirKind::Class(Class::Unicode(c)) => {
            let ranges: Box<[(char, char)]> = c.ranges().iter().map(|r| (r.start(), r.end())).collect();
            if is_any(&ranges) { vec![vec![Token::AnyChar]] } else { vec![vec![Token::Class(ranges)]] }
        }
        HirKind::Class(Class::Bytes(_)) => return None,
        HirKind::Look(Look::Start) => vec![vec![Token::Start]],
        HirKind::Look(Look::End) => vec![vec![Token::End]],
        HirKind::Look(_) => return None,
        HirKind::Capture(c) => expand(&c.sub)?,
        HirKind::Repetition(r) => {
            let any = matches!(r.sub.kind(), HirKind::Class(Class::Unicode(c))
                if c.ranges().len() == 1 && c.ranges()[0].start() == '\0' && c.ranges()[0].end() == char::MAX);
            match (r.min, r.max) {
                (min, None) if any && min <= 4 => {
                    let mut seq = vec![Token::AnyChar; min as usize];
                    seq.push(Token::Gap);
                    vec![seq]
                }
                (0, Some(1)) => {
                    let mut alts = vec![Vec::new()];
                    alts.extend(expand(&r.sub)?);
                    alts
                }
                (1, Some(1)) => expand(&r.sub)?,
                _ => return None,
            }
        }
        HirKind::Concat(hs) => {
            let mut acc: Vec<Vec<Token>> = vec![Vec::new()];
            for h in hs {
                let next = expand(h)?;
                if acc.len().saturating_mul(next.len()) > MAX_ALTERNATIVES {
                    return None;
                }
                acc = acc
                    .iter()
                    .flat_map(|a| {
                        next.iter().map(move |b| {
                            let mut seq = a.clone();
                            seq.extend(b.iter().cloned());
                            seq
                        })
                    })
                    .collect();
            }
            acc
        }
        HirKind::Alternation(hs) => {
            let mut acc = Vec::new();
            for h in hs {
                acc.extend(expand(h)?);
                if acc.len() > MAX_ALTERNATIVES {
                    return None;
                }
            }
            acc
        }
    })
}

fn is_any(ranges: &[(char, char)]) -> bool {
    ranges == [('\0', char::MAX)]
}

/// The globs of the expanded alternatives, or `None` when one cannot be a glob.
fn globs(alts: &[Vec<Token>]) -> Option<Vec<Glob>> {
    alts.iter().map(|seq| glob(seq)).collect()
}

/// The glob of one token sequence, or `None` when an anchor sits where only the regex engine
/// decides it well (`^` after text or a gap, `$` before text or a gap).
fn glob(seq: &[Token]) -> Option<Glob> {
    let first = seq.iter().position(|t| !matches!(t, Token::Start));
    let last = seq.iter().rposition(|t| !matches!(t, Token::End));
    let body = match (first, last) {
        (Some(f), Some(l)) if f <= l => &seq[f..=l],
        _ => &[][..],
    };
    let mut segments = vec![Segment::default()];
    let mut gapped = false;
    let mut consumed_any = false;
    for (i, t) in body.iter().enumerate() {
        let seg = segments.last_mut()?;
        match t {
            Token::Text(s) => {
                if s.is_empty() {
                    continue;
                }
                seg.chars += s.chars().count();
                match seg.pieces.last_mut() {
                    Some(Piece::Text(prev)) => *prev = format!("{prev}{s}").into(),
                    _ => seg.pieces.push(Piece::Text(s.as_str().into())),
                }
                consumed_any = true;
            }
            Token::AnyChar => {
                seg.chars += 1;
                seg.pieces.push(Piece::AnyChar);
                consumed_any = true;
            }
            Token::Class(c) => {
                seg.chars += 1;
                seg.pieces.push(Piece::Class(c.clone()));
                consumed_any = true;
            }
            Token::Gap => {
                gapped = true;
                if !seg.pieces.is_empty() || segments.len() == 1 {
                    segments.push(Segment::default());
                }
            }
            // `^` is satisfiable after pieces only if they consumed nothing, `$` before them only
            // if what follows consumes nothing: leave those to the regex engine, unless no text
            // can follow or precede at all.
            Token::Start => {
                if consumed_any || body[..i].iter().any(|t| matches!(t, Token::Gap)) {
                    return None;
                }
            }
            Token::End => {
                if body[i..].iter().any(|t| !matches!(t, Token::End)) {
                    return None;
                }
            }
        }
    }
    if gapped && segments.len() == 1 {
        segments.push(Segment::default());
    }
    Some(Glob { gapped, segments })
}

/// For globs that are all exact text, the sorted distinct texts.
fn literals(globs: &[Glob]) -> Option<Vec<Box<str>>> {
    let mut out = Vec::with_capacity(globs.len());
    for g in globs {
        if g.gapped {
            return None;
        }
        match g.segments.as_slice() {
            [seg] => match seg.pieces.as_slice() {
                [] => out.push("".into()),
                [Piece::Text(t)] => out.push(t.clone()),
                _ => return None,
            },
            _ => return None,
        }
    }
    out.sort_unstable();
    out.dedup();
    Some(out)
}

impl Glob {
    fn is_match(&self, s: &str) -> bool {
        if !self.gapped {
            return self.segments.first().is_some_and(|seg| seg.match_at(s, 0) == Some(s.len()));
        }
        let [prefix, middles @ .., suffix] = self.segments.as_slice() else { return false };
        let Some(mut pos) = prefix.match_at(s, 0) else { return false };
        let Some(tail) = start_of_last_chars(s, suffix.chars) else { return false };
        if tail < pos || suffix.match_at(s, tail) != Some(s.len()) {
            return false;
        }
        for m in middles {
            match m.find(s, pos, tail) {
                Some(end) => pos = end,
                None => return false,
            }
        }
        true
    }
}

/// The byte offset where the last `n` characters of `s` start.
fn start_of_last_chars(s: &str, n: usize) -> Option<usize> {
    if n == 0 {
        return Some(s.len());
    }
    s.char_indices().rev().nth(n - 1).map(|(i, _)| i)
}

impl Segment {
    /// Where a match of the segment starting at byte `at` of `s` ends.
    fn match_at(&self, s: &str, mut at: usize) -> Option<usize> {
        for p in &self.pieces {
            let rest = s.get(at..)?;
            match p {
                Piece::Text(t) => {
                    if !rest.starts_with(&**t) {
                        return None;
                    }
                    at += t.len();
                }
                Piece::AnyChar => at += rest.chars().next()?.len_utf8(),
                Piece::Class(ranges) => {
                    let c = rest.chars().next()?;
                    if !in_class(ranges, c) {
                        return None;
                    }
                    at += c.len_utf8();
                }
            }
        }
        Some(at)
    }

    /// The end of the leftmost match of the segment starting at or after `from` and ending at or
    /// before `limit`.
    fn find(&self, s: &str, from: usize, limit: usize) -> Option<usize> {
        let window = s.get(..limit)?;
        if let Some(Piece::Text(t)) = self.pieces.first() {
            let mut start = from;
            while let Some(off) = window.get(start..)?.find(&**t) {
                let at = start + off;
                if let Some(end) = self.match_at(window, at) {
                    return Some(end);
                }
                start = at + window[at..].chars().next()?.len_utf8();
            }
            return None;
        }
        let mut at = from;
        loop {
            if let Some(end) = self.match_at(window, at) {
                return Some(end);
            }
            at += window.get(at..)?.chars().next()?.len_utf8();
        }
    }
}

fn in_class(ranges: &[(char, char)], c: char) -> bool {
    ranges
        .binary_search_by(|&(lo, hi)| {
            if hi < c {
                std::cmp::Ordering::Less
            } else if lo > c {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(p: &str) -> FastRegex {
        let hir = regex_syntax::Parser::new().parse(&anchored(p)).unwrap();
        FastRegex::from_hir(p, &hir)
    }

    /// Every shape answers as the regex crate does, and the common ones take a fast path.
    #[test]
    fn fast_paths_agree_with_the_regex_engine() {
        let patterns = [
            "",
            "foo",
            "foo|bar",
            "foo|",
            ".*",
            ".+",
            ".*-prod",
            "api-.+",
            ".*[0-4]$",
            "(?i)get",
            "a.*b.*c",
            ".*foo.*",
            "foo.*",
            "x.y",
            "(a|b)(c|d)",
            "^foo$",
            "a^b",
            "a$b",
            "(?m)^a$",
            "a?b",
            "é.*ü",
            ".*.*x",
            "(.*)",
            "a+",
            "[^a]*",
            "[a-c]x|y.*",
            "..",
            "a.*a",
            "(?-s:.*)",
            "a\\$",
            "$",
            "^",
            "a|^b",
            "(?i)é",
        ];
        let values = [
            "", "foo", "bar", "foobar", "x-prod", "-prod", "api-", "api-x", "a3", "a5", "3", "GET", "gEt",
            "abc", "aXbYc", "acb", "xfooy", "xay", "ac", "bd", "ad", "a", "ab", "b", "éxü", "éü", "aa",
            "aaa", "a\nb", "\n", "a$", "x", "cx", "yy", "É",
        ];
        let mut fast = 0;
        for p in patterns {
            let f = build(p);
            if !matches!(f.kind, Kind::Regex) {
                fast += 1;
            }
            let re = Regex::new(&anchored(p)).unwrap();
            for v in values {
                assert_eq!(f.is_match(v), re.is_match(v), "pattern {p:?} value {v:?} kind {:?}", f.kind);
            }
        }
        assert!(fast >= 28, "{fast}");
        assert!(matches!(build(".*[0-4]$").kind, Kind::Globs(_)));
        assert!(matches!(build("a|b|cd").kind, Kind::Literals(_)));
    }

    proptest::proptest! {
        /// Patterns assembled from the pieces the fast paths handle (and some they hand to the
        /// regex engine) answer as the regex crate does on short values.
        #[test]
        fn random_patterns_agree_with_the_regex_engine(
            alts in proptest::collection::vec(
                proptest::collection::vec(
                    proptest::sample::select(vec![
                        "a", "b", "é", ".", "[ab]", "[^a]", ".*", ".+", "a?", "(a|b)", "^", "$",
                        "(?i)a", "(.*)", "x", "\\.",
                    ]),
                    0..6,
                ),
                1..4,
            ),
            values in proptest::collection::vec("[abAé.x\n]{0,6}", 1..12),
        ) {
            let pattern = alts.iter().map(|a| a.concat()).collect::<Vec<_>>().join("|");
            let f = build(&pattern);
            let re = Regex::new(&anchored(&pattern)).unwrap();
            for v in &values {
                proptest::prop_assert_eq!(f.is_match(v), re.is_match(v), "{:?} on {:?}", pattern, v);
            }
        }
    }

    #[test]
    fn cache_returns_the_same_matcher() {
        let a = cached("cache-test-.*x", None).unwrap();
        let b = cached("cache-test-.*x", None).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        // Large programs are not kept.
        let big = cached(r"\w{100}", None).unwrap();
        assert!(!Arc::ptr_eq(&big, &cached(r"\w{100}", None).unwrap()));
        assert!(cached("(", None).is_err());
        assert!(cached_regex("(a)(b)").unwrap().regex().unwrap().captures("ab").is_some());
    }
}
