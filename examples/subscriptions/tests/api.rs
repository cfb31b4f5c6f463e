//! The page with its customer's links from a stand-in for ProAbono's API
//! Live (TLS on 127.0.0.1): the `hosted-home` it frames, the source it
//! names, and the static fallback when the API fails or its link does not
//! pass the layer's origins.

use std::time::{Duration, Instant};

use axum::body::{to_bytes, Body};
use axum::http::header::CONTENT_SECURITY_POLICY;
use axum::http::{Request, StatusCode};
use axum::Router;
use subscriptions::{app, ApiSettings, Settings, DEFAULT_FALLBACK};
use test_support::api_live::{ApiLive, Fault, Link, AGENT_KEY, API_KEY, DEMO_CUSTOMER};
use test_support::{GUIDE_CRYLK, GUIDE_LINK};
use tower::ServiceExt;
use tower_portal_link::api::{Config, CustomerRef};

fn with_api(api: &ApiLive, customer: &str, origins: Option<Vec<String>>) -> Router {
    app(Settings {
        api: Some(ApiSettings {
            config: Config::new(&api.endpoint(), AGENT_KEY, API_KEY).unwrap(),
            tls: Some(api.tls_config()),
            source: "the stand-in".to_owned(),
            customer: CustomerRef::new(customer).unwrap(),
        }),
        allowed_origins: origins,
        ..Settings::demo()
    })
}

/// The status, the policy, the iframe's `src` and the source line.
async fn view(app: &Router, uri: &str) -> (StatusCode, String, String, String) {
    let res = app
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let csp = res.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    let html =
        String::from_utf8(to_bytes(res.into_body(), 1 << 16).await.unwrap().to_vec()).unwrap();
    let src = html.split(r#" src=""#).nth(2).expect("the iframe's src");
    let src = src[..src.find('"').unwrap()].to_owned();
    let line = &html[html.find("Portal link: ").expect("the source line") + 13..];
    let line = line[..line.find("</p>").unwrap()].to_owned();
    (status, csp, src, line)
}

#[tokio::test]
async fn the_page_frames_the_customers_hosted_home_and_names_its_source() {
    let api = ApiLive::start().await;
    let page = with_api(&api, DEMO_CUSTOMER, None);
    let home = api.hosted_home(DEMO_CUSTOMER).unwrap();
    for _ in 0..3 {
        let (status, csp, src, line) = view(&page, "/Subscriptions").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(src, home);
        assert_eq!(line, "hosted-home from the stand-in (no crylk or pa_query)");
        // The layer's origins, which the link passed, frame it.
        assert!(
            csp.contains("frame-src https://proabono.com https://*.proabono.com"),
            "{csp}"
        );
    }
    assert_eq!(api.count(), 1, "cached");
    let (_, _, src, line) = view(&page, &format!("/Subscriptions?crylk={GUIDE_CRYLK}")).await;
    assert_eq!((src.as_str(), line.as_str()), (GUIDE_LINK, "crylk"));
}

#[tokio::test]
async fn an_outage_frames_the_static_fallback_in_time() {
    let api = ApiLive::start().await;
    let page = with_api(&api, DEMO_CUSTOMER, None);
    for (fault, says) in [
        (Fault::Status(503), "ProAbono is unavailable (503)"),
        (Fault::Slow(Duration::from_secs(30)), "timed out"),
        (Fault::Reset, "could not be reached"),
        (Fault::MalformedJson, "not the expected JSON"),
    ] {
        api.fail_always(Some(fault));
        let start = Instant::now();
        let (status, _, src, line) = view(&page, "/Subscriptions").await;
        assert!(start.elapsed() < Duration::from_secs(3) + Duration::from_millis(500));
        assert_eq!(status, StatusCode::OK);
        assert_eq!(src, DEFAULT_FALLBACK);
        assert!(
            line.starts_with("fallback (no crylk or pa_query; the stand-in: "),
            "{line}"
        );
        assert!(line.contains(says), "{line}");
    }
}

#[tokio::test]
async fn a_link_the_layer_refuses_is_never_framed() {
    let api = ApiLive::start().await;
    api.set_links(
        "evil",
        vec![Link::href(
            "hosted-home",
            "https://evil.example/portal-auth/x",
        )],
    );
    api.set_links("in-site", vec![Link::query("insite-register", "abc")]);
    for (customer, says) in [
        ("evil", "link was refused: "),
        ("in-site", "the customer has no such link"),
    ] {
        let (_, _, src, line) = view(&with_api(&api, customer, None), "/Subscriptions").await;
        assert_eq!(src, DEFAULT_FALLBACK);
        assert!(line.contains(says), "{line}");
    }
    // Narrowed origins refuse the segment's links as they refuse `crylk`.
    let narrow = Some(vec!["https://mon-app.via.proabono.com".to_owned()]);
    let (_, _, src, line) = view(&with_api(&api, DEMO_CUSTOMER, narrow), "/Subscriptions").await;
    assert_eq!(src, DEFAULT_FALLBACK);
    assert!(line.contains("not allowed"), "{line}");
}
