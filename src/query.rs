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
    for_each_candidate(query, first, |at| check_pair(query, at, name, &mut found))?;
    Ok(found)
}

/// Records in `found` the value of the pair at `at` if it is named `name`,
/// refusing a second one.
///
/// Out of line, so that the scan around it keeps its registers.
#[inline(never)]
fn check_pair<'q>(
    query: &'q [u8],
    at: usize,
    name: &[u8],
    found: &mut Option<&'q [u8]>,
) -> Result<(), Refusal> {
    let Some(value) = value_start(&query[at..], name, plain(name)) else {
        return Ok(());
    };
    if found.is_some() {
        return Err(Refusal::Ambiguous);
    }
    let value = &query[at + value..];
    *found = Some(position(value, b'&').map_or(value, |amp| &value[..amp]));
    Ok(())
}

/// Calls `f` with the start of each pair of `query` that may be named with
/// a name starting with `first`: the pairs that start with `first`, or with
/// an escape that might decode to it. Stops at the first error.
#[inline(always)]
fn for_each_candidate<E>(
    query: &[u8],
    first: u8,
    mut f: impl FnMut(usize) -> Result<(), E>,
) -> Result<(), E> {
    let candidate = |b: u8| b == first || b == b'%';
    if query.first().is_some_and(|&b| candidate(b)) {
        f(0)?;
    }
    // Sixteen `&`s and the bytes after them are tested at once (vector
    // compares); the few blocks with a candidate are then read byte by
    // byte. A query without the link is read about once.
    let mut at = 0;
    while let Some(window) = query.get(at..).and_then(<[u8]>::first_chunk::<17>) {
        // Each block is read in place, in two loads. A copy to the stack is
        // stored in two parts and read back across them, which stalls the
        // loads (store forwarding): an 8 KiB query then took 3.37 µs
        // instead of 0.47 µs (criterion). And left to itself, LLVM rebuilds
        // each block from the previous one's bytes through a stack slot
        // (0.65 µs): hiding where `window` points is what stops it. A hint
        // for the code generator only; nothing depends on it.
        let window = std::hint::black_box(window);
        if any_candidate(window, first) {
            for i in 0..16 {
                if window[i] == b'&' && candidate(window[i + 1]) {
                    f(at + i + 1)?;
                }
            }
        }
        at += 16;
    }
    // The last bytes, padded with NULs (never `&`, `%` or a name's byte).
    let tail = &query[at..];
    let mut block = [0u8; 17];
    block[..tail.len()].copy_from_slice(tail);
    if any_candidate(&block, first) {
        for i in 0..tail.len() {
            if block[i] == b'&' && candidate(block[i + 1]) {
                f(at + i + 1)?;
            }
        }
    }
    Ok(())
}

/// Is there, among the first sixteen bytes of `block`, an `&` followed by
/// `first` or `%`? Written as a fold over whole arrays so that it compiles
/// to a few vector compares (the crate forbids `unsafe`, so no intrinsics).
#[inline(always)]
fn any_candidate(block: &[u8; 17], first: u8) -> bool {
    let (Some(amps), Some(nexts)) = (block.first_chunk::<16>(), block.last_chunk::<16>()) else {
        return true;
    };
    amps.iter().zip(nexts).fold(false, |any, (&amp, &next)| {
        any | ((amp == b'&') & ((next == first) | (next == b'%')))
    })
}

/// If the decoded name of `pair` is `name`, where its value starts (after
/// the `=`, or where the pair ends when it has none). `plain`: `name` holds
/// none of the bytes that decoding or splitting treat apart, so that it can
/// be compared undecoded.
///
/// Out of line, so that the scan around it stays small.
#[inline(never)]
fn value_start(pair: &[u8], name: &[u8], plain: bool) -> Option<usize> {
    // The name as is, the common case, is one comparison.
    let end = match pair.get(name.len()) {
        None | Some(b'=' | b'&') if plain && pair.starts_with(name) => name.len(),
        _ => name_end(pair, name)?,
    };
    Some(if pair.get(end) == Some(&b'=') {
        end + 1
    } else {
        end
    })
}

