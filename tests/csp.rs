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

/// What a browser decides, modelled closely enough to check the rules
/// rather than the strings: CSP Level 3's directive fallbacks and source
/// matching for frames, script elements (by URL, or inline by nonce or
/// hash) and workers, on a page at `http://127.0.0.1:3000`.
mod browser_model {
    use url::Url;

    pub const PAGE: &str = "http://127.0.0.1:3000/Subscriptions";

    #[derive(Clone, Copy, Debug)]
    pub enum Probe {
        Frame(&'static str),
        Script(&'static str),
        /// An inline script that a list allows with this source
        /// (`'nonce-…'` or `'sha256-…'`).
        Inline(&'static str),
        Worker(&'static str),
    }

    impl Probe {
        fn directives(self) -> &'static [&'static str] {
            match self {
                Probe::Frame(_) => &["frame-src", "child-src", "default-src"],
                Probe::Script(_) | Probe::Inline(_) => {
                    &["script-src-elem", "script-src", "default-src"]
                }
                Probe::Worker(_) => &["worker-src", "child-src", "script-src", "default-src"],
            }
        }
    }

    /// The directive that governs `probe` in `policy`, if one does: its
    /// name as `probe` knows it, and its sources.
    pub fn governing(policy: &str, probe: Probe) -> Option<(&'static str, Vec<String>)> {
        let directives: Vec<Vec<String>> = policy
            .split(';')
            .map(|d| d.split_ascii_whitespace().map(str::to_owned).collect())
            .filter(|d: &Vec<String>| !d.is_empty())
            .collect();
        probe.directives().iter().find_map(|name| {
            directives
                .iter()
                .find(|d| d[0].eq_ignore_ascii_case(name))
                .map(|d| (*name, d[1..].to_vec()))
        })
    }

    /// Whether one policy (one of a comma-joined list, already split)
    /// allows `probe`.
    pub fn allows(policy: &str, probe: Probe) -> bool {
        let Some((_, list)) = governing(policy, probe) else {
            return true;
        };
        let lower: Vec<String> = list.iter().map(|s| s.to_ascii_lowercase()).collect();
        let has = |k: &str| lower.iter().any(|s| s == k);
        let nonce_or_hash = |s: &String| {
            ["'nonce-", "'sha256-", "'sha384-", "'sha512-"]
                .iter()
                .any(|p| s.starts_with(p))
        };
        match probe {
            Probe::Inline(source) => {
                list.iter().any(|s| {
                    let (p, v) = s.split_at(s.find('-').map_or(0, |i| i + 1));
                    let (q, w) = source.split_at(source.find('-').unwrap() + 1);
                    p.eq_ignore_ascii_case(q) && v == w
                }) || (has("'unsafe-inline'")
                    && !has("'strict-dynamic'")
                    && !lower.iter().any(nonce_or_hash))
            }
            Probe::Script(url) if has("'strict-dynamic'") => {
                // Host sources, `'self'` and schemes are ignored; the probe
                // carries no nonce.
                let _ = url;
                false
            }
            Probe::Frame(url) | Probe::Script(url) | Probe::Worker(url) => {
                let url = Url::parse(url).unwrap();
                lower.iter().any(|s| url_matches(s, &url))
            }
        }
    }

    static PAGE_URL: std::sync::LazyLock<Url> =
        std::sync::LazyLock::new(|| Url::parse(PAGE).unwrap());

    fn url_matches(source: &str, url: &Url) -> bool {
        let page = &*PAGE_URL;
        let scheme_ok =
            |scheme: &str| scheme == url.scheme() || (scheme == "http" && url.scheme() == "https");
        if source == "'self'" {
            return url.origin() == page.origin();
        }
        if source.starts_with('\'') {
            return false;
        }
        if source == "*" {
            return matches!(url.scheme(), "http" | "https");
        }
        if let Some(scheme) = source.strip_suffix(':') {
            return scheme_ok(scheme);
        }
        let (scheme, rest) = match source.split_once("://") {
            Some((scheme, rest)) => (Some(scheme), rest),
            None => (None, source),
        };
        if !scheme_ok(scheme.unwrap_or(page.scheme())) {
            return false;
        }
        let authority = rest.split('/').next().unwrap();
        let (host, port) = match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        let url_host = url.host_str().unwrap();
        let host_ok = match host.strip_prefix("*.") {
            Some(suffix) => url_host.ends_with(&format!(".{suffix}")),
            None => host == "*" || host == url_host,
        };
        let url_port = url.port_or_known_default().unwrap();
        let port_ok = match port {
            Some("*") => true,
            Some(p) => p.parse() == Ok(url_port),
            None => Some(url_port) == default_port(scheme.unwrap_or(url.scheme())),
        };
        host_ok && port_ok
    }

    fn default_port(scheme: &str) -> Option<u16> {
        match scheme {
            "http" => Some(80),
            "https" => Some(443),
            _ => None,
        }
    }

    /// Whether every enforced policy of `fields` allows `probe`.
    pub fn all_allow(fields: &[String], probe: Probe) -> bool {
        fields
            .iter()
            .flat_map(|f| f.split(','))
            .all(|policy| allows(policy, probe))
    }
}

/// Page policies built from every combination of the directives that
/// govern frames, scripts and workers.
fn generated_policies() -> Vec<Vec<String>> {
    let options: [(&str, &[&str]); 6] = [
        (
            "default-src",
            &["'self'", "'none'", "https:", "'self' 'unsafe-inline'", "*"],
        ),
        (
            "frame-src",
            &["'self'", "'none'", "https://www.youtube.com"],
        ),
        ("child-src", &["'self'", "https://www.youtube.com"]),
        (
            "script-src",
            &[
                "'self'",
                "'none'",
                "'self' 'unsafe-inline'",
                "'nonce-cGFnZQ' 'strict-dynamic'",
                "https://cdn.example.com",
            ],
        ),
        ("script-src-elem", &["'self'"]),
        ("worker-src", &["'self'"]),
    ];
    let mut policies = vec![String::new()];
    for (name, values) in options {
        let mut next = Vec::new();
        for policy in &policies {
            next.push(policy.clone());
            for value in values {
                let sep = if policy.is_empty() { "" } else { "; " };
                next.push(format!("{policy}{sep}{name} {value}"));
            }
        }
        policies = next;
    }
    let mut out: Vec<Vec<String>> = Vec::new();
    for (i, policy) in policies.iter().enumerate() {
        let policy = if policy.is_empty() {
            "frame-ancestors 'self'".to_owned()
        } else {
            policy.clone()
        };
        out.push(vec![policy.clone()]);
        // Every seventh, beside another: as two fields, and comma-joined.
        if i % 7 == 0 {
            let other = &policies[(i * 31 + 11) % policies.len()];
            if !other.is_empty() {
                out.push(vec![policy.clone(), other.clone()]);
                out.push(vec![format!("{policy}, {other}")]);
            }
        }
    }
    out.push(Vec::new());
    out
}

/// The rules, checked as a browser would apply them, over every generated
/// page policy and option combination: the page keeps everything it
/// allowed (frames outside the layer's sources excepted, with
/// `restrict_frames`), gains nothing but the layer's sources, and allows
/// those; with `restrict_frames`, no other frame loads.
#[test]
fn the_rules_hold_as_a_browser_applies_them() {
    use browser_model::{all_allow, governing, Probe};

    const OURS_FRAMES: [Probe; 2] = [
        Probe::Frame("https://mon-app.via.proabono.com/subscribe-offer/T0k"),
        Probe::Frame("https://demo-eur.proabono.com/portal-anon"),
    ];
    const PORTAL_JS: Probe = Probe::Script("https://portal.proabono.com/Get/portal.js");
    const OUR_INLINE: Probe = Probe::Inline("'nonce-bm9uY2U'");
    const PORTAL_WORKER: Probe = Probe::Worker("https://portal.proabono.com/worker.js");
    const OTHERS: [Probe; 12] = [
        Probe::Frame("http://127.0.0.1:3000/own-frame"),
        Probe::Frame("https://www.youtube.com/embed/x"),
        Probe::Frame("https://evil.example/"),
        Probe::Frame("https://other.proabono.com/"),
        Probe::Script("http://127.0.0.1:3000/static/page.js"),
        Probe::Script("https://cdn.example.com/x.js"),
        Probe::Script("https://evil.example/x.js"),
        Probe::Inline("'nonce-cGFnZQ'"),
        Probe::Inline("'sha256-b3RoZXI='"),
        Probe::Worker("http://127.0.0.1:3000/worker.js"),
        Probe::Worker("https://cdn.example.com/worker.js"),
        Probe::Worker("https://evil.example/worker.js"),
    ];

    let mut checked = 0;
    for page in generated_policies() {
        for in_site in [false, true] {
            for restrict in [false, true] {
                let mut csp = links().csp().fallback(HOSTED_HOME);
                if in_site {
                    csp = csp.in_site();
                }
                let csp = csp.restrict_frames(restrict);
                let mut headers = http::HeaderMap::new();
                for field in &page {
                    headers.append(CONTENT_SECURITY_POLICY, field.parse().unwrap());
                }
                let nonce = InlineScript::nonce(NONCE).unwrap();
                csp.merge_into(&mut headers, in_site.then_some(&nonce));
                let after: Vec<String> = headers
                    .get_all(CONTENT_SECURITY_POLICY)
                    .iter()
                    .map(|v| v.to_str().unwrap().to_owned())
                    .collect();
                let case =
                    format!("{page:?} -> {after:?} (in_site {in_site}, restrict {restrict})");

                // The layer's sources are allowed.
                for probe in OURS_FRAMES {
                    assert!(all_allow(&after, probe), "{probe:?} blocked: {case}");
                }
                if in_site {
                    assert!(all_allow(&after, OUR_INLINE), "inline call blocked: {case}");
                    let strict_dynamic = page.iter().flat_map(|f| f.split(',')).any(|p| {
                        governing(p, PORTAL_JS)
                            .is_some_and(|(_, l)| l.iter().any(|s| s == "'strict-dynamic'"))
                    });
                    if !strict_dynamic {
                        assert!(all_allow(&after, PORTAL_JS), "portal.js blocked: {case}");
                    }
                }
                // What the page allowed stays allowed, and nothing else
                // is: with `restrict_frames`, frames outside the layer's
                // sources are refused instead.
                for probe in OTHERS {
                    let before = all_allow(&page, probe);
                    let now = all_allow(&after, probe);
                    if restrict && matches!(probe, Probe::Frame(_)) {
                        assert!(!now, "{probe:?} allowed: {case}");
                    } else {
                        assert_eq!(before, now, "{probe:?}: {case}");
                    }
                }
                // Workers from portal.js's origin: only where an existing
                // `script-src` governs workers does it let them (and a
                // worker must be same-origin anyway); a `script-src` made
                // from `default-src` leaves them as they were.
                let script_src_governs_workers = page.iter().flat_map(|f| f.split(',')).any(|p| {
                    governing(p, PORTAL_WORKER).is_some_and(|(name, _)| name == "script-src")
                });
                if !script_src_governs_workers {
                    assert_eq!(
                        all_allow(&page, PORTAL_WORKER),
                        all_allow(&after, PORTAL_WORKER),
                        "{case}"
                    );
                }
                // The layer's sources it was not asked for are not added.
                if !in_site {
                    assert_eq!(
                        all_allow(&page, PORTAL_JS),
                        all_allow(&after, PORTAL_JS),
                        "{case}"
                    );
                    assert_eq!(
                        all_allow(&page, OUR_INLINE),
                        all_allow(&after, OUR_INLINE),
                        "{case}"
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked > 4000, "{checked}");
}

/// `fallback` takes a URL, not a source expression: a host that a CSP
/// source would read as a wildcard, or that names no host exactly, is
/// refused with its reason, and the layer keeps frames restricted to what
/// it was given.
#[tokio::test]
async fn a_fallback_never_widens_the_frames_it_restricts() {
    use tower_portal_link::csp::InvalidCspSourceKind::{self, *};

    let refused: [(&str, InvalidCspSourceKind); 9] = [
        ("https://*/", Wildcard),
        ("https://*.example.com/portal", Wildcard),
        ("https://*.proabono.com/portal-anon", Wildcard),
        ("https://demo-eur.proabono.com./portal-anon", TrailingDot),
        ("https://demo-eur..proabono.com/", EmptyLabel),
        ("https://-demo.proabono.com/", Hyphen),
        ("https://demo-.proabono.com/", Hyphen),
        ("https://[::1]:3000/", Host),
        ("https://xn--a.example/", Host),
    ];
    for (url, kind) in refused {
        let err = links().csp().try_fallback(url).unwrap_err();
        assert_eq!(err.kind(), kind, "{url}: {err}");
        let panicked = std::panic::catch_unwind(|| links().csp().fallback(url));
        assert!(panicked.is_err(), "{url}");
    }
    // What goes out is the allowed origin alone, never a wildcard.
    let res = respond(links().csp().restrict_frames(true), &[], None).await;
    assert_eq!(
        values(&res, CONTENT_SECURITY_POLICY),
        ["frame-src https://mon-app.via.proabono.com"]
    );
}
