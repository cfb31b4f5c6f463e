//! The page over real sockets: the Router served by `axum::serve`, and the
//! `subscriptions` binary as `cargo run -p subscriptions` starts it, opened
//! at the links it prints and with an In-Site query.

use std::net::SocketAddr;
use std::process::Stdio;

use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, REFERRER_POLICY};
use axum::http::StatusCode;
use subscriptions::{app, Settings};
use test_support::{
    bounded, get, listener, text, EVIL_CRYLK, GUIDE_CRYLK, GUIDE_LINK, IN_SITE_QUERY,
};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

#[tokio::test]
async fn served_router_answers_over_http1() {
    let (listener, addr) = listener().await;
    tokio::spawn(async move { axum::serve(listener, app(Settings::demo())).await });

    let res = get(addr, &format!("/Subscriptions?crylk={GUIDE_CRYLK}")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
    assert_eq!(res.headers()[REFERRER_POLICY], "no-referrer");
    assert_eq!(res.headers()[CACHE_CONTROL], "no-store");
    assert!(text(&res).contains(&format!(r#" src="{GUIDE_LINK}""#)));

    let res = get(addr, &format!("/Subscriptions?pa_query={IN_SITE_QUERY}")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[REFERRER_POLICY], "no-referrer");
    assert_eq!(res.headers()[CACHE_CONTROL], "no-store");
    let csp = res.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(
        csp.contains("script-src 'self' https://portal.proabono.com 'sha256-"),
        "{csp}"
    );
    assert!(text(&res).contains(&format!(r#""query":"{IN_SITE_QUERY}""#)));
}

/// Every variable the binary reads.
const SETTINGS: [&str; 13] = [
    "PORT",
    "PROABONO_API",
    "PROABONO_API_ENDPOINT",
    "PROABONO_AGENT_KEY",
    "PROABONO_API_KEY",
    "PROABONO_CUSTOMER_REF",
    "PORTAL_FALLBACK_URL",
    "PORTAL_ALLOWED_ORIGINS",
    "PORTAL_RESTRICT_FRAMES",
    "PAGE_CSP",
    "PROABONO_BUSINESS_ID",
    "PROABONO_SEGMENT_REF",
    "PROABONO_PORTAL_SECRET",
];

/// The example binary with `env` and none of the [`SETTINGS`] the tests
/// run with but `PROABONO_API=off` (its static fallback), unless `env`
/// says otherwise.
fn binary(env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_subscriptions"));
    for name in SETTINGS {
        command.env_remove(name);
    }
    command.env("PROABONO_API", "off");
    command.envs(env.iter().copied());
    command
}

/// The example binary, stopped when dropped.
struct Binary {
    _child: Child,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl Binary {
    fn start(env: &[(&str, &str)]) -> Binary {
        let mut child = binary(env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("the subscriptions binary starts");
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        Binary {
            _child: child,
            stdout,
        }
    }

    /// The next line printed, which must start with `prefix`, without it.
    async fn line(&mut self, prefix: &str) -> String {
        let line = bounded(self.stdout.next_line())
            .await
            .expect("stdout")
            .expect("a line");
        match line.strip_prefix(prefix) {
            Some(rest) => rest.to_owned(),
            None => panic!("{line:?} does not start with {prefix:?}"),
        }
    }
}

/// `http://ADDR/PATH?QUERY` as printed: the address and what follows it.
fn split_url(url: &str) -> (SocketAddr, String) {
    let rest = url.strip_prefix("http://").expect("an http:// link");
    let slash = rest.find('/').expect("a path");
    (
        rest[..slash].parse().expect("an address"),
        rest[slash..].to_owned(),
    )
}

#[tokio::test]
async fn binary_prints_links_that_open_the_page() {
    let fallback = "https://billing.example.com/portal";
    let mut binary = Binary::start(&[("PORT", "0"), ("PORTAL_FALLBACK_URL", fallback)]);
    let listening = binary.line("Subscription page listening on http://").await;
    let addr: SocketAddr = listening.parse().expect("an address");
    assert!(addr.ip().is_loopback(), "listens on 127.0.0.1 only: {addr}");
    assert_ne!(addr.port(), 0);

    let (at, open) = split_url(&binary.line("Open: ").await);
    assert_eq!(at, addr);
    assert_eq!(open, format!("/Subscriptions?crylk={GUIDE_CRYLK}"));
    let res = get(addr, &open).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(text(&res).contains(&format!(r#" src="{GUIDE_LINK}""#)));

    let (at, refused) = split_url(&binary.line("Refused: ").await);
    assert_eq!(at, addr);
    let res = get(addr, &refused).await;
    assert!(text(&res).contains(&format!(r#" src="{fallback}""#)));
    assert!(text(&res).contains("fallback (refused: the portal link"));

    let (at, in_site) = split_url(&binary.line("In-Site: ").await);
    assert_eq!(at, addr);
    assert_eq!(in_site, format!("/Subscriptions?pa_query={IN_SITE_QUERY}"));
    let res = get(addr, &in_site).await;
    assert!(text(&res).contains("ProAbonoPortal.open("));
    assert!(text(&res).contains(IN_SITE_QUERY));
}

#[tokio::test]
async fn binary_reads_the_in_site_settings() {
    let mut binary = Binary::start(&[
        ("PORT", "0"),
        ("PROABONO_BUSINESS_ID", "7"),
        ("PROABONO_SEGMENT_REF", "seg-7"),
        ("PROABONO_PORTAL_SECRET", "s3cret"),
    ]);
    let addr: SocketAddr = binary
        .line("Subscription page listening on http://")
        .await
        .parse()
        .expect("an address");
    let res = get(addr, &format!("/Subscriptions?pa_query={IN_SITE_QUERY}")).await;
    assert_eq!(res.status(), StatusCode::OK);
    let call = format!(
        r#"<script>ProAbonoPortal.open({{"business_id":7,"segment_ref":"seg-7","query":"{IN_SITE_QUERY}"}});</script>"#
    );
    assert!(text(&res).contains(&call), "{}", text(&res));
}

/// What the binary writes to stderr when it refuses to start with `env`.
async fn refusal_to_start(env: &[(&str, &str)]) -> String {
    let output = bounded(binary(env).stdin(Stdio::null()).kill_on_drop(true).output())
        .await
        .expect("the subscriptions binary runs");
    assert!(!output.status.success(), "it starts with {env:?}");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test]
async fn binary_refuses_settings_it_cannot_use() {
    let stderr = refusal_to_start(&[("PORT", "http")]).await;
    assert!(stderr.contains("PORT is not a port number"), "{stderr}");
    let stderr = refusal_to_start(&[("PORT", "0"), ("PROABONO_BUSINESS_ID", "forty-two")]).await;
    assert!(
        stderr.contains("PROABONO_BUSINESS_ID is not a number"),
        "{stderr}"
    );
    let stderr = refusal_to_start(&[("PORT", "0"), ("PROABONO_PORTAL_SECRET", "")]).await;
    assert!(stderr.contains("portal secret is empty"), "{stderr}");
    for (name, value, says) in [
        (
            "PORTAL_FALLBACK_URL",
            "javascript:alert(1)",
            "PORTAL_FALLBACK_URL is not",
        ),
        (
            "PORTAL_ALLOWED_ORIGINS",
            "https://*.com",
            "PORTAL_ALLOWED_ORIGINS: ",
        ),
        (
            "PORTAL_RESTRICT_FRAMES",
            "yes",
            "PORTAL_RESTRICT_FRAMES is not",
        ),
        ("PAGE_CSP", "default-src 'self'\n", "PAGE_CSP is not"),
    ] {
        let stderr = refusal_to_start(&[("PORT", "0"), (name, value)]).await;
        assert!(stderr.contains(says), "{name}={value:?}: {stderr}");
    }
}

#[tokio::test]
async fn binary_reads_the_policy_settings() {
    let mut binary = Binary::start(&[
        ("PORT", "0"),
        (
            "PORTAL_ALLOWED_ORIGINS",
            "https://mon-app.via.proabono.com, https://mon-app.proabono.com",
        ),
        ("PORTAL_RESTRICT_FRAMES", "true"),
        ("PAGE_CSP", ""),
    ]);
    let addr: SocketAddr = binary
        .line("Subscription page listening on http://")
        .await
        .parse()
        .expect("an address");
    let res = get(addr, "/Subscriptions").await;
    assert_eq!(res.status(), StatusCode::OK);
    let csp: Vec<&str> = res
        .headers()
        .get_all(CONTENT_SECURITY_POLICY)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(
        csp,
        [
            "frame-src https://mon-app.via.proabono.com https://mon-app.proabono.com \
          https://demo-eur.proabono.com"
        ]
    );
}

/// `cargo run -p subscriptions` with no account: the binary starts a
/// stand-in for API Live, frames the demo customer's `hosted-home` from it,
/// and says so on the page.
#[tokio::test]
async fn binary_without_an_account_frames_the_stand_ins_links() {
    let mut binary = Binary::start(&[("PORT", "0"), ("PROABONO_API", "on")]);
    let addr: SocketAddr = binary
        .line("Subscription page listening on http://")
        .await
        .parse()
        .expect("an address");
    for prefix in ["Open: ", "Refused: ", "In-Site: "] {
        binary.line(prefix).await;
    }
    let source = binary
        .line("Customer links: the local stand-in for API Live at https://127.0.0.1:")
        .await;
    assert!(source.ends_with("for customer cust-42"), "{source}");

    for uri in [
        "/Subscriptions",
        &format!("/Subscriptions?crylk={EVIL_CRYLK}"),
    ] {
        let res = get(addr, uri).await;
        assert_eq!(res.status(), StatusCode::OK);
        let page = text(&res);
        assert!(
            page.contains(r#" src="https://demo-eur.proabono.com/portal-auth/"#),
            "{page}"
        );
        assert!(
            page.contains("Portal link: hosted-home from the local stand-in for API Live"),
            "{page}"
        );
    }
    let res = get(addr, &format!("/Subscriptions?crylk={GUIDE_CRYLK}")).await;
    assert!(text(&res).contains(&format!(r#" src="{GUIDE_LINK}""#)));
}

#[tokio::test]
async fn binary_refuses_api_settings_it_cannot_use() {
    let cases: [(&[(&str, &str)], &str); 3] = [
        (&[("PROABONO_API", "maybe")], "PROABONO_API is neither"),
        (
            &[("PROABONO_API", "on"), ("PROABONO_CUSTOMER_REF", "a&b")],
            "PROABONO_CUSTOMER_REF is not",
        ),
        (
            &[
                ("PROABONO_API", "on"),
                ("PROABONO_API_ENDPOINT", "http://api-42.proabono.com"),
            ],
            "ProAbono's API: PROABONO_AGENT_KEY is not set",
        ),
    ];
    for (env, says) in cases {
        let mut env = env.to_vec();
        env.push(("PORT", "0"));
        let stderr = refusal_to_start(&env).await;
        assert!(stderr.contains(says), "{env:?}: {stderr}");
    }
}
