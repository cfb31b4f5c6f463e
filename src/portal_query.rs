//! The validated `pa_query` value: ProAbono's encrypted opening query.

use std::fmt;
use std::str::FromStr;

use crate::refusal::Refusal;

/// A validated ProAbono opening query: the `pa_query` parameter of a link to
/// the business's installation page, or the `query` of an entry of the
/// `Links` array in a ProAbono API Live response.
///
/// ProAbono encrypts the parameters that open a given page or workflow
/// (subscribe to a plan, pay an invoice, restart a subscription) into an
/// opaque *query*. A page hands it to portal.js as the `query` option of
/// `ProAbonoPortal.open({...})`; an e-mail carries it as
/// `https://my-app.com/billing?pa_query=...`. It is a **bearer secret** (it
/// opens a customer's billing workflow) and it expires, so [`Debug`] prints
/// no part of it and there is no `Display`: [`as_str`](Self::as_str) gives it
/// to the page, and nothing else should have it.
///
/// # Shape
///
/// ProAbono does not publish the format. Every query in its documentation
/// is a string of the URL-safe base64 alphabet (RFC 4648, section 5) with no
/// padding, 43 to 101 characters long:
/// `OBmj2AvkFGZfrsD60tPJWoICRuc9nCUhMRpRqI0JU8Y` in "Advanced In-Site
/// installation", and two longer ones, one with a `-`, in the Customer
/// object's `Links` example of "Open a specific page or workflow"
/// (docs.proabono.com); the tokens in its `crylk` examples use the same
/// alphabet, with `_`. So a value is accepted only when it is:
///
/// - non-empty;
/// - at most [`MAX_LEN`](Self::MAX_LEN) (1024) bytes, ten times the
///   longest documented query;
/// - made only of ASCII letters, digits, `-` and `_`.
///
/// Those characters mean themselves in an HTML attribute (quoted or not), in
/// a JavaScript string (single, double or backtick quoted) and in a URL
/// query, where a form parser never decodes them into anything else. A
/// validated query can therefore be written into any of these without
/// escaping, and the same value reaches every parser. Everything else is
/// refused, the standard base64 characters included: a `+` in a URL query
/// decodes to a space, and neither `+`, `/` nor `=` appears in any
/// documented query. Should ProAbono ever issue another alphabet, the
/// refusals show up as [`Refusal::ForbiddenCharacter`], not as a page that
/// echoes an unexpected character.
///
/// The check is about shape only: whether a query is genuine, current and
/// meant for this customer is for ProAbono to decide when portal.js opens
/// it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PortalQuery {
    token: Box<str>,
}

impl PortalQuery {
    /// The longest query accepted, in bytes: by [`parse`](Self::parse) and
    /// by the layer alike. It is fixed, not configurable:
    /// [`max_length`](crate::PortalLinkLayer::max_length) bounds links only.
    pub const MAX_LEN: usize = 1024;

    /// Validates a query for code outside tower: a `pa_query` value taken
    /// from a URL, already decoded once (as a framework's query extractor
    /// hands it), or the `query` of an entry of a ProAbono API response's
    /// `Links` array (`{"rel": "insite-subscribe", "query": "..."}`), as the
    /// JSON parser hands it.
    ///
    /// ```
    /// use tower_portal_link::{PortalQuery, Refusal};
    ///
    /// let query = PortalQuery::parse("OBmj2AvkFGZfrsD60tPJWoICRuc9nCUhMRpRqI0JU8Y").unwrap();
    /// assert_eq!(query.as_str(), "OBmj2AvkFGZfrsD60tPJWoICRuc9nCUhMRpRqI0JU8Y");
    ///
    /// assert_eq!(PortalQuery::parse("\"</script>"), Err(Refusal::ForbiddenCharacter));
    /// assert_eq!(PortalQuery::parse(""), Err(Refusal::Empty));
    /// ```
    pub fn parse(value: &str) -> Result<PortalQuery, Refusal> {
        validate_query_token(value, Self::MAX_LEN)
    }

    /// The query, for `ProAbonoPortal.open({ query })` and nothing else.
    pub fn as_str(&self) -> &str {
        &self.token
    }
}

impl FromStr for PortalQuery {
    type Err = Refusal;

    /// [`PortalQuery::parse`].
    fn from_str(value: &str) -> Result<PortalQuery, Refusal> {
        PortalQuery::parse(value)
    }
}

impl AsRef<str> for PortalQuery {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Debug for PortalQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Not even the length: the value is opaque and nothing needs it.
        f.write_str("PortalQuery(<redacted>)")
    }
}

/// Checks the shape of a decoded query value (see [`PortalQuery`]).
///
/// The length is checked before any character, so a huge value costs one
/// comparison, and a value within the bound one pass over its bytes.
pub(crate) fn validate_query_token(decoded: &str, max_len: usize) -> Result<PortalQuery, Refusal> {
    if decoded.is_empty() {
        return Err(Refusal::Empty);
    }
    if decoded.len() > max_len {
        return Err(Refusal::TooLong { max: max_len });
    }
    // Byte-wise: every byte of a multi-byte character is >= 0x80, so any
    // non-ASCII character is refused here as well.
    if !decoded.bytes().all(is_query_byte) {
        return Err(Refusal::ForbiddenCharacter);
    }
    Ok(PortalQuery {
        token: decoded.into(),
    })
}

