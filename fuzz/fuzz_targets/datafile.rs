//! Any text read as a data file (promqltest load text or text exposition) loads or fails with an
//! error: never a panic, hang or runaway memory. The same text is also read as a promqltest script.
//! Crashing inputs belong in `testdata/fuzz/datafile/`, replayed by `tests/datafile.rs`.
#![no_main]

use ferroprom::datafile::load_text_limited;
use ferroprom::promqltest::Script;
use ferroprom::storage::MemStorage;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = Script::parse_limited(text, 1_000_000);
    let _ = load_text_limited(text, &MemStorage::new(), 1_000_000);
});
