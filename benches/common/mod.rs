//! What the benchmarks and the allocation test share: the requests, the
//! inner service, the services compared over it, and the one call path they
//! are all measured through.
#![allow(dead_code)]

use std::collections::HashMap;
use std::convert::{identity, Infallible};
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use axum::extract::Query;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Request, Response};
use tower::util::MapResponseLayer;
use tower::{Layer, Service};
use tower_portal_link::{PortalLink, PortalLinkLayer};
use url::form_urlencoded;
use url::Url;

pub use test_support::GUIDE_CRYLK;

/// A query with the usual campaign parameters and no link.
pub const TYPICAL: &str =
    "utm_source=newsletter&utm_medium=email&utm_campaign=2026-11&ref=abc123&lang=fr";

/// A query with escapes (and escaped names) and no link: the scanner must
/// look into `%63...` names, since one might decode to `crylk`.
pub const ESCAPED: &str =
    "q=%C3%A9t%C3%A9+2026&name=Fran%C3%A7ois+Dupont&%63ountry=FR&redirect=%2Fhome%3Ftab%3D1&lang=fr";

/// A valid `pa_query` token (ProAbono's other portal parameter).
pub use test_support::IN_SITE_QUERY as PA_QUERY;

/// The guide's link moved to a foreign host.
pub const HOSTILE_FOREIGN: &str =
    "https%3a%2f%2fevil.example%2fsubscribe-offer%2f0p9i35O1V9_JJRfC0nIeE96ot9e1LcN349";

/// The guide's link moved to a host that only ends with `proabono.com`.
pub const HOSTILE_LOOKALIKE: &str =
    "https%3a%2f%2fevilproabono.com%2fsubscribe-offer%2f0p9i35O1V9_JJRfC0nIeE96ot9e1LcN349";

/// One repeated pair: a short valid link, so that 1,024 of them still fit
/// in a URI.
pub const REPEATED_PAIR: &str = "crylk=https%3a%2f%2fa.proabono.com%2fx";

pub const PATH: &str = "/Subscriptions";

/// The layer's default maximum length of a decoded link, in bytes.
pub const MAX_LINK: usize = 512;

/// The length of the largest queries: the `http` crate refuses URIs of
/// 64 KiB and more, and this leaves room for the path.
pub const LARGE_QUERY: usize = 60_000;

/// A DNS label's maximum length, in bytes.
const MAX_LABEL: usize = 63;

/// A DNS name's maximum length, in bytes.
const MAX_HOST: usize = 253;

/// One request of a benchmark group: `name` as the benchmarks print it.
pub struct Case {
    pub name: &'static str,
    pub uri: String,
}

fn case(name: &'static str, query: &str) -> Case {
    let uri = if query.is_empty() {
        PATH.to_owned()
    } else {
        format!("{PATH}?{query}")
    };
    assert!(uri.len() < 0x10000, "{name}: the `http` crate refuses it");
    Case { name, uri }
}

/// The requests every service sees: the typical path, and links as
/// ProAbono's e-mails and attackers send them.
pub fn typical() -> Vec<Case> {
    vec![
        case("no_query", ""),
        case("typical", TYPICAL),
        case("escaped", ESCAPED),
        // ProAbono's guide, as its e-mails send it.
        case("valid_link", &format!("crylk={GUIDE_CRYLK}")),
        case("pa_query", &format!("pa_query={PA_QUERY}")),
        // A foreign host: the recipe refuses it too.
        case("hostile_foreign", &format!("crylk={HOSTILE_FOREIGN}")),
        // The README's look-alike: the recipe accepts it, the layer does not.
        case("hostile_lookalike", &format!("crylk={HOSTILE_LOOKALIKE}")),
    ]
}

/// The cost's growth with the query's length, and with the number of
/// repeated `crylk=` pairs.
pub fn scaling() -> Vec<Case> {
    vec![
        case("length_1k", &long_query(1024)),
        case("length_4k", &long_query(4 * 1024)),
        case("length_16k", &long_query(16 * 1024)),
        case("repeated_64", &repeated_query(64)),
        case("repeated_256", &repeated_query(256)),
        case("repeated_1024", &repeated_query(1024)),
    ]
}

