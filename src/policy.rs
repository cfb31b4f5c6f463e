//! What the layer accepts: the configuration shared by every clone.

use std::borrow::Cow;
use std::fmt::{self, Write as _};
use std::sync::Arc;

use http::HeaderName;

use crate::origin::{OriginPattern, Scheme};
use crate::query::{first_named, sought, Sought};
use crate::Refusal;

/// The validation policy. Kept behind an `Arc` by the layer and the service,
/// so cloning either is a reference-count increment.
///
/// Everything is `Cow<'static, _>` so that [`Policy::PROABONO`] is a constant:
/// the free functions use it without building (or allocating) anything.
#[derive(Clone)]
pub(crate) struct Policy {
    /// The parameter that carries a link (`crylk`).
    param: Cow<'static, str>,
    /// The parameter that carries an In-Site query (`pa_query`).
    query_param: Cow<'static, str>,
    /// What the scan must know of the two names; the setters keep it in
    /// step with them.
    sought: Sought<2>,
    /// A request header that may carry the link too, encoded as in a query.
    pub(crate) header: Option<HeaderName>,
    /// Remove the parameter from the URI (and the header from the request)
    /// before calling the inner service.
    pub(crate) strip: bool,
    /// A link is accepted when its scheme, host and port match one of them.
    pub(crate) origins: Cow<'static, [OriginPattern]>,
    pub(crate) max_len: usize,
    /// Called once for each refusal, for metrics.
    pub(crate) observer: Option<Observer>,
}

/// What [`Policy::observer`] holds: shared by every clone of the layer.
pub(crate) type Observer = Arc<dyn Fn(Refusal) + Send + Sync>;

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("param", &self.param)
            .field("query_param", &self.query_param)
            .field("header", &self.header)
            .field("strip", &self.strip)
            .field("origins", &self.origins)
            .field("max_len", &self.max_len)
            .field("observer", &self.observer.as_ref().map(|_| "Fn(Refusal)"))
            .finish()
    }
}

/// The default name of the parameter that carries a link.
pub(crate) const DEFAULT_PARAM: &str = "crylk";
/// The default name of the parameter that carries an In-Site query.
pub(crate) const DEFAULT_QUERY_PARAM: &str = "pa_query";
/// The default maximum length of a link, in bytes: four times ProAbono's
/// longest (about 130 bytes), and what bounds the cost of validating one
/// (`benches/README.md`).
pub(crate) const DEFAULT_MAX_LEN: usize = 512;

impl Policy {
    /// ProAbono's policy: `crylk`, `https://proabono.com` and
    /// `https://*.proabono.com`, at most 512 bytes.
    pub(crate) const PROABONO: Policy = Policy {
        param: Cow::Borrowed(DEFAULT_PARAM),
        query_param: Cow::Borrowed(DEFAULT_QUERY_PARAM),
        sought: sought([DEFAULT_PARAM.as_bytes(), DEFAULT_QUERY_PARAM.as_bytes()]),
        header: None,
        strip: true,
        origins: Cow::Borrowed(&[
            OriginPattern::https_exact("proabono.com"),
            OriginPattern::https_subdomains("proabono.com"),
        ]),
        max_len: DEFAULT_MAX_LEN,
        observer: None,
    };

    /// The names the scan looks for: the link's, then the query's.
    #[inline]
    pub(crate) fn names(&self) -> [&[u8]; 2] {
        [self.param.as_bytes(), self.query_param.as_bytes()]
    }

    /// What the scan must know of [`Policy::names`].
    #[inline]
    pub(crate) fn sought(&self) -> &Sought<2> {
        &self.sought
    }

    /// The parameter that carries a link.
    pub(crate) fn param(&self) -> &str {
        &self.param
    }

    /// The parameter that carries an In-Site query.
    pub(crate) fn query_param(&self) -> &str {
        &self.query_param
    }

    /// Renames the parameter that carries a link.
    pub(crate) fn set_param(&mut self, name: String) {
        self.param = Cow::Owned(name);
        self.sought = sought(self.names());
    }

