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
//!   frames the customer's `hosted-home` link, read from ProAbono's API
//!   Live (cached a minute), or from a local stand-in for it that the
//!   binary starts when `PROABONO_*` are unset; and when the API is down or
//!   has no `hosted-home` for the customer, a static URL,
//!   `PORTAL_FALLBACK_URL`.
//!
//! A small line under the portal says which one is shown, from which
//! source, and why a link was refused or the API failed. The page only ever renders what the layer accepted: a
//! [`PortalTarget`] or a [`PortalQuery`], never the raw parameter.
//!
//! The page has a script of its own, `/static/page.js` (same origin), which
//! says it ran and lists the policy violations the browser reports.
//!
//! Its own `Content-Security-Policy` ([`DEFAULT_PAGE_CSP`]) allows its own
//! script and nothing else; `PortalCspLayer` adds the portal to it: frames
//! from the layer's origins and the fallback's, scripts from
//! `https://portal.proabono.com` and the one inline
//! `ProAbonoPortal.open(...)` call of the response, by its hash.
//!
//! Environment:
//! - `PORT` (default 3000, 0 for any free port; the server listens on
//!   127.0.0.1 only);
//! - `PORTAL_FALLBACK_URL` (default `https://demo-eur.proabono.com/portal-anon`),
//!   whose origin the page's policy frames too (the API's links pass the
//!   layer's origins, which it frames already);
//! - `PROABONO_API_ENDPOINT`, `PROABONO_AGENT_KEY`, `PROABONO_API_KEY`:
//!   ProAbono's API Live; when none is set, the binary starts a stand-in
//!   for it on 127.0.0.1 and trusts its certificate alone;
//! - `PROABONO_CUSTOMER_REF` (default `cust-42`), the customer whose links
//!   the page frames: the demo has no login;
//! - `PROABONO_API` (`on` or `off`; default `on`): `off` calls no API, and
//!   the page frames `PORTAL_FALLBACK_URL` when it has no link;
//! - `PORTAL_ALLOWED_ORIGINS`, the origins links may point to, separated
//!   by spaces or commas (default: `PortalLinkLayer`'s, `https://proabono.com`
//!   and `https://*.proabono.com`);
//! - `PORTAL_RESTRICT_FRAMES` (`true` or `1`; default `false`):
//!   `PortalCspLayer::restrict_frames`, a policy of its own that refuses
//!   every frame outside the allowed origins and the fallback's;
//! - `PAGE_CSP`, the page's own policy before the portal's sources are
//!   added (default [`DEFAULT_PAGE_CSP`]; empty for none);
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
use tower_portal_link::api::{Client, Config, ConfigError, CustomerRef};
use tower_portal_link::{
    InSite, InSiteError, InlineScript, InvalidOrigin, PortalCspLayer, PortalLinkLayer, PortalQuery,
    PortalTarget, Refusal,
};

/// The `hosted-home` link shown when `PORTAL_FALLBACK_URL` is not set.
pub const DEFAULT_FALLBACK: &str = "https://demo-eur.proabono.com/portal-anon";

/// The customer whose links the page frames when `PROABONO_CUSTOMER_REF` is
/// not set: the stand-in's demo customer.
pub const DEMO_CUSTOMER: &str = test_support::api_live::DEMO_CUSTOMER;

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

/// The page's own policy when `PAGE_CSP` is not set: its own script, its
/// inline styles, and nothing else. `PortalCspLayer` adds the portal's
/// frames (to a `frame-src` it makes from `default-src`) and scripts.
pub const DEFAULT_PAGE_CSP: &str = "default-src 'none'; script-src 'self'; \
     style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'";

/// Where the page's own script is served, from the page's origin.
pub const PAGE_JS_PATH: &str = "/static/page.js";

/// The page's own script: it says it ran, and lists the policy violations
/// the browser reports under the portal.
const PAGE_JS: &str = r#"// The Subscription page's own script.
window.pageScript = { ran: true, violations: [] };
document.addEventListener('securitypolicyviolation', function (e) {
    window.pageScript.violations.push({ directive: e.effectiveDirective, blocked: e.blockedURI });
    var list = document.getElementById('csp-violations');
    if (list) {
        var item = document.createElement('li');
        item.textContent = e.effectiveDirective + ' blocked ' + e.blockedURI;
        list.appendChild(item);
    }
});
document.addEventListener('DOMContentLoaded', function () {
    document.getElementById('page-script').textContent = 'Page script: ran';
});
"#;