/// The URL-safe base64 alphabet.
fn is_query_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The queries of ProAbono's documentation (see [`PortalQuery`]).
    const DOCUMENTED: [&str; 3] = [
        "OBmj2AvkFGZfrsD60tPJWoICRuc9nCUhMRpRqI0JU8Y",
        "bvio5ZTZJOBmj2AvkFGZfrsD60tPJWoICRuc9nCUhMRpRqI0JU8Y0jLsRTEGncmoRshJx3GzVp8NRUuKnDsauqCU5DkAkeJmGAqI",
        "vkFGZfrsD60tPJWoICRuc9nCUhMRpRqI0JU8Y0jLsRTEGncmoRshJx3GzVp8NRUuEXfI9UF6VZ3w-lbfeC84f2DpMVPIuZnKOl6KA",
    ];

    #[test]
    fn documented_queries_are_accepted() {
        for q in DOCUMENTED {
            assert_eq!(PortalQuery::parse(q).unwrap().as_str(), q);
            assert_eq!(PortalQuery::parse(q).unwrap().as_str(), q);
            assert_eq!(q.parse::<PortalQuery>().unwrap().as_str(), q);
        }
        // The whole alphabet, and nothing more is needed.
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        assert_eq!(PortalQuery::parse(alphabet).unwrap().as_str(), alphabet);
        assert!(PortalQuery::parse("a").is_ok());
        assert!(PortalQuery::parse("-").is_ok());
    }

    #[test]
    fn empty_and_too_long() {
        assert_eq!(PortalQuery::parse(""), Err(Refusal::Empty));
        assert_eq!(validate_query_token("", 10), Err(Refusal::Empty));

        let at_max = "a".repeat(PortalQuery::MAX_LEN);
        assert!(PortalQuery::parse(&at_max).is_ok());
        let over = "a".repeat(PortalQuery::MAX_LEN + 1);
        assert_eq!(
            PortalQuery::parse(&over),
            Err(Refusal::TooLong {
                max: PortalQuery::MAX_LEN
            })
        );
        assert!(validate_query_token("abcd", 4).is_ok());
        assert_eq!(
            validate_query_token("abcde", 4),
            Err(Refusal::TooLong { max: 4 })
        );
        // Length is checked first: a long hostile value is TooLong, not
        // scanned.
        assert_eq!(
            validate_query_token("<<<<<", 4),
            Err(Refusal::TooLong { max: 4 })
        );
    }

    #[test]
    fn huge_input_is_refused_without_scanning_it() {
        // 8 MiB of forbidden bytes: only the length is looked at. A scan
        // would refuse it too, so the reason is what tells them apart.
        let huge = "<".repeat(8 << 20);
        assert_eq!(
            PortalQuery::parse(&huge),
            Err(Refusal::TooLong {
                max: PortalQuery::MAX_LEN
            })
        );
    }

    #[test]
    fn adversarial_characters_are_refused() {
        let base = "OBmj2AvkFGZfrsD60tPJWoICRuc9nCUhMRpRqI0JU8Y";
        let hostile = [
            "\"",
            "'",
            "`",
            "<",
            ">",
            "</script>",
            "<!--",
            "-->",
            "\\",
            "\\u0022",
            "\u{2028}",
            "\u{2029}",
            "&",
            "&amp;",
            "#",
            "?",
            "=",
            "+",
            "/",
            "%",
            "%2B",
            ";",
            ":",
            ",",
            "(",
            ")",
            "{",
            "}",
            "$",
            "${x}",
            " ",
            "\t",
            "\n",
            "\r",
            "\0",
            "\u{1}",
            "\u{1b}",
            "\u{7f}",
            "\u{85}",
            "\u{a0}",
            "é",
            "Ａ",
            "\u{200b}",
            "\u{feff}",
            "\u{fffd}",
            "\u{10ffff}",
            "🦀",
            ".",
            "~",
            "*",
            "!",
            "@",
            "|",
            "^",
            "[",
            "]",
        ];
        for bad in hostile {
            for value in [
                bad.to_owned(),
                format!("{bad}{base}"),
                format!("{base}{bad}"),
                format!("{}{bad}{}", &base[..10], &base[10..]),
            ] {
                assert_eq!(
                    PortalQuery::parse(&value),
                    Err(Refusal::ForbiddenCharacter),
                    "{value:?}"
                );
            }
        }
        // Every byte outside the alphabet, alone and in a valid query.
        for b in 0u8..=0x7f {
            let c = char::from(b);
            let allowed = c.is_ascii_alphanumeric() || c == '-' || c == '_';
            let value = format!("{base}{c}");
            assert_eq!(PortalQuery::parse(&value).is_ok(), allowed, "{c:?}");
        }
    }

    #[test]
    fn debug_is_redacted() {
        let q = PortalQuery::parse(DOCUMENTED[1]).unwrap();
        for dbg in [
            format!("{q:?}"),
            format!("{q:#?}"),
            format!("{:?}", Some(&q)),
        ] {
            assert!(dbg.contains("PortalQuery"), "{dbg}");
            // No fragment of the token, however short.
            for window in DOCUMENTED[1].as_bytes().windows(4) {
                let w = std::str::from_utf8(window).unwrap();
                assert!(!dbg.contains(w), "{dbg} contains {w}");
            }
        }
    }

    #[test]
    fn equality_and_hash_follow_the_token() {
        use std::collections::HashSet;
        let a = PortalQuery::parse(DOCUMENTED[0]).unwrap();
        let b = PortalQuery::parse(DOCUMENTED[0]).unwrap();
        let c = PortalQuery::parse(DOCUMENTED[1]).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        let set: HashSet<_> = [a.clone(), b, c].into_iter().collect();
        assert_eq!(set.len(), 2);
        assert_eq!(a.as_ref(), DOCUMENTED[0]);
    }

    #[test]
    fn is_an_extension() {
        fn assert<T: Clone + Send + Sync + 'static>() {}
        assert::<PortalQuery>();
    }
}