/// Requests built to make the layer expensive: hosts that load the URL
/// parser's IDNA processing, links at the maximum length, and queries at
/// the largest size a URI allows.
pub fn worst() -> Vec<Case> {
    let xn_label = format!("xn--{}", "b".repeat(MAX_LABEL - 4));
    let label = "a".repeat(MAX_LABEL);
    let host = "a.proabono.com";
    // The bytes a path can take in a link of the maximum length.
    let room = MAX_LINK - format!("https://{host}/").len();
    vec![
        // The punycode decoder is quadratic in a label's length.
        case(
            "punycode_2000",
            &link_query(&format!("https://xn--{}.proabono.com/", "b".repeat(2000))),
        ),
        case(
            "punycode_63",
            &link_query(&format!("https://{xn_label}.proabono.com/")),
        ),
        case(
            "punycode_3x63",
            &link_query(&format!(
                "https://{xn_label}.{xn_label}.{xn_label}.proabono.com/"
            )),
        ),
        case(
            "labels_30x63",
            &link_query(&format!(
                "https://{}proabono.com/",
                format!("{label}.").repeat(30)
            )),
        ),
        case(
            "upper_253",
            &link_query(&format!("https://{}/", long_host("", 'A', ".PROABONO.COM"))),
        ),
        case(
            "upper_xn_253",
            &link_query(&format!(
                "https://{}/",
                long_host("XN--", 'B', ".PROABONO.COM")
            )),
        ),
        // 120 one-letter upper-case labels: a 252-byte host.
        case(
            "upper_short_labels",
            &link_query(&format!("https://{}PROABONO.COM/", "A.".repeat(120))),
        ),
        case(
            "lower_253",
            &link_query(&format!("https://{}/", long_host("", 'a', ".proabono.com"))),
        ),
        case(
            "idn_1000",
            &link_query(&format!("https://{}.proabono.com/", "é".repeat(1000))),
        ),
        // Links of the maximum length (or just under it), decoded.
        case(
            "max_ascii_path",
            &link_query(&format!("https://{host}/{}", "a".repeat(room))),
        ),
        // Each `é` counts six bytes (`%C3%A9`): the longest that fits,
        // and one that only fits if counted as two.
        case(
            "max_utf8_path",
            &link_query(&format!("https://{host}/{}", "é".repeat(room / 6))),
        ),
        case(
            "over_utf8_path",
            &link_query(&format!("https://{host}/{}", "é".repeat(room / 2))),
        ),
        case(
            "max_escapes_path",
            &link_query(&format!("https://{host}/{}", "%41".repeat(room / 3))),
        ),
        case(
            "max_dot_segments",
            &link_query(&format!("https://{host}/{}", "./".repeat(room / 2))),
        ),
        // Paths of many segments, each shape the URL parser treats its own
        // way: refused for their number (rule 2), before the parse.
        case(
            "max_dotdot_segments",
            &link_query(&format!("https://{host}/{}", "../".repeat(room / 3))),
        ),
        case(
            "max_letter_segments",
            &link_query(&format!("https://{host}/{}", "a/".repeat(room / 2))),
        ),
        case(
            "max_empty_segments",
            &link_query(&format!("https://{host}/{}", "/".repeat(room))),
        ),
        case(
            "max_escaped_dot_segments",
            &link_query(&format!("https://{host}/{}", "%2e%2E/".repeat(room / 7))),
        ),
        // The most segments a link may have, of the costliest shape, and
        // the rest of the maximum length in one more, in the query or in
        // the fragment; and after the costliest hosts.
        case(
            "dotdot_8_segments",
            &link_query(&format!(
                "https://{host}/{}{}",
                "../".repeat(7),
                "a".repeat(room - 21)
            )),
        ),
        case(
            "dotdot_8_then_query",
            &link_query(&format!(
                "https://{host}/{}x?{}",
                "../".repeat(7),
                "/".repeat(room - 23)
            )),
        ),
        case(
            "dotdot_8_then_fragment",
            &link_query(&format!(
                "https://{host}/{}x#{}",
                "../".repeat(7),
                "/".repeat(room - 23)
            )),
        ),
        case("short_labels_dotdot_8_then_query", &{
            let head = format!(
                "https://{}PROABONO.COM/{}x?",
                "A.".repeat(120),
                "../".repeat(7)
            );
            link_query(&format!("{head}{}", "/".repeat(MAX_LINK - head.len())))
        }),
        case("upper_253_dotdot_8_then_query", &{
            let head = format!(
                "https://{}/{}x?",
                long_host("", 'A', ".PROABONO.COM"),
                "../".repeat(7)
            );
            link_query(&format!("{head}{}", "/".repeat(MAX_LINK - head.len())))
        }),
        // A link far over the maximum: refused before it is decoded.
        case("oversized_link", &oversized_link_query()),
        case("query_60k", &long_query(LARGE_QUERY)),
        // The largest request line most servers and proxies take.
        case("c_pairs_8k", &filled("&c", 8 * 1024)),
        case("escaped_names_8k", &filled("&%63ryl%6b%78=1", 8 * 1024)),
        // Every pair starts like `crylk`.
        case("c_pairs_60k", &filled("&c", LARGE_QUERY)),
        case("ampersands_60k", &filled("&", LARGE_QUERY)),
        // Every name is escaped and only its last byte tells it from `crylk`.
        case("escaped_names_60k", &filled("&%63ryl%6b%78=1", LARGE_QUERY)),
    ]
}

