//! `ferroprom parse` and `ferroprom fmt`.

use std::process::ExitCode;

use clap::Args;
use ferroprom::parser::{self, ParseOptions};

/// Arguments shared by `parse` and `fmt`.
#[derive(Debug, Args)]
pub struct ExprArgs {
    /// The PromQL expression, or `-` to read it from standard input.
    expr: String,
    /// Enable a Prometheus feature flag (`promql-experimental-functions`, `promql-duration-expr`,
    /// `promql-extended-range-selectors`, `promql-binop-fill-modifiers`); may be repeated.
    #[arg(long = "enable-feature", value_name = "NAME")]
    features: Vec<String>,
}

pub fn parse(args: &ExprArgs) -> ExitCode {
    with_expr(args, |e| e.to_string())
}

pub fn fmt(args: &ExprArgs) -> ExitCode {
    with_expr(args, parser::prettify)
}

fn with_expr(args: &ExprArgs, print: impl Fn(&parser::Expr) -> String) -> ExitCode {
    let input = match super::read_arg_or_stdin(&args.expr) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: reading standard input: {e}");
            return ExitCode::FAILURE;
        }
    };
    let opts = match options(&args.features) {
        Ok(o) => o,
        Err(msg) => {
            eprintln!("error: {msg}");
            return ExitCode::from(2);
        }
    };
    match parser::parse_with(&input, &opts) {
        Ok(e) => {
            println!("{}", print(&e));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

/// Parser options from Prometheus feature-flag names.
pub fn options(features: &[String]) -> Result<ParseOptions, String> {
    let mut opts = ParseOptions::default();
    for f in features.iter().flat_map(|f| f.split(',')) {
        match f.trim() {
            "promql-experimental-functions" => opts.experimental_functions = true,
            "promql-duration-expr" => opts.duration_expressions = true,
            "promql-extended-range-selectors" => opts.extended_range_selectors = true,
            "promql-binop-fill-modifiers" => opts.binop_fill_modifiers = true,
            "" => {}
            other => return Err(format!("unknown feature flag {other:?}")),
        }
    }
    Ok(opts)
}
