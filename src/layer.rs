//! The [`Layer`] and its builder methods.

use std::borrow::Cow;
use std::sync::Arc;

use http::HeaderName;
use tower_layer::Layer;

use crate::on_refused::RespondWith;
use crate::origin::{InvalidOrigin, OriginPattern};
use crate::parameter::{check_name, InvalidParameter};
use crate::policy::Policy;
use crate::{Forward, PortalLink, PortalTarget, Refusal};

/// Wraps a service in [`PortalLink`]: validates the portal link carried by
/// each request and inserts a [`PortalTarget`] (or a [`Refusal`]) as a
/// request extension.
///
/// [`PortalLinkLayer::new`] is ProAbono's policy; the builder methods adjust
/// it. Cloning is cheap: the policy sits behind an [`Arc`], shared by every
/// service the layer builds.
///
/// ```
/// use tower_portal_link::{BadRequest, PortalLinkLayer};
///
/// let layer = PortalLinkLayer::new()
///     .allowed_origins(["https://mon-app.via.proabono.com"])
///     .max_length(1024)
///     .on_refused(BadRequest);
/// # let _ = layer;
/// ```
///
/// The type parameter is what happens to a refused link: [`Forward`] (the
/// default) or [`BadRequest`](crate::BadRequest), set with
/// [`on_refused`](Self::on_refused).
#[derive(Clone, Debug)]
pub struct PortalLinkLayer<R = Forward> {
    pub(crate) policy: Arc<Policy>,
    // In the type: only `BadRequest` needs `ResBody: From<String>`.
    pub(crate) on_refused: R,
}

impl Default for PortalLinkLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl PortalLinkLayer {
    /// ProAbono's policy: the `crylk` parameter, `https` links to
    /// `proabono.com` or any of its subdomains on the default port, at most
    /// 512 bytes once decoded; a refused link is forwarded with its
    /// [`Refusal`] ([`Forward`]).
    pub fn new() -> Self {
        PortalLinkLayer {
            policy: Arc::new(Policy::PROABONO),
            on_refused: Forward,
        }
    }
}

impl<R> PortalLinkLayer<R> {
    fn policy_mut(&mut self) -> &mut Policy {
        Arc::make_mut(&mut self.policy)
    }

    /// The query parameter that carries the link (default `crylk`), for a
    /// page whose links ProAbono does not write, such as a business's own
    /// e-mails.
    ///
    /// Compared with each parameter's *decoded* name, as a form parser does.
    ///
    /// ```
    /// use tower_portal_link::PortalLinkLayer;
    ///
    /// let layer = PortalLinkLayer::new().link_parameter("portal");
    /// assert!(layer
    ///     .target_from_query("portal=https%3A%2F%2Fdemo-eur.proabono.com%2Fportal-anon")
    ///     .unwrap()
    ///     .is_some());
    /// ```
    ///
    /// # Panics
    ///
    /// If `name` is empty, not printable ASCII without spaces, or the
    /// [In-Site parameter](Self::in_site_parameter)'s name; see
    /// [`try_link_parameter`](Self::try_link_parameter).
    #[track_caller]
    pub fn link_parameter(self, name: &str) -> Self {
        self.try_link_parameter(name)
            .unwrap_or_else(|error| panic!("tower-portal-link: {error}"))
    }

    /// [`link_parameter`](Self::link_parameter), returning an error for a
    /// name it would panic on.
    pub fn try_link_parameter(mut self, name: &str) -> Result<Self, InvalidParameter> {
        let name = check_name(name, self.policy.query_param())?;
        self.policy_mut().set_param(name);
        Ok(self)
    }

    /// The query parameter that carries an In-Site query (default
    /// `pa_query`), for ProAbono's portal.js: validated, removed and
    /// handed on as a [`PortalQuery`](crate::PortalQuery) like a link.
    ///
    /// # Panics
    ///
    /// As [`link_parameter`](Self::link_parameter): if `name` is malformed
    /// or the link parameter's name; see
    /// [`try_in_site_parameter`](Self::try_in_site_parameter).
    #[track_caller]
    pub fn in_site_parameter(self, name: &str) -> Self {
        self.try_in_site_parameter(name)
            .unwrap_or_else(|error| panic!("tower-portal-link: {error}"))
    }

