//! The [`Layer`] and its builder methods.

use std::sync::Arc;

use http::HeaderMap;
use tower_layer::Layer;

use super::source::check_source;
use super::{Config, InlineScript, InvalidCspSource, InvalidCspSourceKind, PortalCsp};

/// The origin of ProAbono's In-Site library,
/// `<script src="https://portal.proabono.com/Get/portal.js">`.
const PORTAL_JS: &str = "https://portal.proabono.com";

/// Wraps a service in [`PortalCsp`]: merges the portal's sources into the
/// `Content-Security-Policy` of each of its responses. See the
/// [module documentation](crate::csp) for what each page gets.
///
/// Built empty by [`new`](Self::new) (or from a
/// [`PortalLinkLayer`](crate::PortalLinkLayer) by
/// [`csp`](crate::PortalLinkLayer::csp), with its allowed origins), then
/// extended: every method adds to what the layer already holds.
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
/// let csp = PortalCspLayer::new()
///     .frame_src(["https://mon-app.via.proabono.com"])
///     .fallback("https://demo-eur.proabono.com/portal-anon");
/// let page = ServiceBuilder::new()
///     .layer(csp)
///     .service_fn(|_req: Request<()>| async {
///         let res = Response::builder()
///             .header(CONTENT_SECURITY_POLICY, "default-src 'self'; script-src 'self'")
///             .body(String::new())
///             .unwrap();
///         Ok::<_, std::convert::Infallible>(res)
///     });
///
/// let res = page.oneshot(Request::new(())).await.unwrap();
/// assert_eq!(
///     res.headers()[CONTENT_SECURITY_POLICY],
///     "default-src 'self'; script-src 'self'; \
///      frame-src 'self' https://mon-app.via.proabono.com https://demo-eur.proabono.com",
/// );
/// # }
/// ```
#[derive(Clone, Debug, Default)]
pub struct PortalCspLayer {
    config: Arc<Config>,
}

impl PortalCspLayer {
    /// A layer that adds nothing yet: give it the portal's origins with
    /// [`frame_src`](Self::frame_src), or start from
    /// [`PortalLinkLayer::csp`](crate::PortalLinkLayer::csp), which does.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `sources` to the frame sources: the origins the portal is
    /// served from, and the page's other frame sources (a video player, a
    /// payment form), as CSP source expressions such as
    /// `https://*.proabono.com` or `https://www.youtube-nocookie.com`. Can
    /// be called any number of times; each source is added once.
    ///
    /// They go wherever the layer allows frames: the page's policies that
    /// restrict frames, and, with [`restrict_frames`](Self::restrict_frames),
    /// the layer's own `frame-src` policy.
    ///
    /// # Panics
    ///
    /// If a source is not a CSP scheme source, host source, keyword (other
    /// than `'none'`) or hash source: see [`try_frame_src`](Self::try_frame_src).
    #[track_caller]
    pub fn frame_src<I>(self, sources: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.try_frame_src(sources)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Adds `sources` to the frame sources, or says why one of them cannot
    /// be.
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
    pub fn try_frame_src<I>(mut self, sources: I) -> Result<Self, InvalidCspSource>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        extend(&mut Arc::make_mut(&mut self.config).frame_src, sources)?;
        Ok(self)
    }