/// `query` without the pairs named `name`, every other byte in its place:
/// other parameters keep their order and their exact encoding.
///
/// Sized exactly before it is filled, so that the caller's URI is built
/// from it without another allocation.
pub(crate) fn strip_param(query: &str, name: &[u8]) -> String {
    let bytes = query.as_bytes();
    let mut removed = 0;
    for_each_removed(bytes, name, |start, end| removed += end - start);
    let mut out = String::with_capacity(bytes.len() - removed);
    if removed == bytes.len() {
        // The link was the whole query: the common case.
        return out;
    }
    let mut kept_from = 0;
    for_each_removed(bytes, name, |start, end| {
        // Removed ranges start and end next to an ASCII `&` (or at an end
        // of the query): always character boundaries.
        out.push_str(&query[kept_from..start]);
        kept_from = end;
    });
    out.push_str(&query[kept_from..]);
    out
}

/// Calls `f` with the ranges of `query` to remove so that the pairs named
/// `name` are gone and the others stay joined by single `&`s: each such
/// pair with the `&` before it once a pair was kept, else with the `&`
/// after it. Ranges come in order and never overlap.
#[inline(always)]
fn for_each_removed(query: &[u8], name: &[u8], mut f: impl FnMut(usize, usize)) {
    let Some(&first) = name.first() else {
        return;
    };
    let plain = plain(name);
    let mut removed_to = 0;
    let mut kept_before = false;
    let _ = for_each_candidate(query, first, |start| {
        if value_start(&query[start..], name, plain).is_none() {
            return Ok::<(), ()>(());
        }
        // Bytes since the last removed range are at least one kept pair
        // (maybe empty).
        kept_before |= start > removed_to;
        let end = position(&query[start..], b'&').map_or(query.len(), |amp| start + amp);
        let range = if kept_before {
            (start - 1, end)
        } else {
            (start, (end + 1).min(query.len()))
        };
        f(range.0, range.1);
        removed_to = range.1;
        Ok(())
    });
}

/// `name` holds none of `%`, `+`, `=` and `&`: a pair whose raw name is
/// `name` then has `name` as its decoded name.
fn plain(name: &[u8]) -> bool {
    !name.iter().any(|&b| matches!(b, b'%' | b'+' | b'=' | b'&'))
}

/// If the decoded name of `pair` (up to its first `=` or `&`) is `name`,
/// the index where that name ends.
fn name_end(pair: &[u8], name: &[u8]) -> Option<usize> {
    let mut i = 0;
    let mut matched = 0;
    while i < pair.len() {
        let byte = match pair[i] {
            b'=' | b'&' => break,
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
            return None;
        }
        matched += 1;
    }
    (matched == name.len()).then_some(i)
}

/// The byte encoded by two hex digits at the start of `rest`, if there are.
#[inline]
pub(crate) fn decode_escape(rest: &[u8]) -> Option<u8> {
    match rest {
        [hi, lo, ..] => Some(hex(*hi)? << 4 | hex(*lo)?),
        _ => None,
    }
}

#[inline]
fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

// Finding `&` is nearly all the work for the queries that carry no link,
// the hot path of every service this layer wraps; so it compares sixteen
// bytes at a time, written so that the compiler emits vector compares
// (`pcmpeqb` on x86-64, since the crate forbids `unsafe` and intrinsics).

pub(crate) const ONES: u64 = u64::from_le_bytes([0x01; 8]);
const LO7: u64 = u64::from_le_bytes([0x7f; 8]);

/// The high bit of each byte set exactly where `word`'s byte is `needle`
/// (`repeated` is `needle` in every byte). Adding `0x7f` to the low seven
/// bits never carries into the next byte, so unlike the classic zero-byte
/// test no neighbour of a match is ever flagged.
#[inline(always)]
pub(crate) fn eq_mask(word: u64, repeated: u64) -> u64 {
    let x = word ^ repeated;
    !((x & LO7).wrapping_add(LO7) | x | LO7)
}

/// The first eight bytes of `bytes` (at least that long).
#[inline(always)]
pub(crate) fn word_of(bytes: &[u8]) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[..8]);
    // Little-endian on every target, so the lowest set bit is the first byte.
    u64::from_le_bytes(word)
}

