//! The one test-support module of the library's integration tests: every
//! test file that needs scaffolding declares `mod support;`.
//!
//! Only the guide's link comes from the `test-support` workspace crate
//! (re-exported here): the example crates' tests use it too, and that crate
//! must never depend on `tower-portal-link`, or a test would link two copies
//! of the library whose types do not match. Everything else serves the
//! library's tests alone, and most of it needs the library's types, so it
//! lives here rather than in that crate:
//!
//! - the bare inner service, the poll-once helper and the verdict a handler
//!   sees ([`Bare`], [`poll_once`], [`handed_on`], [`through`]);
//! - the corpus loader ([`corpus`]);
//! - the oracle of the properties and the fuzz target ([`oracle`]) and the
//!   counting allocator ([`counting_alloc`]): standalone files, which the
//!   fuzz target (its own workspace) includes by path;
//! - with the `tracing` feature, the log capture ([`capture`]), gated on a
//!   feature of the library that only the library's own tests can see.

// Each test binary compiles this module whole and uses part of it.
#![allow(dead_code)]

pub mod corpus;
pub mod counting_alloc;
pub mod oracle;

use std::convert::Infallible;
use std::future::{ready, Future, Ready};
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use http::{Request, Response};
use tower::{Layer, Service};
use tower_portal_link::{PortalLinkLayer, PortalTarget, Refusal};

#[allow(unused_imports)]
pub use test_support::{EVIL_CRYLK, GUIDE_CRYLK, GUIDE_LINK, IN_SITE_QUERY};

/// The guide's `crylk` value with upper-case escapes, as other encoders
/// write it: the same link.
pub fn guide_crylk_upper() -> String {
    GUIDE_CRYLK.replace("%3a", "%3A").replace("%2f", "%2F")
}

/// The inner service of the tests: ready at once, and it answers with the
/// request it was handed, so a test reads exactly what a handler would
/// (URI, headers, extensions). Allocates nothing: the request is moved into
/// an empty response.
#[derive(Clone, Copy, Debug, Default)]
pub struct Bare;

impl<B> Service<Request<B>> for Bare {
    type Response = Response<Request<B>>;
    type Error = Infallible;
    type Future = Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        ready(Ok(Response::new(req)))
    }
}

/// One request through `svc` as tower requires, without a runtime:
/// `poll_ready`, then `call`, then one poll of the future, all with a no-op
/// waker.
///
/// # Panics
///
/// If the service is not ready, or its future not done, after one poll:
/// the services the tests build never wait.
pub fn poll_once<S, R>(svc: &mut S, req: R) -> Result<S::Response, S::Error>
where
    S: Service<R>,
{
    let mut cx = Context::from_waker(Waker::noop());
    match svc.poll_ready(&mut cx) {
        Poll::Ready(Ok(())) => {}
        Poll::Ready(Err(error)) => return Err(error),
        Poll::Pending => panic!("the service is not ready after one poll"),
    }
    let future = pin!(svc.call(req));
    match future.poll(&mut cx) {
        Poll::Ready(out) => out,
        Poll::Pending => panic!("the response is not ready after one poll"),
    }
}

/// The request that `layer` hands on to its inner service for `req`.
pub fn handed_on<B>(layer: &PortalLinkLayer, req: Request<B>) -> Request<B> {
    let Ok(res) = poll_once(&mut layer.layer(Bare), req);
    res.into_body()
}

/// What the layer decided, as a handler reads it from the extensions: the
/// same type as `target_from_query`'s result.
pub type Verdict = Result<Option<PortalTarget>, Refusal>;

/// The verdict that `req` carries.
///
/// # Panics
///
/// If it carries both a target and a refusal: the layer never hands on both.
pub fn verdict<B>(req: &Request<B>) -> Verdict {
    let ext = req.extensions();
    match (ext.get::<PortalTarget>(), ext.get::<Refusal>()) {
        (Some(target), None) => Ok(Some(target.clone())),
        (None, Some(refusal)) => Err(*refusal),
        (None, None) => Ok(None),
        (Some(_), Some(_)) => panic!("both a target and a refusal were handed on"),
    }
}

/// The verdict a handler behind `layer` sees for `GET /Subscriptions?{query}`.
pub fn through(layer: &PortalLinkLayer, query: &str) -> Verdict {
    let req = Request::get(format!("/Subscriptions?{query}"))
        .body(())
        .expect("a valid request target");
    verdict(&handed_on(layer, req))
}

/// What a `tracing` `fmt` subscriber prints, captured for assertions. Only
/// with the `tracing` feature: the library's optional `tracing` dependency
/// is the one the tests use.
#[cfg(feature = "tracing")]
pub mod capture {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    /// A shared buffer that a `fmt` subscriber writes into.
    #[derive(Clone, Default)]
    pub struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Captured {
        /// Makes a subscriber printing into this buffer the thread's
        /// default until the guard drops. On a current-thread runtime a
        /// server's tasks report here too.
        pub fn install(&self, level: tracing::Level) -> tracing::subscriber::DefaultGuard {
            let writer = self.clone();
            let subscriber = tracing_subscriber::fmt()
                .with_writer(move || writer.clone())
                .with_ansi(false)
                .with_max_level(level)
                .finish();
            tracing::subscriber::set_default(subscriber)
        }

        /// Everything printed so far.
        pub fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }
}
