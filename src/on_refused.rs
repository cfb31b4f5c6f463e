//! What happens to a request whose link is present but refused.
//!
//! A type, not a flag: answering `400` needs a response body to build
//! (`ResBody: Default`), and many body types (tower-http's `TraceLayer`
//! body, for one) have none. With the mode in the type, only
//! [`BadRequest`] asks for that bound, and the default [`Forward`] wraps any
//! service.

/// How [`PortalLink`](crate::PortalLink) treats a refused link: [`Forward`]
/// (the default) or [`BadRequest`]. Chosen with
/// [`PortalLinkLayer::on_refused`](crate::PortalLinkLayer::on_refused).
///
/// Sealed: the layer's security guarantees rely on these two behaviours.
pub trait OnRefused: Clone + Send + Sync + 'static + private::Sealed {}

/// Call the inner service anyway, with the [`Refusal`](crate::Refusal) as a
/// request extension and no [`PortalTarget`](crate::PortalTarget), so the
/// page falls back to its `hosted-home` link as ProAbono's guide says. The
/// default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Forward;

/// Answer `400 Bad Request` with an empty body, without calling the inner
/// service. The [`Refusal`](crate::Refusal) is set as an extension of that
/// response, for outer layers that log. Needs a response body type that
/// implements `Default`: axum's, tonic's and warp's do, and so do
/// http-body-util's `Full` and `Empty`; tower-http's `TraceLayer` body does
/// not: around a `TraceLayer`, use [`Forward`] (and let handlers answer
/// `400`, as axum's `PortalTarget` extractor does), or put `BadRequest`
/// inside it with a span that records the path only, not the query.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct BadRequest;

impl OnRefused for Forward {}
impl OnRefused for BadRequest {}

mod private {
    pub trait Sealed {}
    impl Sealed for super::Forward {}
    impl Sealed for super::BadRequest {}
}
