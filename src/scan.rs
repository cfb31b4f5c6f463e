//! The loop every request runs: finding the pairs of a query that may carry
//! one of the layer's parameters.
//!
//! Nearly every query carries none, so nearly all the work is telling, for
//! each `&`, that the byte after it starts no name. This module does it for
//! thirty-two `&`s at a time, with arrays compared lane by lane that the
//! compiler turns into vector compares; a window is looked at more closely
//! only when one of its `&`s is followed by a candidate byte. The
//! `scan_only` group of `benches/instructions.rs` compiles this file beside
//! its plain version, a `memchr` loop over the `&`s (also the oracle of the
//! tests below), and measures both on queries without a link.

use std::ops::{ControlFlow, Range};

/// The bytes that may start a name: the first bytes of the names, and
/// `%`, which may decode to one of them (repeat a byte to fill the three).
/// Each comes repeated to fill a window, so that comparing a window with
/// it is a vector compare or two.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Firsts([[u8; LANES]; 3]);

impl Firsts {
    pub(crate) const fn new(bytes: [u8; 3]) -> Self {
        Firsts([[bytes[0]; LANES], [bytes[1]; LANES], [bytes[2]; LANES]])
    }

    #[inline]
    fn contains(&self, b: u8) -> bool {
        let [f0, f1, f2] = &self.0;
        (b == f0[0]) | (b == f1[0]) | (b == f2[0])
    }
}

/// How many `&`s a wide window holds. Read with the byte after the last, a
/// window is one byte longer.
const LANES: usize = 32;

/// How many `&`s a narrow window holds.
const NARROW: usize = LANES / 2;

/// Where the pairs of `query` whose first byte is in `firsts` start, if it
/// has any: none of them starts before the offset returned.
///
/// Most queries have none: this is then the whole of their scan, one pass
/// over windows of the query that calls nothing and writes no memory.
#[inline]
pub(crate) fn candidates_from(query: &[u8], firsts: &Firsts) -> Option<usize> {
    if query.first().is_some_and(|&b| firsts.contains(b)) {
        return Some(0);
    }
    let mut padded_query = None;
    let query = readable(query, &mut padded_query);
    // A pair after one of these `&`s.
    amps_with_candidate(query, 0, firsts).map(|amps| amps.start + 1)
}

/// Calls `f` with the start of each pair of `query`, at `from` or after
/// it, whose first byte is in `firsts`, in order (0 if the query starts
/// with one, and one past each `&` followed by one), until `f` breaks.
pub(crate) fn for_each_candidate(
    query: &[u8],
    from: usize,
    firsts: &Firsts,
    mut f: impl FnMut(usize) -> ControlFlow<()>,
) {
    if from == 0 && query.first().is_some_and(|&b| firsts.contains(b)) && f(0).is_break() {
        return;
    }
    let mut padded_query = None;
    let query = readable(query, &mut padded_query);
    // The `&` that comes before a pair at `from` or after it.
    let mut at = from.saturating_sub(1);
    while let Some(amps) = amps_with_candidate(query, at, firsts) {
        at = amps.end;
        let flow = for_each_amp(query, amps, |amp| match query.get(amp + 1) {
            Some(&b) if firsts.contains(b) => f(amp + 1),
            _ => ControlFlow::Continue(()),
        });
        if flow.is_break() {
            return;
        }
    }
}

/// Calls `f` with the position of each `&` of `query` in `amps`, in order,
/// until `f` breaks.
///
/// Eight bytes at a time, each `&` found from a word's bits: a window with
/// a candidate often has no other `&`, and a word without one is passed
/// over in a few operations rather than eight byte compares.
fn for_each_amp(
    query: &[u8],
    amps: Range<usize>,
    mut f: impl FnMut(usize) -> ControlFlow<()>,
) -> ControlFlow<()> {
    const LOW: u64 = u64::from_le_bytes([0x7f; 8]);
    const AMPS: u64 = u64::from_le_bytes([b'&'; 8]);
    let mut at = amps.start;
    while let Some(word) = query.get(at..amps.end).and_then(<[u8]>::first_chunk::<8>) {
        // The high bit of each byte that is an `&`, and of no other.
        let x = u64::from_le_bytes(*word) ^ AMPS;
        let mut found = !(((x & LOW) + LOW) | x | LOW);
        while found != 0 {
            f(at + found.trailing_zeros() as usize / 8)?;
            found &= found - 1;
        }
        at += 8;
    }
    // Fewer than a word's bytes left.
    (at..amps.end)
        .filter(|&amp| query.get(amp) == Some(&b'&'))
        .try_for_each(f)
}

/// The positions, from `at` on, of the first window of `query` (a narrow
/// window long at least) where an `&` is followed by a byte of `firsts`.
///
/// The windows are read in place: wide ones while a whole one fits, then
/// narrow ones, the last of which ends the query and overlaps the one
/// before it. Each test has one use, so that the compiler inlines it and
/// keeps it to a few vector compares.
#[inline]
fn amps_with_candidate(query: &[u8], mut at: usize, firsts: &Firsts) -> Option<Range<usize>> {
    while let Some((amps, nexts)) = window::<LANES>(query, at) {
        if any_candidate(amps, nexts, firsts) {
            return Some(at..at + LANES);
        }
        at += LANES;
    }
    let last = query.len().checked_sub(NARROW + 1)?;
    // While an `&` is left that a byte follows.
    while at + 1 < query.len() {
        let start = at.min(last);
        let (amps, nexts) = window::<NARROW>(query, start)?;
        if any_candidate(amps, nexts, firsts) {
            return Some(at..start + NARROW);
        }
        at = start + NARROW;
    }
    None
}

