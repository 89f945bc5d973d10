//! Alert label and annotation templates: Go `text/template` syntax with Prometheus's functions.
//!
//! Prometheus expands every label value and annotation of an alerting rule as a Go template, with
//! the variables `$labels`, `$externalLabels`, `$externalURL` and `$value` predefined, missing map
//! keys rendering as the empty string, and a set of helper functions (`humanize`, `query`,
//! `reReplaceAll`, …). Templates are parsed and executed by the [`gotmpl`] crate; this module adds
//! the Prometheus function map, Go-style printing of values (`{{ $value }}` prints `1.234567e+06`
//! like Go's `%v`), and the parse-time checks Go performs (undefined variables and functions).
//!
//! ```
//! use ferroprom::rules::expansion::{Expander, TemplateData};
//!
//! let mut data = TemplateData::default();
//! data.labels.insert("job".into(), "api".into());
//! data.value = 1234567.0;
//! let out = Expander::new("__alert_X", data, 0)
//!     .expand("{{ $labels.job }} is at {{ $value | humanize }} ({{ $value }}){{ $labels.nope }}")?;
//! assert_eq!(out, "api is at 1.235M (1.234567e+06)");
//! # Ok::<(), ferroprom::rules::expansion::TemplateError>(())
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use gotmpl::parse::{CommandNode, Expr as TExpr, ListNode, Node, PipeNode, SmolStr};
use gotmpl::{MissingKey, Template, Value};

use crate::functions::civil_from_days;
use crate::model::format_go_g;
use crate::rules::template::{ALERT_TEMPLATE_PRELUDE, check_alert_template};

/// Name of the hidden function appended to every printing action to print like Go's `fmt`.
const PRINT_FN: &str = "__ferroprom_print";

/// Name of the hidden function wrapping calls of Prometheus's functions, so that their errors carry
/// Go's context (`template: <name>:<line>:<col>: executing "<name>" at <<command>>: …`).
const CALL_FN: &str = "__ferroprom_call";

/// Name of the hidden function every field access (`$labels.x`, `.Labels.x`) is rewritten to, so
/// that a missing key of a label map gives `""` as Go's typed `map[string]string` does.
const FIELD_FN: &str = "__ferroprom_field";

/// A sample as templates see it: the result of `query`, an element for `first`, `label`, `value`.
#[derive(Debug, Clone, PartialEq)]
pub struct TemplateSample {
    /// The series labels, including `__name__` when the expression keeps it.
    pub labels: BTreeMap<String, String>,
    /// The sample value.
    pub value: f64,
}

/// The query function available to templates as `query`: an instant query at a millisecond
/// timestamp. Errors are returned as their message.
pub type TemplateQueryFn = Arc<dyn Fn(&str, i64) -> Result<Vec<TemplateSample>, String> + Send + Sync>;

/// The data an alert template is executed with (`.Labels`, `.ExternalLabels`, `.ExternalURL`,
/// `.Value`, bound to `$labels`, `$externalLabels`, `$externalURL` and `$value`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TemplateData {
    /// Labels of the sample that produced the alert, before rule labels are applied.
    pub labels: BTreeMap<String, String>,
    /// The configured external labels.
    pub external_labels: BTreeMap<String, String>,
    /// The configured external URL (as text).
    pub external_url: String,
    /// The sample value.
    pub value: f64,
}

/// Why a template could not be expanded. The `Display` texts follow Prometheus's
/// (`error parsing template <name>: …`, `error executing template <name>: …`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    /// The template text does not parse (syntax, undefined variable or function).
    #[error("error parsing template {name}: {message}")]
    Parse {
        /// Template name (`__alert_<alertname>`).
        name: String,
        /// The parser's message, `template: <name>:<line>: …` as Go prints it.
        message: String,
    },
    /// Executing the template failed (a function returned an error, bad arguments, …).
    #[error("error executing template {name}: {message}")]
    Exec {
        /// Template name.
        name: String,
        /// What went wrong.
        message: String,
    },
}

/// Expands alert templates for one alert at one evaluation timestamp.
#[derive(Clone)]
pub struct Expander {
    name: String,
    data: TemplateData,
    ts_ms: i64,
    query: Option<TemplateQueryFn>,
}

impl std::fmt::Debug for Expander {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Expander")
            .field("name", &self.name)
            .field("data", &self.data)
            .field("ts_ms", &self.ts_ms)
            .finish_non_exhaustive()
    }
}

impl Expander {
    /// An expander for template `name` (Prometheus uses `__alert_<alertname>`) with `data`, at the
    /// evaluation timestamp `ts_ms` (used by `now` and `query`). Without [`Expander::with_query`],
    /// calling `query` in a template is an execution error.
    pub fn new(name: &str, data: TemplateData, ts_ms: i64) -> Expander {
        Expander { name: name.to_string(), data, ts_ms, query: None }
    }

    /// Makes `query` available, answering through `query`.
    pub fn with_query(mut self, query: TemplateQueryFn) -> Expander {
        self.query = Some(query);
        self
    }

    /// Expands `text` (the user's template, without the variable prelude).
    pub fn expand(&self, text: &str) -> Result<String, TemplateError> {
        // Texts without actions cannot change; skip the template machinery as Go's output would equal
        // the input.
        if !text.contains("{{") {
            return Ok(text.to_string());
        }
        let tmpl = build(&self.name, text, self.functions())?;
        let root = data_value(&self.data);
        tmpl.execute_template_to_string(&self.name, &root).map_err(|e| TemplateError::Exec {
            name: self.name.clone(),
            message: exec_message(&self.name, &e),
        })
    }

