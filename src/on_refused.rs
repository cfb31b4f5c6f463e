//! What happens to a request whose link or query is present but refused.
//!
//! A type, not a flag: answering `400` needs a response body to build
//! (`ResBody: Default`), and many body types (tower-http's `TraceLayer`
//! body, for one) have none. With the mode in the type, only
//! [`BadRequest`] asks for that bound, [`RespondWith`] builds the response
//! itself, and the default [`Forward`] wraps any service.

use std::fmt;

use http::request::Parts;
use http::{Request, Response, StatusCode};

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

/// Answer `400 Bad Request` with an empty body, without calling the inner
/// service. The [`Refusal`] is set as an extension of that response, for
/// outer layers that log. Needs a response body type that implements
/// `Default`: axum's, tonic's and warp's do, and so do http-body-util's
/// `Full` and `Empty`; tower-http's `TraceLayer` body does not: around a
/// `TraceLayer`, use [`Forward`] or [`RespondWith`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct BadRequest;

/// Answer with the response a closure builds from the [`Refusal`] and the
/// request's parts, without calling the inner service; set with
/// [`PortalLinkLayer::refusal_response`](crate::PortalLinkLayer::refusal_response).
///
/// The parts are those the inner service would have seen: the link is
/// already gone from the URI. No bound on the response body type: the
/// closure builds it.
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

impl<ResBody: Default> OnRefused<ResBody> for BadRequest {
    #[allow(clippy::result_large_err)]
    fn respond<B>(&self, refusal: Refusal, _: Request<B>) -> Result<Response<ResBody>, Request<B>> {
        let mut response = Response::new(ResBody::default());
        *response.status_mut() = StatusCode::BAD_REQUEST;
        response.extensions_mut().insert(refusal);
        Ok(response)
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
