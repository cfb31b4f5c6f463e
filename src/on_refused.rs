//! What happens to a request whose link or query is present but refused.
//!
//! A type, not a flag: answering `400` needs a response body to build
//! (`ResBody: From<String>`), and many body types (tower-http's
//! `TraceLayer` body, for one) cannot be built from one. With the mode in the type, only
//! [`BadRequest`] asks for that bound, [`RespondWith`] builds the response
//! itself, and the default [`Forward`] wraps any service.

use std::fmt;

use http::header::CONTENT_TYPE;
use http::request::Parts;
use http::{HeaderValue, Request, Response, StatusCode};

use crate::Refusal;

/// How [`PortalLink`](crate::PortalLink) treats a refused link or query:
/// [`Forward`] (the default), [`BadRequest`] or [`RespondWith`]. Chosen
/// with [`PortalLinkLayer::on_refused`](crate::PortalLinkLayer::on_refused)
/// or [`PortalLinkLayer::refusal_response`](crate::PortalLinkLayer::refusal_response).
///
/// Sealed: whatever the mode, a refused link is never handed on, and the
/// modes are the only places that could break that.
pub trait OnRefused<ResBody>: Clone + private::Sealed {
    /// The response to send instead of calling the inner service, or the
    /// request back to forward it.
    // The request comes back whole on the forward path: boxing it would
    // allocate for every refused request.
    #[allow(clippy::result_large_err)]
    #[doc(hidden)]
    fn respond<B>(
        &self,
        refusal: Refusal,
        req: Request<B>,
    ) -> Result<Response<ResBody>, Request<B>>;
}

/// Call the inner service anyway, with the [`Refusal`] as a request
/// extension and neither [`PortalTarget`](crate::PortalTarget) nor
/// [`PortalQuery`](crate::PortalQuery), so the page falls back to its
/// `hosted-home` link as ProAbono's guide says. The default.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Forward;

/// Answer `400 Bad Request` without calling the inner service, with a
/// `text/plain; charset=utf-8` body that says why and never holds the link
/// (`refused portal link: ` and the [`Refusal`]'s message): the very
/// response the axum extractors' rejection gives. The [`Refusal`] is set
/// as an extension of that response, for outer layers that log.
///
/// Needs a response body type that implements `From<String>`: axum's does,
/// and so do `String` and http-body-util's `Full<Bytes>`; tower-http's
/// `TraceLayer` body does not: around a `TraceLayer`, use [`Forward`] or
/// [`RespondWith`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct BadRequest;

/// Answer with the response a closure builds from the [`Refusal`] and the
/// request's parts, without calling the inner service; set with
/// [`PortalLinkLayer::refusal_response`](crate::PortalLinkLayer::refusal_response).
///
/// The parts are those the inner service would have seen: the link is
/// already gone from the URI, unless
/// [`strip_link(false)`](crate::PortalLinkLayer::strip_link) keeps it
/// there, and then the closure must not echo or log the URI. No bound on
/// the response body type: the closure builds it. Whatever `Referrer-Policy`
/// it sets, the layer applies its rule to it
/// ([`PortalLink`](crate::PortalLink)).
#[derive(Clone, Copy)]
pub struct RespondWith<F>(pub(crate) F);

impl<F> fmt::Debug for RespondWith<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RespondWith").finish_non_exhaustive()
    }
}

impl<ResBody> OnRefused<ResBody> for Forward {
    #[inline]
    #[allow(clippy::result_large_err)]
    fn respond<B>(&self, _: Refusal, req: Request<B>) -> Result<Response<ResBody>, Request<B>> {
        Err(req)
    }
}

impl<ResBody: From<String>> OnRefused<ResBody> for BadRequest {
    #[allow(clippy::result_large_err)]
    fn respond<B>(&self, refusal: Refusal, _: Request<B>) -> Result<Response<ResBody>, Request<B>> {
        Ok(bad_request(Some(refusal)))
    }
}

/// The `400` of [`BadRequest`] and of the axum extractors' rejection: one
/// status, content type and text for both. `None`: no link or query at all.
pub(crate) fn bad_request<ResBody: From<String>>(refusal: Option<Refusal>) -> Response<ResBody> {
    let mut response = Response::new(ResBody::from(rejection_text(refusal)));
    *response.status_mut() = StatusCode::BAD_REQUEST;
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if let Some(refusal) = refusal {
        response.extensions_mut().insert(refusal);
    }
    response
}

/// Why a request gets the `400`, in words: the [`Refusal`]'s message, which
/// never holds the link.
pub(crate) fn rejection_text(refusal: Option<Refusal>) -> String {
    match refusal {
        Some(refusal) => format!("refused portal link: {refusal}"),
        None => "the request carries no portal link or query".to_owned(),
    }
}

impl<ResBody, F> OnRefused<ResBody> for RespondWith<F>
where
    F: Fn(Refusal, &Parts) -> Response<ResBody> + Clone,
{
    #[allow(clippy::result_large_err)]
    fn respond<B>(
        &self,
        refusal: Refusal,
        req: Request<B>,
    ) -> Result<Response<ResBody>, Request<B>> {
        let (parts, _body) = req.into_parts();
        Ok((self.0)(refusal, &parts))
    }
}

mod private {
    pub trait Sealed {}
    impl Sealed for super::Forward {}
    impl Sealed for super::BadRequest {}
    impl<F> Sealed for super::RespondWith<F> {}
}
