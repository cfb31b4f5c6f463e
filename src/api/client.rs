//! The client: the calls a portal page needs, over a tower stack.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::Full;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde::{Deserialize, Serialize};
use tower::limit::ConcurrencyLimitLayer;
use tower::retry::RetryLayer;
use tower::timeout::TimeoutLayer;
use tower::util::BoxCloneSyncService;
use tower::{BoxError, Service, ServiceBuilder, ServiceExt};

use super::cache::LinkCache;
use super::links::RawLink;
use super::retry::{retry_after, RetryPolicy};
use super::transport::{exchange, https, ApiRequest, AttemptError, Exchange};
use super::{ApiError, Config, ConfigError, CustomerLinks, CustomerRef, InvalidReference};
use crate::policy::Policy;
use crate::PortalLinkLayer;

/// The per-call timeout by default: one attempt, connection and body
/// included.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
/// The overall deadline by default: every attempt and wait of one call,
/// the wait for a slot of the concurrency limit included. The longest a
/// page view waits for the customer's links.
pub const DEFAULT_DEADLINE: Duration = Duration::from_secs(2);
/// Retries after the first attempt, by default.
pub const DEFAULT_MAX_RETRIES: u32 = 2;
/// The longest `Retry-After` the client waits, by default; a longer one
/// ends the call with [`ApiError::RateLimited`].
pub const DEFAULT_RETRY_AFTER_CAP: Duration = Duration::from_secs(1);
/// Calls in flight at once, by default; more wait for a slot, within their
/// deadline.
pub const DEFAULT_CONCURRENCY: usize = 32;
/// The longest answer read, by default: a Customer object is a few
/// kilobytes.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 256 * 1024;
/// How long a customer's links are served from the cache, by default.
///
/// Short, because links expire and are revoked and ProAbono documents no
/// lifetime: a minute bounds how long a page can frame a link ProAbono
/// no longer honours (ProAbono's PHP client keeps them 20 minutes), while
/// a customer who reloads the page, or many page views at once, cost one
/// call. [`Client::invalidate`] and [`Client::revoke_links`] drop an entry
/// at once.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(60);
/// Customers whose links are cached at once, by default.
pub const DEFAULT_CACHE_CAPACITY: u64 = 10_000;

/// A client for the part of ProAbono's API Live a portal page needs: a
/// customer's links ([`customer_links`](Self::customer_links), cached),
/// the upsert ProAbono's guide calls at every sign-in
/// ([`upsert_customer`](Self::upsert_customer)), and the revocation of a
/// customer's links ([`revoke_links`](Self::revoke_links)).
///
/// Cloning is cheap: clones share the connection pool, the concurrency
/// limit and the cache. Built by [`Client::builder`].
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    config: Config,
    authorization: HeaderValue,
    policy: Arc<Policy>,
    service: BoxCloneSyncService<ApiRequest, Response<Bytes>, BoxError>,
    deadline: Duration,
    timeout: Duration,
    max_retries: u32,
    max_body: usize,
    cache: LinkCache,
}

type MakeTransport = Box<dyn FnOnce(usize) -> Exchange + Send>;

/// Builds a [`Client`]: [`Client::builder`].
pub struct ClientBuilder {
    config: Config,
    policy: Arc<Policy>,
    transport: Option<MakeTransport>,
    tls: Option<rustls::ClientConfig>,
    timeout: Duration,
    deadline: Duration,
    max_retries: u32,
    retry_after_cap: Duration,
    backoff: (Duration, Duration),
    concurrency: usize,
    max_body: usize,
    cache_ttl: Duration,
    cache_capacity: u64,
}

