//! `PortalCspLayer` merges the portal's sources into the policies a
//! response already has, on the routes it is put on, and nowhere else.

use std::convert::Infallible;

use axum::body::Body;
use axum::response::Html;
use axum::routing::get;
use axum::{Extension, Router};
use http::header::{CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY_REPORT_ONLY};
use http::{HeaderName, Request, Response};
use tower::{service_fn, ServiceBuilder, ServiceExt};
use tower_portal_link::{InlineScript, PortalCspLayer};

const PORTAL: [&str; 2] = ["https://proabono.com", "https://*.proabono.com"];
const PORTAL_LIST: &str = "https://proabono.com https://*.proabono.com";

fn frames() -> PortalCspLayer {
    PortalCspLayer::frame_src(PORTAL)
}

/// One response through `layer`, from a handler that sets `headers` and
/// inserts `inline`.
async fn respond(
    layer: PortalCspLayer,
    headers: &[(HeaderName, &'static str)],
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
                    res.headers_mut().append(name, value.parse().unwrap());
                }
                if let Some(inline) = inline {
                    res.extensions_mut().insert(inline);
                }
                Ok::<_, Infallible>(res)
            }
        }));
    svc.oneshot(Request::new(())).await.unwrap()
}

fn values<B>(res: &Response<B>, name: HeaderName) -> Vec<&str> {
    res.headers()
        .get_all(name)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect()
}

#[tokio::test]
async fn absent_header_gets_the_portal_directives_alone() {
    let res = respond(frames(), &[], None).await;
    assert_eq!(
        values(&res, CONTENT_SECURITY_POLICY),
        [format!("frame-src {PORTAL_LIST}")]
    );
    assert_eq!(res.body(), "page");

    let res = respond(
        frames().in_site(),
        &[],
        Some(InlineScript::nonce("bm9uY2U").unwrap()),
    )
    .await;
    assert_eq!(
        values(&res, CONTENT_SECURITY_POLICY),
        [format!(
            "frame-src {PORTAL_LIST}; script-src https://portal.proabono.com 'nonce-bm9uY2U'"
        )]
    );
}

#[tokio::test]
async fn existing_header_without_the_directive_gets_it_appended() {
    let res = respond(
        frames(),
        &[(
            CONTENT_SECURITY_POLICY,
            "frame-ancestors 'none'; child-src 'self'",
        )],
        None,
    )
    .await;
    assert_eq!(
        values(&res, CONTENT_SECURITY_POLICY),
        [format!(
            "frame-ancestors 'none'; child-src 'self'; frame-src 'self' {PORTAL_LIST}"
        )]
    );
}

#[tokio::test]
async fn a_policy_that_does_not_restrict_frames_is_left_as_it_is() {
    let policy = "frame-ancestors 'none'; img-src 'self'";
    let res = respond(frames(), &[(CONTENT_SECURITY_POLICY, policy)], None).await;
    assert_eq!(values(&res, CONTENT_SECURITY_POLICY), [policy]);
}

#[tokio::test]
async fn default_src_only_is_copied_into_the_new_directive() {
    let res = respond(
        frames().in_site(),
        &[(
            CONTENT_SECURITY_POLICY,
            "default-src 'self' https://cdn.example.com",
        )],
        None,
    )
    .await;
    assert_eq!(
        values(&res, CONTENT_SECURITY_POLICY),
        [format!(
            "default-src 'self' https://cdn.example.com; \
             frame-src 'self' https://cdn.example.com {PORTAL_LIST}; \
             script-src 'self' https://cdn.example.com https://portal.proabono.com"
        )]
    );
}

#[tokio::test]
async fn existing_directive_gets_the_missing_sources_once() {
    let res = respond(
        frames(),
        &[(
            CONTENT_SECURITY_POLICY,
            "default-src 'self'; frame-src https://www.youtube.com https://proabono.com; img-src *",
        )],
        None,
    )
    .await;
    assert_eq!(
        values(&res, CONTENT_SECURITY_POLICY),
        ["default-src 'self'; frame-src https://www.youtube.com https://proabono.com https://*.proabono.com; img-src *"]
    );

    // Already all there: not a byte changes.
    let policy = "frame-src https://*.proabono.com  https://ProAbono.com ;";
    let res = respond(frames(), &[(CONTENT_SECURITY_POLICY, policy)], None).await;
    assert_eq!(values(&res, CONTENT_SECURITY_POLICY), [policy]);
}

#[tokio::test]
async fn none_is_replaced_by_the_portal_sources() {
    let res = respond(
        frames().in_site(),
        &[(
            CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-src 'none'; script-src 'none'",
        )],
        Some(InlineScript::nonce("bm9uY2U").unwrap()),
    )
    .await;
    assert_eq!(
        values(&res, CONTENT_SECURITY_POLICY),
        [format!(
            "default-src 'none'; frame-src {PORTAL_LIST}; \
             script-src https://portal.proabono.com 'nonce-bm9uY2U'"
        )]
    );
}

