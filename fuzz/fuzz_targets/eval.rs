//! A small random store plus a random query, evaluated as instant and range query under tight limits
//! (20k samples, 200 steps, 1s): results or errors, never a panic, hang or runaway memory.
//! Crashing inputs belong in `testdata/fuzz/eval/`, replayed by `tests/fuzz_regressions.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../tests/support/eval_check.rs"]
mod eval_check;

fuzz_target!(|data: &[u8]| {
    eval_check::check_bytes(data);
});
