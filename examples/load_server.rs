//! The page of `examples/subscriptions.rs`, served twice for `scripts/load.sh`:
//! once behind `PortalLinkLayer::new()` and once without it, in one process,
//! so that a load generator can compare the two under the same conditions.
//!
//! ```text
//! cargo run --release --example load_server [PLAIN_PORT [LAYER_PORT]]
//! ```
//!
//! Listens on 127.0.0.1 only (port 0, the default, picks a free port) and
//! prints `plain http://127.0.0.1:PORT` and `layer http://127.0.0.1:PORT`.
//! `WORKERS` sets the runtime's worker threads (default 1, so that the load
//! generator keeps a core of a two-core machine to itself).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::{Extension, Router};
use tower_portal_link::{PortalLinkLayer, PortalTarget, Refusal};

const FALLBACK: &str = "https://demo-eur.proabono.com/portal-anon";

/// What every response of the page shares.
struct Page {
    fallback: String,
    csp: HeaderValue,
}

// The handler of `examples/subscriptions.rs`, reading the extensions
// directly so that the example needs no cargo feature.
async fn subscriptions(
    State(page): State<Arc<Page>>,
    target: Option<Extension<PortalTarget>>,
    refusal: Option<Extension<Refusal>>,
) -> impl IntoResponse {
    let (src, source) = match (&target, refusal) {
        (Some(Extension(target)), _) => (target.as_str(), "crylk".to_owned()),
        (None, Some(Extension(refusal))) => (
            page.fallback.as_str(),
            format!("fallback (crylk refused: {refusal})"),
        ),
        (None, None) => (page.fallback.as_str(), "fallback (no crylk)".to_owned()),
    };
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="referrer" content="no-referrer">
<title>Subscriptions</title>
</head>
<body>
<h1>Subscriptions</h1>
<iframe id="portal" style="width: 100%; height: 700px;" src="{src}" frameborder="0" referrerpolicy="no-referrer"></iframe>
<p id="portal-source" style="font-size: small; color: #666;">Portal link: {source}</p>
</body>
</html>
"#,
        src = escape_html(src),
        source = escape_html(&source),
    );
    (
        [
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
            (header::CONTENT_SECURITY_POLICY, page.csp.clone()),
        ],
        Html(html),
    )
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The page's router, without any layer.
fn page() -> Router {
    let csp = format!(
        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; {} https://demo-eur.proabono.com",
        PortalLinkLayer::new().frame_src(),
    );
    let csp = HeaderValue::try_from(csp).expect("ASCII CSP");
    Router::new()
        .route("/Subscriptions", get(subscriptions))
        .with_state(Arc::new(Page {
            fallback: FALLBACK.to_owned(),
            csp,
        }))
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
