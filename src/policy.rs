//! What the layer accepts: the configuration shared by every clone.

use std::borrow::Cow;
use std::fmt::Write as _;

use http::HeaderName;

/// The validation policy. Kept behind an `Arc` by the layer and the service,
/// so cloning either is a reference-count increment.
///
/// Everything is `Cow<'static, _>` so that [`Policy::PROABONO`] is a constant:
/// the free functions use it without building (or allocating) anything.
#[derive(Clone, Debug)]
pub(crate) struct Policy {
    pub(crate) param: Cow<'static, str>,
    /// A request header that may carry the link too, encoded as in a query.
    pub(crate) header: Option<HeaderName>,
    /// Remove the parameter from the URI (and the header from the request)
    /// before calling the inner service.
    pub(crate) strip: bool,
    /// Lower-case; each matches itself and its subdomains.
    pub(crate) domains: Cow<'static, [Cow<'static, str>]>,
    /// Lower-case; each matches only itself.
    pub(crate) hosts: Cow<'static, [Cow<'static, str>]>,
    pub(crate) allow_http: bool,
    /// Besides the scheme's default port, which is always allowed.
    pub(crate) ports: Cow<'static, [u16]>,
    pub(crate) max_len: usize,
}

/// The default name of the query parameter.
pub(crate) const DEFAULT_PARAM: &str = "crylk";
/// The default allowed domain.
pub(crate) const DEFAULT_DOMAIN: &str = "proabono.com";
/// The default maximum decoded length, in bytes.
pub(crate) const DEFAULT_MAX_LEN: usize = 2048;

impl Policy {
    /// ProAbono's policy: `crylk`, `proabono.com` and its subdomains, https on
    /// port 443 only, at most 2048 bytes.
    pub(crate) const PROABONO: Policy = Policy {
        param: Cow::Borrowed(DEFAULT_PARAM),
        header: None,
        strip: true,
        domains: Cow::Borrowed(&[Cow::Borrowed(DEFAULT_DOMAIN)]),
        hosts: Cow::Borrowed(&[]),
        allow_http: false,
        ports: Cow::Borrowed(&[]),
        max_len: DEFAULT_MAX_LEN,
    };

    pub(crate) fn host_allowed(&self, host: &str) -> bool {
        self.hosts.iter().any(|h| host.eq_ignore_ascii_case(h))
            || self.domains.iter().any(|d| is_same_or_subdomain(host, d))
    }

    pub(crate) fn port_allowed(&self, port: u16) -> bool {
        self.ports.contains(&port)
    }

    /// The CSP `frame-src` directive that allows exactly what this policy
    /// accepts: each allowed domain and its subdomains (CSP's `*.` matches
    /// subdomains only, so both are listed), each exact host, for each
    /// allowed scheme and port.
    pub(crate) fn frame_src(&self) -> String {
        let mut schemes = vec![("https", 443)];
        if self.allow_http {
            schemes.push(("http", 80));
        }
        let mut hosts: Vec<Cow<'_, str>> = Vec::new();
        for domain in self.domains.iter() {
            hosts.push(Cow::Borrowed(domain));
            hosts.push(Cow::Owned(format!("*.{domain}")));
        }
        hosts.extend(self.hosts.iter().map(|h| Cow::Borrowed(&**h)));

        let mut directive = String::from("frame-src");
        for &(scheme, default_port) in &schemes {
            for host in &hosts {
                let _ = write!(directive, " {scheme}://{host}");
                for &port in self.ports.iter().filter(|&&p| p != default_port) {
                    let _ = write!(directive, " {scheme}://{host}:{port}");
                }
            }
        }
        if hosts.is_empty() {
            directive.push_str(" 'none'");
        }
        directive
    }
}