/// What the page is configured with.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The `hosted-home` link a real app reads from ProAbono's Customer
    /// object.
    pub fallback: String,
    /// The In-Site installation: business id, segment and portal secret.
    pub in_site: InSite,
    /// The origins links may point to; `None` for `PortalLinkLayer`'s.
    pub allowed_origins: Option<Vec<String>>,
    /// `PortalCspLayer::restrict_frames`.
    pub restrict_frames: bool,
    /// The page's own `Content-Security-Policy`, before the portal's
    /// sources are added; `None` for a page without one.
    pub page_csp: Option<String>,
    /// Where the customer's links come from; `None` for no API.
    pub api: Option<ApiSettings>,
}

/// Where the page reads the customer's links.
#[derive(Clone, Debug)]
pub struct ApiSettings {
    /// The endpoint and keys.
    pub config: Config,
    /// The TLS configuration (a stand-in's certificate); `None` for the
    /// platform's roots.
    pub tls: Option<rustls::ClientConfig>,
    /// What the page says it framed from.
    pub source: String,
    /// The customer whose links the page frames.
    pub customer: CustomerRef,
}

/// What [`Settings::from_env`] says about the API.
#[derive(Clone, Debug)]
pub enum ApiChoice {
    /// `PROABONO_API=off`.
    Off,
    /// No `PROABONO_*` key is set: a stand-in, for this customer.
    StandIn(CustomerRef),
    /// ProAbono's API Live, from the environment.
    Live(Box<ApiSettings>),
}

impl Settings {
    /// The demo's settings: [`DEFAULT_FALLBACK`], [`DEFAULT_BUSINESS_ID`],
    /// [`DEFAULT_SEGMENT_REF`], a placeholder secret, the layer's default
    /// origins, no `restrict_frames`, and [`DEFAULT_PAGE_CSP`].
    pub fn demo() -> Settings {
        Settings {
            fallback: DEFAULT_FALLBACK.to_owned(),
            in_site: InSite::new(DEFAULT_BUSINESS_ID, DEFAULT_SEGMENT_REF, DEMO_PORTAL_SECRET)
                .expect("the demo's In-Site settings are valid"),
            allowed_origins: None,
            restrict_frames: false,
            page_csp: Some(DEFAULT_PAGE_CSP.to_owned()),
            api: None,
        }
    }