    fn functions(&self) -> gotmpl::FuncMap {
        let mut fm = base_functions(&self.data.external_url);
        let ts = self.ts_ms;
        fm.insert("now".into(), Arc::new(move |_: &[Value]| Ok(Value::Float(ts as f64 / 1000.0))));
        let query = self.query.clone();
        fm.insert(
            "query".into(),
            Arc::new(move |args: &[Value]| {
                let q = string_arg("query", args, 0)?;
                let Some(query) = &query else {
                    return Err(func_err("query", "no query function configured".into()));
                };
                let samples = query(&q, ts).map_err(|e| func_err("query", e))?;
                Ok(Value::List(samples.iter().map(sample_value).collect::<Vec<_>>().into()))
            }),
        );
        fm
    }
}

fn build(name: &str, text: &str, fm: gotmpl::FuncMap) -> Result<Template, TemplateError> {
    let full = format!("{ALERT_TEMPLATE_PRELUDE}{text}");
    let parse_err = |message: String| TemplateError::Parse { name: name.to_string(), message };
    let parsed = Template::new(name)
        .missing_key(MissingKey::ZeroValue)
        .parse(&full)
        .map_err(|e| parse_err(e.to_string()))?;
    // Go rejects undefined variables and functions when parsing; gotmpl only when executing, so the
    // load-time check runs first.
    let alert = name.strip_prefix("__alert_").unwrap_or(name);
    check_alert_template(alert, text).map_err(parse_err)?;
    let mut rewritten: Vec<(String, ListNode)> = Vec::new();
    let mut calls = CallSites { source: &full, name, functions: &fm, sites: Vec::new() };
    for tname in parsed.templates() {
        let Some(tree) = parsed.lookup(tname) else { continue };
        let mut tree = tree.clone();
        calls.wrap_list(&mut tree);
        rewrite_fields_in_list(&mut tree);
        add_printing(&mut tree);
        rewritten.push((tname.to_string(), tree));
    }
    let sites = calls.sites;
    let dispatch = fm.clone();
    let mut tmpl = Template::new(name).missing_key(MissingKey::ZeroValue).funcs(fm);
    tmpl = tmpl.func(CALL_FN, move |args: &[Value]| {
        let Some((Value::Int(id), rest)) = args.split_first() else {
            return Err(gotmpl::TemplateError::Exec("bad call site".into()));
        };
        let Some((func, context)) = usize::try_from(*id).ok().and_then(|i| sites.get(i)) else {
            return Err(gotmpl::TemplateError::Exec("bad call site".into()));
        };
        let Some(f) = dispatch.get(func.as_str()) else {
            return Err(gotmpl::TemplateError::UndefinedFunction(func.clone()));
        };
        f(rest).map_err(|e| {
            let msg = match e {
                gotmpl::TemplateError::Exec(m) => m,
                other => other.to_string(),
            };
            gotmpl::TemplateError::Exec(format!("{CONTEXT_MARK}{context}: {msg}"))
        })
    });
    tmpl = tmpl.func(PRINT_FN, |args: &[Value]| {
        Ok(Value::String(go_print(args.last().unwrap_or(&Value::Nil)).into()))
    });
    tmpl = tmpl.func(FIELD_FN, field_fn);
    tmpl = tmpl.func("index", index_fn);
    for (tname, tree) in rewritten {
        tmpl = tmpl.add_parse_tree(&tname, tree);
    }
    Ok(tmpl)
}

/// Whether `m` behaves like Go's `map[string]string`: every value is a string (an empty map too).
fn is_string_map(m: &BTreeMap<Arc<str>, Value>) -> bool {
    m.values().all(|v| matches!(v, Value::String(_)))
}

/// A map lookup with Go's typed-map semantics for label maps: a missing key of a string map is `""`.
fn lookup(v: &Value, key: &str) -> Result<Value, gotmpl::TemplateError> {
    match v {
        Value::Map(m) => Ok(match m.get(key) {
            Some(x) => x.clone(),
            None if is_string_map(m) => Value::String("".into()),
            None => Value::Nil,
        }),
        Value::Nil => Ok(Value::Nil),
        other => {
            Err(gotmpl::TemplateError::Exec(format!("can't evaluate field {key} in type {}", go_type(other))))
        }
    }
}

/// `__ferroprom_field BASE "f1" "f2" …`: the field chain `BASE.f1.f2`.
fn field_fn(args: &[Value]) -> gotmpl::Result<Value> {
    let mut cur = args.first().cloned().unwrap_or(Value::Nil);
    for f in args.iter().skip(1) {
        let Value::String(name) = f else { continue };
        cur = lookup(&cur, name)?;
    }
    Ok(cur)
}

/// Go's `index`, with label maps answering `""` for missing keys.
fn index_fn(args: &[Value]) -> gotmpl::Result<Value> {
    let mut cur = arg("index", args, 0)?.clone();
    for key in args.iter().skip(1) {
        cur = match (&cur, key) {
            (Value::Map(_), Value::String(k)) => lookup(&cur, k)?,
            (Value::List(l), Value::Int(i)) => usize::try_from(*i)
                .ok()
                .and_then(|i| l.get(i).cloned())
                .ok_or(gotmpl::TemplateError::IndexOutOfRange { index: *i })?,
            (Value::Nil, _) => return Err(func_err("index", "index of untyped nil".into())),
            (other, k) => {
                return Err(func_err(
                    "index",
                    format!("can't index item of type {} with {}", go_type(other), go_type(k)),
                ));
            }
        };
    }
    Ok(cur)
}

fn rewrite_fields_in_list(list: &mut ListNode) {
    for node in &mut list.nodes {
        match node {
            Node::List(l) => rewrite_fields_in_list(l),
            Node::Action(a) => rewrite_fields_in_pipe(&mut a.pipe),
            Node::If(b) | Node::With(b) | Node::Range(b) => {
                rewrite_fields_in_pipe(&mut b.pipe);
                rewrite_fields_in_list(&mut b.body);
                if let Some(e) = &mut b.else_body {
                    rewrite_fields_in_list(e);
                }
            }
            Node::Template(t) => {
                if let Some(p) = &mut t.pipe {
                    rewrite_fields_in_pipe(p);
                }
            }
            Node::Define(d) => rewrite_fields_in_list(&mut d.body),
            Node::Text(_) | Node::Break(_) | Node::Continue(_) => {}
        }
    }
}

