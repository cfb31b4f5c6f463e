//! README.md's Install and Usage, as a user copies them: the program in
//! `src/main.rs` must be the README's, the dependencies the README lists
//! must be this crate's and cover what the README's examples and the crate
//! docs' axum example use, and the program must serve the whole portal
//! page over 127.0.0.1, against a stand-in for ProAbono's API Live over
//! TLS: the guide's link in the iframe, `evilproabono.com` refused and the
//! customer's `hosted-home` instead, and a page still when the API is down.

use std::process::Stdio;

use test_support::api_live::{ApiLive, Fault, AGENT_KEY, API_KEY, DEMO_CUSTOMER};
use test_support::{bounded, get, text, EVIL_CRYLK, GUIDE_CRYLK, GUIDE_LINK};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const README: &str = include_str!("../../../README.md");
const MAIN: &str = include_str!("../src/main.rs");
const MANIFEST: &str = include_str!("../Cargo.toml");
const LIB_RS: &str = include_str!("../../../src/lib.rs");
/// The library's sources that gate public items behind a feature.
const GATED_SOURCES: [&str; 2] = [LIB_RS, include_str!("../../../src/csp/source.rs")];

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

/// README's Install section, `[dependencies]`.
fn install() -> toml::Table {
    let install: toml::Table = blocks(README, "toml")[0].parse().expect("Install is TOML");
    install["dependencies"]
        .as_table()
        .expect("[dependencies]")
        .clone()
}

/// The `features` of `spec`, a dependency of Install.
fn features(spec: &toml::Value) -> Vec<&str> {
    spec.get("features")
        .and_then(toml::Value::as_array)
        .map_or_else(Vec::new, |f| {
            f.iter().filter_map(toml::Value::as_str).collect()
        })
}

