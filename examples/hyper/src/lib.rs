//! `PortalLinkLayer` on a plain hyper 1 server, no framework: a
//! `tower::ServiceBuilder` stack in front of a `service_fn`, served with
//! `hyper-util`.
//!
//! ```text
//! cargo run -p example-hyper
//! ```
//!
//! `GET /Subscriptions` answers, as text, the link the portal iframe should
//! show: the one in `crylk` when the layer accepted it, else the
//! `hosted-home` fallback and why.
//!
//! Environment: `PORT` (default 3000, 0 for any free port; the server
//! listens on 127.0.0.1 only).
#![deny(missing_docs)]

use std::convert::Infallible;

use http::header::CONTENT_TYPE;
use http::{Method, Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_portal_link::{PortalLinkLayer, PortalTarget, Refusal};

/// The `hosted-home` link of ProAbono's Customer object, in a real app.
pub const HOSTED_HOME: &str = "https://demo-eur.proabono.com/portal-anon";

async fn subscriptions(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    if req.method() != Method::GET || req.uri().path() != "/Subscriptions" {
        let mut res = Response::new(Full::from("not found\n"));
        *res.status_mut() = StatusCode::NOT_FOUND;
        return Ok(res);
    }
    let ext = req.extensions();
    let body = match (ext.get::<PortalTarget>(), ext.get::<Refusal>()) {
        (Some(target), _) => format!("portal: {target}\n"),
        // Log `refusal.code()` if you like; never the link.
        (None, Some(refusal)) => {
            format!(
                "fallback: {HOSTED_HOME} (crylk refused: {})\n",
                refusal.code()
            )
        }
        (None, None) => format!("fallback: {HOSTED_HOME} (no crylk)\n"),
    };
    let mut res = Response::new(Full::from(body));
    res.headers_mut().insert(
        CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Ok(res)
}

/// Serves the stack on `listener` until accepting fails.
pub async fn serve(listener: TcpListener) -> std::io::Result<()> {
    let service = ServiceBuilder::new()
        .layer(PortalLinkLayer::new())
        .service_fn(subscriptions);
    loop {
        let (stream, _) = listener.accept().await?;
        // hyper calls services by `&self`; the adapter clones the tower
        // service per request, which costs an `Arc` increment here.
        let service = TowerToHyperService::new(service.clone());
        tokio::spawn(async move {
            if let Err(err) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                eprintln!("connection error: {err}");
            }
        });
    }
}