impl Client {
    /// A builder with `config`, [`PortalLinkLayer::new`]'s rules for the
    /// links, and the defaults of this module's constants.
    pub fn builder(config: Config) -> ClientBuilder {
        ClientBuilder {
            config,
            policy: Arc::new(Policy::PROABONO),
            transport: None,
            tls: None,
            timeout: DEFAULT_TIMEOUT,
            deadline: DEFAULT_DEADLINE,
            max_retries: DEFAULT_MAX_RETRIES,
            retry_after_cap: DEFAULT_RETRY_AFTER_CAP,
            backoff: (Duration::from_millis(100), Duration::from_millis(800)),
            concurrency: DEFAULT_CONCURRENCY,
            max_body: DEFAULT_MAX_RESPONSE_BYTES,
            cache_ttl: DEFAULT_CACHE_TTL,
            cache_capacity: DEFAULT_CACHE_CAPACITY,
        }
    }

    /// The customer's links, from the cache when a lookup within its
    /// lifetime succeeded, otherwise from `GET /v1/Customer`: any number
    /// of concurrent lookups of one customer make one API call, and a
    /// failure is not cached (the next lookup calls again).
    ///
    /// # Errors
    ///
    /// [`ApiError::InvalidReference`] before any request when `reference`
    /// breaks ProAbono's rules; otherwise what the call ended in.
    pub async fn customer_links(&self, reference: &str) -> Result<Arc<CustomerLinks>, ApiError> {
        let reference = CustomerRef::new(reference)?;
        let this = self.clone();
        let key = reference.clone();
        self.inner
            .cache
            .get_or_fetch(key, async move {
                let query = format!("?ReferenceCustomer={}", encode(&reference));
                this.call_for_links("customer_links", Method::GET, "/v1/Customer", &query, None)
                    .await
            })
            .await
    }

    /// `POST /v1/Customer`: creates or updates the customer (ProAbono's
    /// guide calls it at every sign-in), and returns its fresh links, which
    /// replace any cached ones.
    ///
    /// # Errors
    ///
    /// What the call ended in.
    pub async fn upsert_customer(
        &self,
        customer: &NewCustomer,
    ) -> Result<Arc<CustomerLinks>, ApiError> {
        let body = serde_json::to_vec(&customer.body()).map_err(|_| {
            // Strings always serialize.
            ApiError::InvalidReference(InvalidReference::ForbiddenCharacter)
        })?;
        let links = self
            .call_for_links(
                "upsert_customer",
                Method::POST,
                "/v1/Customer",
                "",
                Some(body),
            )
            .await?;
        let links = Arc::new(links);
        self.inner
            .cache
            .insert(customer.reference.clone(), Arc::clone(&links))
            .await;
        Ok(links)
    }

    /// `POST /v1/Customer/LinksRevokation`: revokes every link ProAbono
    /// issued for the customer (new ones come with the next read), and
    /// drops the cached ones, before the call and after it.
    ///
    /// A lookup already in flight may still cache the links it read if it
    /// ends after the revocation: ProAbono no longer honours them, and the
    /// cache's lifetime bounds how long the page frames them
    /// ([`invalidate`](Self::invalidate) drops them at once).
    ///
    /// # Errors
    ///
    /// [`ApiError::InvalidReference`] before any request; otherwise what
    /// the call ended in.
    pub async fn revoke_links(&self, reference: &str) -> Result<(), ApiError> {
        let reference = CustomerRef::new(reference)?;
        self.inner.cache.invalidate(&reference).await;
        let query = format!("?ReferenceCustomer={}", encode(&reference));
        let result = self
            .call_for_links(
                "revoke_links",
                Method::POST,
                "/v1/Customer/LinksRevokation",
                &query,
                None,
            )
            .await;
        self.inner.cache.invalidate(&reference).await;
        result.map(drop)
    }

    /// Drops the customer's cached links: the next lookup calls the API.
    /// A reference ProAbono refuses was never cached, so it is ignored.
    pub async fn invalidate(&self, reference: &str) {
        if let Ok(reference) = CustomerRef::new(reference) {
            self.inner.cache.invalidate(&reference).await;
        }
    }

