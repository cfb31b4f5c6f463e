//! A [tower] layer that validates [ProAbono] portal links and hands
//! handlers a typed, canonical [`PortalTarget`] (or, for ProAbono's In-Site
//! installation, a [`PortalQuery`]).
//!
//! Once a business sets "URL of the integrated portal" in ProAbono's back
//! office, every link in ProAbono's e-mails (invoices, expiring cards, failed
//! payments, direct-debit notices) points at the business's own page and
//! carries the real destination, percent-encoded, in the `crylk` query
//! parameter. ProAbono's integration guide ("Customer Portal Integration")
//! gives this one, which the examples below call *the guide's link*:
//!
//! ```text
//! https://mon-app.com/Subscriptions?crylk=https%3a%2f%2fmon-app.via.proabono.com%2fsubscribe-offer%2f0p9i35O1V9_JJRfC0nIeE96ot9e1LcN349
//! ```
//!
//! The page decodes `crylk` once and checks that it is a ProAbono link. If
//! it is, it becomes the portal iframe's `src`. If not, the page falls back
//! to the `hosted-home` link of ProAbono's Customer object. A wrong check
//! lets anyone frame their own site in the page: the guide's own advice
//! ("the domain ends with proabono.com") lets `evilproabono.com` through.
//! ProAbono's newer In-Site installation (portal.js) e-mails an encrypted
//! `pa_query` instead of a URL.
//!
//! [`PortalLinkLayer`] does this in front of any `Service<http::Request<B>>`.
//! It finds either parameter, validates it and removes it from the request.
//! Then it inserts a request extension: a [`PortalTarget`] or a
//! [`PortalQuery`] for a valid one, a [`Refusal`] for a refused one. A
//! request with neither costs one pass over the query and no allocation.
//!
//! # Example
//!
//! ```
//! use http::{Request, Response};
//! use std::convert::Infallible;
//! use tower::{ServiceBuilder, ServiceExt};
//! use tower_portal_link::{PortalLinkLayer, PortalTarget, Refusal};
//!
//! async fn page(req: Request<String>) -> Result<Response<String>, Infallible> {
//!     let ext = req.extensions();
//!     let src = match (ext.get::<PortalTarget>(), ext.get::<Refusal>()) {
//!         (Some(target), _) => target.as_str().to_owned(),
//!         (None, Some(_refusal)) => "fallback: link refused".to_owned(),
//!         (None, None) => "fallback: no link".to_owned(),
//!     };
//!     Ok(Response::new(src))
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let service = ServiceBuilder::new()
//!     .layer(PortalLinkLayer::new())
//!     .service_fn(page);
//!
//! let guide = "/Subscriptions?crylk=https%3a%2f%2fmon-app.via.proabono.com\
//!              %2fsubscribe-offer%2f0p9i35O1V9_JJRfC0nIeE96ot9e1LcN349";
//! let res = service.clone().oneshot(Request::get(guide).body(String::new()).unwrap()).await.unwrap();
//! assert_eq!(
//!     res.body(),
//!     "https://mon-app.via.proabono.com/subscribe-offer/0p9i35O1V9_JJRfC0nIeE96ot9e1LcN349",
//! );
//!
//! let evil = "/Subscriptions?crylk=https%3a%2f%2fevilproabono.com%2f";
//! let res = service.oneshot(Request::get(evil).body(String::new()).unwrap()).await.unwrap();
//! assert_eq!(res.body(), "fallback: link refused");
//! # }
//! ```
//!
//! # Where the layer goes
//!
//! **Outermost**, around everything that logs or records the request. The
//! layer removes the link first, so nothing inside it (a `TraceLayer` span,
//! an access log, an error report) ever holds it. Where the promise holds,
//! and where it stops:
//!
//! - **Around the whole application** (`PortalLinkLayer::new().layer(router)`,
//!   or first in the `ServiceBuilder` you serve): every request.
//! - **axum's `Router::layer`**: the routes, and a `fallback`, added before
//!   it. With the `axum` feature the layer also removes the link from
//!   axum's `OriginalUri`, which the router records before its layers run.
//!   A `fallback` added *after* `Router::layer` is not covered.
//! - **axum's `route_layer`** (and a nested router's layer): requests that
//!   match a route only; a request that reaches the `fallback` never meets
//!   the layer, and keeps its link.
//! - **Anything outside the layer** (a `TraceLayer` or access log wrapped
//!   around it, a reverse proxy) sees the request as the client sent it.
//!
//! # Integrations
//!
//! One `.layer(...)` wherever tower runs, and handlers read the extensions.
//! The repository has a runnable crate per framework under `examples/`,
//! each with tests that send real requests through it over 127.0.0.1.
//!
//! ## axum 0.8
//!
//! With the `axum` feature, a handler takes `Option<PortalTarget>`, or
//! [`PortalTarget`], which answers `400` when the link is absent or
//! refused. [`PortalQuery`] works the same way. The [`Refusal`] is
//! `Option<axum::Extension<Refusal>>`. A layer around a `Router` is a plain
//! service: `axum::serve` takes it through `into_make_service`. Add your
//! other layers (`TraceLayer`...) with `Router::layer`, inside this one.
//! They then never see the link, and the response stays axum's, as
//! `axum::serve` needs.
//!
//! ```rust
//! # #[cfg(feature = "axum")] {
//! use axum::{extract::Request, response::Html, routing::get, Router, ServiceExt};
//! use tower::Layer;
//! use tower_http::trace::TraceLayer;
//! use tower_portal_link::{PortalLinkLayer, PortalTarget};
//!
//! const HOSTED_HOME: &str = "https://demo-eur.proabono.com/portal-anon";
//!
//! async fn subscriptions(target: Option<PortalTarget>) -> Html<String> {
//!     // `None`: no link, or a refused one. Fall back to `hosted-home`.
//!     let src = target.as_ref().map_or(HOSTED_HOME, PortalTarget::as_str);
//!     let src = src.replace('&', "&amp;").replace('"', "&quot;");
//!     Html(format!(r#"<iframe src="{src}"></iframe>"#))
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let router = Router::new()
//!     .route("/Subscriptions", get(subscriptions))
//!     .layer(TraceLayer::new_for_http());
//! let app = PortalLinkLayer::new().layer(router);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! # let addr = listener.local_addr()?;
//! # tokio::spawn(async move {
//! axum::serve(listener, ServiceExt::<Request>::into_make_service(app)).await
//! # });
//! # let guide = format!("/Subscriptions?crylk={}", test_support::GUIDE_CRYLK);
//! # let res = test_support::get(addr, &guide).await;
//! # assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
//! # assert!(test_support::text(&res).contains(test_support::GUIDE_LINK));
//! # let evil = format!("/Subscriptions?crylk={}", test_support::EVIL_CRYLK);
//! # assert!(test_support::text(&test_support::get(addr, &evil).await).contains(HOSTED_HOME));
//! # Ok(())
//! # }
//! # main().unwrap();
//! # }
//! ```
//!
//! `examples/subscriptions` is the whole page, with both flows and its
//! `Content-Security-Policy`.
//!
//! ## hyper 1 and tower-http stacks
//!
//! No framework: the layer first in a `tower::ServiceBuilder`, before
//! `TraceLayer`, `SetRequestIdLayer`, `CompressionLayer`, `TimeoutLayer`
//! and the rest, in front of a `service_fn`, served with `hyper-util`
//! (`examples/hyper`):
//!
//! ```rust
//! use std::convert::Infallible;
//! use std::time::Duration;
//!
//! use http::{Request, Response, StatusCode};
//! use http_body_util::Full;
//! use hyper::body::{Bytes, Incoming};
//! use hyper::server::conn::http1;
//! use hyper_util::rt::TokioIo;
//! use hyper_util::service::TowerToHyperService;
//! use tower::ServiceBuilder;
//! use tower_http::compression::CompressionLayer;
//! use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
//! use tower_http::timeout::TimeoutLayer;
//! use tower_http::trace::TraceLayer;
//! use tower_portal_link::{PortalLinkLayer, PortalTarget};
//!
//! const HOSTED_HOME: &str = "https://demo-eur.proabono.com/portal-anon";
//!
//! async fn page(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
//!     let target = req.extensions().get::<PortalTarget>();
//!     let src = target.map_or(HOSTED_HOME, PortalTarget::as_str);
//!     Ok(Response::new(Full::from(src.to_owned())))
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let service = ServiceBuilder::new()
//!     .layer(PortalLinkLayer::new())
//!     .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
//!     .layer(TraceLayer::new_for_http())
//!     .layer(PropagateRequestIdLayer::x_request_id())
//!     .layer(CompressionLayer::new())
//!     .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_secs(10)))
//!     .service_fn(page);
//!
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! # let addr = listener.local_addr()?;
//! # tokio::spawn(async move {
//! loop {
//!     let (stream, _) = listener.accept().await?;
//!     // hyper calls services by `&self`: the adapter clones the stack.
//!     let service = TowerToHyperService::new(service.clone());
//!     tokio::spawn(http1::Builder::new().serve_connection(TokioIo::new(stream), service));
//! }
//! # #[allow(unreachable_code)]
//! # Ok::<(), std::io::Error>(())
//! # });
//! # let guide = format!("/Subscriptions?crylk={}", test_support::GUIDE_CRYLK);
//! # let res = test_support::get(addr, &guide).await;
//! # assert_eq!(test_support::text(&res), test_support::GUIDE_LINK);
//! # assert!(res.headers().contains_key("x-request-id"));
//! # let evil = format!("/Subscriptions?crylk={}", test_support::EVIL_CRYLK);
//! # assert_eq!(test_support::text(&test_support::get(addr, &evil).await), HOSTED_HOME);
//! # Ok(())
//! # }
//! ```
//!
//! ## tonic 0.14 and tonic-web
//!
//! gRPC and gRPC-web clients post to `/package.Service/Method` and rarely
//! carry a query string. Let the layer read the link from a request header
//! too ([`header`](PortalLinkLayer::header)): the header holds the `crylk`
//! value as it stands in the page's URL. Add the layer to the `Server`
//! before `GrpcWebLayer`, so it sees the request as the client sent it.
//! The method reads the extensions of its `tonic::Request`
//! (`examples/tonic-web`, generated from `proto/portal.proto`). Keep the
//! default [`Forward`] mode: a bare `400` is not a gRPC answer, and the
//! method can answer a `Status` that says what happened.
//!
//! ## warp 0.4
//!
//! `warp::serve` only takes filters, so turn the filter tree into a service
//! with `warp::service`, put it behind the layer in a `ServiceBuilder`, and
//! serve that with `hyper-util` (`examples/warp`). Filters read the
//! extensions with `warp::ext::get` and `warp::ext::optional`; `ext::get`
//! rejects when the extension is absent, so pair it with a fallback route.
//!
//! ## Outside tower
//!
//! Frameworks with their own middleware get the same verdict from
//! [`target_from_query`] ([`PortalLinkLayer::target_from_query`] for a
//! configured policy) and [`PortalQuery::parse`]. They get only the
//! verdict. Keeping the link out of the framework's logs, and the
//! `Referrer-Policy` rule below, are then up to the application.
//!
//! # ProAbono's In-Site installation
//!
//! portal.js renders the portal inside the page, opened by
//! `ProAbonoPortal.open({...})`. Its e-mails carry
//! `?pa_query=<encrypted query>` instead of `crylk`. The layer hands a
//! valid one on as a [`PortalQuery`]. Valid means URL-safe base64, as
//! ProAbono documents it: letters, digits, `-` and `_`, at most
//! [`PortalQuery::MAX_LEN`] bytes. Anything else is refused, so the value is
//! inert in HTML, JavaScript and URLs.
//!
//! With the `in-site` feature, [`InSite`] renders the `open()` call escaped
//! for a `<script>`. It signs the customer's reference with HMAC-SHA256 and
//! the portal secret, found in ProAbono's back office under *Integration →
//! Installation → In-Site → Portal*.
//!
//! # The customer's own links
//!
//! A page view without a valid link frames the customer's `hosted-home`
//! (or opens portal.js with an In-Site query). ProAbono's API returns those
//! links with the Customer object; they are per customer, and they expire.
//! With the `api` feature, `api::Client` fetches them, reads each with the
//! layer's rules and origins, caches them a minute per customer, and
//! renders nothing of them in `Debug`, errors or logs. The `api` module
//! shows the whole page, served.
//!
//! # Options
//!
//! [`PortalLinkLayer::new`] accepts `https` links to `proabono.com` and its
//! subdomains: the pages of every business on ProAbono. The builder
//! methods change that:
//!
//! - [`allowed_origins`](PortalLinkLayer::allowed_origins) replaces the
//!   origins links may point at, [`allow_origin`](PortalLinkLayer::allow_origin)
//!   adds one. Each has a `try_` version that returns an error instead of
//!   panicking. Origins are Content-Security-Policy source expressions
//!   ([`OriginPattern`]), each with its own scheme and port:
//!   `.allow_origin("http://localhost:3000")` allows `http` and port 3000
//!   on `localhost` only. For local development an exact IPv4 origin works
//!   too (`http://127.0.0.1:3000`); IPv6 does not (use `localhost`). A
//!   `*.` wildcard is refused on a single label (`*.com`). Public suffixes
//!   (`*.co.uk`, `*.github.io`) are **not** detected: never write a
//!   wildcard over a domain you do not control.
//! - [`link_parameter`](PortalLinkLayer::link_parameter) and
//!   [`in_site_parameter`](PortalLinkLayer::in_site_parameter) rename the
//!   query parameters (`crylk`, `pa_query`); one name for both is refused.
//! - [`max_length`](PortalLinkLayer::max_length): the longest link (512
//!   bytes).
//! - [`header`](PortalLinkLayer::header): also read the link from a request
//!   header.
//! - [`strip_link`](PortalLinkLayer::strip_link): whether the link leaves
//!   the request (yes by default).
//! - [`on_refused`](PortalLinkLayer::on_refused) ([`Forward`] or
//!   [`BadRequest`]) and [`refusal_response`](PortalLinkLayer::refusal_response):
//!   what a refused request gets.
//! - [`observe_refusals`](PortalLinkLayer::observe_refusals): a callback per
//!   refusal, for metrics.
//! - [`csp`](PortalLinkLayer::csp): a [`PortalCspLayer`] for the page that
//!   shows the portal ([`csp`] module).
//!
//! ```
//! use tower_portal_link::PortalLinkLayer;
//!
//! let layer = PortalLinkLayer::new()
//!     .allowed_origins(["https://mon-app.via.proabono.com", "https://mon-app.proabono.com"]);
//! assert!(layer
//!     .target_from_query("crylk=https%3a%2f%2fother-app.proabono.com%2fportal-anon")
//!     .is_err());
//! ```
//!
//! # Response headers
//!
//! The layer writes one header, `Referrer-Policy`, and the rule fits in one
//! sentence: **the application's `Referrer-Policy` is kept only when the
//! response carries exactly one such field and its whole value is, byte for
//! byte, `no-referrer`, `origin` or `strict-origin`; anything else becomes
//! one `no-referrer`.**
//!
//! "Anything else" includes no header, `same-origin`, `unsafe-url`, a list
//! (`no-referrer, x1`), another letter case, and several fields. Chromium
//! ignores a list it does not fully understand and falls back to a default
//! that sends the link to the page's own server: so the rule reads no list.
//!
//! The rule applies only to the response to a request whose URL carried a
//! link or an In-Site query: forwarded, refused, [`BadRequest`] or
//! [`refusal_response`](PortalLinkLayer::refusal_response). Other responses
//! are left as they are. [`PortalCspLayer`] has its own rule ([`csp`]
//! module).
//!
//! # The rules: the security model
//!
//! The query is read exactly as a form parser reads it
//! (`application/x-www-form-urlencoded`, like `url::form_urlencoded` and
//! every framework's `Query` extractor): parameter names are decoded too, so
//! `cryl%6B=` is the same parameter as `crylk=`, and the value is decoded
//! exactly once. A link is accepted only when every rule holds:
//!
//! 1. **Once.** The parameter appears once (and the request carries no
//!    `pa_query` beside it). Two or more are refused as
//!    [ambiguous](Refusal::Ambiguous): an attacker must not pick which one
//!    a downstream parser sees.
//! 2. **A valid URL string.** The decoded value is non-empty, valid UTF-8,
//!    made of WHATWG URL code points and `%XX` escapes only, with at most
//!    one `#`: no control character, whitespace, backslash, `` "<>[]^`{|} ``
//!    or lone `%`. Parsers strip, reinterpret or encode these differently
//!    (Chromium encodes `|` and `^` in a path, the `url` crate does not);
//!    refusing them leaves one reading of the link. It is at most the
//!    maximum length (512 bytes by default, [`max_length`](PortalLinkLayer::max_length)),
//!    each non-ASCII character counted as its percent-encoded form, and
//!    its path has at most 8 segments
//!    ([`TooManySegments`](Refusal::TooManySegments)): ProAbono's have
//!    two or three, and the URL parser's work grows with each.
//! 3. **`https://` or `http://`**, in any letter case, and an allowed origin
//!    has that scheme. Protocol-relative links, `https:/`, `https:evil.com`,
//!    `javascript:`, `data:` are refused.
//! 4. **A plain ASCII authority.** Up to the first `/`, `?` or `#`: letters,
//!    digits, `-` and `.` in non-empty labels of at most 63 bytes, 253 in
//!    all (DNS limits), and an optional `:port` of one to five digits. No
//!    `@`, no `%`, nothing non-ASCII: look-alike and encoded hosts are
//!    refused, not normalized.
//! 5. **An allowed host.** Some allowed origin has this host, exactly or,
//!    for a `*.` pattern, as a subdomain at a label boundary
//!    (`evilproabono.com` and `proabono.com.evil.com` are refused). The
//!    labels a wildcard matches are never punycode (`xn--`): list an
//!    internationalized host exactly. An IPv4 origin matches only a link
//!    that writes the same dotted decimal: `127.1` is not `127.0.0.1`.
//! 6. **An allowed port**: that origin's port (443 or 80 by default).
//! 7. **The browser's parser agrees.** The WHATWG parse ([`url`] crate) has
//!    the same scheme, host and port and no credentials, and its
//!    serialization is within the maximum. What handlers get is that
//!    serialization, never the raw input; browsers load it as it is.
//!
//! Each rule has its [`Refusal`] variant. An In-Site query is held to rules
//! 1 and 2's decoding and to its own alphabet ([`PortalQuery`]).
//!
//! # Secrets
//!
//! These links open a customer's billing data until the business revokes
//! them. So:
//!
//! - Before the inner service sees the request, the layer removes both
//!   parameters from its URI (other parameters keep their order and
//!   encoding), and the [header](PortalLinkLayer::header). With the `axum`
//!   feature, it removes them from axum's `OriginalUri` too.
//!   [`strip_link(false)`](PortalLinkLayer::strip_link) turns this off.
//! - It holds the response's `Referrer-Policy` to the rule above.
//! - [`frame_src`](PortalLinkLayer::frame_src) renders a `frame-src`
//!   directive that lets the page frame nothing else.
//! - [`PortalTarget`]'s `Debug` prints the scheme, host and port only.
//!   [`PortalQuery`]'s prints nothing of the token.
//! - A [`Refusal`] never carries any part of the link. Neither do the
//!   `tracing` event, the [observer](PortalLinkLayer::observe_refusals) and
//!   the [`BadRequest`] body. The arguments of a
//!   [custom refusal response](PortalLinkLayer::refusal_response) do not
//!   either, unless `strip_link(false)` leaves the link in their URI.
//!
//! # Cost
//!
//! A request without either parameter costs one pass over its query and no
//! allocation. A link is refused by its length (non-ASCII counted as
//! encoded) and by its number of path segments before it is parsed, and by
//! the DNS limits before the URL parser's IDNA, so punycode is never
//! decoded under a wildcard origin; a link over the maximum is decoded no
//! further than the maximum and one byte. Every link measured costs at
//! most 5 times ProAbono's own link. A query costs in proportion to its
//! length: about one instruction a byte of ordinary pairs, and at most 22
//! a byte (the worst row measured: `&%63rylk=x` repeated) for a query made
//! only of pairs named like `crylk` or `pa_query`, whatever their spelling.
//! Served by axum, the costliest such query measured takes a request 2.6
//! times as long as without the layer. Memory: nothing for a request
//! without a link; for one with it, buffers bounded by the maximum length
//! whatever the query's size, and at most 16 allocations.
//! `benches/README.md`, in the repository, has the figures and how to
//! measure them.
//!
//! # Cargo features
//!
//! - `axum`: [`PortalTarget`] and [`PortalQuery`] implement axum's
//!   `FromRequestParts` (a `400` rejection, [`PortalRejection`], when absent
//!   or refused) and `OptionalFromRequestParts` (`None`); and the link is
//!   removed from axum's `OriginalUri` too.
//! - `tracing`: one `DEBUG` event (target `tower_portal_link`) per refused
//!   link, carrying the reason and never the link. `DEBUG`, as tower-http's
//!   `TraceLayer` reports requests: refusals come from clients, and no
//!   client must be able to fill a service's logs at its default level.
//!   Count them with [`observe_refusals`](PortalLinkLayer::observe_refusals).
//! - `in-site`: [`InSite`] and `InlineScript::sha256`, with RustCrypto's
//!   `hmac` and `sha2`.
//! - `api`: the `api` module, a client for the customer's links from
//!   ProAbono's API Live, on tower, hyper-util, rustls (`aws-lc-rs`) and moka.
//!   Nothing in the layer's request path uses it.
//!
//! # Bounds
//!
//! [`PortalLink<S>`] is a `Service<http::Request<B>>` for every request body
//! `B` whenever the inner service answers an `http::Response<ResBody>`, for
//! any `ResBody`. With [`BadRequest`] it also needs `ResBody: From<String>`,
//! the body of the `400` it builds (axum's body, `String` and
//! http-body-util's `Full<Bytes>` are; tower-http's `TraceLayer` body is
//! not); with
//! [`refusal_response`](PortalLinkLayer::refusal_response) your closure
//! builds the response, so it needs nothing. It is `Clone` when `S` is,
//! and its future is `Send` when `S::Future` is.
//!
//! The extensions, [`PortalTarget`], [`PortalQuery`] and [`Refusal`], are
//! `Clone + Send + Sync + 'static`, as `http::Extensions::insert`, axum's
//! `Extension` and `warp::ext` require.
//!
//! [tower]: https://docs.rs/tower
//! [ProAbono]: https://www.proabono.com

