//! The example's stack, served over loopback by hyper 1 and queried by a
//! real HTTP/1.1 client: what the example shows is what runs.

use example_hyper::{serve, HOSTED_HOME};
use http::header::REFERRER_POLICY;
use http::StatusCode;
use test_support::{get, serve_on_loopback, text, EVIL_CRYLK, GUIDE_CRYLK, GUIDE_LINK};

#[tokio::test]
async fn accepted_link_reaches_the_handler_canonical() {
    let addr = serve_on_loopback(serve).await;
    let res = get(addr, &format!("/Subscriptions?crylk={GUIDE_CRYLK}")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(text(&res), format!("portal: {GUIDE_LINK}\n"));
    assert_eq!(res.headers()[REFERRER_POLICY], "no-referrer");
}

#[tokio::test]
async fn refused_link_falls_back_with_its_reason() {
    let addr = serve_on_loopback(serve).await;
    let res = get(addr, &format!("/Subscriptions?crylk={EVIL_CRYLK}")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        text(&res),
        format!("fallback: {HOSTED_HOME} (crylk refused: host_not_allowed)\n")
    );
    // The URL carried a link, refused or not: it must not leak onwards.
    assert_eq!(res.headers()[REFERRER_POLICY], "no-referrer");
}

#[tokio::test]
async fn no_link_is_neither_target_nor_refusal() {
    let addr = serve_on_loopback(serve).await;
    let res = get(addr, "/Subscriptions?lang=fr").await;
    assert_eq!(text(&res), format!("fallback: {HOSTED_HOME} (no crylk)\n"));
    assert!(res.headers().get(REFERRER_POLICY).is_none());
}
