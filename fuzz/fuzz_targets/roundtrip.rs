//! When an input parses, its canonical print and its pretty form parse back to the same tree.
//! Failing inputs belong in `testdata/fuzz/roundtrip/`, replayed by `tests/fuzz_regressions.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/support/roundtrip_check.rs"]
mod roundtrip_check;

fuzz_target!(|data: &[u8]| {
    if let Ok(input) = std::str::from_utf8(data)
        && let Err(msg) = roundtrip_check::check_input(input)
    {
        panic!("round trip of {input:?} failed: {msg}");
    }
});
