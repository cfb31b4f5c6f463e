//! `Referrer-Policy` for the responses to requests whose URL carried a
//! link or an In-Site query.
//!
//! The rule, in one sentence: **the application's `Referrer-Policy` is kept
//! only when the response carries exactly one such field and its whole
//! value is, byte for byte, `no-referrer`, `origin` or `strict-origin`;
//! anything else becomes one `no-referrer`.**
//!
//! The rule reads no list and folds no case, on purpose. Browsers disagree
//! with the specification on lists: Chromium ignores the whole header for
//! `no-referrer, x1`, `origin, a=b` or two fields `strict-origin` and
//! `x y`, and falls back to its default, which sends the page's URL, link
//! included, to the page's own server. A value the rule keeps means one
//! thing to every reader; a value it replaces can only become stricter.

use http::header::REFERRER_POLICY;
use http::{HeaderMap, HeaderValue};

/// The policies that send no path and no query, to any destination.
const PRIVATE: [&[u8]; 3] = [b"no-referrer", b"origin", b"strict-origin"];

/// Applies the rule to a response's headers. Out of line: only responses to
/// requests that carried a parameter get here.
#[inline(never)]
pub(crate) fn protect(headers: &mut HeaderMap) {
    if !is_private(headers) {
        // `insert` replaces every field of that name.
        headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    }
}

/// Exactly one field, whose whole value is one of [`PRIVATE`].
fn is_private(headers: &HeaderMap) -> bool {
    let mut fields = headers.get_all(REFERRER_POLICY).iter();
    match (fields.next(), fields.next()) {
        (Some(value), None) => PRIVATE.contains(&value.as_bytes()),
        _ => false,
    }
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
    fn keeps_one_private_token_and_replaces_the_rest() {
        for token in PRIVATE {
            assert!(kept(&[token]));
        }
        assert!(!kept(&[]));
        for replaced in [
            &b""[..],
            b" ",
            b",",
            b"never",
            b"same-origin",
            b"unsafe-url",
            b"no-referrer-when-downgrade",
            b"origin-when-cross-origin",
            b"strict-origin-when-cross-origin",
            b"no-referrer;",
            b"\"no-referrer\"",
            b"'no-referrer'",
            b"no referrer",
            b"No-Referrer",
            b"ORIGIN",
            b"Strict-Origin",
            b" origin",
            b"origin\t",
            b"no-referrer,",
            b",no-referrer",
            b"no-referrer, x1",
            b"origin, a=b",
            b"no-referrer, 'x'",
            b"unsafe-url, no-referrer",
            b"no-referrer, no-referrer",
            b"no-referrer\xff",
            b"\xe9",
        ] {
            assert!(
                !kept(&[replaced]),
                "{:?}",
                String::from_utf8_lossy(replaced)
            );
        }
    }

    #[test]
    fn several_fields_are_replaced_whatever_they_hold() {
        assert!(!kept(&[b"strict-origin", b"x y"]));
        assert!(!kept(&[b"no-referrer", b"no-referrer"]));
        assert!(!kept(&[b"origin", b""]));
        assert!(!kept(&[b"unsafe-url", b"strict-origin"]));
        assert!(!kept(&[b"no-referrer", b"unsafe-url"]));
    }
}
