//! Fuzzes the standalone functions with the oracle of `tests/properties.rs`
//! (`tests/support/oracle.rs`, included by path): whatever the input,
//! nothing panics, the heap held at once stays under the oracle's bound
//! whatever the input's length, and an accepted link passes the oracle.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tower_portal_link::{target_from_query, validate_link};

#[path = "../../tests/support/counting_alloc.rs"]
mod counting_alloc;
#[path = "../../tests/support/oracle.rs"]
mod oracle;

#[global_allocator]
static GLOBAL: counting_alloc::Counting = counting_alloc::Counting;

/// Panics, which libFuzzer reports as a crash, on the oracle's objection.
fn check(result: Result<(), String>) {
    if let Err(broken) = result {
        panic!("{broken}");
    }
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);

    // The input as a raw query string.
    let (verdict, heap) = counting_alloc::heap_of(|| target_from_query(&text));
    assert!(
        heap.peak <= oracle::PEAK_BOUND,
        "{heap:?} for a {}-byte query",
        text.len()
    );
    check(oracle::check_verdict(&verdict));

    // The input as an already decoded link.
    let (_, heap) = counting_alloc::heap_of(|| validate_link(&text));
    assert!(
        heap.peak <= oracle::PEAK_BOUND,
        "{heap:?} for a {}-byte link",
        text.len()
    );
    // Accepted links pass the oracle, and the same link encoded once in
    // `crylk` gets the same verdict (bounded: encoding triples the length).
    if text.len() <= 4096 {
        check(oracle::check_link(&text));
    } else {
        check(oracle::check_verdict(&validate_link(&text).map(Some)));
    }
});
