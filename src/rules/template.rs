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
    let go_style = |e: gotmpl::TemplateError| match e {
        gotmpl::TemplateError::Parse { line, message, .. }
        | gotmpl::TemplateError::Lex { line, message, .. } => {
            format!("template: {name}:{line}: {message}")
        }
        other => format!("template: {name}: {other}"),
    };
    let parser = Parser::with_name(Some(&name), &source, "{{", "}}").map_err(go_style)?;
    let (tree, defines) = parser.parse().map_err(go_style)?;
    let mut scope = Scope { vars: vec!["$".into()] };
    let checked = scope
        .list(&tree)
        .and_then(|()| defines.iter().try_for_each(|d| Scope { vars: vec!["$".into()] }.list(&d.body)));
    checked.map_err(|(line, message)| format!("template: {name}:{line}: {message}"))
}

/// The variables in scope while walking a template, as Go's parser tracks them.
struct Scope {
    vars: Vec<SmolStr>,
}

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
                self.use_var(pipe.pos.line, var)?;
            }
        } else {
            self.vars.extend(pipe.decl.iter().cloned());
        }
        pipe.commands.iter().flat_map(|c| &c.args).try_for_each(|e| self.expr(e))
    }

    fn use_var(&self, line: usize, name: &str) -> Result<(), Found> {
        if self.vars.iter().any(|v| v == name) {
            Ok(())
        } else {
            Err((line, format!("undefined variable {}", super::duration::go_quote(name))))
        }
    }

    fn expr(&mut self, expr: &Expr) -> Result<(), Found> {
        match expr {
            Expr::Variable(pos, name, _) => self.use_var(pos.line, name),
            Expr::Identifier(pos, name) => {
                if GO_BUILTINS.contains(&name.as_str()) || TEMPLATE_FUNCTIONS.contains(&name.as_str()) {
                    Ok(())
                } else {
                    Err((pos.line, format!("function {} not defined", super::duration::go_quote(name))))
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