#![cfg_attr(docsrs, feature(doc_cfg))]
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![warn(missing_debug_implementations, rust_2018_idioms, unreachable_pub)]

#[cfg(feature = "api")]
#[cfg_attr(docsrs, doc(cfg(feature = "api")))]
pub mod api;
pub mod csp;
mod future;
mod layer;
mod on_refused;
mod origin;
mod parameter;
mod policy;
mod portal_query;
mod query;
mod referrer_policy;
mod refusal;
mod scan;
mod service;
mod target;
mod validate;

#[cfg(feature = "axum")]
mod axum;
#[cfg(feature = "in-site")]
mod in_site;

// `csp` is a public module too: without `inline`, rustdoc would list these
// under "Re-exports" only, not with the crate's other types.
#[doc(inline)]
pub use crate::csp::{InlineScript, InvalidCspSource, InvalidCspSourceKind, PortalCspLayer};
pub use crate::future::ResponseFuture;
pub use crate::layer::PortalLinkLayer;
pub use crate::on_refused::{BadRequest, Forward, OnRefused, RespondWith};
pub use crate::origin::{InvalidOrigin, InvalidOriginKind, OriginPattern};
pub use crate::parameter::{InvalidParameter, InvalidParameterKind};
pub use crate::portal_query::PortalQuery;
pub use crate::refusal::Refusal;
pub use crate::service::PortalLink;
pub use crate::target::PortalTarget;

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub use crate::axum::PortalRejection;
#[cfg(feature = "in-site")]
#[cfg_attr(docsrs, doc(cfg(feature = "in-site")))]
pub use crate::in_site::{InSite, InSiteError, PortalOpen};

