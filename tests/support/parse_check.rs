//! The check of the `parse` fuzz target, shared with the fuzz regression test: parsing any input,
//! with default options and with every feature on, returns (a tree or an error) without panicking.

#![allow(dead_code)]

use ferroprom::parser::{ParseOptions, parse_with};

/// Parses `data` (when it is UTF-8) with default options and with every feature on.
pub fn check_bytes(data: &[u8]) {
    if let Ok(input) = std::str::from_utf8(data) {
        let _ = parse_with(input, &ParseOptions::default());
        let _ = parse_with(input, &ParseOptions::all_features());
    }
}
