//! CPU instructions per request under callgrind (gungraun): the stable
//! figures. Wall-clock times come from `benches/layer.rs` (criterion), over
//! the same services and requests (`benches/common/mod.rs`).
//!
//! Each benchmark measures `poll_ready`, `call` and one poll of the
//! response future for one request; building the service and the request,
//! and dropping the response, happen outside the measurement. A service's
//! cost is its count minus `bare`'s for the same request.
//!
//! Groups: `typical` (every service, the requests a site sees), `scaling`
//! (the cost's growth with the query), `worst` (inputs built to make the
//! layer expensive; `floor` is left out, it does not read the query),
//! `dense` (queries made only of pairs that could name a parameter, for
//! the layer's cost a byte; the recipe is left out, `worst` has it on such
//! queries).
//!
//! ```text
//! cargo bench --bench instructions
//! ```
//! (needs valgrind and `cargo install gungraun-runner --version 0.20.0`).

use std::convert::Infallible;
use std::hint::black_box;

use gungraun::prelude::*;
use http::{Request, Response};
use tower::Service;

mod common;

use common::{uri, Variant};

/// One service and one request, ready for the measured call.
struct Prepared<S> {
    svc: S,
    req: Option<Request<()>>,
    res: Option<Response<()>>,
}

/// The measured call, behind one virtual call that is the same for every
/// service: the floor's type (a `MapResponse` over a function item) cannot
/// be named in a benchmark's signature, so every service goes through this
/// one interface, and the difference to `bare` is the service's own cost.
trait Measure {
    fn measure(&mut self);
}

impl<S> Measure for Prepared<S>
where
    S: Service<Request<()>, Response = Response<()>, Error = Infallible>,
{
    fn measure(&mut self) {
        let req = self.req.take().expect("measured once");
        self.res = Some(common::run(&mut self.svc, req));
    }
}

/// `svc`, warmed up by four requests for `uri`, and that request again.
///
/// Each benchmark runs once in a fresh process: without the warm-up, the
/// allocator's first requests for each size (which a server answers from
/// its caches) would be counted against whoever allocates.
fn prepared<S>(mut svc: S, uri: &str) -> Box<dyn Measure>
where
    S: Service<Request<()>, Response = Response<()>, Error = Infallible> + 'static,
{
    for _ in 0..4 {
        drop(black_box(common::run(&mut svc, common::request(uri))));
    }
    Box::new(Prepared {
        svc,
        req: Some(common::request(uri)),
        res: None,
    })
}

fn prepare(variant: Variant, uri: String) -> Box<dyn Measure> {
    match variant {
        Variant::Bare => prepared(common::bare(), &uri),
        Variant::Floor => prepared(common::floor(), &uri),
        Variant::Recipe => prepared(common::recipe(), &uri),
        Variant::Layer => prepared(common::layer(), &uri),
    }
}