/// `host` equals `domain` or ends with `.` + `domain`, ignoring ASCII case:
/// the match is at a label boundary, so `evilproabono.com` is not under
/// `proabono.com`.
fn is_same_or_subdomain(host: &str, domain: &str) -> bool {
    let (host, domain) = (host.as_bytes(), domain.as_bytes());
    if host.len() == domain.len() {
        return host.eq_ignore_ascii_case(domain);
    }
    match host.len().checked_sub(domain.len() + 1) {
        Some(dot) => host[dot] == b'.' && host[dot + 1..].eq_ignore_ascii_case(domain),
        None => false,
    }
}

/// Checks a host name given to a builder method and lower-cases it.
///
/// Configuration is trusted code, but a typo here would silently widen or
/// break the allow-list, so it is held to the same shape as the hosts it
/// will be compared with (rules 4 and 5), and domains must have at least two
/// labels (`com` alone would allow half the web).
pub(crate) fn config_host(what: &str, name: &str, min_labels: usize) -> String {
    let labels = name.split('.').count();
    let well_formed = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        && name.split('.').all(|label| !label.is_empty());
    assert!(
        well_formed && labels >= min_labels,
        "tower-portal-link: {what} {name:?} is not a host name of at least {min_labels} \
         label(s) made of ASCII letters, digits and '-'"
    );
    name.to_ascii_lowercase()
}

/// Checks a parameter name given to a builder method.
///
/// Non-empty ASCII without whitespace or controls: that keeps the scanner's
/// byte comparison exactly equivalent to a lossy UTF-8 form parser.
pub(crate) fn config_param(name: &str) -> String {
    assert!(
        !name.is_empty() && name.bytes().all(|b| b.is_ascii_graphic()),
        "tower-portal-link: parameter name {name:?} must be non-empty printable ASCII \
         without spaces"
    );
    name.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subdomain_matching_is_at_a_label_boundary() {
        let d = "proabono.com";
        assert!(is_same_or_subdomain("proabono.com", d));
        assert!(is_same_or_subdomain("PROABONO.COM", d));
        assert!(is_same_or_subdomain("a.proabono.com", d));
        assert!(is_same_or_subdomain("a.b.ProAbono.com", d));
        assert!(!is_same_or_subdomain("evilproabono.com", d));
        assert!(!is_same_or_subdomain("proabono.com.evil.com", d));
        assert!(!is_same_or_subdomain("roabono.com", d));
        assert!(!is_same_or_subdomain(".proabono.co", d));
        assert!(!is_same_or_subdomain("", d));
        assert!(!is_same_or_subdomain("com", d));
    }

    #[test]
    fn config_hosts_are_checked_and_lowercased() {
        assert_eq!(config_host("domain", "Example.COM", 2), "example.com");
        assert_eq!(config_host("host", "localhost", 1), "localhost");
        for bad in [
            "com",
            "",
            ".example.com",
            "example.com.",
            "a..b",
            "ex ample.com",
            "é.com",
        ] {
            let r = std::panic::catch_unwind(|| config_host("domain", bad, 2));
            assert!(r.is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn frame_src_lists_what_is_allowed() {
        assert_eq!(
            Policy::PROABONO.frame_src(),
            "frame-src https://proabono.com https://*.proabono.com"
        );
        let mut policy = Policy::PROABONO;
        policy.domains = Cow::Borrowed(&[]);
        assert_eq!(policy.frame_src(), "frame-src 'none'");
        policy.hosts = Cow::Owned(vec![Cow::Borrowed("localhost")]);
        policy.allow_http = true;
        policy.ports = Cow::Owned(vec![8080, 443]);
        assert_eq!(
            policy.frame_src(),
            "frame-src https://localhost https://localhost:8080 \
             http://localhost http://localhost:8080 http://localhost:443"
        );
    }

    #[test]
    fn config_params_are_checked() {
        assert_eq!(config_param("pa_link"), "pa_link");
        for bad in ["", "a b", "crylk\n", "é"] {
            assert!(
                std::panic::catch_unwind(|| config_param(bad)).is_err(),
                "{bad:?}"
            );
        }
    }
}
