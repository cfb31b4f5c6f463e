//! The [`Service`] that validates each request's link.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use crate::future::ResponseFuture;
use crate::policy::{OnRefused, Policy};
use crate::{PortalLinkLayer, PortalTarget, Refusal};

/// Validates the portal link of each request and inserts a [`PortalTarget`]
/// or a [`Refusal`] as a request extension before calling the inner service.
///
/// Built by [`PortalLinkLayer`]; see the crate documentation for the rules.
/// A [`PortalTarget`] or [`Refusal`] that the request already carries (put
/// there by a client-facing layer, or by anyone else) is removed first, so a
/// handler only ever sees this service's verdict.
#[derive(Clone, Debug)]
pub struct PortalLink<S> {
    inner: S,
    policy: Arc<Policy>,
}

impl<S> PortalLink<S> {
    /// Wraps `inner` with ProAbono's default policy
    /// ([`PortalLinkLayer::new`]).
    pub fn new(inner: S) -> Self {
        Self::from_layer(inner, PortalLinkLayer::new())
    }

    /// A [`PortalLinkLayer`] with the default policy.
    pub fn layer() -> PortalLinkLayer {
        PortalLinkLayer::new()
    }

    pub(crate) fn from_layer(inner: S, layer: PortalLinkLayer) -> Self {
        PortalLink {
            inner,
            policy: layer.policy,
        }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Consumes `self`, returning the inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for PortalLink<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: Default,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        // Both are no-ops, without allocation, on a request with no
        // extensions: the common case.
        let extensions = req.extensions_mut();
        extensions.remove::<PortalTarget>();
        extensions.remove::<Refusal>();

        let verdict = match req.uri().query() {
            Some(query) => self.policy.target_from_query(query),
            None => Ok(None),
        };
        match verdict {
            Ok(None) => {}
            Ok(Some(target)) => {
                req.extensions_mut().insert(target);
            }
            Err(refusal) => {
                #[cfg(feature = "tracing")]
                tracing::warn!(
                    target: "tower_portal_link",
                    reason = refusal.code(),
                    "refused portal link: {refusal}"
                );
                if self.policy.on_refused == OnRefused::BadRequest {
                    return ResponseFuture::bad_request(refusal);
                }
                req.extensions_mut().insert(refusal);
            }
        }
        ResponseFuture::inner(self.inner.call(req))
    }
}
