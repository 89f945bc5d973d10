//! Any input, valid or not, parses or fails with an error: never a panic, hang or runaway memory.
//! Crashing inputs belong in `testdata/fuzz/parse/`, replayed by `tests/fuzz_regressions.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/support/parse_check.rs"]
mod parse_check;

fuzz_target!(|data: &[u8]| {
    parse_check::check_bytes(data);
});
