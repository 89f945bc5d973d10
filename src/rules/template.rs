//! Alert label and annotation templates: the parse check promtool runs on them.
//!
//! Prometheus expands alert labels and annotations as Go `text/template` text, after a prelude that
//! binds `$labels`, `$externalLabels`, `$externalURL` and `$value`, with its own function map. Loading
//! a rule file only *parses* the templates (an undefined variable or function, or a syntax error, is a
//! load error); expansion happens when the alert is evaluated.

use gotmpl::parse::{Expr, ListNode, Node, Parser, PipeNode, SmolStr};

/// The functions Prometheus's alert templates may call (its template `FuncMap`).
pub const TEMPLATE_FUNCTIONS: &[&str] = &[
    "query",
    "first",
    "label",
    "value",
    "strvalue",
    "args",
    "reReplaceAll",
    "safeHtml",
    "match",
    "title",
    "toUpper",
    "toLower",
    "graphLink",
    "tableLink",
    "sortByLabel",
    "stripPort",
    "stripDomain",
    "humanize",
    "humanize1024",
    "humanizeDuration",
    "humanizePercentage",
    "humanizeTimestamp",
    "toTime",
    "toDuration",
    "now",
    "pathPrefix",
    "externalURL",
    "parseDuration",
    "urlQueryEscape",
];

/// The variable bindings Prometheus puts in front of every alert template.
pub const ALERT_TEMPLATE_PRELUDE: &str = "{{$labels := .Labels}}{{$externalLabels := .ExternalLabels}}{{$externalURL := .ExternalURL}}{{$value := .Value}}";

/// The functions Go's `text/template` always has.
const GO_BUILTINS: &[&str] = &[
    "and", "call", "html", "index", "slice", "js", "len", "not", "or", "print", "printf", "println",
    "urlquery", "eq", "ge", "gt", "le", "lt", "ne",
];

