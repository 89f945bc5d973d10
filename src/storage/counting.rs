//! A [`Storage`] wrapper that counts the samples its inner store hands out: the input samples of a
//! query, for `stats=all` and for the benchmarks' samples-per-second figures.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::model::Matcher;
use crate::storage::{SelectHints, SeriesData, Storage, StorageError};

/// Forwards every call to `inner` and adds up the samples `select` returns.
///
/// ```
/// use ferroprom::storage::{CountingStorage, MemStorage};
///
/// let store = MemStorage::new();
/// let counting = CountingStorage::new(&store);
/// assert_eq!(counting.samples(), 0);
/// ```
pub struct CountingStorage<'a> {
    inner: &'a dyn Storage,
    samples: AtomicU64,
}

impl<'a> CountingStorage<'a> {
    /// A wrapper around `inner` that has counted nothing yet.
    pub fn new(inner: &'a dyn Storage) -> CountingStorage<'a> {
        CountingStorage { inner, samples: AtomicU64::new(0) }
    }

    /// The samples `select` has returned so far.
    pub fn samples(&self) -> u64 {
        self.samples.load(Ordering::Relaxed)
    }
}

impl Storage for CountingStorage<'_> {
    fn select(&self, matchers: &[Matcher], hints: &SelectHints) -> Result<Vec<SeriesData>, StorageError> {
        let series = self.inner.select(matchers, hints)?;
        let n: usize = series.iter().map(SeriesData::len).sum();
        self.samples.fetch_add(n as u64, Ordering::Relaxed);
        Ok(series)
    }

    fn label_names(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<String>, StorageError> {
        self.inner.label_names(matchers, mint, maxt)
    }

    fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, StorageError> {
        self.inner.label_values(name, matchers, mint, maxt)
    }
}
