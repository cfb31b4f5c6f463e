//! README.md's Install and Usage, as a user copies them: the program in
//! `src/main.rs` must be the README's, the dependencies the README lists
//! must be this crate's, and the program must serve the portal page over
//! 127.0.0.1: the guide's link in the iframe, `evilproabono.com` refused.

use std::process::Stdio;

use test_support::{bounded, get, text, EVIL_CRYLK, GUIDE_CRYLK, GUIDE_LINK};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const README: &str = include_str!("../../../README.md");
const MAIN: &str = include_str!("../src/main.rs");
const MANIFEST: &str = include_str!("../Cargo.toml");

/// The fenced blocks of `markdown` whose info string starts with `lang`.
fn blocks<'a>(markdown: &'a str, lang: &str) -> Vec<&'a str> {
    let mut found = Vec::new();
    let mut rest = markdown;
    while let Some(start) = rest.find("\n```") {
        let after = &rest[start + 4..];
        let (info, body) = after.split_once('\n').expect("a fenced block");
        let end = body.find("\n```").expect("a closed block");
        if info.split(',').next() == Some(lang) {
            found.push(&body[..=end]);
        }
        rest = &body[end + 4..];
    }
    found
}

#[test]
fn the_readme_shows_this_program() {
    let rust = blocks(README, "rust");
    assert!(
        rust.contains(&MAIN),
        "README.md's Usage must show examples/quick-start/src/main.rs verbatim"
    );
}

#[test]
fn the_readme_installs_what_the_program_uses() {
    let install = blocks(README, "toml");
    let install: toml::Table = install[0].parse().expect("Install is TOML");
    let listed = install["dependencies"].as_table().expect("[dependencies]");
    let manifest: toml::Table = MANIFEST.parse().unwrap();
    let used = manifest["dependencies"].as_table().unwrap();
    let names = |t: &toml::Table| t.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(listed), names(used));
    for (name, spec) in listed {
        let mut ours = used[name].clone();
        // Only the path to this workspace is not what a user writes.
        if let Some(table) = ours.as_table_mut() {
            table.remove("path");
        }
        assert_eq!(*spec, ours, "{name}");
    }
}

#[tokio::test]
async fn the_program_serves_the_portal_page() {
    let mut server = Command::new(env!("CARGO_BIN_EXE_quick-start"))
        .env("PORT", "0")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the program");
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let line = bounded(lines.next_line()).await.unwrap().expect("a line");
    let addr = line
        .strip_prefix("listening on http://")
        .expect("the address")
        .parse()
        .unwrap();

    let res = get(addr, &format!("/Subscriptions?crylk={GUIDE_CRYLK}")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(res.headers()["referrer-policy"], "no-referrer");
    assert!(
        text(&res).contains(&format!(r#"src="{GUIDE_LINK}""#)),
        "{}",
        text(&res)
    );

    for uri in [
        format!("/Subscriptions?crylk={EVIL_CRYLK}"),
        "/Subscriptions".to_owned(),
    ] {
        let res = get(addr, &uri).await;
        assert_eq!(res.status(), 200);
        let page = text(&res);
        assert!(
            page.contains(r#"src="https://demo-eur.proabono.com/portal-anon""#),
            "{page}"
        );
        assert!(!page.contains("evil"), "{page}");
    }
    server.kill().await.unwrap();
}
