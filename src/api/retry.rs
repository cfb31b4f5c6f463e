//! When to try again: a `tower::retry::Policy` for ProAbono's documented
//! transient answers.

use std::time::Duration;

use bytes::Bytes;
use http::header::RETRY_AFTER;
use http::{HeaderMap, Response, StatusCode};
use tokio::time::{Instant, Sleep};
use tower::retry::backoff::{Backoff, ExponentialBackoff, ExponentialBackoffMaker, MakeBackoff};
use tower::util::rng::HasherRng;
use tower::BoxError;

use super::transport::{ApiRequest, AttemptError};

/// Retries `429` (after its `Retry-After`, when within the cap), `502`,
/// `503`, `504` and connection errors, at most `max_retries` times, with
/// jittered exponential backoff, and never past the overall deadline:
/// an answer whose next attempt could only start after it is returned as
/// it is. Other statuses, timeouts and oversized answers are not retried.
///
/// tower's `Retry` clones the policy for each call, so the attempt count,
/// the start and the backoff's random state belong to one call.
#[derive(Clone, Debug)]
pub(crate) struct RetryPolicy {
    pub(crate) max_retries: u32,
    pub(crate) retry_after_cap: Duration,
    pub(crate) deadline: Duration,
    pub(crate) backoff_min: Duration,
    pub(crate) backoff_max: Duration,
    /// Per call, from its first attempt.
    call: Option<Call>,
}

#[derive(Clone, Debug)]
struct Call {
    started: Instant,
    retries: u32,
    backoff: ExponentialBackoff,
}

impl RetryPolicy {
    pub(crate) fn new(
        max_retries: u32,
        retry_after_cap: Duration,
        deadline: Duration,
        backoff_min: Duration,
        backoff_max: Duration,
    ) -> RetryPolicy {
        RetryPolicy {
            max_retries,
            retry_after_cap,
            deadline,
            backoff_min,
            backoff_max,
            call: None,
        }
    }

    /// Whether the backoff settings are ones tower accepts.
    pub(crate) fn valid(&self) -> bool {
        self.maker().is_ok()
    }

    fn maker(&self) -> Result<ExponentialBackoffMaker, tower::retry::backoff::InvalidBackoff> {
        // A fresh random state per call: calls that fail together do not
        // come back together.
        ExponentialBackoffMaker::new(self.backoff_min, self.backoff_max, 1.0, HasherRng::new())
    }
}

/// What an answer asks of the policy.
enum Verdict {
    Done,
    Retry { after: Option<Duration> },
}

fn verdict(result: &Result<Response<Bytes>, BoxError>, cap: Duration) -> Verdict {
    match result {
        Ok(res) => match res.status() {
            StatusCode::TOO_MANY_REQUESTS => match retry_after(res.headers()) {
                Some(after) if after > cap => Verdict::Done,
                after => Verdict::Retry { after },
            },
            StatusCode::BAD_GATEWAY
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT => match retry_after(res.headers()) {
                Some(after) if after > cap => Verdict::Done,
                after => Verdict::Retry { after },
            },
            _ => Verdict::Done,
        },
        Err(error) => match error.downcast_ref::<AttemptError>() {
            Some(AttemptError::Transport) => Verdict::Retry { after: None },
            _ => Verdict::Done,
        },
    }
}

/// `Retry-After`: seconds, or an HTTP date (a date in the past is no
/// wait). At most one field; anything else is no `Retry-After`.
pub(crate) fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let mut values = headers.get_all(RETRY_AFTER).iter();
    let value = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let value = value.to_str().ok()?.trim();
    if value.is_empty() || value.len() > 64 {
        return None;
    }
    if value.bytes().all(|b| b.is_ascii_digit()) {
        // More than 10 digits is more than three centuries: no wait a
        // caller wants, and `u64` parsing stays in range.
        return if value.len() > 10 {
            Some(Duration::MAX)
        } else {
            value.parse().ok().map(Duration::from_secs)
        };
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(
        date.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

impl tower::retry::Policy<ApiRequest, Response<Bytes>, BoxError> for RetryPolicy {
    type Future = Sleep;

    fn retry(
        &mut self,
        _req: &mut ApiRequest,
        result: &mut Result<Response<Bytes>, BoxError>,
    ) -> Option<Sleep> {
        let Verdict::Retry { after } = verdict(result, self.retry_after_cap) else {
            return None;
        };
        let deadline = self.deadline;
        let call = self.call.as_mut()?;
        if call.retries >= self.max_retries {
            return None;
        }
        let backoff = call.backoff.next_backoff();
        let sleep = match after {
            Some(after) => tokio::time::sleep(after),
            None => backoff,
        };
        if sleep.deadline() >= call.started + deadline {
            // The wait would outlast the call: answer what we have now.
            return None;
        }
        call.retries += 1;
        #[cfg(feature = "tracing")]
        tracing::debug!(
            target: "tower_portal_link::api",
            retry = call.retries,
            status = result.as_ref().ok().map(|r| r.status().as_u16()),
            "retrying a ProAbono API call"
        );
        Some(sleep)
    }

    fn clone_request(&mut self, req: &ApiRequest) -> Option<ApiRequest> {
        if self.call.is_none() {
            let mut maker = self.maker().ok()?;
            self.call = Some(Call {
                started: Instant::now(),
                retries: 0,
                backoff: maker.make_backoff(),
            });
        }
        let mut clone = http::Request::new(req.body().clone());
        *clone.method_mut() = req.method().clone();
        *clone.uri_mut() = req.uri().clone();
        *clone.version_mut() = req.version();
        *clone.headers_mut() = req.headers().clone();
        Some(clone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_seconds_only() {
        let h = |values: &[&str]| {
            let mut map = HeaderMap::new();
            for v in values {
                map.append(RETRY_AFTER, v.parse().unwrap());
            }
            retry_after(&map)
        };
        assert_eq!(h(&["2"]), Some(Duration::from_secs(2)));
        assert_eq!(h(&[" 0 "]), Some(Duration::ZERO));
        assert_eq!(h(&[]), None);
        assert_eq!(h(&["-1"]), None);
        assert_eq!(h(&["1.5"]), None);
        assert_eq!(h(&["99999999999999999999"]), Some(Duration::MAX));
        // A date in the past: no wait; in the future: until then.
        assert_eq!(h(&["Wed, 21 Oct 2015 07:28:00 GMT"]), Some(Duration::ZERO));
        let later = std::time::SystemTime::now() + Duration::from_secs(3600);
        let wait = h(&[&httpdate::fmt_http_date(later)]).unwrap();
        assert!(wait > Duration::from_secs(3590) && wait <= Duration::from_secs(3600));
        assert_eq!(h(&["tomorrow"]), None);
        assert_eq!(h(&["1", "2"]), None);
    }
}
