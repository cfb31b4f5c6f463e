//! The [`Service`] that validates each request's link.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::uri::PathAndQuery;
use http::{Request, Response, Uri};
use tower_service::Service;

use crate::future::ResponseFuture;
use crate::policy::Policy;
#[cfg(any(test, feature = "axum"))]
use crate::query::read_params;
use crate::validate::{Accepted, Verdict};
use crate::{Forward, OnRefused, PortalLinkLayer, PortalQuery, PortalTarget, Refusal};

/// Validates the portal link (or In-Site query) of each request and inserts
/// a [`PortalTarget`] (or a [`PortalQuery`]) or a [`Refusal`] as a request
/// extension before calling the inner service.
///
/// Built by [`PortalLinkLayer`]; see the crate documentation for the rules.
/// A [`PortalTarget`], [`PortalQuery`] or [`Refusal`] that the request
/// already carries (put there by a client-facing layer, or by anyone else)
/// is removed first, so a handler only ever sees this service's verdict.
///
/// When the request's query carries a link or an In-Site query, two things
/// happen:
///
/// - The response's `Referrer-Policy` is kept only when it is one field
///   whose whole value is exactly `no-referrer`, `origin` or
///   `strict-origin`. Anything else becomes one `no-referrer` (the crate
///   documentation's "Response headers").
/// - Both parameters leave the URI (and axum's `OriginalUri`, with the
///   `axum` feature), and the [header](PortalLinkLayer::header) leaves the
///   request, before the inner service sees it. The exception is
///   [`strip_link(false)`](PortalLinkLayer::strip_link).
#[derive(Clone, Debug)]
pub struct PortalLink<S, R = Forward> {
    inner: S,
    policy: Arc<Policy>,
    on_refused: R,
}

impl<S> PortalLink<S> {
    /// Wraps `inner` with ProAbono's default policy
    /// ([`PortalLinkLayer::new`]).
    pub fn new(inner: S) -> Self {
        Self::from_parts(inner, PortalLinkLayer::new().policy, Forward)
    }

    /// A [`PortalLinkLayer`] with the default policy.
    pub fn layer() -> PortalLinkLayer {
        PortalLinkLayer::new()
    }
}

impl<S, R> PortalLink<S, R> {
    pub(crate) fn from_parts(inner: S, policy: Arc<Policy>, on_refused: R) -> Self {
        PortalLink {
            inner,
            policy,
            on_refused,
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

    /// Reaches the verdict for a request that carries a parameter or the
    /// header, removes the link, and records the verdict: out of the hot
    /// path. The query is read from `from`: 0, or the start of its first
    /// named pair.
    #[inline(never)]
    fn judge<B>(&self, req: &mut Request<B>, from: usize) -> Judgment {
        let strip_link = self.policy.strip;
        let uri = req.uri();
        let mut verdict = self.policy.verdict(
            uri.query(),
            from,
            req.headers(),
            strip_link.then(|| uri.path()),
        );
        if strip_link {
            strip(req, &self.policy, &mut verdict);
        }
        let refusal = match verdict.result {
            Ok(None) => None,
            Ok(Some(Accepted::Target(target))) => {
                req.extensions_mut().insert(target);
                None
            }
            Ok(Some(Accepted::Query(query))) => {
                req.extensions_mut().insert(query);
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
                if let Some(observe) = &self.policy.observer {
                    observe(refusal);
                }
                Some(refusal)
            }
        };
        Judgment {
            refusal,
            no_referrer: verdict.in_query,
        }
    }
}

/// Removes what carried the verdict from the request: downstream logs,
/// traces and error reports never see the link.
fn strip<B>(req: &mut Request<B>, policy: &Policy, verdict: &mut Verdict) {
    if verdict.in_query {
        // The query was stripped as it was read.
        if let Some(rebuilt) = verdict.stripped.take() {
            set_path_and_query(req.uri_mut(), rebuilt);
        }
        // axum's router keeps the URI it received in an extension, for
        // handlers and spans: the link must not live on there.
        #[cfg(feature = "axum")]
        if let Some(original) = req.extensions_mut().get_mut::<axum::extract::OriginalUri>() {
            strip_from_uri(&mut original.0, policy);
        }
    }
    if let (true, Some(name)) = (verdict.in_header, &policy.header) {
        req.headers_mut().remove(name);
    }
}

/// What `call` hands on when it stopped at the request's extensions,
/// before reading the query: no query is that long.
const UNREAD: usize = usize::MAX;

/// What [`PortalLink::judge`] tells `call`: the refusal to act on, and
/// whether the response needs `Referrer-Policy: no-referrer`.
struct Judgment {
    refusal: Option<Refusal>,
    no_referrer: bool,
}

impl<S, R, ReqBody, ResBody> Service<Request<ReqBody>> for PortalLink<S, R>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    R: OnRefused<ResBody>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, ResBody>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    #[inline]
    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        // Nearly every request goes on as it came: only borrowed until
        // then, it is handed on without a copy wherever the compiler
        // inlines this call.
        if req.extensions().is_empty() {
            match self.to_judge(req.uri()) {
                None => ResponseFuture::inner(self.inner.call(req), false),
                Some(from) => self.call_judged(req, from),
            }
        } else {
            self.call_judged(req, UNREAD)
        }
    }
}

