//! What the layer costs a real server: the same axum app, served over
//! 127.0.0.1 with and without `PortalLinkLayer::new()` outermost, loaded by
//! `wrk`, for each request of `common::e2e()`.
//!
//! ```text
//! cargo bench --bench e2e     # the load: a Markdown table on stdout
//! cargo test --bench e2e      # one request of each kind to each server
//! ```
//!
//! With `--bench`, each server runs in its own process pinned to one core
//! (`taskset -c $E2E_SERVER_CPU`, 0 by default) and `wrk` on another
//! (`$E2E_CLIENT_CPU`, 1), for `$E2E_SECONDS` (5) a request and server,
//! after a warm-up of each server. Needs `wrk` and `taskset` (Debian:
//! `apt-get install -y wrk`; `taskset` is in util-linux). Without it (as
//! `cargo test` runs it), both servers run in this process and answer one
//! request of each kind: every one gets a 200, and only the layer frames
//! the guide's link.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::extract::Request;
use axum::response::Html;
use axum::routing::get;
use axum::{Router, ServiceExt};
use tower::Layer;
use tower_portal_link::{PortalLinkLayer, PortalTarget};

mod common;

/// The `hosted-home` link of ProAbono's Customer object.
const HOSTED_HOME: &str = "https://demo-eur.proabono.com/portal-anon";

/// The page: the link the layer accepted in an iframe, or `hosted-home`.
/// Without the layer, no request carries a target: the page is the same.
async fn subscriptions(req: Request) -> Html<String> {
    let src = req
        .extensions()
        .get::<PortalTarget>()
        .map_or(HOSTED_HOME, PortalTarget::as_str);
    let src = src.replace('&', "&amp;").replace('"', "&quot;");
    Html(format!(r#"<iframe src="{src}" height="700"></iframe>"#))
}

fn router() -> Router {
    Router::new().route(common::PATH, get(subscriptions))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Server {
    Bare,
    Layer,
}

impl Server {
    const BOTH: [Server; 2] = [Server::Bare, Server::Layer];

    fn name(self) -> &'static str {
        match self {
            Server::Bare => "bare",
            Server::Layer => "layer",
        }
    }
}

/// Serves the app on `listener`, the layer outermost for [`Server::Layer`],
/// as the README's quick start does.
async fn serve(server: Server, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    match server {
        Server::Bare => axum::serve(listener, router()).await,
        Server::Layer => {
            let app = PortalLinkLayer::new().layer(router());
            axum::serve(listener, ServiceExt::<Request>::into_make_service(app)).await
        }
    }
}

/// A server of its own, on one thread: what the benchmark pins to a core.
/// Prints its address, then serves until killed.
fn serve_process(server: Server) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!("{}", listener.local_addr()?);
        std::io::stdout().flush()?;
        serve(server, listener).await
    })
}

/// One request over a fresh connection: the status code and the body.
fn get_once(addr: SocketAddr, uri: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    write!(
        stream,
        "GET {uri} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .expect("send the request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("read the response");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {response:.80}"));
    let body = response
        .split_once("\r\n\r\n")
        .map_or("", |(_, body)| body)
        .to_owned();
    (status, body)
}

/// Every request of the benchmark, once to each server: a 200 from both
/// (hyper and `http` take URIs of this length), and the guide's link
/// framed by the layer's server only.
fn check(addrs: &[(Server, SocketAddr)]) {
    for case in common::e2e() {
        for &(server, addr) in addrs {
            let (status, body) = get_once(addr, &case.uri);
            assert_eq!(status, 200, "{} {}", server.name(), case.name);
            let framed = body.contains("0p9i35O1V9_JJRfC0nIeE96ot9e1LcN349");
            let expected =
                server == Server::Layer && matches!(case.name, "valid_link" | "link_then_kept");
            assert_eq!(framed, expected, "{} {}: {body}", server.name(), case.name);
        }
    }
}

/// `cargo test`: both servers in this process, one request of each kind.
fn smoke_test() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let addrs: Vec<(Server, SocketAddr)> = Server::BOTH
        .iter()
        .map(|&server| {
            let listener = runtime
                .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
                .expect("bind");
            let addr = listener.local_addr().expect("address");
            runtime.spawn(serve(server, listener));
            (server, addr)
        })
        .collect();
    check(&addrs);
    println!(
        "e2e: {} requests to each server answered",
        common::e2e().len()
    );
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

/// A server process pinned to `cpu`, and its address.
fn spawn_server(server: Server, cpu: &str) -> (Child, SocketAddr) {
    let exe = std::env::current_exe().expect("this benchmark's path");
    let mut child = Command::new("taskset")
        .args(["-c", cpu])
        .arg(exe)
        .args(["serve", server.name()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("taskset (util-linux) runs the server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped"))
        .read_line(&mut line)
        .expect("the server's address");
    let addr = line.trim().parse().expect("an address");
    (child, addr)
}

/// `wrk` pinned to `cpu`, for `seconds`, on `uri`: requests a second.
fn wrk(cpu: &str, seconds: &str, addr: SocketAddr, uri: &str) -> f64 {
    let output = Command::new("taskset")
        .args(["-c", cpu, "wrk", "-t1", "-c16"])
        .arg(format!("-d{seconds}s"))
        .arg(format!("http://{addr}{uri}"))
        .output()
        .expect("wrk runs (apt-get install -y wrk)");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && !text.contains("Non-2xx"),
        "wrk failed: {text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    text.lines()
        .find_map(|line| line.strip_prefix("Requests/sec:"))
        .and_then(|rate| rate.trim().parse().ok())
        .unwrap_or_else(|| panic!("no rate in wrk's output: {text}"))
}

/// `cargo bench`: the load, one request kind at a time, each server in
/// turn; a Markdown table on stdout.
fn bench() {
    let server_cpu = env_or("E2E_SERVER_CPU", "0");
    let client_cpu = env_or("E2E_CLIENT_CPU", "1");
    let seconds = env_or("E2E_SECONDS", "5");
    let servers: Vec<(Server, Child, SocketAddr)> = Server::BOTH
        .iter()
        .map(|&server| {
            let (child, addr) = spawn_server(server, &server_cpu);
            (server, child, addr)
        })
        .collect();
    let addrs: Vec<(Server, SocketAddr)> = servers.iter().map(|(s, _, a)| (*s, *a)).collect();
    check(&addrs);
    for &(_, addr) in &addrs {
        wrk(&client_cpu, "2", addr, common::PATH);
    }
    println!(
        "Requests a second, `wrk -t1 -c16 -d{seconds}s` on CPU {client_cpu}, \
         each server alone on CPU {server_cpu}:\n"
    );
    println!("| request | query bytes | without the layer | with it | with / without |");
    println!("|---|---:|---:|---:|---:|");
    for case in common::e2e() {
        let rates: Vec<f64> = addrs
            .iter()
            .map(|&(_, addr)| wrk(&client_cpu, &seconds, addr, &case.uri))
            .collect();
        let query = case.uri.split_once('?').map_or(0, |(_, q)| q.len());
        println!(
            "| {} | {query} | {:.0} | {:.0} | {:.2} |",
            case.name,
            rates[0],
            rates[1],
            rates[1] / rates[0]
        );
    }
    for (_, mut child, _) in servers {
        child.kill().ok();
        child.wait().ok();
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["serve", "bare"] => serve_process(Server::Bare).expect("serve"),
        ["serve", "layer"] => serve_process(Server::Layer).expect("serve"),
        args if args.contains(&"--bench") => bench(),
        _ => smoke_test(),
    }
}
