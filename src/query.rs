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

use crate::scan::{candidates_from, Sieve, Walk};
use crate::Refusal;

/// What the scan found for one name: nothing, the raw (still encoded)
/// value of its only pair, or [`Refusal::Ambiguous`] for two or more.
pub(crate) type Found<'q> = Option<Result<&'q [u8], Refusal>>;

/// What the scan knows of the names it looks for, worked out once for a
/// policy ([`sought`]): the bytes their pairs may start with, and each
/// name's plain spelling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Sought<const N: usize> {
    sieve: Sieve,
    plain: [Plain; N],
}

/// A name as it is spelled without escapes, as one little-endian word,
/// and each of its bytes as an escape: for a name of at most 8 bytes,
/// none of which a form parser reads otherwise than as itself (`%`, `+`,
/// `=`, `&`); `len` is 0 for any other name, which is only ever compared
/// byte by byte.
///
/// Most pairs that start like a name are told apart from it, or found to
/// be it, in one comparison of words: the cost of a candidate does not
/// grow with how closely it imitates the name. An escape is compared as
/// its two digits at once, in either case, without decoding it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Plain {
    word: u64,
    mask: u64,
    len: usize,
    /// The name, then zeros: the word of its bytes from any offset.
    padded: [u8; 16],
    /// Each byte's two hex digits after a `%`, lower-case, as a
    /// little-endian `u16`.
    escapes: [u16; 8],
    /// What makes an upper-case digit lower-case (`0x20` on each letter
    /// digit of [`Plain::escapes`]): `x | 0x20` is a lower-case letter
    /// only for that letter in either case.
    folds: [u16; 8],
}

impl Plain {
    const fn of(name: &[u8]) -> Plain {
        let none = Plain {
            word: 0,
            mask: 0,
            len: 0,
            padded: [0; 16],
            escapes: [0; 8],
            folds: [0; 8],
        };
        if name.is_empty() || name.len() > 8 {
            return none;
        }
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut word = 0;
        let mut padded = [0; 16];
        let mut escapes = [0; 8];
        let mut folds = [0; 8];
        let mut i = 0;
        while i < name.len() {
            if matches!(name[i], b'%' | b'+' | b'=' | b'&') {
                return none;
            }
            word |= (name[i] as u64) << (8 * i);
            padded[i] = name[i];
            let (hi, lo) = ((name[i] >> 4) as usize, (name[i] & 0xf) as usize);
            escapes[i] = u16::from_le_bytes([DIGITS[hi], DIGITS[lo]]);
            folds[i] = u16::from_le_bytes([fold(hi), fold(lo)]);
            i += 1;
        }
        let mask = u64::MAX >> (8 * (8 - name.len()));
        Plain {
            word,
            mask,
            len: name.len(),
            padded,
            escapes,
            folds,
        }
    }

    /// Where the name of `pair` ends if it decodes to this name, the raw
    /// bytes before `raw` decoding to the name's first `from` bytes.
    ///
    /// Where plain bytes come next, up to eight of them are compared with
    /// the rest of the name at once, and the first that differs must start
    /// an escape of the name's byte (a plain name holds no `%`, `+`, `=` or
    /// `&`, so any other byte decodes to something else, or ends the
    /// name). An escape's two digits are compared with the name's byte's
    /// at once, case folded: a `%` that starts no escape, or one of
    /// another byte, is no byte of a plain name.
    #[inline(never)]
    fn spelled_end(&self, pair: &[u8], mut raw: usize, mut from: usize) -> Option<usize> {
        loop {
            let Some(left @ 1..) = self.len.checked_sub(from) else {
                return name_ends_at(pair, raw);
            };
            // The query ends before the name does.
            let &first = pair.get(raw)?;
            if first == b'%' {
                let (Some(&[hi, lo]), Some(escape), Some(fold)) = (
                    pair.get(raw + 1..raw + 3),
                    self.escapes.get(from),
                    self.folds.get(from),
                ) else {
                    return None;
                };
                if u16::from_le_bytes([hi, lo]) | fold != *escape {
                    return None;
                }
                raw += 3;
                from += 1;
                continue;
            }
            let (Some(chunk), Some(want)) = (
                pair.get(raw..).and_then(<[u8]>::first_chunk::<8>),
                self.padded.get(from..).and_then(<[u8]>::first_chunk::<8>),
            ) else {
                // Fewer than eight bytes left in the query: one byte.
                if Some(&first) != self.padded.get(from) {
                    return None;
                }
                raw += 1;
                from += 1;
                continue;
            };
            let diff = (u64::from_le_bytes(*chunk) ^ u64::from_le_bytes(*want))
                & (u64::MAX >> (8 * (8 - left)));
            if diff == 0 {
                return name_ends_at(pair, raw + left);
            }
            let differs = diff.trailing_zeros() as usize / 8;
            // The byte that differs must start an escape of the name's.
            if pair.get(raw + differs) != Some(&b'%') {
                return None;
            }
            raw += differs;
            from += differs;
        }
    }
}

