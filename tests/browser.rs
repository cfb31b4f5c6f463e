//! The real-browser differential: headless Chromium, driven over WebDriver
//! with fantoccini, loads the example Subscription page for every corpus
//! case, and its own URL parser judges every link the layer accepts.
//!
//! What Chromium loads must be what handlers get: for every accepted case
//! the iframe's `src`, as Chromium reads it, is `PortalTarget::as_str()`
//! byte for byte, and so is Chromium's `new URL(value).href` for every
//! value and mutation that `validate_link` accepts.
//!
//! Needs `chromium` and `chromedriver` (Debian: `apt-get install -y
//! chromium chromium-driver`; or set `CHROMIUM` and `CHROMEDRIVER`) and the
//! example page's binary (see [`page_binary`]), which
//! `cargo test --all-features` builds. Run with
//! `cargo test --all-features --test browser -- --ignored`. No network is
//! used: the page listens on 127.0.0.1, and Chromium resolves no other
//! host, so the portal iframe itself never loads.
//!
//! Screenshots of the page, with an accepted and with a refused link, are
//! left in `target/browser/`.

mod support;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{json, Value};
use support::corpus::{decoded_values, load, Case, Expected, Kind};
use support::oracle::host_allowed;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tower_portal_link::{target_from_query, validate_link};

/// The page's `hosted-home` fallback: recognizable, and never a ProAbono
/// host, so a refused link can never be mistaken for an accepted one.
const FALLBACK: &str = "https://hosted-home.fallback.test/portal-anon?from=browser-test";

const CHROMIUM_ARGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--window-size=1280,1100",
    // Only the page's own address resolves: the portal iframe fails at
    // once instead of waiting on DNS, and nothing leaves the machine.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
];

/// How long chromedriver and the page may take to start listening.
const STARTUP: Duration = Duration::from_secs(30);

/// What the page shows, read in the page.
const READ_PAGE: &str = r#"
const frame = document.getElementById('portal');
const line = document.getElementById('portal-source');
let host = null;
try { host = new URL(frame.src).hostname; } catch (e) {}
return {
    src: frame ? frame.src : null,
    host: host,
    line: line ? line.textContent : null,
};
"#;

/// Chromium's own URL parser, on each of `arguments[0]`.
const PARSE_ALL: &str = r#"
return arguments[0].map((value) => {
    try {
        const u = new URL(value);
        return {
            ok: true, protocol: u.protocol, hostname: u.hostname, port: u.port,
            username: u.username, password: u.password, href: u.href,
        };
    } catch (e) {
        return { ok: false };
    }
});
"#;

/// The example Subscription page's binary. The one place that knows where
/// the example is built.
fn page_binary() -> PathBuf {
    // target/debug/deps/browser-HASH -> target/debug/examples/subscriptions
    let exe = std::env::current_exe().expect("current exe");
    let profile = exe.ancestors().nth(2).expect("target/debug");
    profile.join("examples").join("subscriptions")
}

/// `target/`, for the screenshots.
fn target_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    exe.ancestors().nth(3).expect("target dir").to_path_buf()
}

/// `$env` if set, else the first of `candidates` found on `PATH`.
fn find_program(env: &str, candidates: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env) {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    candidates.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// Starts `command`, killed when the returned child drops (panics
/// included), and waits for a stdout line containing `marker`. Returns the
/// child and the rest of that line after the marker.
async fn spawn_until(name: &str, mut command: Command, marker: &str) -> (Child, String) {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
    let mut lines = BufReader::new(child.stdout.take().expect("piped stdout")).lines();
    let found = tokio::time::timeout(STARTUP, async {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(at) = line.find(marker) {
                return Some(line[at + marker.len()..].trim().to_owned());
            }
        }
        None
    })
    .await;
    let rest = match found {
        Ok(Some(rest)) => rest,
        Ok(None) => panic!("{name} exited without printing {marker:?}"),
        Err(_) => panic!("{name} did not print {marker:?} within {STARTUP:?}"),
    };
    // Keeps reading, so the child never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, rest)
}

