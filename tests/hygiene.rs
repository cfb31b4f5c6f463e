//! Links are bearer secrets: they stay out of `Referer`, out of the URI that
//! downstream services (and their logs) see, and the header source follows
//! the same rules as the query.

mod common;

use std::convert::Infallible;

use common::capture::Captured;
use common::{GUIDE_CRYLK, GUIDE_LINK};
use http::header::REFERRER_POLICY;
use http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use tower::{ServiceBuilder, ServiceExt};
use tower_portal_link::{BadRequest, PortalLinkLayer, PortalTarget, Refusal};

/// What the inner service saw of the request.
#[derive(Debug, Default, Clone)]
struct Downstream {
    uri: String,
    header: Option<String>,
    target: Option<String>,
    refusal: Option<Refusal>,
}

const X_PORTAL_LINK: HeaderName = HeaderName::from_static("x-portal-link");

/// Sends one request through `layer` to a handler that answers what it saw,
/// optionally setting its own `Referrer-Policy`.
async fn send(
    layer: PortalLinkLayer,
    req: Request<()>,
    own_policy: Option<&'static str>,
) -> Response<Downstream> {
    let svc = ServiceBuilder::new()
        .layer(layer)
        .service_fn(move |req: Request<()>| async move {
            let seen = Downstream {
                uri: req.uri().to_string(),
                header: req
                    .headers()
                    .get(X_PORTAL_LINK)
                    .map(|v| v.to_str().unwrap().to_owned()),
                target: req
                    .extensions()
                    .get::<PortalTarget>()
                    .map(|t| t.to_string()),
                refusal: req.extensions().get::<Refusal>().copied(),
            };
            let mut res = Response::new(seen);
            if let Some(policy) = own_policy {
                res.headers_mut()
                    .insert(REFERRER_POLICY, HeaderValue::from_static(policy));
            }
            Ok::<_, Infallible>(res)
        });
    svc.oneshot(req).await.unwrap()
}

fn get(uri: &str) -> Request<()> {
    Request::get(uri).body(()).unwrap()
}

fn referrer_policy<B>(res: &Response<B>) -> Option<&str> {
    res.headers()
        .get(REFERRER_POLICY)
        .map(|v| v.to_str().unwrap())
}

#[tokio::test]
async fn no_referrer_when_the_url_carried_a_link() {
    for query in [
        format!("crylk={GUIDE_CRYLK}"),
        "crylk=https%3a%2f%2fevilproabono.com%2f".to_owned(),
        "crylk=a&crylk=b".to_owned(),
        "crylk=".to_owned(),
        format!("lang=fr&cryl%6B={GUIDE_CRYLK}"),
    ] {
        let res = send(PortalLinkLayer::new(), get(&format!("/S?{query}")), None).await;
        assert_eq!(referrer_policy(&res), Some("no-referrer"), "{query}");
    }
}

