//! A stand-in for ProAbono's API Live: real HTTP/1.1 over TLS on
//! 127.0.0.1, with a certificate made at start that only its own
//! [`ApiLive::tls_config`] trusts. It answers the customer routes a portal
//! page needs as ProAbono documents them (`GET` and `POST /v1/Customer`,
//! `POST /v1/Customer/LinksRevokation`; Basic auth; `401`, `403` with
//! `Error.Api.Customer.Unaccessible`, `404`, `429`, `5xx`, error bodies
//! `{Code, Message, Target, Exception}`) and injects faults on demand.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rustls::pki_types::CertificateDer;

/// The agent key the stand-in accepts.
pub const AGENT_KEY: &str = "stand-in-agent-key-7f3a";
/// The API key the stand-in accepts.
pub const API_KEY: &str = "stand-in-api-key-c91e0b";
/// The demo customer every stand-in knows.
pub const DEMO_CUSTOMER: &str = "cust-42";
/// The segment of the stand-in's links.
pub const SEGMENT_HOST: &str = "demo-eur.proabono.com";

/// One entry of a Customer object's `Links`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// `rel`.
    pub rel: String,
    /// `href`, if any.
    pub href: Option<String>,
    /// `query`, if any.
    pub query: Option<String>,
}

impl Link {
    /// A link with an `href`.
    pub fn href(rel: &str, href: &str) -> Link {
        Link {
            rel: rel.to_owned(),
            href: Some(href.to_owned()),
            query: None,
        }
    }

    /// A link with a `query`.
    pub fn query(rel: &str, query: &str) -> Link {
        Link {
            rel: rel.to_owned(),
            href: None,
            query: Some(query.to_owned()),
        }
    }
}

/// What the next answer (or every answer) is instead of the normal one.
#[derive(Clone, Debug)]
pub enum Fault {
    /// This status, with ProAbono's error body for it (`403` is
    /// `Error.Api.Customer.Unaccessible`).
    Status(u16),
    /// `429` with `Retry-After: <seconds>`.
    RetryAfter(u64),
    /// `503` with `Retry-After: <seconds>`.
    UnavailableRetryAfter(u64),
    /// The normal answer, after this long.
    Slow(Duration),
    /// The headers of the normal answer, then a body that never ends
    /// before this long.
    SlowBody(Duration),
    /// The connection is closed without an answer.
    Reset,
    /// `200` with a body that is not JSON.
    MalformedJson,
    /// `200` with a JSON body of this many bytes.
    Oversized(usize),
    /// `200` with a body this many bytes long, without `Content-Length`
    /// (chunked).
    OversizedChunked(usize),
    /// This status and body, as they are.
    Raw(u16, String),
}

/// A request the stand-in received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hit {
    /// The method.
    pub method: Method,
    /// The path.
    pub path: String,
    /// The `ReferenceCustomer` of the query or the body, decoded.
    pub reference: Option<String>,
    /// Whether the `Authorization` header was the stand-in's keys.
    pub authorized: bool,
}

#[derive(Clone, Debug)]
struct Customer {
    generation: u32,
    links: Option<Vec<Link>>,
    unaccessible: bool,
    name: Option<String>,
}

#[derive(Default)]
struct State {
    customers: Mutex<HashMap<String, Customer>>,
    next: Mutex<VecDeque<Fault>>,
    always: Mutex<Option<Fault>>,
    hits: Mutex<Vec<Hit>>,
    count: AtomicUsize,
}