/// The example page on a port of 127.0.0.1 that it picks itself, with
/// [`FALLBACK`] as its `hosted-home` link.
async fn start_page() -> (Child, SocketAddr) {
    let binary = page_binary();
    assert!(
        binary.is_file(),
        "{} is missing: build it first with `cargo test --all-features` \
         or `cargo build --example subscriptions --features axum`",
        binary.display()
    );
    let mut command = Command::new(&binary);
    command
        .env("PORT", "0")
        .env("PORTAL_FALLBACK_URL", FALLBACK);
    let (child, addr) = spawn_until("the example page", command, "listening on http://").await;
    let addr = addr
        .parse()
        .unwrap_or_else(|e| panic!("the page printed a bad address {addr:?}: {e}"));
    (child, addr)
}

/// chromedriver on a port of 127.0.0.1 that it picks itself; returns its
/// WebDriver URL.
async fn start_chromedriver(program: &PathBuf) -> (Child, String) {
    let mut command = Command::new(program);
    command.arg("--port=0").arg("--allowed-ips=127.0.0.1");
    let (child, port) =
        spawn_until("chromedriver", command, "was started successfully on port").await;
    let port: u16 = port
        .trim_end_matches('.')
        .parse()
        .unwrap_or_else(|e| panic!("chromedriver printed a bad port {port:?}: {e}"));
    (child, format!("http://127.0.0.1:{port}"))
}

/// A directory removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The differences found, one line each; empty when Chromium agrees.
type Findings = Vec<String>;

/// Loads the page for `case` and checks that it shows the crate's verdict:
/// the iframe loads exactly `PortalTarget::as_str()`, or the fallback.
async fn check_page(client: &Client, addr: SocketAddr, case: &Case) -> Findings {
    client
        .goto(&format!("http://{addr}/Subscriptions?{}", case.query))
        .await
        .unwrap_or_else(|e| panic!("{}: navigation failed: {e}", case.id));
    let page = client
        .execute(READ_PAGE, vec![])
        .await
        .unwrap_or_else(|e| panic!("{}: cannot read the page: {e}", case.id));
    let (src, host, line) = (
        page["src"].as_str().unwrap_or_default(),
        page["host"].as_str().unwrap_or_default(),
        page["line"].as_str().unwrap_or_default(),
    );
    let mut findings = Vec::new();
    let mut fail = |what: String| findings.push(format!("{} ({}): {what}", case.id, case.note));
    // The page runs `PortalLinkLayer::new()`, whose verdict this is.
    let (want_line, want_src) = match target_from_query(&case.query) {
        Ok(Some(target)) => {
            if !host_allowed(host) || host != target.host() {
                fail(format!(
                    "UNSAFE: the iframe loads host {host:?} (src {src:?}), the layer checked {:?}",
                    target.host()
                ));
            }
            ("Portal link: crylk".to_owned(), target.as_str().to_owned())
        }
        Err(refusal) => (
            format!("Portal link: fallback (crylk refused: {refusal})"),
            FALLBACK.to_owned(),
        ),
        Ok(None) => (
            "Portal link: fallback (no crylk)".to_owned(),
            FALLBACK.to_owned(),
        ),
    };
    if line != want_line {
        fail(format!("page says {line:?}, expected {want_line:?}"));
    }
    if src != want_src {
        fail(format!(
            "SRC DIFFERS: the iframe loads {src:?}, handlers get {want_src:?}"
        ));
    }
    findings
}

/// What Chromium's parser makes of each value, in batches.
async fn chromium_parse(client: &Client, values: &[String]) -> Vec<Value> {
    let mut out = Vec::with_capacity(values.len());
    for batch in values.chunks(500) {
        let parsed = client
            .execute(PARSE_ALL, vec![json!(batch)])
            .await
            .expect("Chromium parses a batch");
        let parsed = parsed.as_array().expect("an array");
        assert_eq!(parsed.len(), batch.len(), "one answer per value");
        out.extend(parsed.iter().cloned());
    }
    out
}

