//! Heap allocations per request, for every case and service of the
//! benchmarks (`benches/common/mod.rs`): the figures of the README's
//! "Performance" table, asserted so that they cannot change silently.
//!
//! A counting global allocator (per thread, so the test harness's other
//! threads do not count) measures `poll_ready`, `call` and the poll of the
//! future, around an inner service that allocates the same for every
//! request. The counts depend on the locked versions of `http`, `url`,
//! `serde_urlencoded` and `hashbrown`: after updating them, re-run and
//! update both this table and the README's.

#[path = "../benches/common/mod.rs"]
mod bench;

use bench::Variant;

mod counting_alloc;

#[global_allocator]
static GLOBAL: counting_alloc::Counting = counting_alloc::Counting;

/// Allocations (a `realloc` counts as one) for one request to `variant`.
fn allocations(variant: Variant, uri: &str) -> usize {
    let mut svc = variant.service();
    let req = bench::request(uri);
    let before = counting_alloc::allocations();
    let response = svc.run(req);
    let after = counting_alloc::allocations();
    drop(response);
    after - before
}

/// Per case: bare, naive, layer, layer with `strip_link(false)`.
const EXPECTED: &[(&str, [usize; 4])] = &[
    ("no_query", [2, 2, 2, 2]),
    ("typical", [2, 24, 2, 2]),
    ("escaped", [2, 30, 2, 2]),
    ("valid_link", [2, 15, 7, 6]),
    ("hostile_foreign", [2, 12, 6, 5]),
    ("hostile_lookalike", [2, 15, 6, 5]),
    ("large_8k", [2, 2076, 2, 2]),
    ("repeated_1000", [2, 7007, 6, 5]),
];

#[test]
fn allocations_per_request() {
    let mut measured = Vec::new();
    for case in bench::cases() {
        let mut counts = [0; 4];
        for (count, variant) in counts.iter_mut().zip(Variant::ALL) {
            *count = allocations(variant, &case.uri);
            // The same request costs the same every time: nothing is cached.
            assert_eq!(*count, allocations(variant, &case.uri), "{}", case.name);
        }
        measured.push((case.name, counts));
    }
    let table: String = measured
        .iter()
        .map(|(name, c)| format!("    ({name:?}, {c:?}),\n"))
        .collect();
    // `scripts/bench.sh` reads this (with `--nocapture`) for the README.
    println!("allocations per request (bare, naive, layer, layer_nostrip):\n{table}");
    assert_eq!(
        measured.as_slice(),
        EXPECTED,
        "measured (bare, naive, layer, layer_nostrip):\n{table}"
    );
}

/// Answers a response without any header.
#[derive(Clone, Copy)]
struct Headerless;

impl tower::Service<http::Request<()>> for Headerless {
    type Response = http::Response<()>;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<http::Response<()>, std::convert::Infallible>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), std::convert::Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: http::Request<()>) -> Self::Future {
        std::future::ready(Ok(http::Response::new(())))
    }
}

/// The README's note: `Referrer-Policy` is added to the response's header
/// map, which costs its two first allocations when the inner service sent
/// no header at all (the benchmarks' inner service sends `Content-Type`).
#[test]
fn referrer_policy_on_a_response_without_headers() {
    let uri = bench::cases()
        .into_iter()
        .find(|case| case.name == "valid_link")
        .expect("case")
        .uri;
    let count = |layer: tower_portal_link::PortalLinkLayer| {
        let mut svc = tower::Layer::layer(&layer, Headerless);
        let req = bench::request(&uri);
        let before = counting_alloc::allocations();
        let response = bench::run(&mut svc, req);
        let after = counting_alloc::allocations();
        assert_eq!(
            response.headers()["referrer-policy"],
            "no-referrer",
            "the layer sets it"
        );
        after - before
    };
    let layer = tower_portal_link::PortalLinkLayer::new;
    assert_eq!(count(layer()), 5 + 2);
    assert_eq!(count(layer().strip_link(false)), 4 + 2);
}
