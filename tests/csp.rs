//! `PortalCspLayer` over every kind of page: no policy, a policy that
//! restricts frames or scripts, a policy with other directives only, and
//! stricter, weaker, several, comma-joined, report-only and unreadable
//! ones; for each option combination. Then what it does on an axum route.

use std::convert::Infallible;

use axum::body::Body;
use axum::response::Html;
use axum::routing::get;
use axum::{Extension, Router};
use http::header::{CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY_REPORT_ONLY};
use http::{HeaderName, HeaderValue, Request, Response};
use tower::{service_fn, ServiceBuilder, ServiceExt};
use tower_portal_link::{InlineScript, PortalCspLayer, PortalLinkLayer};

/// A narrowed list of allowed origins, and a fallback on another ProAbono
/// host: the case the layer used to get wrong.
const ALLOWED: &str = "https://mon-app.via.proabono.com";
const HOSTED_HOME: &str = "https://demo-eur.proabono.com/portal-anon?lang=fr";
/// Every frame source: the allowed origin, then the fallback's.
const F: &str = "https://mon-app.via.proabono.com https://demo-eur.proabono.com";
/// The layer's own policy, with `restrict_frames(true)`.
const OWN: &str = "frame-src https://mon-app.via.proabono.com https://demo-eur.proabono.com";
const NONCE: &str = "bm9uY2U";
/// Every script source of the In-Site configuration with its nonce.
const S: &str = "https://portal.proabono.com 'nonce-bm9uY2U'";

fn links() -> PortalLinkLayer {
    PortalLinkLayer::new().allowed_origins([ALLOWED])
}

/// One response through `layer`, from a handler that sets `headers` (raw
/// bytes, so that unreadable values can be sent) and inserts `inline`.
async fn respond(
    layer: PortalCspLayer,
    headers: &[(HeaderName, &'static [u8])],
    inline: Option<InlineScript>,
) -> Response<String> {
    let headers = headers.to_vec();
    let svc = ServiceBuilder::new()
        .layer(layer)
        .service(service_fn(move |_req: Request<()>| {
            let headers = headers.clone();
            let inline = inline.clone();
            async move {
                let mut res = Response::new("page".to_owned());
                for (name, value) in headers {
                    res.headers_mut()
                        .append(name, HeaderValue::from_bytes(value).unwrap());
                }
                if let Some(inline) = inline {
                    res.extensions_mut().insert(inline);
                }
                Ok::<_, Infallible>(res)
            }
        }));
    svc.oneshot(Request::new(())).await.unwrap()
}

fn raw<B>(res: &Response<B>, name: &HeaderName) -> Vec<Vec<u8>> {
    res.headers()
        .get_all(name)
        .iter()
        .map(|v| v.as_bytes().to_vec())
        .collect()
}

fn values<B>(res: &Response<B>, name: HeaderName) -> Vec<&str> {
    res.headers()
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect()
}

/// One page state: the policy fields it sends, and what they become with
/// frames only (`links().csp().fallback(HOSTED_HOME)`) and with In-Site
/// and the response's nonce (`.in_site()` too).
struct Row {
    name: &'static str,
    page: &'static [&'static [u8]],
    frames: &'static [&'static str],
    in_site: &'static [&'static str],
}

