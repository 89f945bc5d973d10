//! The input series of a test group, appended to the store step by step as the evaluation advances
//! (promqltest's `LazyLoader`): at each evaluation time, every sample at or before it.

use std::sync::Arc;

use std::collections::HashMap;

use rayon::prelude::*;

use crate::model::{Labels, STALE_NAN};
use crate::parser::series::{SequenceValue, parse_series_desc};
use crate::promqltest::{Command, LoadSeries, LoadValue, Script};
use crate::rules::duration::format_duration;
use crate::storage::MemStorage;

use super::format::InputSeries;
use super::plain_values::parse_plain_values;

/// The samples still to load, per series, in time order.
#[derive(Debug, Default)]
pub struct LazyLoader {
    series: Vec<PendingSeries>,
}

#[derive(Debug)]
struct PendingSeries {
    labels: Labels,
    samples: Vec<(i64, LoadValue)>,
    next: usize,
}

impl LazyLoader {
    /// Reads the input series as promtool does: as the promqltest script
    /// `load <interval>\n  <series> <values>\n...`, so the notation and the errors are promqltest's.
    /// Sample `i` of a series is at `start + i * interval` (milliseconds).
    pub fn new(input: &[InputSeries], interval: i64, start: i64) -> Result<LazyLoader, String> {
        let mut text =
            format!("load {}\n", format_duration(std::time::Duration::from_millis(interval as u64)));
        for s in input {
            text.push_str(&format!("  {} {}\n", s.series.0, s.values.0));
        }
        let series = match parse_plain_load(&text) {
            Some(parsed) => parsed?,
            None => parse_script(&text)?,
        };
        let series = series
            .into_par_iter()
            .map(|s| {
                let mut samples = Vec::with_capacity(s.values.len());
                for (i, v) in s.values.into_iter().enumerate() {
                    let t = start.saturating_add((i as i64).saturating_mul(interval));
                    match v {
                        SequenceValue::Omitted => {}
                        SequenceValue::Float(f) => samples.push((t, LoadValue::Float(f))),
                        SequenceValue::Stale => samples.push((t, LoadValue::Float(STALE_NAN))),
                        SequenceValue::Histogram { histogram, .. } => {
                            samples.push((t, LoadValue::Histogram(Arc::new(*histogram))))
                        }
                    }
                }
                PendingSeries { labels: s.labels, samples, next: 0 }
            })
            .collect();
        Ok(LazyLoader { series })
    }

    /// Appends every not yet loaded sample with a timestamp at or before `ts`.
    pub fn append_till(&mut self, store: &MemStorage, ts: i64) -> Result<(), String> {
        let mut app = store.appender();
        for s in &mut self.series {
            while let Some((t, v)) = s.samples.get(s.next) {
                if *t > ts {
                    break;
                }
                match v {
                    LoadValue::Float(f) => app.add(s.labels.clone(), *t, *f),
                    LoadValue::Histogram(h) => app.add_histogram(s.labels.clone(), *t, Arc::clone(h)),
                }
                s.next += 1;
            }
        }
        if app.is_empty() {
            return Ok(());
        }
        app.commit().map(|_| ()).map_err(|e| e.to_string())
    }
}

/// The load block through the promqltest script reader (used for what the fast path leaves out).
fn parse_script(text: &str) -> Result<Vec<LoadSeries>, String> {
    let script = Script::parse(text).map_err(|e| e.to_string())?;
    // Only the first command counts, as in the LazyLoader; it is always our `load`.
    Ok(script
        .commands
        .into_iter()
        .find_map(|c| match c {
            Command::Load(load) => Some(load.series),
            _ => None,
        })
        .unwrap_or_default())
}

/// The load block's series lines parsed in parallel, with the script reader's line rules (lines
/// trimmed, `#` lines blank, a blank line ends the block), errors and replacement of a repeated
/// series by its later line. `None` when the block has `@st` lines (left to the script reader).
fn parse_plain_load(text: &str) -> Option<Result<Vec<LoadSeries>, String>> {
    let lines: Vec<&str> = text
        .split('\n')
        .skip(1)
        .map(|l| {
            let l = l.trim();
            if l.starts_with('#') { "" } else { l }
        })
        .take_while(|l| !l.is_empty())
        .collect();
    if lines.iter().any(|l| l.find([' ', '\t']).is_some_and(|sp| l[..sp].ends_with("@st"))) {
        return None;
    }
    let parsed: Vec<Result<LoadSeries, String>> = lines
        .par_iter()
        .enumerate()
        .map(|(k, line)| {
            if let Some((labels, values)) = plain_line(line) {
                return Ok(LoadSeries { line: k + 2, labels, values, st_offsets: Vec::new() });
            }
            // Line index k + 1 of the script; errors name line k + 2 (1-based).
            let desc = parse_series_desc(line)
                .map_err(|e| format!("{}:{}: parse error: {}", k + 2, e.column, e.message))?;
            Ok(LoadSeries {
                line: k + 2,
                labels: Labels::from_pairs(desc.labels),
                values: desc.values,
                st_offsets: Vec::new(),
            })
        })
        .collect();
    let mut out: Vec<LoadSeries> = Vec::with_capacity(parsed.len());
    let mut index: HashMap<Labels, usize> = HashMap::with_capacity(parsed.len());
    for p in parsed {
        let s = match p {
            Ok(s) => s,
            Err(e) => return Some(Err(e)),
        };
        match index.get(&s.labels) {
            Some(&i) => out[i] = s,
            None => {
                index.insert(s.labels.clone(), out.len());
                out.push(s);
            }
        }
    }
    Some(Ok(out))
}

/// A series line whose values are all plain (see [`parse_plain_values`]): the metric through the
/// series parser, the values through the fast reader. `None` leaves the line to the series parser.
fn plain_line(line: &str) -> Option<(Labels, Vec<SequenceValue>)> {
    // Plain values hold no braces, so the metric ends at the last `}` if there is one.
    let split = match line.rfind('}') {
        Some(i) => i + 1,
        None => line.find([' ', '\t']).unwrap_or(line.len()),
    };
    let (metric, values) = line.split_at(split);
    if !(values.is_empty() || values.starts_with([' ', '\t'])) {
        return None;
    }
    let values = parse_plain_values(values)?;
    let desc = parse_series_desc(metric).ok()?;
    if !desc.values.is_empty() {
        return None;
    }
    Some((Labels::from_pairs(desc.labels), values))
}
