//! `promtool check rules`: checks rule files (and PrometheusRule manifests) and reports in promtool's
//! words and layout.
//!
//! For each input, `Checking <name>` goes to `out`; then either `  SUCCESS: <n> rules found` and an
//! empty line (to `out`), or `  FAILED:` and one error per line (to `err`). Lint findings (duplicate
//! rules) are reported as failures prefixed `lint error `, but only make the check fail with
//! [`CheckOptions::lint_fatal`].
//!
//! ```
//! use ferroprom::rules::check::{CheckInput, CheckOptions, check_rules};
//!
//! let text = "groups:\n- name: g\n  rules:\n  - record: a:b\n    expr: vector(1)\n";
//! let (mut out, mut err) = (Vec::new(), Vec::new());
//! let outcome = check_rules(&[CheckInput::Stdin(text.to_string())], &CheckOptions::default(), &mut out, &mut err)?;
//! assert_eq!(String::from_utf8_lossy(&out), "Checking standard input\n  SUCCESS: 1 rules found\n\n");
//! assert_eq!(outcome.exit_code(), 0);
//! # Ok::<(), std::io::Error>(())
//! ```

use std::io::{self, Write};
use std::path::PathBuf;

use super::lint::{duplicate_rules, duplicates_message};
use super::{LoadOptions, LoadedFile, RuleError, load_file, load_text};

/// What `check rules` checks and how strictly.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// How files are read.
    pub load: LoadOptions,
    /// Report rules that share a name and label set (`--lint=duplicate-rules`, the default).
    pub lint_duplicates: bool,
    /// Make lint findings fail the check with exit code 3 (`--lint-fatal`).
    pub lint_fatal: bool,
}

impl Default for CheckOptions {
    fn default() -> CheckOptions {
        CheckOptions { load: LoadOptions::default(), lint_duplicates: true, lint_fatal: false }
    }
}

/// One thing to check.
#[derive(Debug, Clone)]
pub enum CheckInput {
    /// A file, named in the output by its path as given.
    File(PathBuf),
    /// Text read from standard input, named `standard input`.
    Stdin(String),
}

/// The result of a check run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CheckOutcome {
    /// Something was reported (errors or lint findings).
    pub failed: bool,
    /// Something other than a lint finding was reported.
    pub has_errors: bool,
    /// Whether lint findings are fatal.
    pub lint_fatal: bool,
}

impl CheckOutcome {
    /// promtool's exit code: 1 for errors, 3 for lint findings under `--lint-fatal`, else 0.
    pub fn exit_code(&self) -> u8 {
        if self.failed && self.has_errors {
            1
        } else if self.failed && self.lint_fatal {
            3
        } else {
            0
        }
    }
}

/// Checks every input in order, writing promtool's report to `out` and `err`.
pub fn check_rules<O: Write, E: Write>(
    inputs: &[CheckInput],
    options: &CheckOptions,
    out: &mut O,
    err: &mut E,
) -> io::Result<CheckOutcome> {
    let mut outcome = CheckOutcome { lint_fatal: options.lint_fatal, ..CheckOutcome::default() };
    for input in inputs {
        let loaded: Result<LoadedFile, Vec<RuleError>> = match input {
            CheckInput::File(path) => {
                writeln!(out, "Checking {}", path.display())?;
                load_file(path, &options.load)
            }
            CheckInput::Stdin(text) => {
                writeln!(out, "Checking standard input")?;
                load_text(text, None, &options.load)
            }
        };
        let loaded = match loaded {
            Ok(loaded) => loaded,
            Err(errors) => {
                outcome.failed = true;
                outcome.has_errors = true;
                writeln!(err, "  FAILED:")?;
                for e in errors {
                    writeln!(err, "{e}")?;
                }
                continue;
            }
        };
        for warning in &loaded.warnings {
            writeln!(err, "  WARNING: {warning}")?;
        }
        if let Some(selection) = &loaded.manifests {
            for skipped in &selection.skipped {
                writeln!(out, "  SKIPPED: PrometheusRule {skipped} (not selected)")?;
            }
        }
        let duplicates = if options.lint_duplicates { duplicate_rules(&loaded.groups) } else { Vec::new() };
        if duplicates.is_empty() {
            let n: usize = loaded.groups.iter().map(|g| g.rules.len()).sum();
            writeln!(out, "  SUCCESS: {n} rules found")?;
        } else {
            outcome.failed = true;
            writeln!(err, "  FAILED:")?;
            writeln!(err, "lint error {}", duplicates_message(&duplicates))?;
        }
        writeln!(out)?;
    }
    Ok(outcome)
}
