//! Warnings and infos raised while evaluating, with the position of the expression that raised
//! them, deduplicated by text as Prometheus does.

use crate::parser::Span;

/// One annotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Annotation {
    /// `true` for a warning, `false` for an info.
    pub warning: bool,
    /// The message without the `PromQL warning: `/`PromQL info: ` prefix.
    pub text: String,
    /// The expression that raised it.
    pub span: Span,
    /// Repeats of this annotation are counted (`(N occurrences)`) rather than merged.
    pub counted: bool,
}

impl Annotation {
    /// A warning.
    pub fn warning(text: impl Into<String>, span: Span) -> Annotation {
        Annotation { warning: true, text: text.into(), span, counted: false }
    }

    /// An info.
    pub fn info(text: impl Into<String>, span: Span) -> Annotation {
        Annotation { warning: false, text: text.into(), span, counted: false }
    }

    /// The message as Prometheus prints it, with the position in `query` (`(line:col)`).
    pub fn render(&self, query: &str) -> String {
        self.render_counted(query, 1)
    }

    fn render_counted(&self, query: &str, count: usize) -> String {
        let prefix = if self.warning { "PromQL warning: " } else { "PromQL info: " };
        let (line, col) = position(query, self.span.start);
        if count > 1 {
            format!("{prefix}{} ({count} occurrences) ({line}:{col})", self.text)
        } else {
            format!("{prefix}{} ({line}:{col})", self.text)
        }
    }
}

/// 1-based line and column of byte offset `pos` in `query`.
fn position(query: &str, pos: usize) -> (usize, usize) {
    let pos = pos.min(query.len());
    let before = &query.as_bytes()[..pos];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let col = match before.iter().rposition(|&b| b == b'\n') {
        Some(nl) => pos - nl,
        None => pos + 1,
    };
    (line, col)
}

/// The annotations of one query; the latest annotation with a given text wins.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Annotations {
    items: Vec<(Annotation, usize)>,
}

impl Annotations {
    /// Adds `a`, replacing an earlier one with the same kind and text.
    pub fn add(&mut self, a: Annotation) {
        if let Some((old, n)) =
            self.items.iter_mut().find(|(o, _)| o.warning == a.warning && o.text == a.text)
        {
            if a.counted {
                *n += 1;
            }
            *old = a;
        } else {
            self.items.push((a, 1));
        }
    }

    /// All annotations, in the order first raised.
    pub fn iter(&self) -> impl Iterator<Item = &Annotation> {
        self.items.iter().map(|(a, _)| a)
    }

    /// The warnings, rendered against `query`.
    pub fn warnings(&self, query: &str) -> Vec<String> {
        self.items.iter().filter(|(a, _)| a.warning).map(|(a, n)| a.render_counted(query, *n)).collect()
    }

    /// The infos, rendered against `query`.
    pub fn infos(&self, query: &str) -> Vec<String> {
        self.items.iter().filter(|(a, _)| !a.warning).map(|(a, n)| a.render_counted(query, *n)).collect()
    }
}
