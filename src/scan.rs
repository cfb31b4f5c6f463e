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

/// Bytes that may start a name: the first bytes of the names, and `%`,
/// which may decode to one of them. Repeat a byte to fill the array.
pub(crate) type Firsts = [u8; 3];

/// Calls `f` with the start of each pair of `query` whose first byte is in
/// `firsts`, in order: 0 if the query starts with one, and one past each
/// `&` followed by one.
#[inline]
pub(crate) fn for_each_candidate(query: &[u8], firsts: Firsts, mut f: impl FnMut(usize)) {
    let starts_name = |b: u8| (b == firsts[0]) | (b == firsts[1]) | (b == firsts[2]);
    if query.first().is_some_and(|&b| starts_name(b)) {
        f(0);
    }
    let mut at = 0;
    // Each block of sixteen `&`s and the byte after it, read in place.
    while let Some(window) = query.get(at..).and_then(<[u8]>::first_chunk::<17>) {
        if any_candidate(window, firsts) {
            report(window, at, starts_name, &mut f);
        }
        at += 16;
    }
    // The last bytes, padded with NULs, which start no name.
    let tail = &query[at..];
    if tail.len() > 1 {
        let mut window = [0u8; 17];
        window[..tail.len()].copy_from_slice(tail);
        if any_candidate(&window, firsts) {
            report(&window, at, starts_name, &mut f);
        }
    }
}

/// Calls `f` with the offset, from `at`, of each candidate of `window`.
#[inline]
fn report(
    window: &[u8; 17],
    at: usize,
    starts_name: impl Fn(u8) -> bool,
    f: &mut impl FnMut(usize),
) {
    for i in 0..16 {
        if window[i] == b'&' && starts_name(window[i + 1]) {
            f(at + i + 1);
        }
    }
}

/// Whether one of the first sixteen bytes of `window` is an `&` followed
/// by a byte of `firsts`. A fold over whole arrays, with no early exit, so
/// that it compiles to a few vector compares.
#[inline]
fn any_candidate(window: &[u8; 17], firsts: Firsts) -> bool {
    let (Some(amps), Some(nexts)) = (window.first_chunk::<16>(), window.last_chunk::<16>()) else {
        return true;
    };
    amps.iter().zip(nexts).fold(false, |any, (&amp, &next)| {
        let first = (next == firsts[0]) | (next == firsts[1]) | (next == firsts[2]);
        any | ((amp == b'&') & first)
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The plain version: every `&` found by `memchr`, then its next byte.
    pub(crate) fn plain(query: &[u8], firsts: Firsts) -> Vec<usize> {
        std::iter::once(0)
            .chain(memchr::memchr_iter(b'&', query).map(|amp| amp + 1))
            .filter(|&start| query.get(start).is_some_and(|b| firsts.contains(b)))
            .collect()
    }

    fn fast(query: &[u8], firsts: Firsts) -> Vec<usize> {
        let mut starts = Vec::new();
        for_each_candidate(query, firsts, |start| starts.push(start));
        starts
    }

    #[test]
    fn agrees_with_the_plain_version_at_every_offset() {
        let firsts = *b"cp%";
        // Candidates and near-misses at every position of the blocks and
        // of the tail, for every length up to three blocks.
        let pattern = b"&c&x&%&&p=&&cc&%&";
        for len in 0..=3 * 17 {
            for shift in 0..pattern.len() {
                let query: Vec<u8> = pattern
                    .iter()
                    .cycle()
                    .skip(shift)
                    .take(len)
                    .copied()
                    .collect();
                assert_eq!(fast(&query, firsts), plain(&query, firsts), "{query:?}");
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn agrees_with_the_plain_version(query in proptest::collection::vec(
            proptest::sample::select(b"&cp%x=a".to_vec()), 0..200)) {
            proptest::prop_assert_eq!(fast(&query, *b"cp%"), plain(&query, *b"cp%"));
            proptest::prop_assert_eq!(fast(&query, *b"a%%"), plain(&query, *b"a%%"));
        }
    }
}