#[tokio::test]
async fn no_referrer_in_bad_request_mode_too() {
    let svc = ServiceBuilder::new()
        .layer(PortalLinkLayer::new().on_refused(BadRequest))
        .service_fn(|_: Request<()>| async { Ok::<_, Infallible>(Response::new(String::new())) });
    let res = svc
        .oneshot(get("/S?crylk=https%3a%2f%2fevil.com%2f"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(referrer_policy(&res), Some("no-referrer"));
}

#[tokio::test]
async fn the_applications_own_policy_stands() {
    let res = send(
        PortalLinkLayer::new(),
        get(&format!("/S?crylk={GUIDE_CRYLK}")),
        Some("same-origin"),
    )
    .await;
    assert_eq!(referrer_policy(&res), Some("same-origin"));
    let all: Vec<_> = res.headers().get_all(REFERRER_POLICY).iter().collect();
    assert_eq!(all.len(), 1);
}

#[tokio::test]
async fn no_header_added_without_a_link_in_the_url() {
    for uri in ["/S", "/S?page=2", "/S?crylkk=1"] {
        let res = send(PortalLinkLayer::new(), get(uri), None).await;
        assert_eq!(referrer_policy(&res), None, "{uri}");
    }
    // A link in a header is not in the page's URL, so there is no
    // `Referer` to protect.
    let mut req = get("/pkg.Svc/Method");
    req.headers_mut()
        .insert(X_PORTAL_LINK, HeaderValue::from_static(GUIDE_CRYLK));
    let res = send(PortalLinkLayer::new().header(X_PORTAL_LINK), req, None).await;
    assert_eq!(referrer_policy(&res), None);
    assert_eq!(res.body().target.as_deref(), Some(GUIDE_LINK));
}

#[tokio::test]
async fn the_link_is_stripped_from_the_uri_downstream() {
    for (uri, downstream) in [
        (format!("/S?crylk={GUIDE_CRYLK}"), "/S".to_owned()),
        (
            format!("/S?utm_source=email&crylk={GUIDE_CRYLK}&lang=fr&utm_medium=x%20y"),
            "/S?utm_source=email&lang=fr&utm_medium=x%20y".to_owned(),
        ),
        // Refused and repeated links are secrets all the same.
        (
            "/S?b=2&crylk=https%3a%2f%2fevilproabono.com%2fT0KEN&a=1".to_owned(),
            "/S?b=2&a=1".to_owned(),
        ),
        (
            format!("/S?crylk={GUIDE_CRYLK}&x=1&cryl%6b={GUIDE_CRYLK}"),
            "/S?x=1".to_owned(),
        ),
        // Absolute form, as HTTP/2 and proxies send it.
        (
            format!("https://mon-app.com/S?crylk={GUIDE_CRYLK}&lang=fr"),
            "https://mon-app.com/S?lang=fr".to_owned(),
        ),
    ] {
        let res = send(PortalLinkLayer::new(), get(&uri), None).await;
        let seen = res.into_body();
        assert_eq!(seen.uri, downstream, "{uri}");
        assert!(!seen.uri.contains("proabono"), "{uri}");
    }

    // The verdict is still handed on.
    let res = send(
        PortalLinkLayer::new(),
        get(&format!("/S?crylk={GUIDE_CRYLK}")),
        None,
    )
    .await;
    assert_eq!(res.body().target.as_deref(), Some(GUIDE_LINK));
}

#[tokio::test]
async fn stripping_can_be_turned_off() {
    let uri = format!("/S?a=1&crylk={GUIDE_CRYLK}");
    let res = send(PortalLinkLayer::new().strip_link(false), get(&uri), None).await;
    assert_eq!(res.body().uri, uri);
    assert_eq!(res.body().target.as_deref(), Some(GUIDE_LINK));

    let mut req = get("/pkg.Svc/Method");
    req.headers_mut()
        .insert(X_PORTAL_LINK, HeaderValue::from_static(GUIDE_CRYLK));
    let layer = PortalLinkLayer::new()
        .header(X_PORTAL_LINK)
        .strip_link(false);
    let res = send(layer, req, None).await;
    assert_eq!(res.body().header.as_deref(), Some(GUIDE_CRYLK));
}

#[tokio::test]
async fn the_header_is_stripped_too() {
    let mut req = get("/pkg.Svc/Method");
    req.headers_mut()
        .insert(X_PORTAL_LINK, HeaderValue::from_static(GUIDE_CRYLK));
    let res = send(PortalLinkLayer::new().header(X_PORTAL_LINK), req, None).await;
    assert_eq!(res.body().header, None);
    assert_eq!(res.body().target.as_deref(), Some(GUIDE_LINK));
}

/// The verdict for a request with the link in the query and/or headers.
async fn verdict(query: Option<&str>, headers: &[&'static str]) -> Downstream {
    let uri = match query {
        Some(q) => format!("/pkg.Svc/Method?{q}"),
        None => "/pkg.Svc/Method".to_owned(),
    };
    let mut req = get(&uri);
    for value in headers {
        req.headers_mut()
            .append(X_PORTAL_LINK, HeaderValue::from_static(value));
    }
    send(PortalLinkLayer::new().header(X_PORTAL_LINK), req, None)
        .await
        .into_body()
}

#[tokio::test]
async fn header_source_follows_the_same_rules() {
    let ok = |seen: Downstream| {
        assert_eq!(seen.refusal, None);
        assert_eq!(seen.target.as_deref(), Some(GUIDE_LINK));
    };
    let refused = |seen: Downstream, why: Refusal| {
        assert_eq!(seen.target, None);
        assert_eq!(seen.refusal, Some(why));
    };
    let guide_upper: &'static str = "https%3A%2F%2Fmon-app.via.proabono.com%2Fsubscribe-offer%2F0p9i35O1V9_JJRfC0nIeE96ot9e1LcN349";
    let guide_query = format!("crylk={GUIDE_CRYLK}");

    ok(verdict(None, &[GUIDE_CRYLK]).await);
    // The same link in both, even encoded differently: they agree.
    ok(verdict(Some(&guide_query), &[guide_upper]).await);
    // Same rules as the query.
    refused(
        verdict(None, &["https%3a%2f%2fevilproabono.com%2f"]).await,
        Refusal::HostNotAllowed,
    );
    refused(
        verdict(None, &["https%3a%2f%2fevil.com%5c.proabono.com"]).await,
        Refusal::ForbiddenCharacter,
    );
    refused(verdict(None, &[""]).await, Refusal::Empty);
    // Twice in the headers.
    refused(
        verdict(None, &[GUIDE_CRYLK, GUIDE_CRYLK]).await,
        Refusal::Ambiguous,
    );
    // Query and header disagree, or only one of them is valid.
    refused(
        verdict(
            Some(&guide_query),
            &["https%3a%2f%2fdemo-eur.proabono.com%2fportal-anon"],
        )
        .await,
        Refusal::Ambiguous,
    );
    refused(
        verdict(Some(&guide_query), &["https%3a%2f%2fevil.com%2f"]).await,
        Refusal::Ambiguous,
    );
    refused(
        verdict(Some("crylk=https%3a%2f%2fevil.com%2f"), &[GUIDE_CRYLK]).await,
        Refusal::Ambiguous,
    );
    // Both refused: the query's reason.
    refused(
        verdict(
            Some("crylk=https%3a%2f%2fevil.com%2f"),
            &["https%3a%2f%2fa.proabono.com%3a8443%2f"],
        )
        .await,
        Refusal::HostNotAllowed,
    );
}

#[tokio::test]
async fn headers_are_ignored_unless_configured() {
    let mut req = get("/S");
    req.headers_mut()
        .insert(X_PORTAL_LINK, HeaderValue::from_static(GUIDE_CRYLK));
    let seen = send(PortalLinkLayer::new(), req, None).await.into_body();
    assert_eq!(seen.target, None);
    assert_eq!(seen.header.as_deref(), Some(GUIDE_CRYLK));
}

#[tokio::test(flavor = "current_thread")]
async fn trace_layer_inside_never_records_the_link() {
    let captured = Captured::default();
    let _guard = captured.install(tracing::Level::TRACE);

    let svc = ServiceBuilder::new()
        .layer(PortalLinkLayer::new())
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .service_fn(|_: Request<String>| async {
            Ok::<_, Infallible>(Response::new(String::new()))
        });
    let uri = format!("/Subscriptions?lang=fr&crylk={GUIDE_CRYLK}");
    let req = Request::get(uri).body(String::new()).unwrap();
    svc.oneshot(req).await.unwrap();

    let out = captured.text();
    // The span is there, with the URI the application logs...
    assert!(out.contains("uri=/Subscriptions?lang=fr"), "{out}");
    // ...and no part of the link.
    for secret in ["crylk", "proabono", "0p9i35O1V9"] {
        assert!(!out.contains(secret), "{secret} leaked: {out}");
    }
}