    /// Renames the parameter that carries an In-Site query.
    pub(crate) fn set_query_param(&mut self, name: String) {
        self.query_param = Cow::Owned(name);
        self.sought = sought(self.names());
    }

    /// Where the first pair of `query` named after one of the parameters
    /// starts, if there is one.
    #[inline]
    pub(crate) fn first_named(&self, query: &str) -> Option<usize> {
        first_named(query.as_bytes(), self.names(), &self.sought)
    }

    /// Rules 5 and 6: some allowed origin has this scheme, host and port.
    /// A host that matches under another port is refused for its port.
    pub(crate) fn origin_allowed(
        &self,
        scheme: Scheme,
        host: &str,
        port: u16,
    ) -> Result<(), Refusal> {
        let mut refusal = Refusal::HostNotAllowed;
        for origin in self.origins.iter() {
            if origin.scheme() != scheme || !origin.matches_host(host) {
                continue;
            }
            if origin.matches(scheme, host, port) {
                return Ok(());
            }
            refusal = Refusal::PortNotAllowed;
        }
        Err(refusal)
    }

    /// Whether some allowed origin has this scheme (rule 3).
    pub(crate) fn scheme_allowed(&self, scheme: Scheme) -> bool {
        self.origins.iter().any(|o| o.scheme() == scheme)
    }

    /// Adds `origin` unless it is listed already.
    pub(crate) fn add_origin(&mut self, origin: OriginPattern) {
        if !self.origins.contains(&origin) {
            self.origins.to_mut().push(origin);
        }
    }

    /// The CSP `frame-src` directive that allows exactly the configured
    /// origins, in their order; `'none'` for an empty list.
    pub(crate) fn frame_src(&self) -> String {
        let mut directive = String::from("frame-src");
        for origin in self.origins.iter() {
            let _ = write!(directive, " {origin}");
        }
        if self.origins.is_empty() {
            directive.push_str(" 'none'");
        }
        directive
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(origins: &[&str]) -> Policy {
        let mut policy = Policy::PROABONO;
        policy.origins = Cow::Owned(origins.iter().map(|o| o.parse().unwrap()).collect());
        policy
    }

    #[test]
    fn frame_src_lists_exactly_the_origins() {
        assert_eq!(
            Policy::PROABONO.frame_src(),
            "frame-src https://proabono.com https://*.proabono.com"
        );
        assert_eq!(policy(&[]).frame_src(), "frame-src 'none'");
        assert_eq!(
            policy(&[
                "http://localhost:3000",
                "https://mon-app.via.proabono.com:443"
            ])
            .frame_src(),
            "frame-src http://localhost:3000 https://mon-app.via.proabono.com"
        );
    }

    #[test]
    fn each_origin_keeps_its_own_scheme_and_port() {
        let mut p = Policy::PROABONO;
        p.add_origin("http://localhost:3000".parse().unwrap());
        p.add_origin("http://localhost:3000".parse().unwrap());
        assert_eq!(p.origins.len(), 3);
        assert!(p.scheme_allowed(Scheme::Http));
        assert_eq!(p.origin_allowed(Scheme::Http, "localhost", 3000), Ok(()));
        assert_eq!(
            p.origin_allowed(Scheme::Https, "a.proabono.com", 443),
            Ok(())
        );
        assert_eq!(
            p.origin_allowed(Scheme::Http, "a.proabono.com", 80),
            Err(Refusal::HostNotAllowed)
        );
        assert_eq!(
            p.origin_allowed(Scheme::Https, "a.proabono.com", 3000),
            Err(Refusal::PortNotAllowed)
        );
        assert_eq!(
            p.origin_allowed(Scheme::Https, "localhost", 3000),
            Err(Refusal::HostNotAllowed)
        );
        assert_eq!(
            p.origin_allowed(Scheme::Http, "localhost", 80),
            Err(Refusal::PortNotAllowed)
        );
        assert!(!Policy::PROABONO.scheme_allowed(Scheme::Http));
    }
}
