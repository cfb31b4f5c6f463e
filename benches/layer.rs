//! Wall-clock time per request (criterion), over the services and requests
//! of `benches/instructions.rs` (`benches/common/mod.rs`), side by side in
//! one run: `typical` and `scaling` for every service, `worst` for the
//! services that read the query.
//!
//! ```text
//! cargo bench --bench layer
//! ```
//!
//! Times drift on a shared machine: the instruction counts of
//! `benches/instructions.rs` are the stable figures. Each measurement is
//! `poll_ready`, `call` and one poll of the response future; building the
//! request and dropping the response are outside it.

use std::convert::Infallible;
use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion};
use http::{Request, Response};
use tower::Service;

mod common;

use common::{Case, Variant};

/// Times one request of `uri` through `svc`, under `group/variant/case`:
/// each service is called through its own type.
fn bench_one<S>(c: &mut Criterion, group: &str, variant: Variant, case: &Case, mut svc: S)
where
    S: Service<Request<()>, Response = Response<()>, Error = Infallible>,
{
    c.benchmark_group(group)
        .bench_function(BenchmarkId::new(variant.name(), case.name), |b| {
            b.iter_batched(
                || common::request(&case.uri),
                |req| common::run(&mut svc, black_box(req)),
                BatchSize::SmallInput,
            );
        });
}

fn bench(c: &mut Criterion, group: &str, cases: &[Case], variants: &[Variant]) {
    for case in cases {
        for &variant in variants {
            match variant {
                Variant::Bare => bench_one(c, group, variant, case, common::bare()),
                Variant::Floor => bench_one(c, group, variant, case, common::floor()),
                Variant::Recipe => bench_one(c, group, variant, case, common::recipe()),
                Variant::Layer => bench_one(c, group, variant, case, common::layer()),
            }
        }
    }
}

fn typical(c: &mut Criterion) {
    bench(c, "typical", &common::typical(), &Variant::ALL);
}

fn scaling(c: &mut Criterion) {
    bench(c, "scaling", &common::scaling(), &Variant::ALL);
}

fn worst(c: &mut Criterion) {
    let variants = [Variant::Bare, Variant::Recipe, Variant::Layer];
    bench(c, "worst", &common::worst(), &variants);
}

criterion_group! {
    name = benches;
    // About two seconds a benchmark, so that the whole run stays within
    // a few minutes.
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_millis(1500))
        .sample_size(30);
    targets = typical, scaling, worst
}
criterion_main!(benches);
