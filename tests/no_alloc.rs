//! A request without the link costs the layer no heap allocation.
//!
//! A counting global allocator (per thread, so the test harness's other
//! threads do not count) measures exactly the layer's `call` and the poll of
//! its future, around an inner service that allocates nothing itself.

use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use http::{Request, Response};
use tower::Service;
use tower_portal_link::{PortalLink, PortalLinkLayer};

mod counting_alloc;

#[global_allocator]
static GLOBAL: counting_alloc::Counting = counting_alloc::Counting;

/// Answers an empty response: allocates nothing.
#[derive(Clone)]
struct Bare;

impl Service<Request<()>> for Bare {
    type Response = Response<()>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Response<()>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<()>) -> Self::Future {
        std::future::ready(Ok(Response::new(())))
    }
}

/// Heap allocations made by the layer (and `Bare`) for one request.
fn allocations(svc: &mut PortalLink<Bare>, uri: &str) -> usize {
    let req = Request::get(uri).body(()).unwrap();
    let mut cx = Context::from_waker(Waker::noop());
    let before = counting_alloc::allocations();
    let response = {
        let fut = pin!(svc.call(req));
        match fut.poll(&mut cx) {
            Poll::Ready(res) => res,
            Poll::Pending => unreachable!("Bare is always ready"),
        }
    };
    let after = counting_alloc::allocations();
    drop(response);
    after - before
}

#[test]
fn requests_without_the_link_allocate_nothing() {
    let mut svc = PortalLinkLayer::new().layer_bare();
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
        "/Subscriptions?pa_query=0p9i35O1V9_JJRfC0nIeE96ot9e1LcN349",
        &long,
        &escaped,
    ] {
        assert_eq!(allocations(&mut svc, uri), 0, "{uri}");
    }
}

#[test]
fn the_counter_sees_the_layer_allocate_for_a_link() {
    // If this fails, the counter counts nothing and the test above proves
    // nothing.
    let mut svc = PortalLinkLayer::new().layer_bare();
    let uri = "/Subscriptions?crylk=https%3a%2f%2fmon-app.via.proabono.com%2fsubscribe-offer%2f0p9i35O1V9_JJRfC0nIeE96ot9e1LcN349";
    assert!(allocations(&mut svc, uri) > 0);
}

trait LayerBare {
    fn layer_bare(&self) -> PortalLink<Bare>;
}

impl LayerBare for PortalLinkLayer {
    fn layer_bare(&self) -> PortalLink<Bare> {
        tower::Layer::layer(self, Bare)
    }
}
