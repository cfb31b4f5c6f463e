//! ProAbono's In-Site flow through the real layer: `pa_query` is found,
//! checked, removed and handed on as a `PortalQuery`, with the same care as
//! `crylk`; and the hooks (a custom refusal response, an observer) never
//! let a refused value through.

mod support;

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use http::header::REFERRER_POLICY;
use http::{Request, Response, StatusCode};
use support::{GUIDE_CRYLK, IN_SITE_QUERY};
use tower::{Layer, Service, ServiceBuilder, ServiceExt};
use tower_portal_link::{
    InvalidParameterKind, PortalLinkLayer, PortalQuery, PortalTarget, Refusal,
};

/// A query from ProAbono's documentation of the In-Site installation.
const TOKEN: &str = IN_SITE_QUERY;

/// What the handler saw.
#[derive(Debug, Default)]
struct Seen {
    uri: String,
    query: Option<PortalQuery>,
    target: Option<PortalTarget>,
    refusal: Option<Refusal>,
}

async fn through(layer: PortalLinkLayer, uri: &str) -> (Seen, Response<()>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let record = Arc::clone(&seen);
    let svc = layer.layer(tower::service_fn(move |req: Request<()>| {
        let record = Arc::clone(&record);
        async move {
            let ext = req.extensions();
            *record.lock().unwrap() = Seen {
                uri: req.uri().to_string(),
                query: ext.get::<PortalQuery>().cloned(),
                target: ext.get::<PortalTarget>().cloned(),
                refusal: ext.get::<Refusal>().copied(),
            };
            Ok::<_, Infallible>(Response::new(()))
        }
    }));
    let res = svc
        .oneshot(Request::get(uri).body(()).unwrap())
        .await
        .unwrap();
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    (seen, res)
}

#[tokio::test]
async fn a_documented_query_is_handed_on_and_removed() {
    for uri in [
        format!("/billing?pa_query={TOKEN}"),
        format!("/billing?lang=fr&pa%5Fquery={TOKEN}&tab=1"),
    ] {
        let (seen, res) = through(PortalLinkLayer::new(), &uri).await;
        assert_eq!(
            seen.query.as_ref().map(PortalQuery::as_str),
            Some(TOKEN),
            "{uri}"
        );
        assert_eq!(seen.target, None);
        assert_eq!(seen.refusal, None);
        assert!(
            !seen.uri.contains(TOKEN) && !seen.uri.contains("pa_"),
            "{}",
            seen.uri
        );
        assert_eq!(res.headers()[REFERRER_POLICY], "no-referrer");
        assert!(!format!("{:?}", seen.query).contains(TOKEN));
    }
    let (seen, _) = through(PortalLinkLayer::new(), "/billing?lang=fr&tab=1").await;
    assert_eq!(seen.uri, "/billing?lang=fr&tab=1");
}

#[tokio::test]
async fn hostile_queries_never_reach_the_handler() {
    let hostile = [
        // Markup and script breakers, raw and encoded.
        (
            "%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E",
            Refusal::ForbiddenCharacter,
        ),
        ("abc%3C%2Fscript%3E", Refusal::ForbiddenCharacter),
        ("abc'%3Balert(1)%2F%2F", Refusal::ForbiddenCharacter),
        ("abc%5C", Refusal::ForbiddenCharacter),
        ("abc%E2%80%A8def", Refusal::ForbiddenCharacter),
        ("abc%00", Refusal::ForbiddenCharacter),
        ("https%3A%2F%2Fevil.example%2F", Refusal::ForbiddenCharacter),
        // `+` is a space once decoded; so is `%20`.
        ("abc+def", Refusal::ForbiddenCharacter),
        ("abc%20def", Refusal::ForbiddenCharacter),
        ("%FF", Refusal::InvalidUtf8),
        ("", Refusal::Empty),
    ];
    for (value, want) in hostile {
        let uri = format!("/billing?pa_query={value}");
        let (seen, res) = through(PortalLinkLayer::new(), &uri).await;
        assert_eq!(seen.query, None, "{uri}");
        assert_eq!(seen.refusal, Some(want), "{uri}");
        assert_eq!(seen.uri, "/billing", "{uri}");
        assert_eq!(res.headers()[REFERRER_POLICY], "no-referrer");
    }
    let long = "a".repeat(PortalQuery::MAX_LEN + 1);
    let (seen, _) = through(PortalLinkLayer::new(), &format!("/b?pa_query={long}")).await;
    assert_eq!(
        seen.refusal,
        Some(Refusal::TooLong {
            max: PortalQuery::MAX_LEN
        })
    );
}

