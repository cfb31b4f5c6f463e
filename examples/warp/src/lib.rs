//! `PortalLinkLayer` in front of a warp 0.4 filter tree.
//!
//! ```text
//! cargo run -p example-warp
//! ```
//!
//! `warp::serve` only takes filters, so the filter tree becomes a tower
//! service (`warp::service`), goes inside a `ServiceBuilder` behind the
//! layer, and is served with `hyper-util`. The filters read what the layer
//! found with `warp::ext::get` and `warp::ext::optional`.
//!
//! `GET /Subscriptions` answers, as text, the link the portal iframe should
//! show: the one in `crylk` when the layer accepted it, else the
//! `hosted-home` fallback and why.
//!
//! Environment: `PORT` (default 3000, 0 for any free port; the server
//! listens on 127.0.0.1 only).
#![deny(missing_docs)]

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tower::ServiceBuilder;
use tower_portal_link::{PortalLinkLayer, PortalTarget, Refusal};
use warp::{Filter, Rejection, Reply};

/// The `hosted-home` link of ProAbono's Customer object, in a real app.
pub const HOSTED_HOME: &str = "https://demo-eur.proabono.com/portal-anon";

/// The filter tree, unaware of the layer except for the extensions it reads.
pub fn routes(
) -> impl Filter<Extract = (impl Reply,), Error = Rejection> + Clone + Send + Sync + 'static {
    let page = warp::path!("Subscriptions").and(warp::get());
    // `ext::get` rejects when the layer inserted no `PortalTarget`, and warp
    // then tries the next route. Alone, that rejection would be a `500`.
    let accepted = page
        .and(warp::ext::get::<PortalTarget>())
        .map(|target: PortalTarget| format!("portal: {target}\n"));
    let fallback = page
        .and(warp::ext::optional::<Refusal>())
        .map(|refusal: Option<Refusal>| match refusal {
            // Log `refusal.code()` if you like; never the link.
            Some(refusal) => {
                format!(
                    "fallback: {HOSTED_HOME} (crylk refused: {})\n",
                    refusal.code()
                )
            }
            None => format!("fallback: {HOSTED_HOME} (no crylk)\n"),
        });
    accepted.or(fallback)
}

/// Serves the stack on `listener` until accepting fails.
pub async fn serve(listener: TcpListener) -> std::io::Result<()> {
    let service = ServiceBuilder::new()
        .layer(PortalLinkLayer::new())
        .service(warp::service(routes()));
    loop {
        let (stream, _) = listener.accept().await?;
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
