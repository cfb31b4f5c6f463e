//! The loop every request runs: finding the pairs of a query that may carry
//! one of the layer's parameters.
//!
//! Nearly every query carries none, so nearly all the work is telling, for
//! each `&`, that the byte after it starts no name. This module does it
//! sixteen pairs of bytes at a time: a block is looked at byte by byte only
//! when one of its `&`s is followed by a candidate byte. The `scan_only`
//! group of `benches/instructions.rs` compiles this file beside its plain
//! version, a `memchr` loop over the `&`s (also the oracle of the tests
//! below), and measures both on queries without a link.

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

/// How many `&`s a window holds. Read with the byte after the last, a
/// window is one byte longer.
const LANES: usize = 32;

/// The `&`s of a window, and the byte after the last.
type Window = [u8; LANES + 1];

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
    let padded_query;
    let query = match query.len() {
        0..=LANES => {
            padded_query = padded(query);
            &padded_query[..]
        }
        _ => query,
    };
    // A pair after the window's first `&`.
    window_with_candidate(query, 0, firsts).map(|(start, _)| start + 1)
}

/// Calls `f` with the start of each pair of `query`, at `from` or after
/// it, whose first byte is in `firsts`, in order: 0 if the query starts
/// with one, and one past each `&` followed by one.
pub(crate) fn for_each_candidate(
    query: &[u8],
    mut from: usize,
    firsts: &Firsts,
    mut f: impl FnMut(usize),
) {
    while let Some(start) = next_candidate(query, from, firsts) {
        f(start);
        from = start + 1;
    }
}

/// The start of the first pair of `query`, at `from` or after it, whose
/// first byte is in `firsts`.
fn next_candidate(query: &[u8], from: usize, firsts: &Firsts) -> Option<usize> {
    if from == 0 && query.first().is_some_and(|&b| firsts.contains(b)) {
        return Some(0);
    }
    let padded_query;
    let query = match query.len() {
        0..=LANES => {
            padded_query = padded(query);
            &padded_query[..]
        }
        _ => query,
    };
    // The `&` that comes before a pair at `from` or after it.
    let (start, skip) = window_with_candidate(query, from.saturating_sub(1), firsts)?;
    let window = query.get(start..)?.first_chunk::<{ LANES + 1 }>()?;
    first_in(window, skip, firsts).map(|i| start + i)
}

/// The start of the first window of `query` (at least a window long), from
/// the byte `at` on, where an `&` is followed by a byte of `firsts`, and
/// how many of its first bytes come before `at` or were looked at already.
///
/// The windows are read in place, each a window's `&`s and the byte after
/// the last; the last one ends the query and overlaps the one before it.
#[inline]
fn window_with_candidate(query: &[u8], at: usize, firsts: &Firsts) -> Option<(usize, usize)> {
    let last = query.len().checked_sub(LANES + 1)?;
    let (mut at, mut skip) = if at <= last {
        (at, 0)
    } else {
        (last, at - last)
    };
    loop {
        // One test per window, here only: where the compiler sees one use,
        // it inlines the test and keeps it to a few vector compares.
        let window = query.get(at..)?.first_chunk::<{ LANES + 1 }>()?;
        if any_candidate(window, firsts) {
            return Some((at, skip));
        }
        if at == last {
            return None;
        }
        let next = at + LANES;
        (at, skip) = if next <= last {
            (next, 0)
        } else {
            (last, next - last)
        };
    }
}

/// The offset in `window` of its first candidate after its first `skip`
/// bytes: one past an `&` followed by a byte of `firsts`.
///
/// Found the plain way, with `memchr`: written like `any_candidate`, the
/// compiler merges the two, and the block loop no longer compiles to
/// vector compares.
fn first_in(window: &Window, skip: usize, firsts: &Firsts) -> Option<usize> {
    let amps = window.get(skip..LANES)?;
    memchr::memchr_iter(b'&', amps)
        .map(|amp| skip + amp + 1)
        .find(|&next| firsts.contains(window[next]))
}

/// Whether one of the `&`s of `window` is followed by a byte of `firsts`.
/// Whole arrays compared lane by lane, with no early exit, so that it
/// compiles to a few vector compares.
#[inline]
fn any_candidate(window: &Window, firsts: &Firsts) -> bool {
    let (Some(amps), Some(nexts)) = (window.first_chunk::<LANES>(), window.last_chunk::<LANES>())
    else {
        return true;
    };
    let [f0, f1, f2] = &firsts.0;
    let mut any = false;
    for i in 0..LANES {
        let next = nexts[i];
        any |= (amps[i] == b'&') & ((next == f0[i]) | (next == f1[i]) | (next == f2[i]));
    }
    any
}

/// `bytes` (at most a window's `&`s) followed by NULs, which are no `&`
/// and start no name.
///
/// Copied in two pieces of a size known when compiling, which overlap
/// unless `bytes` fills them: a copy of a length only known at run time
/// would be a call to `memcpy`.
#[inline]
fn padded(bytes: &[u8]) -> Window {
    let mut window = [0; LANES + 1];
    let n = bytes.len();
    if let (Some(head), Some(tail)) = (bytes.first_chunk::<16>(), bytes.last_chunk::<16>()) {
        window[..16].copy_from_slice(head);
        window[n - 16..n].copy_from_slice(tail);
    } else if let (Some(head), Some(tail)) = (bytes.first_chunk::<8>(), bytes.last_chunk::<8>()) {
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
            starts.push(start)
        });
        starts
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

    proptest::proptest! {
        #[test]
        fn agrees_with_the_plain_version(query in proptest::collection::vec(
            proptest::sample::select(b"&cp%x=a".to_vec()), 0..200)) {
            check(&query, *b"cp%");
            check(&query, *b"a%%");
        }
    }
}
