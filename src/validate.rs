//! The rules: from a raw query value to a [`PortalTarget`] or a [`Refusal`].

use std::borrow::Cow;

use percent_encoding::percent_decode;
use url::{Host, Url};

use http::HeaderMap;

use crate::policy::Policy;
use crate::query::{decode_escape, find_param};
use crate::{PortalTarget, Refusal};

/// What the service learns from one request.
pub(crate) struct Verdict {
    pub(crate) result: Result<Option<PortalTarget>, Refusal>,
    /// The query carries the parameter (valid, refused or repeated).
    pub(crate) in_query: bool,
    /// The configured header is present.
    pub(crate) in_header: bool,
}

impl Policy {
    /// The whole verdict for a raw query string (rule 1, then the rest).
    pub(crate) fn target_from_query(&self, query: &str) -> Result<Option<PortalTarget>, Refusal> {
        match find_param(query.as_bytes(), self.param.as_bytes())? {
            Some(raw) => self.validate_encoded(raw).map(Some),
            None => Ok(None),
        }
    }

    /// The verdict for a request: its query and, when configured, its
    /// header. Allocates nothing when neither carries a link.
    pub(crate) fn verdict(&self, query: Option<&str>, headers: &HeaderMap) -> Verdict {
        let from_query = match query {
            Some(query) => find_param(query.as_bytes(), self.param.as_bytes()).transpose(),
            None => None,
        };
        let from_header = self.header.as_ref().and_then(|name| {
            let mut values = headers.get_all(name).iter();
            let first = values.next()?;
            Some(match values.next() {
                Some(_) => Err(Refusal::Ambiguous),
                None => Ok(first.as_bytes()),
            })
        });
        let validate =
            |found: Result<&[u8], Refusal>| found.and_then(|raw| self.validate_encoded(raw));
        let result = match (from_query, from_header) {
            (None, None) => Ok(None),
            (Some(q), None) => validate(q).map(Some),
            (None, Some(h)) => validate(h).map(Some),
            // Both carry a link: they must name the same portal page, or a
            // client could show one thing to this layer and another to a
            // handler that reads the other source.
            (Some(q), Some(h)) => match (validate(q), validate(h)) {
                (Ok(q), Ok(h)) if q == h => Ok(Some(q)),
                (Err(refusal), Err(_)) => Err(refusal),
                _ => Err(Refusal::Ambiguous),
            },
        };
        Verdict {
            result,
            in_query: from_query.is_some(),
            in_header: from_header.is_some(),
        }
    }

    /// Rules 2 to 7 for a value as it stands in the query: decoded once,
    /// exactly as a form parser decodes it.
    pub(crate) fn validate_encoded(&self, raw: &[u8]) -> Result<PortalTarget, Refusal> {
        if raw.is_empty() {
            return Err(Refusal::Empty);
        }
        // Know the decoded length before decoding, so that nothing larger
        // than the maximum is ever allocated.
        if decoded_len(raw) > self.max_len {
            return Err(Refusal::TooLong { max: self.max_len });
        }
        // Borrows when there is nothing to decode.
        let decoded: Cow<'_, [u8]> = percent_decode(raw).into();
        let link = std::str::from_utf8(&decoded).map_err(|_| Refusal::InvalidUtf8)?;
        // A form parser turns `+` into a space, which rule 2 refuses anyway;
        // refusing the `+` itself spares rewriting the value.
        if raw.contains(&b'+') {
            return Err(Refusal::ForbiddenCharacter);
        }
        self.validate_decoded(link)
    }

    /// Rules 2 to 7 for a decoded link.
    pub(crate) fn validate_decoded(&self, link: &str) -> Result<PortalTarget, Refusal> {
        // Rule 2. WHATWG parsers strip tabs and newlines anywhere, trim
        // leading and trailing C0 controls and spaces, and read `\` as `/`:
        // each is a way for two parsers to see two different hosts.
        if link.is_empty() {
            return Err(Refusal::Empty);
        }
        if link.len() > self.max_len {
            return Err(Refusal::TooLong { max: self.max_len });
        }
        if link
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
        {
            return Err(Refusal::ForbiddenCharacter);
        }

        // Rule 3.
        let (scheme, rest) = split_scheme(link, self.allow_http)?;

        // Rule 4: the authority runs to the first `/`, `?` or `#` (a `\`
        // would end it too for a WHATWG parser, but rule 2 refused those).
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (host, port) = split_authority(&rest[..end])?;

        // Rule 5.
        if host.split('.').any(str::is_empty) {
            return Err(Refusal::MalformedAuthority);
        }
        if !self.host_allowed(host) {
            return Err(Refusal::HostNotAllowed);
        }

        // Rule 6. An explicit default port is the same URL as none.
        let port = port.filter(|&p| p != scheme.default_port());
        if let Some(p) = port {
            if !self.port_allowed(p) {
                return Err(Refusal::PortNotAllowed);
            }
        }

        // Rule 7: the parser that browsers follow must see the same thing.
        let url = Url::parse(link).map_err(|_| Refusal::ParserMismatch)?;
        let same_host = matches!(url.host(), Some(Host::Domain(h)) if h.eq_ignore_ascii_case(host));
        if url.scheme() != scheme.name()
            || !same_host
            || url.port() != port
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return Err(Refusal::ParserMismatch);
        }
        Ok(PortalTarget::new(url))
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Scheme {
    Https,
    Http,
}

impl Scheme {
    fn name(self) -> &'static str {
        match self {
            Scheme::Https => "https",
            Scheme::Http => "http",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Scheme::Https => 443,
            Scheme::Http => 80,
        }
    }
}

