//! Allowed origins, written as Content-Security-Policy source expressions.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

/// One allowed origin of portal links, written as a Content-Security-Policy
/// source expression: `scheme://host[:port]`.
///
/// - The scheme is `https` or `http`.
/// - The host is exact (`mon-app.via.proabono.com`), or `*.` followed by a
///   domain of at least two labels (`*.proabono.com`), which matches every
///   subdomain of it at a label boundary, never the domain itself: list
///   `https://proabono.com` too to allow it.
/// - For local development, the host may be an IPv4 address in dotted
///   decimal (`http://127.0.0.1:3001`), matched exactly. IPv6 addresses
///   are refused: CSP has no source for them. Use `localhost` instead.
/// - The port is optional and defaults to the scheme's (443 or 80).
///
/// This is the language of [`frame_src`](crate::PortalLinkLayer::frame_src),
/// so the browser enforces exactly what the layer accepts. Patterns are
/// checked when they are parsed: an IPv6 address or an IPv4 address not in
/// dotted decimal, userinfo, a path or query,
/// another scheme, a bare `*`, a wildcard anywhere but in front, `*.` on a
/// single label (`*.com`) or on a domain with no room for a subdomain, a
/// host that breaks DNS limits or is not plain ASCII (write international
/// names in their `xn--` form) are refused with an [`InvalidOrigin`].
///
/// Public suffixes are **not** detected: `https://*.co.uk` and
/// `https://*.github.io` are accepted, and would accept every site under
/// them. Write a wildcard only over a domain you trust in full.
///
/// ```
/// use tower_portal_link::OriginPattern;
///
/// let pattern: OriginPattern = "HTTPS://*.ProAbono.com:443".parse().unwrap();
/// assert_eq!(pattern.to_string(), "https://*.proabono.com");
/// assert!("https://*.com".parse::<OriginPattern>().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct OriginPattern {
    scheme: Scheme,
    /// Lower-case; for a wildcard, the domain after `*.`.
    host: Cow<'static, str>,
    subdomains: bool,
    port: u16,
}

/// The two schemes a portal link may have.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) enum Scheme {
    Https,
    Http,
}

impl Scheme {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Scheme::Https => "https",
            Scheme::Http => "http",
        }
    }

    pub(crate) fn default_port(self) -> u16 {
        match self {
            Scheme::Https => 443,
            Scheme::Http => 80,
        }
    }
}

/// DNS limits (RFC 1035): longer names never resolve, and each byte more is
/// work for the IDNA processing of the URL parser.
pub(crate) const MAX_LABEL: usize = 63;
pub(crate) const MAX_HOST: usize = 253;

impl OriginPattern {
    /// `https://{domain}`, exactly; for the constant default policy.
    pub(crate) const fn https_exact(domain: &'static str) -> Self {
        OriginPattern {
            scheme: Scheme::Https,
            host: Cow::Borrowed(domain),
            subdomains: false,
            port: 443,
        }
    }

    /// `https://*.{domain}`; for the constant default policy.
    pub(crate) const fn https_subdomains(domain: &'static str) -> Self {
        OriginPattern {
            scheme: Scheme::Https,
            host: Cow::Borrowed(domain),
            subdomains: true,
            port: 443,
        }
    }

