//! The real-browser tests of the page: headless Chromium, driven over
//! WebDriver with fantoccini, loads the example Subscription page in both
//! of ProAbono's flows.
//!
//! - **`crylk`, the differential**: the page is loaded for every corpus
//!   case the layer accepts and one refused case in eight, and Chromium's
//!   own URL parser judges every corpus value and its mutations. What Chromium loads must be what handlers get: for every
//!   accepted case the iframe's `src`, as Chromium reads it, is
//!   `PortalTarget::as_str()` byte for byte, and so is Chromium's
//!   `new URL(value).href` for every value and mutation that
//!   `validate_link` accepts.
//! - **`pa_query`, In-Site**: the page loads portal.js from
//!   `https://portal.proabono.com`, which Chromium resolves here to a
//!   stand-in on 127.0.0.1 that records each `ProAbonoPortal.open(...)`
//!   call in `window.__opened`. The test reads what the page called, in the
//!   page: the accepted query, exactly; for hostile values, no call, no
//!   script and no injected code running; and the page's
//!   `Content-Security-Policy` blocking an inline script it did not vouch
//!   for. The page is the one `cargo run -p subscriptions` serves,
//!   unmodified, with its own policy; its own same-origin script runs on
//!   every page, in both flows.
//! - **`PortalCspLayer` in every page state**: the page runs with a
//!   narrowed list (`https://mon-app.via.proabono.com`) and its fallback on
//!   another ProAbono host (`https://demo-eur.proabono.com`), without a
//!   policy, with its own, and with `frame-ancestors` only, each with and
//!   without `restrict_frames`. Chromium resolves those hosts to a TLS
//!   stand-in that notes every page it is asked for: the fallback and the
//!   accepted link are framed, the page's own script runs in both flows,
//!   and a frame of another host inserted into the page is blocked (a
//!   `frame-src` violation, and no request) with `restrict_frames`, or
//!   where the page's policy restricts frames, and loaded otherwise.
//! - **The API's `hosted-home` under `restrict_frames`**: the page runs
//!   with `PROABONO_API=on` against the API Live stand-in (TLS, trusted
//!   through `SSL_CERT_FILE`), the narrowed list, and its fallback on
//!   another host. Without a link, Chromium frames the `hosted-home` the
//!   API returned for the configured customer, and still blocks another
//!   host's frame. A `hosted-home` outside the list is refused by the
//!   client's link check: the page frames its fallback, and Chromium never
//!   asks for that host.
//!
//! - **`Referer`, under every `Referrer-Policy`**: pages served through
//!   the layer to requests that carried a link set a range of
//!   `Referrer-Policy` fields (tokens, lists, odd characters, case
//!   variants, several fields, none) and load subresources from their own
//!   origin and two others; no request may carry the page's query in
//!   `Referer`. This one runs in `cargo test --workspace` whenever Chromium
//!   is found.
//!
//! Needs `chromium` and `chromedriver` (Debian: `apt-get install -y
//! chromium chromium-driver`; or set `CHROMIUM` and `CHROMEDRIVER`). Run
//! with `cargo test -p subscriptions --test browser -- --ignored`, which
//! builds the page's binary too. No network is used: the page and the
//! stand-in listen on 127.0.0.1, and Chromium resolves no other host, so
//! in the first test the portal iframe itself never loads.
//!
//! Screenshots of the page, with an accepted link, a refused link and an
//! In-Site query, the framed fallback, the API's framed `hosted-home` and
//! a blocked frame, are left in
//! `target/browser/`.

#[path = "../../../tests/support/corpus.rs"]
#[allow(dead_code)]
mod corpus_cases;
#[path = "../../../tests/support/oracle.rs"]
mod oracle;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use corpus_cases::{decoded_values, load, Case, Expected, Kind};
use fantoccini::{Client, ClientBuilder};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioIo;
use oracle::host_allowed;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use subscriptions::PAGE_JS_PATH;
use test_support::api_live::{ApiLive, Hit, Link, AGENT_KEY, API_KEY};
use test_support::{GUIDE_CRYLK, IN_SITE_QUERY};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tower_portal_link::api::LinkError;
use tower_portal_link::{target_from_query, validate_link, PortalQuery, Refusal};

/// The page's `hosted-home` fallback: recognizable, and never a ProAbono
/// host, so a refused link can never be mistaken for an accepted one.
const FALLBACK: &str = "https://hosted-home.fallback.test/portal-anon?from=browser-test";

/// Where the page loads portal.js from, and the host the stand-in answers
/// for.
const PORTAL_JS: &str = "https://portal.proabono.com/Get/portal.js";
const PORTAL_HOST: &str = "portal.proabono.com";

/// What the page opens portal.js with: the demo's settings, which the page
/// runs with here.
const BUSINESS_ID: u32 = 42;
const SEGMENT_REF: &str = "demo-eur";

/// The stand-in for portal.js: records each call instead of opening the
/// portal, and says so in the container for the screenshot.
const PORTAL_JS_STAND_IN: &str = r#"
window.ProAbonoPortal = {
    open: function (options) {
        (window.__opened = window.__opened || []).push(JSON.parse(JSON.stringify(options)));
        var container = document.getElementById('proabono_portal');
        if (container) {
            container.textContent = 'portal.js stand-in: ProAbonoPortal.open(' + JSON.stringify(options) + ')';
        }
    }
};
"#;

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
];

/// How long chromedriver and the page may take to start listening.
const STARTUP: Duration = Duration::from_secs(30);

/// What the page shows and what ran in it, read in the page.
const READ_PAGE: &str = r#"
const frame = document.getElementById('portal');
const line = document.getElementById('portal-source');
let host = null;
try { host = new URL(frame.src).hostname; } catch (e) {}
return {
    src: frame ? frame.src : null,
    host: host,
    line: line ? line.textContent : null,
    container: document.getElementById('proabono_portal') !== null,
    scripts: Array.from(document.scripts, (s) => s.src || 'inline'),
    images: document.images.length,
    opened: window.__opened === undefined ? null : window.__opened,
    pwned: window.__pwned === undefined ? null : String(window.__pwned),
    own: window.pageScript === undefined ? null : window.pageScript,
};
"#;

