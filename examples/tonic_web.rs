//! `PortalLinkLayer` in front of a tonic 0.14 gRPC service that browsers
//! reach through tonic-web.
//!
//! ```text
//! cargo run --example tonic_web
//! ```
//!
//! The service, as `.proto`:
//!
//! ```proto
//! syntax = "proto3";
//! package portal.v1;
//!
//! service Portal {
//!   // The portal link the page should frame, from the link the page was
//!   // opened with (`crylk`): INVALID_ARGUMENT when it was refused,
//!   // NOT_FOUND when there was none.
//!   rpc GetLink(GetLinkRequest) returns (Link);
//! }
//!
//! message GetLinkRequest {}
//! message Link { string src = 1; }
//! ```
//!
//! No `protoc` runs: the two messages are small enough to encode by hand
//! (`PortalCodec`), and `PortalServer` is what `tonic-build` would generate.
//! With generated code, only `get_link` and the `Server::builder()` lines
//! below stay.
//!
//! gRPC and gRPC-web clients post to `/portal.v1.Portal/GetLink` and rarely
//! carry a query string, so the layer also reads the link from the
//! `x-portal-link` header, holding the `crylk` value exactly as it stands in
//! the page's URL (still percent-encoded). Either source works; both at once
//! must agree. A page on another origin also needs CORS that allows the
//! `x-portal-link` request header (tower-http's `CorsLayer`, for one).
//!
//! Environment: `PORT` (default 3000, 0 for any free port; the server
//! listens on 127.0.0.1 only).

use std::convert::Infallible;
use std::net::Ipv4Addr;
use std::task::{Context, Poll};

use bytes::{Buf, BufMut};
use http::HeaderName;
use tokio::net::TcpListener;
use tonic::body::Body;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::{BoxFuture, Service};
use tonic::server::{Grpc, NamedService, UnaryService};
use tonic::transport::server::TcpIncoming;
use tonic::transport::Server;
use tonic::{Request, Response, Status};
use tonic_web::GrpcWebLayer;
use tower_portal_link::{PortalLinkLayer, PortalTarget, Refusal};

/// The request header that carries the link for clients without a query.
pub const PORTAL_LINK_HEADER: &str = "x-portal-link";

/// The method's path: what every gRPC and gRPC-web client posts to.
pub const GET_LINK: &str = "/portal.v1.Portal/GetLink";

const GUIDE_CRYLK: &str =
    "https%3a%2f%2fmon-app.via.proabono.com%2fsubscribe-offer%2f0p9i35O1V9_JJRfC0nIeE96ot9e1LcN349";

/// `message GetLinkRequest {}`
#[derive(Clone, Debug, Default)]
pub struct GetLinkRequest {}

/// `message Link { string src = 1; }`
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Link {
    /// The link to use as the iframe `src`.
    pub src: String,
}

/// The handler: all the portal logic there is.
async fn get_link(request: Request<GetLinkRequest>) -> Result<Response<Link>, Status> {
    let ext = request.extensions();
    match (ext.get::<PortalTarget>(), ext.get::<Refusal>()) {
        (Some(target), _) => Ok(Response::new(Link {
            src: target.to_string(),
        })),
        // The reason, never the link: statuses end up in client logs.
        (None, Some(refusal)) => Err(Status::invalid_argument(format!(
            "portal link refused: {}",
            refusal.code()
        ))),
        (None, None) => Err(Status::not_found("no portal link")),
    }
}