/// The stand-in, serving until dropped.
pub struct ApiLive {
    addr: SocketAddr,
    cert: CertificateDer<'static>,
    state: Arc<State>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for ApiLive {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl std::fmt::Debug for ApiLive {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiLive").field("addr", &self.addr).finish()
    }
}

impl ApiLive {
    /// Starts a stand-in on 127.0.0.1 that knows [`DEMO_CUSTOMER`].
    pub async fn start() -> ApiLive {
        let crate::tls::SelfSigned { acceptor, cert, .. } =
            crate::tls::self_signed(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]);
        let (listener, addr) = crate::listener().await;
        let state = Arc::new(State::default());
        let shared = Arc::clone(&state);
        let server = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let (acceptor, state) = (acceptor.clone(), Arc::clone(&shared));
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let service = service_fn(move |req: Request<Incoming>| {
                        let state = Arc::clone(&state);
                        async move { answer(&state, req).await }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(tls), service)
                        .await;
                });
            }
        });
        let api = ApiLive {
            addr,
            cert,
            state,
            server,
        };
        api.add_customer(DEMO_CUSTOMER);
        api
    }

    /// `https://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A rustls client configuration that trusts this stand-in's
    /// certificate and nothing else.
    pub fn tls_config(&self) -> rustls::ClientConfig {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(self.cert.clone())
            .expect("the stand-in's certificate");
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth()
    }

    /// The certificate, PEM-encoded (for `SSL_CERT_FILE`).
    pub fn cert_pem(&self) -> String {
        let b64 = base64::engine::general_purpose::STANDARD.encode(self.cert.as_ref());
        let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
        pem
    }

    /// Adds a customer with the stand-in's usual links
    /// ([`ApiLive::usual_links`]).
    pub fn add_customer(&self, reference: &str) {
        self.state.customers.lock().unwrap().insert(
            reference.to_owned(),
            Customer {
                generation: 1,
                links: None,
                unaccessible: false,
                name: None,
            },
        );
    }

    /// Adds a customer (or replaces its links) with these links, as they
    /// are: hosts, shapes and rels of the test's choosing.
    pub fn set_links(&self, reference: &str, links: Vec<Link>) {
        let mut customers = self.state.customers.lock().unwrap();
        let customer = customers.entry(reference.to_owned()).or_insert(Customer {
            generation: 1,
            links: None,
            unaccessible: false,
            name: None,
        });
        customer.links = Some(links);
    }

    /// A customer the keys may not read: another segment or environment
    /// (`403`, `Error.Api.Customer.Unaccessible`).
    pub fn add_unaccessible_customer(&self, reference: &str) {
        self.add_customer(reference);
        if let Some(c) = self.state.customers.lock().unwrap().get_mut(reference) {
            c.unaccessible = true;
        }
    }

    /// The links of a customer with the stand-in's usual shape: a
    /// `hosted-home` and the In-Site rels, whose tokens change with each
    /// revocation.
    pub fn usual_links(reference: &str, generation: u32) -> Vec<Link> {
        let token: String = format!("{reference}:{generation}")
            .bytes()
            .map(|b| format!("{b:02x}"))
            .collect();
        vec![
            Link::href(
                "hosted-home",
                &format!("https://{SEGMENT_HOST}/portal-auth/{token}"),
            ),
            Link::href(
                "insite-home",
                &format!("https://{SEGMENT_HOST}/portal-auth/{token}I"),
            ),
            Link::query("insite-collection-offers", &format!("{token}O")),
            Link::query("insite-register", &format!("{token}R")),
        ]
    }

    /// The `hosted-home` the stand-in returns for a customer now.
    pub fn hosted_home(&self, reference: &str) -> Option<String> {
        let customers = self.state.customers.lock().unwrap();
        let customer = customers.get(reference)?;
        links_of(reference, customer)
            .into_iter()
            .find(|l| l.rel == "hosted-home")
            .and_then(|l| l.href)
    }

    /// The next answer is `fault` (queued after earlier ones).
    pub fn fail_next(&self, fault: Fault) {
        self.state.next.lock().unwrap().push_back(fault);
    }

    /// Every answer is `fault`, until `None`; queued faults come first.
    pub fn fail_always(&self, fault: Option<Fault>) {
        *self.state.always.lock().unwrap() = fault;
    }

    /// How many requests it received, answered or not.
    pub fn count(&self) -> usize {
        self.state.count.load(Ordering::SeqCst)
    }

    /// The requests it received, in order.
    pub fn hits(&self) -> Vec<Hit> {
        self.state.hits.lock().unwrap().clone()
    }
}

