//! The page's Router, called in-process: what it frames, what it says under
//! the iframe, and the headers that keep the link from leaking.

use axum::body::{to_bytes, Body};
use axum::http::header::{CONTENT_SECURITY_POLICY, REFERRER_POLICY};
use axum::http::{Request, StatusCode};
use axum::Router;
use subscriptions::{app, DEFAULT_FALLBACK};
use test_support::{EVIL_CRYLK, GUIDE_CRYLK, GUIDE_LINK};
use tower::ServiceExt;

/// The status, the `Content-Security-Policy` and the body of `GET uri`.
async fn page(app: Router, uri: &str) -> (StatusCode, String, String) {
    let res = app
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    // The page sends it with or without a link: it is where links land.
    assert_eq!(res.headers()[REFERRER_POLICY], "no-referrer");
    let status = res.status();
    let csp = res.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    let body = to_bytes(res.into_body(), 1 << 16).await.unwrap();
    (status, csp, String::from_utf8(body.to_vec()).unwrap())
}

fn iframe_src(html: &str) -> &str {
    let start = html.find(r#"<iframe id="portal""#).expect("the iframe");
    let src = &html[start..];
    let src = &src[src.find(r#" src=""#).expect("its src") + 6..];
    &src[..src.find('"').expect("the end of src")]
}

fn source_line(html: &str) -> &str {
    let start = html.find("Portal link: ").expect("the source line");
    let line = &html[start..];
    &line[..line.find("</p>").expect("the end of the line")]
}

#[tokio::test]
async fn accepted_link_is_framed() {
    let uri = format!("/Subscriptions?crylk={GUIDE_CRYLK}");
    let (status, _, html) = page(app(DEFAULT_FALLBACK.to_owned()), &uri).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(iframe_src(&html), GUIDE_LINK);
    assert_eq!(source_line(&html), "Portal link: crylk");
}

#[tokio::test]
async fn refused_link_shows_the_fallback_and_why() {
    let uri = format!("/Subscriptions?crylk={EVIL_CRYLK}");
    let (status, _, html) = page(app(DEFAULT_FALLBACK.to_owned()), &uri).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(iframe_src(&html), DEFAULT_FALLBACK);
    assert_eq!(
        source_line(&html),
        "Portal link: fallback (crylk refused: the portal link&#39;s host is not allowed)"
    );
}

#[tokio::test]
async fn no_link_shows_the_fallback() {
    let (status, _, html) = page(app(DEFAULT_FALLBACK.to_owned()), "/Subscriptions").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(iframe_src(&html), DEFAULT_FALLBACK);
    assert_eq!(source_line(&html), "Portal link: fallback (no crylk)");
}

#[tokio::test]
async fn the_iframe_src_is_escaped_for_its_attribute() {
    // `&` is the one character of an accepted link that HTML gives a meaning.
    let crylk = "https%3a%2f%2fmon-app.via.proabono.com%2fportal%3fa%3d1%26lang%3dfr";
    let uri = format!("/Subscriptions?crylk={crylk}");
    let (_, _, html) = page(app(DEFAULT_FALLBACK.to_owned()), &uri).await;
    assert_eq!(
        iframe_src(&html),
        "https://mon-app.via.proabono.com/portal?a=1&amp;lang=fr"
    );

    // The fallback comes from the environment: whatever it holds stays text.
    let fallback = r#"https://billing.example.com/portal?a=1&b="<x>""#;
    let (_, _, html) = page(app(fallback.to_owned()), "/Subscriptions").await;
    assert_eq!(
        iframe_src(&html),
        "https://billing.example.com/portal?a=1&amp;b=&quot;&lt;x&gt;&quot;"
    );
}

#[tokio::test]
async fn csp_frames_only_proabono_and_the_fallback() {
    let (_, csp, _) = page(app(DEFAULT_FALLBACK.to_owned()), "/Subscriptions").await;
    assert_eq!(
        csp,
        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; \
         frame-src https://proabono.com https://*.proabono.com https://demo-eur.proabono.com"
    );
    // A fallback on the business's own site is framed too, by origin only.
    let fallback = "https://billing.example.com:8443/portal?customer=42";
    let (_, csp, _) = page(app(fallback.to_owned()), "/Subscriptions").await;
    assert!(
        csp.ends_with("https://*.proabono.com https://billing.example.com:8443"),
        "{csp}"
    );
}

#[tokio::test]
async fn other_paths_are_not_found() {
    let res = app(DEFAULT_FALLBACK.to_owned())
        .oneshot(Request::get("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}
