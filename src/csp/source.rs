//! CSP source expressions: the checks on what the layer is configured with,
//! and [`InlineScript`], the per-response source a handler chooses.

use std::fmt;

/// A string that is not a source expression the layer can add to a
/// `Content-Security-Policy` directive, or a fallback URL whose origin no
/// CSP source names exactly.
///
/// Returned by [`PortalCspLayer::try_frame_src`](super::PortalCspLayer::try_frame_src),
/// [`try_script_src`](super::PortalCspLayer::try_script_src),
/// [`try_fallback`](super::PortalCspLayer::try_fallback) and
/// [`InlineScript::nonce`]. [`kind`](Self::kind) says what is wrong, and the
/// message says it in words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InvalidCspSource {
    kind: InvalidCspSourceKind,
    reason: &'static str,
}

/// What is wrong with an [`InvalidCspSource`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InvalidCspSourceKind {
    /// Not a source expression the layer adds: not CSP's grammar, `'none'`,
    /// a nonce given as a fixed source, or a malformed nonce.
    Source,
    /// The fallback is not an absolute URL.
    NotAUrl,
    /// The fallback's scheme is neither `https` nor `http`.
    Scheme,
    /// The fallback's port is not a number from 0 to 65535.
    Port,
    /// The fallback's host is or holds a `*`: as a CSP source it would be
    /// a wildcard, allowing every host it covers.
    Wildcard,
    /// The fallback's host has an empty label (`a..example.com`).
    EmptyLabel,
    /// The fallback's host ends with a dot (`example.com.`).
    TrailingDot,
    /// A label of the fallback's host starts or ends with `-`.
    Hyphen,
    /// Any other host no CSP source names exactly: an IPv6 address (CSP
    /// has no syntax for one; use `localhost`), a character other than
    /// letters, digits and `-`, a name beyond DNS limits, a name that is
    /// not valid IDNA, or no host at all.
    Host,
}

impl InvalidCspSource {
    pub(super) const fn new(reason: &'static str) -> Self {
        InvalidCspSource {
            kind: InvalidCspSourceKind::Source,
            reason,
        }
    }

    pub(super) const fn of(kind: InvalidCspSourceKind, reason: &'static str) -> Self {
        InvalidCspSource { kind, reason }
    }

    /// What is wrong.
    pub fn kind(&self) -> InvalidCspSourceKind {
        self.kind
    }
}

impl fmt::Display for InvalidCspSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid Content-Security-Policy source: {}", self.reason)
    }
}

impl std::error::Error for InvalidCspSource {}

/// Keywords that may be configured. `'none'` is not one: it cannot be
/// added to a list, only stand alone.
const KEYWORDS: [&str; 8] = [
    "'self'",
    "'unsafe-inline'",
    "'unsafe-eval'",
    "'strict-dynamic'",
    "'unsafe-hashes'",
    "'report-sample'",
    "'unsafe-allow-redirects'",
    "'wasm-unsafe-eval'",
];

const HASH_PREFIXES: [&str; 3] = ["'sha256-", "'sha384-", "'sha512-"];

/// Checks one configured source expression against CSP Level 3's grammar:
/// a scheme source (`https:`), a host source
/// (`[scheme://]host[:port][/path]`, the host possibly `*` or `*.`-prefixed),
/// a keyword other than `'none'`, or a hash source. Nonce sources are
/// refused: a nonce must be fresh for every response ([`InlineScript`]).
pub(crate) fn check_source(source: &str) -> Result<(), InvalidCspSource> {
    if source.is_empty() {
        return Err(InvalidCspSource::new("empty"));
    }
    // `;` ends a directive and `,` a policy: either would let a source
    // rewrite the policy it is added to.
    if !source
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b';' && b != b',')
    {
        return Err(InvalidCspSource::new(
            "not visible ASCII, or contains `;` or `,`",
        ));
    }
    if source.starts_with('\'') {
        return check_quoted(source);
    }
    if source.contains('\'') {
        return Err(InvalidCspSource::new("a quote outside a keyword"));
    }
    if is_scheme_source(source) || is_host_source(source) {
        Ok(())
    } else {
        Err(InvalidCspSource::new(
            "neither a scheme, a host source nor a keyword",
        ))
    }
}

