//! `examples/warp.rs`: a warp 0.4 filter tree behind the layer, served over
//! loopback and queried by a real HTTP/1.1 client.

mod common;

#[allow(dead_code)] // its `main`
#[path = "../examples/warp.rs"]
mod example;

use common::loopback::{get, listener, text};
use common::{GUIDE_CRYLK, GUIDE_LINK};
use http::header::REFERRER_POLICY;
use http::StatusCode;

async fn start() -> std::net::SocketAddr {
    let (listener, addr) = listener().await;
    tokio::spawn(example::serve(listener));
    addr
}

#[tokio::test]
async fn ext_get_sees_the_accepted_link() {
    let addr = start().await;
    let res = get(addr, &format!("/Subscriptions?crylk={GUIDE_CRYLK}")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(text(&res), format!("portal: {GUIDE_LINK}\n"));
    assert_eq!(res.headers()[REFERRER_POLICY], "no-referrer");
}

#[tokio::test]
async fn refused_link_reaches_ext_optional_as_a_refusal() {
    let addr = start().await;
    let res = get(
        addr,
        "/Subscriptions?crylk=https%3a%2f%2fevilproabono.com%2f",
    )
    .await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        text(&res),
        format!(
            "fallback: {} (crylk refused: host_not_allowed)\n",
            example::HOSTED_HOME
        )
    );
    assert_eq!(res.headers()[REFERRER_POLICY], "no-referrer");
}

#[tokio::test]
async fn no_link_falls_through_to_the_fallback_route() {
    let addr = start().await;
    let res = get(addr, "/Subscriptions").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        text(&res),
        format!("fallback: {} (no crylk)\n", example::HOSTED_HOME)
    );
    // warp's own routing still answers for everything else.
    let res = get(addr, &format!("/elsewhere?crylk={GUIDE_CRYLK}")).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
}
