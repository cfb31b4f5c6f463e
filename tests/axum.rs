//! axum 0.8 handlers take `PortalTarget` and `Option<PortalTarget>`.
#![cfg(feature = "axum")]

mod support;

use axum::body::{to_bytes, Body};
use axum::routing::get;
use axum::Router;
use http::header::CONTENT_TYPE;
use http::{Request, StatusCode};
use support::{EVIL_CRYLK as EVIL, GUIDE_CRYLK, GUIDE_LINK};
use tower::ServiceExt;
use tower_portal_link::{BadRequest, PortalLinkLayer, PortalQuery, PortalTarget};

async fn optional(target: Option<PortalTarget>) -> String {
    match target {
        Some(target) => format!("portal {target}"),
        None => "fallback".to_owned(),
    }
}

async fn required(target: PortalTarget) -> String {
    format!("portal {target}")
}

async fn in_site(query: Option<PortalQuery>) -> String {
    match query {
        Some(query) => format!("open {}", query.as_str()),
        None => "home".to_owned(),
    }
}

async fn in_site_required(query: PortalQuery) -> String {
    format!("open {}", query.as_str())
}

fn routes() -> Router {
    Router::new()
        .route("/optional", get(optional))
        .route("/required", get(required))
        .route("/billing", get(in_site))
        .route("/billing/required", get(in_site_required))
}

fn app(layer: PortalLinkLayer) -> Router {
    routes().layer(layer)
}

async fn get_text(app: &Router, uri: &str) -> (StatusCode, String) {
    let res = app
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let body = to_bytes(res.into_body(), usize::MAX).await.unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn optional_target() {
    let app = app(PortalLinkLayer::new());
    assert_eq!(
        get_text(&app, &format!("/optional?crylk={GUIDE_CRYLK}")).await,
        (StatusCode::OK, format!("portal {GUIDE_LINK}"))
    );
    assert_eq!(
        get_text(&app, &format!("/optional?crylk={EVIL}")).await,
        (StatusCode::OK, "fallback".to_owned())
    );
    assert_eq!(
        get_text(&app, "/optional").await,
        (StatusCode::OK, "fallback".to_owned())
    );
}

#[tokio::test]
async fn required_target() {
    let app = app(PortalLinkLayer::new());
    assert_eq!(
        get_text(&app, &format!("/required?crylk={GUIDE_CRYLK}")).await,
        (StatusCode::OK, format!("portal {GUIDE_LINK}"))
    );
    let (status, body) = get_text(&app, &format!("/required?crylk={EVIL}")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body,
        "refused portal link: the portal link's host is not allowed"
    );
    assert!(
        !body.contains("evil"),
        "the rejection must not echo the link"
    );
    let (status, body) = get_text(&app, "/required?page=2").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body, "the request carries no portal link or query");
}

/// Status, content type and body of one response.
async fn answer(app: &Router, uri: &str) -> (StatusCode, Option<String>, String) {
    let res = app
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let content_type = res
        .headers()
        .get(CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_owned());
    let status = res.status();
    let body = to_bytes(res.into_body(), usize::MAX).await.unwrap();
    (
        status,
        content_type,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

#[tokio::test]
async fn bad_request_mode_answers_what_the_extractor_answers() {
    let bad_request = routes().layer(PortalLinkLayer::new().on_refused(BadRequest));
    let extractor = app(PortalLinkLayer::new());
    for query in [
        format!("crylk={EVIL}"),
        "crylk=".to_owned(),
        "crylk=a&crylk=b".to_owned(),
        "crylk=https%3a%2f%2fproabono.com%3a8443%2f".to_owned(),
        "crylk=http%3a%2f%2fproabono.com%2f".to_owned(),
        format!("crylk={}", "a".repeat(600)),
        "pa_query=%3C%2Fscript%3E".to_owned(),
    ] {
        let refused = answer(&bad_request, &format!("/optional?{query}")).await;
        let rejected = answer(&extractor, &format!("/required?{query}")).await;
        assert_eq!(refused, rejected, "{query}");
        let (status, content_type, body) = refused;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(content_type.as_deref(), Some("text/plain; charset=utf-8"));
        assert!(body.starts_with("refused portal link: "), "{body}");
        assert!(
            !body.contains("evil") && !body.contains("script") && !body.contains("aaa"),
            "{body}"
        );
    }
    assert_eq!(
        get_text(&bad_request, "/optional").await,
        (StatusCode::OK, "fallback".to_owned())
    );
}

#[tokio::test]
async fn in_site_query_in_a_router() {
    const TOKEN: &str = support::IN_SITE_QUERY;
    let app = app(PortalLinkLayer::new());
    assert_eq!(
        get_text(&app, &format!("/billing?pa_query={TOKEN}")).await,
        (StatusCode::OK, format!("open {TOKEN}"))
    );
    for hostile in ["%3C%2Fscript%3E", "a%22b", "https%3A%2F%2Fevil.com", "a+b"] {
        assert_eq!(
            get_text(&app, &format!("/billing?pa_query={hostile}")).await,
            (StatusCode::OK, "home".to_owned()),
            "{hostile}"
        );
        let (status, body) = get_text(&app, &format!("/billing/required?pa_query={hostile}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(!body.contains("script") && !body.contains("evil"), "{body}");
    }
    assert_eq!(
        get_text(&app, "/billing/required").await,
        (
            StatusCode::BAD_REQUEST,
            "the request carries no portal link or query".to_owned()
        )
    );
}
