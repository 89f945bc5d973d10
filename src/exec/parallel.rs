//! The one place where work runs on several threads: a rayon pool used to evaluate independent
//! series of a range function at the same time.

use rayon::prelude::*;

/// The engine's thread budget.
#[derive(Debug)]
pub struct Parallelism {
    pool: Option<rayon::ThreadPool>,
}

impl Parallelism {
    /// `threads <= 1` runs everything on the calling thread.
    pub fn new(threads: usize) -> Parallelism {
        let pool = if threads > 1 {
            rayon::ThreadPoolBuilder::new().num_threads(threads).build().ok()
        } else {
            None
        };
        Parallelism { pool }
    }

    /// Maps `f` over `items`, in parallel when a pool exists and the work is big enough; the
    /// output order is the input order.
    pub fn map<T: Sync, R: Send>(
        &self,
        items: &[T],
        work: usize,
        f: impl Fn(&T) -> R + Sync + Send,
    ) -> Vec<R> {
        match &self.pool {
            Some(pool) if items.len() > 1 && work > 4096 => {
                pool.install(|| items.par_iter().map(f).collect())
            }
            _ => items.iter().map(f).collect(),
        }
    }
}