    async fn call_for_links(
        &self,
        operation: &'static str,
        method: Method,
        path: &str,
        query: &str,
        body: Option<Vec<u8>>,
    ) -> Result<CustomerLinks, ApiError> {
        #[cfg(feature = "tracing")]
        let started = std::time::Instant::now();
        let result = self.call(method, path, query, body).await.and_then(|res| {
            read_customer(&res).map(|links| CustomerLinks::read(&self.inner.policy, links))
        });
        #[cfg(feature = "tracing")]
        match &result {
            Ok(_) => tracing::debug!(
                target: "tower_portal_link::api",
                operation,
                elapsed_ms = started.elapsed().as_millis() as u64,
                "ProAbono API call succeeded"
            ),
            Err(error) => tracing::warn!(
                target: "tower_portal_link::api",
                operation,
                error = %error,
                code = error.code(),
                elapsed_ms = started.elapsed().as_millis() as u64,
                "ProAbono API call failed"
            ),
        }
        #[cfg(not(feature = "tracing"))]
        let _ = operation;
        result
    }

    /// One call through the stack: the overall deadline around retries,
    /// each attempt within the timeout and the concurrency limit.
    async fn call(
        &self,
        method: Method,
        path: &str,
        query: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Response<Bytes>, ApiError> {
        let inner = &*self.inner;
        let uri = format!("{}{query}", inner.config.url(path));
        let mut builder = Request::builder()
            .method(method)
            .uri(uri)
            .header(AUTHORIZATION, inner.authorization.clone())
            .header(ACCEPT, "application/json")
            .header(
                USER_AGENT,
                concat!("tower-portal-link/", env!("CARGO_PKG_VERSION")),
            );
        if body.is_some() {
            builder = builder.header(CONTENT_TYPE, "application/json");
        }
        let req = builder
            .body(Full::from(body.unwrap_or_default()))
            // The endpoint was checked and the reference encoded.
            .map_err(|_| ApiError::InvalidReference(InvalidReference::ForbiddenCharacter))?;
        // The deadline also bounds the wait for a slot of the concurrency
        // limit, which `oneshot` takes before the first attempt.
        match tokio::time::timeout(inner.deadline, inner.service.clone().oneshot(req)).await {
            Err(_) => Err(ApiError::TimedOut),
            Ok(Ok(res)) => Ok(res),
            Ok(Err(error)) => Err(if error.is::<tower::timeout::error::Elapsed>() {
                ApiError::TimedOut
            } else if matches!(error.downcast_ref(), Some(AttemptError::TooLarge)) {
                ApiError::ResponseTooLarge {
                    max: inner.max_body,
                }
            } else {
                ApiError::Unavailable { status: None }
            }),
        }
    }
}

/// A reference in a query: everything but letters and digits escaped.
fn encode(reference: &CustomerRef) -> impl fmt::Display + '_ {
    utf8_percent_encode(reference.as_str(), NON_ALPHANUMERIC)
}

/// The most links a Customer object may carry.
const MAX_LINKS: usize = 64;

/// The Customer object's `Links`, or the error its status says.
fn read_customer(res: &Response<Bytes>) -> Result<Vec<RawLink>, ApiError> {
    #[derive(Deserialize)]
    struct Customer {
        #[serde(rename = "Links", default)]
        links: Option<Vec<RawLink>>,
    }
    match res.status() {
        // An object: serde would also read a struct from an array.
        status if status.is_success() && !starts_an_object(res.body()) => {
            Err(ApiError::MalformedResponse)
        }
        status if status.is_success() => serde_json::from_slice::<Customer>(res.body())
            .map(|customer| customer.links.unwrap_or_default())
            .ok()
            // A Customer has a handful of links: a list longer than the
            // bound is no Customer, and would cost the page its reading.
            .filter(|links| links.len() <= MAX_LINKS)
            // Not the parser's message: it may quote the body.
            .ok_or(ApiError::MalformedResponse),
        StatusCode::UNAUTHORIZED => Err(ApiError::Unauthorized),
        StatusCode::FORBIDDEN => Err(ApiError::WrongSegmentOrEnvironment),
        StatusCode::NOT_FOUND => Err(ApiError::UnknownCustomer),
        StatusCode::TOO_MANY_REQUESTS => Err(ApiError::RateLimited {
            retry_after: retry_after(res.headers()),
        }),
        status if status.is_server_error() => Err(ApiError::Unavailable {
            status: Some(status),
        }),
        status => Err(ApiError::UnexpectedStatus { status }),
    }
}

