//! A counting global allocator: allocation calls and bytes, switched on only while measuring.
//!
//! Install it in a binary with `#[global_allocator] static A: CountingAlloc = CountingAlloc;`.
//! While [`enable`] is off it forwards to the system allocator after one relaxed load.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

/// Forwards to [`System`] and counts while enabled.
pub struct CountingAlloc;

static ENABLED: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicU64 = AtomicU64::new(0);
static ALLOC_BYTES: AtomicU64 = AtomicU64::new(0);
static FREED_BYTES: AtomicU64 = AtomicU64::new(0);

/// Counters at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Calls to `alloc`, `alloc_zeroed` and `realloc`.
    pub allocs: u64,
    /// Bytes requested by those calls.
    pub bytes: u64,
    /// Bytes requested minus bytes freed while counting: the live growth.
    pub live: i64,
}

impl Snapshot {
    /// What happened between `earlier` and `self`.
    pub fn since(self, earlier: Snapshot) -> Snapshot {
        Snapshot {
            allocs: self.allocs - earlier.allocs,
            bytes: self.bytes - earlier.bytes,
            live: self.live - earlier.live,
        }
    }
}

/// Starts or stops counting (counters are kept).
pub fn enable(on: bool) {
    ENABLED.store(on, Relaxed);
}

/// The counters now.
pub fn snapshot() -> Snapshot {
    let bytes = ALLOC_BYTES.load(Relaxed);
    Snapshot {
        allocs: ALLOCS.load(Relaxed),
        bytes,
        live: bytes as i64 - FREED_BYTES.load(Relaxed) as i64,
    }
}

/// Counts what `f` allocates (on every thread, so run it where nothing else is busy).
pub fn measure<T>(f: impl FnOnce() -> T) -> (T, Snapshot) {
    let before = snapshot();
    enable(true);
    let out = f();
    enable(false);
    (out, snapshot().since(before))
}

#[inline]
fn count_alloc(size: usize) {
    if ENABLED.load(Relaxed) {
        ALLOCS.fetch_add(1, Relaxed);
        ALLOC_BYTES.fetch_add(size as u64, Relaxed);
    }
}

#[inline]
fn count_free(size: usize) {
    if ENABLED.load(Relaxed) {
        FREED_BYTES.fetch_add(size as u64, Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to `System`; the counters have no effect on memory.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_alloc(layout.size());
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count_alloc(layout.size());
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count_free(layout.size());
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_free(layout.size());
        count_alloc(new_size);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