    /// What the environment says about the API: off, a stand-in (no
    /// `PROABONO_API_ENDPOINT`, `PROABONO_AGENT_KEY` or `PROABONO_API_KEY`
    /// set) or ProAbono's API Live (all three).
    pub fn api_from_env() -> Result<ApiChoice, SettingsError> {
        let var = |name| std::env::var(name).ok();
        match var("PROABONO_API").as_deref() {
            None | Some("on") => {}
            Some("off") => return Ok(ApiChoice::Off),
            Some(_) => return Err(SettingsError::Api),
        }
        let customer = var("PROABONO_CUSTOMER_REF").unwrap_or_else(|| DEMO_CUSTOMER.to_owned());
        let customer = CustomerRef::new(&customer).map_err(|_| SettingsError::CustomerRef)?;
        let keys = [
            "PROABONO_API_ENDPOINT",
            "PROABONO_AGENT_KEY",
            "PROABONO_API_KEY",
        ];
        if keys.iter().all(|name| var(name).is_none()) {
            return Ok(ApiChoice::StandIn(customer));
        }
        let config = Config::from_env().map_err(SettingsError::ApiConfig)?;
        Ok(ApiChoice::Live(Box::new(ApiSettings {
            config,
            tls: None,
            source: "ProAbono's API Live".to_owned(),
            customer,
        })))
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
        if PortalCspLayer::new().try_fallback(&fallback).is_err() {
            return Err(SettingsError::Fallback);
        }
        let allowed_origins = match var("PORTAL_ALLOWED_ORIGINS") {
            Some(list) => {
                let origins: Vec<String> = list
                    .split(|c: char| c == ',' || c.is_ascii_whitespace())
                    .filter(|o| !o.is_empty())
                    .map(str::to_owned)
                    .collect();
                PortalLinkLayer::new()
                    .try_allowed_origins(&origins)
                    .map_err(SettingsError::AllowedOrigins)?;
                Some(origins)
            }
            None => None,
        };
        let restrict_frames = match var("PORTAL_RESTRICT_FRAMES").as_deref() {
            None | Some("" | "0" | "false") => false,
            Some("1" | "true") => true,
            Some(_) => return Err(SettingsError::RestrictFrames),
        };
        let page_csp = match var("PAGE_CSP") {
            None => Some(DEFAULT_PAGE_CSP.to_owned()),
            Some(policy) if policy.trim().is_empty() => None,
            Some(policy) => {
                HeaderValue::try_from(&policy).map_err(|_| SettingsError::PageCsp)?;
                Some(policy)
            }
        };
        Ok(Settings {
            fallback,
            in_site,
            allowed_origins,
            restrict_frames,
            page_csp,
            api: None,
        })
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
    /// `PORTAL_FALLBACK_URL` is not an `http` or `https` URL whose origin a
    /// policy can name.
    Fallback,
    /// An origin of `PORTAL_ALLOWED_ORIGINS` is not one the layer accepts.
    AllowedOrigins(InvalidOrigin),
    /// `PORTAL_RESTRICT_FRAMES` is neither `true`, `1`, `false` nor `0`.
    RestrictFrames,
    /// `PAGE_CSP` cannot be sent as a header value.
    PageCsp,
    /// `PROABONO_API` is neither `on` nor `off`.
    Api,
    /// `PROABONO_CUSTOMER_REF` breaks ProAbono's rules for a reference.
    CustomerRef,
    /// `PROABONO_API_ENDPOINT`, `PROABONO_AGENT_KEY` or `PROABONO_API_KEY`
    /// is missing or invalid.
    ApiConfig(ConfigError),
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SettingsError::BusinessId => f.write_str("PROABONO_BUSINESS_ID is not a number"),
            SettingsError::InSite(error) => error.fmt(f),
            SettingsError::Fallback => {
                f.write_str("PORTAL_FALLBACK_URL is not an http or https URL with a host")
            }
            SettingsError::AllowedOrigins(error) => write!(f, "PORTAL_ALLOWED_ORIGINS: {error}"),
            SettingsError::RestrictFrames => {
                f.write_str("PORTAL_RESTRICT_FRAMES is not true, 1, false or 0")
            }
            SettingsError::PageCsp => f.write_str("PAGE_CSP is not a valid header value"),
            SettingsError::Api => f.write_str("PROABONO_API is neither on nor off"),
            SettingsError::CustomerRef => {
                f.write_str("PROABONO_CUSTOMER_REF is not a ProAbono customer reference")
            }
            SettingsError::ApiConfig(error) => write!(f, "ProAbono's API: {error}"),
        }
    }
}

impl std::error::Error for SettingsError {}

/// What every response of the page shares.
struct Page {
    fallback: String,
    in_site: InSite,
    /// The client, what the page calls its source, and the customer.
    api: Option<(Client, String, CustomerRef)>,
    /// The page's own `Content-Security-Policy`, if it has one, before the
    /// portal's sources are added to it.
    page_csp: Option<HeaderValue>,
}

