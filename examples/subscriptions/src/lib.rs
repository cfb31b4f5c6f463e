//! ProAbono's "Subscription" page, as an axum app.
//!
//! ```text
//! cargo run -p subscriptions
//! ```
//!
//! `GET /Subscriptions` shows the customer portal in one of ProAbono's two
//! ways, depending on the link the customer followed:
//!
//! - **`crylk`** (integrated portal): the page frames the link from `crylk`
//!   when `PortalLinkLayer` accepted it.
//! - **`pa_query`** (In-Site): the page loads ProAbono's portal.js and calls
//!   `ProAbonoPortal.open({...})` with the query the layer accepted.
//! - Otherwise, or when the layer refused what the link carried, the page
//!   frames the `hosted-home` link of ProAbono's Customer object (here
//!   `PORTAL_FALLBACK_URL`).
//!
//! A small line under the portal says which one is shown, and why a link
//! was refused. The page only ever renders what the layer accepted: a
//! [`PortalTarget`] or a [`PortalQuery`], never the raw parameter.
//!
//! Its `Content-Security-Policy` lets the browser load nothing but the
//! portal: frames from the layer's origins (and the fallback's), scripts
//! from `https://portal.proabono.com` and the one inline
//! `ProAbonoPortal.open(...)` call of the response, by its hash.
//!
//! Environment:
//! - `PORT` (default 3000, 0 for any free port; the server listens on
//!   127.0.0.1 only);
//! - `PORTAL_FALLBACK_URL` (default `https://demo-eur.proabono.com/portal-anon`);
//! - `PROABONO_BUSINESS_ID` (default 42) and `PROABONO_SEGMENT_REF` (default
//!   `demo-eur`), the In-Site installation's identifiers;
//! - `PROABONO_PORTAL_SECRET`, the In-Site portal secret. The demo has no
//!   login, so it never signs a customer reference and a placeholder stands
//!   in when the variable is unset; an application that signs its
//!   customers must refuse to start without it.
#![deny(missing_docs)]

use std::fmt;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use tower_portal_link::{
    InSite, InSiteError, InlineScript, PortalLinkLayer, PortalQuery, PortalTarget, Refusal,
};

/// The `hosted-home` link shown when `PORTAL_FALLBACK_URL` is not set.
pub const DEFAULT_FALLBACK: &str = "https://demo-eur.proabono.com/portal-anon";

/// The In-Site business id when `PROABONO_BUSINESS_ID` is not set: the one
/// of ProAbono's documentation.
pub const DEFAULT_BUSINESS_ID: u32 = 42;

/// The In-Site segment when `PROABONO_SEGMENT_REF` is not set: the one of
/// ProAbono's documentation, which [`DEFAULT_FALLBACK`] belongs to.
pub const DEFAULT_SEGMENT_REF: &str = "demo-eur";

/// Stands in for `PROABONO_PORTAL_SECRET` in the demo. It would sign
/// customer references, which the demo never renders: see [`Settings`].
const DEMO_PORTAL_SECRET: &str = "demo-only-not-a-portal-secret";

/// Where portal.js comes from. The page's policy allows scripts from its
/// origin, which `PortalCspLayer::in_site` adds.
const PORTAL_JS: &str = "https://portal.proabono.com/Get/portal.js";

/// What the page is configured with.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The `hosted-home` link a real app reads from ProAbono's Customer
    /// object.
    pub fallback: String,
    /// The In-Site installation: business id, segment and portal secret.
    pub in_site: InSite,
}

impl Settings {
    /// The demo's settings: [`DEFAULT_FALLBACK`], [`DEFAULT_BUSINESS_ID`],
    /// [`DEFAULT_SEGMENT_REF`] and a placeholder secret.
    pub fn demo() -> Settings {
        Settings {
            fallback: DEFAULT_FALLBACK.to_owned(),
            in_site: InSite::new(DEFAULT_BUSINESS_ID, DEFAULT_SEGMENT_REF, DEMO_PORTAL_SECRET)
                .expect("the demo's In-Site settings are valid"),
        }
    }

    /// The settings from the environment variables of the [crate
    /// documentation](crate), the demo's where one is unset.
    pub fn from_env() -> Result<Settings, SettingsError> {
        let var = |name| std::env::var(name).ok();
        let fallback = var("PORTAL_FALLBACK_URL").unwrap_or_else(|| DEFAULT_FALLBACK.to_owned());
        let business_id = match var("PROABONO_BUSINESS_ID") {
            Some(id) => id.parse().map_err(|_| SettingsError::BusinessId)?,
            None => DEFAULT_BUSINESS_ID,
        };
        let segment_ref = var("PROABONO_SEGMENT_REF").unwrap_or_else(|| DEFAULT_SEGMENT_REF.into());
        let secret = var("PROABONO_PORTAL_SECRET").unwrap_or_else(|| DEMO_PORTAL_SECRET.into());
        let in_site =
            InSite::new(business_id, segment_ref, secret).map_err(SettingsError::InSite)?;
        Ok(Settings { fallback, in_site })
    }
}

