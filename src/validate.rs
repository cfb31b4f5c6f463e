//! The rules: from a raw query value to a [`PortalTarget`] or a [`Refusal`].

use http::HeaderMap;
use percent_encoding::percent_decode;
use url::{Host, Url};

use crate::origin::{Scheme, MAX_HOST, MAX_LABEL};
use crate::policy::Policy;
use crate::query::{decode_escape, find_params, Found};
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
    /// The layer's verdict for a raw query string and no header.
    pub(crate) fn target_from_query(&self, query: &str) -> Result<Option<PortalTarget>, Refusal> {
        // An empty map allocates nothing.
        let [found] = find_params(query.as_bytes(), [self.param.as_bytes()]);
        self.verdict(found, &HeaderMap::new()).result
    }

    /// The verdict for a request, given what the scan found in its query
    /// and, when configured, its header.
    pub(crate) fn verdict(&self, from_query: Found<'_>, headers: &HeaderMap) -> Verdict {
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
        // Decoding never lengthens, so only a long value needs its decoded
        // length counted before anything is allocated for it: memory stays
        // bounded by the maximum, whatever the query's size.
        if raw.len() > self.max_len && percent_decode(raw).count() > self.max_len {
            return Err(Refusal::TooLong { max: self.max_len });
        }
        // A portal link fits on the stack: the heap is for long ones only.
        let mut inline = [0u8; INLINE];
        let mut heap = Vec::new();
        let buf = if raw.len() <= INLINE {
            &mut inline[..]
        } else {
            heap.resize(raw.len().min(self.max_len), 0);
            &mut heap[..]
        };
        let mut len = 0;
        for (slot, byte) in buf.iter_mut().zip(percent_decode(raw)) {
            *slot = byte;
            len += 1;
        }
        let link = std::str::from_utf8(&buf[..len]).map_err(|_| Refusal::InvalidUtf8)?;
        // A form parser turns `+` into a space, which rule 2 refuses anyway;
        // refusing the `+` itself spares rewriting the value.
        if raw.contains(&b'+') {
            return Err(Refusal::ForbiddenCharacter);
        }
        self.validate_decoded(link)
    }

    /// Rules 2 to 7 for a decoded link.
    pub(crate) fn validate_decoded(&self, link: &str) -> Result<PortalTarget, Refusal> {
        if link.is_empty() {
            return Err(Refusal::Empty);
        }
        if link.len() > self.max_len {
            return Err(Refusal::TooLong { max: self.max_len });
        }
        clean(link)?;
        self.validate_clean(link)
    }

    /// Rules 3 to 7 for a link that passed rule 2.
    fn validate_clean(&self, link: &str) -> Result<PortalTarget, Refusal> {
        // Rule 3.
        let (scheme, rest) = split_scheme(link)?;
        if !self.scheme_allowed(scheme) {
            return Err(Refusal::SchemeNotAllowed);
        }

        // Rule 4: the authority runs to the first `/`, `?` or `#` (a `\`
        // would end it too for a WHATWG parser, but rule 2 refused those).
        let (host, port) = split_authority(rest.as_bytes())?;
        let host = &rest[..host];

        // Rules 5 and 6. An explicit default port is the same URL as none.
        let port = port.filter(|&p| p != scheme.default_port());
        self.origin_allowed(scheme, host, port.unwrap_or(scheme.default_port()))?;

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
        // Serializing percent-encodes what the input held raw (`é` becomes
        // `%C3%A9`), so a link just under the maximum can come out over it.
        // The maximum holds for what is handed on too: otherwise the
        // canonical link would not validate to itself.
        if url.as_str().len() > self.max_len {
            return Err(Refusal::TooLong { max: self.max_len });
        }
        Ok(PortalTarget::new(url))
    }
}

/// Values up to this length are decoded on the stack. ProAbono's links
/// are about a hundred bytes.
const INLINE: usize = 256;

/// Rule 2's characters: the link must be a valid URL string in WHATWG's
/// sense, made of URL code points and `%XX` escapes, with at most one `#`.
///
/// Parsers differ on everything else: WHATWG parsers strip tabs and
/// newlines anywhere, trim leading and trailing C0 controls and spaces,
/// read `\` as `/`, and browsers and the `url` crate percent-encode
/// `"<>^`{|}` and a lone `%` differently. Refusing them leaves one reading
/// of the link, the same for the layer, the `url` crate and the browser.
fn clean(link: &str) -> Result<(), Refusal> {
    let bytes = link.as_bytes();
    let mut fragment = false;
    for (i, c) in link.char_indices() {
        let allowed = match c {
            '%' => decode_escape(&bytes[i + 1..]).is_some(),
            '#' => !std::mem::replace(&mut fragment, true),
            c if c.is_ascii() => is_url_code_point(c as u8),
            c => !(c.is_control() || c.is_whitespace() || is_noncharacter(c)),
        };
        if !allowed {
            return Err(Refusal::ForbiddenCharacter);
        }
    }
    Ok(())
}

/// WHATWG's ASCII URL code points.
fn is_url_code_point(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'!' | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b'-'
                | b'.'
                | b'/'
                | b':'
                | b';'
                | b'='
                | b'?'
                | b'@'
                | b'_'
                | b'~'
        )
}

