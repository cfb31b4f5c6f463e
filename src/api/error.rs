//! What a call to the API can end in, for a handler to match on.

use std::fmt;
use std::time::Duration;

use http::StatusCode;

use super::InvalidReference;

/// Why a call to ProAbono's API did not return the customer's links.
///
/// It never carries a key, a link, a query, a customer reference or any
/// part of a response body: it is meant to be logged.
///
/// A page matches on it to decide what to show: every variant but
/// [`InvalidReference`](Self::InvalidReference) and the configuration ones
/// ([`Unauthorized`](Self::Unauthorized),
/// [`WrongSegmentOrEnvironment`](Self::WrongSegmentOrEnvironment)) can
/// happen to a correct application, and the page still renders.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ApiError {
    /// The customer reference breaks ProAbono's rules: no request was sent.
    InvalidReference(InvalidReference),
    /// `401`: the agent or API key is wrong, or belongs to the other
    /// environment.
    Unauthorized,
    /// `403`: the keys are valid but this customer is not theirs to read
    /// (code `Error.Api.Customer.Unaccessible`): the customer is in another
    /// segment, or the keys are sandbox keys for a production customer (or
    /// the reverse). Every `403` of these calls ends here; ProAbono
    /// documents no other code for them.
    WrongSegmentOrEnvironment,
    /// `404`: no customer has this reference in this segment and
    /// environment.
    UnknownCustomer,
    /// `429`, still after the retries, or with a `Retry-After` longer than
    /// the client waits.
    RateLimited {
        /// The `Retry-After` of the last answer, in seconds, if it had one.
        retry_after: Option<Duration>,
    },
    /// ProAbono could not be reached (connection refused or reset, TLS
    /// failure), or answered a `5xx`, still after the retries.
    Unavailable {
        /// The status of the last answer, if there was one.
        status: Option<StatusCode>,
    },
    /// The call took longer than the per-call timeout, or the retries
    /// longer than the overall deadline.
    TimedOut,
    /// The answer is not the JSON object the call returns, or its `Links`
    /// holds more than 64 entries (a Customer has a handful).
    MalformedResponse,
    /// The answer's body is longer than the client reads.
    ResponseTooLarge {
        /// The bound, in bytes.
        max: usize,
    },
    /// Another status (another `4xx`, a `3xx`): not retried.
    UnexpectedStatus {
        /// The status.
        status: StatusCode,
    },
}

impl ApiError {
    /// A short, stable code for metrics and structured logs.
    pub const fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidReference(_) => "invalid_reference",
            ApiError::Unauthorized => "unauthorized",
            ApiError::WrongSegmentOrEnvironment => "wrong_segment_or_environment",
            ApiError::UnknownCustomer => "unknown_customer",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::Unavailable { .. } => "unavailable",
            ApiError::TimedOut => "timed_out",
            ApiError::MalformedResponse => "malformed_response",
            ApiError::ResponseTooLarge { .. } => "response_too_large",
            ApiError::UnexpectedStatus { .. } => "unexpected_status",
        }
    }

    /// Whether a later call may succeed without a change of configuration
    /// or reference: rate limits, outages, timeouts.
    pub const fn is_transient(&self) -> bool {
        matches!(
            self,
            ApiError::RateLimited { .. } | ApiError::Unavailable { .. } | ApiError::TimedOut
        )
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ApiError::InvalidReference(why) => why.fmt(f),
            ApiError::Unauthorized => f.write_str("ProAbono refused the API keys (401)"),
            ApiError::WrongSegmentOrEnvironment => f.write_str(
                "ProAbono refused access to the customer (403): another segment or environment",
            ),
            ApiError::UnknownCustomer => f.write_str("ProAbono knows no such customer (404)"),
            ApiError::RateLimited {
                retry_after: Some(after),
            } => write!(
                f,
                "ProAbono rate-limited the call (429, retry after {}s)",
                after.as_secs()
            ),
            ApiError::RateLimited { retry_after: None } => {
                f.write_str("ProAbono rate-limited the call (429)")
            }
            ApiError::Unavailable {
                status: Some(status),
            } => write!(f, "ProAbono is unavailable ({})", status.as_u16()),
            ApiError::Unavailable { status: None } => f.write_str("ProAbono could not be reached"),
            ApiError::TimedOut => f.write_str("the call to ProAbono timed out"),
            ApiError::MalformedResponse => {
                f.write_str("ProAbono's answer is not the expected JSON")
            }
            ApiError::ResponseTooLarge { max } => {
                write!(f, "ProAbono's answer is longer than {max} bytes")
            }
            ApiError::UnexpectedStatus { status } => {
                write!(
                    f,
                    "ProAbono answered an unexpected status ({})",
                    status.as_u16()
                )
            }
        }
    }
}

impl std::error::Error for ApiError {}

impl From<InvalidReference> for ApiError {
    fn from(why: InvalidReference) -> ApiError {
        ApiError::InvalidReference(why)
    }
}
