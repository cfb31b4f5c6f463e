//! The real-browser differential: headless Chromium, driven over WebDriver,
//! loads the example Subscription page for every corpus case, and its own
//! URL parser judges every link the layer accepts.
//!
//! Needs `chromium` and `chromedriver` (Debian: `apt-get install -y
//! chromium chromium-driver`; or set `CHROMIUM` and `CHROMEDRIVER`) and the
//! example binary that `cargo test --all-features` builds. Run with
//! `cargo test --all-features --test browser -- --ignored`. No network is
//! used: the page listens on 127.0.0.1, and Chromium resolves no other
//! host, so the portal iframe itself never loads.
//!
//! Screenshots of the page, with an accepted and with a refused link, are
//! left in `target/browser/`.

mod corpus_cases;
mod webdriver;

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use corpus_cases::{decoded_values, host_allowed, load, refusal_for, Case, Expected, Kind};
use serde_json::{json, Value};
use tower_portal_link::validate_link;
use webdriver::{find_program, free_port, spawn_and_wait_for_line, Guard, Session, WebDriver};

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

/// A directory removed on drop.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn target_dir() -> PathBuf {
    // target/debug/deps/browser-HASH
    let exe = std::env::current_exe().expect("current exe");
    exe.ancestors().nth(3).expect("target dir").to_path_buf()
}

fn start_chromedriver(program: &PathBuf) -> (Guard, WebDriver) {
    let mut last = String::new();
    // The port is free when picked and taken by chromedriver a moment
    // later; another process may win it in between, hence the retries.
    for _ in 0..3 {
        let port = free_port();
        let mut command = Command::new(program);
        command
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdin(Stdio::null());
        match spawn_and_wait_for_line(
            "chromedriver",
            command,
            "was started successfully",
            Duration::from_secs(30),
        ) {
            Ok((guard, _)) => {
                return (guard, WebDriver::new(format!("http://127.0.0.1:{port}")));
            }
            Err(e) => last = e,
        }
    }
    panic!("chromedriver did not start: {last}");
}

/// The differences found, one line each; empty when Chromium agrees.
type Findings = Vec<String>;

async fn check_page(session: &Session, addr: &str, case: &Case) -> Result<Findings, String> {
    session
        .goto(&format!("http://{addr}/Subscriptions?{}", case.query))
        .await?;
    let page = session.execute(READ_PAGE, vec![]).await?;
    let (src, host, line) = (
        page["src"].as_str().unwrap_or_default(),
        page["host"].as_str().unwrap_or_default(),
        page["line"].as_str().unwrap_or_default(),
    );
    let mut findings = Vec::new();
    let mut fail = |what: String| findings.push(format!("{} ({}): {what}", case.id, case.note));
    match &case.expected {
        Expected::Accepted(link) => {
            if line != "Portal link: crylk" {
                fail(format!("page says {line:?}, not the portal"));
            }
            let want = url::Url::parse(link).map_err(|e| e.to_string())?;
            if !host_allowed(host) || Some(host) != want.host_str() {
                fail(format!(
                    "UNSAFE: the iframe loads host {host:?} (src {src:?}), the layer checked {:?}",
                    want.host_str()
                ));
            }
            if src != link {
                fail(format!(
                    "iframe src {src:?} is not the canonical link {link:?}"
                ));
            }
        }
        Expected::Refused(code) => {
            let want = format!(
                "Portal link: fallback (crylk refused: {})",
                refusal_for(code)
            );
            if line != want {
                fail(format!("page says {line:?}, expected {want:?}"));
            }
            if src != FALLBACK {
                fail(format!("iframe src {src:?} is not the fallback"));
            }
        }
        Expected::Absent => {
            if line != "Portal link: fallback (no crylk)" {
                fail(format!("page says {line:?}, expected no crylk"));
            }
            if src != FALLBACK {
                fail(format!("iframe src {src:?} is not the fallback"));
            }
        }
    }
    Ok(findings)
}

