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
//!
//! Once a pair may carry a name, the pairs are read on with [`Walk`], whose
//! windows also look a few bytes ahead of each `&` ([`Sieve`]), so that
//! pairs too short to be named are passed over 32 at a time.

use std::ops::Range;

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

/// What a pair must look like for the walk that reads the pairs ([`Walk`])
/// to hand it on: its first byte in `firsts`, and its raw name (up to its
/// `=`, `&` or the end) at least as long as
/// the shortest name, as far as [`AHEAD`] bytes tell. Each byte of a name
/// takes at least one byte of its raw name, so no shorter name can decode
/// to one: a query made of such pairs, `&c&c...`, is passed over a window
/// at a time, as a query without candidates is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Sieve {
    pub(crate) firsts: Firsts,
    /// The offsets from a pair's start of the bytes that must not end its
    /// name: 1 to `AHEAD`, each at most the shortest name's length less
    /// one (then 0, the first byte, which is never an `=` or `&` in a
    /// pair that can be named).
    ahead: [usize; AHEAD],
}

/// How many bytes after a pair's first byte the sieve looks at.
const AHEAD: usize = 4;

impl Sieve {
    /// `firsts` as [`Firsts::new`] takes them, and the length of the
    /// shortest name.
    pub(crate) const fn new(firsts: [u8; 3], shortest: usize) -> Self {
        let mut ahead = [0; AHEAD];
        let mut k = 0;
        while k < AHEAD {
            let offset = k + 1;
            ahead[k] = if offset < shortest { offset } else { 0 };
            k += 1;
        }
        Sieve {
            firsts: Firsts::new(firsts),
            ahead,
        }
    }

