//! Prometheus rule groups: loading, evaluation, alerting and templates.

pub mod alerting;
pub mod group;
pub mod recording;
pub mod expansion;