impl<S, R> PortalLink<S, R> {
    /// Whether the layer has something to judge: `None` when the request
    /// carries neither parameter and no header is configured (nearly every
    /// request, which then goes through in one pass over its query,
    /// without allocating); else where to read the query from, the start
    /// of its first named pair, or 0.
    ///
    /// Small and read in place, so that `call` stays small enough to be
    /// inlined, and nothing points into the request when it moves on.
    #[inline]
    fn to_judge(&self, uri: &Uri) -> Option<usize> {
        if self.policy.header.is_some() {
            return Some(0);
        }
        self.policy.first_named(uri.query()?)
    }

    /// Every other request: verdicts reached elsewhere go, and the layer's
    /// own is reached and acted on, the query read from `from`: where
    /// `call` found the first named pair, or, when it stopped at the
    /// extensions ([`UNREAD`]), where it is once they are gone. Out of
    /// line, so that `call`, inlined where the request comes from, stays
    /// as small as the hot path is.
    #[inline(never)]
    fn call_judged<ReqBody, ResBody>(
        &mut self,
        mut req: Request<ReqBody>,
        from: usize,
    ) -> ResponseFuture<S::Future, ResBody>
    where
        S: Service<Request<ReqBody>, Response = Response<ResBody>>,
        R: OnRefused<ResBody>,
    {
        let from = match from {
            UNREAD => {
                let extensions = req.extensions_mut();
                extensions.remove::<PortalTarget>();
                extensions.remove::<PortalQuery>();
                extensions.remove::<Refusal>();
                // `call` stopped at the extensions, before the query: as
                // `to_judge`, which is left to `call` alone so that it is
                // inlined there.
                if self.policy.header.is_some() {
                    0
                } else {
                    match req.uri().query().and_then(|q| self.policy.first_named(q)) {
                        Some(from) => from,
                        None => return ResponseFuture::inner(self.inner.call(req), false),
                    }
                }
            }
            from => from,
        };
        let Judgment {
            refusal,
            no_referrer,
        } = self.judge(&mut req, from);
        let Some(refusal) = refusal else {
            return ResponseFuture::inner(self.inner.call(req), no_referrer);
        };
        match self.on_refused.respond(refusal, req) {
            Ok(response) => ResponseFuture::refused(response, no_referrer),
            Err(mut req) => {
                req.extensions_mut().insert(refusal);
                ResponseFuture::inner(self.inner.call(req), no_referrer)
            }
        }
    }
}

/// Removes every pair named by one of `policy`'s names from `uri`'s query
/// (and the `?` with the last one), leaving the rest of the URI as it was.
// For axum's `OriginalUri`: the request's own URI is stripped as the
// verdict reads it.
#[cfg(any(test, feature = "axum"))]
fn strip_from_uri(uri: &mut Uri, policy: &Policy) {
    let Some(query) = uri.query() else {
        return;
    };
    let params = read_params(query, policy.names(), policy.sought(), 0, Some(uri.path()));
    if let Some(rebuilt) = params.stripped {
        set_path_and_query(uri, rebuilt);
    }
}

/// Replaces `uri`'s path and query with `rebuilt` (its own path, and what
/// is kept of its query), leaving the rest of the URI as it was.
fn set_path_and_query(uri: &mut Uri, rebuilt: Vec<u8>) {
    let mut parts = std::mem::take(uri).into_parts();
    let Some(old) = parts.path_and_query.take() else {
        return;
    };
    // Every byte comes from a path and query that parsed, so this parses;
    // if it ever did not, dropping the whole query is the safe way to fail.
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
            strip_from_uri(&mut uri, &Policy::PROABONO);
            assert_eq!(uri, after.parse::<Uri>().unwrap(), "{before}");
            assert_eq!(uri.to_string(), after, "{before}");
        }
    }
}