/// The length of the candidate-dense queries of 8 KiB (the largest request
/// line most servers take), whose names end with `_8k`.
pub const DENSE_SMALL: usize = 8 * 1024;

/// Queries made only of pairs that could name a parameter, as an attacker
/// would choose them: every spelling a form parser folds into `crylk` or
/// `pa_query` (plain, upper- and lower-case escapes, `+`), names one byte
/// short or long, empty and repeated parameters, and mixtures. Each is
/// [`LARGE_QUERY`] bytes long, or [`DENSE_SMALL`] for the `_8k` ones:
/// `scripts/bench.sh` divides by these to give instructions a byte.
pub fn dense() -> Vec<Case> {
    let units: &[(&'static str, &str)] = &[
        // Too short to be a name: dropped a window at a time.
        ("c_pairs", "&c"),
        ("one_short", "&cryl"),
        ("pa_one_short", "&pa_quer"),
        // A byte too long, or off at the last byte.
        ("one_long", "&crylkk"),
        ("pa_one_long", "&pa_queryy"),
        ("last_byte_off", "&crylx"),
        ("plus_after", "&crylk+"),
        ("plus_inside", "&cr+lk"),
        ("escaped_nul_after", "&crylk%00"),
        // Escaped spellings, upper and lower case, that are no name.
        ("upper_escapes_long", "&%63%72%79%6C%6B%6B"),
        ("lower_escapes_long", "&%63%72%79%6c%6b%6b"),
        ("escapes_short", "&%63%72%79%6c"),
        ("pa_escapes_long", "&%70%61%5F%71%75%65%72%79%79"),
        ("mixed_escapes_off", "&%63ryl%6b%78=1"),
        ("double_escape", "&%2563rylk"),
        // Parameters, repeated: every pair is named and removed.
        ("link_repeated", "&crylk"),
        ("empty_link_repeated", "&crylk="),
        ("short_link_repeated", "&crylk=x"),
        ("pa_query_repeated", "&pa_query"),
        ("upper_escaped_repeated", "&%63%72%79%6C%6B"),
        ("lower_escaped_repeated", "&%63%72%79%6c%6b="),
        ("plus_value_repeated", "&cryl%6B=+"),
        ("both_repeated", "&crylk&pa_query="),
        // Names escaped from their first byte, or at one byte, in either
        // case of hex digits, with a short value: every pair is named.
        ("pa_escaped_first", "&%70a_query=x"),
        ("link_escaped_first", "&%63rylk=x"),
        ("pa_escaped_upper", "&pa%5Fquery=x"),
        ("pa_escaped_lower", "&pa%5fquery=x"),
        ("pa_all_escaped", "&%70%61%5F%71%75%65%72%79=x"),
        ("link_mixed_case_escapes", "&%63%72%79%6C%6b=x"),
        // Near misses with a value: a byte too long, a `+` inside, an
        // escape of an escape.
        ("near_miss", "&crylkz=1"),
        ("pa_plus_inside", "&pa+query=x"),
        ("pa_double_escape", "&%2570a_query=x"),
        // Kept pairs between removed ones: the rest is copied around them.
        ("kept_between", "&crylk&x"),
        ("kept_between_escaped", "&cryl%6b=&a=1"),
        ("kept_between_pa_escaped", "&%70a_query&x"),
        // Everything at once.
        (
            "mixture",
            "&crylkk&cryl&%63&c&pa_quer&crylk=&%70a_query&x=1",
        ),
    ];
    let mut cases: Vec<Case> = units
        .iter()
        .map(|&(name, unit)| case(name, &filled(unit, LARGE_QUERY)))
        .collect();
    for (name, unit) in [
        ("link_repeated_8k", "&crylk"),
        ("escapes_short_8k", "&%63%72%79%6c"),
        ("kept_between_8k", "&crylk&x"),
        (
            "mixture_8k",
            "&crylkk&cryl&%63&c&pa_quer&crylk=&%70a_query&x=1",
        ),
    ] {
        cases.push(case(name, &filled(unit, DENSE_SMALL)));
    }
    cases
}

/// The requests of the end-to-end benchmark (`benches/e2e.rs`): the
/// typical path, the guide's link, large queries that keep most of their
/// bytes or none, and every shape of [`dense`] at [`LARGE_QUERY`] bytes.
pub fn e2e() -> Vec<Case> {
    let guide = format!("crylk={GUIDE_CRYLK}");
    let mut cases = vec![
        case("no_query", ""),
        case("typical", TYPICAL),
        case("valid_link", &guide),
        // Pairs a form parser does not split: one long pair, no link.
        case("semicolon_pairs", &filled("a=1;", LARGE_QUERY)),
        // The guide's link, then one long value that is kept.
        case("link_then_kept", &{
            let head = format!("{guide}&x=");
            format!("{head}{}", "a".repeat(LARGE_QUERY - head.len()))
        }),
    ];
    cases.extend(
        dense()
            .into_iter()
            .filter(|case| !case.name.ends_with("_8k")),
    );
    cases
}

/// The request named `name` in `group` (`typical`, `scaling`, `worst` or
/// `dense`).
pub fn uri(group: &str, name: &str) -> String {
    let cases = match group {
        "typical" => typical(),
        "scaling" => scaling(),
        "worst" => worst(),
        "dense" => dense(),
        _ => panic!("no group {group}"),
    };
    cases
        .into_iter()
        .find(|case| case.name == name)
        .unwrap_or_else(|| panic!("no case {group}/{name}"))
        .uri
}

/// `link` as the value of `crylk`, percent-encoded once, as a client's
/// form encoder (and ProAbono's e-mails) send it.
pub fn link_query(link: &str) -> String {
    let encoded: String = form_urlencoded::byte_serialize(link.as_bytes()).collect();
    format!("crylk={encoded}")
}

/// A `crylk` query of exactly [`LARGE_QUERY`] bytes: one link of about
/// thirty times the maximum length.
fn oversized_link_query() -> String {
    let head = "https://a.proabono.com/";
    let padding = LARGE_QUERY - link_query(head).len();
    let query = link_query(&format!("{head}{}", "a".repeat(padding)));
    assert_eq!(query.len(), LARGE_QUERY);
    query
}

/// A host of exactly [`MAX_HOST`] bytes ending with `suffix`: labels of
/// [`MAX_LABEL`] bytes (the last one shorter), each `prefix` then `fill`.
fn long_host(prefix: &str, fill: char, suffix: &str) -> String {
    let mut host = String::with_capacity(MAX_HOST);
    let mut left = MAX_HOST - suffix.len();
    while left > 0 {
        let label = left.min(MAX_LABEL);
        host.push_str(prefix);
        host.extend(std::iter::repeat_n(fill, label - prefix.len()));
        left -= label;
        if left > 0 {
            host.push('.');
            left -= 1;
        }
    }
    host.push_str(suffix);
    assert_eq!(host.len(), MAX_HOST);
    assert!(host
        .split('.')
        .all(|label| (1..=MAX_LABEL).contains(&label.len())));
    host
}

/// Exactly `bytes` of typical parameters, no link.
pub fn long_query(bytes: usize) -> String {
    filled(&format!("{TYPICAL}&"), bytes)
}

/// `unit` repeated, cut to exactly `bytes`.
pub fn filled(unit: &str, bytes: usize) -> String {
    let mut query = unit.repeat(bytes.div_ceil(unit.len()));
    query.truncate(bytes);
    query
}

/// `count` copies of one `crylk=` pair, as a client that wants two parsers
/// to disagree would send.
pub fn repeated_query(count: usize) -> String {
    vec![REPEATED_PAIR; count].join("&")
}

pub fn request(uri: &str) -> Request<()> {
    Request::get(uri).body(()).expect("benchmark URI")
}

/// The inner service: an empty page with the `Content-Type` every page sends
/// (so the response's header map exists before the layer adds
/// `Referrer-Policy` to it, as in a real application).
#[derive(Clone, Copy, Debug, Default)]
pub struct Bare;

impl Service<Request<()>> for Bare {
    type Response = Response<()>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Response<()>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<()>) -> Self::Future {
        let mut response = Response::new(());
        response.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        std::future::ready(Ok(response))
    }
}

