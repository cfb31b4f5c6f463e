//! The other half of every page view: the customer's own links, from
//! ProAbono's API Live (feature `api`).
//!
//! A page view without a valid e-mailed link frames the customer's
//! `hosted-home` link (or, on an In-Site account, opens portal.js with the
//! customer's query). ProAbono's API returns those links with the Customer
//! object; they are per customer, they expire, and they can be revoked.
//! [`Client`] fetches them, reads each with the rules and origins of the
//! [`PortalLinkLayer`](crate::PortalLinkLayer) that reads `crylk`, caches
//! them per customer, and keeps keys and links out of `Debug`, errors and
//! logs.
//!
//! - [`Client::customer_links`]: `GET /v1/Customer?ReferenceCustomer=…`,
//!   cached ([`DEFAULT_CACHE_TTL`], one call for any number of concurrent
//!   lookups of a customer, failures not cached).
//! - [`Client::upsert_customer`]: `POST /v1/Customer`, which ProAbono's
//!   guide calls at every sign-in; its links replace the cached ones.
//! - [`Client::revoke_links`]: `POST /v1/Customer/LinksRevokation`, and
//!   the cached links dropped; [`Client::invalidate`] drops them alone.
//!
//! # A page, whole
//!
//! The e-mailed link when the layer accepted one; else the customer's
//! `hosted-home`; else a page that still renders. The client reads the
//! links with the layer's rules and origins
//! ([`links_policy`](ClientBuilder::links_policy)), so the layer's
//! [`csp`](crate::PortalLinkLayer::csp) already frames every link it
//! returns: no [`fallback`](crate::PortalCspLayer::fallback) origin to add
//! for them (only for a static URL outside the allowed origins).
//!
//! ```
//! # #[cfg(feature = "axum")] {
//! use axum::extract::{Request, State};
//! use axum::{response::Html, routing::get, Router, ServiceExt};
//! use tower::Layer;
//! use tower_portal_link::api::{Client, Config};
//! use tower_portal_link::{PortalLinkLayer, PortalTarget};
//!
//! async fn page(State(api): State<Client>, link: Option<PortalTarget>) -> Html<String> {
//!     let customer = "cust-42"; // from the session, never from the request
//!     let src = match link {
//!         Some(link) => link,
//!         None => match api.customer_links(customer).await {
//!             Ok(links) => match links.hosted_home() {
//!                 Ok(home) => home.clone(),
//!                 // No `hosted-home` for this customer, or a refused one.
//!                 Err(_) => return Html("<p>No portal for this account.</p>".into()),
//!             },
//!             // ProAbono down or slow: the page still renders, in time.
//!             Err(_) => return Html("<p>The portal is unavailable.</p>".into()),
//!         },
//!     };
//!     let src = src.as_str().replace('&', "&amp;").replace('"', "&quot;");
//!     Html(format!(r#"<iframe src="{src}" height="700"></iframe>"#))
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let stand_in = test_support::api_live::ApiLive::start().await;
//! # let pem = std::env::temp_dir().join(format!("api-doc-{}.pem", stand_in.addr().port()));
//! # std::fs::write(&pem, stand_in.cert_pem())?;
//! # std::env::set_var("SSL_CERT_FILE", &pem);
//! # std::env::set_var("PROABONO_API_ENDPOINT", stand_in.endpoint());
//! # std::env::set_var("PROABONO_AGENT_KEY", test_support::api_live::AGENT_KEY);
//! # std::env::set_var("PROABONO_API_KEY", test_support::api_live::API_KEY);
//! let layer = PortalLinkLayer::new();
//! let api = Client::builder(Config::from_env()?).links_policy(&layer).build()?;
//! let router = Router::new()
//!     .route("/Subscriptions", get(page).layer(layer.csp()))
//!     .with_state(api.clone());
//! let app = layer.layer(router);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! # let addr = listener.local_addr()?;
//! # tokio::spawn(async move {
//! axum::serve(listener, ServiceExt::<Request>::into_make_service(app)).await
//! # });
//! # let home = stand_in.hosted_home("cust-42").unwrap();
//! # let res = test_support::get(addr, "/Subscriptions").await;
//! # assert!(test_support::text(&res).contains(&home));
//! # let guide = format!("/Subscriptions?crylk={}", test_support::GUIDE_CRYLK);
//! # assert!(test_support::text(&test_support::get(addr, &guide).await).contains(test_support::GUIDE_LINK));
//! # stand_in.fail_always(Some(test_support::api_live::Fault::Status(503)));
//! # api.invalidate("cust-42").await;
//! # let res = test_support::get(addr, "/Subscriptions").await;
//! # assert_eq!(res.status(), 200);
//! # assert!(test_support::text(&res).contains("unavailable"));
//! # std::fs::remove_file(pem)?;
//! # Ok(())
//! # }
//! # }
//! ```
//!
//! On an In-Site account, the customer's queries come the same way:
//! `links.query(rel::INSITE_COLLECTION_OFFERS)` is a
//! [`PortalQuery`](crate::PortalQuery) for `ProAbonoPortal.open({query})`
//! (with the `in-site` feature, `InSite::open_for(customer).query(&query)`).
//!
//! # Resilience
//!
//! The HTTP client is a `tower::Service` (hyper-util's, over rustls, by
//! default; [`ClientBuilder::transport`] takes another). Around it, as
//! tower middleware: a concurrency limit ([`DEFAULT_CONCURRENCY`]), a
//! per-attempt timeout ([`DEFAULT_TIMEOUT`]), and retries
//! ([`DEFAULT_MAX_RETRIES`]) where ProAbono says to retry: `429` after its
//! `Retry-After` when within [`DEFAULT_RETRY_AFTER_CAP`], `502`, `503`,
//! `504` and connection errors, after a jittered exponential backoff;
//! never another `4xx`, a `500`, a timeout or an oversized answer. The
//! whole call is bounded by the overall deadline ([`DEFAULT_DEADLINE`]):
//! a page view waits at most that long, then renders its fallback. Bodies
//! are read up to [`DEFAULT_MAX_RESPONSE_BYTES`].
//!
//! # TLS
//!
//! By default the client speaks HTTP/1.1 over rustls (`ring`), and trusts
//! the platform's root certificates, read once when the client is built
//! (`rustls-native-certs`: when `SSL_CERT_FILE` or `SSL_CERT_DIR` is set,
//! their certificates instead). [`ClientBuilder::tls_config`] takes a rustls
//! configuration of your own (a private CA), and
//! [`ClientBuilder::transport`] any `tower::Service` of `http` requests (a
//! proxy). The endpoint is `https`: plain `http` only through
//! [`Config::plain_http`], for a local test server.
//!
//! # Secrets
//!
//! The agent and API keys, the links and the queries never appear in
//! `Debug`, `Display`, errors or `tracing` events (with the `tracing`
//! feature, one `DEBUG` event per call and a `WARN` per failure carry the
//! operation, the error's code and the time taken). The `Authorization`
//! header is marked sensitive.

mod cache;
mod client;
mod config;
mod error;
mod links;
mod reference;
mod retry;
mod secret;
mod transport;

pub use self::client::{
    Client, ClientBuilder, NewCustomer, DEFAULT_CACHE_CAPACITY, DEFAULT_CACHE_TTL,
    DEFAULT_CONCURRENCY, DEFAULT_DEADLINE, DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_MAX_RETRIES,
    DEFAULT_RETRY_AFTER_CAP, DEFAULT_TIMEOUT,
};
pub use self::config::{Config, ConfigError, ENV_AGENT_KEY, ENV_API_KEY, ENV_ENDPOINT};
pub use self::error::ApiError;
pub use self::links::{rel, CustomerLinks, LinkError, MAX_HREF};
pub use self::reference::{CustomerRef, InvalidReference};
pub use self::transport::ApiRequest;