/// What makes a hex digit's letter lower-case: `0x20` for a letter.
const fn fold(digit: usize) -> u8 {
    if digit >= 10 {
        0x20
    } else {
        0
    }
}

/// What the scan must know of `names`: the bytes their pairs may start
/// with (a name's first byte, or `%` for an escape that might decode to
/// it), the shortest name's length, and their plain spellings.
pub(crate) const fn sought<const N: usize>(names: [&[u8]; N]) -> Sought<N> {
    const { assert!(N <= 2, "the scan looks for two names at most") };
    let mut bytes = [b'%'; 3];
    let mut plain = [Plain::of(b""); N];
    let mut shortest = usize::MAX;
    let mut i = 0;
    while i < N {
        if let [first, ..] = names[i] {
            bytes[i] = *first;
        }
        plain[i] = Plain::of(names[i]);
        if names[i].len() < shortest {
            shortest = names[i].len();
        }
        i += 1;
    }
    Sought {
        sieve: Sieve::new(bytes, shortest),
        plain,
    }
}

/// The start of the first pair of `query` named by one of `names`, if
/// there is one: the test every request with a query takes.
///
/// Each name must be non-empty ASCII without whitespace (the policy
/// guarantees it): then a decoded name that is not valid UTF-8 can never
/// equal it, so comparing bytes is exactly what a lossy UTF-8 form parser
/// would conclude.
#[inline]
pub(crate) fn first_named<const N: usize>(
    query: &[u8],
    names: [&[u8]; N],
    sought: &Sought<N>,
) -> Option<usize> {
    // Most queries have no pair that might be named so, and end here; the
    // others are read on from where the first such pair may be.
    let from = candidates_from(query, &sought.sieve.firsts)?;
    first_named_from(query, names, sought, from)
}

/// [`first_named`] once a pair that may be named is found at `from`: out
/// of the hot path, which most queries leave before.
#[inline(never)]
fn first_named_from<const N: usize>(
    query: &[u8],
    names: [&[u8]; N],
    sought: &Sought<N>,
    from: usize,
) -> Option<usize> {
    let mut walk = Walk::new(query, from, &sought.sieve);
    while let Some(start) = walk.next(query, &sought.sieve) {
        if named(&query[start..], names, &sought.plain).is_some() {
            return Some(start);
        }
    }
    None
}

/// What [`read_params`] found: for each name, [`Found`]; and, when it was
/// asked to strip them and some pair was named, the path and query to put
/// in the URI instead: the path, then `?` and the query without those
/// pairs, unless nothing is left of it.
pub(crate) struct Params<'q, const N: usize> {
    pub(crate) found: [Found<'q>; N],
    pub(crate) stripped: Option<Vec<u8>>,
}