    /// Parses and checks a pattern; see the type's documentation.
    pub fn parse(pattern: &str) -> Result<Self, InvalidOrigin> {
        let fail = |kind| {
            Err(InvalidOrigin {
                pattern: pattern.to_owned(),
                kind,
            })
        };
        let Some((scheme, rest)) = pattern.split_once("://") else {
            return fail(InvalidOriginKind::Scheme);
        };
        let scheme = if scheme.eq_ignore_ascii_case("https") {
            Scheme::Https
        } else if scheme.eq_ignore_ascii_case("http") {
            Scheme::Http
        } else {
            return fail(InvalidOriginKind::Scheme);
        };
        if rest.contains('@') {
            return fail(InvalidOriginKind::Userinfo);
        }
        if rest.contains(['/', '?', '#']) {
            return fail(InvalidOriginKind::PathOrQuery);
        }
        let (host, port) = match rest.rsplit_once(':') {
            // `[` would start an IPv6 literal, whose colons are not a port.
            _ if rest.starts_with('[') => return fail(InvalidOriginKind::IpAddress),
            Some((host, port)) => match parse_port(port) {
                Some(port) => (host, port),
                None => return fail(InvalidOriginKind::Port),
            },
            None => (rest, scheme.default_port()),
        };
        let (subdomains, domain) = match host.strip_prefix("*.") {
            Some(domain) => (true, domain),
            None => (false, host),
        };
        if domain.contains('*') {
            return fail(InvalidOriginKind::Wildcard);
        }
        if !is_host_name(domain) {
            return fail(InvalidOriginKind::Host);
        }
        if ends_in_a_number(domain) {
            // A WHATWG parser reads it as an IPv4 address, never as a
            // domain. Only the form it serializes to can be matched as
            // text, and only exactly: `*.` over an address means nothing.
            if subdomains || !is_canonical_ipv4(domain) {
                return fail(InvalidOriginKind::IpAddress);
            }
        }
        if subdomains && !domain.contains('.') {
            // `*.com`: every site under a top-level domain.
            return fail(InvalidOriginKind::Wildcard);
        }
        if subdomains && domain.len() > MAX_HOST - 2 {
            // Not even `a.` fits in front of it: the pattern could never
            // match, and a pattern that can never match is a mistake.
            return fail(InvalidOriginKind::Wildcard);
        }
        let domain = domain.to_ascii_lowercase();
        if domain.split('.').any(|label| is_punycode(label.as_bytes())) {
            // What a browser makes of it must be the name itself, or no
            // link could ever match it.
            let canonical = url::Host::parse(&domain).ok();
            if !matches!(canonical, Some(url::Host::Domain(ref d)) if *d == domain) {
                return fail(InvalidOriginKind::Host);
            }
        }
        Ok(OriginPattern {
            scheme,
            host: Cow::Owned(domain),
            subdomains,
            port,
        })
    }

    /// Whether a link's origin matches. `host` has passed the authority
    /// rule (ASCII, no empty label); case does not matter.
    pub(crate) fn matches(&self, scheme: Scheme, host: &str, port: u16) -> bool {
        self.scheme == scheme && self.port == port && self.matches_host(host)
    }

    pub(crate) fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// Whether `host` is this pattern's host, or a subdomain of it for a
    /// wildcard: at a label boundary, so `evilproabono.com` is not under
    /// `*.proabono.com`.
    ///
    /// The labels a wildcard matches are never punycode (`xn--`): a URL
    /// parser runs a host with one through the whole of IDNA, whose
    /// punycode decoder takes time quadratic in a label's length, and an
    /// encoded name is a look-alike of anything. List such a host exactly
    /// (its IDNA is then checked once, at configuration).
    pub(crate) fn matches_host(&self, host: &str) -> bool {
        let (host, domain) = (host.as_bytes(), self.host.as_bytes());
        if !self.subdomains {
            return host.eq_ignore_ascii_case(domain);
        }
        match host.len().checked_sub(domain.len() + 1) {
            // A label before the dot, never an empty one.
            Some(dot) => {
                dot > 0
                    && host[dot] == b'.'
                    && host[dot + 1..].eq_ignore_ascii_case(domain)
                    && !has_punycode_label(&host[..dot])
            }
            None => false,
        }
    }
}

/// Whether one of the dot-separated `labels` is punycode: an `xn--` (in
/// any case) at the start of the host or after a dot. Looked for from the
/// `-`s, which most hosts have few of, rather than label by label.
fn has_punycode_label(labels: &[u8]) -> bool {
    memchr::memchr_iter(b'-', labels).any(|i| {
        i >= 2
            && labels.get(i + 1) == Some(&b'-')
            && labels[i - 2..i].eq_ignore_ascii_case(b"xn")
            && (i == 2 || labels[i - 3] == b'.')
    })
}

/// A label that IDNA decodes as punycode.
fn is_punycode(label: &[u8]) -> bool {
    label
        .get(..4)
        .is_some_and(|prefix| prefix.eq_ignore_ascii_case(b"xn--"))
}