fn rewrite_fields_in_pipe(pipe: &mut PipeNode) {
    for cmd in &mut pipe.commands {
        for arg in &mut cmd.args {
            rewrite_fields(arg);
        }
    }
}

/// Replaces a field chain on `base` by a call of [`FIELD_FN`].
fn field_call(pos: gotmpl::parse::Pos, base: TExpr, fields: &[SmolStr]) -> TExpr {
    let mut args = vec![TExpr::Identifier(pos, FIELD_FN.into()), base];
    args.extend(fields.iter().map(|f| TExpr::String(pos, Arc::from(f.as_str()))));
    TExpr::Pipe(
        pos,
        PipeNode { pos, decl: Vec::new(), commands: vec![CommandNode { pos, args }], is_assign: false },
    )
}

fn rewrite_fields(e: &mut TExpr) {
    let replacement = match e {
        TExpr::Field(pos, fields) if !fields.is_empty() => Some(field_call(*pos, TExpr::Dot(*pos), fields)),
        TExpr::Variable(pos, name, fields) if !fields.is_empty() => {
            Some(field_call(*pos, TExpr::Variable(*pos, name.clone(), Vec::new()), fields))
        }
        TExpr::Chain(pos, inner, fields) => {
            rewrite_fields(inner);
            Some(field_call(*pos, (**inner).clone(), fields))
        }
        TExpr::Pipe(_, p) => {
            rewrite_fields_in_pipe(p);
            None
        }
        _ => None,
    };
    if let Some(r) = replacement {
        *e = r;
    }
}

/// Appends the Go-style printing function to every action that prints its result.
fn add_printing(list: &mut ListNode) {
    for node in &mut list.nodes {
        match node {
            Node::List(l) => add_printing(l),
            Node::Action(a) if a.pipe.decl.is_empty() => {
                let pos = a.pipe.pos;
                a.pipe
                    .commands
                    .push(CommandNode { pos, args: vec![TExpr::Identifier(pos, PRINT_FN.into())] });
            }
            Node::If(b) | Node::With(b) | Node::Range(b) => {
                add_printing(&mut b.body);
                if let Some(e) = &mut b.else_body {
                    add_printing(e);
                }
            }
            _ => {}
        }
    }
}

/// Marks an execution error that already carries Go's full context.
const CONTEXT_MARK: &str = "\u{1}";

fn exec_message(name: &str, e: &gotmpl::TemplateError) -> String {
    let msg = match e {
        gotmpl::TemplateError::Exec(m) => m.clone(),
        other => other.to_string(),
    };
    match msg.strip_prefix(CONTEXT_MARK) {
        Some(full) => full.to_string(),
        None => format!("template: {name}: executing {name:?}: {msg}"),
    }
}

/// The calls of Prometheus's functions in a template, each rewritten to go through [`CALL_FN`] with
/// its index here: the function name and Go's error context for the call.
struct CallSites<'a> {
    source: &'a str,
    name: &'a str,
    functions: &'a gotmpl::FuncMap,
    sites: Vec<(String, String)>,
}

impl CallSites<'_> {
    fn wrap_list(&mut self, list: &mut ListNode) {
        for node in &mut list.nodes {
            match node {
                Node::List(l) => self.wrap_list(l),
                Node::Action(a) => self.wrap_pipe(&mut a.pipe),
                Node::If(b) | Node::With(b) | Node::Range(b) => {
                    self.wrap_pipe(&mut b.pipe);
                    self.wrap_list(&mut b.body);
                    if let Some(e) = &mut b.else_body {
                        self.wrap_list(e);
                    }
                }
                Node::Template(t) => {
                    if let Some(p) = &mut t.pipe {
                        self.wrap_pipe(p);
                    }
                }
                Node::Define(d) => self.wrap_list(&mut d.body),
                Node::Text(_) | Node::Break(_) | Node::Continue(_) => {}
            }
        }
    }

    fn wrap_pipe(&mut self, pipe: &mut PipeNode) {
        for cmd in &mut pipe.commands {
            for arg in cmd.args.iter_mut().skip(1) {
                self.wrap_expr(arg);
            }
            let Some(TExpr::Identifier(pos, func)) = cmd.args.first() else {
                if let Some(first) = cmd.args.first_mut() {
                    self.wrap_expr(first);
                }
                continue;
            };
            if !self.functions.contains_key(func.as_str()) {
                continue;
            }
            let (pos, func) = (*pos, func.to_string());
            let offset = cmd.pos.offset.min(self.source.len());
            let line_start = self.source[..offset].rfind('\n').map_or(0, |i| i + 1);
            let context = format!(
                "template: {name}:{line}:{col}: executing {name:?} at <{node}>",
                name = self.name,
                line = cmd.pos.line,
                col = offset - line_start,
                node = command_text(&self.source[offset..]),
            );
            let id = self.sites.len() as i64;
            self.sites.push((func, context));
            cmd.args[0] = TExpr::Identifier(pos, CALL_FN.into());
            cmd.args.insert(1, TExpr::Number(pos, gotmpl::parse::Number::Int(id)));
        }
    }

    fn wrap_expr(&mut self, e: &mut TExpr) {
        match e {
            TExpr::Pipe(_, p) => self.wrap_pipe(p),
            TExpr::Chain(_, inner, _) => self.wrap_expr(inner),
            _ => {}
        }
    }
}