/// The crate docs (`//!` lines of src/lib.rs) as Markdown.
fn crate_docs() -> String {
    LIB_RS
        .lines()
        .filter_map(|l| l.strip_prefix("//!"))
        .map(|l| l.strip_prefix(' ').unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The crate roots of the paths in `code` (`axum::serve`, `use tower::Layer`),
/// leaving out doctests' hidden lines, the standard library, and types
/// (`Router::new`).
fn crates_used(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut push = |root: &str| {
        let is_crate = root.starts_with(|c: char| c.is_ascii_lowercase())
            && !["std", "core", "alloc", "crate", "self", "super"].contains(&root);
        if is_crate && !found.iter().any(|f| f == root) {
            found.push(root.to_owned());
        }
    };
    // Inside a `use` group spread over lines, whose paths are relative.
    let mut in_group = false;
    for line in code.lines() {
        let line = line.trim_start();
        if line.starts_with("# ") || line == "#" || line.starts_with("//") {
            continue;
        }
        if in_group {
            in_group = !line.contains("};");
            continue;
        }
        if let Some(path) = line.strip_prefix("use ") {
            push(path.split("::").next().unwrap_or_default());
            in_group = path.contains('{') && !path.contains("};");
            continue;
        }
        for (at, _) in line.match_indices("::") {
            let before = &line[..at];
            let start = before
                .rfind(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .map_or(0, |i| i + 1);
            let root = &before[start..];
            if !before[..start].ends_with("::") {
                push(root);
            }
        }
    }
    found
}

/// Each public item a feature gates, as `(the name a reader would see,
/// the feature)`: `InSite` from a gated `pub use`, `::sha256` from a gated
/// `pub fn sha256`, `api::` from a gated `pub mod api`.
fn gated_items() -> Vec<(String, String)> {
    let mut items = Vec::new();
    for source in GATED_SOURCES {
        let lines: Vec<&str> = source.lines().map(str::trim).collect();
        for (i, line) in lines.iter().enumerate() {
            let Some(feature) = line
                .strip_prefix("#[cfg(feature = \"")
                .and_then(|rest| rest.strip_suffix("\")]"))
            else {
                continue;
            };
            let Some(item) = lines[i + 1..].iter().find(|l| !l.starts_with("#[")) else {
                continue;
            };
            if let Some(names) = item.strip_prefix("pub use ") {
                let names = names.rsplit("::").next().unwrap_or_default();
                for name in names.trim_matches(|c| "{};".contains(c)).split(',') {
                    items.push((name.trim().to_owned(), feature.to_owned()));
                }
            } else if let Some(name) = item.strip_prefix("pub fn ") {
                let name = name.split('(').next().unwrap_or_default();
                items.push((format!("::{name}"), feature.to_owned()));
            } else if let Some(name) = item.strip_prefix("pub mod ") {
                let name = name.trim_end_matches(';');
                items.push((format!("{name}::"), feature.to_owned()));
            }
        }
    }
    items
}

#[test]
fn the_readme_installs_what_its_examples_use() {
    let install = install();
    let docs = crate_docs();
    let axum_docs = docs
        .split_once("## axum 0.8")
        .and_then(|(_, rest)| rest.split("\n## ").next())
        .expect("the crate docs' axum section");
    let mut code = blocks(README, "rust");
    code.extend(blocks(axum_docs, "rust"));
    let used: Vec<String> = code.iter().flat_map(|c| crates_used(c)).collect();
    for needed in ["axum", "tokio", "tower", "tower_http", "tower_portal_link"] {
        assert!(
            used.iter().any(|u| u == needed),
            "{needed} not found: {used:?}"
        );
    }
    for root in &used {
        let name = root.replace('_', "-");
        assert!(
            install.contains_key(&name),
            "Install lacks {name}, which an example uses"
        );
    }
    // tower-http's modules are features of the same name.
    let tower_http = features(&install["tower-http"]);
    for block in &code {
        for (at, _) in block.match_indices("tower_http::") {
            let module = block[at + "tower_http::".len()..]
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .next()
                .unwrap();
            assert!(
                tower_http.contains(&module),
                "tower-http lacks feature {module}"
            );
        }
    }
    // An item the README names needs its feature in Install.
    let ours = features(&install["tower-portal-link"]);
    let gated = gated_items();
    assert!(gated.iter().any(|(name, _)| name == "InSite"), "{gated:?}");
    assert!(
        gated.iter().any(|(name, _)| name == "::sha256"),
        "{gated:?}"
    );
    assert!(gated.iter().any(|(name, _)| name == "api::"), "{gated:?}");
    for (name, feature) in gated {
        if README.contains(&format!("`{name}"))
            || README.contains(&format!("{name}`"))
            || README.contains(&name) && (name.starts_with("::") || name.ends_with("::"))
        {
            assert!(
                ours.contains(&feature.as_str()),
                "README names {name}, which needs {feature:?}"
            );
        }
    }
}

/// The program, started with `env`, and the address it serves.
async fn start(env: &[(&str, &str)]) -> (tokio::process::Child, std::net::SocketAddr) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_quick-start"));
    command
        .env("PORT", "0")
        .stdout(Stdio::piped())
        .kill_on_drop(true);
    for name in [
        "PROABONO_API_ENDPOINT",
        "PROABONO_AGENT_KEY",
        "PROABONO_API_KEY",
    ] {
        command.env_remove(name);
    }
    command.envs(env.iter().copied());
    let mut server = command.spawn().expect("start the program");
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    let line = bounded(lines.next_line()).await.unwrap().expect("a line");
    let addr = line
        .strip_prefix("listening on http://")
        .expect("the address")
        .parse()
        .unwrap();
    (server, addr)
}

/// A stand-in for API Live, and the program's environment to reach it: its
/// endpoint and keys, and `SSL_CERT_FILE` holding its certificate, the only
/// root the program then trusts.
async fn stand_in() -> (ApiLive, Vec<(&'static str, String)>, std::path::PathBuf) {
    let api = ApiLive::start().await;
    let pem = std::env::temp_dir().join(format!("quick-start-{}.pem", api.addr().port()));
    std::fs::write(&pem, api.cert_pem()).unwrap();
    let env = vec![
        ("PROABONO_API_ENDPOINT", api.endpoint()),
        ("PROABONO_AGENT_KEY", AGENT_KEY.to_owned()),
        ("PROABONO_API_KEY", API_KEY.to_owned()),
        ("SSL_CERT_FILE", pem.display().to_string()),
    ];
    (api, env, pem)
}

#[tokio::test]
async fn the_program_serves_the_whole_page() {
    let (api, env, pem) = stand_in().await;
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (mut server, addr) = start(&env).await;

    // The e-mailed link, without a call to the API.
    let res = get(addr, &format!("/Subscriptions?crylk={GUIDE_CRYLK}")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
    assert_eq!(res.headers()["referrer-policy"], "no-referrer");
    assert!(
        text(&res).contains(&format!(r#"src="{GUIDE_LINK}""#)),
        "{}",
        text(&res)
    );
    assert_eq!(api.count(), 0);

    // No link, or a refused one: the customer's `hosted-home`, one call.
    let home = api.hosted_home(DEMO_CUSTOMER).unwrap();
    for uri in [
        format!("/Subscriptions?crylk={EVIL_CRYLK}"),
        "/Subscriptions".to_owned(),
    ] {
        let res = get(addr, &uri).await;
        assert_eq!(res.status(), 200);
        let page = text(&res);
        assert!(page.contains(&format!(r#"src="{home}""#)), "{page}");
        assert!(!page.contains("evil"), "{page}");
    }
    assert_eq!(api.count(), 1, "the links are cached");
    server.kill().await.unwrap();

    // ProAbono down: the page still renders, within the client's deadline.
    let (mut server, addr) = start(&env).await;
    api.fail_always(Some(Fault::Reset));
    let started = std::time::Instant::now();
    let res = get(addr, "/Subscriptions").await;
    assert_eq!(res.status(), 200);
    assert!(text(&res).contains("unavailable"), "{}", text(&res));
    assert!(started.elapsed() < std::time::Duration::from_secs(4));
    server.kill().await.unwrap();
    std::fs::remove_file(pem).unwrap();
}

#[tokio::test]
async fn the_program_says_what_it_misses() {
    let output = Command::new(env!("CARGO_BIN_EXE_quick-start"))
        .env("PORT", "0")
        .env_remove("PROABONO_API_ENDPOINT")
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("PROABONO_API_ENDPOINT"), "{stderr}");
}
