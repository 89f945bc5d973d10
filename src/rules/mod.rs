//! Prometheus rule groups: loading, evaluation, alerting and templates.

pub mod template;
