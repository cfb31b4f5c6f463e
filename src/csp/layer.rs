//! The [`Layer`] and its builder methods.

use std::sync::Arc;

use http::HeaderMap;
use tower_layer::Layer;

use super::source::check_source;
use super::{Config, InlineScript, InvalidCspSource, PortalCsp};

/// The origin of ProAbono's In-Site library,
/// `<script src="https://portal.proabono.com/Get/portal.js">`.
const PORTAL_JS: &str = "https://portal.proabono.com";

/// Wraps a service in [`PortalCsp`]: merges the portal's sources into the
/// `Content-Security-Policy` of each of its responses. See the
/// [module documentation](crate::csp) for the merge rules.
///
/// Cloning is cheap: the sources sit behind an [`Arc`], shared by every
/// service the layer builds.
///
/// ```
/// use http::{header::CONTENT_SECURITY_POLICY, Request, Response};
/// use tower::{ServiceBuilder, ServiceExt};
/// use tower_portal_link::PortalCspLayer;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let page = ServiceBuilder::new()
///     .layer(PortalCspLayer::frame_src(["https://proabono.com", "https://*.proabono.com"]))
///     .service_fn(|_req: Request<()>| async {
///         let res = Response::builder()
///             .header(CONTENT_SECURITY_POLICY, "default-src 'self'")
///             .body(String::new())
///             .unwrap();
///         Ok::<_, std::convert::Infallible>(res)
///     });
///
/// let res = page.oneshot(Request::new(())).await.unwrap();
/// assert_eq!(
///     res.headers()[CONTENT_SECURITY_POLICY],
///     "default-src 'self'; frame-src 'self' https://proabono.com https://*.proabono.com",
/// );
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct PortalCspLayer {
    config: Arc<Config>,
}

impl PortalCspLayer {
    /// Adds `sources` to `frame-src`: the origins the portal is served
    /// from, as CSP source expressions, such as `https://proabono.com` and
    /// `https://*.proabono.com`.
    ///
    /// # Panics
    ///
    /// If a source is not a CSP scheme source, host source, keyword (other
    /// than `'none'`) or hash source: see [`try_frame_src`](Self::try_frame_src).
    #[track_caller]
    pub fn frame_src<I>(sources: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        Self::try_frame_src(sources).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Adds `sources` to `frame-src`, or says why one of them cannot be.
    ///
    /// Each must be a CSP Level 3 source expression: a scheme (`https:`), a
    /// host source (`[scheme://]host[:port][/path]`, where the host may be
    /// `*` or start with `*.`), a keyword such as `'self'`, or a hash
    /// source. Whitespace, `;`, `,` and quotes outside a keyword are
    /// refused, so a source can never add a directive or a policy.
    /// `'none'` cannot be added to a list, and a nonce must be fresh for
    /// each response ([`InlineScript`]).
    ///
    /// # Errors
    ///
    /// The first source that is none of the above.
    pub fn try_frame_src<I>(sources: I) -> Result<Self, InvalidCspSource>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let mut config = Config::default();
        extend(&mut config.frame_src, sources)?;
        Ok(PortalCspLayer {
            config: Arc::new(config),
        })
    }

    /// Also adds `sources` to `script-src` (and to `script-src-elem`, in a
    /// policy that has it).
    ///
    /// # Panics
    ///
    /// As [`frame_src`](Self::frame_src).
    #[track_caller]
    pub fn script_src<I>(self, sources: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.try_script_src(sources)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Also adds `sources` to `script-src`, or says why one of them cannot
    /// be (as [`try_frame_src`](Self::try_frame_src)).
    ///
    /// # Errors
    ///
    /// The first source that is not a CSP source expression the layer adds.
    pub fn try_script_src<I>(mut self, sources: I) -> Result<Self, InvalidCspSource>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        extend(&mut Arc::make_mut(&mut self.config).script_src, sources)?;
        Ok(self)
    }

    /// ProAbono's In-Site installation: also adds
    /// `https://portal.proabono.com`, where portal.js is served from, to
    /// `script-src`. The inline `ProAbonoPortal.open(...)` call needs an
    /// [`InlineScript`] response extension as well.
    pub fn in_site(self) -> Self {
        self.script_src([PORTAL_JS])
    }

    /// Whether `Content-Security-Policy-Report-Only` fields are widened too
    /// (default `false`), so that a policy being tried out does not report
    /// the portal. One is never added.
    pub fn report_only(mut self, report_only: bool) -> Self {
        Arc::make_mut(&mut self.config).report_only = report_only;
        self
    }

    /// Merges the sources into `headers`, as the layer does for a
    /// response: for frameworks outside tower, or for the place where the
    /// application sets its own policy. `inline` is the response's
    /// [`InlineScript`], if it has one.
    ///
    /// ```
    /// use http::header::{HeaderMap, HeaderValue, CONTENT_SECURITY_POLICY};
    /// use tower_portal_link::{InlineScript, PortalCspLayer};
    ///
    /// let csp = PortalCspLayer::frame_src(["https://*.proabono.com"]).in_site();
    /// let mut headers = HeaderMap::new();
    /// headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static("script-src 'self'"));
    /// let nonce = InlineScript::nonce("bm9uY2UtZm9yLXRoaXMtcGFnZQ").unwrap();
    /// csp.merge_into(&mut headers, Some(&nonce));
    /// assert_eq!(
    ///     headers[CONTENT_SECURITY_POLICY],
    ///     "script-src 'self' https://portal.proabono.com 'nonce-bm9uY2UtZm9yLXRoaXMtcGFnZQ'",
    /// );
    /// ```
    pub fn merge_into(&self, headers: &mut HeaderMap, inline: Option<&InlineScript>) {
        self.config.apply(headers, inline);
    }
}

/// Checks each source and appends the ones `list` does not hold yet.
fn extend<I>(list: &mut Vec<Box<str>>, sources: I) -> Result<(), InvalidCspSource>
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    for source in sources {
        let source = source.as_ref();
        check_source(source)?;
        if !list.iter().any(|s| **s == *source) {
            list.push(source.into());
        }
    }
    Ok(())
}

impl<S> Layer<S> for PortalCspLayer {
    type Service = PortalCsp<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PortalCsp::from_config(inner, Arc::clone(&self.config))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_is_cheap_and_shareable() {
        fn assert<T: Clone + Send + Sync + std::fmt::Debug + 'static>() {}
        assert::<PortalCspLayer>();
        let a = PortalCspLayer::frame_src(["https://proabono.com"]);
        let b = a.clone();
        assert!(Arc::ptr_eq(&a.config, &b.config));
        let c = b.clone().in_site();
        assert!(a.config.script_src.is_empty());
        assert_eq!(&*c.config.script_src, [Box::from(PORTAL_JS)]);
    }

    #[test]
    fn sources_are_checked_and_deduplicated() {
        let layer = PortalCspLayer::frame_src(["https://proabono.com", "https://proabono.com"])
            .in_site()
            .in_site();
        assert_eq!(layer.config.frame_src.len(), 1);
        assert_eq!(layer.config.script_src.len(), 1);
        assert!(PortalCspLayer::try_frame_src(["https://a.com; script-src *"]).is_err());
        assert!(PortalCspLayer::try_frame_src(["https://a.com"])
            .unwrap()
            .try_script_src(["'nonce-abc'"])
            .is_err());
    }

    #[test]
    #[should_panic(expected = "invalid Content-Security-Policy source")]
    fn frame_src_panics_on_an_invalid_source() {
        let _ = PortalCspLayer::frame_src(["https://proabono.com https://evil.com"]);
    }
}
