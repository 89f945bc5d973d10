//! A counting global allocator: total bytes and calls allocated, and the live and peak-live bytes,
//! so a benchmark binary can report bytes/op (like Go's `B/op`) and the high-water mark of one
//! query above what was live before it.
//!
//! A binary opts in with
//! `#[global_allocator] static ALLOC: ferroprom::benchmark::CountingAlloc = CountingAlloc;`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

static ALLOCATED: AtomicU64 = AtomicU64::new(0);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);
static LIVE: AtomicU64 = AtomicU64::new(0);
static PEAK: AtomicU64 = AtomicU64::new(0);

/// The system allocator with counters. Counting costs a few relaxed atomic operations per call.
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingAlloc;

/// A snapshot of the counters of [`CountingAlloc`] (all zero unless it is the global allocator).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AllocStats {
    /// Bytes allocated since the process started (reallocations count their new size).
    pub allocated: u64,
    /// Allocation calls since the process started.
    pub allocations: u64,
    /// Bytes live now.
    pub live: u64,
    /// Most bytes live at once since the last [`CountingAlloc::reset_peak`].
    pub peak: u64,
}

impl AllocStats {
    /// Bytes and calls allocated since `before`, and the peak live bytes above `before.live`.
    pub fn since(&self, before: &AllocStats) -> AllocStats {
        AllocStats {
            allocated: self.allocated - before.allocated,
            allocations: self.allocations - before.allocations,
            live: self.live.saturating_sub(before.live),
            peak: self.peak.saturating_sub(before.live),
        }
    }
}

impl CountingAlloc {
    /// The counters now.
    pub fn stats() -> AllocStats {
        AllocStats {
            allocated: ALLOCATED.load(Ordering::Relaxed),
            allocations: ALLOCATIONS.load(Ordering::Relaxed),
            live: LIVE.load(Ordering::Relaxed),
            peak: PEAK.load(Ordering::Relaxed),
        }
    }

    /// Starts a new high-water mark at the bytes live now; returns the counters after the reset.
    pub fn reset_peak() -> AllocStats {
        PEAK.store(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
        CountingAlloc::stats()
    }

    fn grew(size: u64) {
        ALLOCATED.fetch_add(size, Ordering::Relaxed);
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        let live = LIVE.fetch_add(size, Ordering::Relaxed) + size;
        PEAK.fetch_max(live, Ordering::Relaxed);
    }

    fn shrank(size: u64) {
        LIVE.fetch_sub(size, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to the system allocator; the counters are side
// effects only.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            CountingAlloc::grew(layout.size() as u64);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            CountingAlloc::grew(layout.size() as u64);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) };
        CountingAlloc::shrank(layout.size() as u64);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: same contract as the caller's.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            CountingAlloc::shrank(layout.size() as u64);
            CountingAlloc::grew(new_size as u64);
        }
        p
    }
}
