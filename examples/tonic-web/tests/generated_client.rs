//! The generated `PortalClient`, speaking gRPC-web over HTTP/1.1 through
//! tonic-web's client layer (as a Rust client in a browser would), with the
//! link in the `x-portal-link` metadata.

use example_tonic_web::pb::portal_client::PortalClient;
use example_tonic_web::pb::GetLinkRequest;
use example_tonic_web::{serve, PORTAL_LINK_HEADER};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use test_support::{bounded, listener, EVIL_CRYLK, GUIDE_CRYLK, GUIDE_LINK};
use tonic::body::Body;
use tonic::{Code, Request};
use tonic_web::{GrpcWebCall, GrpcWebClientLayer};
use tower::ServiceBuilder;

/// Calls `GetLink` with `link` (as it stands in the page's URL), if any.
async fn get_link(link: Option<&str>) -> Result<String, tonic::Status> {
    let (listener, addr) = listener().await;
    tokio::spawn(serve(listener));
    // hyper-util's client speaks HTTP/1.1 unless told otherwise.
    let http1 = Client::builder(TokioExecutor::new()).build_http::<GrpcWebCall<Body>>();
    let grpc_web = ServiceBuilder::new()
        .layer(GrpcWebClientLayer::new())
        .service(http1);
    let origin = format!("http://{addr}").parse().unwrap();
    let mut client = PortalClient::with_origin(grpc_web, origin);

    let mut request = Request::new(GetLinkRequest {});
    if let Some(link) = link {
        request
            .metadata_mut()
            .insert(PORTAL_LINK_HEADER, link.parse().unwrap());
    }
    let reply = bounded(client.get_link(request)).await?;
    Ok(reply.into_inner().src)
}

#[tokio::test]
async fn accepted_link() {
    assert_eq!(get_link(Some(GUIDE_CRYLK)).await.unwrap(), GUIDE_LINK);
}

#[tokio::test]
async fn refused_link() {
    let status = get_link(Some(EVIL_CRYLK)).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(status.message(), "portal link refused: host_not_allowed");
}

#[tokio::test]
async fn no_link() {
    let status = get_link(None).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(status.message(), "no portal link");
}
