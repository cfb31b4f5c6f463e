//! The [`Layer`] and its builder methods.

use std::borrow::Cow;
use std::marker::PhantomData;
use std::sync::Arc;

use http::HeaderName;
use tower_layer::Layer;

use crate::policy::{config_host, config_param, Policy};
use crate::{Forward, OnRefused, PortalLink, PortalTarget, Refusal};

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
///     .allow_host("billing.example.com")
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
    // The mode is all in the type: only `BadRequest` needs `ResBody: Default`.
    pub(crate) on_refused: PhantomData<fn() -> R>,
}

impl Default for PortalLinkLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl PortalLinkLayer {
    /// ProAbono's policy: the `crylk` parameter, `https` links to
    /// `proabono.com` or any of its subdomains on the default port, at most
    /// 2048 bytes once decoded; a refused link is forwarded with its
    /// [`Refusal`] ([`Forward`]).
    pub fn new() -> Self {
        PortalLinkLayer {
            policy: Arc::new(Policy::PROABONO),
            on_refused: PhantomData,
        }
    }
}

impl<R> PortalLinkLayer<R> {
    fn policy_mut(&mut self) -> &mut Policy {
        Arc::make_mut(&mut self.policy)
    }

    /// The query parameter that carries the link (default `crylk`).
    ///
    /// Compared with each parameter's *decoded* name, as a form parser does.
    ///
    /// # Panics
    ///
    /// If `name` is empty or not printable ASCII without spaces.
    pub fn parameter(mut self, name: &str) -> Self {
        self.policy_mut().param = Cow::Owned(config_param(name));
        self
    }

    /// Also reads the link from the request header `name` (none by default),
    /// for clients that cannot put it in the query, such as gRPC and
    /// gRPC-web clients posting to `/package.Service/Method`.
    ///
    /// The header holds what the query parameter would (the link,
    /// percent-encoded) and is decoded and validated by the same rules. It
    /// must appear at most once, and when the query carries a link too, both
    /// must validate to the same link, or the request is refused as
    /// [`Refusal::Ambiguous`].
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
    /// parameters keeping their order and encoding, and the
    /// [header](Self::header). Access logs, `TraceLayer` spans and error
    /// reports downstream then never record the link; handlers read the
    /// [`PortalTarget`] instead.
    pub fn strip_from_uri(mut self, strip: bool) -> Self {
        self.policy_mut().strip = strip;
        self
    }

    /// Also allows `domain` and every subdomain of it (matched at a label
    /// boundary: `example.com` allows `a.example.com`, never
    /// `evilexample.com`). The default list is `proabono.com`.
    ///
    /// # Panics
    ///
    /// If `domain` is not a host name of at least two labels made of ASCII
    /// letters, digits and `-` (write international names in their `xn--`
    /// form).
    pub fn allow_domain(mut self, domain: &str) -> Self {
        let domain = config_host("domain", domain, 2);
        self.policy_mut().domains.to_mut().push(Cow::Owned(domain));
        self
    }

    /// Replaces the allowed domains (default `proabono.com`) with `domains`;
    /// an empty list leaves only the exact hosts of
    /// [`allow_host`](Self::allow_host).
    ///
    /// # Panics
    ///
    /// As [`allow_domain`](Self::allow_domain).
    pub fn allowed_domains<I, D>(mut self, domains: I) -> Self
    where
        I: IntoIterator<Item = D>,
        D: AsRef<str>,
    {
        let domains = domains
            .into_iter()
            .map(|d| Cow::Owned(config_host("domain", d.as_ref(), 2)))
            .collect();
        self.policy_mut().domains = Cow::Owned(domains);
        self
    }

    /// Also allows exactly `host`, not its subdomains (none by default).
    ///
    /// # Panics
    ///
    /// If `host` is not a host name made of ASCII letters, digits and `-`.
    pub fn allow_host(mut self, host: &str) -> Self {
        let host = config_host("host", host, 1);
        self.policy_mut().hosts.to_mut().push(Cow::Owned(host));
        self
    }

    /// Also accepts plain `http://` links (default `false`). For local
    /// sandboxes only: an `http` portal leaks the customer's session to the
    /// network.
    pub fn allow_http(mut self, allow: bool) -> Self {
        self.policy_mut().allow_http = allow;
        self
    }

    /// Also accepts links to `port` (by default only the scheme's default
    /// port: 443, or 80 for `http`).
    pub fn allow_port(mut self, port: u16) -> Self {
        let ports = self.policy_mut().ports.to_mut();
        if !ports.contains(&port) {
            ports.push(port);
        }
        self
    }

    /// The longest decoded link accepted, in bytes (default 2048). Longer
    /// links are refused with [`Refusal::TooLong`] before anything is
    /// allocated for them.
    pub fn max_length(mut self, bytes: usize) -> Self {
        self.policy_mut().max_len = bytes;
        self
    }

    /// What happens to a request whose link is present but refused:
    /// [`Forward`] (the default) hands it on with its [`Refusal`];
    /// [`BadRequest`](crate::BadRequest) answers `400 Bad Request` without
    /// calling the inner service.
    pub fn on_refused<R2: OnRefused>(self, _mode: R2) -> PortalLinkLayer<R2> {
        PortalLinkLayer {
            policy: self.policy,
            on_refused: PhantomData,
        }
    }

    /// The verdict this layer reaches for a raw query string (the part of
    /// the URI after `?`, still encoded), for code outside tower:
    /// `Ok(None)` when the parameter is absent.
    ///
    /// ```
    /// use tower_portal_link::PortalLinkLayer;
    ///
    /// let layer = PortalLinkLayer::new().parameter("link");
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
    /// exactly what this layer accepts, and nothing else.
    ///
    /// Send it with the page that shows the portal, so the browser itself
    /// refuses any other frame source; add your `hosted-home` fallback's
    /// origin when it is not a ProAbono host.
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

impl<S, R> Layer<S> for PortalLinkLayer<R> {
    type Service = PortalLink<S, R>;

    fn layer(&self, inner: S) -> Self::Service {
        PortalLink::from_policy(inner, Arc::clone(&self.policy))
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
        let b = a.clone().allow_domain("example.com");
        assert_eq!(a.policy.domains.len(), 1);
        assert_eq!(b.policy.domains.len(), 2);
    }

    #[test]
    fn custom_policy() {
        let layer = PortalLinkLayer::new()
            .parameter("link")
            .allowed_domains(["Example.com"])
            .allow_host("localhost")
            .allow_http(true)
            .allow_port(8080)
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
            ok("link=https://proabono.com/"),
            Err(Refusal::HostNotAllowed)
        );
        assert_eq!(
            ok("link=https://a.localhost/"),
            Err(Refusal::HostNotAllowed)
        );
        assert_eq!(
            ok("link=https://example.com:8081/"),
            Err(Refusal::PortNotAllowed)
        );
        let long = format!("link=https://example.com/{}", "a".repeat(64));
        assert_eq!(ok(&long), Err(Refusal::TooLong { max: 64 }));
    }
}
