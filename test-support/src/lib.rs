//! What the workspace's tests share without the library's types: the link
//! of ProAbono's guide (the library's tests and the example crates'), and,
//! for the example crates, real sockets (a listener on 127.0.0.1 and an
//! ephemeral port, an HTTP/1.1 client, and a time bound on both); and a
//! stand-in for ProAbono's API Live ([`api_live`]), and TLS for such
//! stand-ins ([`tls`]).
#![deny(missing_docs)]

pub mod api_live;
pub mod tls;

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use http::header::HOST;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

/// The `crylk` value of ProAbono's guide, as it stands in the query.
pub const GUIDE_CRYLK: &str =
    "https%3a%2f%2fmon-app.via.proabono.com%2fsubscribe-offer%2f0p9i35O1V9_JJRfC0nIeE96ot9e1LcN349";

/// What the layer must hand on for [`GUIDE_CRYLK`].
pub const GUIDE_LINK: &str =
    "https://mon-app.via.proabono.com/subscribe-offer/0p9i35O1V9_JJRfC0nIeE96ot9e1LcN349";

/// A `crylk` value the default layer refuses (`host_not_allowed`): the
/// look-alike host that "the domain name ends with proabono.com" accepts.
pub const EVIL_CRYLK: &str = "https%3a%2f%2fevilproabono.com%2f";

/// A `pa_query` value of ProAbono's "Advanced In-Site installation": an
/// encrypted query that opens a given page or workflow through portal.js.
pub const IN_SITE_QUERY: &str = "OBmj2AvkFGZfrsD60tPJWoICRuc9nCUhMRpRqI0JU8Y";

/// A hung server or client fails the test instead of hanging CI.
pub const BOUND: Duration = Duration::from_secs(20);

/// A listener on 127.0.0.1 and a port the OS picks, so tests never collide
/// with each other or with anything else on the machine.
pub async fn listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .await
        .expect("bind 127.0.0.1:0");
    let addr = listener.local_addr().expect("local address");
    (listener, addr)
}

/// `serve` spawned on a fresh [`listener`], and the address it serves.
pub async fn serve_on_loopback<F, Fut>(serve: F) -> SocketAddr
where
    F: FnOnce(TcpListener) -> Fut,
    Fut: Future + Send + 'static,
    Fut::Output: Send + 'static,
{
    let (listener, addr) = listener().await;
    tokio::spawn(serve(listener));
    addr
}

/// `fut`, or a panic once [`BOUND`] has passed.
pub async fn bounded<F: Future>(fut: F) -> F::Output {
    tokio::time::timeout(BOUND, fut)
        .await
        .expect("the exchange took longer than the test's bound")
}

/// Sends `req` over a fresh HTTP/1.1 connection to `addr` and reads the
/// whole response. Adds the `Host` header HTTP/1.1 requires.
pub async fn send(addr: SocketAddr, mut req: Request<Full<Bytes>>) -> Response<Bytes> {
    bounded(async move {
        req.headers_mut()
            .insert(HOST, addr.to_string().parse().expect("host header"));
        let stream = TcpStream::connect(addr).await.expect("connect");
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("HTTP/1.1 handshake");
        let connection = tokio::spawn(connection);
        let (parts, body) = sender
            .send_request(req)
            .await
            .expect("a response")
            .into_parts();
        let body = body.collect().await.expect("the whole body").to_bytes();
        drop(sender);
        // The client side closes once the sender is gone.
        let _ = connection.await;
        Response::from_parts(parts, body)
    })
    .await
}

/// `GET path_and_query` through [`send`].
pub async fn get(addr: SocketAddr, path_and_query: &str) -> Response<Bytes> {
    let req = Request::get(path_and_query)
        .body(Full::default())
        .expect("request");
    send(addr, req).await
}

/// The body as UTF-8 text.
pub fn text(res: &Response<Bytes>) -> &str {
    std::str::from_utf8(res.body()).expect("a UTF-8 body")
}
