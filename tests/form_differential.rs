//! The hand-written scanner against the form parser it imitates.
//!
//! `src/query.rs` reads the query as `url::form_urlencoded` does, without
//! allocating, sixteen bytes at a time. These properties hold it to that
//! parser on arbitrary queries made of the pieces that matter (the name in
//! every encoding, separators, escapes, `+`), through the real layer: the
//! same parameter count, the same value, and, after stripping, the same
//! other pairs in the same order.

use std::convert::Infallible;

use http::{Request, Response};
use proptest::prelude::*;
use proptest::test_runner::Config;
use tower::{service_fn, Layer, Service};
use tower_portal_link::{validate_link, PortalLinkLayer, PortalTarget, Refusal};

fn piece() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => prop::sample::select(vec![
            "crylk", "crylk=", "cryl%6b", "cryl%6B=", "%63rylk", "%63%72%79%6C%6B=", "c%72ylk",
            "crylk%", "crylk%3", "crylk%3d", "crylk+", "+crylk", "crylkk", "cryl", "Crylk", "%2563rylk",
            "&", "&&", "=", "==", "+", "%", "%2", "%26", "%3D", "%2B", "%00", "%ff", "%c3%a9",
            "https%3a%2f%2fmon-app.via.proabono.com%2fsubscribe-offer%2f0p9i35O1V9",
            "https://demo-eur.proabono.com/portal-anon", "https%3a%2f%2fevil.com%2f",
            "utm_source=newsletter", "lang=fr", "a", "b=", "x=y",
        ])
        .prop_map(str::to_owned),
        2 => "[a-zA-Z0-9._~:/?@!$'()*,;-]{1,6}",
        1 => "(%[0-9a-fA-F]{2}){1,3}",
    ]
}

fn query() -> impl Strategy<Value = String> {
    // Long enough to cross the scanner's sixteen-byte blocks many times.
    prop::collection::vec(piece(), 0..40).prop_map(|pieces| pieces.concat())
}

/// What the layer decided, and the URI it handed on.
fn through_layer(
    layer: &PortalLinkLayer,
    query: &str,
) -> (Result<Option<PortalTarget>, Refusal>, String) {
    let mut svc = layer.layer(service_fn(|req: Request<()>| async move {
        let ext = req.extensions();
        let verdict = match (ext.get::<PortalTarget>(), ext.get::<Refusal>()) {
            (Some(t), None) => Ok(Some(t.clone())),
            (None, Some(r)) => Err(*r),
            (None, None) => Ok(None),
            (Some(_), Some(_)) => panic!("both a target and a refusal"),
        };
        Ok::<_, Infallible>(Response::new(Some((verdict, req.uri().to_string()))))
    }));
    let req = Request::get(format!("/S?{query}"))
        .body(())
        .expect("a valid request target");
    let fut = svc.call(req);
    let res = futures_lite_block_on(fut).expect("infallible");
    res.into_body().expect("the inner service ran")
}

/// Runs a future that is ready at once (the service above never waits).
fn futures_lite_block_on<F: std::future::Future>(fut: F) -> F::Output {
    let mut fut = std::pin::pin!(fut);
    match fut
        .as_mut()
        .poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
    {
        std::task::Poll::Ready(out) => out,
        std::task::Poll::Pending => panic!("the test service never waits"),
    }
}

fn pairs(query: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

proptest! {
    #![proptest_config(Config { cases: 3000, failure_persistence: None, ..Config::default() })]

    #[test]
    fn the_scanner_reads_the_query_as_a_form_parser_does(query in query()) {
        let all = pairs(&query);
        let named: Vec<&String> = all.iter().filter(|(k, _)| k == "crylk").map(|(_, v)| v).collect();
        let verdict = tower_portal_link::target_from_query(&query);
        match named.as_slice() {
            [] => prop_assert_eq!(&verdict, &Ok(None)),
            [value] => {
                prop_assert_ne!(&verdict, &Ok(None));
                prop_assert_ne!(&verdict, &Err(Refusal::Ambiguous));
                // The form parser decodes lossily; where the value is valid
                // UTF-8, validating what it decoded must give the same verdict.
                let raw = query_value_is_utf8(&query);
                if raw {
                    prop_assert_eq!(&verdict, &validate_link(value).map(Some), "value {:?}", value);
                }
            }
            _ => prop_assert_eq!(&verdict, &Err(Refusal::Ambiguous)),
        }
    }

    #[test]
    fn stripping_removes_exactly_the_parameter(query in query()) {
        let (verdict, uri) = through_layer(&PortalLinkLayer::new(), &query);
        prop_assert_eq!(&verdict, &tower_portal_link::target_from_query(&query));
        let kept = uri.split_once('?').map_or("", |(_, q)| q);
        let want: Vec<_> = pairs(&query).into_iter().filter(|(k, _)| k != "crylk").collect();
        prop_assert_eq!(pairs(kept), want, "downstream query {:?}", kept);
        // Bytes of the other pairs are untouched, not re-encoded.
        for pair in kept.split('&').filter(|p| !p.is_empty()) {
            prop_assert!(query.split('&').any(|p| p == pair), "{:?} is not from the query", pair);
        }
    }
}

/// Whether the query's only `crylk` value decodes to valid UTF-8 (the
/// form parser would replace invalid bytes; the layer refuses them).
fn query_value_is_utf8(query: &str) -> bool {
    query
        .split('&')
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let name = name.replace('+', " ");
            let name = percent_encoding::percent_decode_str(&name).collect::<Vec<u8>>();
            (name == b"crylk").then_some(value)
        })
        .all(|value| {
            let value = value.replace('+', " ");
            std::str::from_utf8(&percent_encoding::percent_decode_str(&value).collect::<Vec<u8>>())
                .is_ok()
        })
}
