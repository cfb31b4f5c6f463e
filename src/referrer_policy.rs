//! `Referrer-Policy` for the responses to requests whose URL carried a
//! link or an In-Site query.
//!
//! The rule, in one sentence: **the response's effective policy must never
//! send a path or a query to anyone, so a policy that already guarantees
//! it (`no-referrer`, `origin`, `strict-origin`) is kept, and anything else
//! is replaced by `no-referrer`.** Anything else includes the browser's
//! default (no header), `same-origin` (it sends the whole URL, link
//! included, to the page's own server and its access log), an empty or
//! invalid value, and several fields or values whose last recognised token
//! is not one of the three.

use http::header::REFERRER_POLICY;
use http::{HeaderMap, HeaderValue};

/// The tokens of the Referrer Policy specification, `""` aside.
const TOKENS: [&str; 8] = [
    "no-referrer",
    "no-referrer-when-downgrade",
    "same-origin",
    "origin",
    "strict-origin",
    "origin-when-cross-origin",
    "strict-origin-when-cross-origin",
    "unsafe-url",
];

/// The policies that send no path and no query, to any destination.
const PRIVATE: [&str; 3] = ["no-referrer", "origin", "strict-origin"];

/// Applies the rule to a response's headers. Out of line: only responses to
/// requests that carried a parameter get here.
#[inline(never)]
pub(crate) fn protect(headers: &mut HeaderMap) {
    if !is_private(headers) {
        // `insert` replaces every field of that name.
        headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    }
}

/// Whether the policy a browser reads from `headers` sends no path or
/// query. A token is compared exactly, as the specification says, and
/// ignoring ASCII case, as a lenient browser might: the policy counts as
/// private only when both readings say so.
fn is_private(headers: &HeaderMap) -> bool {
    [false, true].into_iter().all(|fold_case| {
        effective(headers, fold_case).is_some_and(|token| PRIVATE.contains(&token))
    })
}

/// The browser's reading ("parse a referrer policy from a
/// `Referrer-Policy` header"): every field's value split at `,`, and the
/// last token that is a policy wins. `None` when no token is, or when a
/// value is not visible ASCII, which no reading can be sure of.
fn effective(headers: &HeaderMap, fold_case: bool) -> Option<&'static str> {
    let mut policy = None;
    for value in headers.get_all(REFERRER_POLICY) {
        let value = value.to_str().ok()?;
        for token in value.split(',') {
            let token = token.trim_matches([' ', '\t']);
            let known = TOKENS.iter().find(|known| match fold_case {
                false => **known == token,
                true => known.eq_ignore_ascii_case(token),
            });
            if let Some(known) = known {
                policy = Some(*known);
            }
        }
    }
    policy
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether [`protect`] leaves the fields `values` as they are; when it
    /// does not, it must leave one `no-referrer` in their place.
    fn kept(values: &[&[u8]]) -> bool {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(REFERRER_POLICY, HeaderValue::from_bytes(value).unwrap());
        }
        protect(&mut headers);
        let after: Vec<&[u8]> = headers
            .get_all(REFERRER_POLICY)
            .iter()
            .map(|v| v.as_bytes())
            .collect();
        let unchanged = after == values;
        assert!(
            unchanged || after == [b"no-referrer"],
            "{values:?} became {after:?}"
        );
        unchanged
    }

    #[test]
    fn keeps_what_sends_no_path_and_replaces_the_rest() {
        for token in TOKENS {
            assert_eq!(
                kept(&[token.as_bytes()]),
                PRIVATE.contains(&token),
                "{token}"
            );
        }
        assert!(!kept(&[]));
        for replaced in [
            &b""[..],
            b" ",
            b",",
            b"never",
            b"always",
            b"default",
            b"origin-when-crossorigin",
            b"no-referrer;",
            b"\"no-referrer\"",
            b"no referrer",
            b"No-Referrer",
            b"STRICT-ORIGIN",
            b"origin, unsafe-url",
            b"no-referrer, Unsafe-Url",
            b"strict-origin,same-origin",
            b"no-referrer\xff",
            b"no-referrer, \xe9",
        ] {
            assert!(
                !kept(&[replaced]),
                "{:?}",
                String::from_utf8_lossy(replaced)
            );
        }
        for stays in [
            &b"unsafe-url, no-referrer"[..],
            b"same-origin,origin",
            b"unsafe-url, strict-origin, bogus",
            b" \torigin\t ",
            b"no-referrer,,",
        ] {
            assert!(kept(&[stays]), "{:?}", String::from_utf8_lossy(stays));
        }
    }

    #[test]
    fn several_fields_read_as_one_list() {
        assert!(!kept(&[b"no-referrer", b"unsafe-url"]));
        assert!(kept(&[b"origin", b""]));
        assert!(kept(&[b"unsafe-url", b"strict-origin"]));
        assert!(!kept(&[b"origin", b"same-origin"]));
        assert!(!kept(&[b"origin", b"\xff"]));
    }
}
