//! The rules: from a raw query value to a [`PortalTarget`] or a [`Refusal`].

use url::{Host, Url};

use http::HeaderMap;

use crate::policy::Policy;
use crate::query::{decode_escape, eq_mask, find_param, word_of, ONES};
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
        self.verdict(Some(query), &HeaderMap::new()).result
    }

    /// The verdict for a request: its query and, when configured, its
    /// header. Allocates nothing when neither carries a link.
    #[inline]
    pub(crate) fn verdict(&self, query: Option<&str>, headers: &HeaderMap) -> Verdict {
        let from_query = match query {
            Some(query) => find_param(query.as_bytes(), self.param.as_bytes()).transpose(),
            None => None,
        };
        if from_query.is_none() && self.header.is_none() {
            // Nearly every request: inlined into the service's `call`.
            return Verdict {
                result: Ok(None),
                in_query: false,
                in_header: false,
            };
        }
        self.verdict_of(from_query, headers)
    }

    fn verdict_of(
        &self,
        from_query: Option<Result<&[u8], Refusal>>,
        headers: &HeaderMap,
    ) -> Verdict {
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
        // length before anything is allocated for it.
        let len = if raw.len() > INLINE {
            let len = decoded_len(raw);
            if len > self.max_len {
                return Err(Refusal::TooLong { max: self.max_len });
            }
            len
        } else {
            raw.len()
        };
        // A portal link fits on the stack: the heap is for long ones only.
        let mut inline = [0u8; INLINE + 8];
        let mut heap = Vec::new();
        let buf = if len <= INLINE {
            &mut inline[..]
        } else {
            heap.resize(len, 0);
            &mut heap[..]
        };
        let decoded_len = decode(raw, buf);
        let decoded = &buf[..decoded_len];
        if decoded.len() > self.max_len {
            return Err(Refusal::TooLong { max: self.max_len });
        }
        let link = std::str::from_utf8(decoded).map_err(|_| Refusal::InvalidUtf8)?;
        // A form parser turns `+` into a space, which rule 2 refuses anyway;
        // refusing the `+` itself spares rewriting the value.
        if raw.contains(&b'+') {
            return Err(Refusal::ForbiddenCharacter);
        }
        clean(link)?;
        self.validate_clean(link)
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
        let (scheme, rest) = split_scheme(link, self.allow_http)?;

        // Rules 4 and 5 (its shape): the authority runs to the first `/`,
        // `?` or `#` (a `\` would end it too for a WHATWG parser, but rule 2
        // refused those).
        let (host, port) = split_authority(rest.as_bytes())?;
        let host = &rest[..host];

        // Rule 5.
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

/// Decoded links up to this length are decoded on the stack. ProAbono's
/// links are about a hundred bytes.
const INLINE: usize = 256;

/// Rule 2's characters. WHATWG parsers strip tabs and newlines anywhere,
/// trim leading and trailing C0 controls and spaces, and read `\` as `/`:
/// each is a way for two parsers to see two different hosts.
fn clean(link: &str) -> Result<(), Refusal> {
    // Every byte outside `!`..=`~`, and the backslash, needs a closer look;
    // written as a fold so that it compiles to vector compares.
    let suspect = link.bytes().fold(false, |any, b| {
        any | (b.wrapping_sub(b'!') > b'~' - b'!') | (b == b'\\')
    });
    if suspect
        && link
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\')
    {
        return Err(Refusal::ForbiddenCharacter);
    }
    Ok(())
}

/// `raw` decoded once into `buf` (at least as long as the decoded value):
/// `%XX` is a byte, anything else, `+` and a lone `%` included, stands as is.
/// Returns the decoded length.
///
/// Copies eight bytes at a time up to each `%`; with eight bytes of room
/// to spare in `buf` it never falls back to one byte at a time but for the
/// last few. Hand-written because it pays: filling `buf` from
/// `percent_encoding::percent_decode` instead cost 1,549 more instructions
/// for the guide's link and 1,333 more for a hostile one (callgrind,
/// `benches/instructions.rs`).
fn decode(raw: &[u8], buf: &mut [u8]) -> usize {
    let percent = ONES * u64::from(b'%');
    let (mut i, mut out) = (0, 0);
    while i < raw.len() {
        if let (Some(src), Some(dst)) = (raw.get(i..i + 8), buf.get_mut(out..out + 8)) {
            let word = word_of(src);
            // Bytes past a `%` are written too, and overwritten next.
            dst.copy_from_slice(&word.to_le_bytes());
            let mask = eq_mask(word, percent);
            if mask == 0 {
                i += 8;
                out += 8;
                continue;
            }
            let plain = (mask.trailing_zeros() / 8) as usize;
            i += plain;
            out += plain;
        } else if raw[i] != b'%' {
            buf[out] = raw[i];
            i += 1;
            out += 1;
            continue;
        }
        // `raw[i]` is a `%`.
        buf[out] = match decode_escape(&raw[i + 1..]) {
            Some(b) => {
                i += 3;
                b
            }
            None => {
                i += 1;
                b'%'
            }
        };
        out += 1;
    }
    out
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
    // `https://` in any letter case is one comparison: setting bit 5 of
    // the five letters (and only them) lower-cases exactly `A`..=`Z`, and
    // maps nothing else onto a lower-case letter of `https`.
    let https = link.as_bytes().get(..8).is_some_and(|head| {
        word_of(head) | u64::from_le_bytes([0x20, 0x20, 0x20, 0x20, 0x20, 0, 0, 0])
            == u64::from_le_bytes(*b"https://")
    });
    if https {
        Ok((Scheme::Https, &link["https://".len()..]))
    } else if allow_http && starts("http://") {
        Ok((Scheme::Http, &link["http://".len()..]))
    } else {
        Err(Refusal::SchemeNotAllowed)
    }
}

/// Rules 4 and 5's shape: the authority at the start of `rest` (up to the
/// first `/`, `?`, `#` or the end) is `host[:port]`, the host made of ASCII
/// letters, digits, `-` and `.` with no empty label, the port of one to five
/// digits without a leading zero. Returns the host's length and the port.
fn split_authority(rest: &[u8]) -> Result<(usize, Option<u16>), Refusal> {
    let malformed = Err(Refusal::MalformedAuthority);
    let mut host = rest.len();
    // `prev_dot` also stands for "at the start", where a dot would begin an
    // empty label.
    let mut prev_dot = true;
    for (i, &b) in rest.iter().enumerate() {
        match AUTHORITY[usize::from(b)] {
            LABEL => prev_dot = false,
            DOT if !prev_dot => prev_dot = true,
            END => {
                host = i;
                break;
            }
            // Not a host byte, or an empty label.
            _ => return malformed,
        }
    }
    if host == 0 || prev_dot {
        // Empty, or ending with a dot.
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

const INVALID: u8 = 0;
const LABEL: u8 = 1;
const DOT: u8 = 2;
const END: u8 = 3;

/// What each byte is to [`split_authority`]: one table lookup a byte.
const AUTHORITY: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = match b as u8 {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' => LABEL,
            b'.' => DOT,
            b'/' | b'?' | b'#' | b':' => END,
            _ => INVALID,
        };
        b += 1;
    }
    table
};

fn parse_port(port: &[u8]) -> Result<u16, Refusal> {
    let digits_only = port.iter().all(u8::is_ascii_digit);
    if !digits_only || port.is_empty() || port.len() > 5 || port[0] == b'0' {
        return Err(Refusal::MalformedAuthority);
    }
    let port = port.iter().fold(0u32, |n, &d| n * 10 + u32::from(d - b'0'));
    u16::try_from(port).map_err(|_| Refusal::MalformedAuthority)
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
    use percent_encoding::percent_decode;

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
