//! The check of the `eval` fuzz target, shared with the fuzz regression test: a small store built from
//! the input plus a query taken from the input are evaluated under tight limits (samples, steps, a 1s
//! timeout) without panicking; errors are fine.
//!
//! Input layout: the query text comes first, up to the first NUL byte (or the whole input, so plain
//! query strings are useful seeds); the bytes after the NUL shape the store and the evaluation times.

#![allow(dead_code)]

use std::fmt::Write;
use std::time::Duration;

use ferroprom::engine::{Engine, EngineOptions};
use ferroprom::storage::MemStorage;

/// Longest query text looked at.
const MAX_QUERY: usize = 1024;

/// A tiny deterministic generator over the parameter bytes (repeats them, mixed with a counter).
struct Params<'a> {
    bytes: &'a [u8],
    pos: usize,
    state: u32,
}

impl Params<'_> {
    fn next(&mut self) -> u8 {
        let b = if self.bytes.is_empty() { 0 } else { self.bytes[self.pos % self.bytes.len()] };
        self.pos += 1;
        self.state = self.state.wrapping_mul(1_103_515_245).wrapping_add(12_345 + u32::from(b));
        (self.state >> 16) as u8 ^ b
    }

    fn below(&mut self, n: usize) -> usize {
        usize::from(self.next()) % n
    }
}

const NAMES: [&str; 5] = ["up", "m", "http_requests_total", "x_bucket", "h"];
const VALUES: [&str; 12] =
    ["0", "1", "-1", "2.5", "1e300", "-1e-300", "NaN", "Inf", "-Inf", "_", "stale", "7"];
const LES: [&str; 4] = ["0.1", "1", "10", "+Inf"];

/// The promqltest `load` text the parameter bytes (after the NUL) stand for; handy when debugging an input.
pub fn store_text(params: &[u8]) -> String {
    load_text(&mut Params { bytes: params, pos: 0, state: 1 })
}

/// promqltest `load` text for a store of at most 8 series × ~80 samples.
fn load_text(p: &mut Params) -> String {
    let interval = [1, 5, 15, 30, 60, 300][p.below(6)];
    let mut text = format!("load {interval}s\n");
    let series = 1 + p.below(8);
    for i in 0..series {
        let name = NAMES[p.below(NAMES.len())];
        let job = ["a", "b"][p.below(2)];
        let mut labels = format!("job=\"{job}\",instance=\"{i}\"");
        if name == "x_bucket" {
            let _ = write!(labels, ",le=\"{}\"", LES[p.below(LES.len())]);
        }
        let samples = p.below(41);
        let _ = write!(text, "  {name}{{{labels}}}");
        if name == "h" {
            for _ in 0..samples {
                let (b1, b2, s) = (p.below(5), p.below(5), p.below(100));
                let schema = p.below(5) as i64 - 1;
                let count = b1 + b2 + 2;
                let _ = write!(
                    text,
                    " {{{{schema:{schema} count:{count} sum:{s} z_bucket:1 buckets:[{b1} {b2}] n_buckets:[1]}}}}"
                );
            }
        } else {
            let mut counter = 0u32;
            for _ in 0..samples {
                match p.below(4) {
                    0 => {
                        let _ = write!(text, " {}", VALUES[p.below(VALUES.len())]);
                    }
                    1 => counter = 0,
                    _ => counter += u32::from(p.next()),
                }
                let _ = write!(text, " {counter}");
            }
            if p.below(4) == 0 {
                let _ = write!(text, " {}+{}x{}", counter, p.below(10), p.below(20));
            }
        }
        text.push('\n');
    }
    text
}

/// Builds the store and the query from `data` and evaluates it as an instant and a range query.
pub fn check_bytes(data: &[u8]) {
    let (query, params) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    if query.len() > MAX_QUERY {
        return;
    }
    let Ok(query) = std::str::from_utf8(query) else { return };
    let mut p = Params { bytes: params, pos: 0, state: 1 };
    let store = MemStorage::new();
    // The generated text is always valid; a load error would be a datafile bug worth a look, not a crash.
    let _ = ferroprom::datafile::load_text(&load_text(&mut p), &store);

    let opts = EngineOptions {
        max_samples: 20_000,
        timeout: Some(Duration::from_secs(1)),
        max_steps: 200,
        lookback_delta: Duration::from_secs([60, 300, 1][p.below(3)]),
        ..EngineOptions::default()
    };
    let engine = Engine::new(opts);
    let t = i64::from(p.next()) * 7_919 - 100_000;
    let _ = engine.instant_query(&store, query, t);
    let step = [1_000, 15_000, 60_000, 3_700][p.below(4)];
    let start = i64::from(p.next()) * 1_000 - 30_000;
    let end = start + step * p.below(100) as i64;
    let _ = engine.range_query(&store, query, start, end, step);
}