/// Tries to run code the page did not vouch for: an inline `<script>` and
/// an inline event handler, each setting `window.__pwned`. Returns whether
/// one ran, and the policy violations Chromium reported.
const INJECT: &str = r#"
const done = arguments[arguments.length - 1];
const seen = [];
document.addEventListener('securitypolicyviolation', (e) => {
    seen.push({ directive: e.effectiveDirective, blocked: e.blockedURI, policy: e.originalPolicy });
});
const script = document.createElement('script');
script.textContent = 'window.__pwned = "inline script";';
document.body.appendChild(script);
const img = document.createElement('img');
img.setAttribute('onerror', 'window.__pwned = "event handler"');
img.src = 'data:,not-an-image';
document.body.appendChild(img);
const deadline = Date.now() + 5000;
(function wait() {
    const directives = new Set(seen.map((v) => v.directive));
    const both = directives.has('script-src-elem') && directives.has('script-src-attr');
    if (both || Date.now() > deadline) {
        done({ pwned: window.__pwned === undefined ? null : String(window.__pwned), seen: seen });
    } else {
        setTimeout(wait, 20);
    }
})();
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
/// [`FALLBACK`] as its `hosted-home` link and the demo's settings.
async fn start_page() -> (Child, SocketAddr) {
    start_page_with(&[("PORTAL_FALLBACK_URL", FALLBACK)]).await
}

/// The example page with the demo's settings but `env`, calling no API
/// unless `env` sets `PROABONO_API=on`.
async fn start_page_with(env: &[(&str, &str)]) -> (Child, SocketAddr) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_subscriptions"));
    for setting in [
        "PORTAL_FALLBACK_URL",
        "PORTAL_ALLOWED_ORIGINS",
        "PORTAL_RESTRICT_FRAMES",
        "PAGE_CSP",
        "PROABONO_BUSINESS_ID",
        "PROABONO_SEGMENT_REF",
        "PROABONO_PORTAL_SECRET",
        "PROABONO_CUSTOMER_REF",
        "PROABONO_API_ENDPOINT",
        "PROABONO_AGENT_KEY",
        "PROABONO_API_KEY",
        "SSL_CERT_FILE",
        "SSL_CERT_DIR",
    ] {
        command.env_remove(setting);
    }
    // The static fallback by default; `env` comes after, and a later
    // setting of a variable wins.
    command.env("PROABONO_API", "off");
    command.env("PORT", "0").envs(env.iter().copied());
    let (child, addr) = spawn_until("the example page", command, "listening on http://").await;
    let addr = addr
        .parse()
        .unwrap_or_else(|e| panic!("the page printed a bad address {addr:?}: {e}"));
    (child, addr)
}

/// The stand-in for `https://portal.proabono.com`, and for the portal
/// pages of [`FRAME_HOSTS`]: HTTPS on a port of 127.0.0.1, with a
/// self-signed certificate made for this run.
struct PortalJs {
    addr: SocketAddr,
    /// The base64 SHA-256 of the certificate's public key, the one key
    /// Chromium is told to accept without a trusted chain.
    spki: String,
    /// How many times portal.js was served.
    served: Arc<AtomicUsize>,
    /// Every page requested from a frame host, as `host/path?query`.
    framed: Arc<Mutex<Vec<String>>>,
    /// The hosts Chromium sends here besides portal.proabono.com.
    frame_hosts: &'static [&'static str],
}

