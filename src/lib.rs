//! A [tower] layer that validates [ProAbono] integrated-portal links and
//! hands handlers a typed, canonical [`PortalTarget`].
//!
//! Once a business sets "URL of the integrated portal" in ProAbono's back
//! office, every link in ProAbono's e-mails (invoices, expiring cards, failed
//! payments, direct-debit notices) points at the business's own page and
//! carries the real destination, percent-encoded, in the `crylk` query
//! parameter:
//!
//! ```text
//! https://mon-app.com/Subscriptions?crylk=https%3a%2f%2fmon-app.via.proabono.com%2fsubscribe-offer%2f0p9i35O1V9_JJRfC0nIeE96ot9e1LcN349
//! ```
//!
//! The page must decode `crylk` once, make sure it really is a ProAbono link,
//! and use it as the `src` of the portal iframe, falling back to the
//! `hosted-home` link of ProAbono's Customer object otherwise. Get the check
//! wrong and anyone can make the page frame their own site: ProAbono's own
//! advice ("the domain ends with proabono.com") lets `evilproabono.com`
//! through.
//!
//! [`PortalLinkLayer`] does it once, in front of any
//! `Service<http::Request<B>>`: it finds the parameter, validates it, and
//! inserts a [`PortalTarget`] request extension (or, for a link that is
//! present but refused, a [`Refusal`]). Requests without the parameter go
//! through untouched, in one pass over the query and without allocating.
//!
//! # Example
//!
//! ```
//! use http::{Request, Response};
//! use std::convert::Infallible;
//! use tower::{service_fn, ServiceBuilder, ServiceExt};
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
//! Outside tower (actix-web, rocket, poem, a CGI script), the same verdict
//! comes from [`target_from_query`], given the raw query string:
//!
//! ```
//! use tower_portal_link::{target_from_query, Refusal};
//!
//! let verdict = target_from_query("crylk=https%3A%2F%2Fevil.com%5C.proabono.com%2F");
//! assert_eq!(verdict, Err(Refusal::ForbiddenCharacter));
//! assert_eq!(target_from_query("page=2"), Ok(None));
//! ```
//!
//! # The rules: the security model
//!
//! The query is read exactly as a form parser reads it
//! (`application/x-www-form-urlencoded`, like `url::form_urlencoded` and
//! every framework's `Query` extractor): parameter names are decoded too, so
//! `cryl%6B=` is the same parameter as `crylk=`, and the value is decoded
//! exactly once. A link is accepted only when every rule holds:
//!
//! 1. The parameter appears exactly once. Two or more are refused as
//!    [ambiguous](Refusal::Ambiguous): an attacker must not pick which one a
//!    downstream parser sees.
//! 2. The decoded value is non-empty, valid UTF-8, no longer than the
//!    maximum (2048 bytes by default), and contains no control character, no
//!    whitespace and no backslash anywhere. WHATWG parsers strip or
//!    reinterpret these; refusing them removes the parser differentials.
//! 3. It starts with `https://` in any letter case (or `http://`, when
//!    [allowed](PortalLinkLayer::allow_http)). Protocol-relative links,
//!    `https:/`, `https:evil.com`, `javascript:`, `data:` are refused.
//! 4. The authority (up to the first `/`, `?` or `#`) is plain ASCII:
//!    letters, digits, `-`, `.` and an optional `:port`. No `@`, no `%`, no
//!    brackets, nothing non-ASCII: look-alike and encoded hosts are refused,
//!    not normalized.
//! 5. The host has no empty label and no trailing dot, and, ignoring ASCII
//!    case, equals an allowed domain or ends with `.` and an allowed domain
//!    (so `evilproabono.com` and `proabono.com.evil.com` are refused), or
//!    equals an allowed exact host.
//! 6. The port is absent, the scheme's default, or
//!    [allowed](PortalLinkLayer::allow_port).
//! 7. The WHATWG parse ([`url`] crate) agrees: the same scheme, a domain
//!    host equal to the one checked in rule 5, the same port, no username or
//!    password. The link handed on is that parse's serialization, never the
//!    raw input.
//!
//! Each rule has its [`Refusal`] variant. Checking costs time linear in the
//! length of the query, allocates nothing for a request without the
//! parameter, and allocates nothing larger than the maximum length for one
//! with it.
//!
//! # Secrets
//!
//! These links open a customer's billing data until the business revokes
//! them. By default the layer removes the link from the request's URI (and
//! header) before the inner service sees it, so logs and traces downstream
//! never record it ([`strip_from_uri`](PortalLinkLayer::strip_from_uri));
//! it adds `Referrer-Policy: no-referrer` to the response of a request whose
//! URL carried it, unless the application set a policy; and
//! [`frame_src`](PortalLinkLayer::frame_src) renders the
//! `Content-Security-Policy` directive that lets the page frame nothing
//! else. [`PortalTarget`]'s `Debug` prints the scheme and host only,
//! [`Refusal`] never carries any part of the link, and the `tracing` event
//! for a refused link carries the reason alone.
//!
//! # Cargo features
//!
//! - `axum`: [`PortalTarget`] implements axum's `FromRequestParts` (a `400`
//!   rejection, [`PortalTargetRejection`], when absent or refused) and
//!   `OptionalFromRequestParts` (`None` when absent or refused), so axum 0.8
//!   handlers take `PortalTarget` or `Option<PortalTarget>`.
//! - `tracing`: one `WARN` event (target `tower_portal_link`) per refused
//!   link, carrying the reason and never the link.
//!
//! # Bounds
//!
//! [`PortalLink<S>`] is a `Service<http::Request<B>>` for every request body
//! `B` whenever the inner service answers an `http::Response<ResBody>`, for
//! any `ResBody`. With [`BadRequest`] it also needs `ResBody: Default`, the
//! body of the `400` it builds (axum's, tonic's, warp's and hyper's
//! `Full`/`Empty` bodies are; tower-http's `TraceLayer` body is not, so put
//! `PortalLinkLayer` outside `TraceLayer`, which is where it belongs anyway:
//! then the trace never sees the link). It is `Clone` when `S` is, and its
//! future is `Send` when `S::Future` is.
//!
//! [tower]: https://docs.rs/tower
//! [ProAbono]: https://www.proabono.com

#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![warn(missing_debug_implementations, rust_2018_idioms, unreachable_pub)]

mod future;
mod layer;
mod on_refused;
mod policy;
mod query;
mod refusal;
mod service;
mod target;
mod validate;

#[cfg(feature = "axum")]
mod axum;

pub use crate::future::ResponseFuture;
pub use crate::layer::PortalLinkLayer;
pub use crate::on_refused::{BadRequest, Forward, OnRefused};
pub use crate::refusal::Refusal;
pub use crate::service::PortalLink;
pub use crate::target::PortalTarget;

#[cfg(feature = "axum")]
pub use crate::axum::PortalTargetRejection;

use crate::policy::Policy;

/// The README's examples, run as doctests.
#[cfg(all(doctest, feature = "axum"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// The verdict of [`PortalLinkLayer::new`]'s policy for a raw query string
/// (the part of the URI after `?`, still encoded), for code outside tower.
///
/// `Ok(None)` when `crylk` is absent, `Ok(Some(target))` for a valid link,
/// `Err(refusal)` for one that is present but refused: exactly what the
/// layer inserts as a request extension. For another policy, use
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
