//! Finding the parameters in a raw query string, the way a form parser would.
//!
//! The scan reads the query as `application/x-www-form-urlencoded`
//! (`url::form_urlencoded`, serde_urlencoded and every framework's `Query`
//! extractor do the same): pairs are separated by `&`, empty pairs are
//! skipped, the name ends at the first `=`, and names are decoded (`+` is a
//! space, `%XX` a byte, a `%` not followed by two hex digits stays literal).
//! Names are compared while they are decoded, so nothing is allocated and
//! each byte of the query is looked at a bounded number of times.
//!
//! Which pairs may carry a name is [`crate::scan`]'s to find.

use std::ops::ControlFlow;

use crate::scan::{candidates_from, for_each_candidate, Firsts};
use crate::Refusal;

/// What the scan found for one name: nothing, the raw (still encoded)
/// value of its only pair, or [`Refusal::Ambiguous`] for two or more.
pub(crate) type Found<'q> = Option<Result<&'q [u8], Refusal>>;

/// Looks for each of `names` in one pass over `query`.
///
/// Each name must be non-empty ASCII without whitespace (the policy
/// guarantees it): then a decoded name that is not valid UTF-8 can never
/// equal it, so comparing bytes is exactly what a lossy UTF-8 form parser
/// would conclude.
pub(crate) fn find_params<'q, const N: usize>(
    query: &'q [u8],
    names: [&[u8]; N],
    firsts: &Firsts,
) -> [Found<'q>; N] {
    let mut found = [None; N];
    for_each_named_pair(query, names, firsts, 0, |which, start, value| {
        found[which] = match found[which] {
            None => Some(Ok(pair_value(query, start, value))),
            Some(_) => Some(Err(Refusal::Ambiguous)),
        };
        ControlFlow::Continue(())
    });
    found
}

/// Whether any pair of `query` is named by one of `names`, whose first
/// bytes are `firsts` (from [`firsts`]): the test every request with a
/// query takes, which stops at the first such pair.
pub(crate) fn names_any(query: &[u8], names: [&[u8]; 2], firsts: &Firsts) -> bool {
    // Most queries have no pair that might be named so, and end here; the
    // others are read on from where the first such pair may be.
    let Some(from) = candidates_from(query, firsts) else {
        return false;
    };
    let mut named = false;
    for_each_named_pair(query, names, firsts, from, |_, _, _| {
        named = true;
        ControlFlow::Break(())
    });
    named
}

/// `query` without the pairs named by any of `names`, every other byte in
/// its place: other parameters keep their order and their exact encoding.
///
/// Sized exactly before it is filled, so that the caller's URI is built
/// from it without another allocation.
pub(crate) fn strip_params<const N: usize>(
    query: &str,
    names: [&[u8]; N],
    firsts: &Firsts,
) -> String {
    let bytes = query.as_bytes();
    let mut removed = 0;
    for_each_removed(bytes, names, firsts, |start, end| removed += end - start);
    let mut out = String::with_capacity(bytes.len() - removed);
    if removed == bytes.len() {
        // The link was the whole query: the common case.
        return out;
    }
    let mut kept_from = 0;
    for_each_removed(bytes, names, firsts, |start, end| {
        // Removed ranges start and end next to an ASCII `&` (or at an end
        // of the query): always character boundaries.
        out.push_str(&query[kept_from..start]);
        kept_from = end;
    });
    out.push_str(&query[kept_from..]);
    out
}

/// Calls `f(which, start, value)` for each pair of `query` whose decoded
/// name is `names[which]`: the pair starts at `start` and its value at
/// `value` (where the pair ends when it has no `=`).
fn for_each_named_pair<const N: usize>(
    query: &[u8],
    names: [&[u8]; N],
    firsts: &Firsts,
    from: usize,
    mut f: impl FnMut(usize, usize, usize) -> ControlFlow<()>,
) {
    for_each_candidate(query, from, firsts, |start| {
        let pair = &query[start..];
        // The pair's first byte, decoded: most candidates stop here.
        let first = match pair {
            [b'%', rest @ ..] => decode_escape(rest).unwrap_or(b'%'),
            [b'+', ..] => b' ',
            [b, ..] => *b,
            [] => return ControlFlow::Continue(()),
        };
        for (which, name) in names.iter().enumerate() {
            if name.first() != Some(&first) {
                continue;
            }
            if let Some(value) = value_start(pair, name) {
                // Names differ, so no other one can match this pair.
                return f(which, start, start + value);
            }
        }
        ControlFlow::Continue(())
    });
}

/// The bytes a pair named by one of `names` may start with: a name's first
/// byte, or `%` for an escape that might decode to it.
pub(crate) const fn firsts<const N: usize>(names: [&[u8]; N]) -> Firsts {
    const { assert!(N <= 2, "the scan looks for two names at most") };
    let mut bytes = [b'%'; 3];
    let mut i = 0;
    while i < N {
        if let [first, ..] = names[i] {
            bytes[i] = *first;
        }
        i += 1;
    }
    Firsts::new(bytes)
}

/// The raw value of the pair that starts at `start`, from `value` to the
/// next `&`.
fn pair_value(query: &[u8], start: usize, value: usize) -> &[u8] {
    let end = pair_end(query, start);
    &query[value.min(end)..end]
}

