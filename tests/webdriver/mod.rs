//! A small W3C WebDriver client over hyper-util's legacy client, and the
//! processes it needs (chromedriver, the example page), each killed when
//! its guard drops, panics included.
//!
//! Only what the browser test uses: a session, navigation, script
//! execution and screenshots.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};

pub type Error = String;

/// A child process, killed and reaped on drop.
pub struct Guard {
    name: &'static str,
    child: Child,
}

impl Guard {
    pub fn new(name: &'static str, child: Child) -> Self {
        Guard { name, child }
    }

    pub fn id(&self) -> u32 {
        self.child.id()
    }

    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            if let Err(e) = self.child.kill() {
                eprintln!("could not kill {} ({}): {e}", self.name, self.child.id());
            }
        }
        let _ = self.child.wait();
    }
}

/// A port on 127.0.0.1 that was free a moment ago, for a program that
/// cannot be told to pick its own.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port on 127.0.0.1")
}

/// The first of `candidates` that is an executable on `PATH` (or a path).
pub fn find_program(env: &str, candidates: &[&str]) -> Option<PathBuf> {
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

/// Starts `program` and waits for a stdout line containing `marker`;
/// returns the guard and the rest of that line after the marker.
pub fn spawn_and_wait_for_line(
    name: &'static str,
    mut command: Command,
    marker: &str,
    timeout: Duration,
) -> Result<(Guard, String), Error> {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start {name}: {e}"))?;
    let stdout = child.stdout.take().expect("piped stdout");
    let guard = Guard::new(name, child);
    let (tx, rx) = mpsc::channel();
    let wanted = marker.to_owned();
    // Keeps reading after the marker, so the child never blocks on a full
    // pipe.
    std::thread::spawn(move || {
        let mut sent = false;
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if !sent {
                if let Some(at) = line.find(&wanted) {
                    let _ = tx.send(line[at + wanted.len()..].trim().to_owned());
                    sent = true;
                }
            }
        }
    });
    let rest = rx
        .recv_timeout(timeout)
        .map_err(|_| format!("{name} did not print {marker:?} within {timeout:?}"))?;
    Ok((guard, rest))
}

/// The example page: `target/debug/examples/subscriptions`, on a free port
/// of 127.0.0.1, with `fallback` as its `hosted-home` link.
pub fn start_example_page(fallback: &str) -> Result<(Guard, SocketAddr), Error> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    // target/debug/deps/browser-HASH -> target/debug/examples/subscriptions
    let binary = exe
        .parent()
        .and_then(Path::parent)
        .map(|debug| debug.join("examples").join("subscriptions"))
        .ok_or("no target directory")?;
    if !binary.is_file() {
        return Err(format!(
            "{} is missing: build it first with `cargo test --all-features` \
             or `cargo build --example subscriptions --features axum`",
            binary.display()
        ));
    }
    let mut command = Command::new(&binary);
    command
        .env("PORT", "0")
        .env("PORTAL_FALLBACK_URL", fallback)
        .stdin(Stdio::null());
    let (guard, addr) = spawn_and_wait_for_line(
        "subscriptions example",
        command,
        "listening on http://",
        Duration::from_secs(30),
    )?;
    let addr = addr
        .parse()
        .map_err(|e| format!("bad address {addr:?}: {e}"))?;
    Ok((guard, addr))
}

/// A WebDriver server (chromedriver) at `base`, e.g. `http://127.0.0.1:9515`.
#[derive(Clone)]
pub struct WebDriver {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
}

impl WebDriver {
    pub fn new(base: String) -> Self {
        let client = Client::builder(TokioExecutor::new()).build_http();
        WebDriver { client, base }
    }

