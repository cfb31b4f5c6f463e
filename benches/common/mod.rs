//! What the benchmarks and the allocation test share: the requests, the
//! inner service, and the hand-written recipe the layer is compared with.
#![allow(dead_code)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use axum::extract::Query;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Request, Response};
use tower::{Layer, Service};
use tower_portal_link::{PortalLink, PortalLinkLayer};
use url::Url;

/// The `crylk` value of ProAbono's guide, as it stands in the query.
pub const GUIDE_CRYLK: &str =
    "https%3a%2f%2fmon-app.via.proabono.com%2fsubscribe-offer%2f0p9i35O1V9_JJRfC0nIeE96ot9e1LcN349";

/// A query with the usual campaign parameters and no link.
pub const TYPICAL: &str =
    "utm_source=newsletter&utm_medium=email&utm_campaign=2026-11&ref=abc123&lang=fr";

/// A query with escapes (and escaped names) and no link: the scanner must
/// look into `%63...` names, since one might decode to `crylk`.
pub const ESCAPED: &str =
    "q=%C3%A9t%C3%A9+2026&name=Fran%C3%A7ois+Dupont&%63ountry=FR&redirect=%2Fhome%3Ftab%3D1&lang=fr";

/// The guide's link moved to a foreign host.
pub const HOSTILE_FOREIGN: &str =
    "https%3a%2f%2fevil.example%2fsubscribe-offer%2f0p9i35O1V9_JJRfC0nIeE96ot9e1LcN349";

/// The guide's link moved to a host that only ends with `proabono.com`.
pub const HOSTILE_LOOKALIKE: &str =
    "https%3a%2f%2fevilproabono.com%2fsubscribe-offer%2f0p9i35O1V9_JJRfC0nIeE96ot9e1LcN349";

/// One repeated pair: a short valid link, so that 1,024 of them still fit
/// in a URI (the `http` crate refuses URIs of 64 KiB and more).
pub const REPEATED_PAIR: &str = "crylk=https%3a%2f%2fa.proabono.com%2fx";

pub const PATH: &str = "/Subscriptions";

/// One request of the comparison: `name` as the benchmarks print it.
pub struct Case {
    pub name: &'static str,
    pub uri: String,
}

/// The requests of the side-by-side comparison, in the README's order.
pub fn cases() -> Vec<Case> {
    let case = |name, query: &str| Case {
        name,
        uri: if query.is_empty() {
            PATH.to_owned()
        } else {
            format!("{PATH}?{query}")
        },
    };
    vec![
        case("no_query", ""),
        case("typical", TYPICAL),
        case("escaped", ESCAPED),
        // ProAbono's guide, as its e-mails send it.
        case("valid_link", &format!("crylk={GUIDE_CRYLK}")),
        // A foreign host: the recipe refuses it too.
        case("hostile_foreign", &format!("crylk={HOSTILE_FOREIGN}")),
        // The README's look-alike: the recipe accepts it, the layer does not.
        case("hostile_lookalike", &format!("crylk={HOSTILE_LOOKALIKE}")),
        case("large_8k", &long_query(8 * 1024)),
        case("repeated_1000", &repeated_query(1000)),
    ]
}

/// Exactly `bytes` of typical parameters, no link.
pub fn long_query(bytes: usize) -> String {
    let mut query = String::with_capacity(bytes + TYPICAL.len() + 1);
    while query.len() < bytes {
        if !query.is_empty() {
            query.push('&');
        }
        query.push_str(TYPICAL);
    }
    query.truncate(bytes);
    query
}

/// `count` copies of one `crylk=` pair, as a client that wants two parsers
/// to disagree would send.
pub fn repeated_query(count: usize) -> String {
    vec![REPEATED_PAIR; count].join("&")
}

pub fn request(uri: &str) -> Request<()> {
    Request::get(uri).body(()).expect("benchmark URI")
}

/// The inner service: an empty page with the `Content-Type` every page sends
/// (so the response's header map exists before the layer adds
/// `Referrer-Policy` to it, as in a real application).
#[derive(Clone, Copy, Debug, Default)]
pub struct Bare;