/// Reads the pairs of `query` named by `names` in one pass, from `from`
/// (0, or the start of its first named pair, from [`first_named`]): the
/// raw value of each name's only pair, or [`Refusal::Ambiguous`]; and,
/// when `strip` gives the URI's path, that path and `query` without those
/// pairs, every other byte in its place (other parameters keep their order
/// and their exact encoding): written once, into the buffer the rebuilt
/// URI takes as it is.
///
/// Without `strip` it stops at the first name found twice: the request is
/// then ambiguous, whatever follows. With it, every pair is read once,
/// however many are named; each named pair's value is skipped over, not
/// scanned, so a long value costs one `memchr`.
pub(crate) fn read_params<'q, const N: usize>(
    query: &'q str,
    names: [&[u8]; N],
    sought: &Sought<N>,
    from: usize,
    strip: Option<&'q str>,
) -> Params<'q, N> {
    let bytes = query.as_bytes();
    // For each name, how many pairs have it (two stands for more), and
    // the value of the first.
    let mut count = [0u8; N];
    let mut first = [(0, 0); N];
    let mut kept = Kept::new(bytes, strip.unwrap_or_default().as_bytes());
    let mut walk = Walk::new(bytes, from, &sought.sieve);
    while let Some(start) = walk.next(bytes, &sought.sieve) {
        let pair = &bytes[start..];
        let Some((which, name_end)) = named(pair, names, &sought.plain) else {
            continue;
        };
        let value = start + name_end + usize::from(pair.get(name_end) == Some(&b'='));
        let end = pair_end(bytes, value);
        if let (Some(count), Some(first)) = (count.get_mut(which), first.get_mut(which)) {
            if *count == 0 {
                *first = (value, end);
            }
            *count = 2.min(*count + 1);
            if strip.is_some() {
                kept.remove(start, end);
            } else if *count > 1 {
                break;
            }
        }
        // The next pair starts after this one's `&`: its value is passed
        // over, not scanned.
        walk.skip_to(end + 1);
    }
    let found = std::array::from_fn(|which| match count[which] {
        0 => None,
        1 => Some(Ok(&bytes[first[which].0..first[which].1])),
        _ => Some(Err(Refusal::Ambiguous)),
    });
    let stripped = match strip {
        Some(_) if count.iter().any(|&n| n > 0) => Some(kept.finish()),
        _ => None,
    };
    Params { found, stripped }
}

/// The query being stripped: what is kept so far, and where the last
/// removed range ends.
///
/// Each named pair is removed with the `&` before it once a pair was kept,
/// else with the `&` after it, so that the pairs kept stay joined by
/// single `&`s. Ranges come in order and never overlap.
struct Kept<'q> {
    query: &'q [u8],
    /// The kept bytes before `from`, after the path and `?`, allocated at
    /// the first of them: the path is only copied once the query is read.
    out: Option<Vec<u8>>,
    /// The URI's path, which the rebuilt path and query starts with.
    path: &'q [u8],
    /// Where the bytes not yet kept nor removed start.
    from: usize,
    /// A pair was kept before `from` (maybe an empty one).
    kept_before: bool,
}

impl<'q> Kept<'q> {
    fn new(query: &'q [u8], path: &'q [u8]) -> Self {
        Kept {
            query,
            path,
            out: None,
            from: 0,
            kept_before: false,
        }
    }

    /// Removes the named pair from `start` to `end` (its `&` or the end
    /// of the query), and keeps what comes before it.
    #[inline]
    fn remove(&mut self, start: usize, end: usize) {
        // Bytes since the last removed range are at least one kept pair
        // (maybe empty).
        self.kept_before |= start > self.from;
        let (cut, to) = if self.kept_before {
            (start - 1, end)
        } else {
            (start, (end + 1).min(self.query.len()))
        };
        if cut > self.from {
            self.keep(cut, to);
        }
        self.from = to;
    }

    /// Keeps the bytes from `self.from` to `cut`, before a range that goes
    /// on to `to`.
    fn keep(&mut self, cut: usize, to: usize) {
        let (len, path) = (self.query.len(), self.path);
        let out = self.out.get_or_insert_with(|| {
            // At least this range goes: the rest fits in what is left,
            // and the copy of a short pair may run past its end by less
            // than a chunk.
            let mut out = Vec::with_capacity(path.len() + 1 + len - (to - cut) + CHUNK);
            out.extend_from_slice(path);
            out.push(b'?');
            out
        });
        let kept = &self.query[self.from..cut];
        match self
            .query
            .get(self.from..)
            .and_then(<[u8]>::first_chunk::<CHUNK>)
        {
            // A call to `memcpy` costs more than the short pairs an
            // attacker keeps between removed ones: a whole chunk is
            // copied, within the capacity, and what is not kept dropped.
            Some(chunk) if kept.len() <= CHUNK => {
                let at = out.len();
                out.extend_from_slice(chunk);
                out.truncate(at + kept.len());
            }
            _ => out.extend_from_slice(kept),
        }
    }

