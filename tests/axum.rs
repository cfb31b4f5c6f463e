//! axum 0.8 handlers take `PortalTarget` and `Option<PortalTarget>`.
#![cfg(feature = "axum")]

mod support;

use axum::body::{to_bytes, Body};
use axum::routing::get;
use axum::Router;
use http::{Request, StatusCode};
use support::{EVIL_CRYLK as EVIL, GUIDE_CRYLK, GUIDE_LINK};
use tower::ServiceExt;
use tower_portal_link::{BadRequest, PortalLinkLayer, PortalTarget};

async fn optional(target: Option<PortalTarget>) -> String {
    match target {
        Some(target) => format!("portal {target}"),
        None => "fallback".to_owned(),
    }
}

async fn required(target: PortalTarget) -> String {
    format!("portal {target}")
}

fn routes() -> Router {
    Router::new()
        .route("/optional", get(optional))
        .route("/required", get(required))
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

#[tokio::test]
async fn bad_request_mode_in_a_router() {
    let app = routes().layer(PortalLinkLayer::new().on_refused(BadRequest));
    let (status, body) = get_text(&app, &format!("/optional?crylk={EVIL}")).await;
    assert_eq!((status, body.as_str()), (StatusCode::BAD_REQUEST, ""));
    assert_eq!(
        get_text(&app, "/optional").await,
        (StatusCode::OK, "fallback".to_owned())
    );
}
