//! The HTTP client underneath: any `tower::Service` of `http` requests, by
//! default hyper-util's client over rustls; each answer's body read up to a
//! bound.

use std::fmt;

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tower::util::BoxCloneSyncService;
use tower::{BoxError, Service, ServiceExt};

use super::ConfigError;

/// What the client sends: a request with its whole body.
pub type ApiRequest = Request<Full<Bytes>>;

/// One exchange: the answer with its body read, or why not.
pub(crate) type Exchange = BoxCloneSyncService<ApiRequest, Response<Bytes>, BoxError>;

/// What failed in one exchange, below the timeouts.
#[derive(Debug)]
pub(crate) enum AttemptError {
    /// The transport failed: connection refused or reset, TLS, a body cut
    /// short. A connection error: worth another attempt.
    Transport,
    /// The body is longer than the bound.
    TooLarge,
}

impl fmt::Display for AttemptError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the transport's own error: it may quote a URL.
        f.write_str(match self {
            AttemptError::Transport => "transport error",
            AttemptError::TooLarge => "response too large",
        })
    }
}

impl std::error::Error for AttemptError {}

/// `transport`, with each answer's body read up to `max` bytes.
pub(crate) fn exchange<S, B>(transport: S, max: usize) -> Exchange
where
    S: Service<ApiRequest, Response = Response<B>> + Clone + Send + Sync + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    B: Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    let service = transport
        .map_err(|_| BoxError::from(AttemptError::Transport))
        .and_then(move |res: Response<B>| read(res, max));
    BoxCloneSyncService::new(service)
}

async fn read<B>(res: Response<B>, max: usize) -> Result<Response<Bytes>, BoxError>
where
    B: Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    let (parts, body) = res.into_parts();
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > max as u64) {
        return Err(AttemptError::TooLarge.into());
    }
    let body = Limited::new(body, max).collect().await.map_err(|e| {
        if e.is::<LengthLimitError>() {
            AttemptError::TooLarge
        } else {
            AttemptError::Transport
        }
    })?;
    Ok(Response::from_parts(parts, body.to_bytes()))
}

/// The default transport: hyper-util's pooled client over HTTP/1.1, with
/// rustls (`ring`) and `tls` (the platform's roots by default).
pub(crate) fn https(
    tls: Option<rustls::ClientConfig>,
) -> Result<
    hyper_util::client::legacy::Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>,
    ConfigError,
> {
    let builder = hyper_rustls::HttpsConnectorBuilder::new();
    let builder = match tls {
        Some(mut tls) => {
            // hyper-rustls sets ALPN itself, and panics on a preset one.
            tls.alpn_protocols.clear();
            builder.with_tls_config(tls)
        }
        None => builder
            .with_provider_and_native_roots(rustls::crypto::ring::default_provider())
            .map_err(|_| ConfigError::NoRootCertificates)?,
    };
    // `http` is refused by the configuration unless explicitly allowed.
    let connector = builder.https_or_http().enable_http1().build();
    Ok(hyper_util::client::legacy::Client::builder(TokioExecutor::new()).build(connector))
}
