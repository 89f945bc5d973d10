//! Query limits: samples in memory, deadline, cancellation.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::time::Instant;

use crate::exec::EvalError;

/// A token that cancels a running query from another thread.
///
/// ```
/// let token = ferroprom::exec::CancelToken::new();
/// let for_other_thread = token.clone();
/// for_other_thread.cancel();
/// assert!(token.is_canceled());
/// ```
#[derive(Debug, Clone, Default)]
pub struct CancelToken(Arc<AtomicBool>);

impl CancelToken {
    /// A fresh, not canceled token.
    pub fn new() -> CancelToken {
        CancelToken::default()
    }

    /// Cancels every query holding this token.
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    /// Whether [`CancelToken::cancel`] was called.
    pub fn is_canceled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// The limits of one query and its running sample count.
#[derive(Debug)]
pub struct Limits {
    /// The most samples that may be in memory at once.
    pub max_samples: i64,
    /// When the query times out.
    pub deadline: Option<Instant>,
    /// Cancellation.
    pub cancel: CancelToken,
    current: AtomicI64,
    peak: AtomicI64,
}

impl Limits {
    /// Limits with the given maximum samples, deadline and token.
    pub fn new(max_samples: i64, deadline: Option<Instant>, cancel: CancelToken) -> Limits {
        Limits { max_samples, deadline, cancel, current: AtomicI64::new(0), peak: AtomicI64::new(0) }
    }

    /// Checks cancellation and the deadline.
    ///
    /// # Errors
    ///
    /// [`EvalError::Canceled`] or [`EvalError::Timeout`].
    pub fn check(&self) -> Result<(), EvalError> {
        if self.cancel.is_canceled() {
            return Err(EvalError::Canceled("expression evaluation"));
        }
        if let Some(d) = self.deadline
            && Instant::now() >= d
        {
            return Err(EvalError::Timeout("expression evaluation"));
        }
        Ok(())
    }

    /// Adds `n` samples to the in-memory count (negative to release).
    ///
    /// # Errors
    ///
    /// [`EvalError::TooManySamples`] when the count goes over the limit.
    pub fn add(&self, n: i64) -> Result<(), EvalError> {
        let now = self.current.fetch_add(n, Ordering::Relaxed) + n;
        self.peak.fetch_max(now, Ordering::Relaxed);
        if n > 0 && now > self.max_samples {
            return Err(EvalError::TooManySamples("query execution"));
        }
        Ok(())
    }

    /// The highest sample count seen.
    pub fn peak(&self) -> i64 {
        self.peak.load(Ordering::Relaxed)
    }
}
