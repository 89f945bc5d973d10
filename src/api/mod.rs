//! Prometheus HTTP API encodings of query results.
//!
//! The bodies are byte-for-byte what Prometheus's `/api/v1/query` and `/api/v1/query_range` return,
//! so tools written against Prometheus read ferroprom's output unchanged.

mod json;

pub use json::{UnsupportedValue, error_json, query_json};