fn links_of(reference: &str, customer: &Customer) -> Vec<Link> {
    customer
        .links
        .clone()
        .unwrap_or_else(|| ApiLive::usual_links(reference, customer.generation))
}

type Answer = Response<http_body_util::combinators::BoxBody<Bytes, Infallible>>;

fn full(status: u16, body: impl Into<Bytes>) -> Answer {
    let mut res = Response::new(Full::new(body.into()).boxed());
    *res.status_mut() = StatusCode::from_u16(status).expect("a status");
    res.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json; charset=utf-8"),
    );
    res
}

fn error(status: u16, code: &str, message: &str) -> Answer {
    let body = serde_json::json!({
        "Code": code, "Message": message, "Target": null, "Exception": null,
    });
    full(status, body.to_string())
}

fn documented_error(status: u16) -> Answer {
    match status {
        401 => error(401, "Error.Api.Authentication", "Authentication failed"),
        403 => error(
            403,
            "Error.Api.Customer.Unaccessible",
            "You cannot access that Customer",
        ),
        404 => error(404, "Error.Api.Customer.NotFound", "Customer not found"),
        429 => error(429, "Error.Api.RateLimited", "Too many requests"),
        status => error(status, "Error.Api.Unexpected", "Something went wrong"),
    }
}

fn customer_json(reference: &str, customer: &Customer) -> String {
    let links: Vec<serde_json::Value> = links_of(reference, customer)
        .into_iter()
        .map(|l| {
            let mut entry = serde_json::Map::new();
            entry.insert("rel".into(), l.rel.into());
            if let Some(href) = l.href {
                entry.insert("href".into(), href.into());
            }
            if let Some(query) = l.query {
                entry.insert("query".into(), query.into());
            }
            serde_json::Value::Object(entry)
        })
        .collect();
    serde_json::json!({
        "Id": 233700,
        "IdSegment": 69,
        "ReferenceCustomer": reference,
        "ReferenceSegment": "demo-eur",
        "Currency": "EUR",
        "Name": customer.name,
        "Language": "en",
        "Status": "Enabled",
        "Links": links,
    })
    .to_string()
}

fn reference_from_query(query: Option<&str>) -> Option<String> {
    let query = query?;
    query.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        (name == "ReferenceCustomer").then(|| decode(value))
    })
}

fn decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// ProAbono's rules for a reference.
fn valid_reference(reference: &str) -> bool {
    !reference.is_empty()
        && reference.chars().count() <= 50
        && !reference.contains(['<', '>', ';', '"', '=', '?', '&'])
}

