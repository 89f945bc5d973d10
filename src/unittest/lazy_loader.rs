//! The input series of a test group, appended to the store step by step as the evaluation advances
//! (promqltest's `LazyLoader`): at each evaluation time, every sample at or before it.

use std::sync::Arc;

use crate::model::Labels;
use crate::promqltest::{Command, LoadValue, Script};
use crate::rules::duration::format_duration;
use crate::storage::MemStorage;

use super::format::InputSeries;

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
        let script = Script::parse(&text).map_err(|e| e.to_string())?;
        let mut series = Vec::new();
        for cmd in script.commands {
            // Only the first command counts, as in the LazyLoader; it is always our `load`.
            if let Command::Load(load) = cmd {
                for s in &load.series {
                    let samples = s
                        .samples(load.interval)
                        .into_iter()
                        .map(|(t, _, v)| (t.saturating_add(start), v))
                        .collect();
                    series.push(PendingSeries { labels: s.labels.clone(), samples, next: 0 });
                }
                break;
            }
        }
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