    /// [`in_site_parameter`](Self::in_site_parameter), returning an error
    /// for a name it would panic on.
    pub fn try_in_site_parameter(mut self, name: &str) -> Result<Self, InvalidParameter> {
        let name = check_name(name, self.policy.param())?;
        self.policy_mut().set_query_param(name);
        Ok(self)
    }

    /// Also reads the link from the request header `name` (none by default),
    /// for clients that cannot put it in the query, such as gRPC and
    /// gRPC-web clients posting to `/package.Service/Method`.
    ///
    /// The header holds what the query parameter would: the link,
    /// percent-encoded. It is decoded and validated by the same rules, and
    /// must appear at most once. When the query carries a link too, both
    /// must validate to the same link. Anything else is refused as
    /// [`Refusal::Ambiguous`]: two different links, one refused, or both
    /// refused.
    ///
    /// ```
    /// use http::HeaderName;
    /// use tower_portal_link::PortalLinkLayer;
    ///
    /// let layer = PortalLinkLayer::new().header(HeaderName::from_static("x-portal-link"));
    /// # let _ = layer;
    /// ```
    pub fn header(mut self, name: HeaderName) -> Self {
        self.policy_mut().header = Some(name);
        self
    }

    /// Whether the link is removed from the request before the inner
    /// service sees it (default `true`): the parameter from the URI, other
    /// parameters keeping their order and encoding; the
    /// [header](Self::header); and, with the `axum` feature, the same
    /// parameter from axum's `OriginalUri`. Access logs, `TraceLayer` spans
    /// and error reports downstream then never record the link; handlers
    /// read the [`PortalTarget`] instead.
    pub fn strip_link(mut self, strip: bool) -> Self {
        self.policy_mut().strip = strip;
        self
    }

    /// Also accepts links to `origin`, a Content-Security-Policy source
    /// expression (see [`OriginPattern`]): `scheme://host[:port]`, where
    /// the host may start with `*.` for any subdomain. It widens nothing
    /// else: `allow_origin("http://localhost:3000")` accepts
    /// `http://localhost:3000/...` and no other `http` link, and no other
    /// port on any other host.
    ///
    /// For local development the host may also be an IPv4 address in
    /// dotted decimal (`http://127.0.0.1:3000`). It matches only links that
    /// write it the same way, never `127.1`. IPv6 is refused: CSP cannot
    /// name it, so use `localhost`.
    ///
    /// The default list, `https://proabono.com` and
    /// `https://*.proabono.com`, accepts the pages of every business on
    /// ProAbono. To accept only your own, replace it with
    /// [`allowed_origins`](Self::allowed_origins).
    ///
    /// ```
    /// use tower_portal_link::PortalLinkLayer;
    ///
    /// let layer = PortalLinkLayer::new().allow_origin("http://localhost:3000");
    /// assert_eq!(
    ///     layer.frame_src(),
    ///     "frame-src https://proabono.com https://*.proabono.com http://localhost:3000",
    /// );
    /// ```
    ///
    /// # Panics
    ///
    /// If `origin` is not a valid pattern (an IPv6 address, userinfo, a path,
    /// another scheme, a wildcard that would match too much...): the message
    /// names the pattern and why. For configuration read at run time, use
    /// [`try_allow_origin`](Self::try_allow_origin).
    #[track_caller]
    pub fn allow_origin(self, origin: &str) -> Self {
        self.try_allow_origin(origin)
            .unwrap_or_else(|error| panic!("tower-portal-link: {error}"))
    }

    /// [`allow_origin`](Self::allow_origin), returning an error for an
    /// invalid pattern instead of panicking.
    pub fn try_allow_origin(mut self, origin: &str) -> Result<Self, InvalidOrigin> {
        let origin = OriginPattern::parse(origin)?;
        self.policy_mut().add_origin(origin);
        Ok(self)
    }

