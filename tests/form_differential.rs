//! The query scanner against the form parser it imitates.
//!
//! The layer reads the query as `url::form_urlencoded` does, without
//! allocating. These properties hold it to that parser on arbitrary queries
//! made of the pieces that matter (the names in every encoding, near
//! misses, separators, escapes, `+`, bytes that are not UTF-8), through the
//! public API and the real layer: the same number of `crylk` pairs, the
//! same value, and, after stripping, every other pair byte for byte in its
//! place.

mod support;

use http::Request;
use proptest::prelude::*;
use proptest::test_runner::Config;
use support::{handed_on, verdict};
use tower_portal_link::{target_from_query, validate_link, PortalLinkLayer, Refusal};

/// Pieces of queries; `pa_query` (the layer's other name) among them only
/// when `with_pa_query`.
fn piece(with_pa_query: bool) -> impl Strategy<Value = String> {
    let pa_query: &[&'static str] = if with_pa_query {
        &["pa_query=", "pa%5Fquery=", "pa_query", "pa_quer%79"]
    } else {
        &[]
    };
    let names = [
        "crylk",
        "crylk=",
        "cryl%6b",
        "cryl%6B=",
        "%63rylk",
        "%63%72%79%6C%6B=",
        "c%72ylk",
        "crylk%",
        "crylk%3",
        "crylk%3d",
        "crylk+",
        "+crylk",
        "crylkk",
        "cryl",
        "Crylk",
        "%2563rylk",
    ];
    prop_oneof![
        6 => prop::sample::select([&names[..], pa_query, &[
            "&", "&&", "=", "==", "+", "%", "%2", "%26", "%3D", "%2B", "%00", "%ff", "%c3%a9",
            "https%3a%2f%2fmon-app.via.proabono.com%2fsubscribe-offer%2f0p9i35O1V9",
            "https://demo-eur.proabono.com/portal-anon", "https%3a%2f%2fevil.com%2f",
            "utm_source=newsletter", "lang=fr", "a", "b=", "x=y",
        ]].concat())
        .prop_map(str::to_owned),
        2 => "[a-zA-Z0-9._~:/?@!$'()*,;-]{1,6}",
        1 => "(%[0-9a-fA-F]{2}){1,3}",
        // The bytes of the names alone, so that near misses of every shape
        // come up.
        2 => "[crylk6bB%+=&x]{1,4}",
    ]
}

fn query(with_pa_query: bool) -> impl Strategy<Value = String> {
    // Long enough to cross the scanner's blocks many times.
    prop::collection::vec(piece(with_pa_query), 0..40).prop_map(|pieces| pieces.concat())
}

/// The name of one `&`-separated piece, decoded by the form parser; `None`
/// for an empty piece.
fn name(piece: &str) -> Option<String> {
    url::form_urlencoded::parse(piece.as_bytes())
        .next()
        .map(|(name, _)| name.into_owned())
}

/// The decoded `crylk` values, and whether each decoded to valid UTF-8 (the
/// form parser replaces invalid bytes, where the layer refuses them).
fn crylk_values(query: &str) -> Vec<(String, bool)> {
    query
        .split('&')
        .filter(|piece| name(piece).as_deref() == Some("crylk"))
        .map(|piece| {
            let raw = piece.split_once('=').map_or("", |(_, value)| value);
            let bytes: Vec<u8> = url::form_urlencoded::parse(format!("v={raw}").as_bytes())
                .next()
                .map(|(_, value)| value.into_owned())
                .unwrap_or_default()
                .into_bytes();
            let plus_as_space = raw.replace('+', " ");
            let utf8 = std::str::from_utf8(
                &percent_encoding::percent_decode_str(&plus_as_space).collect::<Vec<u8>>(),
            )
            .is_ok();
            (
                String::from_utf8(bytes).expect("the form parser decodes lossily"),
                utf8,
            )
        })
        .collect()
}

proptest! {
    #![proptest_config(Config { cases: 3000, failure_persistence: None, ..Config::default() })]

    /// Without `pa_query`: with it, `target_from_query` reports that
    /// parameter's refusals too.
    #[test]
    fn the_scanner_reads_the_query_as_a_form_parser_does(query in query(false)) {
        let values = crylk_values(&query);
        let verdict = target_from_query(&query);
        match values.as_slice() {
            [] => prop_assert_eq!(&verdict, &Ok(None)),
            [(value, true)] => {
                // The value the scanner found, decoded, is the parser's:
                // validating the parser's gives the same verdict.
                prop_assert_eq!(&verdict, &validate_link(value).map(Some), "value {:?}", value);
            }
            [(_, false)] => prop_assert!(
                matches!(verdict, Err(Refusal::InvalidUtf8 | Refusal::TooLong { .. })),
                "{:?}",
                verdict
            ),
            _ => prop_assert_eq!(&verdict, &Err(Refusal::Ambiguous)),
        }
    }

    #[test]
    fn stripping_removes_exactly_the_parameters(query in query(true)) {
        let uri = format!("/S?{query}");
        let req = handed_on(&PortalLinkLayer::new(), Request::get(&uri).body(()).unwrap());
        let names = ["crylk", "pa_query"];
        let pieces: Vec<&str> = query.split('&').collect();
        let kept: Vec<&str> = pieces
            .iter()
            .copied()
            .filter(|piece| !name(piece).is_some_and(|n| names.contains(&n.as_str())))
            .collect();
        // Untouched when neither name is there; otherwise every other piece,
        // empty ones included, byte for byte and in order, and no `?` when
        // nothing is left.
        let want = if kept.len() == pieces.len() {
            uri.clone()
        } else if kept.join("&").is_empty() {
            "/S".to_owned()
        } else {
            format!("/S?{}", kept.join("&"))
        };
        prop_assert_eq!(req.uri().to_string(), want);
        prop_assert_eq!(verdict(&req), target_from_query(&query));
    }
}
