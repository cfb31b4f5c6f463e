//! tonic 0.14 and tonic-web behind the layer, served over loopback and
//! called as a browser would, with gRPC-web over HTTP/1.1
//! (`application/grpc-web+proto`). The frames and trailers are built and
//! parsed here, so that nothing of tonic's is on the client side; only the
//! messages go through the generated types.

use std::net::SocketAddr;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use example_tonic_web::pb::{GetLinkRequest, Link};
use example_tonic_web::{serve, GET_LINK, PORTAL_LINK_HEADER};
use http::header::{CONTENT_TYPE, REFERRER_POLICY};
use http::{HeaderMap, Request, StatusCode};
use http_body_util::Full;
use prost::Message;
use test_support::{send, serve_on_loopback, EVIL_CRYLK, GUIDE_CRYLK, GUIDE_LINK};

/// gRPC status codes the handler answers with.
const OK: u32 = 0;
const INVALID_ARGUMENT: u32 = 3;
const NOT_FOUND: u32 = 5;

/// What a gRPC-web client makes of a response.
#[derive(Debug)]
struct Reply {
    headers: HeaderMap,
    /// The message frames, in order.
    messages: Vec<Bytes>,
    /// Whether the status came in a trailers frame (flag `0x80`) rather
    /// than in the HTTP headers of a trailers-only response.
    trailers_frame: bool,
    status: u32,
    /// `grpc-message`, percent-decoded.
    message: String,
}

/// Calls `GetLink` with a `GetLinkRequest` in one uncompressed frame.
async fn get_link(addr: SocketAddr, query: &str, link_header: Option<&str>) -> Reply {
    let message = GetLinkRequest {}.encode_to_vec();
    let mut frame = BytesMut::new();
    frame.put_u8(0); // uncompressed
    frame.put_u32(message.len().try_into().unwrap());
    frame.put_slice(&message);
    let mut req = Request::post(format!("{GET_LINK}{query}"))
        .header(CONTENT_TYPE, "application/grpc-web+proto")
        .header("accept", "application/grpc-web+proto")
        .header("x-grpc-web", "1");
    if let Some(value) = link_header {
        req = req.header(PORTAL_LINK_HEADER, value);
    }
    let res = send(addr, req.body(Full::new(frame.freeze())).unwrap()).await;
    assert_eq!(res.status(), StatusCode::OK, "gRPC-web answers 200 always");
    assert_eq!(res.headers()[CONTENT_TYPE], "application/grpc-web+proto");
    let (parts, mut body) = res.into_parts();

    let mut messages = Vec::new();
    let mut trailers = None;
    while body.has_remaining() {
        assert!(trailers.is_none(), "nothing may follow the trailers frame");
        assert!(body.remaining() >= 5, "truncated frame header");
        let flag = body.get_u8();
        let len = body.get_u32() as usize;
        assert!(body.remaining() >= len, "truncated frame");
        let payload = body.split_to(len);
        match flag {
            0 => messages.push(payload),
            0x80 => trailers = Some(parse_trailers(&payload)),
            other => panic!("unexpected frame flag {other:#x}"),
        }
    }
    let trailers_frame = trailers.is_some();
    // A trailers-only response carries the status in the HTTP headers.
    let trailers = trailers.unwrap_or_else(|| parts.headers.clone());
    let status = trailers
        .get("grpc-status")
        .expect("a grpc-status")
        .to_str()
        .unwrap()
        .parse()
        .expect("a numeric grpc-status");
    let message = trailers.get("grpc-message").map_or(String::new(), |m| {
        percent_encoding::percent_decode(m.as_bytes())
            .decode_utf8()
            .unwrap()
            .into_owned()
    });
    Reply {
        headers: parts.headers,
        messages,
        trailers_frame,
        status,
        message,
    }
}

/// A trailers frame's payload: HTTP/1-style `name:value\r\n` lines.
fn parse_trailers(payload: &[u8]) -> HeaderMap {
    let text = std::str::from_utf8(payload).expect("UTF-8 trailers");
    let mut map = HeaderMap::new();
    for line in text.split("\r\n").filter(|line| !line.is_empty()) {
        let (name, value) = line.split_once(':').expect("name:value");
        map.append(
            http::HeaderName::from_bytes(name.trim().as_bytes()).unwrap(),
            value.trim().parse().unwrap(),
        );
    }
    map
}

fn assert_accepted(reply: &Reply) {
    assert_eq!((reply.status, reply.message.as_str()), (OK, ""));
    assert!(
        reply.trailers_frame,
        "the status of a reply with a message comes last, in a trailers frame"
    );
    assert_eq!(reply.messages.len(), 1);
    let link = Link::decode(reply.messages[0].clone()).expect("a `Link`");
    assert_eq!(link.src, GUIDE_LINK);
}

fn assert_refused(reply: &Reply, code: &str) {
    assert_eq!(
        (reply.status, reply.message.as_str()),
        (
            INVALID_ARGUMENT,
            format!("portal link refused: {code}").as_str()
        )
    );
    assert!(reply.messages.is_empty());
}

#[tokio::test]
async fn link_in_the_query() {
    let addr = serve_on_loopback(serve).await;
    let reply = get_link(addr, &format!("?crylk={GUIDE_CRYLK}"), None).await;
    assert_accepted(&reply);
    assert_eq!(reply.headers[REFERRER_POLICY], "no-referrer");
}

#[tokio::test]
async fn link_in_the_header() {
    let addr = serve_on_loopback(serve).await;
    let reply = get_link(addr, "", Some(GUIDE_CRYLK)).await;
    assert_accepted(&reply);
}

#[tokio::test]
async fn refused_link_in_the_query() {
    let addr = serve_on_loopback(serve).await;
    let reply = get_link(addr, &format!("?crylk={EVIL_CRYLK}"), None).await;
    assert_refused(&reply, "host_not_allowed");
    assert_eq!(reply.headers[REFERRER_POLICY], "no-referrer");
}

#[tokio::test]
async fn refused_link_in_the_header() {
    let addr = serve_on_loopback(serve).await;
    let reply = get_link(addr, "", Some(EVIL_CRYLK)).await;
    assert_refused(&reply, "host_not_allowed");
}

#[tokio::test]
async fn query_and_header_that_disagree_are_refused() {
    let addr = serve_on_loopback(serve).await;
    let other = "https%3a%2f%2fdemo-eur.proabono.com%2fportal-anon";
    let reply = get_link(addr, &format!("?crylk={GUIDE_CRYLK}"), Some(other)).await;
    assert_refused(&reply, "ambiguous");
    // The same link in both places is one link.
    let reply = get_link(addr, &format!("?crylk={GUIDE_CRYLK}"), Some(GUIDE_CRYLK)).await;
    assert_accepted(&reply);
}

#[tokio::test]
async fn no_link_is_not_found() {
    let addr = serve_on_loopback(serve).await;
    let reply = get_link(addr, "", None).await;
    assert_eq!(
        (reply.status, reply.message.as_str()),
        (NOT_FOUND, "no portal link")
    );
    assert!(reply.messages.is_empty());
}