#[tokio::test]
async fn one_query_one_destination() {
    for uri in [
        format!("/b?pa_query={TOKEN}&pa_query={TOKEN}"),
        format!("/b?pa_query={TOKEN}&pa%5fquery=other"),
        // A link and a query: the page must not have to choose.
        format!("/b?pa_query={TOKEN}&crylk={GUIDE_CRYLK}"),
    ] {
        let (seen, _) = through(PortalLinkLayer::new(), &uri).await;
        assert_eq!(seen.refusal, Some(Refusal::Ambiguous), "{uri}");
        assert_eq!((seen.query, seen.target), (None, None));
        assert_eq!(seen.uri, "/b", "{uri}");
    }
    assert_eq!(
        PortalLinkLayer::new().target_from_query(&format!("pa_query={TOKEN}&crylk={GUIDE_CRYLK}")),
        Err(Refusal::Ambiguous)
    );
    assert_eq!(
        PortalLinkLayer::new().target_from_query(&format!("pa_query={TOKEN}")),
        Ok(None)
    );
}

#[tokio::test]
async fn the_parameter_name_is_configurable() {
    let layer = PortalLinkLayer::new().in_site_parameter("q");
    let (seen, _) = through(layer.clone(), &format!("/b?q={TOKEN}&pa_query=x")).await;
    assert_eq!(seen.query.as_ref().map(PortalQuery::as_str), Some(TOKEN));
    assert_eq!(seen.uri, "/b?pa_query=x");
    for same in [
        PortalLinkLayer::new().try_in_site_parameter("crylk"),
        PortalLinkLayer::new().try_link_parameter("pa_query"),
        PortalLinkLayer::new()
            .link_parameter("q")
            .try_in_site_parameter("q"),
    ] {
        assert_eq!(same.unwrap_err().kind(), InvalidParameterKind::SameAsOther);
    }
}

/// A response body with no `Default`: what `BadRequest` cannot build.
#[derive(Debug, PartialEq)]
struct Page(String);

#[tokio::test]
async fn a_custom_refusal_response_replaces_the_inner_service() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let inner = tower::service_fn(move |_: Request<()>| {
        counted.fetch_add(1, Ordering::SeqCst);
        async { Ok::<_, Infallible>(Response::new(Page("page".to_owned()))) }
    });
    let layer = PortalLinkLayer::new().refusal_response(|refusal, parts| {
        let mut res = Response::new(Page(format!("{} {}", parts.uri, refusal.code())));
        *res.status_mut() = StatusCode::UNPROCESSABLE_ENTITY;
        res
    });
    let mut svc = ServiceBuilder::new().layer(layer).service(inner);

    let evil = format!("/b?x=1&crylk=https%3a%2f%2fevilproabono.com%2f{TOKEN}");
    let res = svc
        .ready()
        .await
        .unwrap()
        .call(Request::get(evil.as_str()).body(()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // The parts it was given no longer carry the link.
    assert_eq!(res.body(), &Page("/b?x=1 host_not_allowed".to_owned()));
    assert_eq!(res.headers()[REFERRER_POLICY], "no-referrer");
    let res = svc
        .ready()
        .await
        .unwrap()
        .call(Request::get("/b?pa_query=%3Cscript%3E").body(()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.body(), &Page("/b forbidden_character".to_owned()));
    assert_eq!(calls.load(Ordering::SeqCst), 0);

    let ok = format!("/b?crylk={GUIDE_CRYLK}");
    let res = svc
        .ready()
        .await
        .unwrap()
        .call(Request::get(ok.as_str()).body(()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.body(), &Page("page".to_owned()));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_observer_sees_each_refusal_once_and_nothing_else() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let layer = PortalLinkLayer::new()
        .observe_refusals(move |refusal| log.lock().unwrap().push(refusal.code()));
    for uri in [
        "/b?crylk=https%3a%2f%2fevilproabono.com%2f".to_owned(),
        format!("/b?crylk={GUIDE_CRYLK}"),
        "/b?pa_query=%3C".to_owned(),
        "/b?crylk=a&crylk=b".to_owned(),
        "/b?page=2".to_owned(),
    ] {
        let (seen, _) = through(layer.clone(), &uri).await;
        // Whatever the observer does, the refused value is not handed on.
        assert!(seen.refusal.is_none() || (seen.target.is_none() && seen.query.is_none()));
    }
    assert_eq!(
        *seen.lock().unwrap(),
        ["host_not_allowed", "forbidden_character", "ambiguous"]
    );
}

#[tokio::test]
async fn the_csp_layer_frames_exactly_the_allowed_origins() {
    let layer = PortalLinkLayer::new().allowed_origins(["https://mon-app.via.proabono.com"]);
    let page = layer.csp().layer(tower::service_fn(|_: Request<()>| async {
        let mut res = Response::new(());
        res.headers_mut().insert(
            http::header::CONTENT_SECURITY_POLICY,
            "default-src 'self'; frame-src 'self'".parse().unwrap(),
        );
        Ok::<_, Infallible>(res)
    }));
    let res = page
        .oneshot(Request::get("/").body(()).unwrap())
        .await
        .unwrap();
    assert_eq!(
        res.headers()[http::header::CONTENT_SECURITY_POLICY],
        "default-src 'self'; frame-src 'self' https://mon-app.via.proabono.com"
    );
}