/// Rule 3: `https://` (or `http://` when allowed) in any letter case, and
/// the rest of the link after it.
fn split_scheme(link: &str, allow_http: bool) -> Result<(Scheme, &str), Refusal> {
    let starts = |prefix: &str| {
        link.get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
    };
    if starts("https://") {
        Ok((Scheme::Https, &link["https://".len()..]))
    } else if allow_http && starts("http://") {
        Ok((Scheme::Http, &link["http://".len()..]))
    } else {
        Err(Refusal::SchemeNotAllowed)
    }
}

/// Rule 4: `host[:port]`, the host made of ASCII letters, digits, `-` and
/// `.`, the port of one to five digits without a leading zero.
fn split_authority(authority: &str) -> Result<(&str, Option<u16>), Refusal> {
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(parse_port(port)?)),
        None => (authority, None),
    };
    if host.is_empty()
        || !host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        return Err(Refusal::MalformedAuthority);
    }
    Ok((host, port))
}

fn parse_port(port: &str) -> Result<u16, Refusal> {
    let digits_only = port.bytes().all(|b| b.is_ascii_digit());
    if !digits_only || port.is_empty() || port.len() > 5 || port.starts_with('0') {
        return Err(Refusal::MalformedAuthority);
    }
    port.parse().map_err(|_| Refusal::MalformedAuthority)
}

/// The length of `raw` once percent-decoded, without decoding it.
fn decoded_len(raw: &[u8]) -> usize {
    let mut len = 0;
    let mut i = 0;
    while i < raw.len() {
        i += if raw[i] == b'%' && decode_escape(&raw[i + 1..]).is_some() {
            3
        } else {
            1
        };
        len += 1;
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    const GUIDE: &str =
        "https%3a%2f%2fmon-app.via.proabono.com%2fsubscribe-offer%2f0p9i35O1V9_JJRfC0nIeE96ot9e1LcN349";

    fn check(raw: &str) -> Result<String, Refusal> {
        Policy::PROABONO
            .validate_encoded(raw.as_bytes())
            .map(|t| t.as_str().to_owned())
    }

    #[test]
    fn guide_example() {
        assert_eq!(
            check(GUIDE).unwrap(),
            "https://mon-app.via.proabono.com/subscribe-offer/0p9i35O1V9_JJRfC0nIeE96ot9e1LcN349"
        );
    }

    #[test]
    fn canonical_form() {
        assert_eq!(
            check("HTTPS://Mon-App.ProAbono.COM:443/portal-auth/T0k3n").unwrap(),
            "https://mon-app.proabono.com/portal-auth/T0k3n"
        );
        assert_eq!(
            check("https://proabono.com").unwrap(),
            "https://proabono.com/"
        );
    }

    #[test]
    fn decoded_len_matches_decoding() {
        for raw in ["", "%", "%4", "%41", "%%41", "a%zz%41b", "%41%41%4"] {
            let decoded: Vec<u8> = percent_decode(raw.as_bytes()).collect();
            assert_eq!(decoded_len(raw.as_bytes()), decoded.len(), "{raw:?}");
        }
    }

    #[test]
    fn each_rule_has_its_reason() {
        use Refusal::*;
        let long = format!("https://a.proabono.com/{}", "x".repeat(2048));
        let cases: &[(&str, Refusal)] = &[
            ("", Empty),
            (&long, TooLong { max: 2048 }),
            ("https%3a%2f%2fa.proabono.com%2f%ff", InvalidUtf8),
            ("https://a.proabono.com/+", ForbiddenCharacter),
            ("https://a.proabono.com/%09", ForbiddenCharacter),
            ("%20https://a.proabono.com/", ForbiddenCharacter),
            ("https://a.proabono.com%5c.evil.com/", ForbiddenCharacter),
            ("http://a.proabono.com/", SchemeNotAllowed),
            ("//a.proabono.com/", SchemeNotAllowed),
            ("https:a.proabono.com", SchemeNotAllowed),
            ("https://evil.com@a.proabono.com/", MalformedAuthority),
            ("https://a.proabono.com:/", MalformedAuthority),
            ("https://a.proabono.com:0443/", MalformedAuthority),
            ("https://a.proabono.com:99999/", MalformedAuthority),
            ("https://a..proabono.com/", MalformedAuthority),
            ("https://a.proabono.com./", MalformedAuthority),
            ("https://evilproabono.com/", HostNotAllowed),
            ("https://proabono.com.evil.com/", HostNotAllowed),
            ("https://a.proabono.com:8443/", PortNotAllowed),
            ("https://xn--a.proabono.com/", ParserMismatch),
        ];
        for (raw, want) in cases {
            assert_eq!(check(raw), Err(*want), "{raw:?}");
        }
    }
}
