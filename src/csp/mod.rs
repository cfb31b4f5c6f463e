//! `Content-Security-Policy` for the portal page: a layer that widens the
//! policy the page already has by the portal's sources, and never replaces
//! it.
//!
//! A page that embeds ProAbono's portal must let it through its policy:
//! the portal's origins in `frame-src`, and, for the In-Site installation,
//! `https://portal.proabono.com` (portal.js) plus a nonce or hash for the
//! inline `ProAbonoPortal.open(...)` call in `script-src`. The application
//! usually has a policy of its own, set by its framework, a layer or a
//! reverse proxy; [`PortalCspLayer`] merges the portal's sources into it,
//! on the responses of the service it wraps.
//!
//! # Where it goes
//!
//! It is an ordinary layer: put it on the page's route, not on the whole
//! application, so that no other response allows the portal. With axum,
//! [`MethodRouter::layer`](https://docs.rs/axum/0.8/axum/routing/method_routing/struct.MethodRouter.html#method.layer)
//! (or `Router::route_layer` for a group of routes):
//!
//! ```
//! use axum::response::Html;
//! use axum::{routing::get, Router};
//! use tower_portal_link::PortalCspLayer;
//!
//! async fn subscriptions() -> Html<&'static str> {
//!     Html(r#"<iframe src="https://demo-eur.proabono.com/portal-anon"></iframe>"#)
//! }
//!
//! let csp = PortalCspLayer::frame_src(["https://proabono.com", "https://*.proabono.com"]);
//! let app: Router = Router::new()
//!     // Only this page's responses get the portal's sources.
//!     .route("/Subscriptions", get(subscriptions).layer(csp))
//!     .route("/health", get(|| async { "ok" }));
//! # let _ = app;
//! ```
//!
//! A layer outside this one sees the response after it: an
//! application-wide policy set there (say with tower-http's
//! `SetResponseHeaderLayer`) would either replace the merged policy
//! (`overriding`) or, finding one, drop its own (`if_not_present`). On the
//! page's route, set the application's policy inside this layer
//! (`ServiceBuilder::new().layer(csp).layer(app_policy)`: a
//! `ServiceBuilder` lists layers outermost first), or in the handler; or
//! call [`PortalCspLayer::merge_into`] where the policy is set.
//!
//! # In-Site: portal.js and the inline call
//!
//! [`in_site`](PortalCspLayer::in_site) adds `https://portal.proabono.com`
//! to `script-src`. The inline script that calls `ProAbonoPortal.open(...)`
//! differs for every customer, so its source is chosen by the handler, for
//! each response: it inserts an [`InlineScript`] (a nonce, or, with the
//! `in-site` feature, the script's SHA-256) as a response extension, and
//! the layer adds it to `script-src`.
//!
//! ```
//! # #[cfg(feature = "in-site")] {
//! use axum::response::Html;
//! use axum::{routing::get, Extension, Router};
//! use tower_portal_link::{InlineScript, PortalCspLayer};
//!
//! async fn billing() -> (Extension<InlineScript>, Html<String>) {
//!     // Rendered for this customer, every value escaped for a script.
//!     let call = r#"ProAbonoPortal.open({ business_id: 42, segment_ref: "demo-eur" });"#;
//!     let page = format!(
//!         r#"<script src="https://portal.proabono.com/Get/portal.js"></script>
//! <div id="proabono_portal">loading...</div>
//! <script>{call}</script>"#
//!     );
//!     (Extension(InlineScript::sha256(call)), Html(page))
//! }
//!
//! let csp = PortalCspLayer::frame_src(["https://proabono.com", "https://*.proabono.com"]).in_site();
//! let app: Router = Router::new().route("/billing", get(billing).layer(csp));
//! # let _ = app;
//! # }
//! ```
//!
//! # How the policy is merged
//!
//! Every `Content-Security-Policy` field of the response is widened, and
//! so is every policy of a field holding several, separated by `,`: each
//! is enforced on its own, and a frame must pass them all. With
//! [`report_only(true)`](PortalCspLayer::report_only), so is every
//! `Content-Security-Policy-Report-Only` field. In each policy:
//!
//! - **No policy at all** (no `Content-Security-Policy` field): the
//!   response gets one made of the portal's directives alone, such as
//!   `frame-src https://proabono.com https://*.proabono.com`, so the page
//!   frames nothing else. No report-only field is ever created: it would
//!   report to nowhere.
//! - **The directive is present**: the sources it lacks are appended to it,
//!   in place (it keeps its position and its spelling; schemes, hosts and
//!   keywords are compared ignoring ASCII case, paths and nonce or hash
//!   values are not). Only the first directive of a name counts in a
//!   browser, so only the first is changed.
//! - **The directive is `'none'`, or empty**: it matches nothing, and
//!   `'none'` is ignored beside any other source, so it is replaced by the
//!   portal's sources. The page then allows the portal, and only it.
//! - **The directive is absent, but a fallback governs it**: frames fall
//!   back on `child-src`, then `default-src`; scripts on `default-src`. A
//!   `frame-src` made of the portal's sources alone would *replace* that
//!   fallback for frames (narrowing it, if it allowed other frames, and
//!   dropping its other restrictions otherwise), so the new directive is a
//!   copy of the fallback's sources plus the portal's:
//!   `default-src 'self'` gets `; frame-src 'self' https://proabono.com
//!   https://*.proabono.com`. Every request is then allowed or blocked as
//!   before, except the portal's.
//! - **Neither the directive nor a fallback**: the policy does not restrict
//!   those requests, so it already allows the portal, and it is left as
//!   it is. Adding the directive would block what the application allows.
//! - **`script-src-elem`**, when the policy has it, governs `<script>`
//!   elements instead of `script-src` in the browsers that know it, so it
//!   gets the script sources too (and `script-src` still does, for the
//!   others).
//! - **`'unsafe-inline'`**: a list with `'unsafe-inline'` and no nonce, no
//!   hash and no `'strict-dynamic'` already allows the inline call, and a
//!   nonce or hash added to it would switch `'unsafe-inline'` off for the
//!   page's other inline scripts: the response's [`InlineScript`] is not
//!   added to such a list.
//! - **`'strict-dynamic'`**: browsers then ignore host sources, so
//!   portal.js loads only if its `<script>` element carries the page's
//!   nonce; use a nonce for both elements.
//! - **A value that is not visible ASCII** (the `http` crate allows
//!   `obs-text` bytes in a header): left untouched. There is no single way
//!   to read it, and leaving it can only block the portal, never allow
//!   anything else. The layer does not add a policy beside it either, since
//!   another policy can only restrict.
//!
//! Nothing else in a policy changes: no source is ever removed but
//! `'none'`, from a directive the portal's sources are added to, and no
//! directive but empty ones (`;;`) at the end of a policy that gets a new
//! directive.

mod layer;
mod merge;
mod service;
mod source;

pub use self::layer::PortalCspLayer;
pub use self::service::{PortalCsp, ResponseFuture};
pub use self::source::{InlineScript, InvalidCspSource};

use self::merge::Additions;

/// The sources a [`PortalCspLayer`] adds, shared by the services it builds.
#[derive(Clone, Debug, Default)]
struct Config {
    frame_src: Vec<Box<str>>,
    script_src: Vec<Box<str>>,
    report_only: bool,
}

impl Config {
    fn apply(&self, headers: &mut http::HeaderMap, inline: Option<&InlineScript>) {
        let add = Additions {
            frame: &self.frame_src,
            script: &self.script_src,
            inline: inline.map(InlineScript::as_str),
        };
        merge::apply(headers, add, self.report_only);
    }
}
