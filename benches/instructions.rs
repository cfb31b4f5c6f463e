//! CPU instructions per request under callgrind (gungraun): the stable
//! figures behind the README's targets. Wall-clock times come from
//! `benches/layer.rs` (criterion).
//!
//! Each benchmark measures `poll_ready`, `call` and the poll of the future
//! for one request, exactly as `benches/layer.rs` and
//! `tests/alloc_counts.rs` do; building the service and the request, and
//! dropping the response, happen outside the measurement. The layer's cost
//! is a variant's count minus `bare`'s for the same request.
//!
//! ```text
//! cargo bench --bench instructions
//! ```
//! (needs valgrind and `cargo install gungraun-runner --version 0.20.0`).

use std::hint::black_box;

use gungraun::prelude::*;
use http::{Request, Response};

mod common;

use common::{AnyService, Variant};

/// The service, warmed up by the same request, and that request again.
///
/// Each benchmark runs once in a fresh process: without the warm-up, the
/// allocator's first requests for each size (which a server answers from
/// its caches) would be counted against whoever allocates.
fn setup(variant: Variant, uri: String) -> (AnyService, Request<()>) {
    let mut svc = variant.service();
    for _ in 0..4 {
        drop(black_box(svc.run(common::request(&uri))));
    }
    (svc, common::request(&uri))
}

fn case(name: &str) -> String {
    common::cases()
        .into_iter()
        .find(|case| case.name == name)
        .expect("known case")
        .uri
}

fn query(query: String) -> String {
    format!("{}?{query}", common::PATH)
}

/// Returns the service too, so that dropping it is not measured.
fn run(input: (AnyService, Request<()>)) -> (AnyService, Response<()>) {
    let (mut svc, req) = input;
    let response = svc.run(black_box(req));
    (svc, response)
}

macro_rules! compare {
    ($($name:ident: $variant:expr;)*) => {$(
        #[library_benchmark(setup = setup)]
        #[bench::no_query(args = ($variant, case("no_query")))]
        #[bench::typical(args = ($variant, case("typical")))]
        #[bench::escaped(args = ($variant, case("escaped")))]
        #[bench::valid_link(args = ($variant, case("valid_link")))]
        #[bench::hostile_foreign(args = ($variant, case("hostile_foreign")))]
        #[bench::hostile_lookalike(args = ($variant, case("hostile_lookalike")))]
        #[bench::large_8k(args = ($variant, case("large_8k")))]
        #[bench::repeated_1000(args = ($variant, case("repeated_1000")))]
        fn $name(input: (AnyService, Request<()>)) -> (AnyService, Response<()>) {
            black_box(run(input))
        }
    )*};
}

compare! {
    bare: Variant::Bare;
    naive: Variant::Naive;
    layer: Variant::Layer;
    layer_nostrip: Variant::LayerNoStrip;
}

macro_rules! scaling {
    ($($name:ident: $variant:expr;)*) => {$(
        #[library_benchmark(setup = setup)]
        #[bench::length_1k(args = ($variant, query(common::long_query(1024))))]
        #[bench::length_4k(args = ($variant, query(common::long_query(4 * 1024))))]
        #[bench::length_16k(args = ($variant, query(common::long_query(16 * 1024))))]
        #[bench::repeated_64(args = ($variant, query(common::repeated_query(64))))]
        #[bench::repeated_256(args = ($variant, query(common::repeated_query(256))))]
        #[bench::repeated_1024(args = ($variant, query(common::repeated_query(1024))))]
        fn $name(input: (AnyService, Request<()>)) -> (AnyService, Response<()>) {
            black_box(run(input))
        }
    )*};
}

scaling! {
    scaling_bare: Variant::Bare;
    scaling_naive: Variant::Naive;
    scaling_layer: Variant::Layer;
    scaling_layer_nostrip: Variant::LayerNoStrip;
}

library_benchmark_group!(
    name = compare,
    benchmarks = [bare, naive, layer, layer_nostrip]
);

library_benchmark_group!(
    name = scaling,
    benchmarks = [
        scaling_bare,
        scaling_naive,
        scaling_layer,
        scaling_layer_nostrip
    ]
);

main!(library_benchmark_groups = compare, scaling);
