//! Prometheus's promqltest scripts (`.test` files): reading them, and running them against a
//! query engine with upstream's rules.
//!
//! [`Script::parse`] reads a script into [`Command`]s (`load`, `clear`, `eval` blocks with their
//! expectations); [`run_text`]/[`run_script`] execute it against any [`QueryEngine`] over a fresh
//! [`crate::storage::MemStorage`] and report one [`EvalOutcome`] per eval; [`summary`] prints the
//! per-file table ending with `N passed, N failed`. The format is described in
//! `../shared/research/promqltest-format.md`.

mod compare;
mod duration;
mod nhcb;
mod runner;
mod script;

pub(crate) use script::with_line;

pub use compare::{DEFAULT_EPSILON, almost_equal, histograms_match};
pub use duration::parse_duration;
pub use runner::{
    EvalOutcome, FileReport, QueryEngine, QueryOutput, RunOptions, apply_load, compare_result, run_script,
    run_text, summary,
};
pub use script::{
    Command, DEFAULT_MAX_VALUES, Eval, Expect, ExpectKind, ExpectMatch, ExpectedSeries, Load, LoadSeries,
    LoadValue, Script, ScriptError, parse_number,
};