/// Unicode noncharacters, which are not URL code points either.
fn is_noncharacter(c: char) -> bool {
    let c = u32::from(c);
    (0xFDD0..=0xFDEF).contains(&c) || c & 0xFFFE == 0xFFFE
}

/// Rule 3: `https://` or `http://` in any letter case, and the rest of the
/// link after it.
fn split_scheme(link: &str) -> Result<(Scheme, &str), Refusal> {
    for (scheme, prefix) in [(Scheme::Https, "https://"), (Scheme::Http, "http://")] {
        if let Some(head) = link.get(..prefix.len()) {
            if head.eq_ignore_ascii_case(prefix) {
                return Ok((scheme, &link[prefix.len()..]));
            }
        }
    }
    Err(Refusal::SchemeNotAllowed)
}

/// Rule 4: the authority at the start of `rest` (up to the first `/`, `?`,
/// `#` or the end) is `host[:port]`, the host made of ASCII letters,
/// digits, `-` and `.` in non-empty labels within DNS limits (63 bytes a
/// label, 253 in all), the port of one to five digits without a leading
/// zero. Returns the host's length and the port.
///
/// The limits bound the work of the URL parser's IDNA processing (rule 7),
/// which grows faster than the host's length.
fn split_authority(rest: &[u8]) -> Result<(usize, Option<u16>), Refusal> {
    let malformed = Err(Refusal::MalformedAuthority);
    let mut host = rest.len();
    let mut label = 0;
    for (i, &b) in rest.iter().enumerate() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' if label < MAX_LABEL => label += 1,
            // An empty label, or a dot at the start.
            b'.' if label > 0 => label = 0,
            b'/' | b'?' | b'#' | b':' => {
                host = i;
                break;
            }
            // Not a host byte, or a label too long.
            _ => return malformed,
        }
    }
    if label == 0 || host > MAX_HOST {
        // Empty, ending with a dot, or too long.
        return malformed;
    }
    let port = if rest.get(host) == Some(&b':') {
        let digits = &rest[host + 1..];
        let end = digits
            .iter()
            .position(|&b| matches!(b, b'/' | b'?' | b'#'))
            .unwrap_or(digits.len());
        Some(parse_port(&digits[..end])?)
    } else {
        None
    };
    Ok((host, port))
}

fn parse_port(port: &[u8]) -> Result<u16, Refusal> {
    let digits_only = port.iter().all(u8::is_ascii_digit);
    if !digits_only || port.is_empty() || port.len() > 5 || port[0] == b'0' {
        return Err(Refusal::MalformedAuthority);
    }
    let port = port.iter().fold(0u32, |n, &d| n * 10 + u32::from(d - b'0'));
    u16::try_from(port).map_err(|_| Refusal::MalformedAuthority)
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
    fn dns_limits_hold_at_the_edge() {
        let label = "a".repeat(63);
        assert!(check(&format!("https://{label}.proabono.com/")).is_ok());
        // 20 labels of 11 bytes and `proabono.com`: 252 bytes.
        let host = format!("{}proabono.com", "abcdefghijk.".repeat(20));
        assert_eq!(host.len(), 252);
        assert!(check(&format!("https://{host}/")).is_ok());
        assert!(check(&format!("https://a{host}/")).is_ok());
        assert_eq!(
            check(&format!("https://ab{host}/")),
            Err(Refusal::MalformedAuthority)
        );
    }

    #[test]
    fn url_code_points_and_escapes_pass() {
        for link in [
            "https://a.proabono.com/p!$&'()*+,;=:@-._~/x?q=a/b?c&d=%41#f/?:@",
            "https://a.proabono.com/caf%C3%A9/%e6%97%a5?x=%20",
            "https://a.proabono.com/café/日本?é#é",
        ] {
            let raw: String = url::form_urlencoded::byte_serialize(link.as_bytes()).collect();
            assert!(check(&raw).is_ok(), "{link}");
        }
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
            // DNS limits, before any URL parse.
            (
                &format!("https://{}.proabono.com/", "a".repeat(64)),
                MalformedAuthority,
            ),
            (
                &format!("https://{}.proabono.com/", "a.".repeat(121)),
                MalformedAuthority,
            ),
            (
                &format!("https://xn--{}.proabono.com/", "b".repeat(2000)),
                MalformedAuthority,
            ),
            // Not URL code points: parsers differ on them.
            ("https://a.proabono.com/a|b", ForbiddenCharacter),
            ("https://a.proabono.com/a^b", ForbiddenCharacter),
            ("https://a.proabono.com/a%7cb%3cscript", ForbiddenCharacter),
            ("https://a.proabono.com/?q=%25zz", ForbiddenCharacter),
            ("https://a.proabono.com/#a#b", ForbiddenCharacter),
            ("https://a.proabono.com/%ef%b7%90", ForbiddenCharacter),
            // 2048 bytes as given, 2052 once serialized.
            (
                &format!("https://a.proabono.com/{}%c3%a9", "x".repeat(2023)),
                TooLong { max: 2048 },
            ),
        ];
        for (raw, want) in cases {
            assert_eq!(check(raw), Err(*want), "{raw:?}");
        }
    }
}