use crate::policy::Policy;

/// The README's examples, run as doctests.
#[cfg(all(doctest, feature = "axum", feature = "api"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// The verdict of [`PortalLinkLayer::new`]'s policy for a raw query string
/// (the part of the URI after `?`, still encoded), for code outside tower.
///
/// `Ok(Some(target))` for a valid link; `Err(refusal)` whenever the layer
/// would insert a [`Refusal`]: a refused link, a refused `pa_query`, or both
/// parameters at once; `Ok(None)` otherwise (no link, or only a valid
/// `pa_query`, which [`PortalQuery::parse`] reads). For another policy, use
/// [`PortalLinkLayer::target_from_query`].
///
/// ```
/// let target = tower_portal_link::target_from_query(
///     "crylk=https%3a%2f%2fmon-app.via.proabono.com%2fsubscribe-offer%2f0p9i35O1V9_JJRfC0nIeE96ot9e1LcN349",
/// )
/// .unwrap()
/// .unwrap();
/// assert_eq!(target.host(), "mon-app.via.proabono.com");
/// ```
pub fn target_from_query(query: &str) -> Result<Option<PortalTarget>, Refusal> {
    Policy::PROABONO.target_from_query(query)
}

/// Validates an already decoded link with [`PortalLinkLayer::new`]'s policy
/// (rules 2 to 7). For another policy, use
/// [`PortalLinkLayer::validate_link`].
///
/// ```
/// use tower_portal_link::{validate_link, Refusal};
///
/// assert!(validate_link("https://demo-eur.proabono.com/portal-anon").is_ok());
/// assert_eq!(validate_link("https://evilproabono.com/"), Err(Refusal::HostNotAllowed));
/// ```
pub fn validate_link(link: &str) -> Result<PortalTarget, Refusal> {
    Policy::PROABONO.validate_decoded(link)
}