    /// Whether the pair at `start` of `query` may be named: its first byte
    /// is one of `firsts`, and none of the bytes ahead is an `=` or `&`.
    /// A byte past the end of `query` ends the name too.
    #[inline]
    fn passes(&self, query: &[u8], start: usize) -> bool {
        query.get(start).is_some_and(|&b| self.firsts.contains(b))
            && self.ahead.iter().all(|&k| {
                query
                    .get(start + k)
                    .is_some_and(|&b| (b != b'=') & (b != b'&'))
            })
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

/// The starts of the pairs of `query`, from `from` on, that pass a
/// [`Sieve`], in order: [`Walk::next`] hands on the next one, and
/// [`Walk::skip_to`] passes over the pairs before a position.
///
/// Wide windows, read with the bytes ahead of each lane, tell at once
/// which of their `&`s are followed by such a pair ([`passing`]): only
/// those are handed on. The last bytes, too few for a window, are read
/// one by one.
#[derive(Debug)]
pub(crate) struct Walk {
    /// The next window starts here (the `&` before a pair).
    at: usize,
    /// Where the window whose lanes are left starts, less one: the pair
    /// at 0 is lane 0 of a window at -1.
    window: usize,
    /// Its lanes not handed on yet.
    lanes: u32,
    /// No pair before this one is handed on.
    next: usize,
}

impl Walk {
    /// A walk over the pairs of `query` that start at `from` or after it
    /// and pass `sieve`.
    pub(crate) fn new(query: &[u8], from: usize, sieve: &Sieve) -> Self {
        Walk {
            at: from.saturating_sub(1),
            window: usize::MAX,
            lanes: u32::from(from == 0 && sieve.passes(query, 0)),
            next: from,
        }
    }

    /// Passes over the pairs that start before `next`.
    #[inline]
    pub(crate) fn skip_to(&mut self, next: usize) {
        self.next = self.next.max(next);
    }

    /// The start of the next pair of `query` that passes `sieve`.
    #[inline]
    pub(crate) fn next(&mut self, query: &[u8], sieve: &Sieve) -> Option<usize> {
        loop {
            while self.lanes != 0 {
                let lane = self.lanes.trailing_zeros() as usize;
                let start = self.window.wrapping_add(lane + 1);
                self.lanes &= self.lanes - 1;
                if start >= self.next {
                    self.next = start + 1;
                    return Some(start);
                }
            }
            self.at = self.at.max(self.next.saturating_sub(1));
            if let Some(bytes) = query
                .get(self.at..)
                .and_then(<[u8]>::first_chunk::<{ LANES + 1 + AHEAD }>)
            {
                self.lanes = passing(bytes, sieve);
                self.window = self.at;
                self.at += LANES;
                continue;
            }
            // Too few bytes left for a window.
            while let Some(&b) = query.get(self.at) {
                let start = self.at + 1;
                self.at = start;
                if b == b'&' && start >= self.next && sieve.passes(query, start) {
                    self.next = start + 1;
                    return Some(start);
                }
            }
            return None;
        }
    }
}

/// The lanes of `bytes` (bit `i` for byte `i`, of the first [`LANES`])
/// that are an `&` followed by a pair that passes `sieve`. Whole arrays
/// compared lane by lane, so that it compiles to vector compares; the
/// lanes, one byte each, are then gathered eight at a time into bits by
/// a multiplication.
#[inline]
fn passing(bytes: &[u8; LANES + 1 + AHEAD], sieve: &Sieve) -> u32 {
    let lanes = |offset: usize| bytes.get(offset..).and_then(<[u8]>::first_chunk::<LANES>);
    let [a0, a1, a2, a3] = sieve.ahead;
    let (Some(amps), Some(nexts), Some(b0), Some(b1), Some(b2), Some(b3)) = (
        lanes(0),
        lanes(1),
        lanes(1 + a0),
        lanes(1 + a1),
        lanes(1 + a2),
        lanes(1 + a3),
    ) else {
        // Offsets are at most `AHEAD`: never.
        return u32::MAX;
    };
    let [f0, f1, f2] = &sieve.firsts.0;
    let mut passes = [0u8; LANES];
    for i in 0..LANES {
        let next = nexts[i];
        let mut ends = false;
        for lane in [b0, b1, b2, b3] {
            ends |= (lane[i] == b'=') | (lane[i] == b'&');
        }
        let first = (next == f0[i]) | (next == f1[i]) | (next == f2[i]);
        passes[i] = u8::from((amps[i] == b'&') & first & !ends);
    }
    // Eight bytes of 0 or 1 times this gather them in the top byte.
    const GATHER: u64 = 0x0102_0408_1020_4080;
    let mut bits = 0;
    for (k, eight) in passes.chunks_exact(8).enumerate() {
        let eight = u64::from_le_bytes(eight.try_into().unwrap_or_default());
        bits |= ((eight.wrapping_mul(GATHER) >> 56) as u32) << (8 * k);
    }
    bits
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
        let sieve = Sieve::new(firsts, 1);
        let mut walk = Walk::new(query, from, &sieve);
        std::iter::from_fn(|| walk.next(query, &sieve)).collect()
    }

    /// Both ways in: every candidate from the start, and, where the hot
    /// path says the scan must go on, every candidate from there.
    fn check(query: &[u8], firsts: [u8; 3]) {
        let want = plain(query, firsts);
        assert_eq!(fast(query, 0, firsts), want, "{query:?}");
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

    /// The plain version of the sieve: the candidates whose raw name (up
    /// to `=`, `&` or the end) is `shortest` bytes long or more.
    fn sieved(query: &[u8], firsts: [u8; 3], shortest: usize) -> Vec<usize> {
        plain(query, firsts)
            .into_iter()
            .filter(|&start| {
                let name = query[start..]
                    .iter()
                    .position(|&b| b == b'=' || b == b'&')
                    .unwrap_or(query.len() - start);
                name >= shortest.min(AHEAD + 1)
            })
            .collect()
    }

    /// Every candidate the sieve lets through, and, when `f` skips ahead,
    /// none before where it asked to go on.
    fn check_sieve(query: &[u8], firsts: [u8; 3], shortest: usize, skip: usize) {
        let sieve = Sieve::new(firsts, shortest);
        let mut walk = Walk::new(query, 0, &sieve);
        let mut starts = Vec::new();
        while let Some(start) = walk.next(query, &sieve) {
            starts.push(start);
            walk.skip_to(start + skip);
        }
        let mut want = Vec::new();
        for start in sieved(query, firsts, shortest) {
            if want.last().is_none_or(|&last| start >= last + skip) {
                want.push(start);
            }
        }
        assert_eq!(starts, want, "{query:?} {shortest} {skip}");
    }

    proptest::proptest! {
        #[test]
        fn the_sieve_agrees_with_its_plain_version(query in proptest::collection::vec(
            proptest::sample::select(b"&&cp%x==a".to_vec()), 0..200),
            shortest in 1..8usize, skip in 1..12usize) {
            check_sieve(&query, *b"cp%", shortest, skip);
        }

        #[test]
        fn agrees_with_the_plain_version(query in proptest::collection::vec(
            proptest::sample::select(b"&cp%x=a".to_vec()), 0..200)) {
            check(&query, *b"cp%");
            check(&query, *b"a%%");
        }
    }
}