    /// One command: the JSON `value` of a success, or the error's message.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, Error> {
        let payload = body.map(|b| b.to_string()).unwrap_or_default();
        let req = Request::builder()
            .method(method.clone())
            .uri(format!("{}{path}", self.base))
            .header(
                http::header::CONTENT_TYPE,
                "application/json; charset=utf-8",
            )
            .body(Full::new(Bytes::from(payload)))
            .map_err(|e| e.to_string())?;
        let res = self
            .client
            .request(req)
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?;
        let status = res.status();
        let bytes = res
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?
            .to_bytes();
        let json: Value = serde_json::from_slice(&bytes).map_err(|e| {
            format!(
                "{method} {path}: {status}, not JSON ({e}): {}",
                String::from_utf8_lossy(&bytes)
            )
        })?;
        let value = json.get("value").cloned().unwrap_or(Value::Null);
        if status != StatusCode::OK {
            return Err(format!(
                "{method} {path}: {status} {}: {}",
                value["error"].as_str().unwrap_or("?"),
                value["message"].as_str().unwrap_or("?")
            ));
        }
        Ok(value)
    }

    /// Waits until the server reports itself ready.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<(), Error> {
        let start = Instant::now();
        loop {
            match self.send(Method::GET, "/status", None).await {
                Ok(v) if v["ready"].as_bool() == Some(true) => return Ok(()),
                Ok(_) | Err(_) if start.elapsed() < timeout => {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Ok(v) => return Err(format!("not ready: {v}")),
                Err(e) => return Err(e),
            }
        }
    }

    pub async fn new_session(&self, capabilities: Value) -> Result<Session, Error> {
        let value = self
            .send(
                Method::POST,
                "/session",
                Some(json!({ "capabilities": capabilities })),
            )
            .await?;
        let id = value["sessionId"]
            .as_str()
            .ok_or_else(|| format!("no sessionId in {value}"))?
            .to_owned();
        Ok(Session {
            driver: self.clone(),
            id,
        })
    }
}

/// A browser session. End it with [`Session::delete`]: that closes the
/// browser.
pub struct Session {
    driver: WebDriver,
    id: String,
}

impl Session {
    async fn send(
        &self,
        method: Method,
        command: &str,
        body: Option<Value>,
    ) -> Result<Value, Error> {
        let path = format!("/session/{}{command}", self.id);
        self.driver.send(method, &path, body).await
    }

    pub async fn goto(&self, url: &str) -> Result<(), Error> {
        self.send(Method::POST, "/url", Some(json!({ "url": url })))
            .await
            .map(drop)
    }

    /// Runs `script` (a function body) with `args`, returning its result.
    pub async fn execute(&self, script: &str, args: Vec<Value>) -> Result<Value, Error> {
        self.send(
            Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
        .await
    }

    /// A PNG of the viewport.
    pub async fn screenshot(&self) -> Result<Vec<u8>, Error> {
        let value = self.send(Method::GET, "/screenshot", None).await?;
        let b64 = value.as_str().ok_or("screenshot is not a string")?;
        base64_decode(b64)
    }

    pub async fn delete(&self) -> Result<(), Error> {
        self.send(Method::DELETE, "", None).await.map(drop)
    }
}

/// Standard base64 (RFC 4648, with padding), as WebDriver sends
/// screenshots.
pub fn base64_decode(text: &str) -> Result<Vec<u8>, Error> {
    fn sextet(c: u8) -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    let bytes: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if !bytes.len().is_multiple_of(4) {
        return Err("base64 length is not a multiple of 4".into());
    }
    let mut out = Vec::with_capacity(bytes.len() / 4 * 3);
    for chunk in bytes.chunks(4) {
        let pad = chunk.iter().rev().take_while(|&&b| b == b'=').count();
        if pad > 2 {
            return Err("invalid base64 padding".into());
        }
        let mut n = 0u32;
        for &c in &chunk[..4 - pad] {
            n = n << 6 | sextet(c).ok_or("invalid base64")?;
        }
        n <<= 6 * pad as u32;
        out.extend_from_slice(&n.to_be_bytes()[1..4 - pad]);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_round_trips_known_vectors() {
        for (text, bytes) in [
            ("", &b""[..]),
            ("Zg==", b"f"),
            ("Zm8=", b"fo"),
            ("Zm9v", b"foo"),
            ("Zm9vYg==", b"foob"),
            ("Zm9vYmE=", b"fooba"),
            ("Zm9vYmFy", b"foobar"),
            ("iVBORw0KGgo=", b"\x89PNG\r\n\x1a\n"),
        ] {
            assert_eq!(super::base64_decode(text).unwrap(), bytes, "{text}");
        }
        assert!(super::base64_decode("Zm9").is_err());
        assert!(super::base64_decode("Zm9*").is_err());
        assert!(super::base64_decode("Z===").is_err());
    }
}