/// The text of the command starting `rest`: up to a `|`, an unmatched `)` or the end of the action,
/// outside quotes and parentheses; with single spaces, as Go prints a command node.
fn command_text(rest: &str) -> String {
    let mut depth = 0usize;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    let mut end = rest.len();
    for (i, c) in rest.char_indices() {
        if let Some(q) = quote {
            if escaped {
                escaped = false;
            } else if c == '\\' && q == '"' {
                escaped = true;
            } else if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '"' | '`' | '\'' => quote = Some(c),
            '(' => depth += 1,
            ')' if depth > 0 => depth -= 1,
            ')' | '|' if depth == 0 => {
                end = i;
                break;
            }
            '}' if depth == 0 && rest[i..].starts_with("}}") => {
                end = i;
                break;
            }
            _ => {}
        }
    }
    let text = rest[..end].trim_end();
    let text = text.strip_suffix(" -").unwrap_or(text);
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn func_err(func: &str, msg: String) -> gotmpl::TemplateError {
    gotmpl::TemplateError::Exec(format!("error calling {func}: {msg}"))
}

fn string_map(m: &BTreeMap<String, String>) -> Value {
    Value::Map(Arc::new(
        m.iter().map(|(k, v)| (Arc::from(k.as_str()), Value::String(v.as_str().into()))).collect(),
    ))
}

fn data_value(d: &TemplateData) -> Value {
    let mut m: BTreeMap<Arc<str>, Value> = BTreeMap::new();
    m.insert("Labels".into(), string_map(&d.labels));
    m.insert("ExternalLabels".into(), string_map(&d.external_labels));
    m.insert("ExternalURL".into(), Value::String(d.external_url.as_str().into()));
    m.insert("Value".into(), Value::Float(d.value));
    Value::Map(Arc::new(m))
}

fn sample_value(s: &TemplateSample) -> Value {
    let mut m: BTreeMap<Arc<str>, Value> = BTreeMap::new();
    m.insert("Labels".into(), string_map(&s.labels));
    m.insert("Value".into(), Value::Float(s.value));
    Value::Map(Arc::new(m))
}

fn arg<'a>(func: &str, args: &'a [Value], i: usize) -> Result<&'a Value, gotmpl::TemplateError> {
    args.get(i).ok_or_else(|| gotmpl::TemplateError::ArgCount {
        name: func.to_string(),
        expected: i + 1,
        got: args.len(),
    })
}

/// A string argument; a missing label (nil) counts as the empty string, as Go's typed maps give.
fn string_arg(func: &str, args: &[Value], i: usize) -> Result<String, gotmpl::TemplateError> {
    match arg(func, args, i)? {
        Value::String(s) => Ok(s.to_string()),
        Value::Nil => Ok(String::new()),
        other => {
            Err(func_err(func, format!("wrong type for value; expected string; got {}", go_type(other))))
        }
    }
}

fn go_type(v: &Value) -> &'static str {
    match v {
        Value::Nil => "<nil>",
        Value::Bool(_) => "bool",
        Value::Int(_) => "int",
        Value::Uint(_) => "uint64",
        Value::Float(_) => "float64",
        Value::String(_) => "string",
        Value::List(_) => "[]interface {}",
        Value::Map(_) => "map[string]interface {}",
        Value::Function(_) => "func",
    }
}

/// Prometheus's `ConvertToFloat`: numbers as they are, strings parsed, anything else an error.
fn to_float(func: &str, args: &[Value]) -> Result<f64, gotmpl::TemplateError> {
    match arg(func, args, 0)? {
        Value::Float(f) => Ok(*f),
        Value::Int(i) => Ok(*i as f64),
        Value::Uint(u) => Ok(*u as f64),
        Value::String(s) => parse_go_float(s).ok_or_else(|| {
            func_err(func, format!("strconv.ParseFloat: parsing {:?}: invalid syntax", s.as_ref()))
        }),
        other => Err(func_err(func, format!("can't convert {} to float", go_type(other)))),
    }
}

fn parse_go_float(s: &str) -> Option<f64> {
    match s.to_ascii_lowercase().trim_start_matches(['+', '-']) {
        "inf" | "infinity" | "nan" => s.parse::<f64>().ok(),
        t if t.chars().all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | '+' | '-')) && !t.is_empty() => {
            s.parse::<f64>().ok()
        }
        _ => None,
    }
}

fn sample_arg(func: &str, args: &[Value], i: usize) -> Result<Value, gotmpl::TemplateError> {
    match arg(func, args, i)? {
        v @ Value::Map(_) => Ok(v.clone()),
        other => Err(func_err(
            func,
            format!("wrong type for value; expected *template.sample; got {}", go_type(other)),
        )),
    }
}

fn str_value(s: String) -> Value {
    Value::String(s.into())
}

type TFn = Arc<dyn Fn(&[Value]) -> gotmpl::Result<Value> + Send + Sync>;

fn string_fn(name: &'static str, f: impl Fn(&str) -> String + Send + Sync + 'static) -> TFn {
    Arc::new(move |args: &[Value]| Ok(str_value(f(&string_arg(name, args, 0)?))))
}

fn float_fn(name: &'static str, f: impl Fn(f64) -> String + Send + Sync + 'static) -> TFn {
    Arc::new(move |args: &[Value]| Ok(str_value(f(to_float(name, args)?))))
}

