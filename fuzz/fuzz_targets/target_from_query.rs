//! Fuzzes the standalone functions with the properties' oracle: whatever the
//! input, nothing panics, nothing allocated grows with the input, and an
//! accepted link re-parses to `https`, a host under `proabono.com`, no
//! credentials and the default port, and is a fixed point.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tower_portal_link::{target_from_query, validate_link, PortalTarget, Refusal};

/// Peak heap in use during one call may not grow with the input: whatever
/// the query's length, only a link of at most 2048 bytes is ever decoded and
/// parsed. Parsing is not small, though: IDNA on a long ASCII host holds up
/// to about 32 times the host's length (the first finding of this target: a
/// host of 600 labels with upper-case letters peaked at 48 KB; an `xn--`
/// label of 2000 bytes peaks at 66 KB). The bound is 64 times the maximum.
const PEAK_BOUND: usize = 64 * 2048;

// The allocator of the crate's own tests, so both count alike.
#[path = "../../tests/counting_alloc/mod.rs"]
mod counting_alloc;

#[global_allocator]
static GLOBAL: counting_alloc::Counting = counting_alloc::Counting;

/// Runs `f` and returns its result with the peak heap it added.
fn peak_of<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let (out, heap) = counting_alloc::heap_of(f);
    (out, heap.peak)
}

fn allowed(host: &str) -> bool {
    host == "proabono.com"
        || host
            .strip_suffix(".proabono.com")
            .is_some_and(|sub| !sub.is_empty())
}

fn check_accepted(target: &PortalTarget) {
    let url = url::Url::parse(target.as_str()).expect("an accepted link re-parses");
    assert_eq!(url.scheme(), "https");
    match url.host() {
        Some(url::Host::Domain(host)) => {
            assert!(allowed(host), "host outside the allow-list: {host}");
            assert_eq!(target.host(), host);
        }
        other => panic!("not a domain host: {other:?}"),
    }
    assert!(url.username().is_empty() && url.password().is_none());
    assert_eq!(url.port(), None);
    assert_eq!(url.port_or_known_default(), Some(443));
    match validate_link(target.as_str()) {
        Ok(again) => assert_eq!(again.as_str(), target.as_str(), "not a fixed point"),
        Err(refusal) => panic!("the canonical link is refused: {refusal:?}"),
    }
}

fn encode_every_byte(value: &str) -> String {
    use std::fmt::Write;
    value
        .bytes()
        .fold(String::with_capacity(value.len() * 3), |mut out, b| {
            let _ = write!(out, "%{b:02x}");
            out
        })
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);

    // The input as a raw query string.
    let (verdict, peak) = peak_of(|| target_from_query(&text));
    assert!(
        peak <= PEAK_BOUND,
        "{peak} bytes for a {}-byte query",
        text.len()
    );
    if let Ok(Some(target)) = &verdict {
        check_accepted(target);
    }

    // The input as an already decoded link.
    let (direct, peak) = peak_of(|| validate_link(&text));
    assert!(
        peak <= PEAK_BOUND,
        "{peak} bytes for a {}-byte link",
        text.len()
    );
    if let Ok(target) = &direct {
        check_accepted(target);
    }

    // Encoded once and carried in `crylk`, the same link gets the same
    // verdict: the query path adds nothing and loses nothing.
    if text.len() <= 4096 {
        let query = format!("crylk={}", encode_every_byte(&text));
        let via_query: Result<Option<PortalTarget>, Refusal> = target_from_query(&query);
        assert_eq!(
            via_query,
            direct.map(Some),
            "query and decoded verdicts differ"
        );
    }
});