/// Letters, digits and `-` in non-empty labels separated by dots, within
/// DNS limits: what rule 4 lets through for a link's host.
fn is_host_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= MAX_HOST
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= MAX_LABEL
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// WHATWG's "ends in a number": the last label is all digits, or `0x`
/// followed by hex digits, and the host parses as IPv4 (or fails).
fn ends_in_a_number(host: &str) -> bool {
    let last = host.rsplit('.').next().unwrap_or_default();
    let hex = last
        .strip_prefix("0x")
        .or_else(|| last.strip_prefix("0X"))
        .is_some_and(|digits| digits.bytes().all(|b| b.is_ascii_hexdigit()));
    hex || (!last.is_empty() && last.bytes().all(|b| b.is_ascii_digit()))
}

/// Four decimal numbers from 0 to 255, without leading zeros: the one
/// spelling of an IPv4 address that the URL parser leaves as it is, and
/// the one a CSP host source matches.
fn is_canonical_ipv4(host: &str) -> bool {
    host.parse::<std::net::Ipv4Addr>()
        .is_ok_and(|addr| addr.to_string() == host)
}

/// One to five digits without a leading zero, from 1 to 65535.
fn parse_port(port: &str) -> Option<u16> {
    if port.is_empty() || port.len() > 5 || port.starts_with('0') {
        return None;
    }
    if !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    port.parse().ok()
}

impl FromStr for OriginPattern {
    type Err = InvalidOrigin;

    fn from_str(pattern: &str) -> Result<Self, Self::Err> {
        Self::parse(pattern)
    }
}

impl fmt::Display for OriginPattern {
    /// The canonical source expression: lower-case, the default port left
    /// out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let wildcard = if self.subdomains { "*." } else { "" };
        write!(f, "{}://{wildcard}{}", self.scheme.name(), self.host)?;
        if self.port != self.scheme.default_port() {
            write!(f, ":{}", self.port)?;
        }
        Ok(())
    }
}

/// An origin pattern refused at configuration: see [`OriginPattern`].
///
/// Its message names the pattern: configuration is not a secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidOrigin {
    pattern: String,
    kind: InvalidOriginKind,
}

impl InvalidOrigin {
    /// The pattern as given.
    pub fn pattern(&self) -> &str {
        &self.pattern
    }

    /// What is wrong with it.
    pub fn kind(&self) -> InvalidOriginKind {
        self.kind
    }
}

/// What is wrong with an [`InvalidOrigin`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InvalidOriginKind {
    /// No `scheme://`, or a scheme other than `https` and `http`.
    Scheme,
    /// Userinfo (`user@`): links with credentials are always refused.
    Userinfo,
    /// A path, query or fragment: an origin is scheme, host and port.
    PathOrQuery,
    /// An IP address other than an exact IPv4 address in dotted decimal
    /// (`127.0.0.1`): another spelling (`127.1`, `0x7f.0.0.1`), `*.` in
    /// front of one, or an IPv6 address, which no CSP source can name (use
    /// `localhost`).
    IpAddress,
    /// A bare `*`, a `*` anywhere but a leading `*.`, `*.` on a single
    /// label (`*.com`), which would allow far too much, or `*.` on a domain
    /// of more than 251 bytes, under which no subdomain fits in 253.
    ///
    /// Public suffixes of two labels or more (`*.co.uk`, `*.github.io`)
    /// are **not** detected: the crate ships no public suffix list. Never
    /// write a wildcard over a domain you do not control.
    Wildcard,
    /// Not a host name of ASCII letters, digits and `-` in non-empty labels
    /// of at most 63 bytes, 253 in all.
    Host,
    /// Not a port from 1 to 65535 written without a leading zero.
    Port,
}

impl fmt::Display for InvalidOrigin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let why = match self.kind {
            InvalidOriginKind::Scheme => "the scheme must be https:// or http://",
            InvalidOriginKind::Userinfo => "an origin has no userinfo",
            InvalidOriginKind::PathOrQuery => "an origin has no path, query or fragment",
            InvalidOriginKind::IpAddress => {
                "an IP address must be IPv4 in dotted decimal (`127.0.0.1`), exact, never \
                 under `*.`; IPv6 cannot be named by a CSP source: use `localhost`"
            }
            InvalidOriginKind::Wildcard => {
                "a wildcard is only allowed as `*.` in front of a domain of two labels or more, \
                 with room for a subdomain (at most 251 bytes)"
            }
            InvalidOriginKind::Host => {
                "the host must be ASCII letters, digits and '-' in dot-separated labels \
                 (at most 63 bytes each, 253 in all)"
            }
            InvalidOriginKind::Port => "the port must be a number from 1 to 65535",
        };
        write!(f, "invalid origin pattern {:?}: {why}", self.pattern)
    }
}