/// One benchmark function: `variant` over the requests `cases` of `group`.
/// Returns what it measured, so that dropping the response is not
/// measured.
macro_rules! benchmark {
    ($group:ident, $name:ident, $variant:ident, [$($case:ident),* $(,)?]) => {
        #[library_benchmark]
        $(#[bench::$case(prepare(Variant::$variant, uri(stringify!($group), stringify!($case))))])*
        fn $name(mut prepared: Box<dyn Measure>) -> Box<dyn Measure> {
            prepared.measure();
            prepared
        }
    };
}

/// One benchmark function per service (`name: Variant`), each over the
/// same requests of `group`, and the group of them.
macro_rules! group {
    ($group:ident, $cases:tt, $($name:ident: $variant:ident),* $(,)?) => {
        $(benchmark!($group, $name, $variant, $cases);)*
        library_benchmark_group!(name = $group, benchmarks = [$($name),*]);
    };
}

group!(
    typical,
    [
        no_query,
        typical,
        escaped,
        valid_link,
        pa_query,
        hostile_foreign,
        hostile_lookalike,
    ],
    typical_bare: Bare,
    typical_floor: Floor,
    typical_recipe: Recipe,
    typical_layer: Layer,
);

group!(
    scaling,
    [
        length_1k,
        length_4k,
        length_16k,
        repeated_64,
        repeated_256,
        repeated_1024,
    ],
    scaling_bare: Bare,
    scaling_floor: Floor,
    scaling_recipe: Recipe,
    scaling_layer: Layer,
);

group!(
    worst,
    [
        punycode_2000,
        punycode_63,
        punycode_3x63,
        labels_30x63,
        upper_253,
        upper_xn_253,
        upper_short_labels,
        lower_253,
        idn_1000,
        max_ascii_path,
        max_utf8_path,
        over_utf8_path,
        max_escapes_path,
        max_dot_segments,
        max_dotdot_segments,
        max_letter_segments,
        max_empty_segments,
        max_escaped_dot_segments,
        dotdot_8_segments,
        dotdot_8_then_query,
        dotdot_8_then_fragment,
        short_labels_dotdot_8_then_query,
        upper_253_dotdot_8_then_query,
        oversized_link,
        query_60k,
        c_pairs_8k,
        escaped_names_8k,
        c_pairs_60k,
        ampersands_60k,
        escaped_names_60k,
    ],
    worst_bare: Bare,
    worst_recipe: Recipe,
    worst_layer: Layer,
);

group!(
    dense,
    [
        c_pairs,
        one_short,
        pa_one_short,
        one_long,
        pa_one_long,
        last_byte_off,
        plus_after,
        plus_inside,
        escaped_nul_after,
        upper_escapes_long,
        lower_escapes_long,
        escapes_short,
        pa_escapes_long,
        mixed_escapes_off,
        double_escape,
        link_repeated,
        empty_link_repeated,
        short_link_repeated,
        pa_query_repeated,
        upper_escaped_repeated,
        lower_escaped_repeated,
        plus_value_repeated,
        both_repeated,
        pa_escaped_first,
        link_escaped_first,
        pa_escaped_upper,
        pa_escaped_lower,
        pa_all_escaped,
        link_mixed_case_escapes,
        near_miss,
        pa_plus_inside,
        pa_double_escape,
        kept_between,
        kept_between_escaped,
        kept_between_pa_escaped,
        mixture,
        link_repeated_8k,
        escapes_short_8k,
        kept_between_8k,
        mixture_8k,
    ],
    dense_bare: Bare,
    dense_layer: Layer,
);

// The test every request with a query takes, alone: the hand-tuned scan
// (`src/scan.rs`, compiled here as it is in the library) against its plain
// version, a `memchr` loop over the `&`s. The hand-tuned one stays only
// while it is 20 % cheaper or more on queries without a link.
#[path = "../src/scan.rs"]
#[allow(dead_code, unreachable_pub)]
mod scan;

/// The first bytes of `crylk` and `pa_query`, and `%`.
const FIRST_BYTES: [u8; 3] = [b'c', b'p', b'%'];

/// The same, as the hand-tuned scan takes them.
const FIRSTS: scan::Firsts = scan::Firsts::new(FIRST_BYTES);

/// The plain version: the first pair that starts with one of `firsts`, at
/// the start or after an `&` found by `memchr`.
fn plain_first_candidate(query: &[u8], firsts: [u8; 3]) -> Option<usize> {
    let starts_name = |start: usize| query.get(start).is_some_and(|b| firsts.contains(b));
    std::iter::once(0)
        .chain(memchr::memchr_iter(b'&', query).map(|amp| amp + 1))
        .find(|&start| starts_name(start))
}

fn query_of(group: &str, case: &str) -> Vec<u8> {
    let uri = uri(group, case);
    uri.split_once('?')
        .map_or("", |(_, q)| q)
        .as_bytes()
        .to_vec()
}

#[library_benchmark]
#[bench::typical(query_of("typical", "typical"))]
#[bench::escaped(query_of("typical", "escaped"))]
#[bench::length_1k(query_of("scaling", "length_1k"))]
#[bench::length_16k(query_of("scaling", "length_16k"))]
fn scan_hand_tuned(query: Vec<u8>) -> (Option<usize>, Vec<u8>) {
    // The query goes back out with the result: freeing it is not measured.
    (scan::candidates_from(black_box(&query), &FIRSTS), query)
}

#[library_benchmark]
#[bench::typical(query_of("typical", "typical"))]
#[bench::escaped(query_of("typical", "escaped"))]
#[bench::length_1k(query_of("scaling", "length_1k"))]
#[bench::length_16k(query_of("scaling", "length_16k"))]
fn scan_memchr(query: Vec<u8>) -> (Option<usize>, Vec<u8>) {
    (plain_first_candidate(black_box(&query), FIRST_BYTES), query)
}

library_benchmark_group!(
    name = scan_only,
    benchmarks = [scan_hand_tuned, scan_memchr]
);

main!(
    library_benchmark_groups = typical,
    scaling,
    worst,
    dense,
    scan_only
);
