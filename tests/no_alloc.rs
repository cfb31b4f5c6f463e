//! A request without the link costs the layer no heap allocation. This is
//! the one place that checks it; the properties check that allocations do
//! not grow with the query.
//!
//! A counting global allocator (per thread, so the test harness's other
//! threads do not count) measures exactly `poll_ready`, `call` and the poll
//! of the layer's future, around an inner service that allocates nothing
//! itself.

mod support;

use http::Request;
use proptest::prelude::*;
use proptest::test_runner::Config;
use support::counting_alloc::heap_of;
use support::{poll_once, Bare, GUIDE_CRYLK};
use tower::Layer;
use tower_portal_link::{PortalLink, PortalLinkLayer};

#[global_allocator]
static GLOBAL: support::counting_alloc::Counting = support::counting_alloc::Counting;

/// Heap allocations made by the layer (and `Bare`) for one request to
/// `uri`; the request is built, and the response dropped, outside the count.
fn allocations(svc: &mut PortalLink<Bare>, uri: &str) -> usize {
    let req = Request::get(uri).body(()).expect("a valid request target");
    let (response, heap) = heap_of(|| poll_once(svc, req));
    drop(response);
    heap.count
}

#[test]
fn requests_without_the_link_allocate_nothing() {
    let mut svc = PortalLinkLayer::new().layer(Bare);
    let long = format!("/Subscriptions?{}", "utm_source=newsletter&".repeat(400));
    let escaped = format!(
        "/Subscriptions?{}",
        "q=%C3%A9t%C3%A9+2026&cr%79=1&".repeat(100)
    );
    for uri in [
        "/Subscriptions",
        "/Subscriptions?",
        "/Subscriptions?utm_source=newsletter&utm_medium=email&utm_campaign=2026-11&ref=abc123&lang=fr",
        "/Subscriptions?q=%C3%A9t%C3%A9&name=Fran%C3%A7ois+Dupont&redirect=%2Fhome",
        "/Subscriptions?crylkk=1&cryl=2&xcrylk=3&cryl%6b%6b=4&%63rylx=5",
        "/Subscriptions?pa_queryy=1&pa_quer=2&pa%5Fquer=3",
        &long,
        &escaped,
    ] {
        assert_eq!(allocations(&mut svc, uri), 0, "{uri}");
    }
}

/// If this fails, the counter counts nothing and the tests around it prove
/// nothing.
#[test]
fn the_counter_sees_the_layer_allocate_for_either_parameter() {
    let mut svc = PortalLinkLayer::new().layer(Bare);
    for uri in [
        format!("/Subscriptions?crylk={GUIDE_CRYLK}"),
        "/Subscriptions?pa_query=0p9i35O1V9_JJRfC0nIeE96ot9e1LcN349".to_owned(),
    ] {
        assert!(allocations(&mut svc, &uri) > 0, "{uri}");
    }
}

/// Pieces of queries that come close to the layer's two names without
/// being either, and the separators and escapes around them.
fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(vec![
            "crylkk=", "cryl=", "xcrylk=", "cryl%6b%6b=", "%63ryl=", "crylk%=", "crylk+=",
            "pa_queryy=", "pa_quer=", "pa%5Fquer=", "pa_query%=", "&", "&&", "=", "+", "%",
            "%2", "%26", "%3D", "%c3%a9", "https%3a%2f%2fa.proabono.com%2f",
        ])
        .prop_map(str::to_owned),
        3 => "[A-Za-z0-9._~!$'()*,;:@/?-]{1,8}",
        1 => "(%[0-9a-fA-F]{2}){1,3}",
    ]
}

proptest! {
    #![proptest_config(Config { cases: 512, failure_persistence: None, ..Config::default() })]

    #[test]
    fn any_query_without_either_name_allocates_nothing(
        pieces in prop::collection::vec(piece(), 0..40),
    ) {
        let query = pieces.concat();
        // The form parser, not the code under test, says which names the
        // query holds.
        prop_assume!(url::form_urlencoded::parse(query.as_bytes())
            .all(|(name, _)| name != "crylk" && name != "pa_query"));
        let mut svc = PortalLinkLayer::new().layer(Bare);
        let uri = format!("/Subscriptions?{query}");
        prop_assert_eq!(allocations(&mut svc, &uri), 0, "{}", uri);
    }
}
