//! Where samples come from: the [`Storage`] trait the engine reads through, and [`MemStorage`], the
//! in-memory store used by tests, data files and recording rules.
//!
//! A store answers three questions: which series match a set of label matchers and what are their
//! samples in `[mint, maxt]` ([`Storage::select`]), which label names exist
//! ([`Storage::label_names`]) and which values a label has ([`Storage::label_values`]). Samples
//! come back per series ([`SeriesData`]) as [`SharedSlice`]s of points (`FPoint { t, f }` for
//! floats, `HPoint { t, h }` for native histograms, start timestamps beside them): views of
//! reference-counted buffers that a store such as [`MemStorage`] shares instead of copying, and
//! that the evaluator reads as plain `&[FPoint]` / `&[HPoint]` slices.
//!
//! ```
//! use ferroprom::model::{FPoint, Labels, MatchOp, Matcher};
//! use ferroprom::storage::{MemStorage, SelectHints, Storage};
//!
//! let store = MemStorage::new();
//! let up = Labels::from_pairs([("__name__", "up"), ("job", "node")]);
//! store.append(&up, 1_000, 1.0)?;
//! store.append(&up, 2_000, 0.0)?;
//!
//! let m = Matcher::new(MatchOp::Equal, "__name__", "up")?;
//! let series = store.select(&[m], &SelectHints::range(0, 1_500))?;
//! assert_eq!(series.len(), 1);
//! assert_eq!(series[0].floats, [FPoint { t: 1_000, f: 1.0 }]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::sync::Arc;

use crate::model::{FPoint, FloatIndex, HPoint, Labels, Matcher};

mod counting;
mod memory;
mod postings;
mod shared;

pub use counting::CountingStorage;
pub use memory::{AppendError, Appender, MemStorage, MemStorageOptions};
pub use shared::SharedSlice;

/// What a [`Storage::select`] is for: the time range that must be returned and what the query
/// will do with the data. Everything but `start`/`end` is advisory; a store may ignore it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SelectHints {
    /// First timestamp (milliseconds, inclusive) whose samples must be returned.
    pub start: i64,
    /// Last timestamp (milliseconds, inclusive) whose samples must be returned.
    pub end: i64,
    /// Step of the range query in milliseconds (0 for an instant query).
    pub step: i64,
    /// Range of the matrix selector in milliseconds (0 for an instant vector selector).
    pub range: i64,
    /// Name of the function or aggregation around the selector (`rate`, `sum`, ...), if any.
    pub func: Option<String>,
    /// Grouping labels of the surrounding aggregation.
    pub grouping: Vec<String>,
    /// Whether `grouping` is a `by` (true) or a `without` (false) list.
    pub by: bool,
    /// Maximum number of series to return; 0 means no limit.
    pub limit: usize,
}

impl SelectHints {
    /// Hints that ask only for the samples in `[start, end]`.
    pub fn range(start: i64, end: i64) -> SelectHints {
        SelectHints { start, end, ..SelectHints::default() }
    }
}

/// One selected series: its labels and its samples in the selected time range, as views shared
/// with the store (selecting copies no sample). A timestamp occurs in at most one of `floats` and
/// `histograms`. Staleness markers are always float samples.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SeriesData {
    /// The series' labels.
    pub labels: Labels,
    /// Float samples, ascending by timestamp; staleness markers are [`crate::model::STALE_NAN`].
    pub floats: SharedSlice<FPoint>,
    /// Start ("created") timestamps of the float samples: empty when none has one, otherwise one
    /// per sample with 0 meaning "unknown".
    pub float_st: SharedSlice<i64>,
    /// Native histogram samples, ascending by timestamp.
    pub histograms: SharedSlice<HPoint>,
    /// Start timestamps of the histogram samples, as in [`SeriesData::float_st`].
    pub histogram_st: SharedSlice<i64>,
    /// An index of the whole buffer behind `floats` (positions in that buffer; the view starts at
    /// `floats.offset()`), when the store keeps one: range functions then evaluate windows
    /// without a pass over them.
    pub float_index: Option<Arc<FloatIndex>>,
}

impl SeriesData {
    /// The number of samples of both kinds.
    pub fn len(&self) -> usize {
        self.floats.len() + self.histograms.len()
    }

    /// Whether the series has no samples in the selected range.
    pub fn is_empty(&self) -> bool {
        self.floats.is_empty() && self.histograms.is_empty()
    }
}

/// Errors a store reports.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StorageError {
    /// An append was rejected.
    #[error(transparent)]
    Append(#[from] AppendError),
    /// The store's backend failed (a remote store's transport, for example).
    #[error("storage: {0}")]
    Backend(String),
    /// The request was cancelled before it completed.
    #[error("storage: request cancelled")]
    Cancelled,
}

/// A source of series that the engine queries. Implementations must be usable from several
/// threads at once.
///
/// Contract of [`Storage::select`]: the result holds every series that matches **all** matchers
/// (a matcher that matches the empty string also matches series without that label) and has at
/// least one sample in `[hints.start, hints.end]`, sorted by labels (`Labels`' `Ord`), each with
/// exactly its samples in that range. A store that keeps samples as `Arc<Vec<FPoint>>` (or
/// `HPoint`) hands out views of them ([`SharedSlice::new`]); one that produces samples per request
/// wraps the vectors it built (`Vec::into`).
pub trait Storage: Send + Sync {
    /// The series matching `matchers` with their samples in `[hints.start, hints.end]`, sorted by
    /// labels.
    fn select(&self, matchers: &[Matcher], hints: &SelectHints) -> Result<Vec<SeriesData>, StorageError>;

    /// The sorted, distinct label names of the series that match `matchers` (all series when
    /// `matchers` is empty) and have samples in `[mint, maxt]`.
    fn label_names(&self, matchers: &[Matcher], mint: i64, maxt: i64) -> Result<Vec<String>, StorageError>;

    /// The sorted, distinct non-empty values of label `name` among the series that match
    /// `matchers` and have samples in `[mint, maxt]`.
    fn label_values(
        &self,
        name: &str,
        matchers: &[Matcher],
        mint: i64,
        maxt: i64,
    ) -> Result<Vec<String>, StorageError>;
}

/// Implements [`Storage`] for a pointer type by asking the store it points to.
macro_rules! forward_storage {
    ($pointer:ty) => {
        impl<S: Storage + ?Sized> Storage for $pointer {
            fn select(
                &self,
                matchers: &[Matcher],
                hints: &SelectHints,
            ) -> Result<Vec<SeriesData>, StorageError> {
                (**self).select(matchers, hints)
            }

            fn label_names(
                &self,
                matchers: &[Matcher],
                mint: i64,
                maxt: i64,
            ) -> Result<Vec<String>, StorageError> {
                (**self).label_names(matchers, mint, maxt)
            }

            fn label_values(
                &self,
                name: &str,
                matchers: &[Matcher],
                mint: i64,
                maxt: i64,
            ) -> Result<Vec<String>, StorageError> {
                (**self).label_values(name, matchers, mint, maxt)
            }
        }
    };
}

forward_storage!(Arc<S>);
forward_storage!(&S);