/// For each value the crate accepts, Chromium must see the same https host,
/// inside the allow-list, with no credentials and no port, and serialize
/// the link exactly as the crate hands it on. Returns the findings, how
/// many values the crate accepts, and how many refused values Chromium
/// would have loaded from outside the allow-list (the ones the layer is
/// there to stop).
async fn differential(client: &Client, values: &[(String, String)]) -> (Findings, usize, usize) {
    let texts: Vec<String> = values.iter().map(|(_, v)| v.clone()).collect();
    let parsed = chromium_parse(client, &texts).await;
    let mut findings = Vec::new();
    let (mut accepted, mut stopped) = (0, 0);
    for ((label, value), chromium) in values.iter().zip(parsed) {
        let hostname = chromium["hostname"].as_str().unwrap_or_default();
        match validate_link(value) {
            Ok(target) => {
                accepted += 1;
                let safe = chromium["ok"] == true
                    && chromium["protocol"] == "https:"
                    && host_allowed(hostname)
                    && hostname == target.host()
                    && chromium["port"] == ""
                    && chromium["username"] == ""
                    && chromium["password"] == "";
                if !safe {
                    findings.push(format!(
                        "UNSAFE {label}: the crate accepts {value:?} as host {:?}; Chromium sees {chromium}",
                        target.host()
                    ));
                } else if chromium["href"] != target.as_str() {
                    findings.push(format!(
                        "HREF DIFFERS {label}: for {value:?} the crate hands on {:?}, Chromium loads {}",
                        target.as_str(),
                        chromium["href"]
                    ));
                }
            }
            Err(_) => {
                let outside = chromium["ok"] == true
                    && matches!(chromium["protocol"].as_str(), Some("https:" | "http:"))
                    && !host_allowed(hostname);
                if outside && value.to_ascii_lowercase().contains("proabono") {
                    stopped += 1;
                }
            }
        }
    }
    (findings, accepted, stopped)
}

/// Hosts and authorities mutated one character at a time: every
/// delimiter, confusable and control a browser treats specially, inserted
/// at or substituted for each position of the scheme and authority.
fn mutations() -> Vec<(String, String)> {
    let seeds = [
        "https://a.proabono.com/x",
        "https://mon-app.via.proabono.com/subscribe-offer/T0k",
        "https://proabono.com/",
    ];
    let singles = [
        "@",
        "\\",
        "/",
        "?",
        "#",
        ":",
        ".",
        "%",
        "\t",
        "\n",
        " ",
        "\0",
        "\u{ad}",
        "\u{200b}",
        "\u{3002}",
        "\u{ff0e}",
        "\u{ff0f}",
        "\u{ff20}",
        "\u{2100}",
        "[",
        "]",
        "_",
        "!",
        "$",
        "&",
        "'",
        "(",
        ")",
        "*",
        "+",
        ",",
        ";",
        "=",
        "~",
        "`",
        "{",
        "}",
        "|",
        "^",
        "\"",
        "<",
        ">",
        "A",
        "-",
        "0",
        "evil.com",
        "@evil.com",
        "evil.com@",
        ".evil.com",
        "evil.com/",
        "%2e",
        "%40",
        "%2f",
        "%5c",
        "%00",
        "xn--",
        ":443",
        ":80",
        "..",
    ];
    let mut out = Vec::new();
    for seed in seeds {
        let end = seed[8..].find('/').map_or(seed.len(), |i| i + 9);
        for at in 0..=end {
            for piece in singles {
                let inserted = format!("{}{piece}{}", &seed[..at], &seed[at..]);
                out.push((format!("insert {piece:?} at {at} of {seed}"), inserted));
                if at < end {
                    let replaced = format!("{}{piece}{}", &seed[..at], &seed[at + 1..]);
                    out.push((format!("replace {at} of {seed} by {piece:?}"), replaced));
                }
            }
        }
    }
    out
}

