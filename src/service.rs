//! The [`Service`] that validates each request's link.

use std::marker::PhantomData;
use std::sync::Arc;
use std::task::{Context, Poll};

use http::uri::PathAndQuery;
use http::{Request, Response, Uri};
use tower_service::Service;

use crate::future::ResponseFuture;
use crate::policy::Policy;
use crate::query::{find_params, strip_params};
use crate::validate::Verdict;
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
/// unless [`strip_link(false)`](PortalLinkLayer::strip_link) was
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
    /// and inserts the target.
    #[inline]
    fn judge<B>(&self, req: &mut Request<B>) -> Judgment {
        // Both are no-ops, without allocation, on a request with no
        // extensions: the common case.
        let extensions = req.extensions_mut();
        extensions.remove::<PortalTarget>();
        extensions.remove::<Refusal>();

        let [found] = match req.uri().query() {
            Some(query) => find_params(query.as_bytes(), [self.policy.param.as_bytes()]),
            None => [None],
        };
        if found.is_none() && self.policy.header.is_none() {
            // Nearly every request.
            return Judgment::default();
        }
        let verdict = self.policy.verdict(found, req.headers());
        self.apply(req, verdict)
    }

    /// Strips the link and records the verdict: the rare request that
    /// carries a link, out of the hot path.
    #[inline(never)]
    fn apply<B>(&self, req: &mut Request<B>, verdict: Verdict) -> Judgment {
        if self.policy.strip {
            // Downstream logs, traces and error reports never see the link.
            if verdict.in_query {
                let names = [self.policy.param.as_bytes()];
                strip_from_uri(req.uri_mut(), names);
                // axum's router keeps the URI it received in an extension,
                // for handlers and spans: the link must not live on there.
                #[cfg(feature = "axum")]
                if let Some(original) = req.extensions_mut().get_mut::<axum::extract::OriginalUri>()
                {
                    strip_from_uri(&mut original.0, names);
                }
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
                // Refused links come from clients, attackers among them: at
                // `DEBUG`, as tower-http reports requests, so that no client
                // can flood the logs of a service at its default level.
                #[cfg(feature = "tracing")]
                tracing::debug!(
                    target: "tower_portal_link",
                    reason = refusal.code(),
                    "refused portal link: {refusal}"
                );
                Some(refusal)
            }
        };
        Judgment {
            refusal,
            no_referrer: verdict.in_query,
        }
    }
}

/// What [`PortalLink::judge`] tells the mode: the refusal to act on, and
/// whether the response needs `Referrer-Policy: no-referrer`.
#[derive(Default)]
struct Judgment {
    refusal: Option<Refusal>,
    no_referrer: bool,
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
        let judgment = self.judge(&mut req);
        if let Some(refusal) = judgment.refusal {
            req.extensions_mut().insert(refusal);
        }
        ResponseFuture::inner(self.inner.call(req), judgment.no_referrer)
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
        match self.judge(&mut req) {
            Judgment {
                refusal: Some(refusal),
                no_referrer,
            } => ResponseFuture::bad_request(refusal, no_referrer),
            Judgment { no_referrer, .. } => {
                ResponseFuture::inner(self.inner.call(req), no_referrer)
            }
        }
    }
}

/// Removes every pair named by `names` from `uri`'s query (and the `?`
/// with the last one), leaving the rest of the URI as it was.
fn strip_from_uri<const N: usize>(uri: &mut Uri, names: [&[u8]; N]) {
    let mut parts = std::mem::take(uri).into_parts();
    let Some(old) = parts.path_and_query.take() else {
        return;
    };
    let kept = strip_params(old.query().unwrap_or_default(), names);
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
            strip_from_uri(&mut uri, [b"crylk"]);
            assert_eq!(uri, after.parse::<Uri>().unwrap(), "{before}");
            assert_eq!(uri.to_string(), after, "{before}");
        }
    }
}
