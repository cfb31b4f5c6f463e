//! The [`Service`] that validates each request's link.

use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::uri::PathAndQuery;
use http::{Request, Response, Uri};
use tower_service::Service;

use crate::future::ResponseFuture;
use crate::policy::Policy;
use crate::query::strip_param;
use crate::{BadRequest, Forward, PortalLinkLayer, PortalTarget, Refusal};

/// Validates the portal link of each request and inserts a [`PortalTarget`]
/// or a [`Refusal`] as a request extension before calling the inner service.
///
/// Built by [`PortalLinkLayer`]; see the crate documentation for the rules.
/// A [`PortalTarget`] or [`Refusal`] that the request already carries (put
/// there by a client-facing layer, or by anyone else) is removed first, so a
/// handler only ever sees this service's verdict.
///
/// When the request's query carries the link, the response gets
/// `Referrer-Policy: no-referrer` unless the inner service set a policy; and,
/// unless [`strip_from_uri(false)`](PortalLinkLayer::strip_from_uri) was
/// asked for, the link is removed from the URI (and the
/// [header](PortalLinkLayer::header) from the request) that the inner
/// service sees.
#[derive(Clone, Debug)]
pub struct PortalLink<S, R = Forward> {
    inner: S,
    policy: Arc<Policy>,
    // The mode is all in the type: see `on_refused`.
    on_refused: PhantomData<fn() -> R>,
}

impl<S> PortalLink<S> {
    /// Wraps `inner` with ProAbono's default policy
    /// ([`PortalLinkLayer::new`]).
    pub fn new(inner: S) -> Self {
        Self::from_policy(inner, PortalLinkLayer::new().policy)
    }

    /// A [`PortalLinkLayer`] with the default policy.
    pub fn layer() -> PortalLinkLayer {
        PortalLinkLayer::new()
    }
}

impl<S, R> PortalLink<S, R> {
    pub(crate) fn from_policy(inner: S, policy: Arc<Policy>) -> Self {
        PortalLink {
            inner,
            policy,
            on_refused: PhantomData,
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

    /// Everything both modes do before deciding whether to call the inner
    /// service: clears forged verdicts, reaches this one, strips the link,
    /// and inserts the target. Returns the refusal, if any, and whether the
    /// response needs `Referrer-Policy: no-referrer`.
    fn inspect<B>(&self, req: &mut Request<B>) -> (Option<Refusal>, bool) {
        // Both are no-ops, without allocation, on a request with no
        // extensions: the common case.
        let extensions = req.extensions_mut();
        extensions.remove::<PortalTarget>();
        extensions.remove::<Refusal>();

        let verdict = self.policy.verdict(req.uri().query(), req.headers());
        if self.policy.strip {
            // Downstream logs, traces and error reports never see the link.
            if verdict.in_query {
                strip_from_uri(req.uri_mut(), self.policy.param.as_bytes());
            }
            if let (true, Some(name)) = (verdict.in_header, &self.policy.header) {
                req.headers_mut().remove(name);
            }
        }
        let refusal = match verdict.result {
            Ok(None) => None,
            Ok(Some(target)) => {
                req.extensions_mut().insert(target);
                None
            }
            Err(refusal) => {
                #[cfg(feature = "tracing")]
                tracing::warn!(
                    target: "tower_portal_link",
                    reason = refusal.code(),
                    "refused portal link: {refusal}"
                );
                Some(refusal)
            }
        };
        (refusal, verdict.in_query)
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for PortalLink<S, Forward>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let (refusal, no_referrer) = self.inspect(&mut req);
        if let Some(refusal) = refusal {
            req.extensions_mut().insert(refusal);
        }
        ResponseFuture::inner(self.inner.call(req), no_referrer)
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for PortalLink<S, BadRequest>
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
        match self.inspect(&mut req) {
            (Some(refusal), no_referrer) => ResponseFuture::bad_request(refusal, no_referrer),
            (None, no_referrer) => ResponseFuture::inner(self.inner.call(req), no_referrer),
        }
    }
}

/// Removes every pair named `name` from `uri`'s query (and the `?` with the
/// last one), leaving the rest of the URI as it was.
fn strip_from_uri(uri: &mut Uri, name: &[u8]) {
    let mut parts = std::mem::take(uri).into_parts();
    let Some(old) = parts.path_and_query.take() else {
        return;
    };
    let kept = strip_param(old.query().unwrap_or_default(), name);
    // Exactly sized: `Bytes` then takes the string's buffer as it is,
    // instead of allocating a header to share it.
    let query_len = if kept.is_empty() { 0 } else { 1 + kept.len() };
    let mut rebuilt = String::with_capacity(old.path().len() + query_len);
    rebuilt.push_str(old.path());
    if !kept.is_empty() {
        rebuilt.push('?');
        rebuilt.push_str(&kept);
    }
    // Every byte comes from a path and query that parsed, so this parses; if
    // it ever did not, dropping the whole query is the safe way to fail.
    parts.path_and_query = Some(
        PathAndQuery::try_from(rebuilt)
            .or_else(|_| PathAndQuery::try_from(old.path()))
            .unwrap_or_else(|_| PathAndQuery::from_static("/")),
    );
    // Only the path and query changed, so the parts still fit together; if
    // they ever did not, `Uri::default()` (`/`) still carries no link.
    *uri = Uri::from_parts(parts).unwrap_or_default();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_from_origin_and_absolute_forms() {
        for (before, after) in [
            ("/Subscriptions?crylk=x", "/Subscriptions"),
            (
                "/Subscriptions?a=1&crylk=x&b=%20",
                "/Subscriptions?a=1&b=%20",
            ),
            ("/?cryl%6bk=1&crylk=2", "/?cryl%6bk=1"),
            (
                "https://mon-app.com/Subscriptions?crylk=x&lang=fr",
                "https://mon-app.com/Subscriptions?lang=fr",
            ),
        ] {
            let mut uri: Uri = before.parse().unwrap();
            strip_from_uri(&mut uri, b"crylk");
            assert_eq!(uri, after.parse::<Uri>().unwrap(), "{before}");
            assert_eq!(uri.to_string(), after, "{before}");
        }
    }
}