/// What the recipe hands its handlers.
#[derive(Clone, Debug)]
pub struct RecipeTarget(pub Url);

/// What users write by hand without this crate: axum's
/// `Query<HashMap<String, String>>` parse of the whole query, `Url::parse`,
/// ProAbono's "ends with proabono.com" advice, and the extension.
#[derive(Clone, Copy, Debug, Default)]
pub struct RecipeLayer;

impl<S> Layer<S> for RecipeLayer {
    type Service = Recipe<S>;

    fn layer(&self, inner: S) -> Recipe<S> {
        Recipe { inner }
    }
}

#[derive(Clone, Debug)]
pub struct Recipe<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for Recipe<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> S::Future {
        if let Ok(Query(params)) = Query::<HashMap<String, String>>::try_from_uri(req.uri()) {
            if let Some(link) = params.get("crylk") {
                if let Ok(url) = Url::parse(link) {
                    if url.host_str().is_some_and(|h| h.ends_with("proabono.com")) {
                        req.extensions_mut().insert(RecipeTarget(url));
                    }
                }
            }
        }
        self.inner.call(req)
    }
}

/// The inner service alone.
pub fn bare() -> Bare {
    Bare
}

/// The cheapest layer there is: a pass-through `MapResponse` over [`Bare`].
pub fn floor(
) -> impl Service<Request<()>, Response = Response<()>, Error = Infallible, Future: Send> + Clone {
    MapResponseLayer::new(identity).layer(Bare)
}

