//! `ferroprom test rules`: rule unit tests, as `promtool test rules` runs them.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use ferroprom::parser::ParseOptions;
use ferroprom::unittest::{Options, run};

/// Arguments of `ferroprom test`.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// File path to store JUnit XML test results.
    #[arg(long, global = true, value_name = "FILE")]
    junit: Option<PathBuf>,
    #[command(subcommand)]
    what: TestCommand,
}

#[derive(Debug, Subcommand)]
enum TestCommand {
    /// Unit tests for rules (promtool's test file format).
    Rules(RulesArgs),
}

#[derive(Debug, Args)]
struct RulesArgs {
    /// Only run test groups whose names match this regular expression. May be repeated.
    #[arg(long, value_name = "REGEX")]
    run: Vec<String>,
    /// Print each test group's start and duration and a dump of all its series.
    #[arg(long)]
    debug: bool,
    /// Show alert mismatches as a differential JSON output (coloured on a terminal).
    #[arg(long)]
    diff: bool,
    /// Ignore unknown fields in the rule files (the test files are always read strictly).
    #[arg(long)]
    ignore_unknown_fields: bool,
    /// Comma-separated Prometheus feature flags: promql-experimental-functions,
    /// promql-extended-range-selectors, promql-binop-fill-modifiers, promql-duration-expr,
    /// promql-delayed-name-removal. May be repeated.
    #[arg(long = "enable-feature", value_name = "NAME")]
    features: Vec<String>,
    /// The test files.
    #[arg(required = true, value_name = "FILE")]
    files: Vec<PathBuf>,
}

/// Runs `ferroprom test rules`: prints promtool's per-file verdicts and returns 0 when every file
/// passed, 1 otherwise.
pub fn test_rules(args: &TestArgs) -> ExitCode {
    let TestCommand::Rules(rules) = &args.what;
    let mut opts = Options {
        run: rules.run.clone(),
        debug: rules.debug,
        diff: rules.diff,
        color: std::io::stdout().is_terminal(),
        ignore_unknown_fields: rules.ignore_unknown_fields,
        ..Options::default()
    };
    let mut parse = ParseOptions { duration_expressions: true, ..ParseOptions::default() };
    for feature in rules.features.iter().flat_map(|f| f.split(',')) {
        match feature {
            "promql-experimental-functions" => parse.experimental_functions = true,
            "promql-extended-range-selectors" => parse.extended_range_selectors = true,
            "promql-binop-fill-modifiers" => parse.binop_fill_modifiers = true,
            "promql-delayed-name-removal" => opts.delayed_name_removal = true,
            "promql-duration-expr" | "" => {}
            other => print!("  WARNING: Unknown feature passed to --enable-feature: {other}"),
        }
    }
    opts.rule_parse_options = parse;
    // promtool (kingpin's ExistingFiles) refuses missing paths and directories before running.
    for f in &rules.files {
        if !f.exists() {
            eprintln!("ferroprom: error: path '{}' does not exist, try --help", f.display());
            return ExitCode::from(1);
        }
        if f.is_dir() {
            eprintln!("ferroprom: error: '{}' is a directory, try --help", f.display());
            return ExitCode::from(1);
        }
    }
    let report = match run(&rules.files, &opts) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("ferroprom: error: {e}, try --help");
            return ExitCode::from(1);
        }
    };
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    for f in &report.files {
        if let Err(e) = f.write_to(&mut out, &mut err) {
            eprintln!("ferroprom: error: {e}");
            return ExitCode::from(1);
        }
    }
    if let Some(path) = &args.junit {
        let written =
            std::fs::File::create(path).and_then(|mut f| f.write_all(report.junit_xml().as_bytes()));
        if let Err(e) = written {
            eprintln!("failed to write JUnit XML: {e}");
        }
    }
    ExitCode::from(report.exit_code())
}