    /// The path, then `?` and what is kept, once the last named pair is
    /// removed; the path alone when nothing is.
    fn finish(self) -> Vec<u8> {
        let (rest, path) = (&self.query[self.from..], self.path);
        match self.out {
            Some(mut out) => {
                out.extend_from_slice(rest);
                out
            }
            None if rest.is_empty() => path.to_vec(),
            None => [path, b"?", rest].concat(),
        }
    }
}

/// How many bytes [`Kept`] copies at once for a short kept range.
const CHUNK: usize = 16;

/// Which of `names` the decoded name of `pair` (up to its first `=` or
/// `&`) is, and where that name ends.
///
/// The pair's first eight bytes are compared with each name's plain
/// spelling at once. A pair that is a name's plain spelling is named so if
/// the name ends there. One that differs from it at a byte that starts no
/// escape is not named so: the bytes before that one are the name's own
/// (a plain name has no `%`, `+`, `=` or `&`), and that one decodes to
/// itself, or ends the name (`=`, `&`), or to a space (`+`), none of them
/// the name's byte. Only where that byte is a `%` (or the name has no
/// plain spelling, or the pair is shorter than eight bytes) is the rest
/// decoded, from there on.
#[inline]
fn named<const N: usize>(
    pair: &[u8],
    names: [&[u8]; N],
    plain: &[Plain; N],
) -> Option<(usize, usize)> {
    let (Some(word), false) = (pair.first_chunk::<8>(), pair.first() == Some(&b'%')) else {
        return escaped_name(pair, names, plain);
    };
    let word = u64::from_le_bytes(*word);
    for which in 0..N {
        let plain = &plain[which];
        let diff = (word ^ plain.word) & plain.mask;
        let name = names[which];
        let end = if plain.len == 0 {
            decoded_name_end(pair, name, 0, 0)
        } else if diff == 0 {
            name_ends_at(pair, plain.len)
        } else {
            // The byte that differs must start an escape of the name's
            // byte, or this name is ruled out.
            let differs = diff.trailing_zeros() as usize / 8;
            match pair[differs] {
                b'%' => plain.spelled_end(pair, differs, differs),
                _ => None,
            }
        };
        if let Some(end) = end {
            // Names differ, so no other one can match this pair.
            return Some((which, end));
        }
    }
    None
}

/// Where the pair whose value starts at `value` ends: its `&`, or the end
/// of the query.
#[inline]
fn pair_end(query: &[u8], value: usize) -> usize {
    let rest = &query[value..];
    if let None | Some(b'&') = rest.first() {
        // An empty value, as every repeated `crylk=` has.
        return value;
    }
    let Some(word) = rest.first_chunk::<8>() else {
        return rest
            .iter()
            .position(|&b| b == b'&')
            .map_or(query.len(), |amp| value + amp);
    };
    // The first `&` of eight bytes, from a word's bits: an attacker's
    // values are short, and a call to `memchr` costs more than this.
    const ONES: u64 = u64::from_le_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);
    let x = u64::from_le_bytes(*word) ^ u64::from_le_bytes([b'&'; 8]);
    // The lowest byte flagged is the first that is zero (those above it
    // may be flagged by a borrow).
    let zero = x.wrapping_sub(ONES) & !x & HIGHS;
    if zero != 0 {
        return value + zero.trailing_zeros() as usize / 8;
    }
    memchr::memchr(b'&', &rest[8..]).map_or(query.len(), |amp| value + 8 + amp)
}

/// [`named`] for a pair that starts with a `%` (or is shorter than eight
/// bytes): its first byte, decoded once, tells which names to compare.
fn escaped_name<const N: usize>(
    pair: &[u8],
    names: [&[u8]; N],
    plain: &[Plain; N],
) -> Option<(usize, usize)> {
    let (first, raw) = match pair {
        [b'%', rest @ ..] => decode_escape(rest).map_or((b'%', 1), |b| (b, 3)),
        [b'+', ..] => (b' ', 1),
        [b, ..] => (*b, 1),
        [] => return None,
    };
    // A raw `=` or `&` ends the name, however the name starts.
    if matches!(pair[0], b'=' | b'&') {
        return None;
    }
    names.iter().enumerate().find_map(|(which, name)| {
        if name.first() != Some(&first) {
            return None;
        }
        let end = if plain[which].len == 0 {
            decoded_name_end(pair, name, raw, 1)
        } else {
            plain[which].spelled_end(pair, raw, 1)
        };
        Some((which, end?))
    })
}

