//! Query limits: samples in memory (Prometheus's accounting, see [`accounting`](super::accounting)),
//! deadline, cancellation.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use crate::exec::EvalError;
use crate::exec::accounting::Accounting;

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

/// The limits of one query and its sample accounting.
#[derive(Debug)]
pub struct Limits {
    /// The most samples that may be in memory at once (as Prometheus counts them).
    pub max_samples: i64,
    /// When the query times out.
    pub deadline: Option<Instant>,
    /// Cancellation.
    pub cancel: CancelToken,
    accounting: Accounting,
}

impl Limits {
    /// Limits with the given maximum samples, deadline and token.
    pub fn new(max_samples: i64, deadline: Option<Instant>, cancel: CancelToken) -> Limits {
        Limits { max_samples, deadline, cancel, accounting: Accounting::new(max_samples) }
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

    /// The sample accounting operators report to.
    pub fn accounting(&self) -> &Accounting {
        &self.accounting
    }
}