/// Where the pair at `start` ends: its `&`, or the end of the query.
fn pair_end(query: &[u8], start: usize) -> usize {
    memchr::memchr(b'&', &query[start..]).map_or(query.len(), |amp| start + amp)
}

/// Calls `f` with the ranges of `query` to remove so that the pairs named
/// by `names` are gone and the others stay joined by single `&`s: each
/// such pair with the `&` before it once a pair was kept, else with the
/// `&` after it. Ranges come in order and never overlap.
fn for_each_removed<const N: usize>(
    query: &[u8],
    names: [&[u8]; N],
    firsts: &Firsts,
    mut f: impl FnMut(usize, usize),
) {
    let mut removed_to = 0;
    let mut kept_before = false;
    for_each_named_pair(query, names, firsts, 0, |_, start, _| {
        // Bytes since the last removed range are at least one kept pair
        // (maybe empty).
        kept_before |= start > removed_to;
        let end = pair_end(query, start);
        let range = if kept_before {
            (start - 1, end)
        } else {
            (start, (end + 1).min(query.len()))
        };
        f(range.0, range.1);
        removed_to = range.1;
        ControlFlow::Continue(())
    });
}

/// If the decoded name of `pair` is `name`, where its value starts (after
/// the `=`, or where the pair ends when it has none).
#[inline]
fn value_start(pair: &[u8], name: &[u8]) -> Option<usize> {
    let end = name_end(pair, name)?;
    Some(if pair.get(end) == Some(&b'=') {
        end + 1
    } else {
        end
    })
}

/// If the decoded name of `pair` (up to its first `=` or `&`) is `name`,
/// the index where that name ends. Stops at the first byte that differs.
#[inline]
fn name_end(pair: &[u8], name: &[u8]) -> Option<usize> {
    let mut i = 0;
    for &want in name {
        let (byte, len) = match *pair.get(i)? {
            b'=' | b'&' => return None,
            b'+' => (b' ', 1),
            b'%' => match decode_escape(&pair[i + 1..]) {
                Some(b) => (b, 3),
                None => (b'%', 1),
            },
            b => (b, 1),
        };
        if byte != want {
            return None;
        }
        i += len;
    }
    match pair.get(i) {
        None | Some(b'=' | b'&') => Some(i),
        Some(_) => None,
    }
}

/// The byte encoded by two hex digits at the start of `rest`, if there are.
#[inline]
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

#[cfg(test)]
mod tests {
    use super::*;

    fn find(q: &str) -> Result<Option<&str>, Refusal> {
        let [found] = find_params(q.as_bytes(), [b"crylk"], &firsts([b"crylk"]));
        found
            .transpose()
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
            let [found] = find_params(q.as_bytes(), [name.as_bytes()], &firsts([name.as_bytes()]));
            assert_eq!(found, want.map(|w| Ok(w.as_bytes())), "{q:?} {name:?}");
            let oracle = url::form_urlencoded::parse(q.as_bytes())
                .filter(|(k, _)| k == name)
                .count();
            assert_eq!(oracle, usize::from(want.is_some()), "{q:?} {name:?}");
            let stripped = strip_params(q, [name.as_bytes()], &firsts([name.as_bytes()]));
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
            let out = strip_params(q, [b"crylk"], &firsts([b"crylk"]));
            assert_eq!(out, want, "{q:?}");
            assert_eq!(out.capacity(), out.len(), "{q:?}");
        }
    }

    #[test]
    fn two_names_in_one_pass() {
        let names: [&[u8]; 2] = [b"crylk", b"pa_query"];
        fn found(q: &str) -> [Found<'_>; 2] {
            find_params(
                q.as_bytes(),
                [b"crylk", b"pa_query"],
                &firsts([b"crylk", b"pa_query"]),
            )
        }
        assert_eq!(found("a=1&b=2"), [None, None]);
        assert_eq!(
            found("pa_query=Q&crylk=L"),
            [Some(Ok(&b"L"[..])), Some(Ok(&b"Q"[..]))]
        );
        assert_eq!(
            found("crylk=L&pa_query=1&pa%5Fquery=2"),
            [Some(Ok(&b"L"[..])), Some(Err(Refusal::Ambiguous))]
        );
        assert_eq!(
            strip_params("x=1&pa_query=Q&y=2&crylk=L", names, &firsts(names)),
            "x=1&y=2"
        );
    }

    proptest::proptest! {
        /// The test every request takes agrees with the full scan, for
        /// queries made of the names' pieces, as long as a few windows.
        #[test]
        fn names_any_agrees_with_find_params(query in proptest::collection::vec(
            proptest::sample::select(vec![
                "&", "=", "+", "%", "c", "p", "x", "lk", "%q", "crylk", "%63rylk",
                "pa_query", "pa%5Fquery", "cryl", "pa_", "&crylk=1", "&c=2",
            ]),
            0..40,
        )) {
            let query = query.concat();
            for names in [[&b"crylk"[..], b"pa_query"], [b"lk", b"%q"]] {
                let firsts = firsts(names);
                proptest::prop_assert_eq!(
                    names_any(query.as_bytes(), names, &firsts),
                    find_params(query.as_bytes(), names, &firsts) != [None, None],
                    "{:?}", query
                );
            }
        }
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
