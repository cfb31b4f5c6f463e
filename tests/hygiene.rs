//! Links are bearer secrets: they stay out of `Referer`, out of the URI that
//! downstream services (and their logs) see, and the header source follows
//! the same rules as the query.

mod support;

use std::convert::Infallible;

use http::header::REFERRER_POLICY;
use http::{HeaderName, HeaderValue, Request, Response, StatusCode};
use support::{
    guide_crylk_upper, poll_once, verdict, Bare, Verdict, EVIL_CRYLK, GUIDE_CRYLK, GUIDE_LINK,
};
use tower::{ServiceBuilder, ServiceExt};
use tower_portal_link::{BadRequest, PortalLinkLayer, Refusal};

const X_PORTAL_LINK: HeaderName = HeaderName::from_static("x-portal-link");

/// Sends one request through `layer` to [`Bare`], with the application's
/// own `Referrer-Policy` set on the response if given. The response's body
/// is the request as the inner service got it.
fn send(
    layer: PortalLinkLayer,
    req: Request<()>,
    own_policy: Option<&'static str>,
) -> Response<Request<()>> {
    let mut svc = ServiceBuilder::new()
        .layer(layer)
        .map_response(move |mut res: Response<Request<()>>| {
            if let Some(policy) = own_policy {
                res.headers_mut()
                    .insert(REFERRER_POLICY, HeaderValue::from_static(policy));
            }
            res
        })
        .service(Bare);
    let Ok(res) = poll_once(&mut svc, req);
    res
}

/// The target the inner service got, as text.
fn target(req: &Request<()>) -> Option<String> {
    verdict(req)
        .expect("not refused")
        .map(|target| target.to_string())
}

/// The link header the inner service got.
fn header(req: &Request<()>) -> Option<&str> {
    req.headers()
        .get(X_PORTAL_LINK)
        .map(|v| v.to_str().expect("ASCII"))
}

fn get(uri: &str) -> Request<()> {
    Request::get(uri).body(()).unwrap()
}

fn referrer_policy<B>(res: &Response<B>) -> Option<&str> {
    res.headers()
        .get(REFERRER_POLICY)
        .map(|v| v.to_str().unwrap())
}

