//! The [`Service`] and its response future.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use http::{Request, Response};
use pin_project_lite::pin_project;
use tower_service::Service;

use super::{Config, InlineScript};

/// Merges the portal's sources into the `Content-Security-Policy` of each
/// response of the inner service. Built by
/// [`PortalCspLayer`](super::PortalCspLayer); see the
/// [module documentation](crate::csp) for the merge rules.
///
/// The response's [`InlineScript`] extension, if any, is added to
/// `script-src`; the request is handed on untouched.
#[derive(Clone, Debug)]
pub struct PortalCsp<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S> PortalCsp<S> {
    pub(super) fn from_config(inner: S, config: Arc<Config>) -> Self {
        PortalCsp { inner, config }
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

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for PortalCsp<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        ResponseFuture {
            future: self.inner.call(req),
            config: Arc::clone(&self.config),
        }
    }
}

pin_project! {
    /// Response future of [`PortalCsp`].
    pub struct ResponseFuture<F> {
        #[pin]
        future: F,
        config: Arc<Config>,
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let (mut parts, body) = ready!(this.future.poll(cx))?.into_parts();
        this.config
            .apply(&mut parts.headers, parts.extensions.get::<InlineScript>());
        Poll::Ready(Ok(Response::from_parts(parts, body)))
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}