fn starts_an_object(body: &[u8]) -> bool {
    body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

impl ClientBuilder {
    /// Reads the customer's links with `layer`'s rules and origins, the
    /// ones its `crylk` links meet: a page that frames what either
    /// returns needs one `Content-Security-Policy`,
    /// [`PortalLinkLayer::csp`].
    pub fn links_policy<R>(mut self, layer: &PortalLinkLayer<R>) -> Self {
        self.policy = Arc::clone(&layer.policy);
        self
    }

    /// The HTTP client: any `tower::Service` of `http` requests (a proxy,
    /// a client trusting a test CA, a recording service). Its errors are
    /// read as connection errors (retried, then
    /// [`ApiError::Unavailable`]). By default, hyper-util's client over
    /// rustls with the platform's root certificates.
    pub fn transport<S, B>(mut self, transport: S) -> Self
    where
        S: Service<ApiRequest, Response = Response<B>> + Clone + Send + Sync + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
        B: Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        self.transport = Some(Box::new(move |max| exchange(transport, max)));
        self
    }

    /// The default transport with this rustls configuration (a private
    /// CA, client certificates) instead of the platform's roots. Its ALPN
    /// list is replaced: the client speaks HTTP/1.1. A
    /// [`transport`](Self::transport) of your own replaces both.
    pub fn tls_config(mut self, tls: rustls::ClientConfig) -> Self {
        self.tls = Some(tls);
        self
    }

    /// The longest one attempt may take, from the request to the last
    /// byte of the answer ([`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The longest a call may take, retries and waits included
    /// ([`DEFAULT_DEADLINE`]).
    pub fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = deadline;
        self
    }

    /// Retries after the first attempt ([`DEFAULT_MAX_RETRIES`]); `0`
    /// never retries.
    pub fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The longest `Retry-After` honoured ([`DEFAULT_RETRY_AFTER_CAP`]).
    pub fn retry_after_cap(mut self, cap: Duration) -> Self {
        self.retry_after_cap = cap;
        self
    }

    /// The exponential backoff's first and longest wait (100 ms and
    /// 800 ms), each jittered by up to its own length.
    pub fn backoff(mut self, min: Duration, max: Duration) -> Self {
        self.backoff = (min, max);
        self
    }

    /// Attempts in flight at once ([`DEFAULT_CONCURRENCY`]).
    pub fn concurrency_limit(mut self, limit: usize) -> Self {
        self.concurrency = limit;
        self
    }

    /// The longest answer read, in bytes ([`DEFAULT_MAX_RESPONSE_BYTES`]).
    pub fn max_response_bytes(mut self, max: usize) -> Self {
        self.max_body = max;
        self
    }

    /// How long a customer's links are served from the cache
    /// ([`DEFAULT_CACHE_TTL`]).
    pub fn cache_ttl(mut self, ttl: Duration) -> Self {
        self.cache_ttl = ttl;
        self
    }

    /// Customers whose links are cached at once
    /// ([`DEFAULT_CACHE_CAPACITY`]).
    pub fn cache_capacity(mut self, capacity: u64) -> Self {
        self.cache_capacity = capacity;
        self
    }

    /// The client.
    ///
    /// # Errors
    ///
    /// [`ConfigError::InvalidSetting`] for a zero duration, limit or bound,
    /// a backoff whose minimum exceeds its maximum, or a timeout longer
    /// than the deadline; [`ConfigError::NoRootCertificates`] when the
    /// default transport finds no root certificate.
    pub fn build(self) -> Result<Client, ConfigError> {
        let invalid = ConfigError::InvalidSetting;
        if self.timeout.is_zero() || self.deadline.is_zero() {
            return Err(invalid("a zero timeout or deadline"));
        }
        if self.timeout > self.deadline {
            return Err(invalid("a timeout longer than the deadline"));
        }
        if self.concurrency == 0 || self.max_body == 0 {
            return Err(invalid("a zero concurrency limit or response bound"));
        }
        let policy = RetryPolicy::new(
            self.max_retries,
            self.retry_after_cap,
            self.deadline,
            self.backoff.0,
            self.backoff.1,
        );
        if !policy.valid() {
            return Err(invalid(
                "a backoff whose minimum exceeds its maximum, or zero",
            ));
        }
        let exchange = match self.transport {
            Some(make) => make(self.max_body),
            None => exchange(https(self.tls)?, self.max_body),
        };
        let service = ServiceBuilder::new()
            .layer(RetryLayer::new(policy))
            .layer(TimeoutLayer::new(self.timeout))
            .layer(ConcurrencyLimitLayer::new(self.concurrency))
            .service(exchange);
        let credentials = format!(
            "{}:{}",
            self.config.agent_key.expose(),
            self.config.api_key.expose()
        );
        let mut authorization =
            HeaderValue::try_from(format!("Basic {}", base64_encode(&credentials)))
                .map_err(|_| ConfigError::InvalidApiKey)?;
        // Never in hyper's or a proxy's debug output, nor HPACK-indexed.
        authorization.set_sensitive(true);
        if http::Uri::try_from(self.config.url("/v1/Customer")).is_err() {
            return Err(ConfigError::InvalidEndpoint);
        }
        Ok(Client {
            inner: Arc::new(Inner {
                config: self.config,
                authorization,
                policy: self.policy,
                service: BoxCloneSyncService::new(service),
                deadline: self.deadline,
                timeout: self.timeout,
                max_retries: self.max_retries,
                max_body: self.max_body,
                cache: LinkCache::new(self.cache_capacity, self.cache_ttl),
            }),
        })
    }
}