fn base_functions(external_url: &str) -> gotmpl::FuncMap {
    let mut fm = gotmpl::FuncMap::new();
    fm.insert(
        "first".into(),
        Arc::new(|args: &[Value]| match arg("first", args, 0)? {
            Value::List(l) => l
                .first()
                .cloned()
                .ok_or_else(|| func_err("first", "first() called on vector with no elements".into())),
            other => Err(func_err(
                "first",
                format!("wrong type for value; expected template.queryResult; got {}", go_type(other)),
            )),
        }),
    );
    fm.insert(
        "label".into(),
        Arc::new(|args: &[Value]| {
            let name = string_arg("label", args, 0)?;
            let s = sample_arg("label", args, 1)?;
            Ok(s.field("Labels")
                .and_then(|l| l.field(&name))
                .cloned()
                .unwrap_or_else(|| str_value(String::new())))
        }),
    );
    fm.insert(
        "value".into(),
        Arc::new(|args: &[Value]| {
            Ok(sample_arg("value", args, 0)?.field("Value").cloned().unwrap_or(Value::Nil))
        }),
    );
    fm.insert(
        "strvalue".into(),
        Arc::new(|args: &[Value]| {
            let s = sample_arg("strvalue", args, 0)?;
            Ok(s.field("Labels")
                .and_then(|l| l.field("__value__"))
                .cloned()
                .unwrap_or_else(|| str_value(String::new())))
        }),
    );
    fm.insert(
        "args".into(),
        Arc::new(|args: &[Value]| {
            Ok(Value::Map(Arc::new(
                args.iter()
                    .enumerate()
                    .map(|(i, a)| (Arc::from(format!("arg{i}").as_str()), a.clone()))
                    .collect(),
            )))
        }),
    );
    fm.insert(
        "reReplaceAll".into(),
        Arc::new(|args: &[Value]| {
            let pattern = string_arg("reReplaceAll", args, 0)?;
            let repl = string_arg("reReplaceAll", args, 1)?;
            let text = string_arg("reReplaceAll", args, 2)?;
            let re = regex::Regex::new(&pattern)
                .map_err(|e| func_err("reReplaceAll", format!("regexp: Compile({pattern:?}): {e}")))?;
            Ok(str_value(re.replace_all(&text, repl.as_str()).into_owned()))
        }),
    );
    fm.insert(
        "match".into(),
        Arc::new(|args: &[Value]| {
            let pattern = string_arg("match", args, 0)?;
            let text = string_arg("match", args, 1)?;
            let re = regex::Regex::new(&pattern)
                .map_err(|e| func_err("match", format!("error parsing regexp: {e}")))?;
            Ok(Value::Bool(re.is_match(&text)))
        }),
    );
    fm.insert("safeHtml".into(), string_fn("safeHtml", str::to_string));
    fm.insert("title".into(), string_fn("title", title));
    fm.insert("toUpper".into(), string_fn("toUpper", str::to_uppercase));
    fm.insert("toLower".into(), string_fn("toLower", str::to_lowercase));
    fm.insert(
        "graphLink".into(),
        string_fn("graphLink", |e| format!("/graph?g0.expr={}&g0.tab=0", query_escape(e))),
    );
    fm.insert(
        "tableLink".into(),
        string_fn("tableLink", |e| format!("/graph?g0.expr={}&g0.tab=1", query_escape(e))),
    );
    fm.insert("urlQueryEscape".into(), string_fn("urlQueryEscape", query_escape));
    fm.insert(
        "sortByLabel".into(),
        Arc::new(|args: &[Value]| {
            let label = string_arg("sortByLabel", args, 0)?;
            let Value::List(l) = arg("sortByLabel", args, 1)? else {
                return Err(func_err(
                    "sortByLabel",
                    "wrong type for value; expected template.queryResult".into(),
                ));
            };
            let key = |v: &Value| match v.field("Labels").and_then(|l| l.field(&label)) {
                Some(Value::String(s)) => s.to_string(),
                _ => String::new(),
            };
            let mut items: Vec<Value> = l.to_vec();
            items.sort_by_key(key);
            Ok(Value::List(items.into()))
        }),
    );
    fm.insert(
        "stripPort".into(),
        string_fn("stripPort", |hp| split_host_port(hp).map_or(hp.to_string(), |(h, _)| h)),
    );
    fm.insert("stripDomain".into(), string_fn("stripDomain", strip_domain));
    fm.insert("humanize".into(), float_fn("humanize", humanize));
    fm.insert("humanize1024".into(), float_fn("humanize1024", humanize1024));
    fm.insert("humanizeDuration".into(), float_fn("humanizeDuration", humanize_duration));
    fm.insert(
        "humanizePercentage".into(),
        float_fn("humanizePercentage", |v| format!("{}%", go_g(v * 100.0, 4))),
    );
    fm.insert(
        "humanizeTimestamp".into(),
        float_fn("humanizeTimestamp", |v| {
            if v.is_finite() { go_time((v * 1e9) as i64 / 1_000_000) } else { go_g(v, 4) }
        }),
    );
    fm.insert(
        "toTime".into(),
        Arc::new(|args: &[Value]| {
            let v = to_float("toTime", args)?;
            if !v.is_finite() {
                return Err(func_err("toTime", "value is NaN or Inf".into()));
            }
            let ns = v * 1e9;
            if ns >= i64::MAX as f64 || ns < i64::MIN as f64 {
                return Err(func_err(
                    "toTime",
                    format!(
                        "{} cannot be represented as a nanoseconds timestamp since it overflows int64",
                        format_go_g(v)
                    ),
                ));
            }
            Ok(str_value(go_time(ns as i64 / 1_000_000)))
        }),
    );
    fm.insert(
        "toDuration".into(),
        Arc::new(|args: &[Value]| {
            let v = to_float("toDuration", args)?;
            Ok(str_value(go_duration(v * 1e9)))
        }),
    );
    let url = external_url.to_string();
    let path = url_path(external_url);
    fm.insert("externalURL".into(), Arc::new(move |_: &[Value]| Ok(str_value(url.clone()))));
    fm.insert("pathPrefix".into(), Arc::new(move |_: &[Value]| Ok(str_value(path.clone()))));
    fm.insert(
        "parseDuration".into(),
        Arc::new(|args: &[Value]| {
            let s = string_arg("parseDuration", args, 0)?;
            parse_duration_allow_negative(&s).map(Value::Float).map_err(|e| func_err("parseDuration", e))
        }),
    );
    // `now` and `query` depend on the evaluation; Expander adds the real ones. Parse checks need the
    // names only.
    fm.insert("now".into(), Arc::new(|_: &[Value]| Ok(Value::Float(0.0))));
    fm.insert(
        "query".into(),
        Arc::new(|_: &[Value]| Err(func_err("query", "no query function configured".into()))),
    );
    fm
}