#[test]
fn no_referrer_when_the_url_carried_a_link() {
    for query in [
        format!("crylk={GUIDE_CRYLK}"),
        format!("crylk={EVIL_CRYLK}"),
        "crylk=a&crylk=b".to_owned(),
        "crylk=".to_owned(),
        format!("lang=fr&cryl%6B={GUIDE_CRYLK}"),
    ] {
        let res = send(PortalLinkLayer::new(), get(&format!("/S?{query}")), None);
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

#[test]
fn no_header_added_without_a_link_in_the_url() {
    for uri in ["/S", "/S?page=2", "/S?crylkk=1"] {
        let res = send(PortalLinkLayer::new(), get(uri), None);
        assert_eq!(referrer_policy(&res), None, "{uri}");
    }
    // A link in a header is not in the page's URL, so there is no
    // `Referer` to protect.
    let mut req = get("/pkg.Svc/Method");
    req.headers_mut()
        .insert(X_PORTAL_LINK, HeaderValue::from_static(GUIDE_CRYLK));
    let res = send(PortalLinkLayer::new().header(X_PORTAL_LINK), req, None);
    assert_eq!(referrer_policy(&res), None);
    assert_eq!(target(res.body()).as_deref(), Some(GUIDE_LINK));
}

#[test]
fn the_link_is_stripped_from_the_uri_downstream() {
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
        let res = send(PortalLinkLayer::new(), get(&uri), None);
        let seen = res.body().uri().to_string();
        assert_eq!(seen, downstream, "{uri}");
        assert!(!seen.contains("proabono"), "{uri}");
    }

    // The verdict is still handed on.
    let res = send(
        PortalLinkLayer::new(),
        get(&format!("/S?crylk={GUIDE_CRYLK}")),
        None,
    );
    assert_eq!(target(res.body()).as_deref(), Some(GUIDE_LINK));
}

#[test]
fn stripping_can_be_turned_off() {
    let uri = format!("/S?a=1&crylk={GUIDE_CRYLK}");
    let res = send(PortalLinkLayer::new().strip_link(false), get(&uri), None);
    assert_eq!(res.body().uri().to_string(), uri);
    assert_eq!(target(res.body()).as_deref(), Some(GUIDE_LINK));

    let mut req = get("/pkg.Svc/Method");
    req.headers_mut()
        .insert(X_PORTAL_LINK, HeaderValue::from_static(GUIDE_CRYLK));
    let layer = PortalLinkLayer::new()
        .header(X_PORTAL_LINK)
        .strip_link(false);
    let res = send(layer, req, None);
    assert_eq!(header(res.body()), Some(GUIDE_CRYLK));
}

#[test]
fn the_header_is_stripped_too() {
    let mut req = get("/pkg.Svc/Method");
    req.headers_mut()
        .insert(X_PORTAL_LINK, HeaderValue::from_static(GUIDE_CRYLK));
    let res = send(PortalLinkLayer::new().header(X_PORTAL_LINK), req, None);
    assert_eq!(header(res.body()), None);
    assert_eq!(target(res.body()).as_deref(), Some(GUIDE_LINK));
}

/// The verdict for a request with the link in the query and/or headers.
fn verdict_of(query: Option<&str>, headers: &[&str]) -> Verdict {
    let uri = match query {
        Some(q) => format!("/pkg.Svc/Method?{q}"),
        None => "/pkg.Svc/Method".to_owned(),
    };
    let mut req = get(&uri);
    for value in headers {
        let value = HeaderValue::from_str(value).expect("a header value");
        req.headers_mut().append(X_PORTAL_LINK, value);
    }
    let res = send(PortalLinkLayer::new().header(X_PORTAL_LINK), req, None);
    verdict(res.body())
}

#[test]
fn header_source_follows_the_same_rules() {
    let ok = |seen: Verdict| {
        let target = seen.expect("accepted").expect("a target");
        assert_eq!(target.as_str(), GUIDE_LINK);
    };
    let refused = |seen: Verdict, why: Refusal| assert_eq!(seen, Err(why));
    let guide_query = format!("crylk={GUIDE_CRYLK}");

    ok(verdict_of(None, &[GUIDE_CRYLK]));
    // The same link in both, even encoded differently: they agree.
    ok(verdict_of(Some(&guide_query), &[&guide_crylk_upper()]));
    // Same rules as the query.
    refused(verdict_of(None, &[EVIL_CRYLK]), Refusal::HostNotAllowed);
    refused(
        verdict_of(None, &["https%3a%2f%2fevil.com%5c.proabono.com"]),
        Refusal::ForbiddenCharacter,
    );
    refused(verdict_of(None, &[""]), Refusal::Empty);
    // Twice in the headers.
    refused(
        verdict_of(None, &[GUIDE_CRYLK, GUIDE_CRYLK]),
        Refusal::Ambiguous,
    );
    // Query and header disagree, or only one of them is valid.
    refused(
        verdict_of(
            Some(&guide_query),
            &["https%3a%2f%2fdemo-eur.proabono.com%2fportal-anon"],
        ),
        Refusal::Ambiguous,
    );
    refused(
        verdict_of(Some(&guide_query), &["https%3a%2f%2fevil.com%2f"]),
        Refusal::Ambiguous,
    );
    refused(
        verdict_of(Some("crylk=https%3a%2f%2fevil.com%2f"), &[GUIDE_CRYLK]),
        Refusal::Ambiguous,
    );
    // Both refused, for different reasons or the same: ambiguous too, as
    // the `header` docs say, whichever reason each would have had alone.
    refused(
        verdict_of(
            Some("crylk=https%3a%2f%2fevil.com%2f"),
            &["https%3a%2f%2fa.proabono.com%3a8443%2f"],
        ),
        Refusal::Ambiguous,
    );
    refused(
        verdict_of(Some(&format!("crylk={EVIL_CRYLK}")), &[EVIL_CRYLK]),
        Refusal::Ambiguous,
    );
    refused(verdict_of(Some("crylk="), &[""]), Refusal::Ambiguous);
}

#[test]
fn headers_are_ignored_unless_configured() {
    let mut req = get("/S");
    req.headers_mut()
        .insert(X_PORTAL_LINK, HeaderValue::from_static(GUIDE_CRYLK));
    let res = send(PortalLinkLayer::new(), req, None);
    assert_eq!(verdict(res.body()), Ok(None));
    assert_eq!(header(res.body()), Some(GUIDE_CRYLK));
}

#[cfg(feature = "tracing")]
#[tokio::test(flavor = "current_thread")]
async fn trace_layer_inside_never_records_the_link() {
    let captured = support::capture::Captured::default();
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
