//! Rule unit tests in promtool's format (`promtool test rules`): the same test files, the same
//! verdicts, the same failure texts, JUnit XML.
//!
//! A test file names rule files and holds test groups: input series in series notation, alerts
//! expected to fire at given times and expressions with their expected results. Each group loads
//! its series lazily, evaluates every rule group at each step of `evaluation_interval`, checks the
//! alerts right after the step at or before their `eval_time`, and finally runs the expressions
//! against everything the rules wrote (see `docs/configuration/unit_testing_rules.md` upstream).
//!
//! From a Rust test:
//!
//! ```
//! use ferroprom::unittest::{Options, run_file};
//!
//! let dir = std::env::temp_dir().join(format!("ferroprom-unittest-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir)?;
//! std::fs::write(dir.join("rules.yml"), "groups:\n- name: g\n  rules:\n  - record: job:up:sum\n    expr: sum by (job) (up)\n  - alert: Down\n    expr: up == 0\n    for: 2m\n    labels: {severity: page}\n")?;
//! std::fs::write(dir.join("test.yml"), r#"
//! rule_files: [rules.yml]
//! tests:
//! - name: down
//!   input_series:
//!   - {series: 'up{job="api", instance="a"}', values: '1 0x5'}
//!   alert_rule_test:
//!   - {eval_time: 2m, alertname: Down}
//!   - eval_time: 3m
//!     alertname: Down
//!     exp_alerts: [{exp_labels: {severity: page, job: api, instance: a}}]
//!   promql_expr_test:
//!   - expr: job:up:sum
//!     eval_time: 1m
//!     exp_samples: [{labels: 'job:up:sum{job="api"}', value: 0}]
//! "#)?;
//!
//! let report = run_file(dir.join("test.yml"), &Options::default());
//! assert!(report.passed(), "{report}");
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod compare;
mod evaluation;
pub mod format;
mod jsondiff;
pub mod junit;
mod lazy_loader;
mod plain_values;

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use regex::Regex;

use crate::parser::ParseOptions;

/// How tests run; the defaults are `promtool test rules`'s.
#[derive(Debug, Clone)]
pub struct Options {
    /// Only test groups whose name matches one of these regular expressions (unanchored) run; all
    /// run when empty (`--run`).
    pub run: Vec<String>,
    /// Print each group's start, duration and a dump of every series (`--debug`).
    pub debug: bool,
    /// Show alert mismatches as a JSON diff (`--diff`).
    pub diff: bool,
    /// Colour the diff (when printing to a terminal).
    pub color: bool,
    /// Accept unknown keys in rule files (`--ignore-unknown-fields`); the test file itself is
    /// always decoded strictly.
    pub ignore_unknown_fields: bool,
    /// Accept the `@` modifier in queries (on in promtool).
    pub enable_at_modifier: bool,
    /// Accept negative offsets (on in promtool).
    pub enable_negative_offset: bool,
    /// Delayed `__name__` removal (`--enable-feature=promql-delayed-name-removal`).
    pub delayed_name_removal: bool,
    /// The PromQL features rule files may use (`--enable-feature`).
    pub rule_parse_options: ParseOptions,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            run: Vec::new(),
            debug: false,
            diff: false,
            color: false,
            ignore_unknown_fields: false,
            enable_at_modifier: true,
            enable_negative_offset: true,
            delayed_name_removal: false,
            rule_parse_options: ParseOptions { duration_expressions: true, ..ParseOptions::default() },
        }
    }
}

/// The outcome of one test group that ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupReport {
    /// The group's name, or `unnamed#<index>`.
    pub name: String,
    /// Its failures, in promtool's words; empty when it passed.
    pub errors: Vec<String>,
}

/// The outcome of one test file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileReport {
    /// The test file.
    pub path: PathBuf,
    /// Lines written to standard error while the file ran (`WARNING: no file match pattern`,
    /// `--debug` output), in order.
    pub log: Vec<String>,
    /// A problem with the file as a whole (unreadable, bad YAML, bad glob, a group listed twice in
    /// `group_eval_order`); then no group ran.
    pub file_error: Option<String>,
    /// The groups that ran (those selected by `run`).
    pub groups: Vec<GroupReport>,
    /// When the file's groups started running (`2006-01-02T15:04:05`, UTC), for JUnit.
    pub timestamp: String,
}

