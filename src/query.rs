//! Finding the parameter in a raw query string, the way a form parser would.
//!
//! The scan reads the query as `application/x-www-form-urlencoded`
//! (`url::form_urlencoded`, serde_urlencoded and every framework's `Query`
//! extractor do the same): pairs are separated by `&`, empty pairs are
//! skipped, the name ends at the first `=`, and names are decoded (`+` is a
//! space, `%XX` a byte, a `%` not followed by two hex digits stays literal).
//! Names are compared while they are decoded, so nothing is allocated and
//! each byte of the query is looked at a bounded number of times.

use crate::Refusal;

/// Returns the raw (still encoded) value of the only pair whose decoded name
/// is `name`, `Ok(None)` if there is none, and [`Refusal::Ambiguous`] if there
/// is more than one.
///
/// `name` must be non-empty ASCII without whitespace (the policy guarantees
/// it): then a decoded name that is not valid UTF-8 can never equal it, so
/// comparing bytes is exactly what a lossy UTF-8 form parser would conclude.
pub(crate) fn find_param<'q>(query: &'q [u8], name: &[u8]) -> Result<Option<&'q [u8]>, Refusal> {
    let Some(&first) = name.first() else {
        return Ok(None);
    };
    let mut found = None;
    let mut rest = query;
    loop {
        let (pair, next) = match position(rest, b'&') {
            Some(amp) => (&rest[..amp], Some(&rest[amp + 1..])),
            None => (rest, None),
        };
        // Only a pair starting with the name's first byte, or with an escape
        // that might decode to it, can match: every other pair costs one
        // comparison.
        if let Some(&b) = pair.first() {
            if (b == first || b == b'%') && pair_matches(pair, name) {
                if found.is_some() {
                    return Err(Refusal::Ambiguous);
                }
                found = Some(match position(pair, b'=') {
                    Some(eq) => &pair[eq + 1..],
                    None => &pair[pair.len()..],
                });
            }
        }
        match next {
            Some(next) => rest = next,
            None => return Ok(found),
        }
    }
}

/// `query` without the pairs named `name`, every other byte in its place:
/// other parameters keep their order and their exact encoding.
///
/// Sized exactly before it is filled, so that the caller's URI is built
/// from it without another allocation.
pub(crate) fn strip_param(query: &str, name: &[u8]) -> String {
    let kept = || {
        query
            .split('&')
            .filter(|pair| !pair_matches(pair.as_bytes(), name))
    };
    let (count, bytes) = kept().fold((0usize, 0usize), |(n, len), pair| (n + 1, len + pair.len()));
    let mut out = String::with_capacity(bytes + count.saturating_sub(1));
    for (i, pair) in kept().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(pair);
    }
    out
}

/// Does the decoded name of `pair` (up to its first `=`) equal `name`?
fn pair_matches(pair: &[u8], name: &[u8]) -> bool {
    let mut i = 0;
    let mut matched = 0;
    while i < pair.len() {
        let byte = match pair[i] {
            b'=' => break,
            b'+' => {
                i += 1;
                b' '
            }
            b'%' => match decode_escape(&pair[i + 1..]) {
                Some(b) => {
                    i += 3;
                    b
                }
                None => {
                    i += 1;
                    b'%'
                }
            },
            b => {
                i += 1;
                b
            }
        };
        if name.get(matched) != Some(&byte) {
            return false;
        }
        matched += 1;
    }
    matched == name.len()
}

