//! `ferroprom check rules`: promtool's `check rules`, also for PrometheusRule manifests.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};
use ferroprom::parser::ParseOptions;
use ferroprom::rules::LoadOptions;
use ferroprom::rules::check::{CheckInput, CheckOptions, check_rules as run_check};
use ferroprom::rules::manifest::Selector;

/// Arguments of `ferroprom check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(subcommand)]
    what: CheckCommand,
}

#[derive(Debug, Subcommand)]
enum CheckCommand {
    /// Check if the rule files are valid or not.
    Rules(RulesArgs),
}

#[derive(Debug, Args)]
struct RulesArgs {
    /// The rule files (or PrometheusRule manifests) to check; standard input when none is given.
    files: Vec<PathBuf>,
    /// Linting checks to apply. Available options are: all, duplicate-rules, none. Use --lint=none to
    /// disable linting.
    #[arg(long, default_value = "duplicate-rules")]
    lint: String,
    /// Make lint errors exit with exit code 3.
    #[arg(long)]
    lint_fatal: bool,
    /// Ignore unknown fields in the rule files.
    #[arg(long)]
    ignore_unknown_fields: bool,
    /// Only check PrometheusRule manifests whose labels match this selector (the operator's
    /// `ruleSelector`), e.g. `role=alert-rules,prometheus=main`.
    #[arg(long, value_name = "SELECTOR")]
    rule_selector: Option<String>,
    /// Comma-separated Prometheus feature flags: promql-experimental-functions,
    /// promql-extended-range-selectors, promql-binop-fill-modifiers, promql-duration-expr,
    /// promql-delayed-name-removal. May be repeated.
    #[arg(long = "enable-feature", value_name = "NAME")]
    features: Vec<String>,
}

/// Runs `ferroprom check <what>`.
pub fn check_rules(args: &CheckArgs) -> ExitCode {
    let CheckCommand::Rules(args) = &args.what;
    // promtool's parser always accepts duration expressions.
    let mut parse = ParseOptions { duration_expressions: true, ..ParseOptions::default() };
    for feature in args.features.iter().flat_map(|f| f.split(',')) {
        match feature {
            "promql-experimental-functions" => parse.experimental_functions = true,
            "promql-extended-range-selectors" => parse.extended_range_selectors = true,
            "promql-binop-fill-modifiers" => parse.binop_fill_modifiers = true,
            "promql-duration-expr" | "promql-delayed-name-removal" | "" => {}
            other => println!("  WARNING: Unknown feature passed to --enable-feature: {other}"),
        }
    }
    let selector = match args.rule_selector.as_deref().map(str::parse::<Selector>).transpose() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    let mut lint_duplicates = false;
    for setting in args.lint.split(',') {
        match setting {
            "all" | "duplicate-rules" => lint_duplicates = true,
            "none" | "" => {}
            other => println!("WARNING: unknown lint option: \"{other}\""),
        }
    }
    let options = CheckOptions {
        load: LoadOptions {
            ignore_unknown_fields: args.ignore_unknown_fields,
            parse,
            legacy_names: false,
            selector,
        },
        lint_duplicates,
        lint_fatal: args.lint_fatal,
    };
    // promtool (kingpin's ExistingFiles) refuses missing paths before checking anything.
    if let Some(missing) = args.files.iter().find(|f| !f.exists()) {
        eprintln!("ferroprom: error: path '{}' does not exist, try --help", missing.display());
        return ExitCode::from(1);
    }
    let inputs: Vec<CheckInput> = if args.files.is_empty() {
        let mut text = String::new();
        if let Err(e) = std::io::stdin().read_to_string(&mut text) {
            println!("Checking standard input");
            eprintln!("  FAILED: {e}");
            return ExitCode::from(1);
        }
        vec![CheckInput::Stdin(text)]
    } else {
        args.files.iter().cloned().map(CheckInput::File).collect()
    };
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    match run_check(&inputs, &options, &mut out, &mut err) {
        Ok(outcome) => ExitCode::from(outcome.exit_code()),
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(1)
        }
    }
}