    /// Adds the origin (`scheme://host[:port]`) of the page's `hosted-home`
    /// fallback, the link of ProAbono's Customer object the page frames
    /// when there is no valid link, to the frame sources: a narrowed list
    /// of allowed origins may not hold it. `hosted_home` is that URL, or
    /// its origin.
    ///
    /// ```
    /// use tower_portal_link::PortalLinkLayer;
    ///
    /// let layer = PortalLinkLayer::new().allowed_origins(["https://mon-app.via.proabono.com"]);
    /// let csp = layer.csp().fallback("https://demo-eur.proabono.com/portal-anon?lang=fr");
    /// # let mut headers = http::HeaderMap::new();
    /// # headers.insert(http::header::CONTENT_SECURITY_POLICY, "frame-src 'self'".parse().unwrap());
    /// # csp.merge_into(&mut headers, None);
    /// # assert_eq!(
    /// #     headers[http::header::CONTENT_SECURITY_POLICY],
    /// #     "frame-src 'self' https://mon-app.via.proabono.com https://demo-eur.proabono.com",
    /// # );
    /// ```
    ///
    /// # Panics
    ///
    /// If `hosted_home` is not an `http` or `https` URL with a host a CSP
    /// source can name: see [`try_fallback`](Self::try_fallback).
    #[track_caller]
    pub fn fallback(self, hosted_home: impl AsRef<str>) -> Self {
        self.try_fallback(hosted_home)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Adds the origin of the `hosted-home` fallback to the frame sources,
    /// or says why it cannot.
    ///
    /// # Errors
    ///
    /// When `hosted_home` is not an absolute `http` or `https` URL, or when
    /// no CSP source names its host exactly. The host must be a domain
    /// name or an IPv4 address. The error's
    /// [`kind`](InvalidCspSource::kind) says what else it is:
    ///
    /// - a `*` (`https://*/`, `https://*.example.com/portal`): a CSP source
    ///   would read it as a wildcard ([`Wildcard`](InvalidCspSourceKind::Wildcard));
    /// - an empty label ([`EmptyLabel`](InvalidCspSourceKind::EmptyLabel)),
    ///   a trailing dot ([`TrailingDot`](InvalidCspSourceKind::TrailingDot)),
    ///   a label that starts or ends with `-`
    ///   ([`Hyphen`](InvalidCspSourceKind::Hyphen));
    /// - an IPv6 address, which CSP cannot name (use `localhost`), a `_`,
    ///   a name beyond DNS limits or not valid IDNA
    ///   ([`Host`](InvalidCspSourceKind::Host)).
    ///
    /// ```
    /// use tower_portal_link::csp::InvalidCspSourceKind;
    /// use tower_portal_link::PortalCspLayer;
    ///
    /// let refused = PortalCspLayer::new().try_fallback("https://*.example.com/portal").unwrap_err();
    /// assert_eq!(refused.kind(), InvalidCspSourceKind::Wildcard);
    /// ```
    pub fn try_fallback(self, hosted_home: impl AsRef<str>) -> Result<Self, InvalidCspSource> {
        let origin = fallback_origin(hosted_home.as_ref())?;
        self.try_frame_src([origin])
    }

    /// Adds `sources` to `script-src` (and to `script-src-elem`, in a
    /// policy that has it), for the page's policies that restrict scripts.
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

    /// Adds `sources` to `script-src`, or says why one of them cannot be
    /// (as [`try_frame_src`](Self::try_frame_src)).
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

    /// ProAbono's In-Site installation: adds `https://portal.proabono.com`,
    /// where portal.js is served from, to `script-src`. The inline
    /// `ProAbonoPortal.open(...)` call needs an [`InlineScript`] response
    /// extension as well.
    pub fn in_site(self) -> Self {
        self.script_src([PORTAL_JS])
    }

    /// Defence in depth (default `false`): with `true`, every response also
    /// gets a policy of the layer's own, `frame-src` followed by the frame
    /// sources (the portal's origins, the fallback's, the page's others),
    /// or `frame-src 'none'` when there are none. A browser enforces it
    /// beside whatever policies the page has, so it refuses every other
    /// frame, whatever those say; the page's own frames included, unless
    /// given to [`frame_src`](Self::frame_src).
    pub fn restrict_frames(mut self, restrict: bool) -> Self {
        Arc::make_mut(&mut self.config).restrict_frames = restrict;
        self
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
    /// let csp = PortalCspLayer::new().frame_src(["https://*.proabono.com"]).in_site();
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

/// The origin of the `hosted-home` URL, as a CSP host source that names
/// exactly that origin: the host is checked after the URL parser's
/// normalization, as the browser will see it, and only a plain name or an
/// IPv4 address gets through.
fn fallback_origin(hosted_home: &str) -> Result<String, InvalidCspSource> {
    use url::ParseError as P;
    use InvalidCspSourceKind as K;

    let url = url::Url::parse(hosted_home).map_err(|e| match e {
        P::IdnaError => InvalidCspSource::of(
            K::Host,
            "the fallback's host is not a valid internationalized domain name \
             (an `xn--` label that does not decode, say)",
        ),
        P::EmptyHost => InvalidCspSource::of(K::Host, "the fallback has no host"),
        P::InvalidPort => InvalidCspSource::of(
            K::Port,
            "the fallback's port is not a number from 0 to 65535",
        ),
        P::InvalidIpv4Address => {
            InvalidCspSource::of(K::Host, "the fallback's host is not a valid IPv4 address")
        }
        P::InvalidIpv6Address => {
            InvalidCspSource::of(K::Host, "the fallback's host is not a valid IPv6 address")
        }
        P::InvalidDomainCharacter => InvalidCspSource::of(
            K::Host,
            "the fallback's host holds a character no domain name may hold",
        ),
        _ => InvalidCspSource::of(K::NotAUrl, "the fallback is not an absolute URL"),
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(InvalidCspSource::of(
            K::Scheme,
            "the fallback is not an http or https URL",
        ));
    }
    match url.host() {
        Some(url::Host::Domain(domain)) => check_domain(domain)?,
        // Serialized in canonical dotted decimal, as a browser frames it.
        Some(url::Host::Ipv4(_)) => {}
        Some(url::Host::Ipv6(_)) => {
            return Err(InvalidCspSource::of(
                K::Host,
                "the fallback's host is an IPv6 address, which no CSP source can name: \
                 use `localhost`",
            ))
        }
        None => return Err(InvalidCspSource::of(K::Host, "the fallback has no host")),
    }
    let origin = url.origin().ascii_serialization();
    // Stands behind `check_domain`: whatever it let through must be a
    // source expression.
    check_source(&origin).map_err(|_| {
        InvalidCspSource::of(
            K::Host,
            "the fallback's host cannot be named by a CSP source",
        )
    })?;
    Ok(origin)
}

/// A domain, as the URL parser serialized it (lower-case ASCII), that a CSP
/// host source names exactly: letters, digits and `-` in non-empty labels
/// that neither start nor end with `-`, within DNS limits, no trailing dot.
/// A `*` anywhere would make the source a wildcard.
fn check_domain(domain: &str) -> Result<(), InvalidCspSource> {
    use InvalidCspSourceKind as K;

    if domain.contains('*') {
        return Err(InvalidCspSource::of(
            K::Wildcard,
            "the fallback's host holds a `*`, a wildcard that would allow every host it covers",
        ));
    }
    if domain.ends_with('.') {
        return Err(InvalidCspSource::of(
            K::TrailingDot,
            "the fallback's host ends with a dot",
        ));
    }
    if domain.split('.').any(str::is_empty) {
        return Err(InvalidCspSource::of(
            K::EmptyLabel,
            "the fallback's host has an empty label",
        ));
    }
    if domain
        .split('.')
        .any(|label| label.starts_with('-') || label.ends_with('-'))
    {
        return Err(InvalidCspSource::of(
            K::Hyphen,
            "a label of the fallback's host starts or ends with `-`",
        ));
    }
    let plain = domain.len() <= crate::origin::MAX_HOST
        && domain.split('.').all(|label| {
            label.len() <= crate::origin::MAX_LABEL
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    if !plain {
        return Err(InvalidCspSource::of(
            K::Host,
            "the fallback's host is not letters, digits and `-` within DNS limits \
             (63 bytes a label, 253 in all)",
        ));
    }
    Ok(())
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
        fn assert<T: Clone + Send + Sync + std::fmt::Debug + Default + 'static>() {}
        assert::<PortalCspLayer>();
        let a = PortalCspLayer::new().frame_src(["https://proabono.com"]);
        let b = a.clone();
        assert!(Arc::ptr_eq(&a.config, &b.config));
        let c = b.clone().in_site();
        assert!(a.config.script_src.is_empty());
        assert_eq!(&*c.config.script_src, [Box::from(PORTAL_JS)]);
    }

    #[test]
    fn sources_are_checked_and_deduplicated() {
        let layer = PortalCspLayer::new()
            .frame_src(["https://proabono.com", "https://proabono.com"])
            .frame_src(["https://proabono.com", "https://www.youtube-nocookie.com"])
            .in_site()
            .in_site();
        assert_eq!(
            &*layer.config.frame_src,
            ["https://proabono.com", "https://www.youtube-nocookie.com"].map(Box::from)
        );
        assert_eq!(layer.config.script_src.len(), 1);
        assert!(PortalCspLayer::new()
            .try_frame_src(["https://a.com; script-src *"])
            .is_err());
        assert!(PortalCspLayer::new()
            .try_script_src(["'nonce-abc'"])
            .is_err());
    }

    #[test]
    fn the_fallback_adds_its_origin() {
        for (url, origin) in [
            (
                "https://demo-eur.proabono.com/portal-anon?x=1#y",
                "https://demo-eur.proabono.com",
            ),
            (
                "https://demo-eur.proabono.com",
                "https://demo-eur.proabono.com",
            ),
            (
                "HTTPS://Billing.Example.COM:443/p",
                "https://billing.example.com",
            ),
            (
                "https://billing.example.com:8443/p",
                "https://billing.example.com:8443",
            ),
            ("http://localhost:3000/", "http://localhost:3000"),
            ("http://127.0.0.1:80/", "http://127.0.0.1"),
            (
                "https://b\u{fc}cher.example/",
                "https://xn--bcher-kva.example",
            ),
            (
                "https://user:pw@billing.example.com/",
                "https://billing.example.com",
            ),
        ] {
            let layer = PortalCspLayer::new().try_fallback(url).unwrap();
            assert_eq!(&*layer.config.frame_src, [Box::from(origin)], "{url}");
        }
        for bad in [
            "",
            "not a url",
            "/portal-anon",
            "demo-eur.proabono.com",
            "ftp://demo-eur.proabono.com/",
            "data:text/html,x",
            "javascript:alert(1)",
            "file:///etc/passwd",
            "https://[::1]/",
            "https://under_score.example/",
        ] {
            assert!(PortalCspLayer::new().try_fallback(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_fallback_never_adds_a_wildcard_or_an_odd_host() {
        use InvalidCspSourceKind::*;
        for (url, kind) in [
            ("", NotAUrl),
            ("/portal-anon", NotAUrl),
            ("demo-eur.proabono.com", NotAUrl),
            ("ftp://demo-eur.proabono.com/", Scheme),
            ("javascript:alert(1)", Scheme),
            ("https://demo-eur.proabono.com:99999/", Port),
            ("https://*/", Wildcard),
            ("https://*.example.com/portal", Wildcard),
            ("https://a.*.example.com/", Wildcard),
            ("https://*example.com/", Wildcard),
            ("http://*:3000/", Wildcard),
            ("https://%2A.example.com/", Wildcard),
            ("https://example.com./", TrailingDot),
            ("https://a..example.com/", EmptyLabel),
            ("https://-a.example.com/", Hyphen),
            ("https://a-.example.com/", Hyphen),
            ("https://a.example-/", Hyphen),
            ("https://[::1]/", Host),
            ("https://[::1]:8443/p", Host),
            ("https://under_score.example/", Host),
            ("https://xn--a.example/", Host),
            ("https:///", Host),
            ("https://a$b.example/", Host),
        ] {
            let err = PortalCspLayer::new().try_fallback(url).unwrap_err();
            assert_eq!(err.kind(), kind, "{url:?}: {err}");
        }
        // What the messages say is what is wrong.
        let message = |url| {
            PortalCspLayer::new()
                .try_fallback(url)
                .unwrap_err()
                .to_string()
        };
        assert!(message("https://xn--a.example/").contains("internationalized"));
        assert!(message("https://[::1]/").contains("IPv6"));
        assert!(message("https://*/").contains("wildcard"));
        let long = format!("https://{}.example/", "a".repeat(64));
        assert_eq!(
            PortalCspLayer::new()
                .try_fallback(&long)
                .unwrap_err()
                .kind(),
            Host
        );
        // What a browser normalizes is added as it frames it.
        for (url, origin) in [
            ("http://127.1:3001/", "http://127.0.0.1:3001"),
            ("http://0x7f.0.0.1/", "http://127.0.0.1"),
            (
                "https://xn--bcher-kva.example/",
                "https://xn--bcher-kva.example",
            ),
            ("https://a-b.example/", "https://a-b.example"),
        ] {
            let layer = PortalCspLayer::new().try_fallback(url).unwrap();
            assert_eq!(&*layer.config.frame_src, [Box::from(origin)], "{url}");
        }
    }

    #[test]
    #[should_panic(expected = "invalid Content-Security-Policy source")]
    fn frame_src_panics_on_an_invalid_source() {
        let _ = PortalCspLayer::new().frame_src(["https://proabono.com https://evil.com"]);
    }

    #[test]
    #[should_panic(expected = "invalid Content-Security-Policy source")]
    fn fallback_panics_on_an_invalid_url() {
        let _ = PortalCspLayer::new().fallback("javascript:alert(1)");
    }
}