/// The `W` bytes of `query` from `at` (the `&`s) and the `W` from one
/// further (the bytes after them).
#[inline]
fn window<const W: usize>(query: &[u8], at: usize) -> Option<(&[u8; W], &[u8; W])> {
    let bytes = query.get(at..)?;
    Some((
        bytes.first_chunk::<W>()?,
        bytes.get(1..)?.first_chunk::<W>()?,
    ))
}

/// Whether one of `amps` is an `&` whose byte in `nexts` is one of
/// `firsts`. Whole arrays compared lane by lane, with no early exit, so
/// that it compiles to a few vector compares.
#[inline]
fn any_candidate<const W: usize>(amps: &[u8; W], nexts: &[u8; W], firsts: &Firsts) -> bool {
    let [f0, f1, f2] = &firsts.0;
    let mut any = false;
    for i in 0..W {
        let next = nexts[i];
        any |= (amps[i] == b'&') & ((next == f0[i]) | (next == f1[i]) | (next == f2[i]));
    }
    any
}

/// `query` as the windows read it: itself, or a copy in `buf` padded with
/// NULs, which are no `&` and start no name, if it is shorter than a
/// window.
#[inline]
fn readable<'q>(query: &'q [u8], buf: &'q mut Option<[u8; NARROW + 1]>) -> &'q [u8] {
    if query.len() > NARROW {
        return query;
    }
    buf.insert(padded(query))
}

/// `bytes` (a narrow window's `&`s at most) followed by NULs, which are no
/// `&` and start no name.
///
/// Copied in two pieces of a size known when compiling, which overlap
/// unless `bytes` fills them: a copy of a length only known at run time
/// would be a call to `memcpy`.
#[inline]
fn padded(bytes: &[u8]) -> [u8; NARROW + 1] {
    let mut window = [0; NARROW + 1];
    let n = bytes.len();
    if let (Some(head), Some(tail)) = (bytes.first_chunk::<8>(), bytes.last_chunk::<8>()) {
        window[..8].copy_from_slice(head);
        window[n - 8..n].copy_from_slice(tail);
    } else if let (Some(head), Some(tail)) = (bytes.first_chunk::<4>(), bytes.last_chunk::<4>()) {
        window[..4].copy_from_slice(head);
        window[n - 4..n].copy_from_slice(tail);
    } else if let Some(&first) = bytes.first() {
        // One to three bytes: the first, the last and the middle one.
        window[0] = first;
        window[n / 2] = bytes[n / 2];
        window[n - 1] = bytes[n - 1];
    }
    window
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The plain version: every `&` found by `memchr`, then its next byte.
    pub(crate) fn plain(query: &[u8], firsts: [u8; 3]) -> Vec<usize> {
        std::iter::once(0)
            .chain(memchr::memchr_iter(b'&', query).map(|amp| amp + 1))
            .filter(|&start| query.get(start).is_some_and(|b| firsts.contains(b)))
            .collect()
    }

    fn fast(query: &[u8], from: usize, firsts: [u8; 3]) -> Vec<usize> {
        let mut starts = Vec::new();
        for_each_candidate(query, from, &Firsts::new(firsts), |start| {
            starts.push(start);
            ControlFlow::Continue(())
        });
        starts
    }

    /// Both ways in: every candidate from the start, and, where the hot
    /// path says the scan must go on, every candidate from there.
    fn check(query: &[u8], firsts: [u8; 3]) {
        let want = plain(query, firsts);
        assert_eq!(fast(query, 0, firsts), want, "{query:?}");
        // Stopped after two, it has called back for the first two only.
        let mut two = Vec::new();
        for_each_candidate(query, 0, &Firsts::new(firsts), |start| {
            two.push(start);
            match two.len() {
                2 => ControlFlow::Break(()),
                _ => ControlFlow::Continue(()),
            }
        });
        assert_eq!(two, want[..want.len().min(2)], "{query:?}");
        match candidates_from(query, &Firsts::new(firsts)) {
            None => assert!(want.is_empty(), "{query:?}"),
            Some(from) => assert_eq!(fast(query, from, firsts), want, "{query:?} from {from}"),
        }
    }

    #[test]
    fn agrees_with_the_plain_version_at_every_offset() {
        let firsts = *b"cp%";
        // Candidates and near-misses at every position of the windows, for
        // every length up to three windows.
        let pattern = b"&c&x&%&&p=&&cc&%&";
        for len in 0..=3 * (LANES + 1) {
            for shift in 0..pattern.len() {
                let query: Vec<u8> = pattern
                    .iter()
                    .cycle()
                    .skip(shift)
                    .take(len)
                    .copied()
                    .collect();
                check(&query, firsts);
            }
            // One candidate alone, at every place, and none.
            for at in 0..=len {
                let mut query = vec![b'x'; len];
                if let Some(b) = query.get_mut(at) {
                    *b = b'c';
                }
                if let Some(b) = query.get_mut(at.wrapping_sub(1)) {
                    *b = b'&';
                }
                check(&query, firsts);
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn agrees_with_the_plain_version(query in proptest::collection::vec(
            proptest::sample::select(b"&cp%x=a".to_vec()), 0..200)) {
            check(&query, *b"cp%");
            check(&query, *b"a%%");
        }
    }
}