fn base64_encode(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &*self.inner;
        f.debug_struct("Client")
            .field("config", &inner.config)
            .field("timeout", &inner.timeout)
            .field("deadline", &inner.deadline)
            .field("max_retries", &inner.max_retries)
            .field("max_response_bytes", &inner.max_body)
            .field("cache", &inner.cache)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("config", &self.config)
            .field("timeout", &self.timeout)
            .field("deadline", &self.deadline)
            .field("max_retries", &self.max_retries)
            .finish_non_exhaustive()
    }
}

/// The customer [`Client::upsert_customer`] creates or updates.
///
/// `Debug` shows none of its fields: a name and an e-mail address are
/// personal data.
#[derive(Clone)]
pub struct NewCustomer {
    reference: CustomerRef,
    name: Option<String>,
    email: Option<String>,
    language: Option<String>,
}

impl NewCustomer {
    /// The customer of this reference.
    ///
    /// # Errors
    ///
    /// When the reference breaks ProAbono's rules ([`CustomerRef::new`]).
    pub fn new(reference: &str) -> Result<NewCustomer, InvalidReference> {
        Ok(NewCustomer {
            reference: CustomerRef::new(reference)?,
            name: None,
            email: None,
            language: None,
        })
    }

    /// Its name, internal to ProAbono (not the billing name).
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Where ProAbono sends invoices.
    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.email = Some(email.into());
        self
    }

    /// The language of its pages and e-mails, an ISO 639 code (`en`).
    pub fn language(mut self, language: impl Into<String>) -> Self {
        self.language = Some(language.into());
        self
    }

    fn body(&self) -> impl Serialize + '_ {
        #[derive(Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Body<'a> {
            reference_customer: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            name: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            email: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            language: Option<&'a str>,
        }
        Body {
            reference_customer: self.reference.as_str(),
            name: self.name.as_deref(),
            email: self.email.as_deref(),
            language: self.language.as_deref(),
        }
    }
}

impl fmt::Debug for NewCustomer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewCustomer").finish_non_exhaustive()
    }
}