async fn answer(state: &State, req: Request<Incoming>) -> Result<Answer, std::io::Error> {
    state.count.fetch_add(1, Ordering::SeqCst);
    let expected = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{AGENT_KEY}:{API_KEY}"))
    );
    let authorized = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .is_some_and(|v| v.as_bytes() == expected.as_bytes());
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let mut reference = reference_from_query(req.uri().query());
    let body = Limited::new(req.into_body(), 64 * 1024)
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let posted: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
    if reference.is_none() {
        reference = posted
            .as_ref()
            .and_then(|v| v.get("ReferenceCustomer"))
            .and_then(|v| v.as_str())
            .map(str::to_owned);
    }
    state.hits.lock().unwrap().push(Hit {
        method: method.clone(),
        path: path.clone(),
        reference: reference.clone(),
        authorized,
    });

    let fault = state
        .next
        .lock()
        .unwrap()
        .pop_front()
        .or_else(|| state.always.lock().unwrap().clone());
    let mut slow_body = None;
    match fault {
        None => {}
        Some(Fault::Status(status)) => return Ok(documented_error(status)),
        Some(Fault::RetryAfter(secs)) => {
            let mut res = documented_error(429);
            res.headers_mut()
                .insert(http::header::RETRY_AFTER, secs.to_string().parse().unwrap());
            return Ok(res);
        }
        Some(Fault::UnavailableRetryAfter(secs)) => {
            let mut res = documented_error(503);
            res.headers_mut()
                .insert(http::header::RETRY_AFTER, secs.to_string().parse().unwrap());
            return Ok(res);
        }
        Some(Fault::Slow(delay)) => tokio::time::sleep(delay).await,
        Some(Fault::SlowBody(delay)) => slow_body = Some(delay),
        Some(Fault::Reset) => {
            return Err(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "the stand-in drops the connection",
            ))
        }
        Some(Fault::MalformedJson) => {
            return Ok(full(200, "{\"Links\": [{\"rel\": \"hosted-home\", "))
        }
        Some(Fault::Oversized(len)) => {
            let filler = "x".repeat(len.saturating_sub(20));
            return Ok(full(200, format!("{{\"Filler\": \"{filler}\"}}")));
        }
        Some(Fault::OversizedChunked(len)) => {
            let mut res = Response::new(Chunked { left: len }.boxed());
            *res.status_mut() = StatusCode::OK;
            return Ok(res);
        }
        Some(Fault::Raw(status, body)) => return Ok(full(status, body)),
    }

    if !authorized {
        return Ok(documented_error(401));
    }
    let known_route = matches!(
        (&method, path.as_str()),
        (&Method::GET, "/v1/Customer")
            | (&Method::POST, "/v1/Customer")
            | (&Method::POST, "/v1/Customer/LinksRevokation")
    );
    if !known_route {
        return Ok(error(404, "Error.Api.NotFound", "No such route"));
    }
    let Some(reference) = reference.filter(|r| valid_reference(r)) else {
        return Ok(error(
            400,
            "Error.Api.Customer.Reference",
            "Invalid ReferenceCustomer",
        ));
    };
    let json = {
        let mut customers = state.customers.lock().unwrap();
        if method == Method::POST && path == "/v1/Customer" {
            let customer = customers.entry(reference.clone()).or_insert(Customer {
                generation: 1,
                links: None,
                unaccessible: false,
                name: None,
            });
            customer.name = posted
                .as_ref()
                .and_then(|v| v.get("Name"))
                .and_then(|v| v.as_str())
                .map(str::to_owned);
        }
        let Some(customer) = customers.get_mut(&reference) else {
            return Ok(documented_error(404));
        };
        if customer.unaccessible {
            return Ok(documented_error(403));
        }
        if path == "/v1/Customer/LinksRevokation" {
            customer.generation += 1;
        }
        customer_json(&reference, customer)
    };
    let Some(delay) = slow_body else {
        return Ok(full(200, json));
    };
    // The headers now, the body after `delay`.
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        let _ = tx.send(Bytes::from(json)).await;
    });
    let mut res = Response::new(Delayed(rx).boxed());
    *res.status_mut() = StatusCode::OK;
    Ok(res)
}

/// A body of `left` spaces, in chunks, without a length.
struct Chunked {
    left: usize,
}

impl hyper::body::Body for Chunked {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Infallible>>> {
        if self.left == 0 {
            return std::task::Poll::Ready(None);
        }
        let n = self.left.min(1024);
        self.left -= n;
        std::task::Poll::Ready(Some(Ok(hyper::body::Frame::data(Bytes::from(vec![
            b' ';
            n
        ])))))
    }
}

/// A body that arrives when its sender sends it.
struct Delayed(tokio::sync::mpsc::Receiver<Bytes>);

impl hyper::body::Body for Delayed {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Infallible>>> {
        self.0
            .poll_recv(cx)
            .map(|data| data.map(|data| Ok(hyper::body::Frame::data(data))))
    }
}