/// Go's `fmt.Sprint` of a template value (`%v`): floats as Go's `strconv.FormatFloat(v, 'g', -1,
/// 64)`, missing values as the empty string (Prometheus's label maps are typed `map[string]string`).
fn go_print(v: &Value) -> String {
    match v {
        Value::Nil => String::new(),
        Value::Float(f) => format_go_g(*f),
        Value::String(s) => s.to_string(),
        Value::List(l) => {
            let parts: Vec<String> = l.iter().map(go_print_inner).collect();
            format!("[{}]", parts.join(" "))
        }
        Value::Map(m) => {
            let parts: Vec<String> = m.iter().map(|(k, v)| format!("{k}:{}", go_print_inner(v))).collect();
            format!("map[{}]", parts.join(" "))
        }
        other => other.to_string(),
    }
}

fn go_print_inner(v: &Value) -> String {
    match v {
        Value::Nil => "<nil>".to_string(),
        other => go_print(other),
    }
}

fn split_exp(s: &str) -> (&str, i32) {
    match s.split_once('e') {
        Some((m, e)) => (m, e.parse().unwrap_or(0)),
        None => (s, 0),
    }
}

/// Go's `fmt.Sprintf("%.<prec>g", v)`.
pub fn go_g(v: f64, prec: usize) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    let prec = prec.max(1);
    let e = format!("{:.*e}", prec - 1, v);
    let (mant, exp) = split_exp(&e);
    if exp < -4 || exp >= prec as i32 {
        let mant = trim_zeros(mant);
        format!("{mant}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
    } else {
        let decimals = (prec as i32 - 1 - exp).max(0) as usize;
        trim_zeros(&format!("{v:.decimals$}")).to_string()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.') } else { s }
}

/// Prometheus's `humanize`: SI prefixes, four significant digits.
pub fn humanize(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return go_g(v, 4);
    }
    let (v, prefix) = if v.abs() >= 1.0 {
        scale_large(v, 1000.0, ["k", "M", "G", "T", "P", "E", "Z", "Y"])
    } else {
        scale_small(v)
    };
    format!("{}{prefix}", go_g(v, 4))
}

/// Divides `v` by `base` while it is at least `base` in size, once per prefix at most; returns the
/// result and the prefix of the last division (empty for none).
fn scale_large(mut v: f64, base: f64, prefixes: [&'static str; 8]) -> (f64, &'static str) {
    let mut prefix = "";
    for p in prefixes {
        if v.abs() < base {
            break;
        }
        prefix = p;
        v /= base;
    }
    (v, prefix)
}

/// Multiplies `v` by 1000 while it is below 1 in size, once per SI prefix (`m` to `y`) at most;
/// returns the result and the prefix of the last multiplication (empty for none).
fn scale_small(mut v: f64) -> (f64, &'static str) {
    let mut prefix = "";
    for p in ["m", "u", "n", "p", "f", "a", "z", "y"] {
        if v.abs() >= 1.0 {
            break;
        }
        prefix = p;
        v *= 1000.0;
    }
    (v, prefix)
}

/// Prometheus's `humanize1024`: binary prefixes, four significant digits.
pub fn humanize1024(v: f64) -> String {
    if v.abs() <= 1.0 || !v.is_finite() {
        return go_g(v, 4);
    }
    let (v, prefix) = scale_large(v, 1024.0, ["ki", "Mi", "Gi", "Ti", "Pi", "Ei", "Zi", "Yi"]);
    format!("{}{prefix}", go_g(v, 4))
}

/// Prometheus's `humanizeDuration` of a number of seconds.
pub fn humanize_duration(mut v: f64) -> String {
    if !v.is_finite() {
        return go_g(v, 4);
    }
    if v == 0.0 {
        return format!("{}s", go_g(v, 4));
    }
    if v.abs() >= 1.0 {
        let sign = if v < 0.0 { "-" } else { "" };
        v = v.abs();
        let d = v as i64;
        let (secs, mins, hours, days) = (d % 60, (d / 60) % 60, (d / 3600) % 24, d / 86400);
        return if days != 0 {
            format!("{sign}{days}d {hours}h {mins}m {secs}s")
        } else if hours != 0 {
            format!("{sign}{hours}h {mins}m {secs}s")
        } else if mins != 0 {
            format!("{sign}{mins}m {secs}s")
        } else {
            format!("{sign}{}s", go_g(v, 4))
        };
    }
    let (v, prefix) = scale_small(v);
    format!("{}{prefix}s", go_g(v, 4))
}

/// Splits a Unix millisecond timestamp into date, time of day and milliseconds (UTC).
pub(crate) fn split_ms(ms: i64) -> ((i64, u32, u32), (i64, i64, i64), i64) {
    let secs = ms.div_euclid(1000);
    let frac = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    (civil_from_days(days), (sod / 3600, (sod / 60) % 60, sod % 60), frac)
}

/// Go's `time.Time.String()` of a UTC time with millisecond precision:
/// `2015-06-23 13:19:44.128 +0000 UTC`.
fn go_time(ms: i64) -> String {
    let ((y, mo, d), (h, mi, s), frac) = split_ms(ms);
    let mut out = format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}");
    if frac != 0 {
        let f = format!("{frac:03}");
        let _ = write!(out, ".{}", f.trim_end_matches('0'));
    }
    out.push_str(" +0000 UTC");
    out
}