/// The hand-written recipe over [`Bare`].
pub fn recipe() -> Recipe<Bare> {
    RecipeLayer.layer(Bare)
}

/// `PortalLinkLayer::new()` over [`Bare`].
pub fn layer() -> PortalLink<Bare> {
    PortalLinkLayer::new().layer(Bare)
}

/// The services compared, each over [`Bare`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Variant {
    Bare,
    Floor,
    Recipe,
    Layer,
}

impl Variant {
    pub const ALL: [Variant; 4] = [
        Variant::Bare,
        Variant::Floor,
        Variant::Recipe,
        Variant::Layer,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Variant::Bare => "bare",
            Variant::Floor => "floor",
            Variant::Recipe => "recipe",
            Variant::Layer => "layer",
        }
    }
}

/// `poll_ready`, `call` and one poll: every service here is ready at once
/// and answers without waiting.
///
/// Never inlined, so that each service is called from one place, as a
/// server's connection task calls it: the compiler is then free to inline
/// the service's `call` and its future's `poll` here, as it does there.
#[inline(never)]
pub fn run<S>(svc: &mut S, req: Request<()>) -> Response<()>
where
    S: Service<Request<()>, Response = Response<()>, Error = Infallible>,
{
    let mut cx = Context::from_waker(Waker::noop());
    match svc.poll_ready(&mut cx) {
        Poll::Ready(Ok(())) => {}
        _ => unreachable!("always ready"),
    }
    let fut = pin!(svc.call(req));
    match fut.poll(&mut cx) {
        Poll::Ready(Ok(response)) => response,
        _ => unreachable!("answers at once"),
    }
}
