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

use std::convert::Infallible;
use std::hint::black_box;

use gungraun::prelude::*;
use http::{Request, Response};

mod common;

use common::{Bare, Naive};
use tower::Service;
use tower_portal_link::PortalLink;

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

/// `svc`, warmed up by the request for `uri`, and that request again.
///
/// Each benchmark runs once in a fresh process: without the warm-up, the
/// allocator's first requests for each size (which a server answers from
/// its caches) would be counted against whoever allocates.
fn warm<S>(mut svc: S, uri: &str) -> (S, Request<()>)
where
    S: Service<Request<()>, Response = Response<()>, Error = Infallible>,
{
    for _ in 0..4 {
        drop(black_box(common::run(&mut svc, common::request(uri))));
    }
    (svc, common::request(uri))
}

/// One request. Returns the service too, so that dropping it is not
/// measured.
#[inline(always)]
fn measure<S>((mut svc, req): (S, Request<()>)) -> (S, Response<()>)
where
    S: Service<Request<()>, Response = Response<()>, Error = Infallible>,
{
    let response = common::run(&mut svc, black_box(req));
    black_box((svc, response))
}

// One benchmark function per service type, so that each measures exactly
// its own `call`, with no dispatch between services.

fn setup_bare(uri: String) -> (Bare, Request<()>) {
    warm(common::bare(), &uri)
}

#[library_benchmark(setup = setup_bare)]
#[bench::no_query(case("no_query"))]
#[bench::typical(case("typical"))]
#[bench::escaped(case("escaped"))]
#[bench::valid_link(case("valid_link"))]
#[bench::hostile_foreign(case("hostile_foreign"))]
#[bench::hostile_lookalike(case("hostile_lookalike"))]
#[bench::large_8k(case("large_8k"))]
#[bench::repeated_1000(case("repeated_1000"))]
fn bare(input: (Bare, Request<()>)) -> (Bare, Response<()>) {
    measure(input)
}

#[library_benchmark(setup = setup_bare)]
#[bench::length_1k(query(common::long_query(1024)))]
#[bench::length_4k(query(common::long_query(4 * 1024)))]
#[bench::length_16k(query(common::long_query(16 * 1024)))]
#[bench::repeated_64(query(common::repeated_query(64)))]
#[bench::repeated_256(query(common::repeated_query(256)))]
#[bench::repeated_1024(query(common::repeated_query(1024)))]
fn scaling_bare(input: (Bare, Request<()>)) -> (Bare, Response<()>) {
    measure(input)
}

fn setup_naive(uri: String) -> (Naive<Bare>, Request<()>) {
    warm(common::naive(), &uri)
}

#[library_benchmark(setup = setup_naive)]
#[bench::no_query(case("no_query"))]
#[bench::typical(case("typical"))]
#[bench::escaped(case("escaped"))]
#[bench::valid_link(case("valid_link"))]
#[bench::hostile_foreign(case("hostile_foreign"))]
#[bench::hostile_lookalike(case("hostile_lookalike"))]
#[bench::large_8k(case("large_8k"))]
#[bench::repeated_1000(case("repeated_1000"))]
fn naive(input: (Naive<Bare>, Request<()>)) -> (Naive<Bare>, Response<()>) {
    measure(input)
}

#[library_benchmark(setup = setup_naive)]
#[bench::length_1k(query(common::long_query(1024)))]
#[bench::length_4k(query(common::long_query(4 * 1024)))]
#[bench::length_16k(query(common::long_query(16 * 1024)))]
#[bench::repeated_64(query(common::repeated_query(64)))]
#[bench::repeated_256(query(common::repeated_query(256)))]
#[bench::repeated_1024(query(common::repeated_query(1024)))]
fn scaling_naive(input: (Naive<Bare>, Request<()>)) -> (Naive<Bare>, Response<()>) {
    measure(input)
}

fn setup_layer(uri: String) -> (PortalLink<Bare>, Request<()>) {
    warm(common::layer(), &uri)
}

#[library_benchmark(setup = setup_layer)]
#[bench::no_query(case("no_query"))]
#[bench::typical(case("typical"))]
#[bench::escaped(case("escaped"))]
#[bench::valid_link(case("valid_link"))]
#[bench::hostile_foreign(case("hostile_foreign"))]
#[bench::hostile_lookalike(case("hostile_lookalike"))]
#[bench::large_8k(case("large_8k"))]
#[bench::repeated_1000(case("repeated_1000"))]
fn layer(input: (PortalLink<Bare>, Request<()>)) -> (PortalLink<Bare>, Response<()>) {
    measure(input)
}

#[library_benchmark(setup = setup_layer)]
#[bench::length_1k(query(common::long_query(1024)))]
#[bench::length_4k(query(common::long_query(4 * 1024)))]
#[bench::length_16k(query(common::long_query(16 * 1024)))]
#[bench::repeated_64(query(common::repeated_query(64)))]
#[bench::repeated_256(query(common::repeated_query(256)))]
#[bench::repeated_1024(query(common::repeated_query(1024)))]
fn scaling_layer(input: (PortalLink<Bare>, Request<()>)) -> (PortalLink<Bare>, Response<()>) {
    measure(input)
}

fn setup_layer_nostrip(uri: String) -> (PortalLink<Bare>, Request<()>) {
    warm(common::layer_nostrip(), &uri)
}

#[library_benchmark(setup = setup_layer_nostrip)]
#[bench::no_query(case("no_query"))]
#[bench::typical(case("typical"))]
#[bench::escaped(case("escaped"))]
#[bench::valid_link(case("valid_link"))]
#[bench::hostile_foreign(case("hostile_foreign"))]
#[bench::hostile_lookalike(case("hostile_lookalike"))]
#[bench::large_8k(case("large_8k"))]
#[bench::repeated_1000(case("repeated_1000"))]
fn layer_nostrip(input: (PortalLink<Bare>, Request<()>)) -> (PortalLink<Bare>, Response<()>) {
    measure(input)
}

#[library_benchmark(setup = setup_layer_nostrip)]
#[bench::length_1k(query(common::long_query(1024)))]
#[bench::length_4k(query(common::long_query(4 * 1024)))]
#[bench::length_16k(query(common::long_query(16 * 1024)))]
#[bench::repeated_64(query(common::repeated_query(64)))]
#[bench::repeated_256(query(common::repeated_query(256)))]
#[bench::repeated_1024(query(common::repeated_query(1024)))]
fn scaling_layer_nostrip(
    input: (PortalLink<Bare>, Request<()>),
) -> (PortalLink<Bare>, Response<()>) {
    measure(input)
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