/// What Chromium's parser makes of each value, in batches.
async fn chromium_parse(session: &Session, values: &[String]) -> Result<Vec<Value>, String> {
    let mut out = Vec::with_capacity(values.len());
    for batch in values.chunks(500) {
        let parsed = session.execute(PARSE_ALL, vec![json!(batch)]).await?;
        let parsed = parsed.as_array().ok_or("not an array")?;
        if parsed.len() != batch.len() {
            return Err("short answer".into());
        }
        out.extend(parsed.iter().cloned());
    }
    Ok(out)
}

/// For each value the crate accepts, Chromium must see the same https host,
/// inside the allow-list, with no credentials and no port. Returns the
/// findings and how many refused values Chromium would have loaded from
/// outside the allow-list (the ones the layer is there to stop).
async fn differential(
    session: &Session,
    values: &[(String, String)],
) -> Result<(Findings, usize, usize), String> {
    let texts: Vec<String> = values.iter().map(|(_, v)| v.clone()).collect();
    let parsed = chromium_parse(session, &texts).await?;
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
    Ok((findings, accepted, stopped))
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

async fn run(session: &Session, addr: &str) -> Result<(), String> {
    let started = Instant::now();
    let cases = load();
    let artifacts = target_dir().join("browser");
    std::fs::create_dir_all(&artifacts).map_err(|e| e.to_string())?;

    // 1. Every corpus case, as a person following the link would see it.
    let mut findings = Vec::new();
    let mut shots = (false, false);
    for case in &cases {
        if case.known_failure {
            // The page shows what the core does today; the corpus test
            // reports these loudly.
            continue;
        }
        findings.extend(check_page(session, addr, case).await?);
        let accepted_legit = case.kind == Kind::Legitimate;
        let refused = matches!(case.expected, Expected::Refused("host_not_allowed"));
        if (accepted_legit && !shots.0) || (refused && !shots.1) {
            let png = session.screenshot().await?;
            let name = if accepted_legit {
                "portal-accepted.png"
            } else {
                "portal-refused.png"
            };
            std::fs::write(artifacts.join(name), png).map_err(|e| e.to_string())?;
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
    let (found, accepted, stopped) = differential(session, &values).await?;
    findings.extend(found);

    // 3. And on mutations of real links around their authority.
    let mutated = mutations();
    let (found, m_accepted, m_stopped) = differential(session, &mutated).await?;
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
    // A differential that never sees an attack prove nothing.
    if stopped < 50 || m_stopped < 50 {
        findings.push(format!(
            "only {stopped} corpus values and {m_stopped} mutations would fool Chromium"
        ));
    }
    if findings.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} finding(s):\n{}",
            findings.len(),
            findings.join("\n")
        ))
    }
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

    let (_page, addr) = webdriver::start_example_page(FALLBACK).expect("example page");
    let (_driver_process, driver) = start_chromedriver(&chromedriver);
    driver
        .wait_ready(Duration::from_secs(30))
        .await
        .expect("chromedriver ready");

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
    let session = driver
        .new_session(json!({
            "alwaysMatch": {
                "browserName": "chrome",
                // The portal iframe never loads here: do not wait for it.
                "pageLoadStrategy": "eager",
                "timeouts": { "pageLoad": 20000, "script": 20000 },
                "goog:chromeOptions": { "binary": chromium, "args": args },
            }
        }))
        .await
        .expect("browser session");

    // The session is closed (and the browser with it) however `run` ends;
    // the guards then kill chromedriver and the page.
    let session = std::sync::Arc::new(session);
    let worker = {
        let session = session.clone();
        let addr = addr.to_string();
        tokio::spawn(async move { run(&session, &addr).await })
    };
    let outcome = worker.await;
    if let Err(e) = session.delete().await {
        eprintln!("could not close the browser session: {e}");
    }
    match outcome {
        Ok(Ok(())) => {}
        Ok(Err(findings)) => panic!("{findings}"),
        Err(join) => std::panic::resume_unwind(join.into_panic()),
    }
}
