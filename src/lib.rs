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
//! # Integrations
//!
//! One `.layer(...)` wherever tower runs, and handlers read the extensions.
//! Each framework below has a runnable example in the repository's
//! `examples/` and tests in `tests/` that send real requests through it.
//!
//! ## axum 0.8
//!
//! With the `axum` feature, handlers take [`PortalTarget`] (a `400` when the
//! link is absent or refused) or `Option<PortalTarget>`; the [`Refusal`] is
//! `Option<axum::Extension<Refusal>>`. `examples/subscriptions.rs` is a
//! whole page.
//!
//! ```rust
//! # #[cfg(feature = "axum")] {
//! use axum::{routing::get, Router};
//! use tower_portal_link::{PortalLinkLayer, PortalTarget};
//!
//! async fn subscriptions(target: Option<PortalTarget>) -> String {
//!     // `None`: no link, or a refused one. Fall back to `hosted-home`.
//!     target.map_or_else(|| "hosted-home".to_owned(), |t| t.to_string())
//! }
//!
//! let app: Router = Router::new()
//!     .route("/Subscriptions", get(subscriptions))
//!     .layer(PortalLinkLayer::new());
//! # }
//! ```
//!
//! ## hyper 1 and `tower::ServiceBuilder`
//!
//! No framework: the layer in a `ServiceBuilder` in front of a `service_fn`,
//! served with `hyper-util` (`examples/hyper.rs`).
//!
//! ```rust,no_run
//! use std::convert::Infallible;
//!
//! use http::{Request, Response};
//! use http_body_util::Full;
//! use hyper::body::{Bytes, Incoming};
//! use hyper_util::rt::TokioIo;
//! use hyper_util::service::TowerToHyperService;
//! use tower::ServiceBuilder;
//! use tower_portal_link::{PortalLinkLayer, PortalTarget};
//!
//! async fn page(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
//!     let target = req.extensions().get::<PortalTarget>();
//!     let src = target.map_or("hosted-home", PortalTarget::as_str);
//!     Ok(Response::new(Full::from(src.to_owned())))
//! }
//!
//! # #[tokio::main]
//! # async fn main() -> std::io::Result<()> {
//! let service = ServiceBuilder::new()
//!     .layer(PortalLinkLayer::new())
//!     .service_fn(page);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! loop {
//!     let (stream, _) = listener.accept().await?;
//!     let service = TowerToHyperService::new(service.clone());
//!     tokio::spawn(
//!         hyper::server::conn::http1::Builder::new()
//!             .serve_connection(TokioIo::new(stream), service),
//!     );
//! }
//! # }
//! ```
//!
//! ## tower-http stacks
//!
//! Put `PortalLinkLayer` **outermost**, before `TraceLayer`,
//! `SetRequestIdLayer`, `CompressionLayer`, `TimeoutLayer` and the rest: it
//! strips the link before anything else sees the request, so `TraceLayer`'s
//! default span, which records the whole URI, never holds it. Placed next to
//! the handler instead, it works the same, but every layer outside it sees
//! the link: give `TraceLayer` a span that records the path only
//! (`make_span_with`), and keep the query out of anything else that logs.
//! `tests/tower_http_stack.rs` checks both orders.
//!
//! ```rust
//! use std::time::Duration;
//!
//! use http::{Request, Response, StatusCode};
//! use tower::ServiceBuilder;
//! use tower_http::compression::CompressionLayer;
//! use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
//! use tower_http::timeout::TimeoutLayer;
//! use tower_http::trace::TraceLayer;
//! use tower_portal_link::{PortalLinkLayer, PortalTarget};
//!
//! let service = ServiceBuilder::new()
//!     .layer(PortalLinkLayer::new())
//!     .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
//!     .layer(TraceLayer::new_for_http())
//!     .layer(PropagateRequestIdLayer::x_request_id())
//!     .layer(CompressionLayer::new())
//!     .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, Duration::from_secs(10)))
//!     .service_fn(|req: Request<String>| async move {
//!         let target = req.extensions().get::<PortalTarget>();
//!         let src = target.map_or("hosted-home", PortalTarget::as_str).to_owned();
//!         Ok::<_, std::convert::Infallible>(Response::new(src))
//!     });
//! # let _ = service;
//! ```
//!
//! ## tonic 0.14 and tonic-web
//!
//! gRPC and gRPC-web clients post to `/package.Service/Method` and rarely
//! carry a query string, so let the layer read the link from a request header
//! as well ([`header`](PortalLinkLayer::header)), holding the `crylk` value as
//! it stands in the page's URL. Add the layer to the `Server` before
//! `GrpcWebLayer`, so it sees the request as the client sent it; the handler
//! reads the extensions of its `tonic::Request`. `examples/tonic_web.rs` is a
//! whole service, with a hand-written codec instead of `protoc`.
//!
//! ```rust,no_run
//! use http::HeaderName;
//! use tonic::transport::Server;
//! use tonic::{Request, Response, Status};
//! use tonic_web::GrpcWebLayer;
//! use tower_portal_link::{PortalLinkLayer, PortalTarget, Refusal};
//!
//! // The body of a method of the trait `tonic-build` generates.
//! async fn get_link(request: Request<()>) -> Result<Response<String>, Status> {
//!     let ext = request.extensions();
//!     match (ext.get::<PortalTarget>(), ext.get::<Refusal>()) {
//!         (Some(target), _) => Ok(Response::new(target.to_string())),
//!         // The reason, never the link.
//!         (None, Some(refusal)) => Err(Status::invalid_argument(refusal.code())),
//!         (None, None) => Err(Status::not_found("no portal link")),
//!     }
//! }
//!
//! # async fn serve<S>(portal_server: S) -> Result<(), Box<dyn std::error::Error>>
//! # where
//! #     S: tower::Service<
//! #             http::Request<tonic::body::Body>,
//! #             Response = http::Response<tonic::body::Body>,
//! #             Error = std::convert::Infallible,
//! #         > + tonic::server::NamedService
//! #         + Clone
//! #         + Send
//! #         + Sync
//! #         + 'static,
//! #     S::Future: Send + 'static,
//! # {
//! Server::builder()
//!     .accept_http1(true)
//!     .layer(PortalLinkLayer::new().header(HeaderName::from_static("x-portal-link")))
//!     .layer(GrpcWebLayer::new())
//!     .add_service(portal_server) // `PortalServer::new(MyPortal)`, generated
//!     .serve("127.0.0.1:3000".parse()?)
//!     .await?;
//! # Ok(())
//! # }
//! ```
//!
//! Keep the default [`Forward`] mode here: [`BadRequest`]'s bare `400` is not a
//! gRPC answer (clients read it as `INTERNAL`), whereas the handler can answer
//! a `Status` that says what happened. A browser page on another origin also
//! needs CORS that allows the header.
//!
//! ## warp 0.4
//!
//! `warp::serve` only takes filters, so turn the filter tree into a service
//! with `warp::service`, put it behind the layer in a `ServiceBuilder`, and
//! serve that with `hyper-util` as above (`examples/warp.rs`). Filters read
//! the extensions with `warp::ext::get` and `warp::ext::optional`.
//! `ext::get` rejects when the extension is absent, and warp turns that
//! rejection into a `500` unless another route answers: pair it with a
//! fallback route, or use `ext::optional`.
//!
//! ```rust
//! use http_body_util::{BodyExt, Full};
//! use hyper::body::Bytes;
//! use tower::{ServiceBuilder, ServiceExt};
//! use tower_portal_link::{PortalLinkLayer, PortalTarget, Refusal};
//! use warp::Filter;
//!
//! let page = warp::path!("Subscriptions").and(warp::get());
//! let accepted = page
//!     .and(warp::ext::get::<PortalTarget>())
//!     .map(|target: PortalTarget| format!("portal: {target}"));
//! let fallback = page
//!     .and(warp::ext::optional::<Refusal>())
//!     .map(|refusal: Option<Refusal>| match refusal {
//!         Some(refusal) => format!("fallback: {}", refusal.code()),
//!         None => "fallback: no link".to_owned(),
//!     });
//! let service = ServiceBuilder::new()
//!     .layer(PortalLinkLayer::new())
//!     .service(warp::service(accepted.or(fallback)));
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let req = http::Request::get("/Subscriptions?crylk=https%3a%2f%2fevilproabono.com%2f")
//!     .body(Full::<Bytes>::default())
//!     .unwrap();
//! let res = service.oneshot(req).await.unwrap();
//! let body = res.into_body().collect().await.unwrap().to_bytes();
//! assert_eq!(body, "fallback: host_not_allowed");
//! # });
//! ```
//!
//! ## Outside tower
//!
//! Frameworks with their own middleware (actix-web, rocket, poem) get the
//! same verdict from [`target_from_query`], or from
//! [`PortalLinkLayer::target_from_query`] for a configured policy, given the
//! raw query string. Only the verdict: removing the link from what the
//! framework logs and sending `Referrer-Policy: no-referrer` are then the
//! application's to do. An actix-web handler, compiled here against
//! stand-ins for actix-web's types:
//!
//! ```rust
//! # mod actix_web {
//! #     pub struct HttpRequest(pub &'static str);
//! #     impl HttpRequest {
//! #         pub fn query_string(&self) -> &str { self.0 }
//! #     }
//! #     pub struct HttpResponse(pub String);
//! #     pub struct HttpResponseBuilder;
//! #     impl HttpResponse {
//! #         #[allow(non_snake_case)]
//! #         pub fn Ok() -> HttpResponseBuilder { HttpResponseBuilder }
//! #     }
//! #     impl HttpResponseBuilder {
//! #         pub fn insert_header(&mut self, _: (&str, &str)) -> &mut Self { self }
//! #         pub fn body(&mut self, body: String) -> HttpResponse { HttpResponse(body) }
//! #     }
//! # }
//! use actix_web::{HttpRequest, HttpResponse};
//! use tower_portal_link::target_from_query;
//!
//! async fn subscriptions(req: HttpRequest) -> HttpResponse {
//!     let src = match target_from_query(req.query_string()) {
//!         Ok(Some(target)) => target.to_string(),
//!         // Log `refusal.code()` if you like; never the link.
//!         Ok(None) | Err(_) => "https://demo-eur.proabono.com/portal-anon".to_owned(),
//!     };
//!     HttpResponse::Ok()
//!         .insert_header(("Referrer-Policy", "no-referrer"))
//!         .body(src)
//! }
//! # let req = HttpRequest(
//! #     "crylk=https%3a%2f%2fmon-app.via.proabono.com%2fsubscribe-offer%2f0p9i35O1V9_JJRfC0nIeE96ot9e1LcN349",
//! # );
//! # let res = tokio::runtime::Builder::new_current_thread()
//! #     .build()
//! #     .unwrap()
//! #     .block_on(subscriptions(req));
//! # assert_eq!(res.0, "https://mon-app.via.proabono.com/subscribe-offer/0p9i35O1V9_JJRfC0nIeE96ot9e1LcN349");
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
//! length of the query and allocates nothing for a request without the
//! parameter; for one with it, the link's length is checked before it is
//! decoded, so what it can allocate is bounded by the maximum length, not by
//! the query's.
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
//!   rejection, [`PortalRejection`], when absent or refused) and
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
//! body of the `400` it builds: axum's, tonic's and warp's bodies are, and
//! so are `http-body-util`'s `Full` and `Empty`; tower-http's `TraceLayer`
//! body is not. So in [`BadRequest`] mode the layer cannot wrap a
//! `TraceLayer` directly: keep the default [`Forward`] when the layer sits
//! outermost (where it belongs, see [tower-http stacks](#tower-http-stacks)),
//! or use [`BadRequest`] inside `TraceLayer`, next to the handler. It is
//! `Clone` when `S` is, and its future is `Send` when `S::Future` is.
//!
//! The extensions, [`PortalTarget`] and [`Refusal`], are
//! `Clone + Send + Sync + 'static`, as `http::Extensions::insert`, axum's
//! `Extension` and `warp::ext` require of anything they hold; a type of your
//! own that you derive from them and insert must be too.
//!
//! The layer hands the request body on untouched and adds no bound on it,
//! but warp does: `warp::service` needs a request body that is
//! `Send + Sync`. hyper's `Incoming` is, so serve a warp service with
//! hyper, as in [warp 0.4](#warp-04). axum's and tonic's bodies are not, so
//! a warp service cannot sit under an axum `Router` or a tonic `Server`, nor
//! behind a layer that boxes the request body into one of those.
//!
//! [tower]: https://docs.rs/tower
//! [ProAbono]: https://www.proabono.com

#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![warn(missing_debug_implementations, rust_2018_idioms, unreachable_pub)]

pub mod csp;
mod future;
mod layer;
mod on_refused;
mod origin;
mod policy;
mod portal_query;
mod query;
mod refusal;
mod scan;
mod service;
mod target;
mod validate;

#[cfg(feature = "axum")]
mod axum;
#[cfg(feature = "in-site")]
mod in_site;

pub use crate::csp::{InlineScript, PortalCspLayer};
pub use crate::future::ResponseFuture;
pub use crate::layer::PortalLinkLayer;
pub use crate::on_refused::{BadRequest, Forward, OnRefused, RespondWith};
pub use crate::origin::{InvalidOrigin, InvalidOriginKind, OriginPattern};
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
