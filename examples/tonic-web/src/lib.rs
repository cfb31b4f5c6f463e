//! `PortalLinkLayer` in front of a tonic 0.14 gRPC service that browsers
//! reach through tonic-web.
//!
//! ```text
//! cargo run -p example-tonic-web
//! ```
//!
//! The service is `proto/portal.proto`, compiled by `build.rs` (protox and
//! tonic-prost-build, so no `protoc` is needed) into [`pb`]. What is written
//! by hand is the handler, [`PortalService::get_link`], and the server stack
//! in [`serve`].
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
#![deny(missing_docs)]

use http::HeaderName;
use tokio::net::TcpListener;
use tonic::transport::server::TcpIncoming;
use tonic::transport::Server;
use tonic::{Request, Response, Status};
use tonic_web::GrpcWebLayer;
use tower_portal_link::{PortalLinkLayer, PortalTarget, Refusal};

use pb::portal_server::{Portal, PortalServer};
use pb::{GetLinkRequest, Link};

/// The code `build.rs` generates from `proto/portal.proto`.
pub mod pb {
    #![allow(missing_docs)] // generated: documented where the `.proto` is
    tonic::include_proto!("portal.v1");
}

/// The request header that carries the link for clients without a query.
pub const PORTAL_LINK_HEADER: &str = "x-portal-link";

/// The method's path: what every gRPC and gRPC-web client posts to.
pub const GET_LINK: &str = "/portal.v1.Portal/GetLink";

/// The `portal.v1.Portal` service.
#[derive(Clone, Copy, Debug, Default)]
pub struct PortalService;

#[tonic::async_trait]
impl Portal for PortalService {
    /// All the portal logic there is: what the layer found, as a `Link` or
    /// a status.
    async fn get_link(&self, request: Request<GetLinkRequest>) -> Result<Response<Link>, Status> {
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
        .add_service(PortalServer::new(PortalService))
        .serve_with_incoming(TcpIncoming::from(listener))
        .await
}
