//! `Content-Security-Policy` for the page that shows ProAbono's portal:
//! [`PortalCspLayer`] lets the portal through the page's policies, and can
//! add a policy of its own that refuses every other frame.
//!
//! A page that embeds the portal needs its origins in `frame-src`, and,
//! for the In-Site installation, `https://portal.proabono.com` (portal.js)
//! plus a nonce or hash for the inline `ProAbonoPortal.open(...)` call in
//! `script-src`. The application usually has a policy of its own, set by
//! its framework, a layer or a reverse proxy, or none at all; the layer
//! works on the responses of the service it wraps, whatever they carry.
//!
//! # The rule
//!
//! **Every policy the response carries that restricts frames or scripts
//! gets the layer's sources added to the directive that governs them,
//! without removing or narrowing anything and without restricting what it
//! did not restrict; and with [`restrict_frames(true)`](PortalCspLayer::restrict_frames)
//! the response also gets one more policy, the layer's own `frame-src`,
//! beside whatever it carries.**
//!
//! "Every policy" is each `Content-Security-Policy` field, each policy of
//! a field that holds several (separated by `,`), and, with
//! [`report_only(true)`](PortalCspLayer::report_only), each
//! `Content-Security-Policy-Report-Only` one. A browser enforces every
//! policy on its own, and a request must pass them all: widening each is
//! what lets the portal through, and the layer's own policy, being one
//! more, can only restrict. So the page's own scripts, styles and frames
//! keep working, and the layer's sources are allowed, whatever the
//! response already has:
//!
//! | the response carries | the layer's sources | with `restrict_frames(true)` |
//! |---|---|---|
//! | no policy | nothing to add: everything is allowed | `frame-src <frame sources>` is added |
//! | a policy that restricts frames or scripts (`frame-src`, `child-src`, `script-src`, `script-src-elem`, `default-src`) | added to the directive that governs them | and `frame-src <frame sources>` |
//! | a policy with other directives only (`frame-ancestors 'self'`, `img-src *`) | nothing to add: it does not restrict them | and `frame-src <frame sources>` |
//! | a stricter one (`'none'`), a weaker one (`*`), several | each as above | and `frame-src <frame sources>`, once |
//! | a value that is not visible ASCII | left as it is (it can only block the portal) | and `frame-src <frame sources>` |
//!
//! The *frame sources* are the allowed origins (from
//! [`PortalLinkLayer::csp`](crate::PortalLinkLayer::csp), or
//! [`frame_src`](PortalCspLayer::frame_src)), the
//! [`fallback`](PortalCspLayer::fallback)'s origin and the page's other
//! frame sources; the *script sources* are portal.js's origin
//! ([`in_site`](PortalCspLayer::in_site)), any given to
//! [`script_src`](PortalCspLayer::script_src), and the response's
//! [`InlineScript`]. Without `restrict_frames`, a response without a
//! policy, or with unrelated directives only, comes out of the layer
//! exactly as it went in.
//!
//! ```
//! use http::header::{HeaderMap, CONTENT_SECURITY_POLICY};
//! use tower_portal_link::PortalCspLayer;
//!
//! let csp = PortalCspLayer::new().frame_src(["https://*.proabono.com"]);
//! let merged = |csp: &PortalCspLayer, page: Option<&'static str>| {
//!     let mut headers = HeaderMap::new();
//!     if let Some(page) = page {
//!         headers.insert(CONTENT_SECURITY_POLICY, page.parse().unwrap());
//!     }
//!     csp.merge_into(&mut headers, None);
//!     let values = headers.get_all(CONTENT_SECURITY_POLICY).iter();
//!     values.map(|v| v.to_str().unwrap().to_owned()).collect::<Vec<_>>()
//! };
//!
//! // No policy, or one that does not restrict frames: nothing to add.
//! assert!(merged(&csp, None).is_empty());
//! assert_eq!(merged(&csp, Some("frame-ancestors 'self'")), ["frame-ancestors 'self'"]);
//! // A policy that restricts frames: the portal is added, nothing removed.
//! assert_eq!(
//!     merged(&csp, Some("default-src 'self'")),
//!     ["default-src 'self'; frame-src 'self' https://*.proabono.com"],
//! );
//!
//! // Defence in depth: one more policy, in every case.
//! let csp = csp.restrict_frames(true);
//! assert_eq!(merged(&csp, None), ["frame-src https://*.proabono.com"]);
//! assert_eq!(
//!     merged(&csp, Some("frame-ancestors 'self'")),
//!     ["frame-ancestors 'self'", "frame-src https://*.proabono.com"],
//! );
//! ```
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
//! use tower_portal_link::PortalLinkLayer;
//!
//! /// The `hosted-home` link of ProAbono's Customer object.
//! const HOSTED_HOME: &str = "https://demo-eur.proabono.com/portal-anon";
//!
//! async fn subscriptions() -> Html<String> {
//!     Html(format!(r#"<iframe src="{HOSTED_HOME}"></iframe>"#))
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let links = PortalLinkLayer::new().allowed_origins(["https://mon-app.via.proabono.com"]);
//! let csp = links.csp().fallback(HOSTED_HOME).restrict_frames(true);
//! let app: Router = Router::new()
//!     // Only this page's responses get the portal's sources.
//!     .route("/Subscriptions", get(subscriptions).layer(csp))
//!     .route("/health", get(|| async { "ok" }))
//!     .layer(links);
//! # let (listener, addr) = test_support::listener().await;
//! # tokio::spawn(async move { axum::serve(listener, app).await });
//! # let page = test_support::get(addr, "/Subscriptions").await;
//! # assert_eq!(
//! #     page.headers()["content-security-policy"],
//! #     "frame-src https://mon-app.via.proabono.com https://demo-eur.proabono.com",
//! # );
//! # let health = test_support::get(addr, "/health").await;
//! # assert!(!health.headers().contains_key("content-security-policy"));
//! # }
//! ```
//!
//! A layer outside this one sees the response after it: an
//! application-wide policy set there (say with tower-http's
//! `SetResponseHeaderLayer`) would either replace the merged policy
//! (`overriding`), or, finding one, drop its own (`if_not_present`), or be
//! appended beside it (`appending`, then blocking the portal). On the
//! page's route, set the application's policy inside this layer
//! (`ServiceBuilder::new().layer(csp).layer(app_policy)`: a
//! `ServiceBuilder` lists layers outermost first), or in the handler; or
//! call [`PortalCspLayer::merge_into`] where the policy is set.
//!
//! # The fallback
//!
//! Without a valid link, the page frames the `hosted-home` link of
//! ProAbono's Customer object. Its host may be outside a narrowed list of
//! allowed origins (`https://demo-eur.proabono.com` beside
//! `https://mon-app.via.proabono.com`), or not a ProAbono host at all.
//! [`fallback`](PortalCspLayer::fallback) takes that URL once and adds its
//! origin wherever the layer allows frames: the page's policies and the
//! layer's own.
//!
//! The fallback's origin is added only when a CSP source names it exactly.
//! Its host must be a domain name or an IPv4 address. A `*` (which a
//! source reads as a wildcard), an empty label, a trailing dot, a label
//! that starts or ends with `-`, and an IPv6 address are refused, with
//! their [`InvalidCspSourceKind`].
//!
//! # The page's other frames
//!
//! [`frame_src`](PortalCspLayer::frame_src) adds to the frame sources, as
//! many times as needed: `links.csp().frame_src(["https://www.youtube-nocookie.com"])`.
//! Without `restrict_frames`, the page's policy already decides about its
//! own frames and keeps doing so; with it, a frame source the layer was
//! not given is refused.
//!
//! # Defence in depth: `restrict_frames`
//!
//! [`restrict_frames(true)`](PortalCspLayer::restrict_frames) adds
//! `frame-src` with the frame sources (`frame-src 'none'` when there are
//! none) as a `Content-Security-Policy` field of its own, unless the
//! response already carries exactly that one. Whatever the page's policies
//! say, the browser then refuses every frame outside the allowed origins,
//! the fallback's and the page's other frame sources: markup injected
//! elsewhere in the page cannot frame anything else. It is the one thing
//! the layer restricts, and only frames: the page's scripts and styles are
//! left to its own policy.
//!
//! # In-Site: portal.js and the inline call
//!
//! [`in_site`](PortalCspLayer::in_site) adds `https://portal.proabono.com`
//! to `script-src`. The inline script that calls `ProAbonoPortal.open(...)`
//! differs for every customer, so its source is chosen by the handler, for
//! each response: it inserts an [`InlineScript`] (a nonce, or, with the
//! `in-site` feature, the script's SHA-256) as a response extension, and
//! the layer adds it to `script-src`, in the policies that restrict
//! scripts.
//!
//! ```
//! # #[cfg(feature = "in-site")] {
//! use axum::response::Html;
//! use axum::{routing::get, Extension, Router};
//! use tower_portal_link::{InlineScript, PortalLinkLayer};
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
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let links = PortalLinkLayer::new();
//! let csp = links.csp().fallback("https://demo-eur.proabono.com/portal-anon").in_site();
//! let app: Router = Router::new().route("/billing", get(billing).layer(csp)).layer(links);
//! # let (listener, addr) = test_support::listener().await;
//! # tokio::spawn(async move { axum::serve(listener, app).await });
//! # let page = test_support::get(addr, "/billing").await;
//! # assert!(test_support::text(&page).contains("ProAbonoPortal.open("));
//! # // No policy on the page: nothing to widen, and nothing restricted.
//! # assert!(!page.headers().contains_key("content-security-policy"));
//! # }
//! # main();
//! # }
//! ```
//!
//! # How a policy is widened
//!
//! In each policy the layer widens, for frames and for scripts:
//!
//! - **The directive is there**: the sources it lacks are appended, in
//!   place. Schemes, hosts and keywords are compared ignoring ASCII case;
//!   paths, nonces and hashes are not. Browsers read only the first
//!   directive of a name, so only the first is changed.
//! - **The directive is `'none'` or empty**: it is replaced by the layer's
//!   sources. It matched nothing, so the page now allows those and only
//!   those.
//! - **The directive is absent, and a fallback governs it**: the new
//!   directive is the fallback's sources plus the layer's. Frames fall back
//!   on `child-src`, then `default-src`; scripts on `default-src`. The
//!   layer's sources alone would narrow what the fallback allowed. Example:
//!   `default-src 'self'` gets `; frame-src 'self' https://*.proabono.com`.
//! - **Nothing governs it**: the policy is left as it is. It already allows
//!   the layer's sources, and a new directive would block what the page
//!   allows.
//! - **Workers**: a new `script-src` would govern them when the policy has
//!   neither `worker-src` nor `child-src`, so `worker-src` gets
//!   `default-src`'s sources: `default-src 'self'` gets `; script-src 'self'
//!   https://portal.proabono.com; worker-src 'self'`. A page's own
//!   `script-src` gets portal.js's origin as usual; a worker's script must
//!   be same-origin, so that origin starts none.
//! - **`script-src-elem`**, when present, gets the script sources too.
//!   Browsers that know it read it for `<script>` elements; the others read
//!   `script-src`.
//! - **`'unsafe-inline'`** with no nonce, hash or `'strict-dynamic'`: the
//!   [`InlineScript`] is not added. The list already allows the inline
//!   call, and a nonce or hash would switch `'unsafe-inline'` off for the
//!   page's other inline scripts.
//! - **`'strict-dynamic'`**: browsers then ignore host sources. Give
//!   portal.js's `<script>` element the page's nonce too.
//! - **A value that is not visible ASCII** (`http` allows `obs-text`) is
//!   left untouched. It has no single reading, and leaving it can only
//!   block the portal.
//! - **Report-only policies** are widened only with
//!   [`report_only(true)`](PortalCspLayer::report_only). None is ever
//!   created.
//!
//! Nothing else changes. The only source ever removed is `'none'`, from a
//! directive the layer adds to. The only directives ever removed are empty
//! ones (`;;`) at the end of a policy that gets a new directive.

mod layer;
mod merge;
mod service;
mod source;

pub use self::layer::PortalCspLayer;
pub use self::service::{PortalCsp, ResponseFuture};
pub use self::source::{InlineScript, InvalidCspSource, InvalidCspSourceKind};

use self::merge::Additions;

/// What a [`PortalCspLayer`] adds, shared by the services it builds.
#[derive(Clone, Debug, Default)]
struct Config {
    /// Every frame source: the portal's origins, the page's other frame
    /// sources and the fallback's origin, in the order they were given.
    frame_src: Vec<Box<str>>,
    script_src: Vec<Box<str>>,
    restrict_frames: bool,
    report_only: bool,
}

impl Config {
    fn apply(&self, headers: &mut http::HeaderMap, inline: Option<&InlineScript>) {
        let add = Additions {
            frame: &self.frame_src,
            script: &self.script_src,
            inline: inline.map(InlineScript::as_str),
        };
        merge::apply(headers, add, self.restrict_frames, self.report_only);
    }
}
