//! JUnit XML as promtool writes it with `--junit`: one `<testsuite>` per test file, one
//! `<testcase>` per test group that ran, a `<failure>` per error, file-level problems as the last
//! case's `<error>`; encoded on one line as Go's `encoding/xml` encodes it.

use super::FileReport;

/// The current time as `2006-01-02T15:04:05` (UTC).
pub(crate) fn now_timestamp() -> String {
    let secs =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    chrono::DateTime::from_timestamp(secs, 0)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S").to_string())
        .unwrap_or_default()
}

/// Escapes text as Go's `xml.EscapeText` does (quotes, tabs and newlines as character references;
/// characters XML cannot hold as U+FFFD).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("&#34;"),
            '\'' => out.push_str("&#39;"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\t' => out.push_str("&#x9;"),
            '\n' => out.push_str("&#xA;"),
            '\r' => out.push_str("&#xD;"),
            c if in_character_range(c) => out.push(c),
            _ => out.push('\u{FFFD}'),
        }
    }
    out
}

fn in_character_range(c: char) -> bool {
    matches!(c, '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..='\u{10FFFF}')
}

struct Case {
    name: String,
    failures: Vec<String>,
    error: Option<String>,
}

/// The XML document for the given file reports.
pub(crate) fn render(files: &[FileReport]) -> String {
    let mut out = String::from("<testsuites>");
    for f in files {
        let mut cases: Vec<Case> = f
            .groups
            .iter()
            .map(|g| Case { name: g.name.clone(), failures: g.errors.clone(), error: None })
            .collect();
        let failures: usize = f.groups.iter().map(|g| g.errors.len()).sum();
        let mut errors = 0;
        if let Some(e) = &f.file_error {
            errors = 1;
            if cases.is_empty() {
                cases.push(Case { name: "unknown".into(), failures: Vec::new(), error: None });
            }
            if let Some(last) = cases.last_mut() {
                last.error = Some(e.clone());
            }
        }
        out.push_str(&format!(
            "<testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"0\" timestamp=\"{}\">",
            escape(&f.path.to_string_lossy()),
            cases.len(),
            escape(&f.timestamp)
        ));
        for c in &cases {
            out.push_str(&format!("<testcase name=\"{}\">", escape(&c.name)));
            for fl in &c.failures {
                out.push_str(&format!("<failure>{}</failure>", escape(fl)));
            }
            if let Some(e) = c.error.as_ref().filter(|e| !e.is_empty()) {
                out.push_str(&format!("<error>{}</error>", escape(e)));
            }
            out.push_str("</testcase>");
        }
        out.push_str("</testsuite>");
    }
    out.push_str("</testsuites>");
    out
}