/// What the page shows in place of the portal.
enum Portal {
    /// An iframe with this `src`.
    Frame(String),
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
        (Some(target), _, _) => (
            Portal::Frame(target.as_str().to_owned()),
            "crylk".to_owned(),
        ),
        (None, Some(query), _) => {
            // Anonymous: the demo has no session. A page behind a login
            // opens the portal for the signed-in customer, whose reference
            // comes from the session and never from the request:
            // `page.in_site.open_for(&session.customer_ref)?.query(query)`.
            let call = page.in_site.open().query(query).to_script();
            (Portal::InSite(call), "pa_query (In-Site)".to_owned())
        }
        (None, None, refusal) => {
            let why = match refusal {
                Some(Extension(refusal)) => format!("refused: {refusal}"),
                None => "no crylk or pa_query".to_owned(),
            };
            customer_portal(&page, why).await
        }
    };

    let (head, body, inline) = match portal {
        Portal::Frame(src) => (
            String::new(),
            format!(
                r#"<iframe id="portal" style="width: 100%; height: 700px;" src="{}" frameborder="0" referrerpolicy="no-referrer"></iframe>"#,
                escape_html(&src)
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
<script src="{PAGE_JS_PATH}"></script>
{head}</head>
<body>
<h1>Subscriptions</h1>
{body}
<p id="portal-source" style="font-size: small; color: #666;">Portal link: {source}</p>
<p id="page-script" style="font-size: small; color: #666;">Page script: did not run</p>
<ul id="csp-violations" style="font-size: small; color: #a00;"></ul>
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
        ],
        Html(html),
    )
        .into_response();
    // The page's own policy: `PortalCspLayer`, outside the handler, adds
    // the portal's sources to it.
    if let Some(policy) = &page.page_csp {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, policy.clone());
    }
    if let Some(inline) = inline {
        response.extensions_mut().insert(inline);
    }
    response
}

/// The customer's `hosted-home` from the API, or the static fallback when
/// there is no API, it fails, or it has no `hosted-home` for the customer.
async fn customer_portal(page: &Page, why: String) -> (Portal, String) {
    let fallback = |why: String| {
        (
            Portal::Frame(page.fallback.clone()),
            format!("fallback ({why})"),
        )
    };
    let Some((client, source, customer)) = &page.api else {
        return fallback(why);
    };
    match client.customer_links(customer.as_str()).await {
        Ok(links) => match links.hosted_home() {
            Ok(home) => (
                Portal::Frame(home.as_str().to_owned()),
                format!("hosted-home from {source} ({why})"),
            ),
            Err(error) => fallback(format!("{why}; {source}: {error}")),
        },
        Err(error) => fallback(format!("{why}; {source}: {error}")),
    }
}

/// `GET /static/page.js`, the page's own script.
async fn page_js() -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/javascript; charset=utf-8"),
        )],
        PAGE_JS,
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

/// The page behind `PortalLinkLayer`, with its settings: what `main` serves.
///
/// # Panics
///
/// If `settings.allowed_origins` holds an origin `PortalLinkLayer` refuses
/// ([`Settings::from_env`] checks them), or the API client cannot be built
/// (no root certificate on the platform).
pub fn app(settings: Settings) -> Router {
    let Settings {
        fallback,
        in_site,
        allowed_origins,
        restrict_frames,
        page_csp,
        api,
    } = settings;
    let layer = match allowed_origins {
        Some(origins) => PortalLinkLayer::new().allowed_origins(origins),
        None => PortalLinkLayer::new(),
    };
    // The portal's sources: the layer's origins, the fallback's (which a
    // narrowed list may not hold, or which may not be on ProAbono at all),
    // and portal.js. A fallback that is not an http(s) URL frames nothing
    // the policy can name (`Settings::from_env` refuses one).
    let csp = layer.csp();
    let csp = csp.clone().try_fallback(&fallback).unwrap_or(csp);
    let csp = csp.in_site().restrict_frames(restrict_frames);
    let page_csp = page_csp.and_then(|policy| HeaderValue::try_from(policy).ok());
    // The client reads the links with the layer's origins: the page's
    // policy, from `layer.csp()`, frames every link it returns.
    let api = api.map(|api| {
        let builder = Client::builder(api.config).links_policy(&layer);
        let builder = match api.tls {
            Some(tls) => builder.tls_config(tls),
            None => builder,
        };
        let client = builder
            .build()
            .unwrap_or_else(|e| panic!("ProAbono's API client: {e}"));
        (client, api.source, api.customer)
    });
    Router::new()
        // On this route only: the rest of an application keeps its own policy.
        .route("/Subscriptions", get(subscriptions).layer(csp))
        .route(PAGE_JS_PATH, get(page_js))
        .with_state(Arc::new(Page {
            fallback,
            in_site,
            api,
            page_csp,
        }))
        .layer(layer)
}