async fn run(client: &Client, addr: SocketAddr) -> Findings {
    let started = Instant::now();
    let cases = load();
    let artifacts = target_dir().join("browser");
    std::fs::create_dir_all(&artifacts).expect("target/browser");

    // 1. Every corpus case, as a person following the link would see it.
    let mut findings = Vec::new();
    let mut shots = (false, false);
    for case in &cases {
        findings.extend(check_page(client, addr, case).await);
        let accepted_legit = case.kind == Kind::Legitimate;
        let refused = matches!(case.expected, Expected::Refused("host_not_allowed"));
        if (accepted_legit && !shots.0) || (refused && !shots.1) {
            let png = client.screenshot().await.expect("a screenshot");
            let name = if accepted_legit {
                "portal-accepted.png"
            } else {
                "portal-refused.png"
            };
            std::fs::write(artifacts.join(name), png).expect("write the screenshot");
            if accepted_legit {
                shots.0 = true;
            } else {
                shots.1 = true;
            }
        }
    }
    let pages = started.elapsed();

    // 2. Chromium's parser on every decoded corpus value.
    let values: Vec<(String, String)> = cases
        .iter()
        .flat_map(|c| {
            decoded_values(&c.query)
                .into_iter()
                .map(|v| (c.id.clone(), v))
        })
        .collect();
    let (found, accepted, stopped) = differential(client, &values).await;
    findings.extend(found);

    // 3. And on mutations of real links around their authority.
    let mutated = mutations();
    let (found, m_accepted, m_stopped) = differential(client, &mutated).await;
    findings.extend(found);

    eprintln!(
        "browser differential: {} pages in {:.1?}; {} corpus values ({} accepted, {} refused \
         that Chromium would load from outside proabono.com); {} mutations ({} accepted, {} \
         such refusals); {:.1?} in all",
        cases.len(),
        pages,
        values.len(),
        accepted,
        stopped,
        mutated.len(),
        m_accepted,
        m_stopped,
        started.elapsed()
    );
    if !(shots.0 && shots.1) {
        findings.push("no screenshot taken".into());
    }
    // A differential that never sees an attack proves nothing.
    if stopped < 50 || m_stopped < 50 {
        findings.push(format!(
            "only {stopped} corpus values and {m_stopped} mutations would fool Chromium"
        ));
    }
    findings
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromedriver; run by .ci/run"]
async fn chromium_agrees_with_the_layer_on_the_whole_corpus() {
    let chromium = find_program(
        "CHROMIUM",
        &["chromium", "chromium-browser", "google-chrome"],
    )
    .expect("chromium not found (apt-get install -y chromium, or set CHROMIUM)");
    let chromedriver = find_program("CHROMEDRIVER", &["chromedriver"])
        .expect("chromedriver not found (apt-get install -y chromium-driver, or set CHROMEDRIVER)");

    let (_page, addr) = start_page().await;
    let (_chromedriver, webdriver) = start_chromedriver(&chromedriver).await;

    let profile = TempDir(std::env::temp_dir().join(format!(
        "portal-link-chromium-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    )));
    std::fs::create_dir_all(&profile.0).expect("profile dir");
    let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| a.to_string()).collect();
    args.push(format!("--user-data-dir={}", profile.0.display()));
    let Value::Object(capabilities) = json!({
        "browserName": "chrome",
        // The portal iframe never loads here: do not wait for it.
        "pageLoadStrategy": "eager",
        "timeouts": { "pageLoad": 20000, "script": 20000 },
        "goog:chromeOptions": { "binary": chromium, "args": args },
    }) else {
        unreachable!("an object literal")
    };
    let client = ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(&webdriver)
        .await
        .expect("browser session");

    // The session is closed (and the browser with it) however `run` ends;
    // dropping the children then kills chromedriver and the page.
    let worker = {
        let client = client.clone();
        tokio::spawn(async move { run(&client, addr).await })
    };
    let outcome = worker.await;
    if let Err(e) = client.close().await {
        eprintln!("could not close the browser session: {e}");
    }
    match outcome {
        Ok(findings) if findings.is_empty() => {}
        Ok(findings) => panic!("{} finding(s):\n{}", findings.len(), findings.join("\n")),
        Err(join) => std::panic::resume_unwind(join.into_panic()),
    }
}
