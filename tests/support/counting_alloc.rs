//! A global allocator that keeps count of this thread's heap use, so that
//! the test harness's other threads do not count. The fuzz target includes
//! this file by path. Each test binary that counts registers it itself:
//!
//! ```ignore
//! #[global_allocator]
//! static GLOBAL: support::counting_alloc::Counting = support::counting_alloc::Counting;
//! ```
#![allow(dead_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// Counts `alloc`, `alloc_zeroed` and `realloc` (each one allocation), the
/// bytes they ask for, and the most bytes held at once.
pub struct Counting;

/// The heap one piece of code used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Heap {
    /// Allocations and reallocations.
    pub count: usize,
    /// Bytes requested by them, in total.
    pub bytes: usize,
    /// Most bytes held at once, above what was held before.
    pub peak: usize,
}

thread_local! {
    static COUNT: Cell<usize> = const { Cell::new(0) };
    static BYTES: Cell<usize> = const { Cell::new(0) };
    static LIVE: Cell<usize> = const { Cell::new(0) };
    static PEAK: Cell<usize> = const { Cell::new(0) };
}

/// Allocations made by this thread so far.
pub fn allocations() -> usize {
    COUNT.with(Cell::get)
}

/// Runs `f`, returning its result and the heap it used.
pub fn heap_of<T>(f: impl FnOnce() -> T) -> (T, Heap) {
    let (count, bytes, live) = (
        COUNT.with(Cell::get),
        BYTES.with(Cell::get),
        LIVE.with(Cell::get),
    );
    PEAK.with(|p| p.set(live));
    let out = f();
    let heap = Heap {
        count: COUNT.with(Cell::get) - count,
        bytes: BYTES.with(Cell::get) - bytes,
        peak: PEAK.with(Cell::get) - live,
    };
    (out, heap)
}

// `try_with`: an allocation while the thread's locals are torn down is not
// counted, rather than a panic inside the allocator.
fn grew(by: usize) {
    let _ = COUNT.try_with(|c| c.set(c.get() + 1));
    let _ = BYTES.try_with(|b| b.set(b.get() + by));
    let _ = LIVE.try_with(|live| {
        live.set(live.get() + by);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(live.get())));
    });
}

fn shrank(by: usize) {
    let _ = LIVE.try_with(|live| live.set(live.get().saturating_sub(by)));
}

// SAFETY: every operation is `System`'s; only the bookkeeping is added.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        grew(layout.size());
        System.alloc_zeroed(layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        grew(new_size);
        shrank(layout.size());
        System.realloc(ptr, layout, new_size)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        shrank(layout.size());
        System.dealloc(ptr, layout)
    }
}
