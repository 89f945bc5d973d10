//! `EXPLAIN` text: one line per plan node, children indented.

use std::fmt;

use crate::plan::{Node, Plan, Selector};

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.params;
        writeln!(f, "Query start={} end={} step={} lookback={}", p.start, p.end, p.step, p.lookback)?;
        write_node(f, &self.root, 1)
    }
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_node(f, self, 0)
    }
}

fn selector_text(s: &Selector) -> String {
    let matchers: Vec<String> = s.matchers.iter().map(|m| m.to_string()).collect();
    let mut out = format!("{{{}}}", matchers.join(", "));
    if s.offset != 0 {
        out.push_str(&format!(" offset={}", s.offset));
    }
    if let Some(at) = s.at {
        out.push_str(&format!(" at={at}"));
    }
    if s.anchored {
        out.push_str(" anchored");
    }
    if s.smoothed {
        out.push_str(" smoothed");
    }
    out.push_str(&format!(" [{}, {}]", s.mint, s.maxt));
    out
}

fn write_node(f: &mut fmt::Formatter<'_>, node: &Node, depth: usize) -> fmt::Result {
    let indent = "  ".repeat(depth);
    match node {
        Node::Number(v) => writeln!(f, "{indent}Number {v}")?,
        Node::String(s) => writeln!(f, "{indent}String {:?}", s.value)?,
        Node::VectorSelector(s) => writeln!(f, "{indent}VectorSelector {}", selector_text(s))?,
        Node::MatrixSelector(m) => {
            writeln!(f, "{indent}MatrixSelector range={} {}", m.range, selector_text(&m.selector))?
        }
        Node::Subquery(s) => {
            write!(f, "{indent}Subquery range={} step={}", s.range, s.step)?;
            if s.offset != 0 {
                write!(f, " offset={}", s.offset)?;
            }
            if let Some(at) = s.at {
                write!(f, " at={at}")?;
            }
            writeln!(f)?;
        }
        Node::Call(c) => writeln!(f, "{indent}Call {}", c.func.name)?,
        Node::Aggregate(a) => {
            let kind = if a.without { "without" } else { "by" };
            writeln!(f, "{indent}Aggregate {} {kind} ({})", a.op.as_str(), a.grouping.join(", "))?
        }
        Node::Binary(b) => {
            write!(f, "{indent}Binary {}", b.op.as_str())?;
            if b.return_bool {
                write!(f, " bool")?;
            }
            if let Some(m) = &b.matching {
                let kind = if m.on { "on" } else { "ignoring" };
                write!(f, " {} {kind}({})", m.card.as_str(), m.labels.join(", "))?;
                if !m.include.is_empty() {
                    write!(f, " include({})", m.include.join(", "))?;
                }
            }
            writeln!(f)?;
        }
        Node::Negate(..) => writeln!(f, "{indent}Negate")?,
        Node::StepInvariant(_) => writeln!(f, "{indent}StepInvariant")?,
    }
    for c in node.children() {
        write_node(f, c, depth + 1)?;
    }
    Ok(())
}
