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

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion};

mod common;

use common::{AnyService, Variant};

fn bench(c: &mut Criterion, group: &str, cases: &[(String, String)], variants: &[Variant]) {
    let mut group = c.benchmark_group(group);
    for (name, uri) in cases {
        for &variant in variants {
            let mut svc: AnyService = variant.service();
            group.bench_function(BenchmarkId::new(variant.name(), name), |b| {
                b.iter_batched(
                    || common::request(uri),
                    |req| svc.run(black_box(req)),
                    BatchSize::SmallInput,
                );
            });
        }
    }
    group.finish();
}

fn compare(c: &mut Criterion) {
    let cases: Vec<_> = common::cases()
        .into_iter()
        .map(|case| (case.name.to_owned(), case.uri))
        .collect();
    bench(c, "compare", &cases, &Variant::ALL);
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
    bench(c, "scaling", &cases, &Variant::ALL);
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
