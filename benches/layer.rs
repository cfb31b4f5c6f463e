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
//!
//! With the `api` feature (`cargo bench --bench layer --features api`), the
//! `api` group times what a page view without a link pays when the
//! customer's links are cached: one `Client::customer_links` that hits the
//! cache, polled once.

use std::convert::Infallible;
#[cfg(feature = "api")]
use std::future::Future as _;
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

/// `customer_links` for a customer whose links are cached: a stand-in for
/// API Live answers the first lookup, and the measured ones never reach it.
#[cfg(feature = "api")]
fn api(c: &mut Criterion) {
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use test_support::api_live::{ApiLive, AGENT_KEY, API_KEY, DEMO_CUSTOMER};
    use tower_portal_link::api::{Client, Config};

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    let _entered = runtime.enter();
    let (stand_in, client) = runtime.block_on(async {
        let stand_in = ApiLive::start().await;
        let config = Config::new(&stand_in.endpoint(), AGENT_KEY, API_KEY).expect("a config");
        let client = Client::builder(config)
            .tls_config(stand_in.tls_config())
            .build()
            .expect("a client");
        client
            .customer_links(DEMO_CUSTOMER)
            .await
            .expect("the links");
        (stand_in, client)
    });
    let mut cx = Context::from_waker(Waker::noop());
    c.benchmark_group("api")
        .bench_function(BenchmarkId::new("client", "cache_hit"), |b| {
            b.iter(|| {
                let lookup = pin!(client.customer_links(black_box(DEMO_CUSTOMER)));
                match lookup.poll(&mut cx) {
                    Poll::Ready(Ok(links)) => links,
                    _ => panic!("a cache hit is ready at the first poll"),
                }
            });
        });
    assert_eq!(stand_in.count(), 1, "every measured lookup hit the cache");
}

#[cfg(not(feature = "api"))]
fn api(_: &mut Criterion) {}

criterion_group! {
    name = benches;
    // About two seconds a benchmark, so that the whole run stays within
    // a few minutes.
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_millis(1500))
        .sample_size(30);
    targets = typical, scaling, worst, api
}
criterion_main!(benches);
