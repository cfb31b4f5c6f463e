//! The layer among the tower-http layers services actually stack
//! (`SetRequestIdLayer`, `TraceLayer`, `PropagateRequestIdLayer`,
//! `CompressionLayer`, `TimeoutLayer`), in the two orders that make sense,
//! called in process by a client that accepts gzip (tower-http's
//! `DecompressionLayer`). Serving over sockets is the example crates' to
//! test (`examples/hyper`).
//!
//! - Outermost: the link is stripped before anything else sees the request,
//!   so `TraceLayer`'s default span, which records the URI, never holds it.
//! - Innermost, next to the handler: everything else wraps the handler as
//!   usual, and `TraceLayer` must then record the path only, since the URI
//!   it sees still carries the link.
//!
//! Either way the handler gets its `PortalTarget`, and the trace output
//! holds no part of any link. Needs the `tracing` feature, for the capture.
#![cfg(feature = "tracing")]

mod support;

use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::body::{to_bytes, Body, Bytes, HttpBody};
use http::header::{CONTENT_ENCODING, REFERRER_POLICY};
use http::{HeaderValue, Request, Response, StatusCode};
use support::capture::Captured;
use support::{verdict, GUIDE_CRYLK, GUIDE_LINK};
use tower::{BoxError, Service, ServiceBuilder, ServiceExt};
use tower_http::compression::CompressionLayer;
use tower_http::decompression::DecompressionLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use tower_portal_link::PortalLinkLayer;

const EVIL_CRYLK: &str = "https%3a%2f%2fevilproabono.com%2fSECRET-TOKEN";

/// Request ids 1, 2, 3, ...: deterministic, unlike UUIDs.
#[derive(Clone, Default)]
struct Sequential(Arc<AtomicU64>);

impl MakeRequestId for Sequential {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let id = self.0.fetch_add(1, Ordering::Relaxed) + 1;
        Some(RequestId::new(HeaderValue::from(id)))
    }
}

/// What the handler saw: the layer's verdict and the request id.
async fn handler(req: Request<Body>) -> Result<Response<Body>, Infallible> {
    let verdict = match verdict(&req) {
        Ok(Some(target)) => format!("portal: {target}"),
        Err(refusal) => format!("refused: {}", refusal.code()),
        Ok(None) => "none".to_owned(),
    };
    let id = req
        .headers()
        .get("x-request-id")
        .map(|id| id.to_str().unwrap_or("?"));
    let body = format!("{verdict}\nrequest-id: {}\n", id.unwrap_or("none"));
    Ok(Response::new(Body::from(body)))
}

/// `GET path` from a client that accepts gzip: the response, checked to
/// have come compressed, with its body decompressed to text.
async fn get_gzip<S, B>(stack: S, path: &str) -> Response<String>
where
    S: Service<Request<Body>, Response = Response<B>, Error = Infallible>,
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError> + Send,
{
    let client = ServiceBuilder::new()
        .layer(DecompressionLayer::new())
        .map_response(|res: Response<B>| {
            assert_eq!(
                res.headers().get(CONTENT_ENCODING).map(|v| v.as_bytes()),
                Some(&b"gzip"[..]),
                "CompressionLayer compressed the handler's answer"
            );
            res
        })
        .service(stack);
    let req = Request::get(path).body(Body::empty()).unwrap();
    let (parts, body) = client.oneshot(req).await.unwrap().into_parts();
    let body = to_bytes(Body::new(body), usize::MAX).await.unwrap();
    let text = String::from_utf8(body.to_vec()).expect("a UTF-8 body");
    Response::from_parts(parts, text)
}

/// The exchanges both orders must get right.
async fn exercise<S, B>(stack: S)
where
    S: Service<Request<Body>, Response = Response<B>, Error = Infallible> + Clone,
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError> + Send,
{
    let res = get_gzip(
        stack.clone(),
        &format!("/Subscriptions?crylk={GUIDE_CRYLK}&lang=fr"),
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.body(),
        &format!("portal: {GUIDE_LINK}\nrequest-id: 1\n")
    );
    assert_eq!(res.headers()["x-request-id"], "1");
    assert_eq!(res.headers()[REFERRER_POLICY], "no-referrer");

    let res = get_gzip(stack, &format!("/Subscriptions?crylk={EVIL_CRYLK}&lang=fr")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.body(), "refused: host_not_allowed\nrequest-id: 2\n");
    assert_eq!(res.headers()["x-request-id"], "2");
    assert_eq!(res.headers()[REFERRER_POLICY], "no-referrer");
}

fn assert_no_link_in(trace: &str) {
    assert!(trace.contains("/Subscriptions"), "nothing traced:\n{trace}");
    for secret in ["crylk", "proabono", "0p9i35O1V9", "SECRET"] {
        assert!(
            !trace.contains(secret),
            "{secret:?} leaked into the trace:\n{trace}"
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn outermost_the_trace_records_the_stripped_uri() {
    let captured = Captured::default();
    let _guard = captured.install(tracing::Level::DEBUG);
    let service = ServiceBuilder::new()
        .layer(PortalLinkLayer::new())
        .layer(SetRequestIdLayer::x_request_id(Sequential::default()))
        .layer(TraceLayer::new_for_http())
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(CompressionLayer::new())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(10),
        ))
        .service_fn(handler);
    exercise(service).await;

    let trace = captured.text();
    // The default span records the whole URI: what the layer left of it.
    assert_no_link_in(&trace);
    assert!(trace.contains("uri=/Subscriptions?lang=fr"), "{trace}");
}

#[tokio::test(flavor = "current_thread")]
async fn innermost_with_a_path_only_span() {
    let captured = Captured::default();
    let _guard = captured.install(tracing::Level::DEBUG);
    let service = ServiceBuilder::new()
        .layer(SetRequestIdLayer::x_request_id(Sequential::default()))
        .layer(
            // The URI still carries the link out here: record the path only.
            TraceLayer::new_for_http().make_span_with(|req: &Request<Body>| {
                tracing::debug_span!("request", method = %req.method(), path = req.uri().path())
            }),
        )
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(CompressionLayer::new())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(10),
        ))
        .layer(PortalLinkLayer::new())
        .service_fn(handler);
    exercise(service).await;

    let trace = captured.text();
    assert_no_link_in(&trace);
    assert!(
        trace.contains(r#"request{method=GET path="/Subscriptions"}"#),
        "{trace}"
    );
}