/// Go's `time.Duration.String()` of a number of nanoseconds (`30m0s`, `1.5s`, `100ms`).
fn go_duration(ns: f64) -> String {
    let ns = if ns >= i64::MAX as f64 {
        i64::MAX
    } else if ns <= i64::MIN as f64 {
        i64::MIN
    } else {
        ns as i64
    };
    let text = go_duration_nanos(u128::from(ns.unsigned_abs()));
    if ns < 0 { format!("-{text}") } else { text }
}

/// Go's `time.Duration.String()` for a non-negative number of nanoseconds.
pub(crate) fn go_duration_nanos(ns: u128) -> String {
    let frac = |v: u128, digits: u32| -> String {
        let p = 10u128.pow(digits);
        let (i, f) = (v / p, v % p);
        if f == 0 {
            i.to_string()
        } else {
            let fs = format!("{f:0width$}", width = digits as usize);
            format!("{i}.{}", fs.trim_end_matches('0'))
        }
    };
    match ns {
        0 => "0s".into(),
        1..1_000 => format!("{ns}ns"),
        1_000..1_000_000 => format!("{}\u{b5}s", frac(ns, 3)),
        1_000_000..1_000_000_000 => format!("{}ms", frac(ns, 6)),
        _ => {
            let secs = ns / 1_000_000_000;
            let (h, m) = (secs / 3600, (secs / 60) % 60);
            let s = frac((secs % 60) * 1_000_000_000 + ns % 1_000_000_000, 9);
            if h > 0 {
                format!("{h}h{m}m{s}s")
            } else if m > 0 {
                format!("{m}m{s}s")
            } else {
                format!("{s}s")
            }
        }
    }
}

/// Prometheus duration syntax with an optional leading `-`, in seconds.
fn parse_duration_allow_negative(s: &str) -> Result<f64, String> {
    let (neg, rest) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s),
    };
    let d = crate::rules::duration::parse_duration(rest)?.as_secs_f64();
    Ok(if neg { -d } else { d })
}

/// Go's `url.QueryEscape`.
pub fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            _ => {
                let _ = write!(out, "%{b:02X}");
            }
        }
    }
    out
}

fn url_path(url: &str) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, r)| r);
    match after_scheme.find('/') {
        Some(i) => {
            let p = &after_scheme[i..];
            p.split(['?', '#']).next().unwrap_or("").to_string()
        }
        None => String::new(),
    }
}

/// Go's `net.SplitHostPort` (host, port), or `None` when the input has no port.
fn split_host_port(hp: &str) -> Option<(String, String)> {
    if let Some(rest) = hp.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = after.strip_prefix(':')?;
        return Some((host.to_string(), port.to_string()));
    }
    let (host, port) = hp.rsplit_once(':')?;
    if host.contains(':') {
        return None;
    }
    Some((host.to_string(), port.to_string()))
}

fn strip_domain(hp: &str) -> String {
    let (host, port) = split_host_port(hp).unwrap_or_else(|| (hp.to_string(), String::new()));
    if host.parse::<std::net::IpAddr>().is_ok() {
        return hp.to_string();
    }
    let short = host.split('.').next().unwrap_or("").to_string();
    if port.is_empty() {
        short
    } else if short.contains(':') {
        format!("[{short}]:{port}")
    } else {
        format!("{short}:{port}")
    }
}

