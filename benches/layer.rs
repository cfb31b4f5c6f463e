//! Wall-clock time per request (criterion): the inner service alone, the
//! hand-written recipe, and the layer, side by side in one run, for each
//! request of `common::cases()`; then the layer's scaling with the query
//! length and with the number of repeated `crylk=` pairs.
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

mod common;

use http::{Request, Response};
use tower::Service;

/// Times one request of `uri` through `svc`, under `group/variant/case`:
/// each service is called through its own type.
fn bench_one<S>(c: &mut Criterion, group: &str, variant: &str, case: &str, uri: &str, mut svc: S)
where
    S: Service<Request<()>, Response = Response<()>, Error = Infallible>,
{
    c.benchmark_group(group)
        .bench_function(BenchmarkId::new(variant, case), |b| {
            b.iter_batched(
                || common::request(uri),
                |req| common::run(&mut svc, black_box(req)),
                BatchSize::SmallInput,
            );
        });
}

fn bench(c: &mut Criterion, group: &str, cases: &[(String, String)]) {
    for (case, uri) in cases {
        bench_one(c, group, "bare", case, uri, common::bare());
        bench_one(c, group, "naive", case, uri, common::naive());
        bench_one(c, group, "layer", case, uri, common::layer());
        bench_one(
            c,
            group,
            "layer_nostrip",
            case,
            uri,
            common::layer_nostrip(),
        );
    }
}

fn compare(c: &mut Criterion) {
    let cases: Vec<_> = common::cases()
        .into_iter()
        .map(|case| (case.name.to_owned(), case.uri))
        .collect();
    bench(c, "compare", &cases);
}

fn scaling(c: &mut Criterion) {
    let uri = |query: String| format!("{}?{query}", common::PATH);
    let cases = vec![
        ("length_1k".to_owned(), uri(common::long_query(1024))),
        ("length_4k".to_owned(), uri(common::long_query(4 * 1024))),
        ("length_16k".to_owned(), uri(common::long_query(16 * 1024))),
        ("repeated_64".to_owned(), uri(common::repeated_query(64))),
        ("repeated_256".to_owned(), uri(common::repeated_query(256))),
        (
            "repeated_1024".to_owned(),
            uri(common::repeated_query(1024)),
        ),
    ];
    bench(c, "scaling", &cases);
}

criterion_group! {
    name = benches;
    // About two seconds a benchmark, so that the whole run stays under
    // three minutes.
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_millis(1500))
        .sample_size(30);
    targets = compare, scaling
}
criterion_main!(benches);
