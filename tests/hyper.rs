//! `examples/hyper.rs`, served over loopback by hyper 1 and queried by a
//! real HTTP/1.1 client: what the example shows is what runs.

mod common;

#[allow(dead_code)] // its `main`
#[path = "../examples/hyper.rs"]
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
async fn accepted_link_reaches_the_handler_canonical() {
    let addr = start().await;
    let res = get(addr, &format!("/Subscriptions?crylk={GUIDE_CRYLK}")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(text(&res), format!("portal: {GUIDE_LINK}\n"));
    assert_eq!(res.headers()[REFERRER_POLICY], "no-referrer");
}

#[tokio::test]
async fn refused_link_falls_back_with_its_reason() {
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
    // The URL carried a link, refused or not: it must not leak onwards.
    assert_eq!(res.headers()[REFERRER_POLICY], "no-referrer");
}

#[tokio::test]
async fn no_link_is_neither_target_nor_refusal() {
    let addr = start().await;
    let res = get(addr, "/Subscriptions?lang=fr").await;
    assert_eq!(
        text(&res),
        format!("fallback: {} (no crylk)\n", example::HOSTED_HOME)
    );
    assert!(res.headers().get(REFERRER_POLICY).is_none());
}
