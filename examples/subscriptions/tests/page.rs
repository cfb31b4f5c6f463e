//! The page's Router, called in-process: what it frames or opens with
//! portal.js, what it says under the portal, and the headers that keep the
//! link from leaking and the browser from loading anything else.

use axum::body::{to_bytes, Body};
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY};
use axum::http::{Request, StatusCode};
use axum::Router;
use base64::Engine as _;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use subscriptions::{app, Settings, DEFAULT_FALLBACK, DEFAULT_PAGE_CSP, PAGE_JS_PATH};
use test_support::{EVIL_CRYLK, GUIDE_CRYLK, GUIDE_LINK, IN_SITE_QUERY};
use tower::ServiceExt;
use tower_portal_link::InSite;

const PORTAL_JS_TAG: &str = r#"<script src="https://portal.proabono.com/Get/portal.js"></script>"#;

const PAGE_JS_TAG: &str = r#"<script src="/static/page.js"></script>"#;

/// The policy of a page without an inline script: the page's own, with
/// `PortalLinkLayer::csp().fallback(DEFAULT_FALLBACK).in_site()`'s sources.
const FRAME_ONLY_CSP: &str = "default-src 'none'; script-src 'self' https://portal.proabono.com; \
     style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; \
     frame-src https://proabono.com https://*.proabono.com https://demo-eur.proabono.com";

fn demo() -> Router {
    app(Settings::demo())
}

fn with_fallback(fallback: &str) -> Router {
    app(Settings {
        fallback: fallback.to_owned(),
        ..Settings::demo()
    })
}

/// The status, the `Content-Security-Policy` and the body of `GET uri`.
async fn page(app: Router, uri: &str) -> (StatusCode, String, String) {
    let res = app
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    // The page sends both with or without a link: it is where links land.
    assert_eq!(res.headers()[REFERRER_POLICY], "no-referrer");
    assert_eq!(res.headers()[CACHE_CONTROL], "no-store");
    assert_eq!(
        res.headers()
            .get_all(CONTENT_SECURITY_POLICY)
            .iter()
            .count(),
        1,
        "one policy"
    );
    let status = res.status();
    let csp = res.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .to_owned();
    let body = to_bytes(res.into_body(), 1 << 16).await.unwrap();
    (status, csp, String::from_utf8(body.to_vec()).unwrap())
}

