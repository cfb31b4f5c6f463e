//! Every placement of the layer in an axum app that the docs show keeps the
//! link out of everything downstream: the `Uri` and the `OriginalUri` that
//! handlers extract, and a `TraceLayer` span inside the layer that records
//! both.
#![cfg(all(feature = "axum", feature = "tracing"))]

mod support;

use axum::body::{to_bytes, Body};
use axum::extract::OriginalUri;
use axum::routing::get;
use axum::Router;
use http::{Request, Uri};
use support::capture::Captured;
use support::{GUIDE_CRYLK, GUIDE_LINK};
use tower::{Layer, ServiceExt};
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::TraceLayer;
use tower_portal_link::{PortalLinkLayer, PortalTarget};

/// The secret part of the guide's link, the same in every form it may take.
fn token() -> &'static str {
    GUIDE_LINK.rsplit('/').next().expect("a path")
}

/// Reports what a handler can read of the request.
async fn page(
    uri: Uri,
    OriginalUri(original): OriginalUri,
    target: Option<PortalTarget>,
) -> String {
    let target = target.map_or_else(|| "none".to_owned(), |t| t.to_string());
    format!("uri={uri}\noriginal={original}\ntarget={target}")
}

/// A span that records the URI and axum's `OriginalUri`, as axum's docs
/// suggest for apps with nested routers.
fn trace() -> TraceLayer<
    SharedClassifier<ServerErrorsAsFailures>,
    impl Fn(&Request<Body>) -> tracing::Span + Clone,
> {
    TraceLayer::new_for_http().make_span_with(|req: &Request<Body>| {
        let original = req
            .extensions()
            .get::<OriginalUri>()
            .map(|o| o.0.to_string());
        tracing::debug_span!("request", uri = %req.uri(), original_uri = ?original)
    })
}

fn routes() -> Router {
    Router::new().route("/Subscriptions", get(page))
}

/// The placements the docs show, each with `TraceLayer` inside the layer.
fn placements() -> Vec<(&'static str, &'static str, Router)> {
    vec![
        (
            "Router::layer",
            "/Subscriptions",
            routes().layer(trace()).layer(PortalLinkLayer::new()),
        ),
        (
            "nested router",
            "/billing/Subscriptions",
            Router::new().nest(
                "/billing",
                routes().layer(trace()).layer(PortalLinkLayer::new()),
            ),
        ),
        (
            "route_layer",
            "/Subscriptions",
            routes()
                .route_layer(trace())
                .route_layer(PortalLinkLayer::new()),
        ),
    ]
}

async fn send<S>(app: S, uri: &str) -> String
where
    S: tower::Service<Request<Body>, Response = axum::response::Response>,
    S::Error: std::fmt::Debug,
{
    let res = app
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let body = to_bytes(res.into_body(), usize::MAX).await.unwrap();
    String::from_utf8(body.to_vec()).unwrap()
}

/// What the handler read of the request, less the target it is meant to
/// read.
fn request_seen(body: &str) -> &str {
    body.split("\ntarget=").next().unwrap()
}

fn assert_clean(what: &str, text: &str) {
    for secret in [
        "crylk",
        token(),
        "mon-app.via",
        "subscribe-offer",
        "evilproabono",
    ] {
        assert!(!text.contains(secret), "{what}: {secret:?} in\n{text}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn no_placement_leaks_the_link() {
    let queries = [
        // Accepted, among other parameters.
        format!("lang=fr&crylk={GUIDE_CRYLK}&utm_source=email"),
        // Refused, and repeated.
        format!("crylk=https%3a%2f%2fevilproabono.com%2f{}", token()),
        format!("crylk={GUIDE_CRYLK}&cryl%6B={GUIDE_CRYLK}"),
    ];
    for (name, path, app) in placements() {
        for query in &queries {
            let captured = Captured::default();
            let guard = captured.install(tracing::Level::TRACE);
            let body = send(app.clone(), &format!("{path}?{query}")).await;
            drop(guard);
            let logs = captured.text();
            assert!(logs.contains("original_uri"), "{name}: no span in\n{logs}");
            assert_clean(name, request_seen(&body));
            assert_clean(name, &logs);
            if query.starts_with("lang") {
                assert!(
                    body.contains(&format!("target={GUIDE_LINK}")),
                    "{name}: {body}"
                );
                assert!(body.contains("lang=fr&utm_source=email"), "{name}: {body}");
            } else {
                assert!(body.contains("target=none"), "{name}: {body}");
            }
        }
    }
}

#[tokio::test(flavor = "current_thread")]
async fn around_the_whole_router() {
    let app = PortalLinkLayer::new().layer(routes().layer(trace()));
    let captured = Captured::default();
    let guard = captured.install(tracing::Level::TRACE);
    let body = send(app, &format!("/Subscriptions?crylk={GUIDE_CRYLK}")).await;
    drop(guard);
    assert_clean("outermost", request_seen(&body));
    assert_clean("outermost", &captured.text());
    assert!(body.contains(&format!("target={GUIDE_LINK}")), "{body}");
    assert!(body.contains("original=/Subscriptions\n"), "{body}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_trace_layer_outside_the_layer_sees_the_link() {
    // Where the promise stops, as the docs say: a layer outside
    // `PortalLinkLayer` sees the request before the link is removed.
    let app = routes().layer(PortalLinkLayer::new()).layer(trace());
    let captured = Captured::default();
    let guard = captured.install(tracing::Level::TRACE);
    let body = send(app, &format!("/Subscriptions?crylk={GUIDE_CRYLK}")).await;
    drop(guard);
    assert_clean("handler", request_seen(&body));
    assert!(captured.text().contains(token()));
}

#[tokio::test(flavor = "current_thread")]
async fn strip_link_false_leaves_both_uris() {
    let app = routes().layer(PortalLinkLayer::new().strip_link(false));
    let body = send(app, &format!("/Subscriptions?crylk={GUIDE_CRYLK}")).await;
    assert_eq!(body.matches(token()).count(), 3, "{body}");
}

#[tokio::test(flavor = "current_thread")]
async fn a_fallback_outside_the_layer_sees_the_link() {
    // Where the promise stops, as the docs say: `route_layer` never runs
    // for the fallback, and `Router::layer` covers only what was added
    // before it. Added before it, the fallback is covered.
    let uri = format!("/elsewhere?crylk={GUIDE_CRYLK}");
    let route_layer = routes().fallback(page).route_layer(PortalLinkLayer::new());
    let fallback_after = routes().layer(PortalLinkLayer::new()).fallback(page);
    for (name, app) in [
        ("route_layer", route_layer),
        ("fallback after", fallback_after),
    ] {
        let body = send(app, &uri).await;
        assert!(request_seen(&body).contains(token()), "{name}: {body}");
        assert!(body.contains("target=none"), "{name}: {body}");
    }
    let fallback_before = routes().fallback(page).layer(PortalLinkLayer::new());
    let body = send(fallback_before, &uri).await;
    assert_clean("fallback before", request_seen(&body));
    assert!(body.contains(&format!("target={GUIDE_LINK}")), "{body}");
}