/// If the decoded name of `pair` (up to its first `=` or `&`) is `name`,
/// the index where that name ends, decoding from the raw byte `raw` on,
/// where the name's byte `from` is expected (the bytes before decode to
/// the name's). Stops at the first byte that differs. Out of the walk's
/// loop, which most pairs leave by the comparison of words.
#[inline(never)]
fn decoded_name_end(pair: &[u8], name: &[u8], raw: usize, from: usize) -> Option<usize> {
    let mut i = raw;
    for &want in name.get(from..)? {
        match pair.get(i..i + 3) {
            Some(&[b'%', hi, lo]) if HEX[usize::from(hi)] | HEX[usize::from(lo)] < 16 => {
                if HEX[usize::from(hi)] << 4 | HEX[usize::from(lo)] != want {
                    return None;
                }
                i += 3;
            }
            _ => {
                // Itself (a `%` that starts no escape too), unless a `+`,
                // a space to a form parser, or an `=` or `&`, which end
                // the name whatever the name holds.
                let b = *pair.get(i)?;
                if b != want || matches!(b, b'+' | b'=' | b'&') {
                    return None;
                }
                i += 1;
            }
        }
    }
    name_ends_at(pair, i)
}

/// `Some(i)` if the name of `pair` ends at `i`: there is its `=` or `&`,
/// or the end of the query.
#[inline]
fn name_ends_at(pair: &[u8], i: usize) -> Option<usize> {
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
    match HEX[usize::from(b)] {
        NOT_HEX => None,
        digit => Some(digit),
    }
}

/// Each byte's value as a hex digit, or [`NOT_HEX`]: one load a digit.
const HEX: [u8; 256] = {
    let mut table = [NOT_HEX; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = match b as u8 {
            d @ b'0'..=b'9' => d - b'0',
            d @ b'a'..=b'f' => d - b'a' + 10,
            d @ b'A'..=b'F' => d - b'A' + 10,
            _ => NOT_HEX,
        };
        b += 1;
    }
    table
};

const NOT_HEX: u8 = 0xff;

#[cfg(test)]
mod tests {
    use super::*;

    /// `query` without the pairs named by any of `names`, as
    /// [`read_params`] strips it after an empty path.
    fn strip_params<const N: usize>(query: &str, names: [&[u8]; N], sought: &Sought<N>) -> String {
        match read_params(query, names, sought, 0, Some("")).stripped {
            Some(rebuilt) => {
                let rebuilt = String::from_utf8(rebuilt).expect("kept bytes of a str");
                match rebuilt.strip_prefix('?') {
                    Some(kept) => kept.to_owned(),
                    None => {
                        assert!(rebuilt.is_empty(), "{rebuilt:?} after an empty path");
                        rebuilt
                    }
                }
            }
            None => query.to_owned(),
        }
    }