    /// Replaces the allowed origins (see [`allow_origin`](Self::allow_origin)).
    /// An empty list accepts no link.
    ///
    /// A business that wants links to its own ProAbono pages only:
    ///
    /// ```
    /// use tower_portal_link::PortalLinkLayer;
    ///
    /// let layer = PortalLinkLayer::new().allowed_origins(["https://mon-app.via.proabono.com"]);
    /// assert!(layer
    ///     .target_from_query("crylk=https%3a%2f%2fother-app.proabono.com%2fportal-anon")
    ///     .is_err());
    /// ```
    ///
    /// # Panics
    ///
    /// As [`allow_origin`](Self::allow_origin); see
    /// [`try_allowed_origins`](Self::try_allowed_origins).
    #[track_caller]
    pub fn allowed_origins<I, O>(self, origins: I) -> Self
    where
        I: IntoIterator<Item = O>,
        O: AsRef<str>,
    {
        self.try_allowed_origins(origins)
            .unwrap_or_else(|error| panic!("tower-portal-link: {error}"))
    }

    /// [`allowed_origins`](Self::allowed_origins), returning an error for
    /// the first invalid pattern instead of panicking.
    pub fn try_allowed_origins<I, O>(mut self, origins: I) -> Result<Self, InvalidOrigin>
    where
        I: IntoIterator<Item = O>,
        O: AsRef<str>,
    {
        let mut policy = (*self.policy).clone();
        policy.origins = Cow::Borrowed(&[]);
        for origin in origins {
            policy.add_origin(OriginPattern::parse(origin.as_ref())?);
        }
        self.policy = Arc::new(policy);
        Ok(self)
    }

    /// The longest decoded link accepted, in bytes (default 512). Longer
    /// links are refused with [`Refusal::TooLong`] before anything is
    /// allocated for them.
    pub fn max_length(mut self, bytes: usize) -> Self {
        self.policy_mut().max_len = bytes;
        self
    }

    /// What happens to a request whose link or query is present but
    /// refused: [`Forward`] (the default) hands it on with its
    /// [`Refusal`]; [`BadRequest`](crate::BadRequest) answers
    /// `400 Bad Request` without calling the inner service.
    pub fn on_refused<R2>(self, mode: R2) -> PortalLinkLayer<R2> {
        PortalLinkLayer {
            policy: self.policy,
            on_refused: mode,
        }
    }

    /// Answers a refused link or query with the response `respond` builds
    /// from the [`Refusal`] and the request's parts, without calling the
    /// inner service. The parts no longer carry the link, unless
    /// [`strip_link(false)`](Self::strip_link) keeps it in the URI: then
    /// never echo or log `parts.uri`. The response's `Referrer-Policy` is
    /// held to the layer's rule, whatever the closure sets.
    ///
    /// ```
    /// use http::{Response, StatusCode};
    /// use tower_portal_link::PortalLinkLayer;
    ///
    /// let layer = PortalLinkLayer::new().refusal_response(|refusal, parts| {
    ///     let mut res = Response::new(format!("{} refused: {}", parts.uri.path(), refusal.code()));
    ///     *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
    ///     res
    /// });
    /// # let _ = layer;
    /// ```
    pub fn refusal_response<F, ResBody>(self, respond: F) -> PortalLinkLayer<RespondWith<F>>
    where
        F: Fn(Refusal, &http::request::Parts) -> http::Response<ResBody> + Clone,
    {
        self.on_refused(RespondWith(respond))
    }

    /// Calls `observe` once for each refused link or query, with the
    /// reason and never the link: for metrics, such as a counter per
    /// [`Refusal::code`]. Whatever it does, the refused link is not handed
    /// on.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU64, Ordering};
    /// use std::sync::Arc;
    /// use tower_portal_link::PortalLinkLayer;
    ///
    /// let refused = Arc::new(AtomicU64::new(0));
    /// let counter = Arc::clone(&refused);
    /// let layer = PortalLinkLayer::new().observe_refusals(move |_refusal| {
    ///     counter.fetch_add(1, Ordering::Relaxed);
    /// });
    /// assert!(layer.target_from_query("crylk=https%3a%2f%2fevilproabono.com%2f").is_err());
    /// # let _ = refused;
    /// ```
    ///
    /// [`target_from_query`](Self::target_from_query) does not call it:
    /// only requests through the layer do.
    pub fn observe_refusals<F>(mut self, observe: F) -> Self
    where
        F: Fn(Refusal) + Send + Sync + 'static,
    {
        self.policy_mut().observer = Some(Arc::new(observe));
        self
    }