fn check_quoted(source: &str) -> Result<(), InvalidCspSource> {
    if KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(source)) {
        return Ok(());
    }
    if source.eq_ignore_ascii_case("'none'") {
        return Err(InvalidCspSource::new("'none' cannot be added to a list"));
    }
    if starts_with_ignore_case(source, "'nonce-") {
        return Err(InvalidCspSource::new(
            "a nonce must be fresh for each response: use `InlineScript::nonce`",
        ));
    }
    let hashed = HASH_PREFIXES
        .iter()
        .find(|p| starts_with_ignore_case(source, p))
        .and_then(|p| source[p.len()..].strip_suffix('\''));
    match hashed {
        Some(value) if is_base64_value(value) => Ok(()),
        _ => Err(InvalidCspSource::new("an unknown or malformed keyword")),
    }
}

/// `scheme ":"`, nothing after it.
fn is_scheme_source(source: &str) -> bool {
    source.strip_suffix(':').is_some_and(is_scheme)
}

/// `ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )`
fn is_scheme(scheme: &str) -> bool {
    let mut bytes = scheme.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// `[ scheme "://" ] host [ ":" port ] [ path ]`, where host is `*`, or
/// labels of letters, digits and `-`, optionally after `*.`; port is digits
/// or `*`; path starts with `/`.
fn is_host_source(source: &str) -> bool {
    let rest = match source.split_once("://") {
        Some((scheme, rest)) if is_scheme(scheme) => rest,
        Some(_) => return false,
        None => source,
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    debug_assert!(path.is_empty() || path.starts_with('/'));
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    let port_ok =
        port.is_none_or(|p| p == "*" || (!p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())));
    let labels = host.strip_prefix("*.").unwrap_or(host);
    let labels = labels.strip_suffix('.').unwrap_or(labels);
    let host_ok = host == "*"
        || (!labels.is_empty()
            && labels.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            }));
    host_ok && port_ok
}

/// CSP's `base64-value`: `1*( ALPHA / DIGIT / "+" / "/" / "-" / "_" )*2( "=" )`.
fn is_base64_value(value: &str) -> bool {
    let body = value.trim_end_matches('=');
    value.len() - body.len() <= 2
        && !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'-' | b'_'))
}

pub(crate) fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.len() >= prefix.len() && s.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

/// The `script-src` source for the inline script of one response (the
/// page's `ProAbonoPortal.open(...)` call), chosen by the handler and
/// inserted as a **response** extension; [`PortalCsp`](super::PortalCsp)
/// adds it to `script-src` in the response's policies that restrict
/// scripts (a page without one runs it anyway).
///
/// A nonce must be fresh for every response, unpredictable (at least 128
/// bits from a cryptographic generator) and written on the `<script>`
/// element as `nonce="…"`. A hash ([`sha256`](Self::sha256), with the
/// `in-site` feature) needs no attribute and no randomness, but covers
/// exactly one script text, byte for byte.
///
/// ```
/// use http::Response;
/// use tower_portal_link::InlineScript;
///
/// # fn fresh_nonce() -> String { "aW5saW5lLXNjcmlwdC1ub25jZQ".to_owned() }
/// let nonce = fresh_nonce(); // from a CSPRNG, for this response only
/// let page = format!(r#"<script nonce="{nonce}">ProAbonoPortal.open({{}});</script>"#);
/// let mut res = Response::new(page);
/// res.extensions_mut().insert(InlineScript::nonce(&nonce).unwrap());
/// # assert_eq!(res.extensions().get::<InlineScript>().unwrap().as_str(), "'nonce-aW5saW5lLXNjcmlwdC1ub25jZQ'");
/// ```
///
/// With axum, return it beside the body: `(Extension(script), Html(page))`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InlineScript(Box<str>);