impl FileReport {
    /// Whether every group passed.
    pub fn passed(&self) -> bool {
        self.file_error.is_none() && self.groups.iter().all(|g| g.errors.is_empty())
    }

    /// Every error, as promtool lists them.
    pub fn errors(&self) -> impl Iterator<Item = &str> {
        self.file_error
            .iter()
            .map(String::as_str)
            .chain(self.groups.iter().flat_map(|g| g.errors.iter().map(String::as_str)))
    }

    /// Writes promtool's output for the file: the log and `  FAILED:` with the errors on `err`,
    /// `  SUCCESS` and the separating blank lines on `out`.
    pub fn write_to(&self, out: &mut dyn Write, err: &mut dyn Write) -> std::io::Result<()> {
        for line in &self.log {
            writeln!(err, "{line}")?;
        }
        if self.passed() {
            writeln!(out, "  SUCCESS")?;
        } else {
            err.flush()?;
            writeln!(err, "  FAILED:")?;
            for e in self.errors() {
                writeln!(err, "{e}")?;
                err.flush()?;
                writeln!(out)?;
                out.flush()?;
            }
        }
        writeln!(out)?;
        out.flush()
    }
}

impl fmt::Display for FileReport {
    /// `<path>: SUCCESS`, or `<path>: FAILED:` followed by every error.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.passed() {
            return write!(f, "{}: SUCCESS", self.path.display());
        }
        write!(f, "{}: FAILED:", self.path.display())?;
        for e in self.errors() {
            write!(f, "\n{e}")?;
        }
        Ok(())
    }
}

/// The outcome of a run over several files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// One report per file, in order.
    pub files: Vec<FileReport>,
}

impl Report {
    /// Whether every file passed.
    pub fn passed(&self) -> bool {
        self.files.iter().all(FileReport::passed)
    }

    /// promtool's exit status: 0 when every file passed, 1 otherwise.
    pub fn exit_code(&self) -> u8 {
        if self.passed() { 0 } else { 1 }
    }

    /// The JUnit XML promtool writes with `--junit`.
    pub fn junit_xml(&self) -> String {
        junit::render(&self.files)
    }
}

/// Why a run could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    /// The `--run` patterns do not form a regular expression.
    #[error("invalid --run pattern: {0}")]
    BadRunPattern(String),
}

/// Runs test files in order (each independently, all of them even when some fail).
///
/// # Errors
///
/// Only when `opts.run` is not a valid regular expression.
pub fn run<P: AsRef<Path>>(files: &[P], opts: &Options) -> Result<Report, RunError> {
    let run = run_regex(opts)?;
    Ok(Report { files: files.iter().map(|f| run_file_with(f.as_ref(), opts, run.as_ref())).collect() })
}

fn run_regex(opts: &Options) -> Result<Option<Regex>, RunError> {
    if opts.run.is_empty() {
        return Ok(None);
    }
    Regex::new(&opts.run.join("|")).map(Some).map_err(|e| RunError::BadRunPattern(e.to_string()))
}

/// Runs one test file. An invalid `opts.run` pattern is reported as the file's error.
pub fn run_file(path: impl AsRef<Path>, opts: &Options) -> FileReport {
    match run_regex(opts) {
        Ok(run) => run_file_with(path.as_ref(), opts, run.as_ref()),
        Err(e) => FileReport {
            path: path.as_ref().to_path_buf(),
            log: Vec::new(),
            file_error: Some(e.to_string()),
            groups: Vec::new(),
            timestamp: String::new(),
        },
    }
}