    /// The verdict's reading, without stripping.
    fn find_params<'q, const N: usize>(
        query: &'q [u8],
        names: [&[u8]; N],
        sought: &Sought<N>,
    ) -> [Found<'q>; N] {
        let query = std::str::from_utf8(query).expect("test queries are text");
        read_params(query, names, sought, 0, None).found
    }

    fn find(q: &str) -> Result<Option<&str>, Refusal> {
        let [found] = find_params(q.as_bytes(), [b"crylk"], &sought([b"crylk"]));
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
            let [found] = find_params(q.as_bytes(), [name.as_bytes()], &sought([name.as_bytes()]));
            assert_eq!(found, want.map(|w| Ok(w.as_bytes())), "{q:?} {name:?}");
            let oracle = url::form_urlencoded::parse(q.as_bytes())
                .filter(|(k, _)| k == name)
                .count();
            assert_eq!(oracle, usize::from(want.is_some()), "{q:?} {name:?}");
            let stripped = strip_params(q, [name.as_bytes()], &sought([name.as_bytes()]));
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
            let out = strip_params(q, [b"crylk"], &sought([b"crylk"]));
            assert_eq!(out, want, "{q:?}");
        }
    }

    #[test]
    fn two_names_in_one_pass() {
        let names: [&[u8]; 2] = [b"crylk", b"pa_query"];
        fn found(q: &str) -> [Found<'_>; 2] {
            find_params(
                q.as_bytes(),
                [b"crylk", b"pa_query"],
                &sought([b"crylk", b"pa_query"]),
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
            strip_params("x=1&pa_query=Q&y=2&crylk=L", names, &sought(names)),
            "x=1&y=2"
        );
    }

    /// What a form parser finds for each of `names`, as [`Found`] values
    /// decoded, and the query without them.
    fn form_oracle(
        query: &str,
        names: [&str; 2],
    ) -> ([Option<Result<String, Refusal>>; 2], String) {
        let pieces: Vec<&str> = query.split('&').collect();
        let name_of = |piece: &str| {
            url::form_urlencoded::parse(piece.as_bytes())
                .next()
                .map(|(name, _)| name.into_owned())
        };
        let found = names.map(|name| {
            let values: Vec<&str> = pieces
                .iter()
                .filter(|piece| name_of(piece).as_deref() == Some(name))
                .map(|piece| piece.split_once('=').map_or("", |(_, value)| value))
                .collect();
            match values.as_slice() {
                [] => None,
                [value] => Some(Ok((*value).to_owned())),
                _ => Some(Err(Refusal::Ambiguous)),
            }
        });
        let kept: Vec<&str> = pieces
            .iter()
            .copied()
            .filter(|piece| !name_of(piece).is_some_and(|n| names.contains(&n.as_str())))
            .collect();
        (found, kept.join("&"))
    }

    proptest::proptest! {
        /// Names of every length the plain comparison treats its own way
        /// (one byte, eight, more than eight, with a `%`), against a form
        /// parser: the same values, and the same query once stripped.
        #[test]
        fn names_of_any_length_read_as_a_form_parser_does(
            pick in 0..4usize,
            query in proptest::collection::vec(
                proptest::sample::select(vec![
                    "&", "=", "+", "%", "a", "%61", "%41", "b", "pa_query", "pa%5fquery",
                    "pa_query_long", "pa_query_lon%67", "pa_query_lon", "pa_quer",
                    "x%2562", "x%62", "xb", "crylk", "cryl%6B", "=v", "&a=1", "%26",
                    "%70a_query", "%70a_quer", "%70%61_query", "%63rylk", "%63ryl", "%63rylkk",
                    "pa%5Fquery", "pa%5fquer", "pa_q%75ery", "%70a%5F",
                ]),
                0..40,
            ),
        ) {
            let names = [["a", "pa_query"], ["crylk", "pa_query_long"], ["x%62", "pa_query"],
                ["pa_query", "a"]][pick];
            let query = query.concat();
            let bytes = names.map(str::as_bytes);
            let sought = sought(bytes);
            let read = read_params(&query, bytes, &sought, 0, Some("/p"));
            let (want, kept) = form_oracle(&query, names);
            let found = read.found.map(|found| {
                found.map(|value| value.map(|v| String::from_utf8(v.to_vec()).unwrap()))
            });
            proptest::prop_assert_eq!(&found, &want, "{:?} {:?}", query, names);
            let any = want.iter().any(Option::is_some);
            proptest::prop_assert_eq!(read.stripped.is_some(), any, "{:?}", query);
            if let Some(stripped) = read.stripped {
                let kept = if kept.is_empty() { "/p".to_owned() } else { format!("/p?{kept}") };
                proptest::prop_assert_eq!(stripped, kept.into_bytes(), "{:?} {:?}", query, names);
            }
            proptest::prop_assert_eq!(
                first_named(query.as_bytes(), bytes, &sought).is_some(),
                any,
                "{:?}", query
            );
        }

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
                let sought = sought(names);
                let first = first_named(query.as_bytes(), names, &sought);
                proptest::prop_assert_eq!(
                    first.is_some(),
                    find_params(query.as_bytes(), names, &sought) != [None, None],
                    "{:?}", query
                );
                // Read from the first named pair, as the layer does, or
                // from the start: the same values and the same stripping.
                for strip in [None, Some("/p")] {
                    let whole = read_params(&query, names, &sought, 0, strip);
                    let rest = read_params(&query, names, &sought, first.unwrap_or(0), strip);
                    proptest::prop_assert_eq!(whole.found, rest.found, "{:?}", query);
                    proptest::prop_assert_eq!(whole.stripped, rest.stripped, "{:?}", query);
                }
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
