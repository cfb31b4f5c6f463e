//! The page over real sockets: the Router served by `axum::serve`, and the
//! `subscriptions` binary as `cargo run -p subscriptions` starts it, opened
//! at the links it prints.

use std::net::SocketAddr;
use std::process::Stdio;

use axum::http::header::{CONTENT_TYPE, REFERRER_POLICY};
use axum::http::StatusCode;
use subscriptions::{app, DEFAULT_FALLBACK};
use test_support::{bounded, get, listener, text, GUIDE_CRYLK, GUIDE_LINK};
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

#[tokio::test]
async fn served_router_answers_over_http1() {
    let (listener, addr) = listener().await;
    tokio::spawn(async move { axum::serve(listener, app(DEFAULT_FALLBACK.to_owned())).await });

    let res = get(addr, &format!("/Subscriptions?crylk={GUIDE_CRYLK}")).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
    assert_eq!(res.headers()[REFERRER_POLICY], "no-referrer");
    assert!(text(&res).contains(&format!(r#" src="{GUIDE_LINK}""#)));
}

/// The example binary, stopped when dropped.
struct Binary {
    _child: Child,
    stdout: Lines<BufReader<ChildStdout>>,
}

impl Binary {
    fn start(port: &str, fallback: &str) -> Binary {
        let mut child = Command::new(env!("CARGO_BIN_EXE_subscriptions"))
            .env("PORT", port)
            .env("PORTAL_FALLBACK_URL", fallback)
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
    let mut binary = Binary::start("0", fallback);
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
    assert!(text(&res).contains("crylk refused"));
}

#[tokio::test]
async fn binary_refuses_a_port_that_is_not_a_number() {
    let output = bounded(
        Command::new(env!("CARGO_BIN_EXE_subscriptions"))
            .env("PORT", "http")
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the subscriptions binary runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("PORT is not a port number"), "{stderr}");
}