impl std::error::Error for InvalidOrigin {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn punycode_labels_are_found_wherever_they_are() {
        for labels in [
            "xn--a",
            "XN--a",
            "a.xn--b",
            "a.Xn--b.c",
            "xn--",
            "a.xN--",
            "a-b.xn--c-d",
        ] {
            let by_label = labels.split('.').any(|l| is_punycode(l.as_bytes()));
            assert!(by_label, "{labels}");
            assert!(has_punycode_label(labels.as_bytes()), "{labels}");
        }
        for labels in [
            "axn--b", "a.bxn--", "xn-", "x--n", "a-xn--b", "xn-.-", "n--a", "-", "",
        ] {
            let by_label = labels.split('.').any(|l| is_punycode(l.as_bytes()));
            assert!(!by_label, "{labels}");
            assert!(!has_punycode_label(labels.as_bytes()), "{labels}");
        }
    }

    proptest::proptest! {
        #[test]
        fn punycode_labels_as_label_by_label(labels in "[xXnN.a-]{0,24}") {
            proptest::prop_assert_eq!(
                has_punycode_label(labels.as_bytes()),
                labels.split('.').any(|l| is_punycode(l.as_bytes())),
                "{:?}", labels
            );
        }
    }

    fn canonical(pattern: &str) -> String {
        OriginPattern::parse(pattern).unwrap().to_string()
    }

    fn refused(pattern: &str) -> InvalidOriginKind {
        match OriginPattern::parse(pattern) {
            Ok(p) => panic!("{pattern:?} accepted as {p}"),
            Err(e) => {
                assert_eq!(e.pattern(), pattern);
                assert!(e.to_string().contains(&format!("{pattern:?}")));
                e.kind()
            }
        }
    }

    #[test]
    fn canonical_forms() {
        assert_eq!(canonical("https://proabono.com"), "https://proabono.com");
        assert_eq!(
            canonical("HTTPS://*.ProAbono.COM"),
            "https://*.proabono.com"
        );
        assert_eq!(canonical("https://a.b:443"), "https://a.b");
        assert_eq!(canonical("http://localhost:80"), "http://localhost");
        assert_eq!(canonical("http://localhost:3000"), "http://localhost:3000");
        assert_eq!(canonical("https://localhost:80"), "https://localhost:80");
        assert_eq!(
            canonical("https://xn--bcher-kva.example"),
            "https://xn--bcher-kva.example"
        );
        assert_eq!(canonical("https://*.co.uk"), "https://*.co.uk");
        assert_eq!(canonical("http://127.0.0.1:3001"), "http://127.0.0.1:3001");
        assert_eq!(canonical("https://1.2.3.4:443"), "https://1.2.3.4");
        assert_eq!(canonical("http://0.0.0.0"), "http://0.0.0.0");
    }