/// The byte encoded by two hex digits at the start of `rest`, if there are.
pub(crate) fn decode_escape(rest: &[u8]) -> Option<u8> {
    match rest {
        [hi, lo, ..] => Some(hex(*hi)? << 4 | hex(*lo)?),
        _ => None,
    }
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Index of the first `needle` in `haystack`.
///
/// Reads eight bytes at a time (a portable SWAR test for a zero byte), since
/// finding the next `&` is nearly all the work for the queries that carry
/// no link: the hot path of every service this layer wraps.
#[inline]
fn position(haystack: &[u8], needle: u8) -> Option<usize> {
    const LO: u64 = u64::from_ne_bytes([0x01; 8]);
    const HI: u64 = u64::from_ne_bytes([0x80; 8]);
    let repeated = LO * u64::from(needle);
    let mut chunks = haystack.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_ne_bytes(word) ^ repeated;
        if (x.wrapping_sub(LO) & !x & HI) != 0 {
            // The zero-byte test can flag a byte next to a real match, never
            // miss one, so the exact index comes from the chunk itself.
            return chunk.iter().position(|&b| b == needle).map(|i| offset + i);
        }
        offset += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == needle)
        .map(|i| offset + i)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(q: &str) -> Result<Option<&str>, Refusal> {
        find_param(q.as_bytes(), b"crylk")
            .map(|v| v.map(|v| std::str::from_utf8(v).expect("ascii test input")))
    }

    /// What a real form parser finds, as the oracle.
    fn form_values(q: &str) -> Vec<String> {
        url::form_urlencoded::parse(q.as_bytes())
            .filter(|(k, _)| k == "crylk")
            .map(|(_, v)| v.into_owned())
            .collect()
    }

    #[test]
    fn absent() {
        for q in [
            "",
            "&",
            "&&&",
            "a=1&b=2",
            "crylkx=1",
            "xcrylk=1",
            "cryl=1",
            "cryl%6b%6b=1",
            "crylk%00=1",
            "crylk+=1",
            "%=crylk",
            "c%72ylk%=1",
            "utm_source=newsletter&utm_medium=email",
        ] {
            assert_eq!(find(q), Ok(None), "{q:?}");
            assert!(form_values(q).is_empty(), "{q:?}");
        }
    }

    #[test]
    fn present_once() {
        for (q, v) in [
            ("crylk=abc", "abc"),
            ("crylk", ""),
            ("crylk=", ""),
            ("a=1&crylk=x%3dy&b=2", "x%3dy"),
            ("cryl%6B=v", "v"),
            ("cryl%6b=v", "v"),
            ("%63%72%79%6c%6b=v", "v"),
            ("crylk=a=b", "a=b"),
            ("&&crylk=v&&", "v"),
            ("crylk=v;crylk=w", "v;crylk=w"),
        ] {
            assert_eq!(find(q), Ok(Some(v)), "{q:?}");
            assert_eq!(form_values(q).len(), 1, "{q:?}");
        }
    }

    #[test]
    fn present_twice_is_ambiguous() {
        for q in [
            "crylk=a&crylk=b",
            "crylk=a&crylk=a",
            "crylk=a&cryl%6b=b",
            "crylk&crylk",
            "crylk=&x=1&%63rylk=",
        ] {
            assert_eq!(find(q), Err(Refusal::Ambiguous), "{q:?}");
            assert!(form_values(q).len() >= 2, "{q:?}");
        }
    }

    #[test]
    fn stripping_keeps_everything_else() {
        for (q, want) in [
            ("crylk=x", ""),
            ("a=1&crylk=x&b=2", "a=1&b=2"),
            ("crylk=x&a=%41&b", "a=%41&b"),
            ("b=2&a=1&cryl%6B=x", "b=2&a=1"),
            ("crylk=x&crylk=y&z", "z"),
            ("a=1&&crylk=x", "a=1&"),
            ("crylkk=1&cryl=2", "crylkk=1&cryl=2"),
            ("", ""),
        ] {
            let out = strip_param(q, b"crylk");
            assert_eq!(out, want, "{q:?}");
            assert_eq!(out.capacity(), out.len(), "{q:?}");
        }
    }

    #[test]
    fn position_matches_naive_search() {
        let hay: Vec<u8> = (0..200u32).map(|i| (i * 37 % 251) as u8).collect();
        for start in 0..hay.len() {
            for needle in [b'&', b'=', 0, 0x80, 0xff, 200] {
                let h = &hay[start..];
                assert_eq!(
                    position(h, needle),
                    h.iter().position(|&b| b == needle),
                    "start {start} needle {needle}"
                );
            }
        }
        // Bytes adjacent to a match must not be reported (the borrow case).
        assert_eq!(position(b"\x01&\x00\x00\x00\x00\x00\x00", b'&'), Some(1));
        assert_eq!(position(b"\x27\x26aaaaaaaa", b'&'), Some(1));
    }

    #[test]
    fn escapes() {
        assert_eq!(decode_escape(b"3a"), Some(0x3a));
        assert_eq!(decode_escape(b"3A"), Some(0x3a));
        assert_eq!(decode_escape(b"3"), None);
        assert_eq!(decode_escape(b"g0"), None);
        assert_eq!(decode_escape(b""), None);
    }
}
