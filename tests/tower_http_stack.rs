//! The layer among the tower-http layers services actually stack
//! (`SetRequestIdLayer`, `TraceLayer`, `PropagateRequestIdLayer`,
//! `CompressionLayer`, `TimeoutLayer`), in the two orders that make sense,
//! served by hyper over loopback and called with a real HTTP/1.1 client.
//!
//! - Outermost: the link is stripped before anything else sees the request,
//!   so `TraceLayer`'s default span, which records the URI, never holds it.
//! - Innermost, next to the handler: everything else wraps the handler as
//!   usual, and `TraceLayer` must then record the path only, since the URI
//!   it sees still carries the link.
//!
//! Either way the handler gets its `PortalTarget`, and the trace output
//! holds no part of any link.

mod common;

use std::convert::Infallible;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::capture::Captured;
use common::loopback::{bounded, listener, send};
use common::{GUIDE_CRYLK, GUIDE_LINK};
use http::header::{ACCEPT_ENCODING, CONTENT_ENCODING, REFERRER_POLICY};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tower::{Service, ServiceBuilder};
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use tower_portal_link::{PortalLinkLayer, PortalTarget, Refusal};

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
async fn handler(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let ext = req.extensions();
    let verdict = match (ext.get::<PortalTarget>(), ext.get::<Refusal>()) {
        (Some(target), _) => format!("portal: {target}"),
        (None, Some(refusal)) => format!("refused: {}", refusal.code()),
        (None, None) => "none".to_owned(),
    };
    let id = req
        .headers()
        .get("x-request-id")
        .map(|id| id.to_str().unwrap_or("?"));
    let body = format!("{verdict}\nrequest-id: {}\n", id.unwrap_or("none"));
    Ok(Response::new(Full::from(body)))
}

async fn serve<S, B>(service: S) -> SocketAddr
where
    S: Service<Request<Incoming>, Response = Response<B>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (listener, addr) = listener().await;
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.expect("accept");
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
        }
    });
    addr
}

/// `GET path` asking for gzip; the status and the decompressed text.
async fn get_gzip(addr: SocketAddr, path: &str) -> (StatusCode, Response<String>) {
    let req = Request::get(path)
        .header(ACCEPT_ENCODING, "gzip")
        .body(Full::default())
        .unwrap();
    let res = send(addr, req).await;
    assert_eq!(
        res.headers().get(CONTENT_ENCODING).map(|v| v.as_bytes()),
        Some(&b"gzip"[..]),
        "CompressionLayer compressed the handler's answer"
    );
    let (parts, body) = res.into_parts();
    let mut text = String::new();
    flate2::read::GzDecoder::new(&body[..])
        .read_to_string(&mut text)
        .expect("a gzip body");
    (parts.status, Response::from_parts(parts, text))
}

/// The exchanges both orders must get right.
async fn exercise(addr: SocketAddr) {
    let (status, res) =
        get_gzip(addr, &format!("/Subscriptions?crylk={GUIDE_CRYLK}&lang=fr")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        res.body(),
        &format!("portal: {GUIDE_LINK}\nrequest-id: 1\n")
    );
    assert_eq!(res.headers()["x-request-id"], "1");
    assert_eq!(res.headers()[REFERRER_POLICY], "no-referrer");

    let (status, res) = get_gzip(addr, &format!("/Subscriptions?crylk={EVIL_CRYLK}&lang=fr")).await;
    assert_eq!(status, StatusCode::OK);
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
    bounded(exercise(serve(service).await)).await;

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
            TraceLayer::new_for_http().make_span_with(|req: &Request<Incoming>| {
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
    bounded(exercise(serve(service).await)).await;

    let trace = captured.text();
    assert_no_link_in(&trace);
    assert!(
        trace.contains(r#"request{method=GET path="/Subscriptions"}"#),
        "{trace}"
    );
}