/// Parses an alert label or annotation template as Prometheus does when it loads a rule file, under
/// the template name `__alert_<alert name>`: a syntax error, an undefined variable or an unknown
/// function is an error, in Go's words, e.g. `template: __alert_X:1: undefined variable "$label"`.
///
/// ```
/// use ferroprom::rules::template::check_alert_template;
///
/// assert!(check_alert_template("HighLoad", "{{ $labels.instance }} is at {{ $value | humanize }}").is_ok());
/// assert_eq!(
///     check_alert_template("HighLoad", "{{ $label.instance }}").unwrap_err(),
///     "template: __alert_HighLoad:1: undefined variable \"$label\""
/// );
/// ```
pub fn check_alert_template(alert: &str, text: &str) -> Result<(), String> {
    let name = format!("__alert_{alert}");
    let source = format!("{ALERT_TEMPLATE_PRELUDE}{text}");
    // Go stops at the first problem in source order; gather each check's first finding as
    // ((line, column), message) and report the earliest.
    let mut found: Vec<((usize, usize), String)> = Vec::new();
    if let Some((offset, message)) = check_structure(&source) {
        found.push((line_col(&source, offset), message));
    }
    let parsed = Parser::with_name(Some(&name), &source, "{{", "}}").and_then(|p| p.parse());
    match parsed {
        Err(gotmpl::TemplateError::Parse { line, col, message, .. })
        | Err(gotmpl::TemplateError::Lex { line, col, message, .. }) => found.push(((line, col), message)),
        Err(other) => found.push(((usize::MAX, 0), other.to_string())),
        Ok((tree, defines)) => {
            let mut scope = Scope { vars: vec!["$".into()] };
            let checked = scope.list(&tree).and_then(|()| {
                defines.iter().try_for_each(|d| Scope { vars: vec!["$".into()] }.list(&d.body))
            });
            if let Err((offset, message)) = checked {
                found.push((line_col(&source, offset), message));
            }
        }
    }
    match found.into_iter().min_by_key(|(at, _)| *at) {
        None => Ok(()),
        Some(((line, _), message)) => Err(format!("template: {name}:{line}: {message}")),
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// Go's parse-time checks on control structures, which the template parser we use is lenient about:
/// every `if`/`range`/`with`/`define`/`block` needs its `end`, `else` and `end` need an open
/// structure, `break`/`continue` need a `range`, and `if`/`range`/`with` need a value. Returns the
/// byte offset and message of the first problem.
fn check_structure(source: &str) -> Option<(usize, String)> {
    let mut open: Vec<&str> = Vec::new();
    let mut rest = 0;
    while let Some(start) = source[rest..].find("{{").map(|i| rest + i) {
        let body_start = start + 2;
        let end = action_end(source, body_start)?;
        rest = end + 2;
        let body = source[body_start..end].trim_start_matches('-').trim();
        let body = body.trim_end_matches('-').trim_end();
        if body.starts_with("/*") {
            continue;
        }
        let keyword = body.split(|c: char| c.is_whitespace() || c == '(' || c == '"').next().unwrap_or("");
        let argument = body[keyword.len()..].trim();
        match keyword {
            "if" | "range" | "with" => {
                if argument.is_empty() {
                    return Some((start, format!("missing value for {keyword}")));
                }
                open.push(keyword);
            }
            "define" | "block" => open.push(keyword),
            "else" if !matches!(open.last(), Some(&("if" | "range" | "with"))) => {
                return Some((start, "unexpected {{else}}".to_string()));
            }
            "end" if open.pop().is_none() => return Some((start, "unexpected {{end}}".to_string())),
            "break" | "continue" => {
                let in_range = open
                    .iter()
                    .rev()
                    .take_while(|k| !matches!(**k, "define" | "block"))
                    .any(|k| *k == "range");
                if !in_range {
                    return Some((start, format!("{{{{{keyword}}}}} outside {{{{range}}}}")));
                }
            }
            _ => {}
        }
    }
    (!open.is_empty()).then(|| (source.len(), "unexpected EOF".to_string()))
}

/// The offset of the `}}` closing the action whose body starts at `from`, skipping string literals
/// and comments; `None` when the action is not closed (the parser reports that).
fn action_end(source: &str, from: usize) -> Option<usize> {
    let bytes = source.as_bytes();
    let mut i = from;
    while i < bytes.len() {
        match bytes[i] {
            b'"' | b'\'' => {
                let quote = bytes[i];
                i += 1;
                while i < bytes.len() && bytes[i] != quote {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
            }
            b'`' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'`' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i = source[i + 2..].find("*/").map(|j| i + 2 + j + 1)?;
            }
            b'}' if bytes.get(i + 1) == Some(&b'}') => return Some(i),
            _ => {}
        }
        i += 1;
    }
    None
}

/// The variables in scope while walking a template, as Go's parser tracks them.
struct Scope {
    vars: Vec<SmolStr>,
}

/// A problem: byte offset and message.
type Found = (usize, String);

impl Scope {
    fn list(&mut self, list: &ListNode) -> Result<(), Found> {
        list.nodes.iter().try_for_each(|n| self.node(n))
    }

    fn node(&mut self, node: &Node) -> Result<(), Found> {
        match node {
            Node::List(l) => self.list(l),
            Node::Action(a) => self.pipe(&a.pipe),
            Node::If(b) | Node::Range(b) | Node::With(b) => {
                // Variables declared inside a control structure end with it.
                let depth = self.vars.len();
                let result =
                    self.pipe(&b.pipe).and_then(|()| self.list(&b.body)).and_then(|()| match &b.else_body {
                        Some(e) => self.list(e),
                        None => Ok(()),
                    });
                self.vars.truncate(depth);
                result
            }
            Node::Template(t) => t.pipe.as_ref().map_or(Ok(()), |p| self.pipe(p)),
            Node::Define(d) => Scope { vars: vec!["$".into()] }.list(&d.body),
            Node::Text(_) | Node::Break(_) | Node::Continue(_) => Ok(()),
        }
    }

    fn pipe(&mut self, pipe: &PipeNode) -> Result<(), Found> {
        if pipe.is_assign {
            for var in &pipe.decl {
                self.use_var(pipe.pos.offset, var)?;
            }
        } else {
            self.vars.extend(pipe.decl.iter().cloned());
        }
        pipe.commands.iter().flat_map(|c| &c.args).try_for_each(|e| self.expr(e))
    }

    fn use_var(&self, offset: usize, name: &str) -> Result<(), Found> {
        if self.vars.iter().any(|v| v == name) {
            Ok(())
        } else {
            Err((offset, format!("undefined variable {}", crate::model::go_quote(name))))
        }
    }

    fn expr(&mut self, expr: &Expr) -> Result<(), Found> {
        match expr {
            Expr::Variable(pos, name, _) => self.use_var(pos.offset, name),
            Expr::Identifier(pos, name) => {
                if GO_BUILTINS.contains(&name.as_str()) || TEMPLATE_FUNCTIONS.contains(&name.as_str()) {
                    Ok(())
                } else {
                    Err((pos.offset, format!("function {} not defined", crate::model::go_quote(name))))
                }
            }
            Expr::Pipe(_, p) => self.pipe(p),
            Expr::Chain(_, inner, _) => self.expr(inner),
            Expr::Dot(_)
            | Expr::Field(..)
            | Expr::String(..)
            | Expr::Number(..)
            | Expr::Bool(..)
            | Expr::Nil(_) => Ok(()),
        }
    }
}
