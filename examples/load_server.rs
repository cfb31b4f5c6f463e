//! The page of `examples/subscriptions.rs`, served twice for `scripts/load.sh`:
//! once behind `PortalLinkLayer::new()` and once without it, in one process,
//! so that a load generator can compare the two under the same conditions.
//!
//! ```text
//! cargo run --release --features axum --example load_server [PLAIN_PORT [LAYER_PORT]]
//! ```
//!
//! Listens on 127.0.0.1 only (port 0, the default, picks a free port) and
//! prints `plain http://127.0.0.1:PORT` and `layer http://127.0.0.1:PORT`.
//! `WORKERS` sets the runtime's worker threads (default 1, so that the load
//! generator keeps a core of a two-core machine to itself).

use std::net::{Ipv4Addr, SocketAddr};

use axum::Router;
use tower_portal_link::PortalLinkLayer;

// The example itself, so that the load test measures the very page users
// copy; its `main` is not used here.
#[allow(dead_code)]
#[path = "subscriptions.rs"]
mod subscriptions;

fn page() -> Router {
    let fallback = subscriptions::DEFAULT_FALLBACK.to_owned();
    subscriptions::page(&PortalLinkLayer::new(), fallback)
}

async fn serve(name: &str, port: u16, app: Router) -> std::io::Result<()> {
    let listener =
        tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, port))).await?;
    println!("{name} http://{}", listener.local_addr()?);
    axum::serve(listener, app).await
}

fn main() -> std::io::Result<()> {
    let mut ports = std::env::args().skip(1).map(|p| {
        p.parse::<u16>()
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a port number"))
    });
    let plain = ports.next().transpose()?.unwrap_or(0);
    let layered = ports.next().transpose()?.unwrap_or(0);
    let workers = std::env::var("WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(1);
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()?
        .block_on(async {
            tokio::try_join!(
                serve("plain", plain, page()),
                serve("layer", layered, page().layer(PortalLinkLayer::new())),
            )
            .map(|_| ())
        })
}
