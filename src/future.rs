//! The response future of [`PortalLink`](crate::PortalLink).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use http::Response;
use pin_project_lite::pin_project;

use crate::referrer_policy;

pin_project! {
    /// Response future of [`PortalLink`](crate::PortalLink): the inner
    /// service's future, or the response of the
    /// [`OnRefused`](crate::OnRefused) mode for a refused link.
    pub struct ResponseFuture<F, B> {
        #[pin]
        kind: Kind<F, B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<F, B> {
        // Nearly every request: the inner service's response, as it is.
        Inner {
            #[pin]
            future: F,
        },
        // The request's own URL carried the link: every resource its page
        // loads would receive it in `Referer`, unless the response's
        // `Referrer-Policy` says otherwise (`crate::referrer_policy`).
        NoReferrer {
            #[pin]
            future: F,
        },
        // Boxed: the future of every request is as small as the inner
        // one, and only a refused request pays for the allocation.
        Refused {
            response: Option<Box<Response<B>>>,
        },
    }
}

impl<F, B> ResponseFuture<F, B> {
    #[inline]
    pub(crate) fn inner(future: F, no_referrer: bool) -> Self {
        let kind = match no_referrer {
            false => Kind::Inner { future },
            true => Kind::NoReferrer { future },
        };
        ResponseFuture { kind }
    }

    pub(crate) fn refused(mut response: Response<B>, no_referrer: bool) -> Self {
        if no_referrer {
            referrer_policy::protect(response.headers_mut());
        }
        ResponseFuture {
            kind: Kind::Refused {
                response: Some(Box::new(response)),
            },
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F, B>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<B>, E>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Inner { future } => future.poll(cx),
            KindProj::NoReferrer { future } => {
                let mut poll = future.poll(cx);
                if let Poll::Ready(Ok(response)) = &mut poll {
                    referrer_policy::protect(response.headers_mut());
                }
                poll
            }
            KindProj::Refused { response } => Poll::Ready(Ok(*response
                .take()
                .expect("ResponseFuture polled after completion"))),
        }
    }
}

impl<F, B> std::fmt::Debug for ResponseFuture<F, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.kind {
            Kind::Inner { .. } => "Inner",
            Kind::NoReferrer { .. } => "NoReferrer",
            Kind::Refused { .. } => "Refused",
        };
        f.debug_struct("ResponseFuture")
            .field("kind", &kind)
            .finish()
    }
}