/// Title case as `cases.Title(language.AmericanEnglish, cases.NoLower)`: the first letter of each
/// word upper-cased, the rest unchanged.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_word = false;
    for c in s.chars() {
        if c.is_alphanumeric() || c == '\'' || c == '_' {
            if in_word {
                out.push(c);
            } else {
                out.extend(c.to_uppercase());
            }
            in_word = true;
        } else {
            out.push(c);
            in_word = false;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: &str) {
        let mut data = TemplateData::default();
        data.labels.insert("instance".into(), "node1.example.com:9100".into());
        data.labels.insert("job".into(), "node".into());
        data.external_labels.insert("cluster".into(), "eu1".into());
        data.external_url = "http://prom.example:9090/prefix".into();
        data.value = 0.12345;
        let q: TemplateQueryFn = Arc::new(|q: &str, ts: i64| {
            if q == "fail" {
                return Err("boom".into());
            }
            if q == "empty" {
                return Ok(vec![]);
            }
            let mut l = BTreeMap::new();
            l.insert("__name__".into(), q.to_string());
            l.insert("i".into(), "b".into());
            let mut l2 = l.clone();
            l2.insert("i".into(), "a".into());
            Ok(vec![
                TemplateSample { labels: l, value: ts as f64 },
                TemplateSample { labels: l2, value: 2.0 },
            ])
        });
        let got = Expander::new("__alert_Test", data, 1_435_065_584_128).with_query(q).expand(text);
        let got = match got {
            Ok(s) => s,
            Err(e) => format!("ERR {e}"),
        };
        assert_eq!(got, expected, "template {text:?}");
    }

    #[test]
    fn expansions() {
        for (t, e) in [
            ("{{ $labels.job }}", "node"),
            ("{{ $labels.missing }}x", "x"),
            ("{{ index $labels \"missing\" }}y", "y"),
            ("{{ if eq $labels.severity \"critical\" }}crit{{ else }}other{{ end }}", "other"),
            ("{{ if ne $labels.severity \"\" }}has{{ else }}none{{ end }}", "none"),
            ("{{ len $labels.severity }}", "0"),
            ("{{ printf \"%s!\" $labels.severity }}", "!"),
            ("{{ index $labels \"severity\" | printf \"%q\" }}", "\"\""),
            ("{{ eq (index $labels \"severity\") \"\" }}", "true"),
            ("{{ .Labels.job }} {{ $.Labels.job }}", "node node"),
            ("{{ range query \"up\" }}{{ .Labels.i }}{{ .Labels.none }}{{ end }}", "ba"),
            ("{{ (query \"up\" | first).Labels.i }}", "b"),
            (
                "{{ humanize \"x\" }}",
                "ERR error executing template __alert_Test: template: __alert_Test:1:115: executing \"__alert_Test\" at <humanize \"x\">: error calling humanize: strconv.ParseFloat: parsing \"x\": invalid syntax",
            ),
            (
                "{{ $value | humanize1024 | toUpper }} {{ \"y\" | humanizeDuration }}",
                "ERR error executing template __alert_Test: template: __alert_Test:1:159: executing \"__alert_Test\" at <humanizeDuration>: error calling humanizeDuration: strconv.ParseFloat: parsing \"y\": invalid syntax",
            ),
            (
                "{{ first (query \"up\" ) | value }}{{ (query \"empty\" | first) }}",
                "ERR error executing template __alert_Test: template: __alert_Test:1:165: executing \"__alert_Test\" at <first>: error calling first: first() called on vector with no elements",
            ),
            ("{{ $value }}", "0.12345"),
            ("{{ $value | humanize }}", "123.5m"),
            ("{{ $value | humanizePercentage }}", "12.35%"),
            ("{{ $value | humanizeDuration }}", "123.5ms"),
            ("{{ 1234567.0 | humanize }}", "1.235M"),
            ("{{ 1234567 | humanize1024 }}", "1.177Mi"),
            ("{{ 1048576 | humanize1024 }}", "1Mi"),
            ("{{ \"1234567\" | humanizeDuration }}", "14d 6h 56m 7s"),
            ("{{ 60.5 | humanizeDuration }}", "1m 0s"),
            ("{{ 1435065584.128 | humanizeTimestamp }}", "2015-06-23 13:19:44.128 +0000 UTC"),
            ("{{ 0 | humanizeTimestamp }}", "1970-01-01 00:00:00 +0000 UTC"),
            ("{{ 1800 | toDuration }}", "30m0s"),
            (
                "{{ \"one\" | humanize }}",
                "ERR error executing template __alert_Test: template: __alert_Test:1:123: executing \"__alert_Test\" at <humanize>: error calling humanize: strconv.ParseFloat: parsing \"one\": invalid syntax",
            ),
            ("{{ $externalLabels.cluster }}", "eu1"),
            (
                "{{ $externalURL }} {{ externalURL }} {{ pathPrefix }}",
                "http://prom.example:9090/prefix http://prom.example:9090/prefix /prefix",
            ),
            ("{{ $labels.instance | stripPort }}", "node1.example.com"),
            ("{{ $labels.instance | stripDomain }}", "node1:9100"),
            ("{{ \"10.0.0.1:80\" | stripDomain }}", "10.0.0.1:80"),
            ("{{ \"aa bb CC\" | title }}", "Aa Bb CC"),
            ("{{ toUpper \"abc\" }}{{ toLower \"DEF\" }}", "ABCdef"),
            ("{{ reReplaceAll \"(.*):.*\" \"$1\" $labels.instance }}", "node1.example.com"),
            ("{{ if match \"^node\" $labels.job }}yes{{ end }}", "yes"),
            ("{{ printf \"%.2f\" $value }}", "0.12"),
            ("{{ with query \"up\" }}{{ . | first | value }}{{ end }}", "1.435065584128e+12"),
            ("{{ range sortByLabel \"i\" (query \"up\") }}{{ label \"i\" . }}{{ end }}", "ab"),
            (
                "{{ query \"fail\" }}",
                "ERR error executing template __alert_Test: template: __alert_Test:1:115: executing \"__alert_Test\" at <query \"fail\">: error calling query: boom",
            ),
            ("{{ now }}", "1.435065584128e+09"),
            ("{{ tableLink \"up{a=\\\"b c\\\"}\" }}", "/graph?g0.expr=up%7Ba%3D%22b+c%22%7D&g0.tab=1"),
            ("{{ parseDuration \"-1h2m10ms\" }}", "-3720.01"),
            ("{{ (args 1 \"x\").arg1 }}", "x"),
            (
                "{{ $label.job }}",
                "ERR error parsing template __alert_Test: template: __alert_Test:1: undefined variable \"$label\"",
            ),
            (
                "{{ critical }}",
                "ERR error parsing template __alert_Test: template: __alert_Test:1: function \"critical\" not defined",
            ),
            ("no actions", "no actions"),
            (
                "{{ range $i, $x := query \"up\" }}{{ $i }}{{ end }}{{ $x }}",
                "ERR error parsing template __alert_Test: template: __alert_Test:1: undefined variable \"$x\"",
            ),
        ] {
            check(t, e);
        }
    }

    #[test]
    fn number_formats() {
        for (v, e) in [
            (999999.0, "999999"),
            (1234567.0, "1.234567e+06"),
            (100000.0, "100000"),
            (0.0001, "0.0001"),
            (1e-5, "1e-05"),
            (1.0, "1"),
            (f64::NAN, "NaN"),
            (f64::INFINITY, "+Inf"),
        ] {
            assert_eq!(format_go_g(v), e);
        }
        assert_eq!(humanize(i64::MAX as f64), "9.223E");
        assert_eq!(humanize(0.12), "120m");
        assert_eq!(humanize_duration(-(2.0 * 86400.0 + 3.0 * 3600.0 + 4.0 * 60.0 + 5.0)), "-2d 3h 4m 5s");
        assert_eq!(humanize_duration(0.0001), "100us");
        assert_eq!(humanize_duration(1.2345), "1.234s");
        assert_eq!(go_g(1234567.0 * 100.0, 4), "1.235e+08");
        assert_eq!(go_g(0.0, 4), "0");
    }
}