    #[test]
    fn refusals_say_why() {
        use InvalidOriginKind::*;
        for (pattern, kind) in [
            ("proabono.com", Scheme),
            ("*.proabono.com", Scheme),
            ("ftp://proabono.com", Scheme),
            ("javascript://proabono.com", Scheme),
            ("wss://proabono.com", Scheme),
            ("https://user@proabono.com", Userinfo),
            ("https://user:pw@proabono.com", Userinfo),
            ("https://proabono.com/", PathOrQuery),
            ("https://proabono.com/portal", PathOrQuery),
            ("https://proabono.com?x", PathOrQuery),
            ("https://proabono.com#x", PathOrQuery),
            ("https://127.1", IpAddress),
            ("http://127.0.0.01", IpAddress),
            ("http://0127.0.0.1", IpAddress),
            ("http://127.0.0.1.1", IpAddress),
            ("http://256.0.0.1", IpAddress),
            ("http://0x7f.0.0.1", IpAddress),
            ("http://2130706433", IpAddress),
            ("http://*.0.0.1", IpAddress),
            ("http://*.127.0.0.1", IpAddress),
            ("http://127.0.0.1.", Host),
            ("https://0x7f.1", IpAddress),
            ("https://a.0x1F", IpAddress),
            ("https://[::1]", IpAddress),
            ("https://[::1]:443", IpAddress),
            ("https://*", Wildcard),
            ("https://*.com", Wildcard),
            ("https://*.*.proabono.com", Wildcard),
            ("https://a.*.proabono.com", Wildcard),
            ("https://*proabono.com", Wildcard),
            ("https://proabono.*", Wildcard),
            ("https://", Host),
            ("https://.proabono.com", Host),
            ("https://proabono.com.", Host),
            ("https://a..b", Host),
            ("https://pro abono.com", Host),
            ("https://bücher.example", Host),
            ("https://a_b.example", Host),
            ("https://xn--a.example", Host),
            ("https://*.xn--.example", Host),
            ("https://proabono.com:", Port),
            ("https://proabono.com:0", Port),
            ("https://proabono.com:0443", Port),
            ("https://proabono.com:65536", Port),
            ("https://proabono.com:*", Port),
            ("https://proabono.com:44a", Port),
        ] {
            assert_eq!(refused(pattern), kind, "{pattern:?}");
        }
        let label = "a".repeat(64);
        assert_eq!(refused(&format!("https://{label}.com")), Host);
        let long = vec!["a".repeat(63); 4].join(".");
        assert_eq!(long.len(), 255);
        assert_eq!(refused(&format!("https://{long}")), Host);
        assert_eq!(
            canonical(&format!("https://{}", &long[..253])).len(),
            8 + 253
        );
        // `*.` needs room for at least `a.` under 253 bytes.
        let widest = &long[long.len() - 251..];
        assert!(widest.starts_with('a') && !widest.starts_with('.'));
        assert_eq!(
            canonical(&format!("https://*.{widest}")),
            format!("https://*.{widest}")
        );
        // What the docs say is not detected: public suffixes of two labels.
        for suffix in ["https://*.co.uk", "https://*.github.io"] {
            assert_eq!(canonical(suffix), suffix);
        }
        for too_long in [&long[long.len() - 252..], &long[..253]] {
            assert_eq!(
                refused(&format!("https://*.{too_long}")),
                Wildcard,
                "{too_long}"
            );
        }
    }

    #[test]
    fn wildcards_match_at_a_label_boundary_only() {
        let any = OriginPattern::parse("https://*.proabono.com").unwrap();
        let exact = OriginPattern::parse("https://proabono.com").unwrap();
        for host in ["a.proabono.com", "a.b.ProAbono.COM", "x-y.proabono.com"] {
            assert!(any.matches_host(host), "{host}");
            assert!(!exact.matches_host(host), "{host}");
        }
        assert!(exact.matches_host("PROABONO.com"));
        for host in [
            "proabono.com",
            "evilproabono.com",
            "proabono.com.evil.com",
            "roabono.com",
            "a.proabono.co",
            "",
            ".proabono.com",
        ] {
            assert!(!any.matches_host(host), "{host}");
        }
        assert!(!exact.matches_host("evilproabono.com"));
        // Punycode under a wildcard: never; listed exactly: yes.
        assert!(!any.matches_host("xn--pple-43d.proabono.com"));
        assert!(!any.matches_host("a.XN--pple-43d.proabono.com"));
        assert!(any.matches_host("xn-a.proabono.com"));
        let idn = OriginPattern::parse("https://xn--bcher-kva.proabono.com").unwrap();
        assert!(idn.matches_host("xn--bcher-kva.proabono.com"));
        let under_idn = OriginPattern::parse("https://*.xn--bcher-kva.example").unwrap();
        assert!(under_idn.matches_host("a.xn--bcher-kva.example"));
    }

    #[test]
    fn scheme_and_port_belong_to_their_pattern() {
        let local = OriginPattern::parse("http://localhost:3000").unwrap();
        assert!(local.matches(Scheme::Http, "localhost", 3000));
        assert!(!local.matches(Scheme::Https, "localhost", 3000));
        assert!(!local.matches(Scheme::Http, "localhost", 80));
        assert!(!local.matches(Scheme::Http, "a.localhost", 3000));
    }
}