/// Written with `{F}` for the frame sources and `{S}` for the In-Site
/// script sources.
const TABLE: &[Row] = &[
    // No policy: nothing restricts the portal, nothing is created.
    Row {
        name: "no policy",
        page: &[],
        frames: &[],
        in_site: &[],
    },
    // Other directives only: left as they are.
    Row {
        name: "frame-ancestors only",
        page: &[b"frame-ancestors 'self'"],
        frames: &["frame-ancestors 'self'"],
        in_site: &["frame-ancestors 'self'"],
    },
    Row {
        name: "unrelated directives",
        page: &[b"img-src *; style-src 'self'; report-to csp"],
        frames: &["img-src *; style-src 'self'; report-to csp"],
        in_site: &["img-src *; style-src 'self'; report-to csp"],
    },
    // Policies that restrict frames or scripts.
    Row {
        name: "default-src",
        page: &[b"default-src 'self'"],
        frames: &["default-src 'self'; frame-src 'self' {F}"],
        in_site: &["default-src 'self'; frame-src 'self' {F}; script-src 'self' {S}; worker-src 'self'"],
    },
    Row {
        name: "frame-src",
        page: &[b"frame-src 'self'"],
        frames: &["frame-src 'self' {F}"],
        in_site: &["frame-src 'self' {F}"],
    },
    Row {
        name: "script-src",
        page: &[b"script-src 'self'"],
        frames: &["script-src 'self'"],
        in_site: &["script-src 'self' {S}"],
    },
    Row {
        name: "child-src governs frames and workers",
        page: &[b"default-src 'self'; child-src https://www.youtube.com"],
        frames: &["default-src 'self'; child-src https://www.youtube.com; frame-src https://www.youtube.com {F}"],
        in_site: &["default-src 'self'; child-src https://www.youtube.com; frame-src https://www.youtube.com {F}; script-src 'self' {S}"],
    },
    Row {
        name: "worker-src kept",
        page: &[b"default-src 'self'; worker-src blob:"],
        frames: &["default-src 'self'; worker-src blob:; frame-src 'self' {F}"],
        in_site: &["default-src 'self'; worker-src blob:; frame-src 'self' {F}; script-src 'self' {S}"],
    },
    Row {
        name: "script-src-elem",
        page: &[b"script-src 'self'; script-src-elem 'self' https://cdn.example.com"],
        frames: &["script-src 'self'; script-src-elem 'self' https://cdn.example.com"],
        in_site: &["script-src 'self' {S}; script-src-elem 'self' https://cdn.example.com {S}"],
    },
    Row {
        name: "strict-dynamic",
        page: &[b"script-src 'nonce-cGFnZQ' 'strict-dynamic'"],
        frames: &["script-src 'nonce-cGFnZQ' 'strict-dynamic'"],
        in_site: &["script-src 'nonce-cGFnZQ' 'strict-dynamic' {S}"],
    },
    Row {
        name: "case and spacing",
        page: &[b"  Default-Src\t'SELF' ;; "],
        frames: &["  Default-Src\t'SELF'; frame-src 'SELF' {F}"],
        in_site: &["  Default-Src\t'SELF'; frame-src 'SELF' {F}; script-src 'SELF' {S}; worker-src 'SELF'"],
    },
    Row {
        name: "first directive wins",
        page: &[b"frame-src 'self'; frame-src 'none'"],
        frames: &["frame-src 'self' {F}; frame-src 'none'"],
        in_site: &["frame-src 'self' {F}; frame-src 'none'"],
    },
    // Stricter.
    Row {
        name: "default-src 'none'",
        page: &[b"default-src 'none'"],
        frames: &["default-src 'none'; frame-src {F}"],
        in_site: &["default-src 'none'; frame-src {F}; script-src {S}; worker-src 'none'"],
    },
    Row {
        name: "'none' and empty directives",
        page: &[b"frame-src 'NONE'; script-src"],
        frames: &["frame-src {F}; script-src"],
        in_site: &["frame-src {F}; script-src {S}"],
    },
    // Weaker.
    Row {
        name: "wildcards and unsafe-inline",
        page: &[b"frame-src *; script-src * 'unsafe-inline'"],
        frames: &["frame-src * {F}; script-src * 'unsafe-inline'"],
        in_site: &["frame-src * {F}; script-src * 'unsafe-inline' https://portal.proabono.com"],
    },
    Row {
        name: "already there, in another case",
        page: &[b"frame-src HTTPS://MON-APP.via.proabono.com https://demo-eur.proabono.com ;"],
        frames: &["frame-src HTTPS://MON-APP.via.proabono.com https://demo-eur.proabono.com ;"],
        in_site: &["frame-src HTTPS://MON-APP.via.proabono.com https://demo-eur.proabono.com ;"],
    },
    Row {
        name: "the layer's own policy, already there",
        page: &[b"frame-src https://mon-app.via.proabono.com https://demo-eur.proabono.com"],
        frames: &["frame-src {F}"],
        in_site: &["frame-src {F}"],
    },
    // Several fields, and several policies in one field.
    Row {
        name: "several fields",
        page: &[b"frame-src 'self'", b"img-src *", b"default-src https:"],
        frames: &["frame-src 'self' {F}", "img-src *", "default-src https:; frame-src https: {F}"],
        in_site: &["frame-src 'self' {F}", "img-src *", "default-src https:; frame-src https: {F}; script-src https: {S}; worker-src https:"],
    },
    Row {
        name: "comma-joined policies",
        page: &[b"frame-ancestors 'self', default-src 'none', script-src 'self'"],
        frames: &["frame-ancestors 'self', default-src 'none'; frame-src {F}, script-src 'self'"],
        in_site: &["frame-ancestors 'self', default-src 'none'; frame-src {F}; script-src {S}; worker-src 'none', script-src 'self' {S}"],
    },
    // Values the layer does not read.
    Row {
        name: "not visible ASCII",
        page: &[b"frame-src https://caf\xe9.example", b"default-src 'self'"],
        frames: &["frame-src https://caf\u{e9}.example", "default-src 'self'; frame-src 'self' {F}"],
        in_site: &["frame-src https://caf\u{e9}.example", "default-src 'self'; frame-src 'self' {F}; script-src 'self' {S}; worker-src 'self'"],
    },
    Row {
        name: "empty and unknown",
        page: &[b"", b"not-a-directive at all;;", b","],
        frames: &["", "not-a-directive at all;;", ","],
        in_site: &["", "not-a-directive at all;;", ","],
    },
];

