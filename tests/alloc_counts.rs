//! Heap allocations the layer makes per request, over the requests of the
//! benchmarks (`benches/common/mod.rs`).
//!
//! A counting global allocator (per thread, so the test harness's other
//! threads do not count) measures `poll_ready`, `call` and one poll of the
//! response future, for `PortalLinkLayer::new()` over the benchmarks' inner
//! service and for that service alone: the layer's count is the difference,
//! so only this crate's behaviour is asserted, not the inner service's.

#[path = "../benches/common/mod.rs"]
mod bench;

#[path = "support/counting_alloc.rs"]
mod counting_alloc;

#[global_allocator]
static GLOBAL: counting_alloc::Counting = counting_alloc::Counting;

use http::{Request, Response};
use std::convert::Infallible;
use tower::Service;

/// Allocations (a `realloc` counts as one) for one request through `svc`.
fn allocations<S>(mut svc: S, uri: &str) -> usize
where
    S: Service<Request<()>, Response = Response<()>, Error = Infallible>,
{
    let req = bench::request(uri);
    let (response, heap) = counting_alloc::heap_of(|| bench::run(&mut svc, req));
    drop(response);
    heap.count
}

/// The layer's own allocations for `uri`: its count minus the inner
/// service's.
fn layer_allocations(group: &str, name: &str) -> usize {
    let uri = bench::uri(group, name);
    let bare = allocations(bench::bare(), &uri);
    // The inner service allocates its response's header map: the counter
    // sees it, so a zero below is a measurement, not a counter that
    // counts nothing.
    assert!(bare > 0, "the counter counts nothing");
    let layer = allocations(bench::layer(), &uri);
    // The same request costs the same every time: nothing is cached.
    assert_eq!(layer, allocations(bench::layer(), &uri), "{group}/{name}");
    layer
        .checked_sub(bare)
        .unwrap_or_else(|| panic!("{group}/{name}: the layer freed the inner service's heap"))
}

/// Requests without the link, small and large, plain and escaped.
const WITHOUT_LINK: &[(&str, &str)] = &[
    ("typical", "no_query"),
    ("typical", "typical"),
    ("typical", "escaped"),
    ("scaling", "length_1k"),
    ("scaling", "length_4k"),
    ("scaling", "length_16k"),
    ("worst", "query_60k"),
    ("worst", "c_pairs_60k"),
    ("worst", "ampersands_60k"),
    ("worst", "escaped_names_60k"),
    ("dense", "one_long"),
    ("dense", "escapes_short"),
    ("dense", "mixed_escapes_off"),
];

#[test]
fn requests_without_a_link_allocate_nothing() {
    for &(group, name) in WITHOUT_LINK {
        assert_eq!(layer_allocations(group, name), 0, "{group}/{name}");
    }
}

/// Requests that carry a link: valid, refused, repeated, and the worst
/// cases of the benchmarks.
const WITH_LINK: &[(&str, &str)] = &[
    ("typical", "valid_link"),
    ("typical", "hostile_foreign"),
    ("typical", "hostile_lookalike"),
    ("scaling", "repeated_64"),
    ("scaling", "repeated_1024"),
    ("worst", "punycode_2000"),
    ("worst", "punycode_63"),
    ("worst", "punycode_3x63"),
    ("worst", "labels_30x63"),
    ("worst", "upper_253"),
    ("worst", "upper_xn_253"),
    ("worst", "upper_short_labels"),
    ("worst", "lower_253"),
    ("worst", "idn_1000"),
    ("worst", "max_ascii_path"),
    ("worst", "max_utf8_path"),
    ("worst", "max_escapes_path"),
    ("worst", "max_dot_segments"),
    ("worst", "oversized_link"),
    ("worst", "max_dotdot_segments"),
    ("worst", "dotdot_8_then_query"),
    ("worst", "short_labels_dotdot_8_then_query"),
    ("dense", "link_repeated"),
    ("dense", "kept_between"),
    ("dense", "mixture"),
];

/// The guide's link: the extension map (its box, its table, and the boxed
/// `PortalTarget`), the canonical URL's serialization, and the URI rebuilt
/// without the link. A refused link costs one less: the boxed `Refusal`
/// instead of the target, and no URL parse.
const FOR_THE_GUIDE_LINK: usize = 5;

/// Any link: the five above, a buffer for a link too long to decode on the
/// stack, and the URL parser's buffers for what it rewrites (the host of an
/// upper-case or `xn--` link, a path with non-ASCII characters), which grow
/// by doubling: logarithmic in a length that the DNS limits and the
/// maximum link length bound. The most measured is 16, for 120 one-letter
/// upper-case labels (`upper_short_labels`).
const FOR_ANY_LINK: usize = 16;

#[test]
fn a_link_costs_a_bounded_number_of_allocations() {
    let guide = layer_allocations("typical", "valid_link");
    assert!(guide <= FOR_THE_GUIDE_LINK, "the guide's link: {guide}");
    for &(group, name) in WITH_LINK {
        let count = layer_allocations(group, name);
        assert!(count <= FOR_ANY_LINK, "{group}/{name}: {count}");
    }
}