impl PortalJs {
    /// The stand-in for portal.js, and for the pages of `frame_hosts`.
    async fn start(frame_hosts: &'static [&'static str]) -> PortalJs {
        let names: Vec<String> = std::iter::once(PORTAL_HOST)
            .chain(frame_hosts.iter().copied())
            .map(str::to_owned)
            .collect();
        let test_support::tls::SelfSigned { acceptor, spki, .. } =
            test_support::tls::self_signed(names);
        let spki = BASE64.encode(Sha256::digest(spki));
        let (listener, addr) = test_support::listener().await;
        let served = Arc::new(AtomicUsize::new(0));
        let framed = Arc::new(Mutex::new(Vec::new()));
        let (counter, log) = (Arc::clone(&served), Arc::clone(&framed));
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, counter, log) =
                    (acceptor.clone(), Arc::clone(&counter), Arc::clone(&log));
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = service_fn(move |req: Request<Incoming>| {
                        let (counter, log) = (Arc::clone(&counter), Arc::clone(&log));
                        async move { Ok::<_, Infallible>(stand_in(&req, &counter, &log, frame_hosts)) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        PortalJs {
            addr,
            spki,
            served,
            framed,
            frame_hosts,
        }
    }

    fn served(&self) -> usize {
        self.served.load(Ordering::SeqCst)
    }

    /// Whether Chromium has requested `page` (`host/path?query`).
    fn was_framed(&self, page: &str) -> bool {
        self.framed.lock().unwrap().iter().any(|p| p == page)
    }

    /// Chromium's arguments that send `portal.proabono.com` and the frame
    /// hosts here, and every other host but 127.0.0.1 nowhere.
    fn chromium_args(&self) -> [String; 2] {
        let maps: String = std::iter::once(PORTAL_HOST)
            .chain(self.frame_hosts.iter().copied())
            .map(|host| format!("MAP {host} {}, ", self.addr))
            .collect();
        [
            format!("--host-resolver-rules={maps}MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"),
            format!("--ignore-certificate-errors-spki-list={}", self.spki),
        ]
    }
}

/// `GET /Get/portal.js` from portal.proabono.com, never cached, so that
/// every page that asks for it is counted; any page of a frame host, noted.
fn stand_in(
    req: &Request<Incoming>,
    served: &AtomicUsize,
    framed: &Mutex<Vec<String>>,
    frame_hosts: &[&str],
) -> Response<String> {
    let mut res = Response::new(String::new());
    let host = req
        .headers()
        .get(hyper::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let path = req.uri().path_and_query().map_or("/", |p| p.as_str());
    if host == PORTAL_HOST && req.uri().path() == "/Get/portal.js" {
        served.fetch_add(1, Ordering::SeqCst);
        let headers = res.headers_mut();
        headers.insert(
            hyper::header::CONTENT_TYPE,
            "text/javascript; charset=utf-8".parse().unwrap(),
        );
        headers.insert(hyper::header::CACHE_CONTROL, "no-store".parse().unwrap());
        *res.body_mut() = PORTAL_JS_STAND_IN.to_owned();
    } else if frame_hosts.contains(&host.as_str()) {
        framed.lock().unwrap().push(format!("{host}{path}"));
        res.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            "text/html; charset=utf-8".parse().unwrap(),
        );
        *res.body_mut() = format!("<!doctype html><p>stand-in for {host}</p>");
    } else {
        *res.status_mut() = StatusCode::NOT_FOUND;
    }
    res
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

/// What the page must show for a query string.
#[derive(Debug)]
enum Shown {
    /// An iframe with this `src`, this line under it, and no script.
    Frame { src: String, line: String },
    /// portal.js, opened once with this query.
    InSite { query: String },
}

/// The page's verdict on `query`, from the library the page runs.
fn expected(query: &str) -> Shown {
    let fallback = |line: String| Shown::Frame {
        src: FALLBACK.to_owned(),
        line,
    };
    match target_from_query(query) {
        Ok(Some(target)) => Shown::Frame {
            src: target.as_str().to_owned(),
            line: "Portal link: crylk".to_owned(),
        },
        Err(refusal) => fallback(format!("Portal link: fallback (refused: {refusal})")),
        Ok(None) => {
            // No link: the layer accepted the In-Site query, if there is
            // one (a refused or repeated one is an `Err` above).
            let values: Vec<String> = url::form_urlencoded::parse(query.as_bytes())
                .filter(|(name, _)| name == "pa_query")
                .map(|(_, value)| value.into_owned())
                .collect();
            match &values[..] {
                [] => fallback("Portal link: fallback (no crylk or pa_query)".to_owned()),
                [value] => {
                    let query = PortalQuery::parse(value).expect("the layer accepted it");
                    Shown::InSite {
                        query: query.as_str().to_owned(),
                    }
                }
                _ => unreachable!("a repeated pa_query is refused"),
            }
        }
    }
}

/// Loads `/Subscriptions?{query}` and checks that the page shows
/// `expected`, and that nothing else ran in it. Returns the findings and
/// what [`READ_PAGE`] read.
async fn check_query(
    client: &Client,
    addr: SocketAddr,
    query: &str,
    expected: &Shown,
) -> (Findings, Value) {
    client
        .goto(&format!("http://{addr}/Subscriptions?{query}"))
        .await
        .unwrap_or_else(|e| panic!("{query:?}: navigation failed: {e}"));
    let page = client
        .execute(READ_PAGE, vec![])
        .await
        .unwrap_or_else(|e| panic!("{query:?}: cannot read the page: {e}"));
    let mut findings = Vec::new();
    let mut fail = |what: String| findings.push(what);
    let text = |key: &str| page[key].as_str().unwrap_or_default().to_owned();
    if page["pwned"] != Value::Null {
        fail(format!("INJECTED CODE RAN: {}", page["pwned"]));
    }
    if page["images"] != 0 {
        fail(format!("{} image(s) in the page", page["images"]));
    }
    // The page's own script, from its origin, ran, and saw no violation.
    if page["own"] != json!({ "ran": true, "violations": [] }) {
        fail(format!("the page's own script: {}", page["own"]));
    }
    let own_script = format!("http://{addr}{PAGE_JS_PATH}");
    match expected {
        Shown::Frame { src, line } => {
            if text("src") != *src {
                fail(format!(
                    "SRC DIFFERS: the iframe loads {:?}, handlers get {src:?}",
                    text("src")
                ));
            }
            if text("line") != *line {
                fail(format!("page says {:?}, expected {line:?}", text("line")));
            }
            if page["opened"] != Value::Null {
                fail(format!(
                    "ProAbonoPortal.open called with {}",
                    page["opened"]
                ));
            }
            if page["scripts"] != json!([own_script]) || page["container"] != false {
                fail(format!(
                    "scripts {} (In-Site container: {}) in a page that frames the portal",
                    page["scripts"], page["container"]
                ));
            }
        }
        Shown::InSite { query } => {
            let call = json!([{
                "business_id": BUSINESS_ID,
                "segment_ref": SEGMENT_REF,
                "query": query,
            }]);
            if page["opened"] != call {
                fail(format!(
                    "ProAbonoPortal.open calls {}, expected {call}",
                    page["opened"]
                ));
            }
            if page["scripts"] != json!([own_script, PORTAL_JS, "inline"])
                || page["container"] != true
            {
                fail(format!(
                    "scripts {} (In-Site container: {}), expected the page's, portal.js, then the call",
                    page["scripts"], page["container"]
                ));
            }
            if page["src"] != Value::Null {
                fail(format!("an iframe beside portal.js: {}", page["src"]));
            }
            if text("line") != "Portal link: pa_query (In-Site)" {
                fail(format!("page says {:?}", text("line")));
            }
        }
    }
    (findings, page)
}

/// Loads the page for `case` and checks that it shows the crate's verdict:
/// the iframe loads exactly `PortalTarget::as_str()`, or the fallback; or
/// portal.js opens the accepted query.
async fn check_page(client: &Client, addr: SocketAddr, case: &Case) -> Findings {
    let expected = expected(&case.query);
    let (mut findings, page) = check_query(client, addr, &case.query, &expected).await;
    // The page runs `PortalLinkLayer::new()`: an accepted link must be one
    // Chromium reads as the same allowed host.
    if let Ok(Some(target)) = target_from_query(&case.query) {
        let host = page["host"].as_str().unwrap_or_default();
        if !host_allowed(host) || host != target.host() {
            findings.push(format!(
                "UNSAFE: the iframe loads host {host:?} (src {}), the layer checked {:?}",
                page["src"],
                target.host()
            ));
        }
    }
    findings
        .into_iter()
        .map(|f| format!("{} ({}): {f}", case.id, case.note))
        .collect()
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

/// `pa_query` values built to run code if a page ever echoed them into its
/// script or its HTML: each sets `window.__pwned`. All are refused.
fn hostile_queries() -> Vec<(String, String)> {
    let values = [
        "\"-(window.__pwned='double quote')-\"".to_owned(),
        "'-(window.__pwned='single quote')-'".to_owned(),
        "\");window.__pwned='end the call';//".to_owned(),
        "</script><script>window.__pwned='end the script'</script>".to_owned(),
        "<img src=x onerror=\"window.__pwned='img onerror'\">".to_owned(),
        "\\\");window.__pwned='backslash';//".to_owned(),
        "\\u0022);window.__pwned='escape';//".to_owned(),
        "\u{2028}window.__pwned='line separator'".to_owned(),
        "${window.__pwned='template'}".to_owned(),
        "https://evil.example/portal?<script>window.__pwned='url'</script>".to_owned(),
        format!("{IN_SITE_QUERY}\"</script><script>window.__pwned='after a token'</script>"),
        // Over-long: the token's own alphabet, and a payload past the bound.
        "A".repeat(PortalQuery::MAX_LEN + 1),
        format!(
            "{}</script><script>window.__pwned='long'</script>",
            "A".repeat(PortalQuery::MAX_LEN)
        ),
    ];
    let mut queries: Vec<(String, String)> = values
        .iter()
        .map(|value| {
            let encoded: String = url::form_urlencoded::byte_serialize(value.as_bytes()).collect();
            (
                value.chars().take(40).collect(),
                format!("pa_query={encoded}"),
            )
        })
        .collect();
    // A valid token beside another value or a link, and encoded twice.
    queries.extend(
        [
            ("beside a link", format!("crylk={GUIDE_CRYLK}&pa_query={IN_SITE_QUERY}")),
            ("repeated", format!("pa_query={IN_SITE_QUERY}&pa_query={IN_SITE_QUERY}")),
            (
                "after a valid one",
                format!("pa_query={IN_SITE_QUERY}&pa_query=%22%3C%2Fscript%3E%3Cscript%3Ewindow.__pwned%3D1%3C%2Fscript%3E"),
            ),
            (
                "encoded twice",
                "pa_query=%253C%252Fscript%253E%253Cscript%253Ewindow.__pwned%253D1%253C%252Fscript%253E".to_owned(),
            ),
            ("empty", "pa_query=".to_owned()),
        ]
        .map(|(label, query)| (label.to_owned(), query)),
    );
    queries
}

/// The In-Site flow: the accepted query reaches `ProAbonoPortal.open`
/// exactly, hostile ones never reach the page, and the page's policy stops
/// an inline script it did not vouch for.
async fn in_site(
    client: &Client,
    addr: SocketAddr,
    portal_js: &PortalJs,
    artifacts: &Path,
) -> Findings {
    let mut findings = Vec::new();

    // 1. The accepted query, through portal.js.
    let before = portal_js.served();
    let query = format!("pa_query={IN_SITE_QUERY}");
    let shown = expected(&query);
    assert!(matches!(shown, Shown::InSite { .. }), "{shown:?}");
    findings.extend(check_query(client, addr, &query, &shown).await.0);
    if portal_js.served() == before {
        findings.push("portal.js was never requested from the stand-in".to_owned());
    }
    let png = client.screenshot().await.expect("a screenshot");
    std::fs::write(artifacts.join("portal-in-site.png"), png).expect("write the screenshot");

    // 2. On that page, code it did not vouch for is blocked by its policy
    //    (its own inline call ran: `__opened` above).
    let outcome = client
        .execute_async(INJECT, vec![])
        .await
        .expect("the injection attempt reports");
    if outcome["pwned"] != Value::Null {
        findings.push(format!("CSP LET INJECTED CODE RUN: {}", outcome["pwned"]));
    }
    let seen = outcome["seen"].as_array().cloned().unwrap_or_default();
    for directive in ["script-src-elem", "script-src-attr"] {
        let blocked = seen
            .iter()
            .any(|v| v["directive"] == directive && v["blocked"] == "inline");
        if !blocked {
            findings.push(format!(
                "no {directive} violation for the injected code: {seen:?}"
            ));
        }
    }
    // The policy Chromium enforced: the page's origin, portal.js's and one
    // hash.
    let policy = seen
        .first()
        .and_then(|v| v["policy"].as_str())
        .unwrap_or_default();
    let script_src = policy
        .split(';')
        .map(str::trim)
        .find(|d| d.starts_with("script-src "))
        .unwrap_or_default();
    let sources: Vec<&str> = script_src.split_whitespace().skip(1).collect();
    let hash_only = |s: &&str| s.starts_with("'sha256-") && s.ends_with('\'');
    if !(sources.len() == 3
        && sources[0] == "'self'"
        && sources[1] == "https://portal.proabono.com"
        && hash_only(&sources[2]))
    {
        findings.push(format!("the enforced script-src is {script_src:?}"));
    }

    // 3. Hostile values: no call, no script, nothing injected ran.
    let before = portal_js.served();
    for (label, query) in hostile_queries() {
        let shown = expected(&query);
        let refused = matches!(&shown, Shown::Frame { line, .. } if line.contains("(refused: "));
        assert!(
            refused,
            "{label:?}: the layer must refuse {query:?}, not {shown:?}"
        );
        findings.extend(
            check_query(client, addr, &query, &shown)
                .await
                .0
                .into_iter()
                .map(|f| format!("hostile pa_query {label:?}: {f}")),
        );
    }
    if portal_js.served() != before {
        findings.push("portal.js was requested for a refused pa_query".to_owned());
    }
    findings
}

async fn run(client: &Client, addr: SocketAddr, portal_js: &PortalJs) -> Findings {
    let started = Instant::now();
    let cases = load();
    let artifacts = target_dir().join("browser");
    std::fs::create_dir_all(&artifacts).expect("target/browser");

    // 1. The corpus, as a person following the link would see it: every
    // case the layer accepts, whose iframe must load exactly the canonical
    // link, and one refused case in eight, whose page must show the
    // fallback (step 3 asks Chromium's parser about every value).
    let mut findings = Vec::new();
    let mut shots = (false, false);
    let mut loaded = 0;
    for (i, case) in cases.iter().enumerate() {
        let accepted = matches!(
            tower_portal_link::target_from_query(&case.query),
            Ok(Some(_))
        );
        if !accepted && i % 8 != 0 {
            continue;
        }
        loaded += 1;
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

    // 2. The In-Site flow.
    let in_site_started = Instant::now();
    findings.extend(in_site(client, addr, portal_js, &artifacts).await);
    let in_site_took = in_site_started.elapsed();

    // 3. Chromium's parser on every decoded corpus value.
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

    // 4. And on mutations of real links around their authority.
    let mutated = mutations();
    let (found, m_accepted, m_stopped) = differential(client, &mutated).await;
    findings.extend(found);

    eprintln!(
        "browser: {} corpus pages in {:.1?}; In-Site flow ({} hostile queries) in {:.1?}; \
         {} corpus values ({} accepted, {} refused that Chromium would load from outside \
         proabono.com); {} mutations ({} accepted, {} such refusals); {:.1?} in all",
        loaded,
        pages,
        hostile_queries().len(),
        in_site_took,
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

/// Headless Chromium behind chromedriver, with its own profile, resolving
/// only 127.0.0.1 and the stand-in's hosts.
struct Browser {
    client: Client,
    _chromedriver: Child,
    _profile: TempDir,
}

impl Browser {
    async fn start(portal_js: &PortalJs) -> Browser {
        Browser::start_with(portal_js.chromium_args()).await
    }

    /// Chromium with [`CHROMIUM_ARGS`] and `extra`.
    async fn start_with(extra: impl IntoIterator<Item = String>) -> Browser {
        let chromium = find_program(
            "CHROMIUM",
            &["chromium", "chromium-browser", "google-chrome"],
        )
        .expect("chromium not found (apt-get install -y chromium, or set CHROMIUM)");
        let chromedriver = find_program("CHROMEDRIVER", &["chromedriver"]).expect(
            "chromedriver not found (apt-get install -y chromium-driver, or set CHROMEDRIVER)",
        );
        let (chromedriver, webdriver) = start_chromedriver(&chromedriver).await;

        let profile = TempDir(std::env::temp_dir().join(format!(
            "portal-link-chromium-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos())
        )));
        std::fs::create_dir_all(&profile.0).expect("profile dir");
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| a.to_string()).collect();
        args.extend(extra);
        args.push(format!("--user-data-dir={}", profile.0.display()));
        let Value::Object(capabilities) = json!({
            "browserName": "chrome",
            // The portal iframe may never load here: do not wait for it.
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
        Browser {
            client,
            _chromedriver: chromedriver,
            _profile: profile,
        }
    }

    /// Runs `test` on a worker, then closes the session (and the browser
    /// with it) however `test` ended, and fails on any finding; dropping
    /// the children then kills chromedriver.
    async fn run<F>(self, test: F)
    where
        F: std::future::Future<Output = Findings> + Send + 'static,
    {
        let outcome = tokio::spawn(test).await;
        if let Err(e) = self.client.close().await {
            eprintln!("could not close the browser session: {e}");
        }
        match outcome {
            Ok(findings) if findings.is_empty() => {}
            Ok(findings) => panic!("{} finding(s):\n{}", findings.len(), findings.join("\n")),
            Err(join) => std::panic::resume_unwind(join.into_panic()),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromedriver; run by .ci/run"]
async fn chromium_shows_what_the_layer_accepted_in_both_flows() {
    let (_page, addr) = start_page().await;
    let portal_js = PortalJs::start(&[]).await;
    let browser = Browser::start(&portal_js).await;
    let client = browser.client.clone();
    browser
        .run(async move { run(&client, addr, &portal_js).await })
        .await;
}

/// The allowed origin of the narrowed list, the fallback's host (another
/// ProAbono host, outside that list), and a ProAbono host outside both:
/// Chromium resolves all three to the stand-in, which notes each page it
/// is asked for.
const NARROWED_HOST: &str = "mon-app.via.proabono.com";
const FALLBACK_HOST: &str = "demo-eur.proabono.com";
const OUTSIDE_HOST: &str = "outside.proabono.com";
const FRAME_HOSTS: &[&str] = &[NARROWED_HOST, FALLBACK_HOST, OUTSIDE_HOST];

/// The page's three states: `PAGE_CSP`, or the example's own policy when
/// `None`; and whether that policy already restricts frames.
const PAGE_STATES: [(&str, Option<&str>, bool); 3] = [
    ("no policy", Some(""), false),
    ("the example's policy (default-src 'none')", None, true),
    (
        "frame-ancestors only",
        Some("frame-ancestors 'self'"),
        false,
    ),
];

/// Inserts an iframe of `arguments[0]` into the page, and returns the
/// policy violations Chromium reported within two seconds.
const INJECT_FRAME: &str = r#"
const done = arguments[arguments.length - 1];
const seen = [];
document.addEventListener('securitypolicyviolation', (e) => {
    seen.push({ directive: e.effectiveDirective, blocked: e.blockedURI });
});
const frame = document.createElement('iframe');
frame.src = arguments[0];
document.body.appendChild(frame);
setTimeout(() => done(seen), 2000);
"#;

/// What became of a frame [`inject_frame`] inserted.
struct Injected {
    /// Chromium asked the stand-in for its page.
    framed: bool,
    /// Chromium reported a `frame-src` violation.
    violated: bool,
    /// Every violation Chromium reported, for the findings.
    seen: Value,
}

/// Inserts a frame of `https://{page}` into the page `client` shows, and
/// tells whether Chromium blocked it, waiting up to `within` for the
/// stand-in to be asked for it.
async fn inject_frame(
    client: &Client,
    portal_js: &PortalJs,
    page: &str,
    within: Duration,
) -> Injected {
    let seen = client
        .execute_async(INJECT_FRAME, vec![json!(format!("https://{page}"))])
        .await
        .expect("the frame insertion reports");
    let violated = seen
        .as_array()
        .is_some_and(|v| v.iter().any(|v| v["directive"] == "frame-src"));
    let framed = framed_within(portal_js, page, within).await;
    Injected {
        framed,
        violated,
        seen,
    }
}

/// How long a frame may take to reach the stand-in.
const FRAME_LOAD: Duration = Duration::from_secs(10);

/// Whether Chromium asks the stand-in for `page` within `within`.
async fn framed_within(portal_js: &PortalJs, page: &str, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if portal_js.was_framed(page) {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// One page state, with and without `restrict_frames`: a narrowed list
/// with a fallback on another ProAbono host, in both flows. The fallback
/// and the allowed link are framed, the page's own script runs, and a frame
/// outside the allowed origins is blocked where a policy says so (always
/// with `restrict_frames`).
async fn page_state(
    client: &Client,
    portal_js: &PortalJs,
    run: usize,
    (state, page_csp, restricts): (&str, Option<&str>, bool),
    restrict_frames: bool,
    artifacts: &Path,
) -> Findings {
    let fallback_page = format!("{FALLBACK_HOST}/portal-anon?run={run}");
    let fallback = format!("https://{fallback_page}");
    let allowed = format!("https://{NARROWED_HOST}");
    let mut env = vec![
        ("PORTAL_FALLBACK_URL", fallback.as_str()),
        ("PORTAL_ALLOWED_ORIGINS", allowed.as_str()),
        (
            "PORTAL_RESTRICT_FRAMES",
            if restrict_frames { "true" } else { "false" },
        ),
    ];
    if let Some(policy) = page_csp {
        env.push(("PAGE_CSP", policy));
    }
    let (_page, addr) = start_page_with(&env).await;
    let label = format!("{state}, restrict_frames {restrict_frames}");
    let mut findings = Vec::new();

    // 1. No link, and a link to the fallback's host, which the narrowed
    //    list refuses: the fallback is framed.
    let refused = format!("crylk=https%3a%2f%2f{FALLBACK_HOST}%2fportal-anon%3fother");
    for (i, query) in ["", refused.as_str()].into_iter().enumerate() {
        let line = if query.is_empty() {
            "Portal link: fallback (no crylk or pa_query)".to_owned()
        } else {
            "Portal link: fallback (refused: the portal link's host is not allowed)".to_owned()
        };
        let shown = Shown::Frame {
            src: fallback.clone(),
            line,
        };
        let before = portal_js.framed.lock().unwrap().len();
        findings.extend(check_query(client, addr, query, &shown).await.0);
        let framed = framed_within(portal_js, &fallback_page, FRAME_LOAD).await
            && portal_js.framed.lock().unwrap().len() > before;
        if !framed {
            findings.push(format!("{query:?}: the fallback {fallback} was not framed"));
        }
        if i == 0 && restrict_frames && restricts {
            let png = client.screenshot().await.expect("a screenshot");
            std::fs::write(artifacts.join("csp-fallback-framed.png"), png)
                .expect("write the screenshot");
        }
    }

    // 2. A link the narrowed list accepts: framed.
    let link_page = format!("{NARROWED_HOST}/subscribe-offer/T0k?run={run}");
    let query =
        format!("crylk=https%3a%2f%2f{NARROWED_HOST}%2fsubscribe-offer%2fT0k%3frun%3d{run}");
    let shown = Shown::Frame {
        src: format!("https://{link_page}"),
        line: "Portal link: crylk".to_owned(),
    };
    findings.extend(check_query(client, addr, &query, &shown).await.0);
    if !framed_within(portal_js, &link_page, FRAME_LOAD).await {
        findings.push(format!("the accepted link {link_page} was not framed"));
    }

    // 3. In-Site: portal.js opens the query, beside the page's own script.
    let before = portal_js.served();
    let query = format!("pa_query={IN_SITE_QUERY}");
    findings.extend(check_query(client, addr, &query, &expected(&query)).await.0);
    if portal_js.served() == before {
        findings.push("portal.js was never requested".to_owned());
    }

    // 4. A frame outside the allowed origins and the fallback's, inserted
    //    into that page: blocked with `restrict_frames`, or by a page
    //    policy that restricts frames; loaded otherwise.
    let outside_page = format!("{OUTSIDE_HOST}/injected?run={run}");
    let blocked = restrict_frames || restricts;
    let wait = if blocked {
        Duration::from_millis(500)
    } else {
        FRAME_LOAD
    };
    let Injected {
        framed,
        violated,
        seen,
    } = inject_frame(client, portal_js, &outside_page, wait).await;
    if blocked && (framed || !violated) {
        findings.push(format!(
            "the frame of {OUTSIDE_HOST} was not blocked (loaded: {framed}, violations: {seen})"
        ));
    }
    if !blocked && (!framed || violated) {
        findings.push(format!(
            "the frame of {OUTSIDE_HOST} was blocked without a policy that says so \
             (loaded: {framed}, violations: {seen})"
        ));
    }
    if blocked && restrict_frames && !restricts {
        let png = client.screenshot().await.expect("a screenshot");
        std::fs::write(artifacts.join("csp-outside-frame-blocked.png"), png)
            .expect("write the screenshot");
    }

    findings
        .into_iter()
        .map(|f| format!("{label}: {f}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromedriver; run by .ci/run"]
async fn chromium_enforces_the_portal_policy_in_every_page_state() {
    let portal_js = PortalJs::start(FRAME_HOSTS).await;
    let browser = Browser::start(&portal_js).await;
    let client = browser.client.clone();
    browser
        .run(async move {
            let artifacts = target_dir().join("browser");
            std::fs::create_dir_all(&artifacts).expect("target/browser");
            let mut findings = Vec::new();
            let mut run = 0;
            for state in PAGE_STATES {
                for restrict_frames in [false, true] {
                    run += 1;
                    findings.extend(
                        page_state(&client, &portal_js, run, state, restrict_frames, &artifacts)
                            .await,
                    );
                }
            }
            findings
        })
        .await;
}

/// The customers of [`chromium_frames_the_hosted_home_the_api_returned`]:
/// one whose `hosted-home` is on the page's allowed origin, and one whose
/// `hosted-home` is on a ProAbono host outside it. Neither is the page's
/// default customer, so each page reads the customer it was told to.
const API_CUSTOMER: &str = "cust-browser-api";
const OUTSIDE_CUSTOMER: &str = "cust-browser-outside";

/// The calls the page made to the API stand-in since `from`: at least one,
/// each `GET /v1/Customer` for `customer` with the stand-in's keys.
fn api_calls(api: &ApiLive, from: usize, customer: &str) -> Option<String> {
    let hits = api.hits().split_off(from);
    let right = |hit: &Hit| {
        hit.method == hyper::Method::GET
            && hit.path == "/v1/Customer"
            && hit.reference.as_deref() == Some(customer)
            && hit.authorized
    };
    if hits.is_empty() || !hits.iter().all(right) {
        return Some(format!(
            "the API stand-in saw {hits:?}, not GETs for {customer}"
        ));
    }
    None
}

/// The page without a link, reading its customer's `hosted-home` from an
/// API Live stand-in over TLS (trusted through `SSL_CERT_FILE`), with a
/// narrowed list, a static fallback on another host, and
/// `restrict_frames`: under no page policy and under the example's own,
/// Chromium frames the API's link (the frame host's stand-in serves it,
/// with no violation), and still blocks a frame of another host; a
/// `hosted-home` outside the list is refused by the client's link check,
/// so the page frames its fallback and Chromium never asks for that host.
async fn api_hosted_home(
    client: &Client,
    portal_js: &PortalJs,
    api: &ApiLive,
    cert_file: &Path,
    artifacts: &Path,
) -> Findings {
    const SOURCE: &str = "ProAbono's API Live";
    let fallback_page = format!("{FALLBACK_HOST}/portal-anon?from=static");
    let fallback = format!("https://{fallback_page}");
    let allowed = format!("https://{NARROWED_HOST}");
    let endpoint = api.endpoint();
    let cert_file = cert_file.to_str().expect("a UTF-8 temporary path");
    let env_for = |customer: &'static str| {
        vec![
            ("PROABONO_API", "on"),
            ("PROABONO_API_ENDPOINT", endpoint.as_str()),
            ("PROABONO_AGENT_KEY", AGENT_KEY),
            ("PROABONO_API_KEY", API_KEY),
            ("SSL_CERT_FILE", cert_file),
            ("PROABONO_CUSTOMER_REF", customer),
            ("PORTAL_ALLOWED_ORIGINS", allowed.as_str()),
            ("PORTAL_RESTRICT_FRAMES", "true"),
            ("PORTAL_FALLBACK_URL", fallback.as_str()),
        ]
    };
    let mut findings = Vec::new();

    // 1. The API's `hosted-home`, on the allowed origin: framed.
    let states = [("no page policy", Some("")), ("the example's policy", None)];
    for (run, (state, page_csp)) in states.into_iter().enumerate() {
        let mut found = Vec::new();
        // A path of its own per page, so that each must be framed anew.
        let home_page = format!("{NARROWED_HOST}/portal-auth/T0k?from=api&run={run}");
        let home = format!("https://{home_page}");
        api.set_links(API_CUSTOMER, vec![Link::href("hosted-home", &home)]);
        let mut env = env_for(API_CUSTOMER);
        if let Some(policy) = page_csp {
            env.push(("PAGE_CSP", policy));
        }
        let before = api.hits().len();
        let (_page, addr) = start_page_with(&env).await;
        let shown = Shown::Frame {
            src: home,
            line: format!("Portal link: hosted-home from {SOURCE} (no crylk or pa_query)"),
        };
        found.extend(check_query(client, addr, "", &shown).await.0);
        if !framed_within(portal_js, &home_page, FRAME_LOAD).await {
            found.push(format!("the API's hosted-home {home_page} was not framed"));
        }
        found.extend(api_calls(api, before, API_CUSTOMER));
        if run == 0 {
            // The request reached the stand-in; the screenshot (only an
            // artifact) waits a moment for the frame to paint.
            tokio::time::sleep(Duration::from_millis(500)).await;
            let png = client.screenshot().await.expect("a screenshot");
            std::fs::write(artifacts.join("csp-api-hosted-home-framed.png"), png)
                .expect("write the screenshot");
        }
        // The policy restricts frames all the same: another host's frame
        // is blocked.
        let injected = format!("{OUTSIDE_HOST}/injected?api-run={run}");
        let Injected {
            framed,
            violated,
            seen,
        } = inject_frame(client, portal_js, &injected, Duration::from_millis(500)).await;
        if framed || !violated {
            found.push(format!(
                "the frame of {OUTSIDE_HOST} was not blocked (loaded: {framed}, violations: {seen})"
            ));
        }
        findings.extend(found.into_iter().map(|f| format!("{state}: {f}")));
    }

    // 2. The control: a `hosted-home` on a ProAbono host outside the list.
    //    The client's link check (the layer's origins) refuses it before
    //    the page renders anything: the API was called, the fallback is
    //    framed, and Chromium never asks for that host.
    let outside_page = format!("{OUTSIDE_HOST}/portal-auth/T0k?from=api");
    api.set_links(
        OUTSIDE_CUSTOMER,
        vec![Link::href(
            "hosted-home",
            &format!("https://{outside_page}"),
        )],
    );
    let before = api.hits().len();
    let (_page, addr) = start_page_with(&env_for(OUTSIDE_CUSTOMER)).await;
    let refused = LinkError::Refused(Refusal::HostNotAllowed);
    let shown = Shown::Frame {
        src: fallback.clone(),
        line: format!("Portal link: fallback (no crylk or pa_query; {SOURCE}: {refused})"),
    };
    let mut found = check_query(client, addr, "", &shown).await.0;
    if !framed_within(portal_js, &fallback_page, FRAME_LOAD).await {
        found.push(format!("the fallback {fallback_page} was not framed"));
    }
    if framed_within(portal_js, &outside_page, Duration::from_millis(500)).await {
        found.push(format!("Chromium was sent to {outside_page}"));
    }
    found.extend(api_calls(api, before, OUTSIDE_CUSTOMER));
    findings.extend(
        found
            .into_iter()
            .map(|f| format!("hosted-home outside the list: {f}")),
    );
    findings
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium and chromedriver; run by .ci/run"]
async fn chromium_frames_the_hosted_home_the_api_returned() {
    let api = ApiLive::start().await;
    // The page trusts the stand-in as it would a private CA: its
    // certificate alone, through `SSL_CERT_FILE`.
    let certs = TempDir(std::env::temp_dir().join(format!(
        "portal-link-api-cert-{}-{}",
        std::process::id(),
        api.addr().port()
    )));
    std::fs::create_dir_all(&certs.0).expect("a certificate dir");
    let cert_file = certs.0.join("api-live.pem");
    std::fs::write(&cert_file, api.cert_pem()).expect("write the certificate");
    let portal_js = PortalJs::start(FRAME_HOSTS).await;
    let browser = Browser::start(&portal_js).await;
    let client = browser.client.clone();
    browser
        .run(async move {
            let artifacts = target_dir().join("browser");
            std::fs::create_dir_all(&artifacts).expect("target/browser");
            let findings = api_hosted_home(&client, &portal_js, &api, &cert_file, &artifacts).await;
            drop(certs);
            findings
        })
        .await;
}

/// The `Referrer-Policy` fields the pages of [`chromium_never_sends_the_link_in_referer`]
/// set, one case a page: single tokens, lists, odd characters, case
/// variants, several fields, empty.
const REFERRER_POLICIES: &[&[&[u8]]] = &[
    &[],
    &[b"no-referrer"],
    &[b"origin"],
    &[b"strict-origin"],
    &[b"same-origin"],
    &[b"unsafe-url"],
    &[b"no-referrer-when-downgrade"],
    &[b"origin-when-cross-origin"],
    &[b"strict-origin-when-cross-origin"],
    &[b""],
    &[b" "],
    &[b"never"],
    // Lists, of which Chromium ignores any it does not fully understand.
    &[b"no-referrer, x1"],
    &[b"origin, a=b"],
    &[b"no-referrer, 'x'"],
    &[b"strict-origin, same-origin"],
    &[b"unsafe-url, no-referrer"],
    &[b"no-referrer,,"],
    &[b",origin"],
    &[b"no-referrer, unsafe-url"],
    // Odd characters.
    &[b"no-referrer;"],
    &[b"\"no-referrer\""],
    &[b"'origin'"],
    &[b"no referrer"],
    &[b"no-referrer\xff"],
    &[b"\xe9origin"],
    &[b"origin\t"],
    // Case variants.
    &[b"No-Referrer"],
    &[b"ORIGIN"],
    &[b"Strict-Origin"],
    &[b"UNSAFE-URL"],
    // Several fields.
    &[b"strict-origin", b"x y"],
    &[b"no-referrer", b"no-referrer"],
    &[b"unsafe-url", b"no-referrer"],
    &[b"no-referrer", b"unsafe-url"],
    &[b"origin", b""],
    &[b"same-origin", b"strict-origin", b"origin"],
];

/// Each subresource a page loads, from its own origin and from the other
/// two: an image, a script, a style sheet, a frame and a `fetch`.
const SUBRESOURCES: [&str; 5] = ["img", "js", "css", "frame", "fetch"];

/// Every request a server of the Referer test saw, as `(path, Referer)`.
type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// The page of case `case`, load `id`: its `Referrer-Policy` fields, and
/// every subresource from `here` (its own origin) and `others`.
fn referer_page(case: usize, id: &str, here: &str, others: &[String]) -> Response<String> {
    let mut html = String::from("<!doctype html><html><head><title>referer</title>");
    let mut body = String::new();
    for origin in std::iter::once(here.to_owned()).chain(others.iter().cloned()) {
        let base = format!("{origin}/sub/{id}");
        html.push_str(&format!(
            r#"<link rel="stylesheet" href="{base}/css"><script src="{base}/js"></script>"#
        ));
        body.push_str(&format!(
            r#"<img src="{base}/img"><iframe src="{base}/frame"></iframe><script>fetch("{base}/fetch", {{ mode: "no-cors" }});</script>"#
        ));
    }
    html.push_str("</head><body>");
    html.push_str(&body);
    html.push_str("</body></html>");
    let mut res = Response::new(html);
    res.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        "text/html; charset=utf-8".parse().unwrap(),
    );
    for value in REFERRER_POLICIES[case] {
        res.headers_mut().append(
            hyper::header::REFERRER_POLICY,
            hyper::header::HeaderValue::from_bytes(value).unwrap(),
        );
    }
    res
}

/// One server of the Referer test on 127.0.0.1: `/page?case=N&id=I…`
/// through `PortalLinkLayer::new()`, with the page's subresources on
/// `others`; any other path answers empty. Every request is noted with its
/// `Referer` before the layer sees it.
async fn referer_server(others: Arc<Mutex<Vec<String>>>) -> (SocketAddr, Seen) {
    use tower::{Layer as _, ServiceExt as _};

    let (listener, addr) = test_support::listener().await;
    let seen: Seen = Arc::default();
    let here = format!("http://{addr}");
    let page = tower::service_fn(move |req: Request<Incoming>| {
        let (here, others) = (here.clone(), Arc::clone(&others));
        async move {
            let query = req.uri().query().unwrap_or_default();
            let param = |name: &str| {
                url::form_urlencoded::parse(query.as_bytes())
                    .find(|(n, _)| n == name)
                    .map(|(_, v)| v.into_owned())
            };
            let res = match (req.uri().path(), param("case"), param("id")) {
                ("/page", Some(case), Some(id)) => {
                    let others = others.lock().unwrap().clone();
                    referer_page(case.parse().unwrap(), &id, &here, &others)
                }
                _ => Response::new(String::new()),
            };
            Ok::<_, Infallible>(res)
        }
    });
    let app = tower_portal_link::PortalLinkLayer::new().layer(page);
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (app, log) = (app.clone(), Arc::clone(&log));
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<Incoming>| {
                    let referer = req
                        .headers()
                        .get(hyper::header::REFERER)
                        .map(|r| String::from_utf8_lossy(r.as_bytes()).into_owned());
                    log.lock()
                        .unwrap()
                        .push((req.uri().path().to_owned(), referer));
                    app.clone().oneshot(req)
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    });
    (addr, seen)
}

/// What of the page's query a `Referer` may never hold: the link, encoded
/// or decoded, the In-Site query, the parameters' names, or any query.
fn leaks(referer: &str) -> bool {
    [
        GUIDE_CRYLK,
        test_support::GUIDE_LINK,
        IN_SITE_QUERY,
        test_support::EVIL_CRYLK,
        "crylk",
        "pa_query",
        "control",
        "?",
    ]
    .iter()
    .any(|secret| {
        referer
            .to_ascii_lowercase()
            .contains(&secret.to_ascii_lowercase())
    })
}

/// Holding `Referer`s up against [`REFERRER_POLICIES`]: a page served on
/// 127.0.0.1 to a request that carried a link, through the layer, sets
/// each case's fields and loads [`SUBRESOURCES`] from its own origin, from
/// another port of 127.0.0.1 and from `localhost`. No request may carry
/// any part of the page's query in `Referer`. The same pages with the link
/// under a name the layer does not know (`control`) show what Chromium does
/// without the rule: there, the page's URL leaks.
///
/// Runs in `cargo test --workspace` when Chromium and chromedriver are
/// found; set `PORTAL_LINK_REQUIRE_BROWSER=1` (as CI does) to fail when
/// they are not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_never_sends_the_link_in_referer() {
    let found = find_program(
        "CHROMIUM",
        &["chromium", "chromium-browser", "google-chrome"],
    )
    .is_some()
        && find_program("CHROMEDRIVER", &["chromedriver"]).is_some();
    if !found {
        assert!(
            std::env::var_os("PORTAL_LINK_REQUIRE_BROWSER").is_none(),
            "chromium or chromedriver not found (apt-get install -y chromium chromium-driver)"
        );
        eprintln!("skipped: chromium or chromedriver not found");
        return;
    }
    let others_of_page = Arc::new(Mutex::new(Vec::new()));
    let (page_addr, page_seen) = referer_server(Arc::clone(&others_of_page)).await;
    let (other_addr, other_seen) = referer_server(Arc::default()).await;
    *others_of_page.lock().unwrap() = vec![
        format!("http://{other_addr}"),
        format!("http://localhost:{}", other_addr.port()),
    ];
    let browser = Browser::start_with([
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost".to_owned(),
    ])
    .await;
    let client = browser.client.clone();
    browser
        .run(async move {
            let mut findings = Vec::new();
            let (mut pages, mut leaked_controls) = (0, Vec::new());
            let flows = [
                format!("crylk={GUIDE_CRYLK}"),
                format!("crylk={}", test_support::EVIL_CRYLK),
                format!("pa_query={IN_SITE_QUERY}"),
                format!("control={GUIDE_CRYLK}"),
            ];
            for (flow_at, flow) in flows.iter().enumerate() {
                for (case, fields) in REFERRER_POLICIES.iter().enumerate() {
                    let id = format!("{flow_at}-{case}");
                    let url = format!("http://{page_addr}/page?case={case}&{flow}&id={id}");
                    client
                        .goto(&url)
                        .await
                        .unwrap_or_else(|e| panic!("{url}: navigation failed: {e}"));
                    pages += 1;
                    // Every subresource, from each of the three origins.
                    let prefix = format!("/sub/{id}/");
                    let count = |seen: &Seen| {
                        seen.lock()
                            .unwrap()
                            .iter()
                            .filter(|(path, _)| path.starts_with(&prefix))
                            .count()
                    };
                    let want = (SUBRESOURCES.len(), 2 * SUBRESOURCES.len());
                    let deadline = Instant::now() + Duration::from_secs(10);
                    while (count(&page_seen), count(&other_seen)) != want
                        && Instant::now() < deadline
                    {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    let got = (count(&page_seen), count(&other_seen));
                    let shown = fields
                        .iter()
                        .map(|f| String::from_utf8_lossy(f).into_owned())
                        .collect::<Vec<_>>();
                    if got != want {
                        findings.push(format!(
                            "{flow_at}/{shown:?}: {got:?} subresource requests, not {want:?}"
                        ));
                    }
                    for (origin, seen) in [("same-origin", &page_seen), ("cross-origin", &other_seen)] {
                        for (path, referer) in seen.lock().unwrap().iter() {
                            let Some(referer) = referer else { continue };
                            if !path.starts_with(&prefix) || !leaks(referer) {
                                continue;
                            }
                            if flow.starts_with("control=") {
                                leaked_controls.push((case, origin));
                            } else {
                                findings.push(format!(
                                    "{flow}, Referrer-Policy {shown:?}: {origin} {path} got Referer {referer}"
                                ));
                            }
                        }
                    }
                }
            }
            // Without the rule, Chromium sends the page's URL: with no
            // header, and with each list the issue names. A test that never
            // sees a leak there could not see one anywhere.
            for fields in [
                &[][..],
                &[&b"no-referrer, x1"[..]],
                &[b"origin, a=b"],
                &[b"no-referrer, 'x'"],
                &[b"strict-origin", b"x y"],
                &[b"unsafe-url"],
            ] {
                let case = REFERRER_POLICIES.iter().position(|c| *c == fields).unwrap();
                if !leaked_controls.iter().any(|(c, _)| *c == case) {
                    findings.push(format!(
                        "control: no leak with Referrer-Policy {fields:?}, which Chromium ignores"
                    ));
                }
            }
            if !leaked_controls.iter().any(|(_, origin)| *origin == "cross-origin") {
                findings.push("control: no cross-origin leak, even with unsafe-url".to_owned());
            }
            eprintln!(
                "referer: {pages} pages, {} Referrer-Policy cases, {} requests; \
                 {} leaking subresource requests without the rule",
                REFERRER_POLICIES.len(),
                page_seen.lock().unwrap().len() + other_seen.lock().unwrap().len(),
                leaked_controls.len()
            );
            findings
        })
        .await;
}