fn fill(template: &str, in_site: bool) -> Vec<u8> {
    let s = if in_site {
        S
    } else {
        "https://portal.proabono.com"
    };
    // Latin-1, so that a row can write the byte 0xE9 as `é`.
    template
        .replace("{F}", F)
        .replace("{S}", s)
        .chars()
        .map(|c| u8::try_from(u32::from(c)).expect("Latin-1"))
        .collect()
}

/// The table, for every option combination: with and without In-Site (and
/// its nonce), `restrict_frames`, `report_only`, and the page's policies
/// sent as `Content-Security-Policy` or as report-only.
#[tokio::test]
async fn every_page_state_for_every_option_combination() {
    let mut checked = 0;
    for row in TABLE {
        for in_site in [false, true] {
            for restrict in [false, true] {
                for report_only in [false, true] {
                    for field in [CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY_REPORT_ONLY] {
                        let mut layer = links().csp().fallback(HOSTED_HOME);
                        if in_site {
                            layer = layer.in_site();
                        }
                        let layer = layer.restrict_frames(restrict).report_only(report_only);
                        let inline = in_site.then(|| InlineScript::nonce(NONCE).unwrap());
                        let page: Vec<(HeaderName, &'static [u8])> =
                            row.page.iter().map(|v| (field.clone(), *v)).collect();
                        let res = respond(layer, &page, inline).await;

                        let templates = if in_site { row.in_site } else { row.frames };
                        let widened: Vec<Vec<u8>> =
                            templates.iter().map(|t| fill(t, in_site)).collect();
                        let sent: Vec<Vec<u8>> = row.page.iter().map(|v| v.to_vec()).collect();
                        let own = OWN.as_bytes().to_vec();
                        let (mut csp, report) = if field == CONTENT_SECURITY_POLICY {
                            (widened, Vec::new())
                        } else if report_only {
                            (Vec::new(), widened)
                        } else {
                            (Vec::new(), sent)
                        };
                        if restrict && !csp.contains(&own) {
                            csp.push(own);
                        }
                        let case = format!(
                            "{}: in_site {in_site}, restrict_frames {restrict}, report_only {report_only}, in {field}",
                            row.name
                        );
                        assert_eq!(
                            show(&raw(&res, &CONTENT_SECURITY_POLICY)),
                            show(&csp),
                            "{case}: Content-Security-Policy"
                        );
                        assert_eq!(
                            show(&raw(&res, &CONTENT_SECURITY_POLICY_REPORT_ONLY)),
                            show(&report),
                            "{case}: Content-Security-Policy-Report-Only"
                        );
                        assert_eq!(res.body(), "page");
                        checked += 1;
                    }
                }
            }
        }
    }
    assert_eq!(checked, TABLE.len() * 16);
}

fn show(values: &[Vec<u8>]) -> Vec<String> {
    values
        .iter()
        .map(|v| v.iter().map(|&b| char::from(b)).collect())
        .collect()
}

#[tokio::test]
async fn the_defence_refuses_every_frame_when_there_is_no_source() {
    // An empty list of allowed origins, and nothing else: `'none'`.
    let none = PortalLinkLayer::new().allowed_origins(Vec::<String>::new());
    let res = respond(none.csp().restrict_frames(true), &[], None).await;
    assert_eq!(values(&res, CONTENT_SECURITY_POLICY), ["frame-src 'none'"]);
    // The page's own `frame-src` keeps its own sources; the layer adds
    // none to it, and its own policy refuses every frame.
    let res = respond(
        none.csp().restrict_frames(true),
        &[(CONTENT_SECURITY_POLICY, b"frame-src 'self'")],
        None,
    )
    .await;
    assert_eq!(
        values(&res, CONTENT_SECURITY_POLICY),
        ["frame-src 'self'", "frame-src 'none'"]
    );
    // The fallback alone, then.
    let res = respond(
        none.csp().fallback(HOSTED_HOME).restrict_frames(true),
        &[(CONTENT_SECURITY_POLICY, b"default-src 'none'")],
        None,
    )
    .await;
    assert_eq!(
        values(&res, CONTENT_SECURITY_POLICY),
        [
            "default-src 'none'; frame-src https://demo-eur.proabono.com",
            "frame-src https://demo-eur.proabono.com",
        ]
    );
    // Without the option, an empty list adds nothing anywhere.
    let res = respond(
        none.csp(),
        &[(CONTENT_SECURITY_POLICY, b"frame-src 'none'")],
        None,
    )
    .await;
    assert_eq!(values(&res, CONTENT_SECURITY_POLICY), ["frame-src 'none'"]);
}

#[tokio::test]
async fn the_page_s_other_frame_sources_reach_every_place_frames_are_allowed() {
    let csp = links()
        .csp()
        .frame_src(["https://www.youtube-nocookie.com"])
        .fallback(HOSTED_HOME)
        .frame_src(["'self'", "https://www.youtube-nocookie.com"])
        .restrict_frames(true);
    let all = "https://mon-app.via.proabono.com https://www.youtube-nocookie.com \
               https://demo-eur.proabono.com 'self'";
    let res = respond(
        csp.clone(),
        &[(CONTENT_SECURITY_POLICY, b"default-src 'none'")],
        None,
    )
    .await;
    assert_eq!(
        values(&res, CONTENT_SECURITY_POLICY),
        [
            format!("default-src 'none'; frame-src {all}"),
            format!("frame-src {all}"),
        ]
    );
    let res = respond(csp, &[], None).await;
    assert_eq!(
        values(&res, CONTENT_SECURITY_POLICY),
        [format!("frame-src {all}")]
    );
}

#[test]
fn csp_is_the_allowed_origins_as_frame_sources() {
    let headers = |csp: &PortalCspLayer| {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            CONTENT_SECURITY_POLICY,
            "default-src 'none'".parse().unwrap(),
        );
        csp.clone()
            .restrict_frames(true)
            .merge_into(&mut headers, None);
        headers
    };
    for layer in [
        PortalLinkLayer::new(),
        links(),
        PortalLinkLayer::new().allowed_origins(["https://*.Example.com", "http://localhost:8080"]),
    ] {
        let origins: Vec<String> = layer
            .frame_src()
            .split_whitespace()
            .skip(1)
            .map(str::to_owned)
            .collect();
        assert_eq!(
            headers(&layer.csp()),
            headers(&PortalCspLayer::new().frame_src(&origins)),
            "{origins:?}"
        );
    }
}