/// Calls `f` with the index of each `needle` in `haystack`, in order,
/// stopping at the first error.
#[inline(always)]
fn for_each_position<E>(
    haystack: &[u8],
    needle: u8,
    mut f: impl FnMut(usize) -> Result<(), E>,
) -> Result<(), E> {
    let repeated = ONES * u64::from(needle);
    let mut report = |at: usize, mut mask: u64| {
        while mask != 0 {
            f(at + (mask.trailing_zeros() / 8) as usize)?;
            mask &= mask - 1;
        }
        Ok(())
    };
    let mut words = haystack.chunks_exact(8);
    let mut at = 0;
    for word in &mut words {
        let mask = eq_mask(word_of(word), repeated);
        if mask != 0 {
            report(at, mask)?;
        }
        at += 8;
    }
    let tail = words.remainder();
    if tail.is_empty() {
        return Ok(());
    }
    if haystack.len() >= 8 {
        // The last eight bytes, overlapping those already seen: no
        // byte-by-byte tail.
        let last = haystack.len() - 8;
        let seen = 8 - tail.len();
        report(
            last,
            eq_mask(word_of(&haystack[last..]), repeated) & (!0u64 << (8 * seen)),
        )
    } else {
        // Shorter than a word: padded with a byte that is not `needle`.
        let mut word = [!needle; 8];
        word[..tail.len()].copy_from_slice(tail);
        report(0, eq_mask(u64::from_le_bytes(word), repeated))
    }
}

/// Index of the first `needle` in `haystack`.
fn position(haystack: &[u8], needle: u8) -> Option<usize> {
    let mut first = None;
    let _ = for_each_position(haystack, needle, |i| {
        first = Some(i);
        Err(())
    });
    first
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

    proptest::proptest! {
        /// Queries from the bytes that matter, across the scanner's block
        /// boundaries: the verdict and the stripped query are what a form
        /// parser implies.
        #[test]
        fn agrees_with_a_form_parser(q in "([crylk6bB2%+=&x]{0,3}(crylk|cryl%6b|%63rylk)?){0,30}") {
            let decoded_name = |piece: &str| {
                url::form_urlencoded::parse(piece.as_bytes()).next().map(|(k, _)| k.into_owned())
            };
            let values = form_values(&q);
            match find(&q) {
                Ok(None) => proptest::prop_assert!(values.is_empty()),
                Ok(Some(v)) => {
                    proptest::prop_assert_eq!(values.len(), 1);
                    let decoded = url::form_urlencoded::parse(format!("v={v}").as_bytes())
                        .next()
                        .map(|(_, v)| v.into_owned());
                    proptest::prop_assert_eq!(decoded.as_deref(), Some(values[0].as_str()));
                }
                Err(refusal) => {
                    proptest::prop_assert_eq!(refusal, Refusal::Ambiguous);
                    proptest::prop_assert!(values.len() >= 2);
                }
            }
            let kept: Vec<&str> = q
                .split('&')
                .filter(|piece| decoded_name(piece).as_deref() != Some("crylk"))
                .collect();
            let stripped = strip_param(&q, b"crylk");
            proptest::prop_assert_eq!(stripped.capacity(), stripped.len());
            proptest::prop_assert_eq!(stripped, kept.join("&"));
        }
    }

    #[test]
    fn names_are_compared_decoded_whatever_they_hold() {
        // Configured names may hold `%`, `+`, `=` and `&`: only the decoded
        // form of a pair's name can equal them.
        for (q, name, want) in [
            ("a%62=1", "a%62", None),
            ("a%2562=1", "a%62", Some("1")),
            ("a+b=1", "a+b", None),
            ("a%2Bb=1", "a+b", Some("1")),
            ("x=y=1", "x=y", None),
            ("x%3Dy=1", "x=y", Some("1")),
            ("x&y=1", "x&y", None),
            ("x%26y=1", "x&y", Some("1")),
        ] {
            let found = find_param(q.as_bytes(), name.as_bytes());
            assert_eq!(found, Ok(want.map(str::as_bytes)), "{q:?} {name:?}");
            let oracle = url::form_urlencoded::parse(q.as_bytes())
                .filter(|(k, _)| k == name)
                .count();
            assert_eq!(oracle, usize::from(want.is_some()), "{q:?} {name:?}");
            let stripped = strip_param(q, name.as_bytes());
            assert_eq!(stripped.is_empty(), want.is_some(), "{q:?} {name:?}");
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