    /// A [`PortalCspLayer`](crate::PortalCspLayer) whose frame sources are
    /// exactly this layer's allowed origins:
    /// `PortalCspLayer::new().frame_src(<allowed origins>)`. Extend it
    /// with the page's `hosted-home` fallback and, for In-Site, portal.js,
    /// then put it on the page's route:
    ///
    /// ```
    /// use tower_portal_link::PortalLinkLayer;
    ///
    /// let layer = PortalLinkLayer::new().allowed_origins(["https://mon-app.via.proabono.com"]);
    /// let csp = layer
    ///     .csp()
    ///     .fallback("https://demo-eur.proabono.com/portal-anon")
    ///     .in_site();
    /// # let _ = csp;
    /// ```
    ///
    /// See the [`csp` module](crate::csp) for what it does to each page.
    pub fn csp(&self) -> crate::PortalCspLayer {
        let sources: Vec<String> = self.policy.origins.iter().map(|o| o.to_string()).collect();
        // An origin pattern is always a valid CSP host source.
        crate::PortalCspLayer::new().frame_src(sources)
    }

    /// The verdict this layer reaches for a raw query string (the part of
    /// the URI after `?`, still encoded), for code outside tower: as
    /// [`target_from_query`](crate::target_from_query), with this layer's
    /// parameters and origins.
    ///
    /// ```
    /// use tower_portal_link::PortalLinkLayer;
    ///
    /// let layer = PortalLinkLayer::new().link_parameter("link");
    /// let target = layer
    ///     .target_from_query("link=https%3A%2F%2Fdemo-eur.proabono.com%2Fportal-anon")
    ///     .unwrap()
    ///     .unwrap();
    /// assert_eq!(target.as_str(), "https://demo-eur.proabono.com/portal-anon");
    /// ```
    pub fn target_from_query(&self, query: &str) -> Result<Option<PortalTarget>, Refusal> {
        self.policy.target_from_query(query)
    }

    /// The `Content-Security-Policy` directive that lets a page frame
    /// exactly what this layer accepts, and nothing else: the allowed
    /// origins, in order (`frame-src 'none'` for an empty list).
    ///
    /// For a page's policy written by hand; [`csp`](Self::csp) is the
    /// layer that merges the same origins (and your `hosted-home`
    /// fallback's, with [`fallback`](crate::PortalCspLayer::fallback))
    /// into every response's policy.
    ///
    /// ```
    /// use tower_portal_link::PortalLinkLayer;
    ///
    /// assert_eq!(
    ///     PortalLinkLayer::new().frame_src(),
    ///     "frame-src https://proabono.com https://*.proabono.com",
    /// );
    /// ```
    pub fn frame_src(&self) -> String {
        self.policy.frame_src()
    }

    /// Validates an already decoded link (read from a database, say) with
    /// this layer's rules 2 to 7.
    pub fn validate_link(&self, link: &str) -> Result<PortalTarget, Refusal> {
        self.policy.validate_decoded(link)
    }
}

impl<S, R: Clone> Layer<S> for PortalLinkLayer<R> {
    type Service = PortalLink<S, R>;