#[tokio::test]
async fn report_only_is_widened_when_asked_and_never_created() {
    let headers: [(HeaderName, &'static [u8]); 2] = [
        (CONTENT_SECURITY_POLICY, b"frame-src 'self'"),
        (
            CONTENT_SECURITY_POLICY_REPORT_ONLY,
            b"default-src 'none'; report-to csp",
        ),
    ];
    let res = respond(links().csp(), &headers, None).await;
    assert_eq!(
        values(&res, CONTENT_SECURITY_POLICY_REPORT_ONLY),
        ["default-src 'none'; report-to csp"],
        "off by default",
    );

    let res = respond(
        links().csp().report_only(true).restrict_frames(true),
        &headers,
        None,
    )
    .await;
    assert_eq!(
        values(&res, CONTENT_SECURITY_POLICY_REPORT_ONLY),
        [format!(
            "default-src 'none'; report-to csp; frame-src {ALLOWED}"
        )]
    );
    assert_eq!(
        values(&res, CONTENT_SECURITY_POLICY),
        [
            format!("frame-src 'self' {ALLOWED}"),
            format!("frame-src {ALLOWED}")
        ]
    );

    let res = respond(links().csp().report_only(true), &[], None).await;
    assert!(values(&res, CONTENT_SECURITY_POLICY_REPORT_ONLY).is_empty());
    assert!(values(&res, CONTENT_SECURITY_POLICY).is_empty());
}

#[tokio::test]
async fn without_the_extension_only_the_configured_sources_are_added() {
    let res = respond(
        links().csp().in_site(),
        &[(CONTENT_SECURITY_POLICY, b"script-src 'self'")],
        None,
    )
    .await;
    assert_eq!(
        values(&res, CONTENT_SECURITY_POLICY),
        ["script-src 'self' https://portal.proabono.com"]
    );
    // A nonce beside `'unsafe-inline'` that is already off is added.
    for list in [
        "'unsafe-inline' 'nonce-b2xk'",
        "'unsafe-inline' 'strict-dynamic'",
    ] {
        let page: &'static [u8] =
            Box::leak(format!("script-src {list}").into_bytes().into_boxed_slice());
        let res = respond(
            links().csp().in_site(),
            &[(CONTENT_SECURITY_POLICY, page)],
            Some(InlineScript::nonce(NONCE).unwrap()),
        )
        .await;
        assert_eq!(
            values(&res, CONTENT_SECURITY_POLICY),
            [format!("script-src {list} {S}")]
        );
    }
}

/// The hash of the inline call, computed independently:
/// `printf '%s' "$SCRIPT" | openssl dgst -sha256 -binary | base64`, and
/// Python's `base64.b64encode(hashlib.sha256(script.encode()).digest())`.
#[cfg(feature = "in-site")]
#[tokio::test]
async fn the_handlers_hash_goes_to_script_src() {
    const SCRIPT: &str =
        "\n  ProAbonoPortal.open({ business_id: 42, segment_ref: \"demo-eur\", query: \"Q\" });\n";
    const HASH: &str = "'sha256-TOCql2HrzUrKntWNNVoeaoeoL9zCSuBKR1TDx/2RP+g='";
    assert_eq!(InlineScript::sha256(SCRIPT).as_str(), HASH);

    let res = respond(
        links().csp().in_site(),
        &[(CONTENT_SECURITY_POLICY, b"default-src 'self'")],
        Some(InlineScript::sha256(SCRIPT)),
    )
    .await;
    assert_eq!(
        values(&res, CONTENT_SECURITY_POLICY),
        [format!(
            "default-src 'self'; frame-src 'self' {ALLOWED}; \
             script-src 'self' https://portal.proabono.com {HASH}; worker-src 'self'"
        )]
    );
}

const PORTAL_LIST: &str = "https://proabono.com https://*.proabono.com";

/// The page's route has the layer; the rest of the application does not.
fn app() -> Router {
    async fn billing() -> (Extension<InlineScript>, Html<&'static str>) {
        let nonce = InlineScript::nonce("YXh1bS1yb3V0ZQ").unwrap();
        (
            Extension(nonce),
            Html(r#"<script nonce="YXh1bS1yb3V0ZQ">ProAbonoPortal.open({});</script>"#),
        )
    }
    async fn own_policy() -> ([(HeaderName, &'static str); 1], &'static str) {
        (
            [(CONTENT_SECURITY_POLICY, "default-src 'self'")],
            "settings",
        )
    }
    Router::new()
        .route(
            "/billing",
            get(billing).layer(PortalLinkLayer::new().csp().in_site().restrict_frames(true)),
        )
        .route(
            "/settings",
            get(own_policy).layer(PortalLinkLayer::new().csp()),
        )
        .route("/health", get(|| async { "ok" }))
        .route("/other", get(own_policy))
}

async fn get_from_app(path: &str) -> Response<Body> {
    app()
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn only_the_routes_with_the_layer_get_the_portal() {
    // No policy of the page's: only the layer's own, for frames; its
    // scripts stay allowed.
    let res = get_from_app("/billing").await;
    assert_eq!(
        values(&res, CONTENT_SECURITY_POLICY),
        [format!("frame-src {PORTAL_LIST}")]
    );

    let res = get_from_app("/settings").await;
    assert_eq!(
        values(&res, CONTENT_SECURITY_POLICY),
        [format!(
            "default-src 'self'; frame-src 'self' {PORTAL_LIST}"
        )]
    );

    let res = get_from_app("/health").await;
    assert!(values(&res, CONTENT_SECURITY_POLICY).is_empty());
    let res = get_from_app("/other").await;
    assert_eq!(
        values(&res, CONTENT_SECURITY_POLICY),
        ["default-src 'self'"]
    );
}

/// An application policy set by a layer inside this one, on the route, is
/// merged into; the same layer outside it would see the merged policy.
#[tokio::test]
async fn an_application_policy_inside_the_layer_is_merged_into() {
    async fn set_policy(mut res: axum::response::Response) -> axum::response::Response {
        res.headers_mut()
            .entry(CONTENT_SECURITY_POLICY)
            .or_insert("default-src 'self'".parse().unwrap());
        res
    }
    let app: Router = Router::new()
        .route(
            "/billing",
            get(|| async { "billing" }).layer(
                ServiceBuilder::new()
                    .layer(PortalLinkLayer::new().csp())
                    .layer(axum::middleware::map_response(set_policy)),
            ),
        )
        .layer(axum::middleware::map_response(set_policy));
    let res = app
        .oneshot(Request::get("/billing").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(
        values(&res, CONTENT_SECURITY_POLICY),
        [format!(
            "default-src 'self'; frame-src 'self' {PORTAL_LIST}"
        )]
    );
}