/// Serves the service on `listener`, for HTTP/2 gRPC clients and HTTP/1.1
/// gRPC-web ones alike.
pub async fn serve(listener: TcpListener) -> Result<(), tonic::transport::Error> {
    Server::builder()
        .accept_http1(true)
        // Outermost, so the link is read (and stripped) from the request
        // exactly as the client sent it, before anything else sees it.
        .layer(PortalLinkLayer::new().header(HeaderName::from_static(PORTAL_LINK_HEADER)))
        .layer(GrpcWebLayer::new())
        .add_service(PortalServer)
        .serve_with_incoming(TcpIncoming::from(listener))
        .await
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port = match std::env::var("PORT") {
        Ok(port) => port.parse().map_err(|_| "PORT is not a port number")?,
        Err(_) => 3000,
    };
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
    let addr = listener.local_addr()?;
    println!("tonic + tonic-web + PortalLinkLayer listening on http://{addr} (gRPC and gRPC-web)");
    // A gRPC-web call by hand: a 5-byte frame header (uncompressed, length
    // 0) for the empty `GetLinkRequest`; `od` shows the binary answer.
    let call = "printf '\\000\\000\\000\\000\\000' | curl -s --http1.1 -X POST \
                -H 'content-type: application/grpc-web+proto' -H 'x-grpc-web: 1' --data-binary @-";
    println!("Try, with the link in the header:");
    println!("  {call} -H '{PORTAL_LINK_HEADER}: {GUIDE_CRYLK}' 'http://{addr}{GET_LINK}' | od -c");
    println!("or in the query:");
    println!("  {call} 'http://{addr}{GET_LINK}?crylk={GUIDE_CRYLK}' | od -c");
    serve(listener).await?;
    Ok(())
}

// What `tonic-build` and `prost` would generate from the `.proto` above.

/// Encodes `Link` and decodes `GetLinkRequest` in protobuf's wire format.
#[derive(Clone, Copy, Debug, Default)]
struct PortalCodec;

impl Codec for PortalCodec {
    type Encode = Link;
    type Decode = GetLinkRequest;
    type Encoder = PortalCodec;
    type Decoder = PortalCodec;

    fn encoder(&mut self) -> Self::Encoder {
        *self
    }

    fn decoder(&mut self) -> Self::Decoder {
        *self
    }
}

impl Encoder for PortalCodec {
    type Item = Link;
    type Error = Status;

    fn encode(&mut self, link: Link, buf: &mut EncodeBuf<'_>) -> Result<(), Status> {
        // proto3 leaves out a field at its default value, the empty string.
        if !link.src.is_empty() {
            buf.put_u8(1 << 3 | 2); // field 1, length-delimited
            put_varint(buf, link.src.len() as u64);
            buf.put_slice(link.src.as_bytes());
        }
        Ok(())
    }
}

impl Decoder for PortalCodec {
    type Item = GetLinkRequest;
    type Error = Status;

    fn decode(&mut self, buf: &mut DecodeBuf<'_>) -> Result<Option<GetLinkRequest>, Status> {
        // The message has no fields: whatever a newer client sends is an
        // unknown field, which proto3 parsers skip.
        buf.advance(buf.remaining());
        Ok(Some(GetLinkRequest {}))
    }
}

fn put_varint(buf: &mut impl BufMut, mut n: u64) {
    while n >= 0x80 {
        buf.put_u8(n as u8 | 0x80);
        n >>= 7;
    }
    buf.put_u8(n as u8);
}

/// Routes `portal.v1.Portal`'s one method to [`get_link`].
#[derive(Clone, Copy, Debug, Default)]
struct PortalServer;

impl NamedService for PortalServer {
    const NAME: &'static str = "portal.v1.Portal";
}

struct GetLinkSvc;

impl UnaryService<GetLinkRequest> for GetLinkSvc {
    type Response = Link;
    type Future = BoxFuture<Response<Link>, Status>;

    fn call(&mut self, request: Request<GetLinkRequest>) -> Self::Future {
        Box::pin(get_link(request))
    }
}

impl Service<http::Request<Body>> for PortalServer {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Self::Error>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        match req.uri().path() {
            GET_LINK => {
                Box::pin(async move { Ok(Grpc::new(PortalCodec).unary(GetLinkSvc, req).await) })
            }
            _ => Box::pin(async { Ok(Status::unimplemented("").into_http()) }),
        }
    }
}
