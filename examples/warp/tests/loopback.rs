//! The example's filter tree behind the layer, served over loopback and
//! queried by a real HTTP/1.1 client.

use example_warp::{serve, HOSTED_HOME};
use http::header::REFERRER_POLICY;
use http::StatusCode;
use test_support::{get, serve_on_loopback, text, EVIL_CRYLK, GUIDE_CRYLK, GUIDE_LINK};

#[tokio::test]
async fn ext_get_sees_the_accepted_link() {
    let addr = serve_on_loopback(serve).await;
    let res = get(addr, &format!("/Subscriptions?crylk={GUIDE_CRYLK}")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(text(&res), format!("portal: {GUIDE_LINK}\n"));
    assert_eq!(res.headers()[REFERRER_POLICY], "no-referrer");
}

#[tokio::test]
async fn refused_link_reaches_ext_optional_as_a_refusal() {
    let addr = serve_on_loopback(serve).await;
    let res = get(addr, &format!("/Subscriptions?crylk={EVIL_CRYLK}")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        text(&res),
        format!("fallback: {HOSTED_HOME} (crylk refused: host_not_allowed)\n")
    );
    assert_eq!(res.headers()[REFERRER_POLICY], "no-referrer");
}

#[tokio::test]
async fn no_link_falls_through_to_the_fallback_route() {
    let addr = serve_on_loopback(serve).await;
    let res = get(addr, "/Subscriptions").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(text(&res), format!("fallback: {HOSTED_HOME} (no crylk)\n"));
    // warp's own routing still answers for everything else.
    let res = get(addr, &format!("/elsewhere?crylk={GUIDE_CRYLK}")).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}
