//! The counting allocator lives in `tests/support/counting_alloc.rs`; this
//! path only keeps `tests/alloc_counts.rs` building until it uses
//! `support::counting_alloc`.

#[path = "../support/counting_alloc.rs"]
mod imp;

pub use imp::*;