/// Why [`Settings::from_env`] refused the environment.
#[derive(Debug)]
#[non_exhaustive]
pub enum SettingsError {
    /// `PROABONO_BUSINESS_ID` is not a number.
    BusinessId,
    /// `PROABONO_SEGMENT_REF` or `PROABONO_PORTAL_SECRET` is empty.
    InSite(InSiteError),
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SettingsError::BusinessId => f.write_str("PROABONO_BUSINESS_ID is not a number"),
            SettingsError::InSite(error) => error.fmt(f),
        }
    }
}

impl std::error::Error for SettingsError {}

/// What every response of the page shares.
struct Page {
    fallback: String,
    in_site: InSite,
    /// The page's own `Content-Security-Policy`, before the portal's
    /// sources are merged into it.
    base_csp: HeaderValue,
}

/// What the page shows in place of the portal.
enum Portal<'a> {
    /// An iframe with this `src`.
    Frame(&'a str),
    /// portal.js, and this inline call.
    InSite(String),
}

async fn subscriptions(
    State(page): State<Arc<Page>>,
    target: Option<PortalTarget>,
    query: Option<PortalQuery>,
    refusal: Option<Extension<Refusal>>,
) -> Response {
    // The layer inserts at most one of the three: a request carrying both
    // `crylk` and `pa_query` is refused.
    let (portal, source) = match (&target, &query, refusal) {
        (Some(target), _, _) => (Portal::Frame(target.as_str()), "crylk".to_owned()),
        (None, Some(query), _) => {
            // Anonymous: the demo has no session. A page behind a login
            // opens the portal for the signed-in customer, whose reference
            // comes from the session and never from the request:
            // `page.in_site.open_for(&session.customer_ref)?.query(query)`.
            let call = page.in_site.open().query(query).to_script();
            (Portal::InSite(call), "pa_query (In-Site)".to_owned())
        }
        (None, None, Some(Extension(refusal))) => (
            Portal::Frame(&page.fallback),
            format!("fallback (refused: {refusal})"),
        ),
        (None, None, None) => (
            Portal::Frame(&page.fallback),
            "fallback (no crylk or pa_query)".to_owned(),
        ),
    };

    let (head, body, inline) = match portal {
        Portal::Frame(src) => (
            String::new(),
            format!(
                r#"<iframe id="portal" style="width: 100%; height: 700px;" src="{}" frameborder="0" referrerpolicy="no-referrer"></iframe>"#,
                escape_html(src)
            ),
            None,
        ),
        Portal::InSite(call) => {
            // The policy allows this script by its hash, so the text between
            // the tags must be exactly `call`. `to_script` escapes every
            // value for a `<script>` element.
            let body =
                format!("<div id=\"proabono_portal\">loading...</div>\n<script>{call}</script>");
            let head = format!("<script src=\"{PORTAL_JS}\"></script>\n");
            (head, body, Some(InlineScript::sha256(&call)))
        }
    };
    let html = format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="referrer" content="no-referrer">
<title>Subscriptions</title>
{head}</head>
<body>
<h1>Subscriptions</h1>
{body}
<p id="portal-source" style="font-size: small; color: #666;">Portal link: {source}</p>
</body>
</html>
"#,
        source = escape_html(&source),
    );

    let mut response = (
        [
            // The layer adds `Referrer-Policy: no-referrer` when the URL
            // carried a link; the page sends it always, since it is where
            // links land.
            (
                header::REFERRER_POLICY,
                HeaderValue::from_static("no-referrer"),
            ),
            // A page with an In-Site query (or, in an app with a login, a
            // customer's reference and hash) is for this request only.
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            // The page's own policy: `PortalCspLayer`, outside the handler,
            // widens it by the portal's sources.
            (header::CONTENT_SECURITY_POLICY, page.base_csp.clone()),
        ],
        Html(html),
    )
        .into_response();
    if let Some(inline) = inline {
        response.extensions_mut().insert(inline);
    }
    response
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

/// The page behind `PortalLinkLayer`, with its settings: what `main` serves.
pub fn app(settings: Settings) -> Router {
    let Settings { fallback, in_site } = settings;
    let layer = PortalLinkLayer::new();
    // The portal's sources come from the layers below. The page's own
    // policy allows nothing else, except a fallback outside ProAbono (the
    // business's own site, say), which it frames by origin.
    let fallback_origin = match layer.validate_link(&fallback) {
        Ok(_) => None,
        Err(_) => url::Url::parse(&fallback)
            .ok()
            .map(|u| u.origin())
            .filter(url::Origin::is_tuple)
            .map(|o| o.ascii_serialization()),
    };
    let base_csp = format!(
        "default-src 'none'; script-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; \
         form-action 'none'; frame-src {}",
        fallback_origin.as_deref().unwrap_or("'none'"),
    );
    let base_csp = HeaderValue::try_from(base_csp)
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"));
    // On this route only: the rest of an application keeps its own policy.
    let csp = layer.csp().in_site();
    Router::new()
        .route("/Subscriptions", get(subscriptions).layer(csp))
        .with_state(Arc::new(Page {
            fallback,
            in_site,
            base_csp,
        }))
        .layer(layer)
}