fn iframe_src(html: &str) -> &str {
    let start = html.find(r#"<iframe id="portal""#).expect("the iframe");
    let src = &html[start..];
    let src = &src[src.find(r#" src=""#).expect("its src") + 6..];
    &src[..src.find('"').expect("the end of src")]
}

fn source_line(html: &str) -> &str {
    let start = html.find("Portal link: ").expect("the source line");
    let line = &html[start..];
    &line[..line.find("</p>").expect("the end of the line")]
}

/// The text of every inline `<script>` element (one without `src`).
fn inline_scripts(html: &str) -> Vec<&str> {
    html.split("<script>")
        .skip(1)
        .map(|rest| &rest[..rest.find("</script>").expect("the end of the script")])
        .collect()
}

/// The options of the page's one `ProAbonoPortal.open(...)` call, and the
/// call itself.
fn open_call(html: &str) -> (Value, &str) {
    let scripts = inline_scripts(html);
    assert_eq!(scripts.len(), 1, "one inline script: {html}");
    let json = scripts[0]
        .strip_prefix("ProAbonoPortal.open(")
        .and_then(|s| s.strip_suffix(");"))
        .expect("a call of ProAbonoPortal.open");
    (
        serde_json::from_str(json).expect("JSON options"),
        scripts[0],
    )
}

/// The CSP hash source of `script`, computed here rather than by the
/// library the page uses.
fn sha256_source(script: &str) -> String {
    let digest = Sha256::digest(script.as_bytes());
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

fn assert_frame_only(html: &str) {
    // The page's own script, and no other.
    assert_eq!(html.matches("<script").count(), 1, "{html}");
    assert_eq!(html.matches(PAGE_JS_TAG).count(), 1, "{html}");
    assert!(!html.contains("proabono_portal"), "no In-Site: {html}");
}

#[tokio::test]
async fn accepted_link_is_framed() {
    let uri = format!("/Subscriptions?crylk={GUIDE_CRYLK}");
    let (status, csp, html) = page(demo(), &uri).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(iframe_src(&html), GUIDE_LINK);
    assert_eq!(source_line(&html), "Portal link: crylk");
    assert_frame_only(&html);
    assert_eq!(csp, FRAME_ONLY_CSP);
}

#[tokio::test]
async fn accepted_query_opens_portal_js() {
    let uri = format!("/Subscriptions?pa_query={IN_SITE_QUERY}");
    let (status, csp, html) = page(demo(), &uri).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(html.matches(PORTAL_JS_TAG).count(), 1, "{html}");
    assert!(html.contains(r#"<div id="proabono_portal">"#), "{html}");
    assert!(!html.contains("<iframe"), "{html}");
    assert_eq!(source_line(&html), "Portal link: pa_query (In-Site)");
    // portal.js is loaded before the call that needs it, after the page's
    // own script.
    assert!(html.find(PORTAL_JS_TAG) < html.find("<script>"));
    assert!(html.find(PAGE_JS_TAG) < html.find(PORTAL_JS_TAG));

    let (options, script) = open_call(&html);
    // Anonymous: no customer reference, so no hash either.
    assert_eq!(
        options,
        json!({"business_id": 42, "segment_ref": "demo-eur", "query": IN_SITE_QUERY})
    );
    // Allowed by its hash, and nothing else inline.
    assert_eq!(
        csp,
        format!(
            "default-src 'none'; script-src 'self' https://portal.proabono.com {}; \
             style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; \
             frame-src https://proabono.com https://*.proabono.com https://demo-eur.proabono.com",
            sha256_source(script)
        )
    );
}

#[tokio::test]
async fn the_call_uses_the_settings_and_stays_inert() {
    // Settings come from the environment: whatever they hold stays a
    // string inside the script, and the hash covers the text as written.
    let segment = "seg</script><script>alert(1)</script>\u{2028}\"'\\";
    let settings = Settings {
        in_site: InSite::new(7, segment, "secret").unwrap(),
        ..Settings::demo()
    };
    let uri = format!("/Subscriptions?pa_query={IN_SITE_QUERY}");
    let (_, csp, html) = page(app(settings), &uri).await;
    let (options, script) = open_call(&html);
    assert_eq!(
        options,
        json!({"business_id": 7, "segment_ref": segment, "query": IN_SITE_QUERY})
    );
    assert!(
        !script.contains('<') && !script.contains('\u{2028}'),
        "{script}"
    );
    assert!(csp.contains(&sha256_source(script)), "{csp}");
}

/// `pa_query` values the layer refuses: none may reach the page. Each
/// carries `PWNED`, so that the value cannot hide in the page under any
/// encoding.
const HOSTILE_QUERIES: &[&str] = &[
    "PWNED\"",
    "PWNED'",
    "PWNED\");alert(1);//",
    "PWNED</script><script>alert(1)</script>",
    "<img src=x onerror=alert(1)>PWNED",
    "PWNED\\",
    "PWNED\\u0022",
    "PWNED\u{2028}alert(1)",
    "https://evil.example/PWNED",
    "PWNED ",
    "PWNED+",
    "PWNED=",
    "PWNED%",
];

fn encoded(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[tokio::test]
async fn hostile_queries_never_reach_the_page() {
    let over_long = format!("PWNED{}", "A".repeat(1024));
    let values = HOSTILE_QUERIES
        .iter()
        .map(|v| v.to_string())
        .chain([over_long]);
    for value in values {
        let uri = format!("/Subscriptions?pa_query={}", encoded(&value));
        let (status, csp, html) = page(demo(), &uri).await;
        assert_eq!(status, StatusCode::OK, "{value:?}");
        assert!(
            !html.contains("PWNED"),
            "{value:?} reached the page: {html}"
        );
        assert_frame_only(&html);
        assert_eq!(iframe_src(&html), DEFAULT_FALLBACK);
        assert!(
            source_line(&html).starts_with("Portal link: fallback (refused: the portal link or"),
            "{value:?}: {}",
            source_line(&html)
        );
        assert_eq!(csp, FRAME_ONLY_CSP, "{value:?}");
    }
}

#[tokio::test]
async fn a_query_is_refused_beside_a_link_or_repeated() {
    for uri in [
        format!("/Subscriptions?crylk={GUIDE_CRYLK}&pa_query={IN_SITE_QUERY}"),
        format!("/Subscriptions?pa_query={IN_SITE_QUERY}&pa_query={IN_SITE_QUERY}"),
        format!("/Subscriptions?pa_query={IN_SITE_QUERY}&pa_query=PWNED%22"),
    ] {
        let (_, _, html) = page(demo(), &uri).await;
        assert_frame_only(&html);
        assert!(!html.contains(IN_SITE_QUERY), "{uri}: {html}");
        assert_eq!(iframe_src(&html), DEFAULT_FALLBACK, "{uri}");
        assert_eq!(
            source_line(&html),
            "Portal link: fallback (refused: the portal link or query appears more than \
             once, or both are present)",
            "{uri}"
        );
    }
}

#[tokio::test]
async fn refused_link_shows_the_fallback_and_why() {
    let uri = format!("/Subscriptions?crylk={EVIL_CRYLK}");
    let (status, _, html) = page(demo(), &uri).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(iframe_src(&html), DEFAULT_FALLBACK);
    assert_eq!(
        source_line(&html),
        "Portal link: fallback (refused: the portal link&#39;s host is not allowed)"
    );
}

#[tokio::test]
async fn no_link_shows_the_fallback() {
    let (status, _, html) = page(demo(), "/Subscriptions").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(iframe_src(&html), DEFAULT_FALLBACK);
    assert_eq!(
        source_line(&html),
        "Portal link: fallback (no crylk or pa_query)"
    );
    assert_frame_only(&html);
}

#[tokio::test]
async fn the_iframe_src_is_escaped_for_its_attribute() {
    // `&` is the one character of an accepted link that HTML gives a meaning.
    let crylk = "https%3a%2f%2fmon-app.via.proabono.com%2fportal%3fa%3d1%26lang%3dfr";
    let uri = format!("/Subscriptions?crylk={crylk}");
    let (_, _, html) = page(demo(), &uri).await;
    assert_eq!(
        iframe_src(&html),
        "https://mon-app.via.proabono.com/portal?a=1&amp;lang=fr"
    );

    // The fallback comes from the environment: whatever it holds stays text.
    let fallback = r#"https://billing.example.com/portal?a=1&b="<x>""#;
    let (_, _, html) = page(with_fallback(fallback), "/Subscriptions").await;
    assert_eq!(
        iframe_src(&html),
        "https://billing.example.com/portal?a=1&amp;b=&quot;&lt;x&gt;&quot;"
    );
}

#[tokio::test]
async fn csp_frames_only_proabono_and_the_fallback() {
    // The default fallback is a ProAbono page, added by its origin.
    let (_, csp, _) = page(demo(), "/Subscriptions").await;
    assert_eq!(csp, FRAME_ONLY_CSP);
    // A fallback on the business's own site is framed too, by origin only.
    let fallback = "https://billing.example.com:8443/portal?customer=42";
    let (_, csp, _) = page(with_fallback(fallback), "/Subscriptions").await;
    assert!(
        csp.ends_with(
            "frame-src https://proabono.com https://*.proabono.com https://billing.example.com:8443"
        ),
        "{csp}"
    );
    // One that is not a URL adds nothing.
    let (_, csp, _) = page(with_fallback("not a url"), "/Subscriptions").await;
    assert!(
        csp.ends_with("frame-src https://proabono.com https://*.proabono.com"),
        "{csp}"
    );
}

/// Every `Content-Security-Policy` field of `GET uri`, and the body.
async fn policies(app: Router, uri: &str) -> (Vec<String>, String) {
    let res = app
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let csp = res
        .headers()
        .get_all(CONTENT_SECURITY_POLICY)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect();
    let body = to_bytes(res.into_body(), 1 << 16).await.unwrap();
    (csp, String::from_utf8(body.to_vec()).unwrap())
}

/// A narrowed list of origins, with the fallback on another ProAbono host.
fn narrowed(restrict_frames: bool, page_csp: Option<&str>) -> Router {
    app(Settings {
        allowed_origins: Some(vec!["https://mon-app.via.proabono.com".to_owned()]),
        restrict_frames,
        page_csp: page_csp.map(str::to_owned),
        ..Settings::demo()
    })
}

#[tokio::test]
async fn a_narrowed_list_still_frames_the_fallback_in_every_page_state() {
    const FRAMES: &str = "https://mon-app.via.proabono.com https://demo-eur.proabono.com";
    let own = format!("frame-src {FRAMES}");
    let with_page = format!(
        "{}; frame-src {FRAMES}",
        DEFAULT_PAGE_CSP.replace("'self'", "'self' https://portal.proabono.com")
    );
    for (restrict, page_csp, expected) in [
        (false, Some(DEFAULT_PAGE_CSP), vec![with_page.clone()]),
        (true, Some(DEFAULT_PAGE_CSP), vec![with_page, own.clone()]),
        (false, None, vec![]),
        (true, None, vec![own.clone()]),
        (
            false,
            Some("frame-ancestors 'self'"),
            vec!["frame-ancestors 'self'".to_owned()],
        ),
        (
            true,
            Some("frame-ancestors 'self'"),
            vec!["frame-ancestors 'self'".to_owned(), own.clone()],
        ),
    ] {
        let (csp, html) = policies(narrowed(restrict, page_csp), "/Subscriptions").await;
        assert_eq!(
            csp, expected,
            "restrict_frames {restrict}, page {page_csp:?}"
        );
        assert_eq!(iframe_src(&html), DEFAULT_FALLBACK);
        // The link the narrowed list refuses shows the fallback too.
        let (_, html) = policies(
            narrowed(restrict, page_csp),
            "/Subscriptions?crylk=https%3a%2f%2fdemo-eur.proabono.com%2fportal-anon",
        )
        .await;
        assert_eq!(iframe_src(&html), DEFAULT_FALLBACK);
        assert_eq!(
            source_line(&html),
            "Portal link: fallback (refused: the portal link&#39;s host is not allowed)"
        );
    }
}

#[tokio::test]
async fn the_page_s_own_script_is_served_from_its_origin() {
    let res = demo()
        .oneshot(Request::get(PAGE_JS_PATH).body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        res.headers()[CONTENT_TYPE],
        "text/javascript; charset=utf-8"
    );
    let body = to_bytes(res.into_body(), 1 << 16).await.unwrap();
    let script = String::from_utf8(body.to_vec()).unwrap();
    assert!(script.contains("window.pageScript"), "{script}");
    // Every page loads it, in the head.
    for uri in [
        "/Subscriptions".to_owned(),
        format!("/Subscriptions?crylk={GUIDE_CRYLK}"),
        format!("/Subscriptions?pa_query={IN_SITE_QUERY}"),
    ] {
        let (_, _, html) = page(demo(), &uri).await;
        assert!(html.find(PAGE_JS_TAG) < html.find("</head>"), "{html}");
    }
}

#[tokio::test]
async fn other_paths_are_not_found_and_get_no_portal_policy() {
    let res = demo()
        .oneshot(Request::get("/?pa_query=x").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    assert!(res.headers().get(CONTENT_SECURITY_POLICY).is_none());
}