#[tokio::test]
async fn every_policy_is_widened_on_its_own() {
    let res = respond(
        frames(),
        &[
            (CONTENT_SECURITY_POLICY, "frame-src 'self'"),
            (
                CONTENT_SECURITY_POLICY,
                "default-src https:, frame-src 'none'",
            ),
        ],
        None,
    )
    .await;
    assert_eq!(
        values(&res, CONTENT_SECURITY_POLICY),
        [
            format!("frame-src 'self' {PORTAL_LIST}"),
            format!("default-src https:; frame-src https: {PORTAL_LIST}, frame-src {PORTAL_LIST}"),
        ]
    );
}

#[tokio::test]
async fn report_only_is_widened_when_asked_and_never_created() {
    let headers = [
        (CONTENT_SECURITY_POLICY, "frame-src 'self'"),
        (
            CONTENT_SECURITY_POLICY_REPORT_ONLY,
            "default-src 'none'; report-to csp",
        ),
    ];
    let res = respond(frames(), &headers, None).await;
    assert_eq!(
        values(&res, CONTENT_SECURITY_POLICY_REPORT_ONLY),
        ["default-src 'none'; report-to csp"],
        "off by default",
    );

    let res = respond(frames().report_only(true), &headers, None).await;
    assert_eq!(
        values(&res, CONTENT_SECURITY_POLICY_REPORT_ONLY),
        [format!(
            "default-src 'none'; report-to csp; frame-src {PORTAL_LIST}"
        )]
    );
    assert_eq!(
        values(&res, CONTENT_SECURITY_POLICY),
        [format!("frame-src 'self' {PORTAL_LIST}")]
    );

    let res = respond(frames().report_only(true), &[], None).await;
    assert!(values(&res, CONTENT_SECURITY_POLICY_REPORT_ONLY).is_empty());
}

#[tokio::test]
async fn a_value_that_is_not_visible_ascii_is_left_untouched() {
    let svc =
        ServiceBuilder::new()
            .layer(frames())
            .service(service_fn(|_req: Request<()>| async {
                let res = Response::builder()
                    .header(
                        CONTENT_SECURITY_POLICY,
                        &b"frame-src https://caf\xe9.example"[..],
                    )
                    .body(())
                    .unwrap();
                Ok::<_, Infallible>(res)
            }));
    let res = svc.oneshot(Request::new(())).await.unwrap();
    let raw: Vec<&[u8]> = res
        .headers()
        .get_all(CONTENT_SECURITY_POLICY)
        .iter()
        .map(|v| v.as_bytes())
        .collect();
    assert_eq!(raw, [&b"frame-src https://caf\xe9.example"[..]]);
}

#[tokio::test]
async fn the_handlers_nonce_goes_to_script_src() {
    let nonce = InlineScript::nonce("cGVyLXJlc3BvbnNl").unwrap();
    let res = respond(
        frames().in_site(),
        &[(
            CONTENT_SECURITY_POLICY,
            "script-src 'self'; script-src-elem 'self'",
        )],
        Some(nonce),
    )
    .await;
    assert_eq!(
        values(&res, CONTENT_SECURITY_POLICY),
        [
            "script-src 'self' https://portal.proabono.com 'nonce-cGVyLXJlc3BvbnNl'; \
          script-src-elem 'self' https://portal.proabono.com 'nonce-cGVyLXJlc3BvbnNl'"
        ]
    );

    // Without the extension, only the configured host is added.
    let res = respond(
        frames().in_site(),
        &[(CONTENT_SECURITY_POLICY, "script-src 'self'")],
        None,
    )
    .await;
    assert_eq!(
        values(&res, CONTENT_SECURITY_POLICY),
        ["script-src 'self' https://portal.proabono.com"]
    );
}

#[tokio::test]
async fn unsafe_inline_stays_in_force() {
    let policy = "script-src 'self' 'unsafe-inline'";
    let nonce = InlineScript::nonce("bm9uY2U").unwrap();
    let res = respond(
        frames().in_site(),
        &[(CONTENT_SECURITY_POLICY, policy)],
        Some(nonce),
    )
    .await;
    assert_eq!(
        values(&res, CONTENT_SECURITY_POLICY),
        ["script-src 'self' 'unsafe-inline' https://portal.proabono.com"]
    );
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
        frames().in_site(),
        &[(CONTENT_SECURITY_POLICY, "default-src 'self'")],
        Some(InlineScript::sha256(SCRIPT)),
    )
    .await;
    assert_eq!(
        values(&res, CONTENT_SECURITY_POLICY),
        [format!(
            "default-src 'self'; frame-src 'self' {PORTAL_LIST}; \
             script-src 'self' https://portal.proabono.com {HASH}"
        )]
    );
}

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
        .route("/billing", get(billing).layer(frames().in_site()))
        .route("/settings", get(own_policy).layer(frames()))
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
    let res = get_from_app("/billing").await;
    assert_eq!(
        values(&res, CONTENT_SECURITY_POLICY),
        [format!(
            "frame-src {PORTAL_LIST}; script-src https://portal.proabono.com 'nonce-YXh1bS1yb3V0ZQ'"
        )]
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
                    .layer(frames())
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