impl Service<Request<()>> for Bare {
    type Response = Response<()>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Response<()>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<()>) -> Self::Future {
        let mut response = Response::new(());
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        std::future::ready(Ok(response))
    }
}

/// What the recipe hands its handlers.
#[derive(Clone, Debug)]
pub struct NaiveTarget(pub Url);

/// What users write by hand today: axum's `Query<HashMap<String, String>>`
/// parse of the whole query, `Url::parse`, ProAbono's "ends with
/// proabono.com" advice, and the extension.
#[derive(Clone, Copy, Debug, Default)]
pub struct NaiveLayer;

impl<S> Layer<S> for NaiveLayer {
    type Service = Naive<S>;

    fn layer(&self, inner: S) -> Naive<S> {
        Naive { inner }
    }
}

#[derive(Clone, Debug)]
pub struct Naive<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for Naive<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> S::Future {
        if let Ok(Query(params)) = Query::<HashMap<String, String>>::try_from_uri(req.uri()) {
            if let Some(link) = params.get("crylk") {
                if let Ok(url) = Url::parse(link) {
                    if url.host_str().is_some_and(|h| h.ends_with("proabono.com")) {
                        req.extensions_mut().insert(NaiveTarget(url));
                    }
                }
            }
        }
        self.inner.call(req)
    }
}

/// The inner service alone.
pub fn bare() -> Bare {
    Bare
}

/// The hand-written recipe over [`Bare`].
pub fn naive() -> Naive<Bare> {
    NaiveLayer.layer(Bare)
}

/// `PortalLinkLayer::new()` over [`Bare`].
pub fn layer() -> PortalLink<Bare> {
    PortalLinkLayer::new().layer(Bare)
}

/// `PortalLinkLayer::new().strip_link(false)` over [`Bare`].
pub fn layer_nostrip() -> PortalLink<Bare> {
    PortalLinkLayer::new().strip_link(false).layer(Bare)
}

/// The services compared, each over [`Bare`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    Bare,
    Naive,
    /// `PortalLinkLayer::new()`: the default, which strips the link from the URI.
    Layer,
    /// `PortalLinkLayer::new().strip_link(false)`.
    LayerNoStrip,
}

impl Variant {
    pub const ALL: [Variant; 4] = [
        Variant::Bare,
        Variant::Naive,
        Variant::Layer,
        Variant::LayerNoStrip,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Variant::Bare => "bare",
            Variant::Naive => "naive",
            Variant::Layer => "layer",
            Variant::LayerNoStrip => "layer_nostrip",
        }
    }

    pub fn service(self) -> AnyService {
        match self {
            Variant::Bare => AnyService::Bare(bare()),
            Variant::Naive => AnyService::Naive(naive()),
            Variant::Layer => AnyService::Layer(layer()),
            Variant::LayerNoStrip => AnyService::Layer(layer_nostrip()),
        }
    }
}

/// One of the compared services, for code that picks one at run time (the
/// allocation counts); the benchmarks call each service's own type, so that
/// no dispatch code is measured.
#[derive(Clone, Debug)]
pub enum AnyService {
    Bare(Bare),
    Naive(Naive<Bare>),
    Layer(PortalLink<Bare>),
}

impl AnyService {
    /// Calls the service and polls its future to completion, as a server
    /// would for one request.
    #[inline(always)]
    pub fn run(&mut self, req: Request<()>) -> Response<()> {
        match self {
            AnyService::Bare(s) => run(s, req),
            AnyService::Naive(s) => run(s, req),
            AnyService::Layer(s) => run(s, req),
        }
    }
}

/// `poll_ready`, `call` and one poll: every service here is ready at once
/// and answers without waiting.
#[inline(always)]
pub fn run<S>(svc: &mut S, req: Request<()>) -> Response<()>
where
    S: Service<Request<()>, Response = Response<()>, Error = Infallible>,
{
    let mut cx = Context::from_waker(Waker::noop());
    match svc.poll_ready(&mut cx) {
        Poll::Ready(Ok(())) => {}
        _ => unreachable!("always ready"),
    }
    let fut = pin!(svc.call(req));
    match fut.poll(&mut cx) {
        Poll::Ready(Ok(response)) => response,
        _ => unreachable!("answers at once"),
    }
}
