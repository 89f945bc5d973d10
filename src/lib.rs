//! ferroprom: a PromQL engine and Prometheus rule evaluator.
//!
//! The pipeline is `parser` (text → [`parser::Expr`]) → plan → exec over a pluggable storage; rule
//! groups, promtool-compatible rule unit tests and the promqltest runner sit on top. See
//! `ARCHITECTURE.md` for the map.
//!
//! ```
//! let expr = ferroprom::parser::parse("sum by (job) (rate(http_requests_total[5m]))")?;
//! assert_eq!(expr.to_string(), "sum by (job) (rate(http_requests_total[5m]))");
//! # Ok::<(), ferroprom::parser::ParseError>(())
//! ```
#![deny(missing_docs)]
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used, clippy::panic))]

pub mod api;
pub mod benchmark;
pub mod datafile;
pub mod engine;
pub mod exec;
pub mod functions;
pub mod http_api;
pub mod model;
pub mod notifier;
pub mod parser;
pub mod plan;
pub mod promqltest;
pub mod remote;
pub mod rules;
pub mod storage;
pub mod unittest;

/// The README's Rust examples, compiled and run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