impl InlineScript {
    /// The source `'nonce-<nonce>'`.
    ///
    /// # Errors
    ///
    /// When `nonce` is not a base64 or base64url value (letters, digits,
    /// `+`, `/`, `-`, `_`, then at most two `=`), the only characters CSP
    /// allows in a nonce.
    pub fn nonce(nonce: &str) -> Result<Self, InvalidCspSource> {
        if is_base64_value(nonce) {
            Ok(InlineScript(format!("'nonce-{nonce}'").into_boxed_str()))
        } else {
            Err(InvalidCspSource::new("a nonce must be a base64 value"))
        }
    }

    /// The source `'sha256-<base64 of SHA-256(script)>'`, where `script` is
    /// the exact text between `<script>` and `</script>` (whitespace
    /// included), as the browser hashes it: the UTF-8 bytes of the page.
    ///
    /// Only with the `in-site` feature.
    ///
    /// ```
    /// use tower_portal_link::InlineScript;
    ///
    /// let script = "ProAbonoPortal.open({ business_id: 42, segment_ref: \"demo-eur\" });";
    /// assert_eq!(
    ///     InlineScript::sha256(script).as_str(),
    ///     "'sha256-Nm4C1pnyQqGg15otcK9hjYjn6h3r6V87NEk7ELlKZbc='",
    /// );
    /// ```
    #[cfg(feature = "in-site")]
    pub fn sha256(script: &str) -> Self {
        use base64::Engine as _;
        use sha2::Digest as _;

        let digest = sha2::Sha256::digest(script.as_bytes());
        let value = base64::engine::general_purpose::STANDARD.encode(digest);
        InlineScript(format!("'sha256-{value}'").into_boxed_str())
    }

    /// The source expression, quotes included, as it goes in the header:
    /// `'nonce-…'` or `'sha256-…'`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InlineScript {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_source_forms() {
        for ok in [
            "https://proabono.com",
            "https://*.proabono.com",
            "https://portal.proabono.com/Get/portal.js",
            "https://portal.proabono.com/Get/",
            "https:",
            "data:",
            "*",
            "*.example.com",
            "example.com",
            "http://localhost:8080",
            "https://example.com:*",
            "https://example.com.",
            "wss://example.com/a%2Cb",
            "'self'",
            "'SELF'",
            "'strict-dynamic'",
            "'sha256-Nm4C1pnyQqGg15otcK9hjYjn6h3r6V87NEk7ELlKZbc='",
            "'sha512-abc_-'",
        ] {
            assert_eq!(check_source(ok), Ok(()), "{ok}");
        }
    }

    #[test]
    fn refuses_what_could_rewrite_or_break_a_policy() {
        for bad in [
            "",
            "https://proabono.com; script-src *",
            "https://proabono.com,script-src",
            "https://proabono.com https://evil.com",
            "https://proabono.com\t",
            "https://pro\u{e4}bono.com",
            "'none'",
            "'nonce-abc'",
            "'unsafe-everything'",
            "'self",
            "self'",
            "https://proabono.com/'",
            "'sha256-'",
            "'sha256-abc==='",
            "'sha1-abc'",
            "https://",
            "https://a..b",
            "https://a.*.com",
            "https://[::1]",
            "https://a.com:",
            "https://a.com:8x",
            "https://user@a.com",
            "1https://a.com",
            ":",
        ] {
            assert!(check_source(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn nonce_must_be_a_base64_value() {
        assert_eq!(
            InlineScript::nonce("r4nd0m+/-_==").unwrap().as_str(),
            "'nonce-r4nd0m+/-_=='"
        );
        for bad in ["", "==", "a===", "a b", "a'", "a;b", "é"] {
            assert!(InlineScript::nonce(bad).is_err(), "{bad:?}");
        }
    }
}