fn run_file_with(path: &Path, opts: &Options, run: Option<&Regex>) -> FileReport {
    let mut report = FileReport {
        path: path.to_path_buf(),
        log: Vec::new(),
        file_error: None,
        groups: Vec::new(),
        timestamp: String::new(),
    };
    let text = match std::fs::read(path) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => {
            report.file_error = Some(read_error(path, &e));
            return report;
        }
    };
    let file = match format::decode(&text) {
        Ok(f) => f,
        Err(e) => {
            report.file_error = Some(e);
            return report;
        }
    };
    let base = path.parent().unwrap_or(Path::new(""));
    let rule_files = match resolve_rule_files(base, &file.rule_files, &mut report.log) {
        Ok(r) => r,
        Err(e) => {
            report.file_error = Some(e);
            return report;
        }
    };
    let evaluation_interval = file.evaluation_interval.map(|d| d.0).filter(|&d| d > 0).unwrap_or(60_000);
    report.timestamp = junit::now_timestamp();
    let mut group_order = BTreeMap::new();
    for (i, name) in file.group_eval_order.iter().enumerate() {
        if group_order.insert(name.clone(), i).is_some() {
            report.file_error = Some(format!("group name repeated in evaluation order: {name}"));
            return report;
        }
    }
    let settings = evaluation::FileSettings {
        evaluation_interval,
        group_order: &group_order,
        fuzzy: file.fuzzy_compare,
        rule_files: &rule_files,
    };
    for (i, tg) in file.tests.iter().enumerate() {
        if run.is_some_and(|r| !r.is_match(&tg.name)) {
            continue;
        }
        let name = if tg.name.is_empty() { format!("unnamed#{i}") } else { tg.name.clone() };
        let started = std::time::Instant::now();
        if opts.debug {
            report.log.push(format!("DEBUG: Starting test {name}"));
        }
        let outcome = evaluation::run_group(tg, &settings, opts);
        report.log.extend(outcome.debug);
        if opts.debug {
            report.log.push(format!(
                "DEBUG: Test {name} finished, took {}",
                crate::rules::expansion::go_duration_nanos(started.elapsed().as_nanos())
            ));
        }
        report.groups.push(GroupReport { name, errors: outcome.errors });
    }
    report
}

/// Go's wording of a failed read.
fn read_error(path: &Path, e: &std::io::Error) -> String {
    let p = path.display();
    match e.kind() {
        std::io::ErrorKind::NotFound => format!("open {p}: no such file or directory"),
        std::io::ErrorKind::PermissionDenied => format!("open {p}: permission denied"),
        std::io::ErrorKind::IsADirectory => format!("read {p}: is a directory"),
        _ => format!("open {p}: {e}"),
    }
}

/// Joins relative rule-file patterns to the test file's directory and expands the globs; a pattern
/// matching nothing logs `  WARNING: no file match pattern <pattern>`.
fn resolve_rule_files(
    base: &Path,
    patterns: &[String],
    log: &mut Vec<String>,
) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: false,
    };
    for p in patterns {
        let text = if p.is_empty() || Path::new(p).is_absolute() {
            p.clone()
        } else {
            let dir = base.to_string_lossy();
            clean_path(&format!("{}/{p}", if dir.is_empty() { "." } else { &dir }))
        };
        let matches = glob::glob_with(&text, options).map_err(|_| "syntax error in pattern".to_string())?;
        let found: Vec<PathBuf> = matches.filter_map(Result::ok).collect();
        if found.is_empty() {
            log.push(format!("  WARNING: no file match pattern {text}"));
        }
        out.extend(found);
    }
    Ok(out)
}

/// Go's `filepath.Clean`: the shortest equivalent path (no `.`, no `x/..`, no repeated `/`).
fn clean_path(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

#[cfg(test)]
mod tests {
    use super::clean_path;

    #[test]
    fn paths_clean_like_go() {
        assert_eq!(clean_path("./testdata/rules.yml"), "testdata/rules.yml");
        assert_eq!(clean_path("/rules.yml"), "/rules.yml");
        assert_eq!(clean_path("a/../../b//c/."), "../b/c");
        assert_eq!(clean_path("/../x"), "/x");
    }
}
