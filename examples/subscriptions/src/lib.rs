//! ProAbono's "Subscription" page, as an axum app.
//!
//! ```text
//! cargo run -p subscriptions
//! ```
//!
//! `GET /Subscriptions` shows the customer portal in an iframe: the link from
//! `crylk` when `PortalLinkLayer` accepted it, else the `hosted-home` link of
//! ProAbono's Customer object (here `PORTAL_FALLBACK_URL`). A small line under
//! the iframe says which one is shown, and why a `crylk` was refused.
//!
//! Environment: `PORT` (default 3000, 0 for any free port; the server listens
//! on 127.0.0.1 only),
//! `PORTAL_FALLBACK_URL` (default `https://demo-eur.proabono.com/portal-anon`).
#![deny(missing_docs)]

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::{Extension, Router};
use tower_portal_link::{PortalLinkLayer, PortalTarget, Refusal};

/// The `hosted-home` link shown when `PORTAL_FALLBACK_URL` is not set.
pub const DEFAULT_FALLBACK: &str = "https://demo-eur.proabono.com/portal-anon";

/// What every response of the page shares.
struct Page {
    /// The `hosted-home` link a real app reads from ProAbono's Customer object.
    fallback: String,
    /// `Content-Security-Policy`: the browser itself refuses to frame
    /// anything but ProAbono's portal and the fallback.
    csp: HeaderValue,
}

async fn subscriptions(
    State(page): State<Arc<Page>>,
    target: Option<PortalTarget>,
    refusal: Option<Extension<Refusal>>,
) -> impl IntoResponse {
    let (src, source) = match (&target, refusal) {
        (Some(target), _) => (target.as_str(), "crylk".to_owned()),
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
    // The layer adds `Referrer-Policy: no-referrer` when the URL carried
    // `crylk`; the page sends it always, since it is where links land.
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

/// Escapes text for an HTML attribute value or element content.
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

/// The page behind `PortalLinkLayer`, with `fallback` as the `hosted-home`
/// link: what `main` serves.
pub fn app(fallback: String) -> Router {
    let layer = PortalLinkLayer::new();
    // The fallback may be the business's own URL, not a ProAbono host.
    let fallback_origin = url::Url::parse(&fallback)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    let csp = format!(
        "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; {} {}",
        layer.frame_src(),
        fallback_origin,
    );
    let csp = HeaderValue::try_from(csp.trim_end())
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"));
    Router::new()
        .route("/Subscriptions", get(subscriptions))
        .with_state(Arc::new(Page { fallback, csp }))
        .layer(layer)
}
