//! `Referrer-Policy` on the response to a request whose URL carried a link
//! or an In-Site query: one field whose whole value is exactly
//! `no-referrer`, `origin` or `strict-origin` stays, anything else becomes
//! one `no-referrer`, whichever way the layer answered. Responses to other
//! requests are left as they are.

mod support;

use std::convert::Infallible;
use std::task::{Context, Poll};

use http::header::REFERRER_POLICY;
use http::{HeaderValue, Request, Response, StatusCode};
use support::{EVIL_CRYLK, GUIDE_CRYLK, IN_SITE_QUERY};
use tower::{Layer, Service, ServiceExt};
use tower_portal_link::{BadRequest, PortalLinkLayer};

/// What the application's response carries, field by field, and whether
/// the layer must keep it.
const CASES: &[(&[&[u8]], bool)] = &[
    (&[], false),
    (&[b"no-referrer"], true),
    (&[b"origin"], true),
    (&[b"strict-origin"], true),
    (&[b"no-referrer-when-downgrade"], false),
    (&[b"same-origin"], false),
    (&[b"origin-when-cross-origin"], false),
    (&[b"strict-origin-when-cross-origin"], false),
    (&[b"unsafe-url"], false),
    (&[b""], false),
    (&[b"invalid"], false),
    (&[b"never"], false),
    (&[b"No-Referrer"], false),
    (&[b"STRICT-ORIGIN"], false),
    (&[b"no-referrer;"], false),
    (&[b"no-referrer\xff"], false),
    (&[b"origin, unsafe-url"], false),
    // Lists that end in a private token, which Chromium ignores whole.
    (&[b"unsafe-url, origin"], false),
    (&[b"no-referrer, x1"], false),
    (&[b"origin, a=b"], false),
    (&[b"no-referrer, 'x'"], false),
    (&[b"no-referrer,,"], false),
    (&[b"no-referrer, no-referrer"], false),
    // Several fields, even private ones.
    (&[b"strict-origin", b"x y"], false),
    (&[b"unsafe-url", b"no-referrer"], false),
    (&[b"no-referrer", b"no-referrer"], false),
    (&[b"strict-origin", b""], false),
    (&[b"origin", b"\xe9"], false),
];

fn fields(values: &[&[u8]]) -> Vec<HeaderValue> {
    values
        .iter()
        .map(|v| HeaderValue::from_bytes(v).unwrap())
        .collect()
}

fn policy_of<B>(res: &Response<B>) -> Vec<HeaderValue> {
    res.headers()
        .get_all(REFERRER_POLICY)
        .iter()
        .cloned()
        .collect()
}

/// The application: a page with `Referrer-Policy` fields of its own.
#[derive(Clone)]
struct App(Vec<HeaderValue>);

impl Service<Request<()>> for App {
    type Response = Response<String>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Response<String>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<()>) -> Self::Future {
        let mut res = Response::new("page".to_owned());
        for value in &self.0 {
            res.headers_mut().append(REFERRER_POLICY, value.clone());
        }
        std::future::ready(Ok(res))
    }
}

/// The response to `uri` from an application that sets `values`, through
/// `layer`.
async fn through<L>(layer: L, uri: &str, values: &[&[u8]]) -> Response<String>
where
    L: Layer<App>,
    L::Service: Service<Request<()>, Response = Response<String>, Error = Infallible>,
{
    let svc = layer.layer(App(fields(values)));
    svc.oneshot(Request::get(uri).body(()).unwrap())
        .await
        .unwrap()
}

fn with_link() -> Vec<String> {
    vec![
        format!("/S?crylk={GUIDE_CRYLK}"),
        format!("/S?lang=fr&cryl%6B={EVIL_CRYLK}"),
        "/S?crylk=a&crylk=b".to_owned(),
        format!("/S?pa_query={IN_SITE_QUERY}"),
        "/S?pa_query=%3Cscript%3E".to_owned(),
        format!("/S?crylk={GUIDE_CRYLK}&pa_query={IN_SITE_QUERY}"),
    ]
}

#[tokio::test]
async fn forwarded_responses_follow_the_rule() {
    for uri in with_link() {
        for strip in [true, false] {
            for (values, kept) in CASES {
                let layer = PortalLinkLayer::new().strip_link(strip);
                let res = through(layer, &uri, values).await;
                assert_eq!(res.status(), StatusCode::OK);
                let want = match kept {
                    true => fields(values),
                    false => fields(&[b"no-referrer"]),
                };
                assert_eq!(policy_of(&res), want, "{uri} {values:?} strip={strip}");
            }
        }
    }
}

#[tokio::test]
async fn refusal_responses_follow_the_rule() {
    for (values, kept) in CASES {
        let own = fields(values);
        let layer = PortalLinkLayer::new().refusal_response(move |_, _| {
            let mut res = Response::new("refused".to_owned());
            for value in &own {
                res.headers_mut().append(REFERRER_POLICY, value.clone());
            }
            res
        });
        for uri in [
            format!("/S?crylk={EVIL_CRYLK}"),
            "/S?pa_query=%22".to_owned(),
        ] {
            let res = through(layer.clone(), &uri, &[b"unsafe-url"]).await;
            assert_eq!(res.body(), "refused");
            let want = match kept {
                true => fields(values),
                false => fields(&[b"no-referrer"]),
            };
            assert_eq!(policy_of(&res), want, "{uri} {values:?}");
        }
    }
    // `BadRequest` builds its response without one: it gets `no-referrer`.
    let layer = PortalLinkLayer::new().on_refused(BadRequest);
    let res = through(layer, &format!("/S?crylk={EVIL_CRYLK}"), &[b"unsafe-url"]).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert_eq!(policy_of(&res), fields(&[b"no-referrer"]));
}

#[tokio::test]
async fn other_responses_are_untouched() {
    for uri in ["/S", "/S?page=2", "/S?crylkk=1&pa_queryy=2", "/S?c=1&p=2"] {
        for (values, _) in CASES {
            let res = through(PortalLinkLayer::new(), uri, values).await;
            assert_eq!(policy_of(&res), fields(values), "{uri} {values:?}");
        }
    }
}