    fn layer(&self, inner: S) -> Self::Service {
        PortalLink::from_parts(inner, Arc::clone(&self.policy), self.on_refused.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_is_cheap_and_shareable() {
        fn assert<T: Clone + Send + Sync + std::fmt::Debug + 'static>() {}
        assert::<PortalLinkLayer>();
        let a = PortalLinkLayer::new();
        let b = a.clone();
        assert!(Arc::ptr_eq(&a.policy, &b.policy));
    }

    #[test]
    fn builders_do_not_touch_other_clones() {
        let a = PortalLinkLayer::new();
        let b = a.clone().allow_origin("https://billing.example.com");
        assert_eq!(a.policy.origins.len(), 2);
        assert_eq!(b.policy.origins.len(), 3);
    }

    #[test]
    fn a_local_sandbox_widens_nothing_else() {
        let layer = PortalLinkLayer::new().allow_origin("http://localhost:3000");
        let verdict = |link: &str| layer.validate_link(link).map(|t| t.to_string());
        assert_eq!(
            verdict("http://localhost:3000/portal").unwrap(),
            "http://localhost:3000/portal"
        );
        assert_eq!(
            verdict("https://a.proabono.com/").unwrap(),
            "https://a.proabono.com/"
        );
        assert_eq!(
            verdict("http://a.proabono.com/"),
            Err(Refusal::HostNotAllowed)
        );
        assert_eq!(
            verdict("https://a.proabono.com:3000/"),
            Err(Refusal::PortNotAllowed)
        );
        assert_eq!(verdict("http://localhost/"), Err(Refusal::PortNotAllowed));
        assert_eq!(
            verdict("https://localhost:3000/"),
            Err(Refusal::HostNotAllowed)
        );
        assert_eq!(
            verdict("http://a.localhost:3000/"),
            Err(Refusal::HostNotAllowed)
        );
    }

    #[test]
    fn custom_policy() {
        let layer = PortalLinkLayer::new()
            .link_parameter("link")
            .allowed_origins(["https://*.Example.com", "http://localhost:8080"])
            .max_length(64);
        let ok = |q: &str| layer.target_from_query(q).map(|t| t.map(|t| t.to_string()));
        assert_eq!(
            ok("link=http%3A%2F%2Flocalhost%3A8080%2Fx")
                .unwrap()
                .unwrap(),
            "http://localhost:8080/x"
        );
        assert_eq!(
            ok("link=https://a.EXAMPLE.com/").unwrap().unwrap(),
            "https://a.example.com/"
        );
        assert_eq!(ok("crylk=https://a.example.com/"), Ok(None));
        assert_eq!(
            ok("link=https://example.com/"),
            Err(Refusal::HostNotAllowed)
        );
        assert_eq!(
            ok("link=https://proabono.com/"),
            Err(Refusal::HostNotAllowed)
        );
        assert_eq!(
            ok("link=https://a.example.com:8080/"),
            Err(Refusal::PortNotAllowed)
        );
        let long = format!("link=https://a.example.com/{}", "a".repeat(64));
        assert_eq!(ok(&long), Err(Refusal::TooLong { max: 64 }));
    }

    #[test]
    fn one_name_for_both_parameters_is_refused_in_either_order() {
        use crate::InvalidParameterKind::SameAsOther;
        let kind = |r: Result<PortalLinkLayer, InvalidParameter>| r.unwrap_err().kind();
        assert_eq!(
            kind(PortalLinkLayer::new().try_link_parameter("pa_query")),
            SameAsOther
        );
        assert_eq!(
            kind(PortalLinkLayer::new().try_in_site_parameter("crylk")),
            SameAsOther
        );
        let renamed = PortalLinkLayer::new().link_parameter("link");
        assert_eq!(
            kind(renamed.clone().try_in_site_parameter("link")),
            SameAsOther
        );
        // The old link name is free once the link has another.
        let swapped = renamed
            .in_site_parameter("crylk")
            .link_parameter("pa_query");
        assert_eq!(swapped.policy.names(), [&b"pa_query"[..], b"crylk"]);
        for panics in [
            std::panic::catch_unwind(|| PortalLinkLayer::new().link_parameter("pa_query")),
            std::panic::catch_unwind(|| PortalLinkLayer::new().in_site_parameter("crylk")),
            std::panic::catch_unwind(|| PortalLinkLayer::new().link_parameter("")),
        ] {
            let message = panics.unwrap_err().downcast::<String>().unwrap();
            assert!(
                message.starts_with("tower-portal-link: invalid parameter name"),
                "{message}"
            );
        }
    }

    #[test]
    fn invalid_origins_are_refused_at_configuration() {
        let error = PortalLinkLayer::new()
            .try_allow_origin("http://127.1:3001")
            .unwrap_err();
        assert_eq!(error.kind(), crate::InvalidOriginKind::IpAddress);
        let panic =
            std::panic::catch_unwind(|| PortalLinkLayer::new().allow_origin("https://*.com"))
                .unwrap_err();
        let message = panic.downcast_ref::<String>().unwrap();
        assert!(message.contains("\"https://*.com\""), "{message}");
        assert!(PortalLinkLayer::new()
            .try_allowed_origins(["https://a.example.com", "ftp://a.example.com"])
            .is_err());
        let none = PortalLinkLayer::new().allowed_origins(Vec::<String>::new());
        assert_eq!(none.frame_src(), "frame-src 'none'");
        assert_eq!(
            none.validate_link("https://a.proabono.com/"),
            Err(Refusal::SchemeNotAllowed)
        );
    }
}
